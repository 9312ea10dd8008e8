import { randomBytes } from 'node:crypto';
import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type PacketView } from '../decode/packet-view.js';
import {
  Flow,
  FLOW_CLOSED,
  HIST_ACK,
  HIST_DATA,
  HIST_FIN,
  HIST_GAP,
  HIST_RETRANS,
  HIST_RST,
  HIST_SYN,
  HIST_SYNACK,
  HIST_ZEROWIN,
  type FlowEndReason,
} from './flow.js';
import type { StreamParserFactory } from './stream-parser.js';
import { ReassemblyBudget, A_DATA_AFTER_RST, A_SYN_SEQ_CHANGE } from './tcp-stream.js';

export const A_EVICTED = defineAnomaly('flow.table.evicted', 'the flow table was full: the least recently active flow was ended early (still reported)');
export const A_TIME_BACKWARDS = defineAnomaly('flow.time_went_backwards', 'a packet is older than one already seen (unsorted capture)');

/** Bucket array size to start with (grows by doubling). */
const MIN_BUCKETS = 1024;

/** Released flows kept for reuse (~1 KB each with their streams). */
const MAX_FREE = 16384;

export interface FlowTableOptions {
  /** Most flows tracked at once; beyond it the least recently active is evicted. */
  maxFlows?: number;
  /** Seconds without packets before an open flow ends. */
  idleTimeoutSec?: number;
  /** Seconds a closed flow lingers for trailing ACKs and retransmissions. */
  closedLingerSec?: number;
  /** Reassembly limits (out-of-order bytes held, depth), shared by this table's flows. */
  budget?: ReassemblyBudget;
  parserFactory?: StreamParserFactory | null;
  /** Called once per new flow, after its orientation is decided (enrichment asks early). */
  onStart?: ((flow: Flow) => void) | null;
}

export interface FlowTableStats {
  tcpPackets: number;
  flowsCreated: number;
  flowsEnded: number;
  active: number;
  maxActive: number;
  endReasons: Record<FlowEndReason, number>;
}

/**
 * All TCP flows in progress. Lookup is by a symmetric, keyed hash of the two
 * endpoints into an array of chained buckets (numbers only, no per-packet
 * strings). Two LRU lists — open flows and closed-but-lingering flows — give
 * O(1) idle expiry and eviction.
 *
 * The hash is seeded with a random key per table (Suricata's flow hash_rand):
 * bucket indexes are low hash bits, and a capture crafted to put many flows
 * in one bucket would otherwise make every lookup walk them all. The
 * buckets are a plain array, not a Map: a Map of this churn (a set and a
 * delete per short connection) reallocates its tables over and over.
 */
export class FlowTable {
  /** Chain heads by `hash & mask`; doubled when the flows outnumber them (never past maxFlows' power of two). */
  private buckets: (Flow | null)[] = new Array<Flow | null>(MIN_BUCKETS).fill(null);
  private mask = MIN_BUCKETS - 1;
  private readonly seed: number = randomBytes(4).readInt32LE(0);
  private readonly maxFlows: number;
  private readonly idleMicros: number;
  private readonly lingerMicros: number;
  readonly budget: ReassemblyBudget;
  private readonly parserFactory: StreamParserFactory | null;
  private readonly counters: AnomalyCounters;
  private readonly onEnd: (flow: Flow) => void;
  private readonly onStart: ((flow: Flow) => void) | null;

  // LRU lists: head = least recently active.
  private openHead: Flow | null = null;
  private openTail: Flow | null = null;
  private closedHead: Flow | null = null;
  private closedTail: Flow | null = null;

  /**
   * Ended flows handed back by `release`, reused by `create`. A TLS handshake
   * flow lives tens of milliseconds: allocated anew, its objects survive a
   * scavenge or two, are copied each time and die in the old generation.
   * Pooled, they stay where they are. At most MAX_FREE are kept.
   */
  private readonly free: Flow[] = [];

  private serial = 0;
  private now = 0;
  private nextSweep = 0;

