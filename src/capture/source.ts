/**
 * Byte sources behind the readers: a regular file read in place with
 * `fs.readSync` (no stream machinery, no intermediate Buffers), or a Node
 * Readable (standard input, a gunzip stream) drained chunk by chunk.
 */
import { closeSync, read, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { TlsentryError } from '../shared/errors.js';

export interface ByteSource {
  /**
   * Copy up to `len` bytes into `buf[off..)`. Returns (or resolves to) the
   * count; 0 means end of input. Regular files answer synchronously.
   */
  read(buf: Buffer, off: number, len: number): number | Promise<number>;
  /** Bytes consumed from the underlying input (compressed bytes for gzip). */
  readonly bytesRead: number;
  /** Input size when known, else -1. */
  readonly totalBytes: number;
  close(): void;
}

/**
 * A regular file, read with positional `readSync` into the caller's buffer,
 * or with `readAhead` on libuv's thread pool while the caller parses the
 * previous chunk (one read in flight at most).
 */
export class FileSource implements ByteSource {
  bytesRead = 0;
  private fd: number;
  /** A `readAhead` is in flight: closing waits for it (the fd number could be reused under it). */
  private reading = false;
  private closeWanted = false;

  constructor(
    fd: number,
    readonly totalBytes: number,
    private readonly name: string,
  ) {
    this.fd = fd;
  }

  read(buf: Buffer, off: number, len: number): number {
    if (this.fd < 0 || this.closeWanted || len <= 0) return 0;
    let n: number;
    try {
      n = readSync(this.fd, buf, off, len, this.bytesRead);
    } catch (err) {
      this.close();
      throw this.readError(err);
    }
    this.bytesRead += n;
    if (n === 0) this.close();
    return n;
  }

  /** The next `len` bytes into `buf[off..)`, read on the thread pool; resolves to the count (0: end of file). */
  readAhead(buf: Buffer, off: number, len: number): Promise<number> {
    if (this.fd < 0 || this.closeWanted || len <= 0 || this.reading) return Promise.resolve(0);
    this.reading = true;
    return new Promise((resolve, reject) => {
      read(this.fd, buf, off, len, this.bytesRead, (err, n) => {
        this.reading = false;
        if (this.closeWanted) this.close();
        if (err) {
          this.close();
          reject(this.readError(err));
          return;
        }
        this.bytesRead += n;
        if (n === 0) this.close();
        resolve(n);
      });
    });
  }

  private readError(err: unknown): TlsentryError {
    return new TlsentryError('ERR_CAPTURE_READ', `cannot read ${this.name}: ${(err as Error).message}`, { cause: err });
  }

  close(): void {
    this.closeWanted = true;
    if (this.fd >= 0 && !this.reading) {
      try {
        closeSync(this.fd);
      } catch {
        /* already gone */
      }
      this.fd = -1;
    }
  }
}

export interface StreamSourceOptions {
  /** Bytes already taken from the stream (by format sniffing) that come first. */
  prefix?: Buffer;
  /**
   * Stream error handling: return true to treat the error as a (counted) end
   * of input, false to throw `ERR_CAPTURE_READ` from `read()`.
   */
  onError?: (err: Error) => boolean;
  /** Compressed-byte counter for progress; defaults to bytes taken from `stream`. */
  bytesRead?: () => number;
  totalBytes?: number;
  /** An error the stream already reported (while its first bytes were peeked). */
  error?: Error;
  /** Also destroyed by `close()` (the file stream feeding a gunzip). */
  upstream?: Readable;
  name: string;
}

/**
 * A Readable drained in paused mode (`read()` on 'readable'), so backpressure
 * is the stream's own. `read()` resolves as soon as some bytes are available:
 * a live pipe (tcpdump -w - | tlsentry) is not held back to fill a chunk.
 */
export class StreamSource implements ByteSource {
  readonly totalBytes: number;
  private pending: Buffer | null;
  private pendingOff = 0;
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  private taken = 0;
  private closed = false;
  private readonly wake = (): void => {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w();
    }
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake();
  };
  private readonly onErr = (err: Error): void => {
    this.failure = err;
    this.wake();
  };

  constructor(
    private readonly stream: Readable,
    private readonly opts: StreamSourceOptions,
  ) {
    this.pending = opts.prefix && opts.prefix.length > 0 ? opts.prefix : null;
    this.taken = opts.prefix ? opts.prefix.length : 0;
    this.totalBytes = opts.totalBytes ?? -1;
    this.failure = opts.error ?? null;
    if (stream.readableEnded) this.ended = true;
    stream.on('readable', this.wake);
    stream.on('end', this.onEnd);
    stream.on('error', this.onErr);
  }

  get bytesRead(): number {
    return this.opts.bytesRead ? this.opts.bytesRead() : this.taken;
  }

  async read(buf: Buffer, off: number, len: number): Promise<number> {
    let n = 0;
    for (;;) {
      const p = this.pending;
      if (p !== null) {
        const k = Math.min(p.length - this.pendingOff, len - n);
        p.copy(buf, off + n, this.pendingOff, this.pendingOff + k);
        n += k;
        this.pendingOff += k;
        if (this.pendingOff >= p.length) {
          this.pending = null;
          this.pendingOff = 0;
        }
        if (n >= len) return n;
      }
      if (this.closed) return n;
      // Bytes the stream still holds come first, even after an error: keep what was read.
      const c = this.stream.read() as Buffer | null;
      if (c !== null) {
        this.taken += c.length;
        this.pending = c;
        this.pendingOff = 0;
        continue;
      }
      if (n > 0) return n;
      if (this.failure !== null) {
        const err = this.failure;
        if (this.opts.onError && this.opts.onError(err)) {
          this.close();
          return 0;
        }
        this.close();
        throw new TlsentryError('ERR_CAPTURE_READ', `cannot read ${this.opts.name}: ${err.message}`, { cause: err });
      }
      if (this.ended) {
        this.close();
        return 0;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.stream.off('readable', this.wake);
    this.stream.off('end', this.onEnd);
    // keep an error listener: a late error after close must not become an uncaught exception
    this.stream.off('error', this.onErr);
    this.stream.on('error', ignore);
    if (this.opts.upstream) {
      this.opts.upstream.on('error', ignore);
      if (this.opts.upstream !== (process.stdin as Readable)) this.opts.upstream.destroy();
    }
    if (this.stream !== (process.stdin as Readable)) this.stream.destroy();
    this.wake();
  }
}

function ignore(): void {
  /* errors after close are of no interest */
}

/**
 * Take at least `n` bytes from the start of a stream (fewer at its end),
 * without engaging flowing mode. The bytes are consumed: hand them on as the
 * `prefix` of the source that reads the rest.
 */
export async function peekStream(stream: Readable, n: number): Promise<{ bytes: Buffer; error: Error | null }> {
  const parts: Buffer[] = [];
  let have = 0;
  let error: Error | null = null;
  const onError = (err: Error): void => {
    error = err;
  };
  stream.on('error', onError);
  try {
    while (have < n && error === null) {
      const c = stream.read() as Buffer | null;
      if (c !== null) {
        parts.push(c);
        have += c.length;
        continue;
      }
      if (stream.readableEnded || stream.destroyed) break;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stream.off('readable', done);
          stream.off('end', done);
          stream.off('error', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('readable', done);
        stream.on('end', done);
        stream.on('error', done);
        stream.on('close', done);
      });
    }
  } finally {
    stream.off('error', onError);
  }
  return { bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts), error };
}
