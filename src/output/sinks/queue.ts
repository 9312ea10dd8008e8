/**
 * `DeliveryQueue`: the `Sink` of a network transport. A bounded in-memory
 * queue in front of an on-disk spool, delivering in order, at least once.
 *
 * Order is one line: [batches in flight] < [retry list] < [memory] < [spool unread]
 * — and memory and unread spool records never coexist: a write goes to memory
 * only while nothing waits in the spool; when memory is full, or when the
 * transport starts failing, memory is moved to the spool and every later
 * write follows it there until the spool has been read out. So the spool is
 * always the tail, and a restart resumes at the spool's commit point.
 *
 * A failed batch (the outcome's `retry`) stops sending: what is still in
 * flight settles, the records to retry go to the front, what only memory
 * held goes to the spool (so a SIGKILL during the outage loses nothing), and
 * one batch at a time is tried again after an exponential backoff with
 * jitter, or the SIEM's Retry-After. The spool's commit point moves past a
 * record only when it and every record before it are done (delivered or
 * dead-lettered).
 *
 * `write` never throws into the writer and never waits: at worst one
 * `writev` to the spool. Timers are unref'd; `close` clears them.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnomalyCounters } from '../../shared/anomalies.js';
import { Spool, type SpoolPos } from './spool.js';
import type { DeliveryOutcome, EventRecord, Sink, SinkCounters, Transport } from './types.js';

export interface QueueLimits {
  /** Records held in memory before the spool takes over (default 10 000). */
  maxRecords?: number;
  /** Bytes of event lines held in memory (default 32 MiB). */
  maxBytes?: number;
  /** Records per batch handed to the transport (default 500). */
  batchRecords?: number;
  /** Bytes per batch (default 1 MiB; one record bigger than this goes alone). */
  batchBytes?: number;
}

export interface DeliveryQueueOptions extends QueueLimits {
  name: string;
  transport: Transport;
  spool: { dir: string; maxBytes: number; segmentBytes?: number };
  /** First retry delay (default 500 ms), doubled per failed attempt up to `backoffMaxMs` (30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  counters?: AnomalyCounters;
  /** Where operational messages go (default: standard error). */
  log?: (line: string) => void;
  /** Jitter source (tests). */
  random?: () => number;
}

interface Entry {
  readonly rec: EventRecord;
  /** Where the record ends in the spool, when it came from there. */
  readonly pos: SpoolPos | null;
  /** Counted in `heldSpool`: a spool record waiting for a retry (it holds the commit point back). */
  held: boolean;
}

interface Flight {
  readonly entries: Entry[];
  outcome: DeliveryOutcome | null;
}

export class DeliveryQueue implements Sink {
  readonly name: string;
  readonly spool: Spool;
  private readonly transport: Transport;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly batchRecords: number;
  private readonly batchBytes: number;
  private readonly maxInFlight: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly log: (line: string) => void;
  private readonly random: () => number;

  /** Memory queue: `mem[memHead…]`. */
  private mem: Entry[] = [];
  private memHead = 0;
  private memBytes = 0;
  /** Records to send before anything else (retries), in order. */
  private redo: Entry[] = [];
  /** Retries collected from the batches of the current failed round, in order. */
  private failed: Entry[] = [];
  private heldSpool = 0;
  private readonly inflight: Flight[] = [];
  /** Writes go to the spool (memory was full or the transport failed) until it is read out. */
  private spoolMode = false;
  private failing = false;
  private failingSince = 0;
  private attempt = 0;
  private retryAfterMs: number | undefined;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;
  private waiters: (() => void)[] = [];
  /** Records from memory not yet done (pending = this + the spool's). */
  private memPending = 0;
  private readonly c = { queued: 0, spooled: 0, delivered: 0, retried: 0, rejected: 0 };
  lastError: string | null = null;

  constructor(o: DeliveryQueueOptions) {
    this.name = o.name;
    this.transport = o.transport;
    this.maxRecords = o.maxRecords ?? 10_000;
    this.maxBytes = o.maxBytes ?? 32 * 1024 * 1024;
    this.batchRecords = o.batchRecords ?? 500;
    this.batchBytes = o.batchBytes ?? 1024 * 1024;
    this.maxInFlight = Math.max(1, o.transport.maxInFlight ?? 1);
    this.backoffBaseMs = o.backoffBaseMs ?? 500;
    this.backoffMaxMs = o.backoffMaxMs ?? 30_000;
    this.log = o.log ?? ((line) => process.stderr.write(`tlsentry: ${line}\n`));
    this.random = o.random ?? Math.random;
    this.spool = new Spool({ dir: o.spool.dir, maxBytes: o.spool.maxBytes, segmentBytes: o.spool.segmentBytes, counters: o.counters, name: o.name });
    if (this.spool.size > 0) {
      this.spoolMode = true;
      this.log(`sink ${this.name}: ${this.spool.size} event(s) from an earlier run in the spool ${this.spool.dir}; delivering them first`);
      this.schedule();
    }
  }

