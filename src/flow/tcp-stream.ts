import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import type { Direction, StreamParser } from './stream-parser.js';

/**
 * One direction of a TCP connection: sequence-space accounting and in-order
 * delivery to an application parser. Protocol-agnostic (Zeek's Reassem.h):
 * it knows bytes, holes and limits, never TLS.
 *
 * Stream offsets ("rel") are 53-bit numbers counted from the first payload
 * byte (ISN + 1 when the SYN was seen, else the first segment seen: a flow
 * picked up mid-stream). Segments are placed with the signed 32-bit
 * difference against the next expected byte, which makes sequence wrap-around
 * free.
 */

export const A_SEQ_JUMP = defineAnomaly(
  'flow.tcp.seq_jump',
  'a segment lies implausibly far beyond the stream (e.g. a retransmitted SYN-ACK with a new ISN, Zeek issue 3313); its bytes are not counted',
);
export const A_HELD_FLOW_LIMIT = defineAnomaly(
  'flow.reassembly.flow_limit',
  'out-of-order bytes of one flow exceeded the per-flow limit; the hole before them was declared a gap',
);
export const A_HELD_GLOBAL_LIMIT = defineAnomaly(
  'flow.reassembly.global_limit',
  'out-of-order bytes of all flows exceeded the global limit; the hole was declared a gap',
);
export const A_PARSER_BUFFER = defineAnomaly(
  'flow.reassembly.parser_buffer_overflow',
  'an application parser asked to buffer more than the limit; it gets no more bytes in that direction',
);
export const A_SYN_SEQ_CHANGE = defineAnomaly(
  'flow.tcp.syn_seq_changed',
  'a SYN or SYN-ACK repeated with another sequence number on a flow that was not closed; the first ISN is kept',
);
export const A_DATA_AFTER_RST = defineAnomaly('flow.tcp.data_after_rst', 'payload sent after a RST in the same direction');

/** Shared limits and the global held-byte account (one per FlowTable). */
export class ReassemblyBudget {
  /** Out-of-order bytes held per direction. */
  maxHeldPerStream = 256 * 1024;
  /** Out-of-order bytes held across all flows. */
  maxHeldGlobal = 64 * 1024 * 1024;
  /**
   * Bytes offered to a parser per direction (skipped bytes and the parser's
   * `opaqueBytes` excluded); afterwards bytes are only counted.
   */
  depth = 2 * 1024 * 1024;
  /** Largest unconsumed remainder a parser may ask reassembly to keep (a 1 MiB handshake message plus a record). */
  maxParserBuffer = 1024 * 1024 + 32 * 1024;
  /** A segment starting more than this beyond the highest byte seen is an anomaly. */
  maxSeqJump = 64 * 1024 * 1024;
  /** An ACK further than this beyond the highest byte seen is not believed (bytes never seen). */
  maxAckAhead = 16 * 1024 * 1024;
  heldGlobal = 0;
  depthReached = 0;
}

interface HeldSegment {
  rel: number;
  data: Buffer;
  next: HeldSegment | null;
}

/** The empty list every stream starts with (an array per stream would be allocated for almost nothing). */
const NO_ISNS: number[] = [];

export class TcpStream {
  dir: Direction;
  packets = 0;
  /** IP bytes sent (header + payload, as on the wire). */
  ipBytes = 0;

  /** Sequence base known (SYN seen, or first segment). */
  based = false;
  /** Absolute sequence number of stream offset 0. */
  base = 0;
  /** Next offset to deliver in order. */
  nextRel = 0;
  /** End of the highest byte seen: payload bytes by sequence numbers. */
  maxRel = 0;
  /** Bytes never seen inside the stream (holes delivered as gaps). */
  missed = 0;
  /** Highest offset of this direction the peer acknowledged, or -1. */
  ackedRel = -1;

  synSeen = false;
  isn = 0;
  finSeen = false;
  finRel = 0;
  rstSeen = false;
  /** Payload segments that carried only bytes already seen. */
  retransmits = 0;
  gaps = 0;
  zeroWindows = 0;

  private held: HeldSegment | null = null;
  heldBytes = 0;

