/**
 * Buffer management shared by the pcap and pcapng readers.
 *
 * One large Buffer per reader holds `buf[pos..end)` unread bytes. `next()`
 * parses records in place; when a record straddles the end of the buffered
 * bytes it answers NEXT_NEED_DATA and `fill()` moves only that tail to the
 * front (copyWithin) and reads the next chunk behind it. Records are capped
 * (MAX_BLOCK) well below the buffer's spare room, so one fill always suffices
 * to complete a record once the source has the bytes.
 */
import type { AnomalyCounters } from '../shared/anomalies.js';
import {
  NEXT_END,
  type CaptureFormat,
  type NextResult,
  type PacketReader,
  type PacketRecord,
} from './types.js';
import type { ByteSource } from './source.js';

/** Largest frame accepted (libpcap's MAXIMUM_SNAPLEN is the same 256 KiB). */
export const MAX_FRAME = 256 * 1024;
/** Largest block parsed in place: a maximal frame plus 64 KiB of headers/options. */
export const MAX_BLOCK = MAX_FRAME + 64 * 1024;
/** Default read size for a single input. */
export const DEFAULT_CHUNK = 4 * 1024 * 1024;

export interface SkippedInput {
  readonly path: string;
  readonly reason: string;
}

/** What `openCaptures` returns: a reader plus the inputs behind it. */
export interface CaptureSet extends PacketReader {
  /** Input names, indexed by `PacketRecord.input`. */
  readonly inputs: readonly string[];
  /** Files found in input directories that were skipped (not captures, unreadable), for a warning. */
  readonly skipped: readonly SkippedInput[];
}

const EMPTY = Buffer.alloc(0);

export abstract class BaseReader implements CaptureSet {
  abstract readonly format: CaptureFormat;
  readonly inputs: readonly string[];
  readonly skipped: SkippedInput[] = [];
  protected buf: Buffer;
  protected pos = 0;
  protected end: number;
  /** The source has no more bytes (buf[pos..end) may still hold some). */
  protected eof: boolean;
  /** NEXT_END was returned (or close() called); the buffer is released. */
  protected done = false;

  constructor(
    readonly name: string,
    protected readonly src: ByteSource,
    buf: Buffer,
    end: number,
    eof: boolean,
    protected readonly counters: AnomalyCounters,
    /** Value stored in `PacketRecord.input`. */
    protected readonly input: number,
    protected readonly chunkSize: number,
  ) {
    this.inputs = [name];
    this.buf = buf;
    this.end = end;
    this.eof = eof;
  }

  abstract next(pkt: PacketRecord): NextResult;

  get bytesRead(): number {
    return this.src.bytesRead;
  }

  get totalBytes(): number {
    return this.src.totalBytes;
  }

  async fill(): Promise<void> {
    if (this.done) return;
    const p = this.pos;
    if (p > 0) {
      const e = this.end;
      if (e > p) this.buf.copyWithin(0, p, e);
      this.end = e - p;
      this.pos = 0;
    }
    if (this.eof) return;
    const room = this.buf.length - this.end;
    if (room <= 0) {
      // Unreachable: records are capped at MAX_BLOCK < spare room. Ending here
      // guarantees termination should a bug ever ask for more.
      this.eof = true;
      return;
    }
    const r = this.src.read(this.buf, this.end, room < this.chunkSize ? room : this.chunkSize);
    const n = typeof r === 'number' ? r : await r;
    if (n <= 0) this.eof = true;
    else this.end += n;
  }

  close(): void {
    this.finish();
  }

  /** End of this input: release the buffer and the source. */
  protected finish(): NextResult {
    this.done = true;
    this.eof = true;
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
    this.src.close();
    return NEXT_END;
  }
}

/** Buffer size for a given read size: room for a chunk behind a straddling record. */
export function bufferSizeFor(chunkSize: number): number {
  return chunkSize + MAX_BLOCK + 64;
}

// Unsigned 32-bit reads; small enough for TurboFan to inline on the hot path.
export function u32le(b: Buffer, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 16777216;
}
export function u32be(b: Buffer, p: number): number {
  return b[p] * 16777216 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}
export function u16le(b: Buffer, p: number): number {
  return b[p] | (b[p + 1] << 8);
}
export function u16be(b: Buffer, p: number): number {
  return (b[p] << 8) | b[p + 1];
}
