/**
 * pcapng files: a sequence of sections, each a Section Header Block (with its
 * own byte order) followed by Interface Description Blocks and packet blocks.
 * Enhanced (6), Simple (3) and obsolete Packet (2) blocks yield packets; every
 * other block type is skipped without being buffered whole.
 */
import {
  A_PCAPNG_BAD_BLOCK_LENGTH,
  A_PCAPNG_BAD_BYTE_ORDER,
  A_PCAPNG_BAD_OPTION,
  A_PCAPNG_BLOCK_TOO_SHORT,
  A_PCAPNG_CAPLEN_EXCEEDS_BLOCK,
  A_PCAPNG_CAPLEN_GT_WIRELEN,
  A_PCAPNG_LENGTH_MISMATCH,
  A_PCAPNG_OVERSIZED_BLOCK,
  A_PCAPNG_OVERSIZED_RECORD,
  A_PCAPNG_TOO_MANY_INTERFACES,
  A_PCAPNG_TRUNCATED_BLOCK,
  A_PCAPNG_UNDEFINED_INTERFACE,
  A_PCAPNG_UNSUPPORTED_VERSION,
} from './anomalies.js';
import { BaseReader, MAX_BLOCK, MAX_FRAME, u16be, u16le, u32be, u32le } from './base-reader.js';
import { NEXT_NEED_DATA, NEXT_PACKET, type NextResult, type PacketRecord } from './types.js';

export const PCAPNG_MAGIC = 0x0a0d0d0a;
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_OPB = 2;
const BT_SPB = 3;
const BT_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

const SHB_MIN = 28;
const SHB_FIXED = 24;
const IDB_MIN = 20;
const IDB_FIXED = 16;
const EPB_MIN = 32;
const SPB_MIN = 16;

/** Interface descriptions kept per section (hostile files could declare millions). */
export const MAX_INTERFACES = 65536;

export class PcapngReader extends BaseReader {
  readonly format = 'pcapng' as const;
  /** Byte order of the current section. */
  private le = true;
  /** False while inside a section of an unsupported version (skipped to the next SHB). */
  private sectionOk = true;
  /** Bytes of the current (skipped) block still to discard. */
  private skip = 0;
  /** Timestamp of the last packet, for Simple Packet Blocks. */
  private lastTs = 0;
  // Interfaces of the current section, by id. linkType -1 marks an unusable IDB.
  private ifCount = 0;
  private readonly ifLink: number[] = [];
  private readonly ifSnap: number[] = [];
  /** Timestamp units per second (if_tsresol); 1e6 by default. */
  private readonly ifUnits: number[] = [];
  /** if_tsoffset, in microseconds. */
  private readonly ifOffset: number[] = [];


  next(pkt: PacketRecord): NextResult {
    if (this.done) return this.finish();
    for (;;) {
      const b = this.buf;
      const p = this.pos;
      const avail = this.end - p;
      if (this.skip > 0) {
        if (avail >= this.skip) {
          this.pos = p + this.skip;
          this.skip = 0;
          continue;
        }
        this.skip -= avail;
        this.pos = this.end;
        return this.cutShort();
      }
      if (avail < 12) {
        if (!this.eof) return NEXT_NEED_DATA;
        if (avail > 0) this.counters.inc(A_PCAPNG_TRUNCATED_BLOCK);
        return this.finish();
      }
      let le = this.le;
      const type = le ? u32le(b, p) : u32be(b, p);
      if (type === BT_SHB) {
        // Byte order of the new section: from its byte-order magic, not the previous section's.
        if (u32le(b, p + 8) === BYTE_ORDER_MAGIC) le = true;
        else if (u32be(b, p + 8) === BYTE_ORDER_MAGIC) le = false;
        else {
          this.counters.inc(A_PCAPNG_BAD_BYTE_ORDER);
          return this.finish();
        }
      }
      const len = le ? u32le(b, p + 4) : u32be(b, p + 4);
      if (len < 12 || (len & 3) !== 0 || (type === BT_SHB && len < SHB_MIN)) {
        this.counters.inc(A_PCAPNG_BAD_BLOCK_LENGTH);
        return this.finish();
      }

      if (type === BT_EPB || type === BT_SPB || type === BT_OPB) {
        if (!this.sectionOk) {
          this.skip = len;
          continue;
        }
        if (len > MAX_BLOCK) {
          this.counters.inc(A_PCAPNG_OVERSIZED_RECORD);
          this.skip = len;
          continue;
        }
        if (avail < len) return this.cutShort();
        if (this.badTrailer(b, p, len, le)) return this.finish();
        this.pos = p + len;
        if (type === BT_SPB ? this.simplePacket(b, p, len, pkt) : this.packet(type, b, p, len, pkt)) return NEXT_PACKET;
        continue;
      }

      if (type === BT_SHB || (type === BT_IDB && this.sectionOk)) {
        const fixed = type === BT_SHB ? SHB_FIXED : IDB_FIXED;
        if (len > MAX_BLOCK) {
          // Only the fixed fields are read; the options are skipped unbuffered.
          if (avail < fixed) return this.cutShort();
          this.counters.inc(A_PCAPNG_OVERSIZED_BLOCK);
          if (type === BT_SHB) this.sectionHeader(b, p, le);
          else this.interfaceDescription(b, p, fixed + 4, le);
          this.pos = p + fixed;
          this.skip = len - fixed;
          continue;
        }
        if (avail < len) return this.cutShort();
        if (this.badTrailer(b, p, len, le)) return this.finish();
        if (type === BT_SHB) this.sectionHeader(b, p, le);
        else this.interfaceDescription(b, p, len, le);
        this.pos = p + len;
        continue;
      }

      // Every other block (NRB, ISB, DSB, custom, unknown): skipped without buffering.
      this.skip = len;
    }
  }

