import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { TlsentryError } from '../shared/errors.js';

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
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private buf: Buffer;
  private used = 0;
  bytesWritten = 0;

  constructor(target: string, size = 1024 * 1024) {
    if (target === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      mkdirSync(dirname(target), { recursive: true });
      this.fd = openSync(target, 'w');
      this.ownsFd = true;
    }
    this.buf = Buffer.allocUnsafe(size);
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

/**
 * NDJSON event output through pino. Configuration work (destination, the
 * constant `ecs.version` prefix) happens once here, so writing an event is
 * one serialisation and one buffered append.
 */
export class EventWriter {
  private readonly sink: BufferedFileSink;
  private readonly logger: pino.Logger;
  written = 0;
  readonly target: string;

  constructor(target: string) {
    this.target = target;
    try {
      this.sink = new BufferedFileSink(target);
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `cannot open output ${target}: ${(err as Error).message}`, { cause: err });
    }
    // pino's level formatter is the hook for a constant first field: ECS's ecs.version.
    this.logger = pino(
      { base: null, timestamp: false, formatters: { level: () => ({ ecs: { version: ECS_VERSION } }) } },
      this.sink,
    );
  }

  write(event: object): void {
    this.logger.info(event);
    this.written++;
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