  // --- parser feed ---
  /** Bytes offered to the parser so far (depth accounting). */
  offered = 0;
  private parserOff = false;
  private pending: Buffer | null = null;
  private pendingLen = 0;
  /** Bytes the parser asked to skip. */
  private skip = 0;

  constructor(dir: Direction) {
    this.dir = dir;
  }

  /**
   * Back to the state of `new TcpStream(dir)`, for a pooled flow (FlowTable
   * reuses ended flows: short-lived connections otherwise fill the young
   * generation with objects that survive a scavenge or two and die old).
   * Every field is set again; test/flow/flow-pool.test.ts checks a reset
   * stream against a new one, so a field added without a line here fails it
   * (and `Flow.reset` says why the initialisers stay).
   */
  reset(dir: Direction): void {
    this.dir = dir;
    this.packets = 0;
    this.ipBytes = 0;
    this.based = false;
    this.base = 0;
    this.nextRel = 0;
    this.maxRel = 0;
    this.missed = 0;
    this.ackedRel = -1;
    this.synSeen = false;
    this.isn = 0;
    this.finSeen = false;
    this.finRel = 0;
    this.rstSeen = false;
    this.retransmits = 0;
    this.gaps = 0;
    this.zeroWindows = 0;
    this.held = null;
    this.heldBytes = 0;
    this.offered = 0;
    this.parserOff = false;
    this.pending = null;
    this.pendingLen = 0;
    this.skip = 0;
    this.altIsns = NO_ISNS;
  }

  /** Absolute sequence number of the next expected byte. */
  private absNext(): number {
    return (this.base + this.nextRel) >>> 0;
  }

  /** Offset of an absolute sequence number (valid once based). */
  relOf(seq: number): number {
    return this.nextRel + ((seq - this.absNext()) | 0);
  }

  /** Record a SYN (or SYN-ACK) from this side. Returns false if it changed an existing ISN. */
  onSyn(seq: number): boolean {
    if (this.synSeen) {
      if (this.isn === seq) return true;
      // A SYN-ACK repeated with another ISN before any data (a server that
      // restarted the handshake, as in TCP Fast Open fallbacks): remember it;
      // the peer's ACK or the first data segment tells which ISN is real.
      // Once data flowed, the first ISN stays (Zeek issue 3313).
      if (this.noDataYet() && this.altIsns.length < 4 && !this.altIsns.includes(seq)) {
        if (this.altIsns === NO_ISNS) this.altIsns = [];
        this.altIsns.push(seq);
      }
      return false;
    }
    this.synSeen = true;
    this.isn = seq;
    if (!this.based || (this.maxRel === 0 && this.held === null)) {
      this.based = true;
      this.base = (seq + 1) >>> 0;
      this.nextRel = 0;
      this.maxRel = 0;
    }
    return true;
  }

  /** Other ISNs this side's SYN carried before data flowed. */
  private altIsns: number[] = NO_ISNS;

  private noDataYet(): boolean {
    return this.maxRel === 0 && this.held === null && this.offered === 0;
  }

  /** Switch to an alternative ISN when `next` (an ACK or a first data byte) points just past it. */
  private adoptIsnFor(next: number): void {
    if (this.altIsns.length === 0 || !this.noDataYet()) return;
    const isn = (next - 1) >>> 0;
    if (isn === this.isn || !this.altIsns.includes(isn)) return;
    this.altIsns = this.altIsns.filter((x) => x !== isn);
    this.altIsns.push(this.isn);
    this.isn = isn;
    this.base = (isn + 1) >>> 0;
    this.nextRel = 0;
    this.ackedRel = -1;
  }