  /** A block not wholly buffered: wait for more input, or at its end count the block cut short and stop. */
  private cutShort(): NextResult {
    if (!this.eof) return NEXT_NEED_DATA;
    this.counters.inc(A_PCAPNG_TRUNCATED_BLOCK);
    return this.finish();
  }

  /** The block's trailing copy of its length disagrees (counted): the file is damaged from here on. */
  private badTrailer(b: Buffer, p: number, len: number, le: boolean): boolean {
    if ((le ? u32le(b, p + len - 4) : u32be(b, p + len - 4)) === len) return false;
    this.counters.inc(A_PCAPNG_LENGTH_MISMATCH);
    return true;
  }

  private sectionHeader(b: Buffer, p: number, le: boolean): void {
    this.le = le;
    this.ifCount = 0;
    this.ifLink.length = 0;
    this.ifSnap.length = 0;
    this.ifUnits.length = 0;
    this.ifOffset.length = 0;
    const major = le ? u16le(b, p + 12) : u16be(b, p + 12);
    this.sectionOk = major === 1;
    if (!this.sectionOk) this.counters.inc(A_PCAPNG_UNSUPPORTED_VERSION);
  }

  /** `len` is the block length, or just the fixed part plus trailer when the options are not buffered. */
  private interfaceDescription(b: Buffer, p: number, len: number, le: boolean): void {
    if (this.ifCount >= MAX_INTERFACES) {
      this.counters.inc(A_PCAPNG_TOO_MANY_INTERFACES);
      return;
    }
    const i = this.ifCount++;
    if (len < IDB_MIN) {
      this.counters.inc(A_PCAPNG_BLOCK_TOO_SHORT);
      this.ifLink[i] = -1;
      this.ifSnap[i] = 0;
      this.ifUnits[i] = 1e6;
      this.ifOffset[i] = 0;
      return;
    }
    const rd16 = le ? u16le : u16be;
    const rd32 = le ? u32le : u32be;
    this.ifLink[i] = rd16(b, p + 8);
    this.ifSnap[i] = rd32(b, p + 12);
    let units = 1e6;
    let offset = 0;
    const optEnd = p + len - 4;
    let o = p + IDB_FIXED;
    while (o + 4 <= optEnd) {
      const code = rd16(b, o);
      const olen = rd16(b, o + 2);
      if (code === OPT_ENDOFOPT) break;
      const v = o + 4;
      if (v + olen > optEnd) {
        this.counters.inc(A_PCAPNG_BAD_OPTION);
        break;
      }
      if (code === IF_TSRESOL) {
        if (olen !== 1) {
          this.counters.inc(A_PCAPNG_BAD_OPTION);
        } else {
          const r = b[v];
          // High bit set: negative power of 2; else negative power of 10.
          units = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        }
      } else if (code === IF_TSOFFSET) {
        if (olen !== 8) {
          this.counters.inc(A_PCAPNG_BAD_OPTION);
        } else {
          // Signed 64-bit seconds, in the section's byte order.
          const hi = le ? b.readInt32LE(v + 4) : b.readInt32BE(v);
          const lo = le ? u32le(b, v) : u32be(b, v + 4);
          offset = (hi * 4294967296 + lo) * 1e6;
        }
      }
      o = v + ((olen + 3) & ~3);
    }
    this.ifUnits[i] = units;
    this.ifOffset[i] = offset;
  }

