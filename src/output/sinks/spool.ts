/**
 * The on-disk spool of one network sink: where events wait while the SIEM is
 * down or slower than the sensor, and across restarts.
 *
 * Layout of `dir` (one directory per sink):
 *   `0000000000000001.seg`, … append-only segment files, in sequence order;
 *   `cursor.json`            `{"segment":n,"offset":o}`: everything before
 *                            offset o of segment n was delivered. Written to
 *                            a temporary file and renamed over the old one,
 *                            so a reader sees the old or the new one, whole.
 *   `dead-letter.ndjson`     records the SIEM refused for good (queue.ts).
 *
 * A record: a 12-byte header `u32le body length, u32le CRC-32 of the body,
 * u16le id length, u16le 0`, then the body = id bytes + the event line (no
 * newline). One `writev` per record, no fsync: a SIGKILLed sensor loses
 * nothing that reached the page cache; a power cut may lose the last seconds
 * (the checksum then finds the torn record). On open every segment is read
 * once: a record cut short at the end of the newest segment is a torn write
 * (`sink.spool.torn_record`, truncated away); a bad checksum or length
 * elsewhere ends that segment (`sink.spool.corrupt_record`); a cursor that
 * cannot be used restarts at the first segment (`sink.spool.bad_cursor`):
 * duplicates rather than loss. No file content makes this throw.
 *
 * Disk limit: past `maxBytes` new records are dropped, counted, and a
 * `TLSENTRY_SPOOL_FULL` process warning goes to standard error, once per
 * episode (until a record fits again).
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { AnomalyCounters, defineAnomaly } from '../../shared/anomalies.js';
import { TlsentryError } from '../../shared/errors.js';
import type { EventRecord } from './types.js';

export const SPOOL_TORN = defineAnomaly('sink.spool.torn_record', 'a spool record cut short by a killed sensor or a full disk; the partial record was dropped');
export const SPOOL_CORRUPT = defineAnomaly('sink.spool.corrupt_record', 'a spool segment with a bad checksum or length; the rest of that segment was skipped');
export const SPOOL_BAD_CURSOR = defineAnomaly('sink.spool.bad_cursor', 'the spool cursor file was unreadable or pointed nowhere; delivery restarted at the oldest segment (duplicates possible)');
export const SPOOL_DROPPED = defineAnomaly('sink.spool.dropped', 'an event dropped because the spool reached its disk limit (spool.max_bytes)');

const HEADER = 12;
/** Longer than any event the sensor writes; a bigger length is corruption. */
const MAX_RECORD = 64 * 1024 * 1024;
const SEG_RE = /^(\d{16})\.seg$/;

/** Where a record ends, and its ordinal since the spool was opened: what the cursor commits. */
export interface SpoolPos {
  readonly seg: number;
  readonly off: number;
  /** 1-based ordinal of the record in this process (commit bookkeeping). */
  readonly n: number;
}

export interface SpooledRecord {
  readonly rec: EventRecord;
  readonly pos: SpoolPos;
}

export interface SpoolOptions {
  dir: string;
  /** Disk limit of the segments, bytes. */
  maxBytes: number;
  /** A new segment starts past this size (default 64 MiB). */
  segmentBytes?: number;
  counters?: AnomalyCounters;
  /** Sink name for the disk-limit warning. */
  name?: string;
}

interface Segment {
  seq: number;
  /** Bytes of whole, valid records (an older segment's file is longer only when corrupt). */
  end: number;
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  readonly anomalies: AnomalyCounters;
  private readonly name: string;
  private readonly segments: Segment[] = [];
  private writeFd = -1;
  /** Commit point: segment index 0 is `segments[0]`, offset `commitOff`. */
  private commitOff = 0;
  private readSegIdx = 0;
  private readOff = 0;
  private readFd = -1;
  private readFdSeq = -1;
  /** Ordinals: records appended (incl. those found on open), read, committed. */
  private appendedN = 0;
  private readN = 0;
  private committedN = 0;
  private diskBytes = 0;
  private full = false;
  dropped = 0;
  private readonly hdr = Buffer.alloc(HEADER);

