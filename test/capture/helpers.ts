/**
 * Test helpers: write pcap / pcapng bytes from scratch (no fixture files) and
 * drain readers into plain objects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { NEXT_END, NEXT_NEED_DATA, NEXT_PACKET, PacketRecord, type PacketReader } from '../../src/capture/types.js';

export interface Frame {
  sec: number;
  /** Microseconds, or nanoseconds in a nanosecond file. */
  frac: number;
  data: Buffer;
  /** Wire length (defaults to data.length). */
  wirelen?: number;
  /** Caplen written in the header (defaults to data.length) — lie with it for hostile cases. */
  caplen?: number;
}

export interface PcapOptions {
  le?: boolean;
  nano?: boolean;
  linkType?: number;
  snaplen?: number;
}

export function pcapHeader(o: PcapOptions = {}): Buffer {
  const le = o.le ?? true;
  const h = Buffer.alloc(24);
  const w32 = (v: number, at: number): void => void (le ? h.writeUInt32LE(v, at) : h.writeUInt32BE(v, at));
  const w16 = (v: number, at: number): void => void (le ? h.writeUInt16LE(v, at) : h.writeUInt16BE(v, at));
  w32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(2, 4);
  w16(4, 6);
  w32(0, 8);
  w32(0, 12);
  w32(o.snaplen ?? 262144, 16);
  w32(o.linkType ?? 1, 20);
  return h;
}

export function pcapRecord(f: Frame, le = true): Buffer {
  const h = Buffer.alloc(16);
  const w32 = (v: number, at: number): void => void (le ? h.writeUInt32LE(v, at) : h.writeUInt32BE(v, at));
  w32(f.sec, 0);
  w32(f.frac, 4);
  w32(f.caplen ?? f.data.length, 8);
  w32(f.wirelen ?? f.data.length, 12);
  return Buffer.concat([h, f.data]);
}

export function pcapFile(o: PcapOptions, frames: Frame[]): Buffer {
  return Buffer.concat([pcapHeader(o), ...frames.map((f) => pcapRecord(f, o.le ?? true))]);
}

/** A frame whose bytes encode its number, so order and content can be checked. */
export function frameBytes(n: number, len = 60): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (n * 31 + i) & 0xff;
  if (len >= 4) b.writeUInt32BE(n >>> 0, 0);
  return b;
}

// ---- pcapng --------------------------------------------------------------------

export interface IdbOptions {
  snaplen?: number;
  /** if_tsresol byte (e.g. 9 = ns, 0x80|20 = 2^-20 s). */
  tsresol?: number;
  /** if_tsoffset seconds. */
  tsoffset?: bigint;
  /** Extra raw options appended before opt_endofopt. */
  extraOptions?: Buffer;
}

/** Builds a pcapng file block by block; every SHB may switch the byte order. */
export class PcapngBuilder {
  private readonly parts: Buffer[] = [];
  private le = true;

  private block(type: number, body: Buffer, opts: { lengthOverride?: number; trailerOverride?: number } = {}): this {
    const padded = Buffer.alloc((body.length + 3) & ~3);
    body.copy(padded);
    const len = 12 + padded.length;
    const head = Buffer.alloc(8);
    const tail = Buffer.alloc(4);
    this.w32(head, type, 0);
    this.w32(head, opts.lengthOverride ?? len, 4);
    this.w32(tail, opts.trailerOverride ?? opts.lengthOverride ?? len, 0);
    this.parts.push(head, padded, tail);
    return this;
  }

  private w32(b: Buffer, v: number, at: number): void {
    if (this.le) b.writeUInt32LE(v >>> 0, at);
    else b.writeUInt32BE(v >>> 0, at);
  }
  private w16(b: Buffer, v: number, at: number): void {
    if (this.le) b.writeUInt16LE(v, at);
    else b.writeUInt16BE(v, at);
  }

  shb(le: boolean, major = 1): this {
    this.le = le;
    const body = Buffer.alloc(16);
    this.w32(body, 0x1a2b3c4d, 0);
    this.w16(body, major, 4);
    this.w16(body, 0, 6);
    body.writeBigInt64LE(-1n, 8);
    return this.block(0x0a0d0d0a, body);
  }

