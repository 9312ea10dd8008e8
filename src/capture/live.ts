/**
 * Live capture through libpcap, with the binding of the npm package `pcap`
 * (node_pcap 3.1.0; a NAN addon that builds on Node 20 against libpcap-dev).
 *
 * Why not `cap`: its binding hands JS neither the packet timestamp nor the
 * wire length, has no `pcap_stats`, fixes the snap length at 65535 (loopback
 * frames reach 65549 bytes with offloads) and always sets promiscuous mode.
 * node_pcap's binding has all of these; its JS layer (`pcap.js`) allocates a
 * wrapper object per packet and emits an event, so this module drives the
 * binding directly: libpcap copies each frame into one buffer and its header
 * (seconds, microseconds, caplen, wire length as host-order u32) into another,
 * both reused, and calls back with no arguments. The frame is read in place.
 *
 * The binding loops over `pcap_dispatch(1)` until the kernel ring is empty,
 * so under sustained overload one dispatch never returns to the event loop:
 * live capture runs in a worker thread (`live-worker.ts`) and the main thread
 * keeps signals and metrics.
 *
 * The binding's own fd watcher (`start_polling`, a uv_poll handle) is not
 * used: it is only released when libpcap reports a break *with a frame in
 * hand*, so on a quiet interface it outlives the capture, and Node aborts
 * when a worker's event loop closes with it open. Instead `dispatch()` is
 * called from the event loop: again at once while frames keep coming, after
 * `IDLE_POLL_MS` when the ring was empty (TPACKET_V3 hands frames over in
 * blocks every `timeoutMs` anyway).
 */
import { createRequire } from 'node:module';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  PacketRecord,
} from './types.js';
import { TlsentryError } from '../shared/errors.js';

interface PcapStat {
  ps_recv: number;
  ps_drop: number;
  ps_ifdrop: number;
}

