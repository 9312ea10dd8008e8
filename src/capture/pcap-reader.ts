/**
 * Classic libpcap files: 24-byte global header, then 16-byte record headers
 * each followed by `caplen` frame bytes. Both byte orders, microsecond and
 * nanosecond magics.
 */
import type { AnomalyCounters } from '../shared/anomalies.js';
import {
  A_PCAP_CAPLEN_GT_WIRELEN,
  A_PCAP_OVERSIZED_RECORD,
  A_PCAP_RESYNC,
  A_PCAP_TRAILING_GARBAGE,
  A_PCAP_TRUNCATED_HEADER,
  A_PCAP_TRUNCATED_RECORD,
} from './anomalies.js';
import { BaseReader, MAX_FRAME, u32be, u32le } from './base-reader.js';
import type { ByteSource } from './source.js';
import { NEXT_NEED_DATA, NEXT_PACKET, type NextResult, type PacketRecord } from './types.js';

export const PCAP_HEADER_LEN = 24;
const REC_HDR = 16;

/** Magic as read big-endian from the first 4 bytes. */
export const PCAP_MAGIC_US_BE = 0xa1b2c3d4;
export const PCAP_MAGIC_US_LE = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_BE = 0xa1b23c4d;
export const PCAP_MAGIC_NS_LE = 0x4d3cb2a1;

export function isPcapMagic(m: number): boolean {
  return m === PCAP_MAGIC_US_BE || m === PCAP_MAGIC_US_LE || m === PCAP_MAGIC_NS_BE || m === PCAP_MAGIC_NS_LE;
}

const MODE_RECORDS = 0;
const MODE_RESYNC = 1;
const MODE_BAD_HEADER = 2;

/** Resynchronisation: a candidate record must lie within a day of the last good one. */
const RESYNC_WINDOW_SEC = 86400;
/** Resynchronisation: largest wire length believed (TSO/GRO super-frames stay well below). */
const RESYNC_MAX_WIRELEN = 16 * 1024 * 1024;

export class PcapReader extends BaseReader {
  readonly format = 'pcap' as const;
  /** LINKTYPE_* of the file (low 16 bits of the header field; FCS bits dropped). */
  readonly linkType: number;
  readonly snapLen: number;
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;
  private mode: number;
  private haveTs = false;
  private lastSec = 0;

  constructor(
    name: string,
    src: ByteSource,
    buf: Buffer,
    end: number,
    eof: boolean,
    counters: AnomalyCounters,
    input: number,
    chunkSize: number,
    readAhead = false,
  ) {
    super(name, src, buf, end, eof, counters, input, chunkSize, readAhead);
    const m = u32be(buf, 0);
    this.littleEndian = m === PCAP_MAGIC_US_LE || m === PCAP_MAGIC_NS_LE;
    this.nanosecond = m === PCAP_MAGIC_NS_BE || m === PCAP_MAGIC_NS_LE;
    if (end < PCAP_HEADER_LEN) {
      this.linkType = 0;
      this.snapLen = 0;
      this.mode = MODE_BAD_HEADER;
      return;
    }
    const rd = this.littleEndian ? u32le : u32be;
    this.snapLen = rd(buf, 16);
    this.linkType = rd(buf, 20) & 0xffff;
    this.pos = PCAP_HEADER_LEN;
    this.mode = MODE_RECORDS;
  }

