import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type pino from 'pino';
import type { Flow } from '../flow/index.js';
import { TlsentryError } from '../shared/errors.js';
import { FlowEventJson, JsonLine } from './flow-json.js';
import { buildFlowEvent, type FlowExtras } from './schema.js';

/** ECS version the events follow; written on every line. */
export const ECS_VERSION = '8.11.0';

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

  /** `append`: add to an existing file (a long-running sensor) instead of truncating it. */
  constructor(target: string, size = 1024 * 1024, options: { append?: boolean } = {}) {
    this.target = target;
    this.append = options.append === true;
    if (target === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      mkdirSync(dirname(target), { recursive: true });
      this.fd = this.openTarget();
      this.ownsFd = true;
    }
    this.buf = Buffer.allocUnsafe(size);
  }

  private openTarget(): number {
    if (!this.append) return openSync(this.target, 'w');
    const fd = openSync(this.target, 'a');
    // A file cut short (the previous writer was killed mid-line) gets its line ended,
    // so the first new event does not join the broken one.
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = openSync(this.target, 'r');
      try {
        readSync(rfd, last, 0, 1, size - 1);
      } finally {
        closeSync(rfd);
      }
      if (last[0] !== 0x0a) writeSync(fd, '\n');
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
    if (this.used + worst > this.buf.length) {
      this.flushSync();
      if (worst > this.buf.length) this.buf = Buffer.allocUnsafe(worst);
    }
    this.used += this.buf.write(line, this.used, 'utf8');
    return true;
  }

  /** One whole line already encoded (`bytes[0, length)`): never split between two writes to the file. */
  writeBytes(bytes: Buffer, length = bytes.length): void {
    if (this.used + length > this.buf.length) {
      this.flushSync();
      if (length > this.buf.length) this.buf = Buffer.allocUnsafe(length);
    }
    this.used += bytes.copy(this.buf, this.used, 0, length);
  }

  flushSync(): void {
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
    this.used = 0;
  }

  close(): void {
    this.flushSync();
    if (this.ownsFd) closeSync(this.fd);
  }
}

/** What pino writes before an event's own fields (its level formatter's `ecs` object), for `writeFlow`. */
const ECS_FIRST = Buffer.from(`{"ecs":{"version":${JSON.stringify(ECS_VERSION)}},`);
const CHECK_FLOW_JSON = process.env.TLSENTRY_CHECK_FLOW_JSON === '1';
/** Flow events of every run compared with `buildFlowEvent` (a few, so the check costs well under a millisecond). */
const FLOW_JSON_CHECKS = 32;

/**
 * NDJSON event output through pino. Configuration work (destination, the
 * constant `ecs.version` prefix) happens once here, so writing an event is
 * one serialisation and one buffered append. Flow events, the bulk, are
 * written by `writeFlow` without pino; pino is loaded on the first other event.
 */
export class EventWriter {
  private readonly sink: BufferedFileSink;
  private readonly flowJson = new FlowEventJson();
  private readonly line = new JsonLine();
  private pinoLogger: pino.Logger | null = null;
  /** Flow events still to compare with `buildFlowEvent` (see `writeFlow`). */
  private flowChecks = FLOW_JSON_CHECKS;
  private flowJsonBroken = false;
  written = 0;
  readonly target: string;

  constructor(target: string, options: { append?: boolean } = {}) {
    this.target = target;
    try {
      this.sink = new BufferedFileSink(target, undefined, options);
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `cannot open output ${target}: ${(err as Error).message}`, { cause: err });
    }
  }

  private get logger(): pino.Logger {
    if (this.pinoLogger === null) {
      const pinoLib = createRequire(import.meta.url)('pino') as typeof pino;
      // pino's level formatter is the hook for a constant first field: ECS's ecs.version.
      this.pinoLogger = pinoLib(
        { base: null, timestamp: false, formatters: { level: () => ({ ecs: { version: ECS_VERSION } }) } },
        this.sink,
      );
    }
    return this.pinoLogger;
  }

  write(event: object): void {
    this.logger.info(event);
    this.written++;
  }

  /**
   * A finished flow's event: the line `write(buildFlowEvent(f, extras))`
   * writes, made without the event object (flow-json.ts). The first
   * `FLOW_JSON_CHECKS` events of a run (every event with
   * `TLSENTRY_CHECK_FLOW_JSON=1`) are compared with `buildFlowEvent`'s; on a
   * difference the run says so once on standard error and writes the rest of
   * its flow events from `buildFlowEvent`, so events stay right either way.
   */
  writeFlow(f: Flow, extras: FlowExtras = {}): void {
    if (this.flowJsonBroken) {
      this.write(buildFlowEvent(f, extras));
      return;
    }
    const line = this.line;
    line.reset();
    line.bytes(ECS_FIRST);
    this.flowJson.write(f, extras, line);
    line.byte(0x0a);
    if (this.flowChecks > 0 || CHECK_FLOW_JSON) {
      this.flowChecks--;
      const want = ECS_FIRST.toString() + JSON.stringify(buildFlowEvent(f, extras)).slice(1) + '\n';
      if (line.toString() !== want) {
        if (CHECK_FLOW_JSON) throw new Error(`flow event JSON differs from buildFlowEvent:\n  fast: ${line.toString()}  want: ${want}`);
        this.flowJsonBroken = true;
        process.emitWarning('flow event JSON (src/output/flow-json.ts) differs from buildFlowEvent: writing flow events the slow way', 'TlsentryWarning');
        this.write(buildFlowEvent(f, extras));
        return;
      }
    }
    this.sink.writeBytes(line.buf, line.pos);
    this.written++;
  }

  /** Write out what is buffered (a live sensor does this every second). */
  flush(): void {
    try {
      this.sink.flushSync();
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `writing ${this.target}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Reopen the destination file (after logrotate moved it); see `BufferedFileSink.reopen`. */
  reopen(): void {
    try {
      this.sink.reopen();
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `reopening ${this.target}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Flush everything and close the destination. */
  close(): Promise<void> {
    try {
      this.sink.close();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(new TlsentryError('ERR_OUTPUT', `writing ${this.target}: ${(err as Error).message}`, { cause: err }));
    }
  }
}