  // --- the writer's side -----------------------------------------------------

  write(rec: EventRecord): void {
    try {
      if (!this.spoolMode && (this.mem.length - this.memHead >= this.maxRecords || this.memBytes + rec.line.length > this.maxBytes)) {
        this.spillMemory();
        this.spoolMode = true;
      }
      if (this.spoolMode) {
        if (this.spool.append(rec)) {
          this.c.queued++;
          this.c.spooled++;
        }
      } else {
        this.mem.push({ rec, pos: null, held: false });
        this.memBytes += rec.line.length;
        this.memPending++;
        this.c.queued++;
      }
      this.schedule();
    } catch (err) {
      // A spool write error (disk gone): the event is lost, counted, never thrown at the packet loop.
      this.spool.dropped++;
      this.lastError = `spool: ${(err as Error).message}`;
    }
  }

  flush(): void {
    this.schedule();
  }

  reopen(): void {
    // Nothing to reopen: connections are the transport's.
  }

  counters(): SinkCounters {
    return { ...this.c, dropped: this.spool.dropped, pending: this.memPending + this.spool.size };
  }

  // --- delivery ----------------------------------------------------------------

  private schedule(): void {
    if (this.immediate !== null || this.stopped) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.pump();
    });
    // Not unref'd: an unref'd immediate lets libuv sleep in poll until the next timer.
  }

  private pump(): void {
    if (this.stopped || this.timer !== null) return;
    // While failing, one batch at a time probes the SIEM.
    const limit = this.failing ? 1 : this.maxInFlight;
    while (this.inflight.length < limit) {
      const entries = this.takeBatch();
      if (entries.length === 0) break;
      this.send(entries);
    }
    if (this.spoolMode && !this.failing && this.spool.unread === 0) this.spoolMode = false;
  }

  private takeBatch(): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    const fits = (e: Entry) => out.length < this.batchRecords && (out.length === 0 || bytes + e.rec.line.length <= this.batchBytes);
    if (this.redo.length > 0) {
      let i = 0;
      while (i < this.redo.length && fits(this.redo[i])) bytes += this.redo[i++].rec.line.length;
      out.push(...this.redo.splice(0, i));
      return out;
    }
    if (this.memHead < this.mem.length) {
      while (this.memHead < this.mem.length && fits(this.mem[this.memHead])) {
        const e = this.mem[this.memHead++];
        bytes += e.rec.line.length;
        this.memBytes -= e.rec.line.length;
        out.push(e);
      }
      this.compactMemory();
      return out;
    }
    if (this.spool.unread > 0) {
      for (const r of this.spool.read(this.batchRecords, this.batchBytes)) out.push({ rec: r.rec, pos: r.pos, held: false });
    }
    return out;
  }

  private compactMemory(): void {
    if (this.memHead === this.mem.length) {
      this.mem = [];
      this.memHead = 0;
    } else if (this.memHead > 4096 && this.memHead * 2 > this.mem.length) {
      this.mem = this.mem.slice(this.memHead);
      this.memHead = 0;
    }
  }

  private send(entries: Entry[]): void {
    const flight: Flight = { entries, outcome: null };
    this.inflight.push(flight);
    let p: Promise<DeliveryOutcome>;
    try {
      p = this.transport.deliver(entries.map((e) => e.rec));
    } catch (err) {
      p = Promise.resolve(retryAll(entries.length, (err as Error).message));
    }
    p.then(
      (o) => this.settled(flight, o),
      (err: unknown) => this.settled(flight, retryAll(entries.length, err instanceof Error ? err.message : String(err))),
    );
  }

  private settled(flight: Flight, outcome: DeliveryOutcome): void {
    flight.outcome = outcome;
    // Outcomes are applied in call order, so the commit point only moves forward over done records.
    while (this.inflight.length > 0 && this.inflight[0].outcome !== null) {
      const f = this.inflight.shift()!;
      this.apply(f.entries, f.outcome!);
    }
    if (this.inflight.length === 0 && this.failed.length > 0) this.endFailedRound();
    this.wake();
    this.schedule();
  }

  private apply(entries: Entry[], o: DeliveryOutcome): void {
    const retry = o.retry.length > 0 ? new Set(o.retry) : null;
    const rejected = o.rejected.length > 0 ? new Map(o.rejected.map((r) => [r.index, r.reason])) : null;
    let commit: SpoolPos | null = null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (retry !== null && retry.has(i)) {
        this.failed.push(e);
        this.c.retried++;
        if (e.pos !== null && !e.held) {
          e.held = true;
          this.heldSpool++;
        }
        continue;
      }
      const reason = rejected?.get(i);
      if (reason !== undefined) {
        this.deadLetter(e.rec, reason);
        this.c.rejected++;
      } else this.c.delivered++;
      if (e.pos === null) this.memPending--;
      else {
        if (e.held) {
          e.held = false;
          this.heldSpool--;
        }
        if (this.heldSpool === 0) commit = e.pos;
      }
    }
    if (commit !== null) this.spool.commit(commit);
    if (retry !== null) {
      if (!this.failing) {
        this.failing = true;
        this.failingSince = Date.now();
        this.log(`sink ${this.name}: delivery failing (${o.error ?? 'retry asked'}); events wait in ${this.spool.dir}`);
      }
      this.lastError = o.error ?? 'retry';
      if (o.retryAfterMs !== undefined) this.retryAfterMs = Math.max(this.retryAfterMs ?? 0, o.retryAfterMs);
    } else if (this.failing && entries.length > 0) {
      this.failing = false;
      this.attempt = 0;
      this.log(`sink ${this.name}: delivering again after ${((Date.now() - this.failingSince) / 1000).toFixed(1)} s; ${this.memPending + this.spool.size} event(s) to catch up`);
    }
  }

  /**
   * Every batch of a failed round has settled: retries go first, what only
   * memory held goes to the spool, and the next attempt waits for the backoff.
   */
  private endFailedRound(): void {
    this.redo = this.failed.concat(this.redo);
    this.failed = [];
    if (this.stopped) return;
    this.spillMemory();
    this.spoolMode = true;
    this.attempt++;
    const exp = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(this.attempt - 1, 30));
    let delay = exp / 2 + (this.random() * exp) / 2;
    if (this.retryAfterMs !== undefined) delay = Math.min(Math.max(this.retryAfterMs, 0), 10 * 60_000);
    this.retryAfterMs = undefined;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delay);
    this.timer.unref();
  }

  /**
   * Move records only memory holds to the spool, keeping order: the memory
   * queue and the retries after the last spool record among them (earlier
   * ones would land behind newer spool records; they stay in memory).
   */
  private spillMemory(): void {
    let k = this.redo.length;
    while (k > 0 && this.redo[k - 1].pos === null) k--;
    const tail = this.redo.splice(k);
    for (let i = this.memHead; i < this.mem.length; i++) tail.push(this.mem[i]);
    this.mem = [];
    this.memHead = 0;
    this.memBytes = 0;
    for (const e of tail) {
      this.memPending--;
      if (this.spool.append(e.rec)) this.c.spooled++;
    }
  }

  private deadLetter(rec: EventRecord, reason: string): void {
    try {
      const head = `{"@timestamp":${JSON.stringify(new Date().toISOString())},"sink":${JSON.stringify(this.name)},"event_id":${JSON.stringify(rec.id)},"reason":${JSON.stringify(reason)},"event":`;
      appendFileSync(join(this.spool.dir, 'dead-letter.ndjson'), head + rec.line.toString('utf8') + '}\n');
    } catch (err) {
      this.lastError = `dead-letter file: ${(err as Error).message}`;
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when something was delivered or failed, or after `ms`. */
  private progress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Resolves once nothing is pending or in flight (tests, and `close`). */
  async drain(deadlineMs: number): Promise<boolean> {
    const until = Date.now() + deadlineMs;
    this.schedule();
    while (this.memPending + this.spool.size + this.redo.length > 0 || this.inflight.length > 0) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await this.progress(Math.min(left, 250));
    }
    return true;
  }

  /**
   * Deliver what is pending for up to `deadlineMs`, then stop: what was not
   * delivered stays in (or goes to) the spool for the next start.
   */
  async close(deadlineMs = 30_000): Promise<void> {
    const done = await this.drain(deadlineMs);
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    await this.transport.close();
    // The transport resolved what it still had; anything else in flight gets a moment.
    const until = Date.now() + 2000;
    while (this.inflight.length > 0 && Date.now() < until) await this.progress(100);
    if (!done) {
      // Keep the rest for the next start: memory-only records go to the spool,
      // after what it holds (order may differ for those few; nothing is lost).
      this.redo = this.failed.concat(this.redo);
      this.failed = [];
      for (const f of this.inflight) this.redo.push(...f.entries);
      const memOnly = this.redo.filter((e) => e.pos === null);
      this.redo = memOnly;
      this.spillMemory();
      const left = this.memPending + this.spool.size;
      this.log(`sink ${this.name}: ${left} event(s) not delivered within ${Math.round(deadlineMs / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}; kept in ${this.spool.dir} for the next start`);
    }
    this.spool.close();
  }
}

function retryAll(n: number, error: string): DeliveryOutcome {
  const retry = new Array<number>(n);
  for (let i = 0; i < n; i++) retry[i] = i;
  return { retry, rejected: [], error };
}
