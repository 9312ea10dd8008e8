/**
 * A sink in OCSF format (`format: ocsf`): each flow event is rewritten as an
 * OCSF Network Activity event (`../ocsf.ts`) before the sink it wraps takes
 * it; events with no Network Activity form (certificates, alerts, stats) are
 * skipped and counted. The OCSF event keeps `event.id` as `metadata.uid`, and
 * the record keeps it as its id, so at-least-once delivery dedups the same way.
 */
import { ocsfFor } from '../ocsf.js';
import type { EventRecord, Sink, SinkCounters } from './types.js';

export class OcsfFormatSink implements Sink {
  readonly name: string;
  /** Events with no OCSF Network Activity form (or not JSON), not passed on. */
  skipped = 0;

  constructor(private readonly inner: Sink) {
    this.name = inner.name;
  }

  write(rec: EventRecord): void {
    let ev: unknown;
    try {
      ev = JSON.parse(rec.line.toString('utf8'));
    } catch {
      this.skipped++;
      return;
    }
    const o = typeof ev === 'object' && ev !== null ? ocsfFor(ev as { event?: { dataset?: unknown } }) : null;
    if (o === null) {
      this.skipped++;
      return;
    }
    this.inner.write({ id: rec.id, line: Buffer.from(JSON.stringify(o), 'utf8') });
  }

  flush(): void {
    this.inner.flush();
  }

  reopen(): void {
    this.inner.reopen();
  }

  close(deadlineMs?: number): Promise<void> {
    return this.inner.close(deadlineMs);
  }

  counters(): SinkCounters {
    return { ...this.inner.counters(), skipped: this.skipped };
  }
}
