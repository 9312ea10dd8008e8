/**
 * What the HTTP SIEM transports (Splunk HEC, Elasticsearch `_bulk`) share: the
 * POST client (src/shared/http-post.ts), Retry-After, the per-batch outcome
 * bookkeeping, reading secret files relative to the config.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

import { TlsentryError } from '../../shared/errors.js';
import type { HttpPostClient, HttpResult } from '../../shared/http-post.js';
import type { DeliveryOutcome, EventRecord, Transport } from './types.js';

/**
 * The code that starts a `DeliveryOutcome.error` (and the reason of a
 * rejection), so the queue and a reader of the logs can tell a SIEM that is
 * down (`UNAVAILABLE`) from one that refuses our credentials or settings
 * (`AUTH`, `CONFIG`, `TLS`: loud, someone must act; records are kept) and
 * from one that answers nonsense (`PROTOCOL`).
 */
export type SinkErrorCode = 'ERR_SINK_UNAVAILABLE' | 'ERR_SINK_AUTH' | 'ERR_SINK_CONFIG' | 'ERR_SINK_TLS' | 'ERR_SINK_PROTOCOL' | 'ERR_SINK_ACK' | 'ERR_SINK_REJECTED';

/**
 * Retry-After in milliseconds: delta-seconds or an HTTP-date (RFC 9110
 * section 10.2.3), capped at an hour so a hostile value cannot park the sink.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const v = headers['retry-after'];
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  let ms: number;
  if (/^\s*\d+\s*$/.test(v)) ms = Number(v) * 1000;
  else {
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = Math.max(0, t - now);
  }
  return Math.min(ms, 3_600_000);
}

/** A JSON object from an answer body, or null (garbage, an array, HTML from a proxy). */
export function parseJsonObject(body: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** At most `n` characters of an answer, on one line, for messages. */
export function snippet(body: Buffer | string, n = 200): string {
  const s = (typeof body === 'string' ? body : body.subarray(0, n * 4).toString('utf8')).replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Why a request got no answer, as an `error` text with its code. */
export function describeFailure(kind: string, r: Exclude<HttpResult, { kind: 'response' }>, timeoutMs: number): string {
  switch (r.kind) {
    case 'timeout':
      return `ERR_SINK_UNAVAILABLE ${kind}: no answer within ${timeoutMs} ms`;
    case 'network':
      return r.tls
        ? `ERR_SINK_TLS ${kind}: TLS failed (${r.code}: ${r.message}); check ca_file and the server's certificate`
        : `ERR_SINK_UNAVAILABLE ${kind}: ${r.code} ${r.message}`;
    case 'too_large':
      return `ERR_SINK_PROTOCOL ${kind}: HTTP ${r.status} answer larger than the cap, not read`;
    case 'aborted':
      return `ERR_SINK_UNAVAILABLE ${kind}: closed while delivering`;
  }
}

/**
 * What happened to each record of one `deliver` call. A record is delivered
 * unless marked retry or rejected; the first mark wins (a record is decided once).
 */
export class BatchOutcome {
  private readonly state: Uint8Array; // 0 delivered/undecided, 1 retry, 2 rejected
  private readonly reasons = new Map<number, string>();
  retryAfterMs: number | undefined;
  error: string | undefined;

  constructor(readonly size: number) {
    this.state = new Uint8Array(size);
  }

  retry(indexes: readonly number[], error: string, retryAfterMs?: number): void {
    for (const i of indexes) if (this.state[i] === 0) this.state[i] = 1;
    if (indexes.length > 0) this.note(error, retryAfterMs);
  }

  reject(index: number, reason: string): void {
    if (this.state[index] !== 0) return;
    this.state[index] = 2;
    this.reasons.set(index, reason);
  }

  /** Keep the first error (the cause; later ones are usually its echoes) and the longest pause asked for. */
  note(error: string, retryAfterMs?: number): void {
    this.error ??= error;
    if (retryAfterMs !== undefined) this.retryAfterMs = Math.max(this.retryAfterMs ?? 0, retryAfterMs);
  }

  isRejected(index: number): boolean {
    return this.state[index] === 2;
  }

  outcome(): DeliveryOutcome {
    const retry: number[] = [];
    const rejected: { index: number; reason: string }[] = [];
    for (let i = 0; i < this.size; i++) {
      if (this.state[i] === 1) retry.push(i);
      else if (this.state[i] === 2) rejected.push({ index: i, reason: this.reasons.get(i)! });
    }
    const o: DeliveryOutcome = { retry, rejected };
    if (this.retryAfterMs !== undefined && retry.length > 0) o.retryAfterMs = this.retryAfterMs;
    if (this.error !== undefined) o.error = this.error;
    return o;
  }
}

/** Every index retried: what `deliver` answers when something unforeseen went wrong. */
export function retryEverything(n: number, error: string): DeliveryOutcome {
  return { retry: Array.from({ length: n }, (_, i) => i), rejected: [], error };
}

/** Split indexes into runs whose summed sizes stay under `maxBytes` (a run holds at least one). */
export function chunkBySize(indexes: readonly number[], size: (i: number) => number, maxBytes: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const i of indexes) {
    const n = size(i);
    if (cur.length > 0 && bytes + n > maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** A secret (token, API key, password) from a file, relative to the config's directory; trailing newline dropped. */
export function readSecretFile(file: string, baseDir: string, what: string): string {
  const p = isAbsolute(file) ? file : resolve(baseDir, file);
  let s: string;
  try {
    s = readFileSync(p, 'utf8').trim();
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${what} ${p}: ${(e as Error).message}`, { cause: e });
  }
  if (s === '') throw new TlsentryError('ERR_CONFIG', `${what} ${p} is empty`);
  if (/[\r\n]/.test(s)) throw new TlsentryError('ERR_CONFIG', `${what} ${p}: expected one line`);
  return s;
}

/** A CA file (PEM text), relative to the config's directory. */
export function readCaFile(file: string | undefined, baseDir: string): string | undefined {
  if (file === undefined) return undefined;
  const p = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    const pem = readFileSync(p, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `ca_file ${p}: ${(e as Error).message}`, { cause: e });
  }
}

/** An interruptible pause: `cancel()` ends every pending one early (used by `close`). */
export class Sleeper {
  private readonly waiting = new Set<() => void>();
  sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const t = setTimeout(() => {
        this.waiting.delete(wake);
        res();
      }, ms);
      const wake = (): void => {
        clearTimeout(t);
        res();
      };
      this.waiting.add(wake);
    });
  }
  cancel(): void {
    for (const w of [...this.waiting]) w();
    this.waiting.clear();
  }
}

const gzip = promisify(gzipCb);

/** How a transport's requests go out: the same for every request it makes. */
export interface HttpBatchTarget {
  readonly http: HttpPostClient;
  /** Headers of every request (`content-encoding` is added for gzip). */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** `Content-Encoding: gzip` request bodies. */
  readonly gzip: boolean;
}

/**
 * What the HTTP transports share: `deliver` never rejects (a throw in `run`
 * becomes a retry of the whole batch), `close` waits for what is in flight
 * and then closes the connections, and one request goes out through `post`.
 */
export abstract class HttpBatchTransport implements Transport {
  abstract readonly kind: string;
  protected closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  protected readonly http: HttpPostClient;
  protected readonly headers: Readonly<Record<string, string>>;
  protected readonly timeoutMs: number;
  private readonly gzip: boolean;

  constructor(target: HttpBatchTarget) {
    this.http = target.http;
    this.headers = target.headers;
    this.timeoutMs = target.timeoutMs;
    this.gzip = target.gzip;
  }

  /** One batch's delivery: may throw; `deliver` turns that into a retry. */
  protected abstract run(batch: readonly EventRecord[]): Promise<DeliveryOutcome>;
  /** Stop the transport's own waits (before its connections close and in-flight calls are awaited). */
  protected shutdown(): void {}

  /** POST `parts` as one body to `path` (gzip'ed if configured): the answer, or the retry a failure to get one means. */
  protected async postParts(path: string, parts: readonly Buffer[]): Promise<Extract<HttpResult, { kind: 'response' }> | { kind: 'retry'; error: string }> {
    let body = Buffer.concat(parts);
    let headers = this.headers;
    if (this.gzip) {
      body = await gzip(body);
      headers = { ...headers, 'content-encoding': 'gzip' };
    }
    const res = await this.http.post(path, body, headers, this.timeoutMs);
    return res.kind === 'response' ? res : { kind: 'retry', error: describeFailure(this.kind, res, this.timeoutMs) };
  }

  async deliver(batch: readonly EventRecord[]): Promise<DeliveryOutcome> {
    if (batch.length === 0) return { retry: [], rejected: [] };
    if (this.closed) return retryEverything(batch.length, `ERR_SINK_UNAVAILABLE ${this.kind}: transport closed`);
    const p = this.run(batch).catch((e: unknown) => retryEverything(batch.length, `ERR_SINK_PROTOCOL ${this.kind}: ${(e as Error).message}`));
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.shutdown();
    this.http.close();
    await Promise.allSettled([...this.inFlight]);
  }
}
