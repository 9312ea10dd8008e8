/**
 * File and standard-output sinks: NDJSON, one event per line, written
 * synchronously from one reused buffer (the fast path of the writer).
 *
 * Rotation (optional): by size (`maxBytes`) and/or by time (`intervalSec`,
 * aligned to the clock: 3600 rotates on the hour, UTC). The finished file is
 * renamed to `<name>.<YYYYmmddTHHMMSSZ>.<ext>` — the UTC time it was opened,
 * as Zeek's and Suricata's timestamped logs, so names sort by time — with
 * `.1`, `.2`… before the extension if that name exists; then a new file is
 * opened under the original name, which a shipper (Filebeat, Splunk UF)
 * follows. A line is never split across two files. External logrotate with
 * SIGHUP (`reopen`) keeps working and needs no rotation here.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { EventRecord, Sink, SinkCounters } from './types.js';

export interface RotateOptions {
  /** Rotate before the file would pass this size (0/undefined: no size rotation). */
  maxBytes?: number;
  /** Rotate every this many seconds, aligned to the UTC clock (0/undefined: none). */
  intervalSec?: number;
}

export interface FileSinkOptions {
  /** Add to an existing file (a long-running sensor) instead of truncating it. */
  append?: boolean;
  rotate?: RotateOptions;
  /** Buffer size (default 1 MiB). */
  bufferBytes?: number;
  /** Clock for time rotation (tests). */
  now?: () => number;
}

/**
 * A pino destination that encodes each line straight into one reused buffer
 * and writes it with `writeSync` when full. Measured on the handshake
 * benchmark: sonic-boom (pino.destination) spent 14% of the run in
 * `Buffer.byteLength` over its growing string buffer; this sink does not
 * concatenate strings at all. Synchronous writes are the back-pressure: the
 * packet loop cannot outrun the disk and memory stays bounded.
 */
export class BufferedFileSink {
  private fd: number;
  private readonly ownsFd: boolean;
  private readonly target: string;
  private readonly append: boolean;
  private buf: Buffer;
  private used = 0;
  bytesWritten = 0;
  /** Bytes in the current file (rotation). */
  private fileBytes = 0;
  private readonly rotateBytes: number;
  private readonly intervalMs: number;
  private rotateAtMs = Infinity;
  private openedAtMs = 0;
  private readonly now: () => number;
  /** Files rotated away (tests, summary). */
  rotations = 0;

  /** `append`: add to an existing file (a long-running sensor) instead of truncating it. */
  constructor(target: string, size = 1024 * 1024, options: FileSinkOptions = {}) {
    this.target = target;
    this.append = options.append === true;
    this.now = options.now ?? Date.now;
    const stdout = target === '-';
    this.rotateBytes = stdout ? 0 : options.rotate?.maxBytes ?? 0;
    this.intervalMs = stdout ? 0 : (options.rotate?.intervalSec ?? 0) * 1000;
    if (stdout) {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      mkdirSync(dirname(target), { recursive: true });
      this.fd = this.openTarget();
      this.ownsFd = true;
    }
    this.buf = Buffer.allocUnsafe(size);
  }