  /**
   * A segment with payload. `capLen` bytes are present at `buf[off..]`;
   * `wireLen` is what the sender sent (larger when the snap length cut it).
   * Returns 1 for new bytes, 0 for a pure retransmission, -1 when rejected.
   */
  onSegment(
    seq: number,
    buf: Buffer,
    off: number,
    capLen: number,
    wireLen: number,
    parser: StreamParser | null,
    budget: ReassemblyBudget,
    counters: AnomalyCounters,
  ): number {
    if (!this.based) {
      this.based = true;
      this.base = seq >>> 0;
    } else if (this.altIsns.length > 0) this.adoptIsnFor(seq);
    const rel = this.relOf(seq);
    const end = rel + wireLen;
    if (rel > this.maxRel + budget.maxSeqJump || end < this.nextRel - budget.maxSeqJump) {
      counters.inc(A_SEQ_JUMP);
      return -1;
    }
    if (end <= this.nextRel) {
      this.retransmits++;
      return 0;
    }
    if (end > this.maxRel) this.maxRel = end;
    if (rel <= this.nextRel) {
      const trim = this.nextRel - rel;
      if (trim < capLen) this.deliver(buf, off + trim, off + capLen, parser, budget, counters);
      // Bytes cut by the snap length are a hole the parser must hear about.
      const capEnd = rel + capLen;
      this.nextRel = capEnd > this.nextRel ? capEnd : this.nextRel;
      if (end > this.nextRel) this.gap(end - this.nextRel, parser);
      this.nextRel = end;
      if (this.held !== null) this.drainHeld(parser, budget, counters, false);
      return 1;
    }
    // Out of order: keep a copy (the frame is reused), within limits.
    const keep = capLen;
    if (this.heldBytes + keep > budget.maxHeldPerStream) {
      counters.inc(A_HELD_FLOW_LIMIT);
      this.drainHeld(parser, budget, counters, true);
      return this.onSegment(seq, buf, off, capLen, wireLen, parser, budget, counters);
    }
    if (budget.heldGlobal + keep > budget.maxHeldGlobal) {
      counters.inc(A_HELD_GLOBAL_LIMIT);
      // Declare the hole up to this segment a gap, then deliver it in order.
      this.drainHeld(parser, budget, counters, true);
      const r = this.relOf(seq);
      if (r > this.nextRel) {
        this.gap(r - this.nextRel, parser);
        this.nextRel = r;
      }
      return this.onSegment(seq, buf, off, capLen, wireLen, parser, budget, counters);
    }
    this.insertHeld(rel, Buffer.from(buf.subarray(off, off + keep)), budget);
    // A snap-length-cut out-of-order segment leaves its tail as a hole; drainHeld finds it.
    return 1;
  }

  onFin(seq: number, payloadLen: number): void {
    if (this.finSeen) return;
    this.finSeen = true;
    if (!this.based) {
      this.based = true;
      this.base = seq >>> 0;
    }
    this.finRel = this.relOf(seq) + payloadLen;
  }

  /** The peer acknowledged `ack` (absolute) of this direction. */
  onPeerAck(ack: number, budget: ReassemblyBudget): void {
    if (!this.based) return;
    if (this.altIsns.length > 0) this.adoptIsnFor(ack);
    const r = this.relOf(ack);
    if (r > this.ackedRel && r <= this.maxRel + budget.maxAckAhead) this.ackedRel = r;
  }

  /**
   * End of the flow: deliver what is held, with gaps for the holes, and count
   * bytes the peer acknowledged but the capture never saw (Zeek's missed_bytes).
   */
  finish(parser: StreamParser | null, budget: ReassemblyBudget, counters: AnomalyCounters): void {
    if (this.held !== null) this.drainHeld(parser, budget, counters, true);
    if (this.based && this.ackedRel > this.maxRel) {
      // The ACK of a FIN covers one sequence number that is not payload.
      let unseen = this.ackedRel - this.maxRel;
      if (this.finSeen && this.ackedRel > this.finRel) unseen -= 1;
      // A lone FIN that was not captured looks like one unseen byte: not data.
      if (unseen > 1) {
        this.missed += unseen;
        this.gaps++;
        this.maxRel += unseen;
      }
    }
    this.releasePending();
  }

  /** Release held memory (flow evicted or ended). */
  dispose(budget: ReassemblyBudget): void {
    budget.heldGlobal -= this.heldBytes;
    this.heldBytes = 0;
    this.held = null;
    this.releasePending();
  }

  private releasePending(): void {
    this.pending = null;
    this.pendingLen = 0;
  }

  private insertHeld(rel: number, data: Buffer, budget: ReassemblyBudget): void {
    const seg: HeldSegment = { rel, data, next: null };
    if (this.held === null || rel < this.held.rel) {
      seg.next = this.held;
      this.held = seg;
    } else {
      let p = this.held;
      while (p.next !== null && p.next.rel <= rel) p = p.next;
      // Same start as a held segment: the first copy wins, unless this one is longer.
      if (p.rel === rel && p.data.length >= data.length) return;
      seg.next = p.next;
      p.next = seg;
    }
    this.heldBytes += data.length;
    budget.heldGlobal += data.length;
  }