  next(pkt: PacketRecord): NextResult {
    if (this.mode !== MODE_RECORDS) return this.slowNext(pkt);
    const b = this.buf;
    const p = this.pos;
    const avail = this.end - p;
    if (avail < REC_HDR) return this.atRecordBoundary(avail);
    let sec: number, frac: number, cap: number, wire: number;
    if (this.littleEndian) {
      sec = u32le(b, p);
      frac = u32le(b, p + 4);
      cap = u32le(b, p + 8);
      wire = u32le(b, p + 12);
    } else {
      sec = u32be(b, p);
      frac = u32be(b, p + 4);
      cap = u32be(b, p + 8);
      wire = u32be(b, p + 12);
    }
    if (cap > MAX_FRAME) {
      this.counters.inc(A_PCAP_OVERSIZED_RECORD);
      this.mode = MODE_RESYNC;
      this.pos = p + 1;
      return this.resync(pkt);
    }
    if (avail < REC_HDR + cap) {
      if (!this.eof) return NEXT_NEED_DATA;
      this.counters.inc(A_PCAP_TRUNCATED_RECORD);
      return this.finish();
    }
    if (cap > wire) {
      this.counters.inc(A_PCAP_CAPLEN_GT_WIRELEN);
      wire = cap;
    }
    pkt.linkType = this.linkType;
    pkt.tsMicros = this.nanosecond ? sec * 1e6 + Math.floor(frac / 1000) : sec * 1e6 + frac;
    pkt.data = b;
    pkt.offset = p + REC_HDR;
    pkt.caplen = cap;
    pkt.wirelen = wire;
    pkt.input = this.input;
    this.pos = p + REC_HDR + cap;
    this.lastSec = sec;
    this.haveTs = true;
    return NEXT_PACKET;
  }

  private atRecordBoundary(avail: number): NextResult {
    if (this.done) return this.finish();
    if (!this.eof) return NEXT_NEED_DATA;
    if (avail > 0) this.counters.inc(A_PCAP_TRUNCATED_RECORD);
    return this.finish();
  }

  private slowNext(pkt: PacketRecord): NextResult {
    if (this.done) return this.finish();
    if (this.mode === MODE_BAD_HEADER) {
      this.counters.inc(A_PCAP_TRUNCATED_HEADER);
      return this.finish();
    }
    return this.resync(pkt);
  }

  /** Is there a believable record header at `q` (given the previous timestamp)? */
  private plausible(b: Buffer, q: number, haveTs: boolean, lastSec: number): boolean {
    const rd = this.littleEndian ? u32le : u32be;
    const cap = rd(b, q + 8);
    const wire = rd(b, q + 12);
    // Empty records are legal but never a believable landing point (zero-filled runs).
    if (cap === 0 || cap > MAX_FRAME || cap > wire || wire > RESYNC_MAX_WIRELEN) return false;
    if (rd(b, q + 4) >= (this.nanosecond ? 1e9 : 1e6)) return false;
    if (haveTs) {
      const sec = rd(b, q);
      if (sec < lastSec - RESYNC_WINDOW_SEC || sec > lastSec + RESYNC_WINDOW_SEC) return false;
    }
    return true;
  }

  /**
   * Scan forward one byte at a time for a record header that is plausible and
   * followed either by another plausible header or by the exact end of file.
   * Linear in the bytes skipped; the lookahead never exceeds one maximal record.
   */
  private resync(pkt: PacketRecord): NextResult {
    const rd = this.littleEndian ? u32le : u32be;
    for (;;) {
      const b = this.buf;
      const q = this.pos;
      const avail = this.end - q;
      if (avail < REC_HDR) {
        if (!this.eof) return NEXT_NEED_DATA;
        this.counters.inc(A_PCAP_TRAILING_GARBAGE);
        return this.finish();
      }
      if (!this.plausible(b, q, this.haveTs, this.lastSec)) {
        this.pos = q + 1;
        continue;
      }
      const following = q + REC_HDR + rd(b, q + 8);
      if (this.end < following + REC_HDR) {
        if (!this.eof) return NEXT_NEED_DATA;
        if (this.end !== following) {
          this.pos = q + 1;
          continue;
        }
      } else if (!this.plausible(b, following, true, rd(b, q))) {
        this.pos = q + 1;
        continue;
      }
      this.counters.inc(A_PCAP_RESYNC);
      this.mode = MODE_RECORDS;
      return this.next(pkt);
    }
  }
}