  readonly stats: FlowTableStats = {
    tcpPackets: 0,
    flowsCreated: 0,
    flowsEnded: 0,
    active: 0,
    maxActive: 0,
    endReasons: { fin: 0, rst: 0, idle_timeout: 0, tuple_reuse: 0, evicted: 0, end_of_input: 0, interrupted: 0 },
  };

  constructor(counters: AnomalyCounters, onEnd: (flow: Flow) => void, options: FlowTableOptions = {}) {
    this.counters = counters;
    this.onEnd = onEnd;
    this.maxFlows = options.maxFlows ?? 131072;
    this.idleMicros = (options.idleTimeoutSec ?? 300) * 1e6;
    this.lingerMicros = (options.closedLingerSec ?? 5) * 1e6;
    this.budget = options.budget ?? new ReassemblyBudget();
    this.parserFactory = options.parserFactory ?? null;
    this.onStart = options.onStart ?? null;
  }

  /** Account one decoded TCP packet. */
  process(v: PacketView): void {
    this.stats.tcpPackets++;
    const ts = v.tsMicros;
    if (ts > this.now) {
      this.now = ts;
      if (ts >= this.nextSweep) this.sweep(ts);
    } else if (ts < this.now - 1e6) {
      this.counters.inc(A_TIME_BACKWARDS);
    }

    const seed = this.seed;
    const hash =
      (endpointHash(seed, v.src0, v.src1, v.src2, v.src3, v.srcPort) ^ endpointHash(seed, v.dst0, v.dst1, v.dst2, v.dst3, v.dstPort)) & 0x3fffffff;
    let f = this.buckets[hash & this.mask];
    let dir = 0;
    while (f !== null) {
      if (f.ipVersion === v.ipVersion) {
        if (f.cPort === v.srcPort && f.sPort === v.dstPort && f.c0 === v.src0 && f.s0 === v.dst0 && f.c1 === v.src1 && f.c2 === v.src2 && f.c3 === v.src3 && f.s1 === v.dst1 && f.s2 === v.dst2 && f.s3 === v.dst3) {
          dir = 0;
          break;
        }
        if (f.sPort === v.srcPort && f.cPort === v.dstPort && f.s0 === v.src0 && f.c0 === v.dst0 && f.s1 === v.src1 && f.s2 === v.src2 && f.s3 === v.src3 && f.c1 === v.dst1 && f.c2 === v.dst2 && f.c3 === v.dst3) {
          dir = 1;
          break;
        }
      }
      f = f.bucketNext;
    }

    const flags = v.tcpFlags;
    const isSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (f !== null && isSyn) {
      // A fresh SYN on a closed 4-tuple, or with another ISN, is a new connection
      // (loopback and NAT reuse tuples within seconds).
      const sender = dir === 0 ? f.toServer : f.toClient;
      const reused = f.state === FLOW_CLOSED || f.toServer.finSeen || f.toClient.finSeen || f.toServer.rstSeen || f.toClient.rstSeen;
      if (reused || (sender.synSeen && sender.isn !== v.seq)) {
        this.end(f, reasonFor(f));
        f = null;
      }
    }
    if (f === null) {
      f = this.create(v, hash);
      dir = f.cPort === v.srcPort && f.c0 === v.src0 && f.c1 === v.src1 && f.c2 === v.src2 && f.c3 === v.src3 ? 0 : 1;
    } else if (!f.sawPayload && f.clientBy === 'port' && v.payloadLength >= 6) {
      // No SYN seen: a TLS hello decides who the client is.
      const hello = tlsHelloType(v.payload, v.payloadOffset, v.payloadLength);
      if ((hello === 1 && dir === 1) || (hello === 2 && dir === 0)) {
        f.flip();
        dir = dir === 0 ? 1 : 0;
        f.clientBy = hello === 1 ? 'tls_client_hello' : 'tls_server_hello';
      }
    }
    this.touch(f, ts);
    this.account(f, dir, v);
  }