  private openTarget(append = this.append): number {
    this.openedAtMs = this.now();
    if (this.intervalMs > 0) this.rotateAtMs = (Math.floor(this.openedAtMs / this.intervalMs) + 1) * this.intervalMs;
    if (!append) {
      this.fileBytes = 0;
      return openSync(this.target, 'w');
    }
    const fd = openSync(this.target, 'a');
    // A file cut short (the previous writer was killed mid-line) gets its line ended,
    // so the first new event does not join the broken one.
    const size = fstatSync(fd).size;
    this.fileBytes = size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = openSync(this.target, 'r');
      try {
        readSync(rfd, last, 0, 1, size - 1);
      } finally {
        closeSync(rfd);
      }
      if (last[0] !== 0x0a) this.fileBytes += writeSync(fd, '\n');
    }
    return fd;
  }

  /**
   * Flush, close the file and open the same path again (logrotate moved it
   * away: SIGHUP). Standard output is left as it is.
   */
  reopen(): void {
    this.flushSync();
    if (!this.ownsFd) return;
    const old = this.fd;
    this.fd = this.openTarget();
    closeSync(old);
  }

  write(line: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const worst = line.length * 3;
    if (this.used + worst > this.buf.length || (this.rotateBytes > 0 && this.used > 0 && this.fileBytes + this.used + line.length > this.rotateBytes)) {
      this.flushSync();
      if (worst > this.buf.length) this.buf = Buffer.allocUnsafe(worst);
    }
    this.used += this.buf.write(line, this.used, 'utf8');
    return true;
  }

  /** One whole line already encoded (`bytes[0, length)`): never split between two writes to the file. */
  writeBytes(bytes: Buffer, length = bytes.length): void {
    // With size rotation, what is buffered goes out first if this line would pass the limit,
    // so the next flush can rotate between the two.
    if (this.used + length > this.buf.length || (this.rotateBytes > 0 && this.used > 0 && this.fileBytes + this.used + length > this.rotateBytes)) {
      this.flushSync();
      if (length > this.buf.length) this.buf = Buffer.allocUnsafe(length);
    }
    this.used += bytes.copy(this.buf, this.used, 0, length);
  }

  /** A line without its newline (a record from the queue's side). */
  writeLine(line: Buffer): void {
    this.writeBytes(line, line.length);
    if (this.used + 1 > this.buf.length) this.flushSync();
    this.buf[this.used++] = 0x0a;
  }

  flushSync(): void {
    if (this.ownsFd && this.fileBytes > 0 && ((this.rotateBytes > 0 && this.fileBytes + this.used > this.rotateBytes) || this.now() >= this.rotateAtMs)) {
      this.rotate();
    }
    let off = 0;
    while (off < this.used) {
      try {
        off += writeSync(this.fd, this.buf, off, this.used - off);
      } catch (err) {
        // A non-blocking stdout (a pipe) may say EAGAIN: try again.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
    }
    this.bytesWritten += this.used;
    this.fileBytes += this.used;
    this.used = 0;
  }

  /** Close the current file, rename it with its opening time, open a new one. */
  private rotate(): void {
    closeSync(this.fd);
    const dir = dirname(this.target);
    const ext = extname(this.target);
    const base = basename(this.target, ext);
    const stamp = new Date(this.openedAtMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let name = join(dir, `${base}.${stamp}${ext}`);
    for (let n = 1; existsSync(name); n++) name = join(dir, `${base}.${stamp}.${n}${ext}`);
    renameSync(this.target, name);
    this.rotations++;
    this.fd = this.openTarget(false);
  }

  close(): void {
    this.flushSync();
    if (this.ownsFd) closeSync(this.fd);
  }
}

/** The file or standard-output `Sink`: written synchronously, nothing pending. */
export class FileSink implements Sink {
  readonly name: string;
  readonly path: string;
  readonly out: BufferedFileSink;
  private records = 0;

  constructor(name: string, path: string, options: FileSinkOptions = {}) {
    this.name = name;
    this.path = path;
    this.out = new BufferedFileSink(path, options.bufferBytes ?? 1024 * 1024, options);
  }

  write(rec: EventRecord): void {
    this.out.writeLine(rec.line);
    this.records++;
  }

  /** The writer's fast path: a whole encoded line, newline included (copied into the buffer). */
  writeBytes(bytes: Buffer, length: number): void {
    this.out.writeBytes(bytes, length);
    this.records++;
  }

  /** pino's line (newline included). */
  writeString(line: string): void {
    this.out.write(line);
    this.records++;
  }

  flush(): void {
    this.out.flushSync();
  }

  reopen(): void {
    this.out.reopen();
  }

  close(): Promise<void> {
    this.out.close();
    return Promise.resolve();
  }

  counters(): SinkCounters {
    return { queued: this.records, spooled: 0, delivered: this.records, retried: 0, rejected: 0, dropped: 0, pending: 0 };
  }
}
