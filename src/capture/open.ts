/**
 * Opening one capture: detect the format by magic bytes (never by file name),
 * undo gzip on the fly, and build the matching reader.
 */
import { fstatSync, openSync, closeSync, createReadStream, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AnomalyCounters } from '../shared/anomalies.js';
import { TlsentryError } from '../shared/errors.js';
import { A_GZIP_CORRUPT } from './anomalies.js';
import { BaseReader, DEFAULT_CHUNK, bufferSizeFor } from './base-reader.js';
import { PCAP_HEADER_LEN, PcapReader, isPcapMagic } from './pcap-reader.js';
import { PCAPNG_MAGIC, PcapngReader } from './pcapng-reader.js';
import { FileSource, StreamSource, peekStream, type ByteSource } from './source.js';
import { NEXT_END, NEXT_PACKET, type PacketReader, type PacketRecord } from './types.js';

export interface OpenOptions {
  /** Bytes read per `fill()` (default 4 MiB). Small values are for tests. */
  chunkSize?: number;
  /** Value the reader stores in `PacketRecord.input` (default 0). */
  input?: number;
  /**
   * Read a regular file's next chunk on the thread pool while this one is parsed
   * (one more buffer of the chunk size). Default: on unless `chunkSize` is given
   * (the merge of many files keeps one small buffer per file).
   */
  readAhead?: boolean;
}

const GZIP_MAGIC = 0x1f8b;
/** zlib output chunk: large enough to keep per-chunk overhead negligible. */
const GUNZIP_CHUNK = 256 * 1024;
const FILE_STREAM_CHUNK = 1024 * 1024;

/**
 * Open a capture file, or standard input when `path` is '-'. Throws
 * `TlsentryError` ERR_CAPTURE_OPEN (cannot open, a directory) or
 * ERR_CAPTURE_FORMAT (empty, unknown magic).
 */
