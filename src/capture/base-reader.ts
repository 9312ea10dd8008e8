/**
 * Buffer management shared by the pcap and pcapng readers.
 *
 * One large Buffer per reader holds `buf[pos..end)` unread bytes. `next()`
 * parses records in place; when a record straddles the end of the buffered
 * bytes it answers NEXT_NEED_DATA and `fill()` moves only that tail to the
 * front (copyWithin) and reads the next chunk behind it. Records are capped
 * (MAX_BLOCK) well below the buffer's spare room, so one fill always suffices
 * to complete a record once the source has the bytes.
 *
 * A regular file is read ahead (`FileSource.readAhead`): while `next()` parses
 * one buffer, the thread pool reads the next chunk into a second one, behind
 * room for the unread tail; `fill()` copies that tail in front of the new
 * chunk and swaps the buffers. On the handshake benchmark the read syscalls
 * were 6% of the packet thread's time.
 */
import type { AnomalyCounters } from '../shared/anomalies.js';
import {
  NEXT_END,
  type CaptureFormat,
  type NextResult,
  type PacketReader,
  type PacketRecord,
} from './types.js';
import { FileSource, type ByteSource } from './source.js';

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
  /** Read-ahead (regular files): the second buffer, and the read into it at `aheadAt`. */
  private ahead: Buffer | null = null;
  private aheadRead: Promise<number> | null = null;
  private readonly aheadAt: number;

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
    readAhead = false,
  ) {
    this.inputs = [name];
    this.buf = buf;
    this.end = end;
    this.eof = eof;
    this.aheadAt = buf.length - chunkSize;
    if (readAhead && src instanceof FileSource && !eof && this.aheadAt >= MAX_BLOCK) {
      this.ahead = Buffer.allocUnsafe(buf.length);
      this.startReadAhead(src);
    }
  }

  private startReadAhead(src: FileSource): void {
    const r = src.readAhead(this.ahead!, this.aheadAt, this.chunkSize);
    // A failed read is reported by the fill() that awaits it; until then it must not count as unhandled.
    r.catch(() => undefined);
    this.aheadRead = r;
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
    if (this.aheadRead !== null && !this.eof) {
      await this.fillAhead(this.aheadRead);
      return;
    }
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

  /** Swap in the buffer read ahead, the unread tail copied in front of it; start the next read. */
  private async fillAhead(read: Promise<number>): Promise<void> {
    this.aheadRead = null;
    const n = await read;
    if (this.done) return;
    const next = this.ahead!;
    const tail = this.end - this.pos;
    if (n <= 0 || tail > this.aheadAt) {
      // End of file (or a tail that cannot happen: records are capped at MAX_BLOCK): the current buffer stays.
      this.eof = true;
      this.ahead = null;
      return;
    }
    const at = this.aheadAt - tail;
    if (tail > 0) this.buf.copy(next, at, this.pos, this.end);
    this.ahead = this.buf;
    this.buf = next;
    this.pos = at;
    this.end = this.aheadAt + n;
    this.startReadAhead(this.src as FileSource);
  }

  close(): void {
    this.finish();
  }

  /** End of this input: release the buffer and the source. */
  protected finish(): NextResult {
    this.done = true;
    this.eof = true;
    this.ahead = null;
    this.aheadRead = null;
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
