/**
 * The sensor side of the endpoint API: asks the agent which process owns each
 * flow, without ever making the packet path wait.
 *
 * `request()` only validates, checks the cache and queues (O(1)); batches go
 * out when full or after `batchDelayMs`. Each query ends with exactly one
 * outcome: the agent's answer (`enriched`, `ambiguous`, `not_found`,
 * `host_unknown`) or why there is none (`timeout`, `agent_unavailable`,
 * `auth_failed`, `bad_response`, `queue_full`, `circuit_open`). Nothing here
 * throws into the caller.
 *
 * Failures: every HTTP attempt has a timeout; timeouts, connection errors and
 * 5xx/429/503 are retried with exponential backoff (with jitter); 401/403
 * and malformed answers are not. Consecutive failed attempts open a circuit
 * breaker: while open, queries end at once as `circuit_open`; after the
 * cool-down one probe batch is let through (half-open) and its success closes
 * the breaker.
 */
import { isIP } from 'node:net';

import type { AnomalyCounters } from '../shared/anomalies.js';
import type { AttributionQuery, AttributionResult, EnrichmentStatus } from '../shared/endpoint-api.js';
import { TlsentryError } from '../shared/errors.js';
import { EA } from './anomalies.js';
import { HttpPostClient, type HttpResult } from '../shared/http-post.js';
import { checkAttributionResponse } from './response.js';

export interface EnricherOptions {
  /** Base URL of the agent, e.g. `https://10.0.0.5:7443`. */
  url: string;
  token: string;
  /** Flows per request, at most 500 (default 200). */
  batchSize?: number;
  /** Longest wait before a partial batch goes out (default 5 ms). */
  batchDelayMs?: number;
  /** Per HTTP attempt (default 2000 ms). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** First backoff; doubles each retry (default 100 ms). */
  backoffMs?: number;
  /** Consecutive failed attempts that open the breaker (default 5). */
  breakerThreshold?: number;
  breakerCooldownMs?: number;
  /** Results remembered per 5-tuple (default 10 000; 0 disables). */
  cacheSize?: number;
  /** A cached answer serves a flow whose `ts` is within this of the cached one (default 60 s). */
  cacheTtlMs?: number;
  /** CA certificate(s) for an HTTPS agent with a private CA. */
  ca?: Buffer;
  /** Queries waiting to be sent, beyond which `queue_full` (default 20 000). */
  maxQueue?: number;
  /** Batches in flight at once (default 4). */
  maxInFlightBatches?: number;
  /** Outcomes kept for `outcome()` until read with `forget()` or evicted oldest-first (default 200 000). */
  maxOutcomes?: number;
}

export interface Outcome {
  status: EnrichmentStatus;
  result: AttributionResult | null;
}

export interface EnricherStats {
  requests: number;
  batches: number;
  /** Queries sent (a retried query counts once). */
  sent: number;
  answered: number;
  enriched: number;
  cacheHits: number;
  timeouts: number;
  retries: number;
  breakerOpens: number;
  queueFull: number;
  circuitOpen: number;
  badResponses: number;
  authFailures: number;
  unavailable: number;
  queued: number;
  inFlight: number;
  breaker: 'closed' | 'open' | 'half_open';
  /** Round-trip time of answered HTTP attempts, ms. */
  latencyMs: { p50: number | null; p99: number | null; max: number | null; histogram: Record<string, number> };
}

interface Entry {
  q: AttributionQuery;
  key: string;
  tsMs: number;
}

type Failure = 'timeout' | 'agent_unavailable' | 'auth_failed' | 'bad_response';

/** A query that failed: the stat it counts in and its anomaly. */
const FAILURE_COUNT: Record<Failure, readonly ['timeouts' | 'unavailable' | 'authFailures' | 'badResponses', number]> = {
  timeout: ['timeouts', EA.timeout],
  agent_unavailable: ['unavailable', EA.agentUnavailable],
  auth_failed: ['authFailures', EA.authFailed],
  bad_response: ['badResponses', EA.badResponse],
};

const HIST_BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

function statusOf(s: AttributionResult['status']): EnrichmentStatus {
  return s === 'matched' ? 'enriched' : s;
}

function validQuery(q: AttributionQuery): boolean {
  if (!q || typeof q !== 'object') return false;
  if (typeof q.id !== 'string' || q.id.length === 0 || q.id.length > 256) return false;
  if (q.proto !== 'tcp' && q.proto !== 'udp') return false;
  if (!isIP(q.src_ip) || !isIP(q.dst_ip)) return false;
  for (const p of [q.src_port, q.dst_port]) if (!Number.isInteger(p) || p < 0 || p > 65535) return false;
  return typeof q.ts === 'string' && Number.isFinite(Date.parse(q.ts));
}

