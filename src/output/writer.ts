import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type pino from 'pino';
import { flowId, type Flow } from '../flow/index.js';
import type { AnomalyCounters } from '../shared/anomalies.js';
import { TlsentryError } from '../shared/errors.js';
import { singleOutput, type OutputConfig } from './sinks/config.js';
import { FileSink } from './sinks/file.js';
import { createSinks, SinkSet } from './sinks/index.js';
import type { Sink, SinkCounters } from './sinks/types.js';
import { FlowEventJson, JsonLine } from './flow-json.js';
import { buildFlowEvent, ECS_VERSION, type FlowExtras } from './schema.js';

export { BufferedFileSink } from './sinks/file.js';

/** ECS version the events follow (defined with the schema); written first on every line. */
export { ECS_VERSION };

export interface EventWriterOptions {
  /** Add to existing files (a long-running sensor) instead of truncating them. */
  append?: boolean;
  /** Files write full buffers in the background; `close()` waits for them (offline reads). */
  writeBehind?: boolean;
  /** Spool anomalies (torn or corrupt records, events dropped at the disk limit) are counted here. */
  counters?: AnomalyCounters;
  /** Sink messages (delivery failing / resumed); default standard error. */
  log?: (line: string) => void;
}

/** What pino writes before an event's own fields (its level formatter's `ecs` object), for `writeFlow`. */
const ECS_FIRST = Buffer.from(`{"ecs":{"version":${JSON.stringify(ECS_VERSION)}},`);
const CHECK_FLOW_JSON = process.env.TLSENTRY_CHECK_FLOW_JSON === '1';
/** Flow events of every run compared with `buildFlowEvent` (a few, so the check costs well under a millisecond). */
const FLOW_JSON_CHECKS = 32;

/**
 * NDJSON event output through pino, to every configured sink (`sinks/`).
 * Configuration work (sinks, the constant `ecs.version` prefix) happens once
 * here, so writing an event is one serialisation and one buffered append per
 * file sink; network sinks get an owned copy of the line with its `event.id`.
 * Flow events, the bulk, are written by `writeFlow` without pino; pino is
 * loaded on the first other event.
 *
 * `TLSENTRY_EVENT_TAP=<dir>`: every line is also appended to
 * `<dir>/<pid>-<random>.ndjson` (the test suite validates all of them against
 * the JSON Schemas).
 */
export class EventWriter {
  private readonly sinks: SinkSet;
  private readonly flowJson = new FlowEventJson();
  private readonly line = new JsonLine();
  private pinoLogger: pino.Logger | null = null;
  /** The `event.id` of the event pino is serialising (its destination gets only the text). */
  private currentId: string | null = null;
  /** Flow events still to compare with `buildFlowEvent` (see `writeFlow`). */
  private flowChecks = FLOW_JSON_CHECKS;
  private flowJsonBroken = false;
  written = 0;
  /** Events without an `event.id`, given a generated one for the network sinks. */
  generatedIds = 0;
  readonly target: string;
  private readonly drainTimeoutMs: number;

  /** `target`: a path or `-` (standard output), or the whole sink configuration. */
  constructor(target: string | OutputConfig, options: EventWriterOptions = {}) {
    const cfg = typeof target === 'string' ? singleOutput(target) : target;
    this.target = describeSinks(cfg);
    this.drainTimeoutMs = cfg.drainTimeoutSec * 1000;
    const sinks = createSinks(cfg, { append: options.append, writeBehind: options.writeBehind, counters: options.counters, log: options.log });
    const hidden: Sink[] = [];
    const tap = process.env.TLSENTRY_EVENT_TAP;
    if (tap) {
      try {
        mkdirSync(tap, { recursive: true });
        const t = new FileSink('tap', join(tap, `${process.pid}-${randomBytes(4).toString('hex')}.ndjson`));
        sinks.push(t);
        hidden.push(t);
      } catch (err) {
        throw new TlsentryError('ERR_OUTPUT', `TLSENTRY_EVENT_TAP ${tap}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.sinks = new SinkSet(sinks, hidden);
  }

  private get logger(): pino.Logger {
    if (this.pinoLogger === null) {
      const pinoLib = createRequire(import.meta.url)('pino') as typeof pino;
      const sinks = this.sinks;
      // pino's destination: a synchronous write of each line to every sink.
      const dest = { write: (line: string) => sinks.writeString(this.currentId, line) };
      // pino's level formatter is the hook for a constant first field: ECS's ecs.version.
      this.pinoLogger = pinoLib({ base: null, timestamp: false, formatters: { level: () => ({ ecs: { version: ECS_VERSION } }) } }, dest);
    }
    return this.pinoLogger;
  }

  write(event: object): void {
    if (this.sinks.needsRecords) {
      const id = (event as { event?: { id?: unknown } }).event?.id;
      if (typeof id === 'string' && id !== '') this.currentId = id;
      else {
        // Every event the sensor builds has event.id; this keeps duplicates detectable for any other.
        this.generatedIds++;
        this.currentId = `gen-${randomUUID()}`;
      }
    }
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
   * File sinks copy the bytes into their buffer (no allocation); network
   * sinks get their own copy, keyed by the flow id (the event's `event.id`).
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
    this.sinks.writeFileBytes(line.buf, line.pos);
    if (this.sinks.needsRecords) this.sinks.writeRecord({ id: flowId(f), line: Buffer.from(line.buf.subarray(0, line.pos - 1)) });
    this.written++;
  }

  /** Write out what is buffered and nudge network delivery (a live sensor does this every second). */
  flush(): void {
    try {
      this.sinks.flush();
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `writing ${this.target}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Reopen destination files (after logrotate moved them); see `BufferedFileSink.reopen`. */
  reopen(): void {
    try {
      this.sinks.reopen();
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `reopening ${this.target}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Per-sink counters (the run summary, stats and metrics). */
  sinkCounters(): Record<string, SinkCounters> {
    return this.sinks.counters();
  }

  /**
   * Flush and close files; give network sinks up to `deadlineMs` (default: the
   * configured drain timeout) to deliver, then leave the rest in their spools.
   */
  async close(deadlineMs = this.drainTimeoutMs): Promise<void> {
    try {
      await this.sinks.close(deadlineMs);
    } catch (err) {
      throw new TlsentryError('ERR_OUTPUT', `writing ${this.target}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** `-` for standard output alone, the path for one file, else a list (summary and messages). */
export function describeSinks(cfg: OutputConfig): string {
  if (cfg.sinks.length === 1) {
    const s = cfg.sinks[0];
    if (s.type === 'stdout') return '-';
    if (s.type === 'file') return s.path;
  }
  return cfg.sinks
    .map((s) => (s.type === 'file' ? s.path : s.type === 'stdout' ? 'standard output' : s.type === 'syslog' ? `syslog ${s.url}` : `${s.name}`))
    .join(', ');
}