  idb(linkType: number, o: IdbOptions = {}): this {
    const opts: Buffer[] = [];
    if (o.tsresol !== undefined) opts.push(this.option(9, Buffer.from([o.tsresol])));
    if (o.tsoffset !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(o.tsoffset);
      else v.writeBigInt64BE(o.tsoffset);
      opts.push(this.option(14, v));
    }
    if (o.extraOptions) opts.push(o.extraOptions);
    if (opts.length > 0) opts.push(Buffer.alloc(4)); // opt_endofopt
    const fixed = Buffer.alloc(8);
    this.w16(fixed, linkType, 0);
    this.w32(fixed, o.snaplen ?? 0, 4);
    return this.block(1, Buffer.concat([fixed, ...opts]));
  }

  option(code: number, value: Buffer): Buffer {
    const h = Buffer.alloc(4);
    this.w16(h, code, 0);
    this.w16(h, value.length, 2);
    const padded = Buffer.alloc((value.length + 3) & ~3);
    value.copy(padded);
    return Buffer.concat([h, padded]);
  }

  /** Enhanced packet block; `ticks` in the interface's units. */
  epb(iface: number, ticks: bigint, data: Buffer, o: { wirelen?: number; caplen?: number; options?: Buffer } = {}): this {
    const f = Buffer.alloc(20);
    this.w32(f, iface, 0);
    this.w32(f, Number(ticks >> 32n), 4);
    this.w32(f, Number(ticks & 0xffffffffn), 8);
    this.w32(f, o.caplen ?? data.length, 12);
    this.w32(f, o.wirelen ?? data.length, 16);
    const padded = Buffer.alloc((data.length + 3) & ~3);
    data.copy(padded);
    return this.block(6, Buffer.concat([f, padded, o.options ?? Buffer.alloc(0)]));
  }

  /** Obsolete packet block (type 2). */
  opb(iface: number, ticks: bigint, data: Buffer): this {
    const f = Buffer.alloc(20);
    this.w16(f, iface, 0);
    this.w16(f, 0xffff, 2);
    this.w32(f, Number(ticks >> 32n), 4);
    this.w32(f, Number(ticks & 0xffffffffn), 8);
    this.w32(f, data.length, 12);
    this.w32(f, data.length, 16);
    return this.block(2, Buffer.concat([f, data]));
  }

  /** Simple packet block: original length then data. */
  spb(data: Buffer, wirelen = data.length): this {
    const f = Buffer.alloc(4);
    this.w32(f, wirelen, 0);
    return this.block(3, Buffer.concat([f, data]));
  }

  /** Any block, e.g. NRB (4), ISB (5), DSB (10), custom (0xBAD) or an unknown type. */
  raw(type: number, body: Buffer, o: { lengthOverride?: number; trailerOverride?: number } = {}): this {
    return this.block(type, body, o);
  }

  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// ---- reading -----------------------------------------------------------------------

export interface ReadPacket {
  linkType: number;
  tsMicros: number;
  caplen: number;
  wirelen: number;
  input: number;
  hex: string;
}

/** Drain a reader into plain objects (copying each frame). */
export async function drain(reader: PacketReader, maxSteps = 10_000_000): Promise<ReadPacket[]> {
  const pkt = new PacketRecord();
  const out: ReadPacket[] = [];
  for (let steps = 0; steps < maxSteps; steps++) {
    const r = reader.next(pkt);
    if (r === NEXT_PACKET) {
      if (pkt.offset < 0 || pkt.offset + pkt.caplen > pkt.data.length) throw new Error('packet outside its buffer');
      out.push({
        linkType: pkt.linkType,
        tsMicros: pkt.tsMicros,
        caplen: pkt.caplen,
        wirelen: pkt.wirelen,
        input: pkt.input,
        hex: pkt.data.toString('hex', pkt.offset, pkt.offset + pkt.caplen),
      });
    } else if (r === NEXT_END) {
      if (reader.next(pkt) !== NEXT_END) throw new Error('next() after NEXT_END did not stay at NEXT_END');
      return out;
    } else if (r === NEXT_NEED_DATA) {
      await reader.fill();
    } else {
      throw new Error(`bad next() result ${String(r)}`);
    }
  }
  throw new Error('reader did not terminate');
}

export function tmpDir(prefix = 'tlsentry-capture-'): { dir: string; write(name: string, data: Buffer): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write(name: string, data: Buffer): string {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function counters(): AnomalyCounters {
  return new AnomalyCounters();
}