  constructor(o: SpoolOptions) {
    this.dir = o.dir;
    this.maxBytes = o.maxBytes;
    this.segmentBytes = o.segmentBytes ?? 64 * 1024 * 1024;
    this.anomalies = o.counters ?? new AnomalyCounters();
    this.name = o.name ?? 'sink';
    try {
      mkdirSync(o.dir, { recursive: true });
      this.open();
    } catch (err) {
      if (err instanceof TlsentryError) throw err;
      throw new TlsentryError('ERR_OUTPUT', `spool ${o.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Records on disk not yet delivered (committed). */
  get size(): number {
    return this.appendedN - this.committedN;
  }

  /** Records on disk not yet handed out by `read`. */
  get unread(): number {
    return this.appendedN - this.readN;
  }

  get bytesOnDisk(): number {
    return this.diskBytes;
  }

  private segPath(seq: number): string {
    return join(this.dir, `${String(seq).padStart(16, '0')}.seg`);
  }

  private open(): void {
    const seqs: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = SEG_RE.exec(name);
      if (m) seqs.push(Number(m[1]));
    }
    seqs.sort((a, b) => a - b);
    const cursor = this.readCursor();
    // Segments wholly before the cursor's segment were delivered.
    let startIdx = 0;
    let startOff = 0;
    if (cursor !== null) {
      const i = seqs.indexOf(cursor.segment);
      if (i >= 0) {
        startIdx = i;
        startOff = cursor.offset;
      } else if (seqs.length > 0 && cursor.segment > seqs[seqs.length - 1]) {
        startIdx = seqs.length; // everything delivered; the segment was already removed
      } else if (seqs.some((s) => s > cursor.segment)) {
        startIdx = seqs.findIndex((s) => s > cursor.segment);
      }
    }
    for (let i = 0; i < startIdx; i++) this.unlinkQuiet(this.segPath(seqs[i]));
    const live = seqs.slice(startIdx);
    for (let i = 0; i < live.length; i++) {
      const seq = live[i];
      const last = i === live.length - 1;
      const { end, records, boundaries } = this.scan(seq, last);
      let first = 0;
      if (i === 0 && startOff > 0) {
        // Records before the cursor were delivered; the cursor must sit on a record boundary.
        const k = boundaries.indexOf(startOff);
        if (k < 0) {
          this.anomalies.inc(SPOOL_BAD_CURSOR);
          startOff = 0;
        } else first = k;
      }
      this.segments.push({ seq, end });
      this.appendedN += records - first;
      this.diskBytes += end;
    }
    this.commitOff = startOff;
    this.readOff = startOff;
    this.readSegIdx = 0;
    // Append to the newest segment, or start one.
    if (this.segments.length === 0) this.newSegment(seqs.length > 0 ? seqs[seqs.length - 1] + 1 : cursor !== null ? cursor.segment + 1 : 1);
    else {
      const s = this.segments[this.segments.length - 1];
      this.writeFd = openSync(this.segPath(s.seq), 'a');
    }
    if (this.appendedN === 0) this.reset();
    this.writeCursor();
  }

  private readCursor(): { segment: number; offset: number } | null {
    let text: string;
    try {
      text = readFileSync(join(this.dir, 'cursor.json'), 'utf8');
    } catch {
      return null; // a new spool
    }
    try {
      const c = JSON.parse(text) as { segment?: unknown; offset?: unknown };
      if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset) && (c.segment as number) >= 0 && (c.offset as number) >= 0) {
        return { segment: c.segment as number, offset: c.offset as number };
      }
    } catch {
      // fall through
    }
    this.anomalies.inc(SPOOL_BAD_CURSOR);
    return null;
  }

  /**
   * Validate one segment: returns where its whole records end, how many there
   * are and each record's start offset (for the cursor check). A torn tail
   * of the newest segment is cut off so appends continue on a clean end.
   */
  private scan(seq: number, newest: boolean): { end: number; records: number; boundaries: number[] } {
    const path = this.segPath(seq);
    const fd = openSync(path, newest ? 'r+' : 'r');
    try {
      const size = fstatSync(fd).size;
      const boundaries: number[] = [];
      let off = 0;
      let records = 0;
      let buf = Buffer.allocUnsafe(1024 * 1024);
      let bad: 'torn' | 'corrupt' | null = null;
      while (off < size) {
        if (size - off < HEADER) {
          bad = 'torn';
          break;
        }
        readSync(fd, this.hdr, 0, HEADER, off);
        const len = this.hdr.readUInt32LE(0);
        const sum = this.hdr.readUInt32LE(4);
        const idLen = this.hdr.readUInt16LE(8);
        if (len > MAX_RECORD || idLen > len || this.hdr.readUInt16LE(10) !== 0) {
          bad = 'corrupt';
          break;
        }
        if (off + HEADER + len > size) {
          bad = 'torn';
          break;
        }
        if (len > buf.length) buf = Buffer.allocUnsafe(len);
        readSync(fd, buf, 0, len, off + HEADER);
        if (crc32(buf.subarray(0, len)) !== sum) {
          bad = off + HEADER + len === size ? 'torn' : 'corrupt';
          break;
        }
        boundaries.push(off);
        off += HEADER + len;
        records++;
      }
      boundaries.push(off);
      if (bad !== null) {
        this.anomalies.inc(bad === 'torn' && newest ? SPOOL_TORN : SPOOL_CORRUPT);
        if (newest) ftruncateSync(fd, off);
      }
      return { end: off, records, boundaries };
    } finally {
      closeSync(fd);
    }
  }

  private newSegment(seq: number): void {
    if (this.writeFd >= 0) closeSync(this.writeFd);
    this.writeFd = openSync(this.segPath(seq), 'w');
    this.segments.push({ seq, end: 0 });
  }

  /**
   * Append one record. Returns false (counted, warned) past the disk limit.
   * The buffers are written as they are: no copy, one `writev`.
   */
  append(rec: EventRecord): boolean {
    const idBytes = Buffer.from(rec.id, 'utf8');
    const len = idBytes.length + rec.line.length;
    if (idBytes.length > 0xffff || len > MAX_RECORD) {
      this.drop();
      return false;
    }
    if (this.diskBytes + HEADER + len > this.maxBytes) {
      this.drop();
      return false;
    }
    if (this.full) {
      this.full = false;
      process.emitWarning(`spool of ${this.name} in ${this.dir} has room again; ${this.dropped} event(s) dropped so far`, { code: 'TLSENTRY_SPOOL_RESUMED' });
    }
    let seg = this.segments[this.segments.length - 1];
    if (seg.end > 0 && seg.end + HEADER + len > this.segmentBytes) {
      this.newSegment(seg.seq + 1);
      seg = this.segments[this.segments.length - 1];
    }
    const h = this.hdr;
    h.writeUInt32LE(len, 0);
    h.writeUInt32LE(crc32(rec.line, crc32(idBytes)), 4);
    h.writeUInt16LE(idBytes.length, 8);
    h.writeUInt16LE(0, 10);
    const parts = [h, idBytes, rec.line];
    let done = 0;
    const total = HEADER + len;
    while (done < total) {
      // writev returns a short count only on a full disk or a signal: write the rest.
      const n = done === 0 ? writevSync(this.writeFd, parts) : writevSync(this.writeFd, [Buffer.concat(parts).subarray(done)]);
      done += n;
    }
    seg.end += total;
    this.diskBytes += total;
    this.appendedN++;
    return true;
  }

  private drop(): void {
    this.dropped++;
    this.anomalies.inc(SPOOL_DROPPED);
    if (!this.full) {
      this.full = true;
      process.emitWarning(
        `spool of ${this.name} in ${this.dir} reached its limit of ${this.maxBytes} bytes: new events are DROPPED until the SIEM takes the backlog (raise spool.max_bytes)`,
        { code: 'TLSENTRY_SPOOL_FULL' },
      );
    }
  }

  /**
   * Hand out the next records after the read point (they stay on disk until
   * `commit`). Each record owns its buffer.
   */
  read(maxRecords: number, maxBytes: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    let bytes = 0;
    while (out.length < maxRecords && this.readN < this.appendedN) {
      let seg = this.segments[this.readSegIdx];
      if (this.readOff >= seg.end) {
        if (this.readSegIdx >= this.segments.length - 1) break;
        this.readSegIdx++;
        this.readOff = 0;
        continue;
      }
      if (this.readFdSeq !== seg.seq) {
        if (this.readFd >= 0) closeSync(this.readFd);
        this.readFd = openSync(this.segPath(seg.seq), 'r');
        this.readFdSeq = seg.seq;
      }
      readSync(this.readFd, this.hdr, 0, HEADER, this.readOff);
      const len = this.hdr.readUInt32LE(0);
      const idLen = this.hdr.readUInt16LE(8);
      if (out.length > 0 && bytes + len > maxBytes) break;
      const body = Buffer.allocUnsafe(len);
      readSync(this.readFd, body, 0, len, this.readOff + HEADER);
      this.readOff += HEADER + len;
      this.readN++;
      bytes += len;
      seg = this.segments[this.readSegIdx];
      out.push({
        rec: { id: body.toString('utf8', 0, idLen), line: body.subarray(idLen) },
        pos: { seg: seg.seq, off: this.readOff, n: this.readN },
      });
    }
    return out;
  }

  /** Everything up to and including the record that ends at `pos` was delivered. */
  commit(pos: SpoolPos): void {
    if (pos.n <= this.committedN) return;
    this.committedN = pos.n;
    // Drop segments wholly before the committed one.
    while (this.segments.length > 1 && this.segments[0].seq < pos.seg) {
      const s = this.segments.shift()!;
      this.diskBytes -= s.end;
      this.readSegIdx--;
      if (this.readFdSeq === s.seq) {
        closeSync(this.readFd);
        this.readFd = -1;
        this.readFdSeq = -1;
      }
      this.unlinkQuiet(this.segPath(s.seq));
    }
    this.commitOff = pos.off;
    if (this.size === 0) this.reset();
    this.writeCursor();
  }

  /** Back to the commit point: the records handed out since are read again (after a failure in `close`). */
  rewind(): void {
    this.readSegIdx = 0;
    this.readOff = this.commitOff;
    this.readN = this.committedN;
  }

  /** Nothing left: start a fresh segment so delivered bytes leave the disk. */
  private reset(): void {
    const last = this.segments[this.segments.length - 1];
    if (this.segments.length === 1 && this.commitOff === 0 && last.end === 0) return;
    const next = last.seq + 1;
    for (const s of this.segments) this.unlinkQuiet(this.segPath(s.seq));
    if (this.readFd >= 0) closeSync(this.readFd);
    this.readFd = -1;
    this.readFdSeq = -1;
    this.segments.length = 0;
    this.diskBytes = 0;
    this.newSegment(next);
    this.commitOff = 0;
    this.readOff = 0;
    this.readSegIdx = 0;
    this.writeCursor();
  }

  private writeCursor(): void {
    const tmp = join(this.dir, 'cursor.json.tmp');
    writeFileSync(tmp, JSON.stringify({ segment: this.segments[0].seq, offset: this.commitOff }) + '\n');
    renameSync(tmp, join(this.dir, 'cursor.json'));
  }

  private unlinkQuiet(p: string): void {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }

  close(): void {
    if (this.writeFd >= 0) closeSync(this.writeFd);
    if (this.readFd >= 0) closeSync(this.readFd);
    this.writeFd = this.readFd = -1;
  }
}
