/**
 * Sinks: where the writer's lines go. `createSinks` builds them from an
 * `OutputConfig`; `SinkSet` fans every line out: files get the bytes copied
 * into their buffer (no allocation), network sinks get an owned record.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AnomalyCounters } from '../../shared/anomalies.js';
import { TlsentryError } from '../../shared/errors.js';
import type { OutputConfig } from './config.js';
import { FileSink } from './file.js';
import { DeliveryQueue } from './queue.js';
import { OcsfFormatSink } from './ocsf-format.js';
import { SyslogTransport } from './syslog.js';
import type { EventRecord, Sink, SinkCounters, Transport } from './types.js';

export type { EventRecord, Sink, SinkCounters, Transport, DeliveryOutcome } from './types.js';
export { FileSink, BufferedFileSink } from './file.js';
export { DeliveryQueue } from './queue.js';
export { Spool } from './spool.js';
export { SyslogTransport } from './syslog.js';
export { outputConfig, parseSinkArg, singleOutput, type OutputConfig, type SinkSpec } from './config.js';

const require = createRequire(import.meta.url);

export interface CreateSinksOptions {
  /** Append to existing files (live capture) instead of truncating them. */
  append?: boolean;
  /** Files write full buffers in the background (`FileSinkOptions.writeBehind`). */
  writeBehind?: boolean;
  counters?: AnomalyCounters;
  log?: (line: string) => void;
}

/** A network sink's transport from its spec (HEC and Elasticsearch modules load only when used). */
function transportFor(spec: Exclude<OutputConfig['sinks'][number], { type: 'file' | 'stdout' }>): Transport {
  switch (spec.type) {
    case 'syslog':
      return new SyslogTransport({
        url: spec.url,
        ca: spec.ca !== undefined ? Buffer.from(spec.ca) : undefined,
        cert: spec.cert !== undefined ? Buffer.from(spec.cert) : undefined,
        key: spec.key !== undefined ? Buffer.from(spec.key) : undefined,
        servername: spec.servername,
        hostname: spec.hostname,
        facility: spec.facility,
        confirmMs: spec.confirmMs,
        timeoutMs: spec.timeoutMs,
      });
    case 'splunk_hec': {
      const m = require('./splunk-hec.js') as typeof import('./splunk-hec.js');
      return m.splunkHecFromConfig(spec.config as Parameters<typeof m.splunkHecFromConfig>[0], spec.baseDir);
    }
    case 'elasticsearch': {
      const m = require('./elasticsearch.js') as typeof import('./elasticsearch.js');
      return m.elasticsearchFromConfig(spec.config as Parameters<typeof m.elasticsearchFromConfig>[0], spec.baseDir);
    }
  }
}

export function createSinks(cfg: OutputConfig, o: CreateSinksOptions = {}): Sink[] {
  const out: Sink[] = [];
  try {
    for (const spec of cfg.sinks) {
      let sink: Sink;
      if (spec.type === 'file') sink = new FileSink(spec.name, spec.path, { append: o.append, rotate: spec.rotate, writeBehind: o.writeBehind });
      else if (spec.type === 'stdout') sink = new FileSink(spec.name, '-');
      else {
        sink = new DeliveryQueue({
          name: spec.name,
          transport: transportFor(spec),
          spool: { dir: join(cfg.spool.dir, spec.name), maxBytes: cfg.spool.maxBytes },
          ...cfg.queue,
          counters: o.counters,
          log: o.log,
        });
      }
      // An OCSF sink gets records (not the file fast path): SinkSet sees no FileSink.
      out.push(spec.format === 'ocsf' ? new OcsfFormatSink(sink) : sink);
    }
  } catch (err) {
    for (const s of out) void s.close(0);
    if (err instanceof TlsentryError) throw err;
    throw new TlsentryError('ERR_OUTPUT', `cannot open output: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/** Every sink of a run, written to together. */
export class SinkSet {
  readonly sinks: Sink[];
  private readonly files: FileSink[];
  private readonly network: Sink[];
  /** Some sink needs an owned record (id + copied line): compute ids only then. */
  readonly needsRecords: boolean;
  /** Sinks left out of `counters()` (the test tap). */
  private readonly hidden: Set<Sink>;

  constructor(sinks: Sink[], hidden: Sink[] = []) {
    this.sinks = sinks;
    this.hidden = new Set(hidden);
    this.files = sinks.filter((s): s is FileSink => s instanceof FileSink);
    this.network = sinks.filter((s) => !(s instanceof FileSink));
    this.needsRecords = this.network.length > 0;
  }

  /** A whole encoded line with its newline, `bytes[0, length)`: copied by file sinks only. */
  writeFileBytes(bytes: Buffer, length: number): void {
    const files = this.files;
    for (let i = 0; i < files.length; i++) files[i].writeBytes(bytes, length);
  }

  /** An owned record for the network sinks. */
  writeRecord(rec: EventRecord): void {
    const net = this.network;
    for (let i = 0; i < net.length; i++) net[i].write(rec);
  }

  /** pino's line (newline included) with its event id. */
  writeString(id: string | null, line: string): void {
    const files = this.files;
    for (let i = 0; i < files.length; i++) files[i].writeString(line);
    if (this.needsRecords) {
      const end = line.endsWith('\n') ? line.length - 1 : line.length;
      this.writeRecord({ id: id ?? '', line: Buffer.from(end === line.length ? line : line.slice(0, end), 'utf8') });
    }
  }

  flush(): void {
    for (const s of this.sinks) s.flush();
  }

  reopen(): void {
    for (const s of this.sinks) s.reopen();
  }

  /** Files first (synchronous), then every network sink, in parallel, each within `deadlineMs`. */
  async close(deadlineMs: number): Promise<void> {
    for (const f of this.files) await f.close();
    await Promise.all(this.network.map((s) => s.close(deadlineMs)));
  }

  counters(): Record<string, SinkCounters> {
    const out: Record<string, SinkCounters> = {};
    for (const s of this.sinks) if (!this.hidden.has(s)) out[s.name] = s.counters();
    return out;
  }
}
