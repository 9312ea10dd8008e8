/**
 * IP fragment reassembly, shared by IPv4 and IPv6. It knows no header format:
 * the IP layers give it a key, an offset, a "more fragments" flag and the
 * fragment's payload; it answers HELD, DONE (the datagram's payload is in
 * `out`) or DROPPED (an anomaly was counted).
 *
 * Bounded by design, since fragments are an easy way to make a sensor hoard
 * memory:
 *  - a datagram's payload may not end past `maxEnd` (65,535 minus headers);
 *  - all datagrams together hold at most `memoryCap` bytes, overheads
 *    included; past it the oldest datagrams are evicted (`decode.frag.evicted`);
 *  - at most `maxDatagrams` are in progress; a new one evicts the oldest;
 *  - a datagram incomplete `timeoutMicros` after its first fragment (packet
 *    time) is dropped (`stats.fragments.timedOut`), checked on each fragment.
 *
 * Overlaps: the bytes that arrived first win (the new fragment only fills
 * holes), and the overlap is counted. Fragment bytes are copied — the frame
 * does not outlive the call — and the completed datagram is a new buffer, so
 * the view may point into it after the next packet.
 */
import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import type { DecodeStats } from './stats.js';

const A_EVICTED = defineAnomaly(
  'decode.frag.evicted',
  'an incomplete datagram was dropped to keep fragment reassembly within its memory or datagram limit',
);
const A_MEMCAP = defineAnomaly(
  'decode.frag.memcap',
  'a datagram alone outgrew the fragment memory cap and was dropped',
);

/** Per-family anomaly ids (decode.ipv4.frag_* / decode.ipv6.frag_*). */
export interface FragmentAnomalies {
  readonly overlap: number;
  readonly tooLarge: number;
  readonly invalidLength: number;
}

export const FRAG_HELD = 0;
export const FRAG_DONE = 1;
export const FRAG_DROPPED = 2;

/** Bytes charged per datagram and per stored piece on top of the payload (objects, key, array slots). */
export const DATAGRAM_OVERHEAD = 256;
export const PIECE_OVERHEAD = 128;

class Datagram {
  /** Pieces sorted by start, never overlapping: [starts[i], ends[i]) holds chunks[i]. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly chunks: Buffer[] = [];
  /** Payload bytes held. */
  covered = 0;
  /** Highest end held. */
  maxEnd = 0;
  /** Payload end, known once the last fragment (MF = 0) arrived; -1 before. */
  lastEnd = -1;
  /** Next protocol and header length from the offset-0 fragment; -1 until it arrives. */
  firstNext = -1;
  firstHeaderLen = 0;
  charge = DATAGRAM_OVERHEAD;
  constructor(
    readonly key: string,
    readonly created: number,
  ) {}
}

const EMPTY = Buffer.alloc(0);

export class FragmentReassembler {
  private readonly table = new Map<string, Datagram>();
  /** Bytes held, overheads included. */
  memory = 0;
  /** After FRAG_DONE: the datagram's payload, the offset-0 fragment's next protocol and header length. */
  out: Buffer = EMPTY;
  outNext = 0;
  outHeaderLen = 0;

  constructor(
    readonly memoryCap: number,
    readonly maxDatagrams: number,
    readonly timeoutMicros: number,
    private readonly counters: AnomalyCounters,
    private readonly stats: DecodeStats,
  ) {}

  /** Datagrams in progress. */
  get datagrams(): number {
    return this.table.size;
  }