  /**
   * Deliver held segments that are now in order; with `force`, declare the
   * hole before the first held segment a gap and go on (limits, flow end).
   */
  private drainHeld(parser: StreamParser | null, budget: ReassemblyBudget, counters: AnomalyCounters, force: boolean): void {
    let seg = this.held;
    while (seg !== null) {
      if (seg.rel > this.nextRel) {
        if (!force) break;
        this.gap(seg.rel - this.nextRel, parser);
        this.nextRel = seg.rel;
      }
      const segEnd = seg.rel + seg.data.length;
      if (segEnd > this.nextRel) {
        this.deliver(seg.data, this.nextRel - seg.rel, seg.data.length, parser, budget, counters);
        this.nextRel = segEnd;
      }
      this.heldBytes -= seg.data.length;
      budget.heldGlobal -= seg.data.length;
      seg = seg.next;
    }
    this.held = seg;
    // Bytes of a snap-length-cut held segment beyond its captured part.
    if (force && this.held === null && this.maxRel > this.nextRel) {
      this.gap(this.maxRel - this.nextRel, parser);
      this.nextRel = this.maxRel;
    }
  }

  private gap(length: number, parser: StreamParser | null): void {
    this.missed += length;
    this.gaps++;
    if (parser === null || this.parserOff) return;
    this.pendingLen = 0;
    if (this.skip >= length) {
      this.skip -= length; // the parser wanted to skip these bytes anyway
      return;
    }
    const rest = length - this.skip;
    this.skip = 0;
    parser.onGap(this.dir, rest);
  }

  /** Offer in-order bytes to the parser, honouring consumed/needed/skip. */
  private deliver(buf: Buffer, start: number, end: number, parser: StreamParser | null, budget: ReassemblyBudget, counters: AnomalyCounters): void {
    if (parser === null || this.parserOff) return;
    if (this.skip > 0) {
      const n = Math.min(this.skip, end - start);
      this.skip -= n;
      start += n;
      if (start >= end) return;
    }
    if (!parser.wantsData()) {
      this.parserOff = true;
      this.releasePending();
      return;
    }
    const len = end - start;
    if (this.offered + len > budget.depth && this.offered - (parser.opaqueBytes?.(this.dir) ?? 0) + len > budget.depth) {
      this.parserOff = true;
      budget.depthReached++;
      this.releasePending();
      return;
    }
    this.offered += len;
    if (this.pendingLen === 0) {
      const consumed = parser.onData(this.dir, buf, start, end);
      if (consumed >= len) {
        this.skip = consumed - len;
        return;
      }
      this.keep(buf, start + Math.max(consumed, 0), end, budget, counters);
      return;
    }
    this.keep(buf, start, end, budget, counters);
    if (this.parserOff || this.pendingLen < parser.needed(this.dir)) return;
    const p = this.pending as Buffer;
    const consumed = parser.onData(this.dir, p, 0, this.pendingLen);
    if (consumed >= this.pendingLen) {
      this.skip = consumed - this.pendingLen;
      this.pendingLen = 0;
    } else if (consumed > 0) {
      p.copyWithin(0, consumed, this.pendingLen);
      this.pendingLen -= consumed;
    }
  }

  /** Append to the parser's remainder buffer, grown by doubling up to the limit. */
  private keep(buf: Buffer, start: number, end: number, budget: ReassemblyBudget, counters: AnomalyCounters): void {
    const len = end - start;
    const need = this.pendingLen + len;
    if (need > budget.maxParserBuffer) {
      counters.inc(A_PARSER_BUFFER);
      this.parserOff = true;
      this.releasePending();
      return;
    }
    let p = this.pending;
    if (p === null || p.length < need) {
      let size = p === null ? 4096 : p.length;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, budget.maxParserBuffer));
      if (p !== null && this.pendingLen > 0) p.copy(grown, 0, 0, this.pendingLen);
      p = this.pending = grown;
    }
    buf.copy(p, this.pendingLen, start, end);
    this.pendingLen = need;
  }
}