  /** Enhanced (6) or obsolete (2) packet block, entirely in the buffer. */
  private packet(type: number, b: Buffer, p: number, len: number, pkt: PacketRecord): boolean {
    if (len < EPB_MIN) {
      this.counters.inc(A_PCAPNG_BLOCK_TOO_SHORT);
      return false;
    }
    const le = this.le;
    let iface: number, hi: number, lo: number, cap: number, wire: number;
    if (le) {
      iface = type === BT_EPB ? u32le(b, p + 8) : u16le(b, p + 8);
      hi = u32le(b, p + 12);
      lo = u32le(b, p + 16);
      cap = u32le(b, p + 20);
      wire = u32le(b, p + 24);
    } else {
      iface = type === BT_EPB ? u32be(b, p + 8) : u16be(b, p + 8);
      hi = u32be(b, p + 12);
      lo = u32be(b, p + 16);
      cap = u32be(b, p + 20);
      wire = u32be(b, p + 24);
    }
    if (iface >= this.ifCount || this.ifLink[iface] < 0) {
      this.counters.inc(A_PCAPNG_UNDEFINED_INTERFACE);
      return false;
    }
    if (cap > len - EPB_MIN) {
      this.counters.inc(A_PCAPNG_CAPLEN_EXCEEDS_BLOCK);
      return false;
    }
    if (cap > MAX_FRAME) {
      this.counters.inc(A_PCAPNG_OVERSIZED_RECORD);
      return false;
    }
    if (cap > wire) {
      this.counters.inc(A_PCAPNG_CAPLEN_GT_WIRELEN);
      wire = cap;
    }
    const units = this.ifUnits[iface];
    const ts = (units === 1e6 ? hi * 4294967296 + lo : ticksToMicros(hi, lo, units)) + this.ifOffset[iface];
    this.lastTs = ts;
    pkt.linkType = this.ifLink[iface];
    pkt.tsMicros = ts;
    pkt.data = b;
    pkt.offset = p + 28;
    pkt.caplen = cap;
    pkt.wirelen = wire;
    pkt.input = this.input;
    return true;
  }

  /** Simple packet block: interface 0, no timestamp (the last one seen is reused). */
  private simplePacket(b: Buffer, p: number, len: number, pkt: PacketRecord): boolean {
    if (this.ifCount === 0 || this.ifLink[0] < 0) {
      this.counters.inc(A_PCAPNG_UNDEFINED_INTERFACE);
      return false;
    }
    let wire = this.le ? u32le(b, p + 8) : u32be(b, p + 8);
    // The frame is min(original length, snaplen) bytes; the block must hold them.
    const snap = this.ifSnap[0];
    let cap = snap > 0 && snap < wire ? snap : wire;
    if (cap > len - SPB_MIN) {
      this.counters.inc(A_PCAPNG_CAPLEN_EXCEEDS_BLOCK);
      cap = len - SPB_MIN; // keep the bytes that are there
    }
    if (cap > MAX_FRAME) {
      this.counters.inc(A_PCAPNG_OVERSIZED_RECORD);
      return false;
    }
    if (cap > wire) wire = cap;
    pkt.linkType = this.ifLink[0];
    pkt.tsMicros = this.lastTs;
    pkt.data = b;
    pkt.offset = p + 12;
    pkt.caplen = cap;
    pkt.wirelen = wire;
    pkt.input = this.input;
    return true;
  }
}

/**
 * 64-bit tick count (hi:lo) in `units` per second, to microseconds, floored.
 * Exact for units up to 2^37 (long division in 16-bit digits keeps every
 * intermediate below 2^53); finer resolutions are approximated to within a
 * microsecond.
 */
export function ticksToMicros(hi: number, lo: number, units: number): number {
  let cur = hi >>> 16;
  let d = Math.floor(cur / units);
  let r = cur - d * units;
  let q = d;
  cur = r * 65536 + (hi & 0xffff);
  d = Math.floor(cur / units);
  r = cur - d * units;
  q = q * 65536 + d;
  cur = r * 65536 + (lo >>> 16);
  d = Math.floor(cur / units);
  r = cur - d * units;
  q = q * 65536 + d;
  cur = r * 65536 + (lo & 0xffff);
  d = Math.floor(cur / units);
  r = cur - d * units;
  q = q * 65536 + d;
  // q whole seconds, r remaining ticks (< units)
  const frac = units <= 8589934592 ? Math.floor((r * 1e6) / units) : Math.floor(r / (units / 1e6));
  return q * 1e6 + frac;
}