  /**
   * One fragment: payload `buf[dataOff, dataEnd)` at byte `start` of the
   * datagram; `more` is the MF flag; `next`/`headerLen` are kept from the
   * offset-0 fragment.
   */
  add(
    ids: FragmentAnomalies,
    key: string,
    now: number,
    start: number,
    more: boolean,
    buf: Buffer,
    dataOff: number,
    dataEnd: number,
    maxEnd: number,
    next: number,
    headerLen: number,
  ): number {
    this.expire(now);
    const len = dataEnd - dataOff;
    const end = start + len;
    if (end > maxEnd) {
      this.counters.inc(ids.tooLarge);
      return FRAG_DROPPED;
    }
    // Every fragment but the last carries a non-zero multiple of 8 bytes.
    if (more && (len === 0 || (len & 7) !== 0)) {
      this.counters.inc(ids.invalidLength);
      return FRAG_DROPPED;
    }
    let d = this.table.get(key);
    if (d !== undefined) {
      // A second, different end; or bytes past the known end.
      const bad = more ? d.lastEnd >= 0 && end > d.lastEnd : d.lastEnd >= 0 ? d.lastEnd !== end : d.maxEnd > end;
      if (bad) {
        this.counters.inc(ids.invalidLength);
        return FRAG_DROPPED;
      }
    } else {
      if (this.table.size >= this.maxDatagrams) this.evictOldest(null);
      d = new Datagram(key, now);
      this.table.set(key, d);
      this.memory += d.charge;
    }
    if (!more) d.lastEnd = end;
    if (start === 0 && d.firstNext < 0) {
      d.firstNext = next;
      d.firstHeaderLen = headerLen;
    }
    if (this.insert(d, start, end, buf, dataOff)) this.counters.inc(ids.overlap);

    while (this.memory > this.memoryCap) {
      if (!this.evictOldest(d)) {
        this.remove(d);
        this.counters.inc(A_MEMCAP);
        return FRAG_DROPPED;
      }
    }
    if (d.lastEnd < 0 || d.covered !== d.lastEnd || d.firstNext < 0) return FRAG_HELD;

    let out: Buffer;
    if (d.chunks.length === 1) {
      out = d.chunks[0];
    } else {
      out = Buffer.allocUnsafe(d.lastEnd);
      for (let i = 0; i < d.chunks.length; i++) d.chunks[i].copy(out, d.starts[i]);
    }
    this.remove(d);
    this.stats.fragments.reassembled++;
    this.out = out;
    this.outNext = d.firstNext;
    this.outHeaderLen = d.firstHeaderLen;
    return FRAG_DONE;
  }

  /** Drops datagrams whose first fragment is older than the timeout at packet time `now`. */
  expire(now: number): void {
    if (this.table.size === 0) return;
    for (const d of this.table.values()) {
      // Insertion order is arrival order; with time going backwards a later entry may be older: it waits.
      if (now - d.created <= this.timeoutMicros) break;
      this.remove(d);
      this.stats.fragments.timedOut++;
    }
  }

  /** Drops every datagram in progress (end of input), counted as timed out. */
  flush(): void {
    this.stats.fragments.timedOut += this.table.size;
    this.table.clear();
    this.memory = 0;
  }

  /** Fills the holes of [s, e) with the fragment's bytes; true when it overlapped held bytes. */
  private insert(d: Datagram, s: number, e: number, buf: Buffer, dataOff: number): boolean {
    const { starts, ends } = d;
    const n = starts.length;
    if (n === 0 || s >= ends[n - 1]) {
      // In-order arrival: append.
      if (s < e) this.addPiece(d, n, s, e, buf, dataOff);
      return false;
    }
    // First piece ending after s.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid] <= s) lo = mid + 1;
      else hi = mid;
    }
    let overlapped = false;
    let cur = s;
    let i = lo;
    // Invariant: pieces before i end at or before cur; piece i (if any) ends after cur.
    while (cur < e) {
      if (i >= starts.length || starts[i] >= e) {
        this.addPiece(d, i, cur, e, buf, dataOff + (cur - s));
        break;
      }
      if (starts[i] > cur) {
        this.addPiece(d, i, cur, starts[i], buf, dataOff + (cur - s));
        i++;
      }
      overlapped = true;
      cur = ends[i];
      i++;
    }
    return overlapped;
  }

  private addPiece(d: Datagram, at: number, s: number, e: number, buf: Buffer, src: number): void {
    const len = e - s;
    const chunk = Buffer.allocUnsafeSlow(len);
    buf.copy(chunk, 0, src, src + len);
    if (at === d.starts.length) {
      d.starts.push(s);
      d.ends.push(e);
      d.chunks.push(chunk);
    } else {
      d.starts.splice(at, 0, s);
      d.ends.splice(at, 0, e);
      d.chunks.splice(at, 0, chunk);
    }
    d.covered += len;
    if (e > d.maxEnd) d.maxEnd = e;
    const charge = len + PIECE_OVERHEAD;
    d.charge += charge;
    this.memory += charge;
  }

  /** Evicts the oldest datagram other than `keep`; false when there is none. */
  private evictOldest(keep: Datagram | null): boolean {
    for (const d of this.table.values()) {
      if (d === keep) continue;
      this.remove(d);
      this.stats.fragments.evicted++;
      this.counters.inc(A_EVICTED);
      return true;
    }
    return false;
  }

  private remove(d: Datagram): void {
    this.table.delete(d.key);
    this.memory -= d.charge;
  }
}