  private create(v: PacketView, hash: number): Flow {
    if (this.stats.active >= this.maxFlows) this.evictOne();
    let f = this.free.pop();
    if (f === undefined) f = new Flow(++this.serial, v.tsMicros, v.ipVersion);
    else f.reset(++this.serial, v.tsMicros, v.ipVersion);
    // Who is the client: the SYN sender; else the TLS ClientHello sender; else the ephemeral port.
    const synAck = v.tcpFlags & (TCP_SYN | TCP_ACK);
    let senderIsClient = true;
    if (synAck === TCP_SYN) f.clientBy = 'syn';
    else if (synAck === (TCP_SYN | TCP_ACK)) {
      f.clientBy = 'syn_ack';
      senderIsClient = false;
    } else {
      const hello = v.payloadLength >= 6 ? tlsHelloType(v.payload, v.payloadOffset, v.payloadLength) : 0;
      if (hello === 1) f.clientBy = 'tls_client_hello';
      else if (hello === 2) {
        f.clientBy = 'tls_server_hello';
        senderIsClient = false;
      } else senderIsClient = !isLikelyServerPort(v.srcPort, v.dstPort);
    }
    if (senderIsClient) {
      f.c0 = v.src0; f.c1 = v.src1; f.c2 = v.src2; f.c3 = v.src3; f.cPort = v.srcPort;
      f.s0 = v.dst0; f.s1 = v.dst1; f.s2 = v.dst2; f.s3 = v.dst3; f.sPort = v.dstPort;
    } else {
      f.c0 = v.dst0; f.c1 = v.dst1; f.c2 = v.dst2; f.c3 = v.dst3; f.cPort = v.dstPort;
      f.s0 = v.src0; f.s1 = v.src1; f.s2 = v.src2; f.s3 = v.src3; f.sPort = v.srcPort;
    }
    f.vlanId = v.vlanId;
    f.hash = hash;
    if (this.stats.active >= this.buckets.length) this.grow();
    const i = hash & this.mask;
    f.bucketNext = this.buckets[i];
    this.buckets[i] = f;
    if (this.parserFactory !== null) f.parser = this.parserFactory(f);
    this.stats.flowsCreated++;
    this.stats.active++;
    if (this.stats.active > this.stats.maxActive) this.stats.maxActive = this.stats.active;
    if (this.onStart !== null) this.onStart(f);
    return f;
  }

