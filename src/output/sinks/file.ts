/**
 * File and standard-output sinks: NDJSON, one event per line, written from
 * one reused buffer (the fast path of the writer): synchronously, or behind
 * the caller's back with `writeBehind`.
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
import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlink, write, writeSync } from 'node:fs';
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
  /**
   * Write full buffers behind the caller's back (libuv's thread pool, positional
   * writes) instead of blocking on `writeSync`; `close()`'s promise settles when
   * they are on disk. Offline reads turn it on; ignored for anything but a
   * regular file opened without O_APPEND (standard output, pipes and devices
   * cannot seek; an O_APPEND file writes where the kernel says, so writes must
   * stay in order).
   *
   * It also replaces an existing output file instead of truncating it: the old
   * file is renamed aside and unlinked in the thread pool (see `setAside`).
   */
  writeBehind?: boolean;
}

/**
 * Bytes handed to the thread pool and not yet written, beyond which a full
 * buffer is written synchronously again: memory stays bounded when the disk is
 * slower than the sensor.
 */
const MAX_WRITE_BEHIND = 4 * 1024 * 1024;
/** Written-out buffers kept for reuse. */
const MAX_SPARE = 4;

/**
 * A pino destination that encodes each line straight into one reused buffer
 * and writes it with `writeSync` when full. Measured on the handshake
 * benchmark: sonic-boom (pino.destination) spent 14% of the run in
 * `Buffer.byteLength` over its growing string buffer; this sink does not
 * concatenate strings at all. Synchronous writes are the back-pressure: the
 * packet loop cannot outrun the disk and memory stays bounded.
 *
 * With `writeBehind`, a full buffer goes to the thread pool as a positional
 * write at its place in the file and the next buffer fills meanwhile, up to
 * MAX_WRITE_BEHIND in flight (then synchronously again). On the handshake
 * benchmark the write syscalls were 6% of the packet thread's time; they now
 * overlap with it on the second core. Order on disk does not depend on the
 * order writes complete in: every buffer has its own offset.
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
  /** Buffers written behind the caller's back (`writeBehind`). */
  writesBehind = 0;
  private readonly writeBehind: boolean;
  /** The target is a regular file opened without O_APPEND: writes go to explicit offsets (pipes and devices cannot seek). */
  private positional = false;
  private readonly bufferBytes: number;
  /** Buffers handed to the thread pool, and their bytes. */
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Written-out buffers of the standard size, for reuse. */
  private readonly spare: Buffer[] = [];
  /** File descriptors replaced (rotation, reopen) while writes to them were in flight: closed once none are. */
  private retired: number[] = [];
  /** The first error of a background write, thrown by the next call that writes. */
  private backgroundError: Error | null = null;
  private drainWaiters: (() => void)[] = [];
  /** Old output files set aside so far (their names must not collide). */
  private setAsideCount = 0;

  /** `append`: add to an existing file (a long-running sensor) instead of truncating it. */
  constructor(target: string, size = 1024 * 1024, options: FileSinkOptions = {}) {
    this.target = target;
    this.append = options.append === true;
    this.now = options.now ?? Date.now;
    // Used only where writes are positional (a regular file without O_APPEND: `positional`).
    this.writeBehind = options.writeBehind === true;
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
    this.bufferBytes = size;
    this.buf = Buffer.allocUnsafe(size);
  }

  private openTarget(append = this.append): number {
    this.openedAtMs = this.now();
    if (this.intervalMs > 0) this.rotateAtMs = (Math.floor(this.openedAtMs / this.intervalMs) + 1) * this.intervalMs;
    if (!append) {
      this.fileBytes = 0;
      if (this.writeBehind) this.setAside();
      const fd = openSync(this.target, 'w');
      // `-o /dev/stdout` or a FIFO: written in order, where the file descriptor is.
      this.positional = fstatSync(fd).isFile();
      return fd;
    }
    this.positional = false;
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
   * Move an existing output file out of the way and unlink it in the thread
   * pool. Truncating it on open frees its page-cache pages and blocks in the
   * kernel meanwhile: 0.18 s for the 480 MB written by the large handshake
   * benchmark, ~10 % of a re-run over the same output. Only a plain file with
   * one name is replaced — a symlink or a hard-linked file is truncated as
   * before, so every name keeps pointing at the output. The replacement gets
   * default permissions, as a file created anew. Counted as a write in flight,
   * so `drained()` (and so `close()`) waits for the unlink.
   */
  private setAside(): void {
    let st;
    try {
      st = lstatSync(this.target);
    } catch {
      return; // not there (or not visible): open creates it
    }
    if (!st.isFile() || st.nlink !== 1 || st.size === 0) return;
    const aside = join(dirname(this.target), `.${basename(this.target)}.replaced-${process.pid}-${++this.setAsideCount}`);
    try {
      renameSync(this.target, aside);
    } catch {
      return; // e.g. no write permission on the directory: truncate instead
    }
    this.inFlight++;
    unlink(aside, (err) => this.landed(err));
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
    this.closeWhenIdle(old);
  }

  write(line: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const worst = line.length * 3;
    if (this.used + worst > this.buf.length || (this.rotateBytes > 0 && this.used > 0 && this.fileBytes + this.used + line.length > this.rotateBytes)) {
      this.flushFull();
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
      this.flushFull();
      if (length > this.buf.length) this.buf = Buffer.allocUnsafe(length);
    }
    this.used += bytes.copy(this.buf, this.used, 0, length);
  }

  /** A line without its newline (a record from the queue's side). */
  writeLine(line: Buffer): void {
    this.writeBytes(line, line.length);
    if (this.used + 1 > this.buf.length) this.flushFull();
    this.buf[this.used++] = 0x0a;
  }

  /** Write out what is buffered before returning (earlier write-behind buffers may still be in flight: see `drained`). */
  flushSync(): void {
    this.throwBackgroundError();
    this.rotateIfDue();
    let off = 0;
    while (off < this.used) {
      try {
        // At its offset in a regular file: write-behind buffers before this one may
        // still be on their way to theirs.
        off += this.positional ? writeSync(this.fd, this.buf, off, this.used - off, this.fileBytes + off) : writeSync(this.fd, this.buf, off, this.used - off);
      } catch (err) {
        // A non-blocking stdout (a pipe) may say EAGAIN: try again.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
    }
    this.bytesWritten += this.used;
    this.fileBytes += this.used;
    this.used = 0;
  }

  /** The buffer is full: write it behind (see `writeBehind`), or synchronously. */
  private flushFull(): void {
    if (!this.writeBehind || !this.positional || this.inFlightBytes + this.used > MAX_WRITE_BEHIND || this.used === 0) {
      this.flushSync();
      return;
    }
    this.throwBackgroundError();
    this.rotateIfDue();
    const buf = this.buf, len = this.used, fd = this.fd;
    let at = this.fileBytes;
    this.bytesWritten += len;
    this.fileBytes += len;
    this.inFlight++;
    this.inFlightBytes += len;
    this.writesBehind++;
    this.buf = this.spare.pop() ?? Buffer.allocUnsafe(this.bufferBytes);
    this.used = 0;
    let off = 0;
    const done = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err === null && n > 0 && off + n < len) {
        // A short write: the rest goes to where it belongs.
        off += n;
        at += n;
        write(fd, buf, off, len - off, at, done);
        return;
      }
      this.inFlightBytes -= len;
      // Reused rather than allocated anew: a fresh 1 MiB buffer costs page faults on every first touch.
      if (buf.length === this.bufferBytes && this.spare.length < MAX_SPARE) this.spare.push(buf);
      this.landed(err !== null || n > 0 ? err : new Error(`write returned ${n}`));
    };
    write(fd, buf, 0, len, at, done);
  }

  private rotateIfDue(): void {
    if (this.ownsFd && this.fileBytes > 0 && ((this.rotateBytes > 0 && this.fileBytes + this.used > this.rotateBytes) || this.now() >= this.rotateAtMs)) {
      this.rotate();
    }
  }

  private throwBackgroundError(): void {
    const err = this.backgroundError;
    if (err !== null) {
      this.backgroundError = null;
      throw err;
    }
  }

  /** Close `fd` now, or once the writes in flight (some may be to it) are done. */
  private closeWhenIdle(fd: number): void {
    if (this.inFlight === 0) closeSync(fd);
    else this.retired.push(fd);
  }

  /** A background write or unlink finished (`err`: the first one is thrown by the next call that writes). */
  private landed(err: Error | null): void {
    if (err !== null) this.backgroundError ??= err;
    if (--this.inFlight === 0) this.onIdle();
  }

  private onIdle(): void {
    for (const fd of this.retired) {
      try {
        closeSync(fd);
      } catch {
        /* already gone */
      }
    }
    this.retired = [];
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Settles when no write-behind buffer is in flight; rejects with a background write's error. */
  drained(): Promise<void> {
    const settle = (): Promise<void> => {
      const err = this.backgroundError;
      this.backgroundError = null;
      return err === null ? Promise.resolve() : Promise.reject(err);
    };
    if (this.inFlight === 0) return settle();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve)).then(settle);
  }

  /** Close the current file, rename it with its opening time, open a new one. */
  private rotate(): void {
    this.closeWhenIdle(this.fd);
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

  /** Flush and close; with write-behind the file is closed once `drained()` settles. */
  close(): void {
    try {
      this.flushSync();
    } finally {
      if (this.ownsFd) this.closeWhenIdle(this.fd);
    }
  }
}

/** The file or standard-output `Sink`: nothing pending once `close()` settles. */
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

  /** Settles when every byte is written (write-behind included); rejects with the first write error. */
  close(): Promise<void> {
    try {
      this.out.close();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.out.drained();
  }

  counters(): SinkCounters {
    return { queued: this.records, spooled: 0, delivered: this.records, retried: 0, rejected: 0, dropped: 0, pending: 0 };
  }
}