interface NativeSession {
  open_live(
    device: string,
    filter: string,
    bufferSize: number,
    snaplen: number,
    dumpFile: string,
    packetReady: () => void,
    monitor: boolean,
    timeoutMs: number,
    warning: (message: string) => void,
    promiscuous: boolean,
  ): string;
  dispatch(data: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  stats(): PcapStat;
  read_callback?: () => void;
}

interface PcapBinding {
  PcapSession: new () => NativeSession;
  lib_version(): string;
  findalldevs(): { name: string; description?: string; addresses: { addr?: string }[]; flags?: string }[];
}

let binding: PcapBinding | null = null;

/** The native binding, loaded on first use (offline reading never needs it). */
function pcapBinding(): PcapBinding {
  if (binding === null) {
    try {
      binding = createRequire(import.meta.url)('pcap/build/Release/pcap_binding.node') as PcapBinding;
    } catch (err) {
      throw new TlsentryError(
        'ERR_CAPTURE_OPEN',
        `live capture needs the libpcap binding of the npm package "pcap" (npm ci with libpcap-dev, a C++ compiler and python3): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return binding;
}

export function libpcapVersion(): string {
  return pcapBinding().lib_version();
}

export interface LiveCaptureOptions {
  /** Interface name (`eth0`, `any`, …). */
  iface: string;
  /** BPF filter expression (pcap-filter(7)); empty = everything. */
  filter?: string;
  /** Bytes kept per frame (default 262144: libpcap's maximum; never truncates). */
  snaplen?: number;
  /** Kernel ring size in bytes (default 64 MiB). */
  bufferBytes?: number;
  /** Promiscuous mode (default true). */
  promisc?: boolean;
  /**
   * Milliseconds the kernel may hold a partly filled block before handing it
   * over (TPACKET_V3); 0 = immediate mode. Default 100.
   */
  timeoutMs?: number;
}

export const DEFAULT_SNAPLEN = 262144;
export const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 100;
/** Pause between dispatches while the ring is empty. */
export const IDLE_POLL_MS = 10;

export interface CaptureCounters {
  /** Packets the kernel passed through the filter (dropped ones included). */
  received: number;
  /** Dropped by the kernel: the ring was full (`ps_drop`). */
  droppedKernel: number;
  /** Dropped by the interface or its driver (`ps_ifdrop`, from /proc/net/dev on Linux). */
  droppedInterface: number;
}

/** Link-type names the binding returns → LINKTYPE_* numbers. */
const LINK_NAMES: Record<string, number> = {
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IEEE802_11_RADIO: 127,
};

/** DLT_* (what libpcap reports) → LINKTYPE_* (what decode knows), where they differ. */
function linkTypeFromDlt(dlt: number): number {
  if (dlt === 12 || dlt === 14) return LINKTYPE_RAW; // DLT_RAW on Linux / BSD
  if (dlt === 108) return LINKTYPE_LOOP;
  return dlt; // DLT_LINUX_SLL2 (276) and most others equal their LINKTYPE
}

/** Parse what `open_live` returned: a name it knows or "Unknown linktype N". */
export function linkTypeFromBinding(text: string): number {
  const known = LINK_NAMES[text];
  if (known !== undefined) return known;
  const m = /^Unknown linktype (\d+)$/.exec(text);
  if (m) return linkTypeFromDlt(Number(m[1]));
  throw new TlsentryError('ERR_CAPTURE_OPEN', `libpcap reported an unknown link type: ${text}`);
}

export function linkTypeName(lt: number): string {
  switch (lt) {
    case LINKTYPE_ETHERNET: return 'EN10MB';
    case LINKTYPE_NULL: return 'NULL';
    case LINKTYPE_RAW: return 'RAW';
    case LINKTYPE_LOOP: return 'LOOP';
    case LINKTYPE_LINUX_SLL: return 'LINUX_SLL';
    case LINKTYPE_LINUX_SLL2: return 'LINUX_SLL2';
    default: return `LINKTYPE_${lt}`;
  }
}

/** Host-order u32 fields of the header buffer the binding fills. */
const H_SEC = 0, H_USEC = 1, H_CAPLEN = 2, H_LEN = 3;

/**
 * One libpcap handle. `start()` calls the handler once per frame with one
 * reused `PacketRecord` whose `data` is the binding's buffer: valid until the
 * handler returns.
 */
export class LiveCapture {
  readonly iface: string;
  readonly filter: string;
  readonly snaplen: number;
  readonly bufferBytes: number;
  readonly promisc: boolean;
  readonly timeoutMs: number;
  readonly linkType: number;
  /** libpcap's warnings while opening (e.g. "no IPv4 address assigned": harmless on a SPAN port). */
  readonly warnings: string[] = [];
  /** Frames delivered to the handler. */
  packets = 0;
  /** Frames cut by the snap length (caplen < wire length). */
  truncated = 0;

  private readonly session: NativeSession;
  private readonly data: Buffer;
  private readonly header: Buffer;
  private readonly h32: Uint32Array;
  private readonly pkt = new PacketRecord();
  private handler: ((p: PacketRecord) => void) | null = null;
  private onError: ((message: string) => void) | null = null;
  private closed = false;
  private pumpTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  // pcap_stats counters are u_int: unwrap them into running totals.
  private readonly raw = [0, 0, 0];
  private readonly totals = [0, 0, 0];

  private constructor(o: Required<LiveCaptureOptions>, session: NativeSession, linkType: number, data: Buffer, header: ArrayBuffer) {
    this.iface = o.iface;
    this.filter = o.filter;
    this.snaplen = o.snaplen;
    this.bufferBytes = o.bufferBytes;
    this.promisc = o.promisc;
    this.timeoutMs = o.timeoutMs;
    this.session = session;
    this.linkType = linkType;
    this.data = data;
    this.header = Buffer.from(header);
    this.h32 = new Uint32Array(header);
    const p = this.pkt;
    p.linkType = linkType;
    p.data = data;
    p.offset = 0;
    p.input = 0;
  }

  /** Open and activate the handle (needs CAP_NET_RAW); packets are not read until `start()`. */
  static open(opts: LiveCaptureOptions): LiveCapture {
    const o: Required<LiveCaptureOptions> = {
      iface: opts.iface,
      filter: opts.filter ?? '',
      snaplen: opts.snaplen ?? DEFAULT_SNAPLEN,
      bufferBytes: opts.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      promisc: opts.promisc ?? true,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
    for (const [name, v, min] of [['snap length', o.snaplen, 64], ['buffer size', o.bufferBytes, 65536]] as const) {
      if (!Number.isInteger(v) || v < min || v > 0x7fffffff) throw new TlsentryError('ERR_USAGE', `${name} out of range: ${v}`);
    }
    const b = pcapBinding();
    const session = new b.PcapSession();
    const data = Buffer.alloc(o.snaplen);
    const header = new ArrayBuffer(16);
    const warnings: string[] = [];
    let self: LiveCapture | null = null;
    const ready = () => self!.onPacket();
    let linkText: string;
    try {
      linkText = session.open_live(o.iface, o.filter, o.bufferBytes, o.snaplen, '', ready, false, o.timeoutMs, (w) => warnings.push(String(w)), o.promisc);
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /permi/i.test(msg) ? ' (live capture needs root or CAP_NET_RAW: setcap cap_net_raw+eip on the node binary)' : '';
      throw new TlsentryError('ERR_CAPTURE_OPEN', `cannot capture on ${o.iface}: ${msg}${hint}`, { cause: err });
    }
    self = new LiveCapture(o, session, linkTypeFromBinding(linkText), data, header);
    self.warnings.push(...warnings);
    return self;
  }

  /**
   * Start reading. `onError` is told when libpcap fails (the interface went
   * down or disappeared); the capture is closed by then.
   */
  start(handler: (p: PacketRecord) => void, onError: (message: string) => void): void {
    if (this.handler !== null) throw new Error('capture already started');
    this.handler = handler;
    this.onError = onError;
    this.pumpTimer = setImmediate(this.pump);
  }

  /** One dispatch: every frame the ring holds (and any arriving meanwhile). */
  private readonly pump = (): void => {
    this.pumpTimer = null;
    if (this.closed) return;
    const before = this.packets;
    // After close() inside a frame callback the binding gets -2 and frees the handle.
    const r = this.session.dispatch(this.data, this.header);
    if (this.closed) return;
    if (r === -1) {
      this.close();
      this.onError?.(`libpcap stopped reading ${this.iface} (the interface went down or disappeared?)`);
      return;
    }
    this.pumpTimer = this.packets !== before ? setImmediate(this.pump) : setTimeout(this.pump, IDLE_POLL_MS);
  };

  private onPacket(): void {
    if (this.closed) return;
    const h = this.h32, p = this.pkt;
    p.tsMicros = h[H_SEC] * 1e6 + h[H_USEC];
    p.caplen = h[H_CAPLEN];
    p.wirelen = h[H_LEN];
    if (p.caplen < p.wirelen) this.truncated++;
    this.packets++;
    this.handler!(p);
  }

  /** Running totals from pcap_stats (call at least once per 2^32 packets). */
  stats(): CaptureCounters {
    if (!this.closed) {
      const s = this.session.stats();
      const now = [s.ps_recv >>> 0, s.ps_drop >>> 0, s.ps_ifdrop >>> 0];
      for (let i = 0; i < 3; i++) {
        this.totals[i] += (now[i] - this.raw[i]) >>> 0;
        this.raw[i] = now[i];
      }
    }
    return { received: this.totals[0], droppedKernel: this.totals[1], droppedInterface: this.totals[2] };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stop reading: no frame reaches the handler after this, and `stats()`
   * keeps returning the totals taken here. Inside a frame callback, libpcap
   * breaks out of its loop and the binding closes the handle; otherwise the
   * socket stays open, unread, until the process exits (the binding frees it
   * only from within a dispatch).
   */
  close(): void {
    if (this.closed) return;
    try {
      this.stats();
    } catch {
      // the handle failed: keep the last totals
    }
    this.closed = true;
    if (this.pumpTimer !== null) {
      clearTimeout(this.pumpTimer as NodeJS.Timeout);
      clearImmediate(this.pumpTimer as NodeJS.Immediate);
      this.pumpTimer = null;
    }
    this.session.close();
  }
}