export class Enricher {
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly breakerThreshold: number;
  private readonly breakerCooldownMs: number;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  private readonly maxQueue: number;
  private readonly maxInFlight: number;
  private readonly maxOutcomes: number;
  private readonly client: HttpPostClient;
  /** The request headers: JSON, and the agent's bearer token. */
  private readonly headers: Record<string, string>;

  private queue: Entry[] = [];
  private queueHead = 0;
  private readonly unsettled = new Map<string, Entry>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly cache = new Map<string, { result: AttributionResult; tsMs: number }>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private activeBatches = 0;
  private readonly backoffTimers = new Set<NodeJS.Timeout>();
  private breaker: 'closed' | 'open' | 'half_open' = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private closed = false;
  private readonly latencies = new Float64Array(4096);
  private latencyCount = 0;
  private readonly hist = new Array<number>(HIST_BOUNDS.length + 1).fill(0);
  private readonly s = {
    requests: 0,
    batches: 0,
    sent: 0,
    answered: 0,
    enriched: 0,
    cacheHits: 0,
    timeouts: 0,
    retries: 0,
    breakerOpens: 0,
    queueFull: 0,
    circuitOpen: 0,
    badResponses: 0,
    authFailures: 0,
    unavailable: 0,
  };

  constructor(
    opts: EnricherOptions,
    private readonly counters: AnomalyCounters,
  ) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new TlsentryError('ERR_CONFIG', `endpoint URL is not a URL: ${opts.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TlsentryError('ERR_CONFIG', `endpoint URL must be http or https: ${opts.url}`);
    if (typeof opts.token !== 'string' || opts.token.length === 0 || /\s/.test(opts.token)) throw new TlsentryError('ERR_CONFIG', 'endpoint token must be a non-empty string without spaces');
    this.batchSize = Math.min(500, Math.max(1, Math.floor(opts.batchSize ?? 200)));
    this.batchDelayMs = Math.max(0, opts.batchDelayMs ?? 5);
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? 2000);
    this.retries = Math.max(0, Math.floor(opts.retries ?? 2));
    this.backoffMs = Math.max(0, opts.backoffMs ?? 100);
    this.breakerThreshold = Math.max(1, Math.floor(opts.breakerThreshold ?? 5));
    this.breakerCooldownMs = Math.max(0, opts.breakerCooldownMs ?? 5000);
    this.cacheSize = Math.max(0, Math.floor(opts.cacheSize ?? 10_000));
    this.cacheTtlMs = Math.max(0, opts.cacheTtlMs ?? 60_000);
    this.maxQueue = Math.max(1, Math.floor(opts.maxQueue ?? 20_000));
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlightBatches ?? 4));
    this.maxOutcomes = Math.max(1, Math.floor(opts.maxOutcomes ?? 200_000));
    // The enricher retries failed batches itself (with backoff and the breaker): no extra attempt on a stale socket.
    this.client = new HttpPostClient({ url: opts.url, ca: opts.ca, maxSockets: this.maxInFlight, maxResponseBytes: 64 * 1024 * 1024, retryStaleSocket: false });
    this.headers = { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` };
  }

  // ---- the packet path ----------------------------------------------------

  /** Ask about one flow. Never blocks, never throws. */
  request(q: AttributionQuery): void {
    try {
      this.s.requests++;
      if (this.unsettled.has(q?.id)) {
        this.counters.inc(EA.duplicateId);
        return;
      }
      if (!validQuery(q)) {
        this.counters.inc(EA.invalidQuery);
        if (typeof q?.id === 'string') this.settle(q.id, { status: 'bad_response', result: null });
        return;
      }
      if (this.closed) {
        this.settle(q.id, { status: 'agent_unavailable', result: null });
        return;
      }
      this.outcomes.delete(q.id);
      const key = `${q.proto}|${q.src_ip}|${q.src_port}|${q.dst_ip}|${q.dst_port}`;
      const tsMs = Date.parse(q.ts);
      if (this.cacheSize > 0) {
        const c = this.cache.get(key);
        if (c && Math.abs(c.tsMs - tsMs) <= this.cacheTtlMs) {
          this.s.cacheHits++;
          this.cache.delete(key);
          this.cache.set(key, c);
          this.settle(q.id, { status: statusOf(c.result.status), result: { ...c.result, id: q.id } });
          return;
        }
      }
      if (this.breakerBlocks()) {
        this.s.circuitOpen++;
        this.counters.inc(EA.circuitOpen);
        this.settle(q.id, { status: 'circuit_open', result: null });
        return;
      }
      if (this.queue.length - this.queueHead >= this.maxQueue) {
        this.s.queueFull++;
        this.counters.inc(EA.queueFull);
        this.settle(q.id, { status: 'queue_full', result: null });
        return;
      }
      const e: Entry = { q, key, tsMs };
      this.queue.push(e);
      this.unsettled.set(q.id, e);
      if (this.queue.length - this.queueHead >= this.batchSize) this.flushSoon();
      else if (!this.timer && !this.immediate) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flush();
        }, this.batchDelayMs);
      }
    } catch {
      /* the packet path must never see an exception */
    }
  }

  /** The outcome of a query, or undefined while it is still in flight (or was never asked). */
  outcome(id: string): Outcome | undefined {
    return this.outcomes.get(id);
  }

  /** Resolves once the query has an outcome (at once if it has one, or was never asked). */
  whenSettled(id: string): Promise<void> {
    if (!this.unsettled.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(id);
      if (list) list.push(resolve);
      else this.waiters.set(id, [resolve]);
    });
  }

  /** Drop a stored outcome once the caller has used it. */
  forget(id: string): void {
    this.outcomes.delete(id);
  }

  /**
   * End of input: send everything now and wait for the answers, at most
   * `deadlineMs`; whatever is still open then ends as `timeout`.
   */
  async drain(deadlineMs: number): Promise<void> {
    try {
      this.flush();
      if (this.unsettled.size === 0) return;
      const all = Promise.all([...this.unsettled.keys()].map((id) => this.whenSettled(id)));
      let timer: NodeJS.Timeout | undefined;
      const expired = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.max(0, deadlineMs))))]);
      clearTimeout(timer);
      if (expired && this.unsettled.size > 0) {
        this.counters.inc(EA.drainDeadline, this.unsettled.size);
        this.failAll('timeout');
        this.client.abortAll();
      }
    } catch {
      /* never throws */
    }
  }

  /** Stop: abort what is in flight; open queries end as `agent_unavailable`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    for (const t of this.backoffTimers) clearTimeout(t);
    this.backoffTimers.clear();
    this.failAll('agent_unavailable');
    this.client.close();
  }

  get stats(): EnricherStats {
    const n = Math.min(this.latencyCount, this.latencies.length);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const q = (p: number): number | null => (n === 0 ? null : Math.round(sorted[Math.min(n - 1, Math.floor(p * n))] * 1000) / 1000);
    const histogram: Record<string, number> = {};
    HIST_BOUNDS.forEach((b, i) => (histogram[`le_${b}ms`] = this.hist[i]));
    histogram[`gt_${HIST_BOUNDS[HIST_BOUNDS.length - 1]}ms`] = this.hist[HIST_BOUNDS.length];
    return {
      ...this.s,
      queued: this.queue.length - this.queueHead,
      inFlight: this.unsettled.size - (this.queue.length - this.queueHead),
      breaker: this.breaker,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: n ? Math.round(sorted[n - 1] * 1000) / 1000 : null, histogram },
    };
  }

  // ---- internals ------------------------------------------------------------

  private settle(id: string, o: Outcome): void {
    this.unsettled.delete(id);
    this.outcomes.set(id, o);
    if (this.outcomes.size > this.maxOutcomes) this.outcomes.delete(this.outcomes.keys().next().value as string);
    const w = this.waiters.get(id);
    if (w) {
      this.waiters.delete(id);
      for (const f of w) f();
    }
  }

  /** True when the breaker refuses new work (open and still cooling down). */
  private breakerBlocks(): boolean {
    if (this.breaker !== 'open') return false;
    if (Date.now() - this.openedAt >= this.breakerCooldownMs) {
      this.breaker = 'half_open';
      this.probing = false;
      return false;
    }
    return true;
  }

  private flushSoon(): void {
    if (this.immediate) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.flush();
    });
  }

  private takeBatch(): Entry[] {
    const end = Math.min(this.queue.length, this.queueHead + this.batchSize);
    const batch = this.queue.slice(this.queueHead, end);
    this.queueHead = end;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    // entries settled meanwhile (drain deadline) are skipped
    return batch.filter((e) => this.unsettled.get(e.q.id) === e);
  }

  private flush(): void {
    if (this.closed) return;
    while (this.queue.length - this.queueHead > 0 && this.activeBatches < this.maxInFlight) {
      if (this.breakerBlocks()) {
        // everything waiting ends now
        while (this.queue.length - this.queueHead > 0) {
          for (const e of this.takeBatch()) {
            this.s.circuitOpen++;
            this.counters.inc(EA.circuitOpen);
            this.settle(e.q.id, { status: 'circuit_open', result: null });
          }
        }
        return;
      }
      if (this.breaker === 'half_open') {
        if (this.probing) return;
        this.probing = true;
      }
      const batch = this.takeBatch();
      if (batch.length === 0) continue;
      this.activeBatches++;
      this.s.batches++;
      this.s.sent += batch.length;
      void this.send(batch, 0);
    }
    if (this.queue.length - this.queueHead > 0 && !this.timer && !this.immediate && this.activeBatches < this.maxInFlight) this.flushSoon();
  }

  private async send(batch: Entry[], attempt: number): Promise<void> {
    let body: string;
    try {
      body = JSON.stringify({ flows: batch.map((e) => e.q) });
    } catch {
      this.finishBatch(batch, 'bad_response', false);
      return;
    }
    const out = await this.client.post('/v1/attribution', Buffer.from(body, 'utf8'), this.headers, this.timeoutMs);
    if (this.closed) return;
    const live = batch.filter((e) => this.unsettled.get(e.q.id) === e);
    if (live.length === 0) {
      this.batchDone();
      return;
    }
    const failure = this.classify(out);
    if (failure === null) {
      this.recordLatency(out.ms);
      const resp = out as Extract<HttpResult, { kind: 'response' }>;
      let json: unknown;
      try {
        json = JSON.parse(resp.body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const check = checkAttributionResponse(json, batch.map((e) => e.q.id));
      if (!check.ok) {
        this.finishBatch(live, 'bad_response', true);
        return;
      }
      this.onSuccess();
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i];
        if (this.unsettled.get(e.q.id) !== e) continue;
        const r = check.results[i];
        if (!r) {
          this.fail(e, 'bad_response');
          continue;
        }
        this.s.answered++;
        const status = statusOf(r.status);
        if (status === 'enriched') this.s.enriched++;
        if (this.cacheSize > 0 && r.status !== 'not_found') {
          this.cache.set(e.key, { result: r, tsMs: e.tsMs });
          if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
        }
        this.settle(e.q.id, { status, result: r });
      }
      this.batchDone();
      return;
    }
    if (out.kind === 'aborted') {
      this.batchDone();
      return;
    }
    const retryable = failure === 'timeout' || failure === 'agent_unavailable';
    const breakerOpen = this.onFailure(failure);
    if (retryable && attempt < this.retries && !breakerOpen) {
      this.s.retries++;
      this.counters.inc(EA.retry);
      const delay = this.backoffMs * 2 ** attempt * (0.5 + Math.random());
      const t = setTimeout(() => {
        this.backoffTimers.delete(t);
        if (this.closed) return;
        void this.send(live, attempt + 1);
      }, delay);
      this.backoffTimers.add(t);
      return;
    }
    this.finishBatch(live, failure, false);
  }

  /** null for a usable 200 answer, else the failure status. */
  private classify(out: HttpResult): Failure | null {
    switch (out.kind) {
      case 'timeout':
        return 'timeout';
      case 'network':
      case 'aborted':
        return 'agent_unavailable';
      case 'too_large':
        return 'bad_response';
      case 'response':
        if (out.status === 200) return null;
        if (out.status === 401 || out.status === 403) return 'auth_failed';
        if (out.status === 429 || out.status >= 500) return 'agent_unavailable';
        return 'bad_response';
    }
  }

  private finishBatch(entries: Entry[], status: Failure, countFailure: boolean): void {
    if (countFailure) this.onFailure(status);
    for (const e of entries) if (this.unsettled.get(e.q.id) === e) this.fail(e, status);
    this.batchDone();
  }

  private batchDone(): void {
    this.activeBatches = Math.max(0, this.activeBatches - 1);
    if (this.breaker === 'half_open') this.probing = false;
    if (this.queue.length - this.queueHead > 0) this.flushSoon();
  }

  private onSuccess(): void {
    this.failures = 0;
    if (this.breaker !== 'closed') {
      this.breaker = 'closed';
      this.probing = false;
    }
  }

  /** Count a failed attempt; true when the breaker is (now) open. */
  private onFailure(_f: Failure): boolean {
    this.failures++;
    if (this.breaker === 'half_open' || (this.breaker === 'closed' && this.failures >= this.breakerThreshold)) {
      this.breaker = 'open';
      this.openedAt = Date.now();
      this.probing = false;
      this.s.breakerOpens++;
      this.counters.inc(EA.breakerOpened);
      return true;
    }
    return this.breaker === 'open';
  }

  private recordLatency(ms: number): void {
    this.latencies[this.latencyCount % this.latencies.length] = ms;
    this.latencyCount++;
    let i = 0;
    while (i < HIST_BOUNDS.length && ms > HIST_BOUNDS[i]) i++;
    this.hist[i]++;
  }

  /** A query ends with `status`: counted in its stat and anomaly. */
  private fail(e: Entry, status: Failure): void {
    const [stat, anomaly] = FAILURE_COUNT[status];
    this.s[stat]++;
    this.counters.inc(anomaly);
    this.settle(e.q.id, { status, result: null });
  }

  private failAll(status: 'timeout' | 'agent_unavailable'): void {
    for (const e of [...this.unsettled.values()]) this.fail(e, status);
    this.queue = [];
    this.queueHead = 0;
  }
}
