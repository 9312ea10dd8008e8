import type { AnomalyCounters } from '../shared/anomalies.js';
import { PacketView } from './packet-view.js';
import type { DecodeStats } from './stats.js';
import type { FragmentReassembler } from './ip-fragments.js';

/**
 * One layer decoder: reads its header at `buf[off..end)` in place, fills the
 * view, and hands the rest to the next layer through a dispatch table.
 * Returns a `DECODE_*` result (or `NOT_THIS_TUNNEL` from a UDP-port tunnel).
 */
export type LayerDecoder = (c: DecodeContext, buf: Buffer, off: number, end: number) => number;

/** A dispatch table: index (link type, ethertype, IP protocol, UDP port) → decoder. */
export type DispatchTable = (LayerDecoder | null)[];

export interface DecoderOptions {
  /** 802.1Q/802.1ad tags allowed in one frame before `decode.vlan.too_many_layers` (default 3, as Suricata). */
  maxVlanDepth?: number;
  /** Nested encapsulations (GRE, ERSPAN, VXLAN, Geneve, MPLS, PPPoE, IP-in-IP) allowed (default 3). */
  maxTunnelDepth?: number;
  /** Decode tunnels and report the inner packet (default true). When false they are counted as not decoded. */
  tunnels?: boolean;
  /** Bytes all datagrams in reassembly may hold, overheads included (default 32 MiB, at least 2 MiB). */
  fragMemoryCap?: number;
  /** Datagrams in reassembly at once (default 4096). */
  fragMaxDatagrams?: number;
  /** A datagram still incomplete this long (packet time) after its first fragment is dropped (default 30 s). */
  fragTimeoutMicros?: number;
}

export interface ResolvedOptions {
  readonly maxVlanDepth: number;
  readonly maxTunnelDepth: number;
  readonly tunnels: boolean;
  readonly fragMemoryCap: number;
  readonly fragMaxDatagrams: number;
  readonly fragTimeoutMicros: number;
}

export const MIN_FRAG_MEMORY_CAP = 2 * 1024 * 1024;

export function resolveOptions(o: DecoderOptions = {}): ResolvedOptions {
  const int = (v: number | undefined, dflt: number, min: number, max: number): number =>
    v === undefined || !Number.isFinite(v) ? dflt : Math.min(max, Math.max(min, Math.floor(v)));
  return {
    maxVlanDepth: int(o.maxVlanDepth, 3, 1, 16),
    maxTunnelDepth: int(o.maxTunnelDepth, 3, 0, 8),
    tunnels: o.tunnels ?? true,
    fragMemoryCap: int(o.fragMemoryCap, 32 * 1024 * 1024, MIN_FRAG_MEMORY_CAP, 2 ** 40),
    fragMaxDatagrams: int(o.fragMaxDatagrams, 4096, 1, 1 << 24),
    fragTimeoutMicros: int(o.fragTimeoutMicros, 30_000_000, 0, 2 ** 50),
  };
}

/**
 * Everything a layer decoder may touch, in one object of stable shape: the
 * view being filled, counters, stats, the dispatch tables chosen at
 * configuration time, and a few per-packet facts the layers pass down.
 */
export class DecodeContext {
  view: PacketView = new PacketView();

  // --- per packet --------------------------------------------------------
  /** Packet time (µs), for fragment timeouts. */
  now = 0;
  /**
   * Absolute offset in the current buffer where the bytes on the wire end
   * (frame start + wirelen, narrowed by each IP length). A length field that
   * reaches past it lies; one that reaches only past the captured end was cut
   * by the snap length.
   */
  wireEnd = 0;
  /** Bytes of the L4 segment (header + payload) on the wire, set by the IP layer. */
  l4Wire = 0;
  /** Encapsulations entered in this packet. */
  tunnelDepth = 0;

  constructor(
    readonly counters: AnomalyCounters,
    readonly stats: DecodeStats,
    readonly frags: FragmentReassembler,
    readonly opts: ResolvedOptions,
    readonly link: DispatchTable,
    readonly ether: DispatchTable,
    readonly ipProto: DispatchTable,
    readonly udpPort: DispatchTable,
  ) {}
}