export async function openCapture(path: string, counters: AnomalyCounters, options: OpenOptions = {}): Promise<BaseReader> {
  if (path === '-') return openCaptureStream(process.stdin, '-', counters, options);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new TlsentryError('ERR_CAPTURE_OPEN', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  let st;
  try {
    st = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw new TlsentryError('ERR_CAPTURE_OPEN', `cannot stat ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isDirectory()) {
    closeSync(fd);
    throw new TlsentryError('ERR_CAPTURE_OPEN', `${path} is a directory`);
  }
  if (!st.isFile()) {
    // FIFO, character device, socket: stream it like standard input.
    closeSync(fd);
    return openCaptureStream(createReadStream(path, { highWaterMark: FILE_STREAM_CHUNK }), path, counters, options);
  }
  const chunk = chunkOf(options);
  const head = Buffer.alloc(2);
  let n: number;
  try {
    n = readSync(fd, head, 0, 2, 0);
  } catch (err) {
    closeSync(fd);
    throw new TlsentryError('ERR_CAPTURE_READ', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (n === 2 && head.readUInt16BE(0) === GZIP_MAGIC) {
    const file = createReadStream('', { fd, start: 0, highWaterMark: FILE_STREAM_CHUNK });
    return openGzip(file, path, counters, options, () => file.bytesRead, st.size);
  }
  const src = new FileSource(fd, st.size, path);
  return startReader(src, path, Buffer.allocUnsafe(bufferSizeFor(chunk)), counters, options);
}

/**
 * Read a capture from a Readable (standard input, a socket, a test stream);
 * gzip is recognised here too.
 */
export async function openCaptureStream(
  stream: Readable,
  name: string,
  counters: AnomalyCounters,
  options: OpenOptions = {},
): Promise<BaseReader> {
  const peek = await peekStream(stream, 2);
  if (peek.error) {
    throw new TlsentryError('ERR_CAPTURE_READ', `cannot read ${name}: ${peek.error.message}`, { cause: peek.error });
  }
  if (peek.bytes.length >= 2 && peek.bytes.readUInt16BE(0) === GZIP_MAGIC) {
    return openGzip(stream, name, counters, options, null, -1, peek.bytes);
  }
  const src = new StreamSource(stream, { prefix: peek.bytes, name });
  return startReader(src, name, Buffer.allocUnsafe(bufferSizeFor(chunkOf(options))), counters, options);
}

async function openGzip(
  compressed: Readable,
  name: string,
  counters: AnomalyCounters,
  options: OpenOptions,
  fileBytes: (() => number) | null,
  totalBytes: number,
  prefix?: Buffer,
): Promise<BaseReader> {
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
  // Read errors of the compressed input surface through the gunzip stream.
  compressed.on('error', (err) => gunzip.destroy(err));
  if (prefix) gunzip.write(prefix);
  let raw = prefix ? prefix.length : 0;
  if (compressed.readableEnded) {
    gunzip.end();
  } else {
    compressed.pipe(gunzip);
    // Counted after pipe() so that this listener does not start the flow early.
    if (!fileBytes) compressed.on('data', (c: Buffer) => void (raw += c.length));
  }
  const bytesRead = fileBytes ?? ((): number => raw);
  const isZlibError = (err: Error): boolean => String((err as NodeJS.ErrnoException).code ?? '').startsWith('Z_');
  const peek = await peekStream(gunzip, 4);
  if (peek.bytes.length < 4) {
    gunzip.destroy();
    if (compressed !== (process.stdin as Readable)) compressed.destroy();
    if (peek.error && isZlibError(peek.error)) counters.inc(A_GZIP_CORRUPT);
    if (peek.error && !isZlibError(peek.error)) {
      throw new TlsentryError('ERR_CAPTURE_READ', `cannot read ${name}: ${peek.error.message}`, { cause: peek.error });
    }
    throw new TlsentryError(
      'ERR_CAPTURE_FORMAT',
      `${name}: gzip stream ${peek.error ? `corrupt (${peek.error.message})` : 'too short'} before a capture header`,
    );
  }
  const src = new StreamSource(gunzip, {
    prefix: peek.bytes,
    name,
    bytesRead,
    totalBytes,
    upstream: compressed,
    // corrupt after the first bytes: read what came out, then end (counted) as for a later error
    error: peek.error ?? undefined,
    onError: (err) => {
      if (!isZlibError(err)) return false;
      counters.inc(A_GZIP_CORRUPT);
      return true;
    },
  });
  return startReader(src, name, Buffer.allocUnsafe(bufferSizeFor(chunkOf(options))), counters, options);
}

/** Fill the head of the buffer, check the magic and build the reader. */
async function startReader(
  src: ByteSource,
  name: string,
  buf: Buffer,
  counters: AnomalyCounters,
  options: OpenOptions,
): Promise<BaseReader> {
  const chunk = chunkOf(options);
  let end = 0;
  let eof = false;
  try {
    // The pcap global header (24 bytes) is the most any format needs up front.
    while (end < PCAP_HEADER_LEN) {
      const r = src.read(buf, end, Math.min(chunk, buf.length - end));
      const n = typeof r === 'number' ? r : await r;
      if (n <= 0) {
        eof = true;
        break;
      }
      end += n;
    }
  } catch (err) {
    src.close();
    throw err;
  }
  if (end < 4) {
    src.close();
    throw new TlsentryError('ERR_CAPTURE_FORMAT', `${name}: ${end === 0 ? 'empty input' : 'too short to be a capture'}`);
  }
  const magic = buf.readUInt32BE(0);
  const input = options.input ?? 0;
  const ahead = options.readAhead ?? options.chunkSize === undefined;
  if (isPcapMagic(magic)) return new PcapReader(name, src, buf, end, eof, counters, input, chunk, ahead);
  if (magic === PCAPNG_MAGIC) return new PcapngReader(name, src, buf, end, eof, counters, input, chunk, ahead);
  src.close();
  throw new TlsentryError('ERR_CAPTURE_FORMAT', `${name}: not a pcap or pcapng capture (magic ${describeMagic(buf)})`);
}

function describeMagic(b: Buffer): string {
  const hex = b.toString('hex', 0, 4);
  const m = b.readUInt32BE(0);
  if (m === 0xa1b2cd34 || m === 0x34cdb2a1) return `${hex}: modified (Kuznetzov) pcap, not supported`;
  if (b.toString('latin1', 0, 4) === 'snoo') return `${hex}: Solaris snoop, not supported`;
  if (m === 0x28b52ffd) return `${hex}: zstd-compressed, not supported`;
  if (b.toString('latin1', 0, 3) === 'BZh') return `${hex}: bzip2-compressed, not supported`;
  if (m === 0xfd377a58) return `${hex}: xz-compressed, not supported`;
  return hex;
}

function chunkOf(options: OpenOptions): number {
  const c = options.chunkSize ?? DEFAULT_CHUNK;
  return Number.isInteger(c) && c >= 1 ? c : DEFAULT_CHUNK;
}

/**
 * Run `onPacket` over every packet: a synchronous loop over each buffered
 * chunk, awaiting only when the reader needs more bytes. `pkt` (and the bytes
 * it points to) is only valid during the callback.
 */
export async function forEachPacket(
  reader: PacketReader,
  pkt: PacketRecord,
  onPacket: (pkt: PacketRecord) => void,
): Promise<void> {
  for (;;) {
    const r = reader.next(pkt);
    if (r === NEXT_PACKET) {
      onPacket(pkt);
    } else if (r === NEXT_END) {
      return;
    } else {
      await reader.fill();
      // A regular file may be read synchronously, and then awaiting fill() alone
      // would never let I/O callbacks run: yield once per chunk so output writes,
      // async verdicts and timers make progress and memory stays bounded.
      await yieldToEventLoop();
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
