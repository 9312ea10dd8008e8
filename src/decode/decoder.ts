import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import type { PacketRecord } from '../capture/types.js';
import { DecodeContext, resolveOptions, type DecoderOptions, type ResolvedOptions } from './context.js';
import { FragmentReassembler } from './ip-fragments.js';
import type { PacketView } from './packet-view.js';
import { buildTables } from './registry.js';
import { DECODE_FAILED, type DecodeResult } from './results.js';
import { DecodeStats, LINKTYPE_TABLE_SIZE, ND_LINKTYPE, countKey } from './stats.js';

const A_LINK_UNSUPPORTED = defineAnomaly('decode.link.unsupported', 'capture link type this decoder does not know');

/**
 * Decodes one captured frame into a reusable `PacketView`: link layer, VLAN
 * tags, tunnels, IPv4/IPv6 (with fragment reassembly), then TCP, UDP or ICMP.
 *
 * Allocation-free on the normal path: headers are read in place and the view
 * points into the frame. Only fragment reassembly copies bytes (bounded by
 * `fragMemoryCap`), and the view then points into the reassembled datagram.
 * No input makes it throw: problems are counted as named anomalies.
 */
export class Decoder {
  readonly stats = new DecodeStats();
  readonly options: ResolvedOptions;
  private readonly c: DecodeContext;
  private readonly frags: FragmentReassembler;

  constructor(counters: AnomalyCounters, options?: DecoderOptions) {
    const opts = resolveOptions(options);
    this.options = opts;
    this.frags = new FragmentReassembler(
      opts.fragMemoryCap,
      opts.fragMaxDatagrams,
      opts.fragTimeoutMicros,
      counters,
      this.stats,
    );
    const t = buildTables(opts);
    this.c = new DecodeContext(counters, this.stats, this.frags, opts, t.link, t.ether, t.ipProto, t.udpPort);
  }

  /** Decodes `pkt` into `view` (reset first). Returns one of the `DECODE_*` constants. */
  decode(pkt: PacketRecord, view: PacketView): DecodeResult {
    view.reset();
    view.tsMicros = pkt.tsMicros;
    const c = this.c;
    c.view = view;
    c.now = pkt.tsMicros;
    c.tunnelDepth = 0;
    this.stats.packets++;

    const buf = pkt.data;
    let off = pkt.offset;
    let end = off + pkt.caplen;
    if (end > buf.length) end = buf.length;
    if (!(off >= 0 && end >= off)) off = end = 0; // a malformed record: decode as an empty frame
    const wireEnd = off + pkt.wirelen;
    c.wireEnd = wireEnd > end ? wireEnd : end;

    const lt = pkt.linkType;
    const fn = lt >= 0 && lt < LINKTYPE_TABLE_SIZE ? c.link[lt] : null;
    if (fn == null) {
      countKey(this.stats.notDecoded, ND_LINKTYPE, lt);
      c.counters.inc(A_LINK_UNSUPPORTED);
      return DECODE_FAILED;
    }
    this.stats.linkTypes[lt]++;
    return fn(c, buf, off, end) as DecodeResult;
  }

  /** Bytes held by fragment reassembly (payload and overheads). */
  get fragmentMemory(): number {
    return this.frags.memory;
  }

  /** Datagrams waiting for fragments. */
  get fragmentDatagrams(): number {
    return this.frags.datagrams;
  }

  /** Drops datagrams older than the fragment timeout at packet time `nowMicros` (done on every fragment anyway). */
  expireFragments(nowMicros: number): void {
    this.frags.expire(nowMicros);
  }

  /** Drops every datagram in progress, e.g. at the end of the input (counted as timed out). */
  flushFragments(): void {
    this.frags.flush();
  }
}