  private account(f: Flow, dir: number, v: PacketView): void {
    const s = dir === 0 ? f.toServer : f.toClient;
    const peer = dir === 0 ? f.toClient : f.toServer;
    s.packets++;
    s.ipBytes += v.ipBytes;
    const flags = v.tcpFlags;
    const c = this.counters;

    if ((flags & TCP_SYN) !== 0) {
      f.addHistory(dir, (flags & TCP_ACK) !== 0 ? HIST_SYNACK : HIST_SYN);
      if (!s.onSyn(v.seq)) c.inc(A_SYN_SEQ_CHANGE);
    }
    if ((flags & TCP_ACK) !== 0) peer.onPeerAck(v.ack, this.budget);
    if (v.window === 0 && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) {
      s.zeroWindows++;
      f.addRepeat(dir, HIST_ZEROWIN, s.zeroWindows);
    }

    const wireLen = v.payloadWireLength > v.payloadLength ? v.payloadWireLength : v.payloadLength;
    if (wireLen > 0) {
      if (s.rstSeen) c.inc(A_DATA_AFTER_RST);
      f.sawPayload = true;
      f.addHistory(dir, HIST_DATA);
      const gapsBefore = s.gaps;
      // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
      const seq = (flags & TCP_SYN) !== 0 ? (v.seq + 1) >>> 0 : v.seq;
      const r = s.onSegment(seq, v.payload, v.payloadOffset, v.payloadLength, wireLen, f.parser, this.budget, c);
      if (r === 0) f.addRepeat(dir, HIST_RETRANS, s.retransmits);
      if (s.gaps !== gapsBefore) f.addRepeat(dir, HIST_GAP, s.gaps);
    } else if ((flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && (flags & TCP_ACK) !== 0) {
      f.addHistory(dir, HIST_ACK);
    }
    if ((flags & TCP_FIN) !== 0) {
      f.addHistory(dir, HIST_FIN);
      s.onFin(v.seq, wireLen);
    }
    if ((flags & TCP_RST) !== 0) {
      f.addHistory(dir, HIST_RST);
      s.rstSeen = true;
    }
    if (f.state !== FLOW_CLOSED && ((flags & TCP_RST) !== 0 || (f.toServer.finSeen && f.toClient.finSeen))) {
      f.state = FLOW_CLOSED;
      f.endReason = (flags & TCP_RST) !== 0 ? 'rst' : 'fin';
      this.moveToClosed(f);
    }
  }

  /** End every flow still in the table (end of input or shutdown). */
  flush(reason: FlowEndReason = 'end_of_input'): void {
    for (const head of [this.closedHead, this.openHead]) {
      let f = head;
      while (f !== null) {
        const next = f.lruNext;
        this.end(f, f.state === FLOW_CLOSED ? f.endReason : reason);
        f = next;
      }
    }
  }

  /** Flows currently tracked (for interim events and metrics). */
  *activeFlows(): IterableIterator<Flow> {
    for (let f = this.openHead; f !== null; f = f.lruNext) yield f;
    for (let f = this.closedHead; f !== null; f = f.lruNext) yield f;
  }

  /** Expire idle open flows and closed flows past their linger time. */
  sweep(now: number): void {
    this.nextSweep = now + 1e6;
    while (this.closedHead !== null && this.closedHead.lastTs + this.lingerMicros <= now) {
      this.end(this.closedHead, this.closedHead.endReason);
    }
    while (this.openHead !== null && this.openHead.lastTs + this.idleMicros <= now) {
      this.end(this.openHead, 'idle_timeout');
    }
  }

  private evictOne(): void {
    // A closed flow is only waiting for stragglers: end it first.
    if (this.closedHead !== null) {
      this.end(this.closedHead, this.closedHead.endReason);
      return;
    }
    if (this.openHead !== null) {
      this.counters.inc(A_EVICTED);
      this.end(this.openHead, 'evicted');
    }
  }

  private end(f: Flow, reason: FlowEndReason): void {
    f.endReason = reason;
    this.unlinkLru(f);
    // unlink from bucket chain
    const i = f.hash & this.mask;
    const head = this.buckets[i];
    if (head === f) {
      this.buckets[i] = f.bucketNext;
    } else {
      let p = head;
      while (p !== null && p.bucketNext !== f) p = p.bucketNext;
      if (p !== null) p.bucketNext = f.bucketNext;
    }
    f.bucketNext = null;
    const gs = f.toServer.gaps, gc = f.toClient.gaps;
    f.toServer.finish(f.parser, this.budget, this.counters);
    f.toClient.finish(f.parser, this.budget, this.counters);
    if (f.toServer.gaps !== gs) f.addRepeat(0, HIST_GAP, f.toServer.gaps);
    if (f.toClient.gaps !== gc) f.addRepeat(1, HIST_GAP, f.toClient.gaps);
    f.toServer.dispose(this.budget);
    f.toClient.dispose(this.budget);
    if (f.parser !== null && f.parser.onEnd !== undefined) f.parser.onEnd();
    f.ended = true;
    this.stats.active--;
    this.stats.flowsEnded++;
    this.stats.endReasons[reason]++;
    this.onEnd(f);
  }

  /**
   * The caller is done with an ended flow and its parser's results (its
   * event written, nothing holds either): the table may reuse the object for
   * a new flow, and the parser's factory the parser (`StreamParser.release`).
   * Optional — a flow never released is simply collected. A flow still in
   * the table, or released twice, is refused (returns false), never reused
   * while live.
   */
  release(f: Flow): boolean {
    if (!f.ended) return false;
    f.ended = false;
    if (f.parser !== null && f.parser.release !== undefined) f.parser.release();
    f.parser = null;
    if (this.free.length < MAX_FREE) this.free.push(f);
    return true;
  }

  /** Twice the buckets, every flow rechained by its kept hash (amortised O(1) per flow). */
  private grow(): void {
    const old = this.buckets;
    const size = old.length * 2;
    const buckets = new Array<Flow | null>(size).fill(null);
    const mask = size - 1;
    for (let head of old) {
      while (head !== null) {
        const next = head.bucketNext;
        const i = head.hash & mask;
        head.bucketNext = buckets[i];
        buckets[i] = head;
        head = next;
      }
    }
    this.buckets = buckets;
    this.mask = mask;
  }

  /** Longest bucket chain (tests: the keyed hash spreads flows). */
  longestChain(): number {
    let longest = 0;
    for (let f of this.buckets) {
      let n = 0;
      for (; f !== null; f = f.bucketNext) n++;
      if (n > longest) longest = n;
    }
    return longest;
  }

  // --- LRU lists -----------------------------------------------------------

  private touch(f: Flow, ts: number): void {
    if (ts > f.lastTs) f.lastTs = ts;
    if (f.inClosedList) {
      if (this.closedTail === f) return;
      this.unlinkLru(f);
      this.appendClosed(f);
    } else {
      if (this.openTail === f) return;
      this.unlinkLru(f);
      this.appendOpen(f);
    }
  }

  private moveToClosed(f: Flow): void {
    this.unlinkLru(f);
    this.appendClosed(f);
  }

  private appendOpen(f: Flow): void {
    f.inClosedList = false;
    f.lruPrev = this.openTail;
    f.lruNext = null;
    if (this.openTail !== null) this.openTail.lruNext = f;
    else this.openHead = f;
    this.openTail = f;
  }

  private appendClosed(f: Flow): void {
    f.inClosedList = true;
    f.lruPrev = this.closedTail;
    f.lruNext = null;
    if (this.closedTail !== null) this.closedTail.lruNext = f;
    else this.closedHead = f;
    this.closedTail = f;
  }

  private unlinkLru(f: Flow): void {
    const prev = f.lruPrev, next = f.lruNext;
    if (f.inClosedList) {
      if (prev !== null) prev.lruNext = next;
      else if (this.closedHead === f) this.closedHead = next;
      if (next !== null) next.lruPrev = prev;
      else if (this.closedTail === f) this.closedTail = prev;
    } else {
      if (prev !== null) prev.lruNext = next;
      else if (this.openHead === f) this.openHead = next;
      if (next !== null) next.lruPrev = prev;
      else if (this.openTail === f) this.openTail = prev;
    }
    f.lruPrev = f.lruNext = null;
  }
}

function reasonFor(f: Flow): FlowEndReason {
  if (f.state === FLOW_CLOSED) return f.endReason;
  if (f.toServer.rstSeen || f.toClient.rstSeen) return 'rst';
  if (f.toServer.finSeen && f.toClient.finSeen) return 'fin';
  return 'tuple_reuse';
}

/** Mix one endpoint (address words and port) into 32 bits, keyed by `seed`. */
function endpointHash(seed: number, w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(port ^ seed, 0x85ebca6b);
  h = Math.imul(h ^ w0, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
  h = Math.imul(h ^ w1, 0xcc9e2d51);
  h = Math.imul(h ^ w2, 0x1b873593);
  h = Math.imul(h ^ w3, 0xcc9e2d51);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/**
 * 1 if the bytes start a TLS ClientHello (or an SSLv2-compatible one), 2 for a
 * ServerHello, else 0. Only the record and handshake headers are looked at.
 */
export function tlsHelloType(buf: Buffer, off: number, len: number): number {
  if (len >= 6 && buf[off] === 0x16 && buf[off + 1] === 0x03 && buf[off + 2] <= 0x04) {
    const t = buf[off + 5];
    return t === 1 ? 1 : t === 2 ? 2 : 0;
  }
  // SSLv2 record: 2-byte header with the high bit set, message type 1 (CLIENT-HELLO).
  if (len >= 3 && (buf[off] & 0x80) !== 0 && buf[off + 2] === 1) return 1;
  return 0;
}

/** True when the sender's port looks like the server's (the ephemeral side is the client). */
function isLikelyServerPort(srcPort: number, dstPort: number): boolean {
  if (srcPort < 1024 && dstPort >= 1024) return true;
  if (dstPort < 1024 && srcPort >= 1024) return false;
  return srcPort < dstPort;
}
