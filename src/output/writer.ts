import pino from 'pino';
import { TlsentryError } from '../shared/errors.js';

/** ECS version the events follow; written on every line. */
export const ECS_VERSION = '8.11.0';

/**
 * NDJSON event output through pino. Configuration work (destination, the
 * constant `ecs.version` prefix) happens once here, so writing an event is
 * one serialisation and one buffered append.
 */
export class EventWriter {
  private readonly dest: ReturnType<typeof pino.destination>;
  private readonly logger: pino.Logger;
  written = 0;
  readonly target: string;

  constructor(target: string) {
    this.target = target;
    try {
      this.dest = pino.destination({ dest: target === '-' ? 1 : target, sync: false, append: false, minLength: 8192, mkdir: true });
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `cannot open output ${target}: ${(err as Error).message}`, { cause: err });
    }
    // pino's level formatter is the hook for a constant first field: ECS's ecs.version.
    this.logger = pino(
      { base: null, timestamp: false, formatters: { level: () => ({ ecs: { version: ECS_VERSION } }) } },
      this.dest,
    );
  }

  write(event: object): void {
    this.logger.info(event);
    this.written++;
  }

  /** Flush everything and close the destination. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      const d = this.dest;
      const done = (err?: Error | null) => (err ? reject(new TlsentryError('ERR_OUTPUT', `writing ${this.target}: ${err.message}`, { cause: err })) : resolve());
      try {
        d.flushSync();
      } catch (err) {
        // flushSync throws while an async write is in flight; end() drains it.
        if ((err as Error).message.indexOf('sonic boom is not ready yet') === -1 && (err as NodeJS.ErrnoException).code !== 'EAGAIN') return done(err as Error);
      }
      if (this.target === '-') return done();
      d.once('close', () => done());
      d.once('error', (e: Error) => done(e));
      d.end();
    });
  }
}
