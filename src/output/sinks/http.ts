/**
 * What the HTTP SIEM transports (Splunk HEC, Elasticsearch `_bulk`) share: a
 * POST over node:http/https with a keep-alive agent, a hard timeout, a cap on
 * the answer's size and failures as values (never thrown); Retry-After; the
 * per-batch outcome bookkeeping; reading secret files relative to the config.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isAbsolute, resolve } from 'node:path';

import { TlsentryError } from '../../shared/errors.js';
import type { DeliveryOutcome, EventRecord, Transport } from './types.js';

/**
 * The code that starts a `DeliveryOutcome.error` (and the reason of a
 * rejection), so the queue and a reader of the logs can tell a SIEM that is
 * down (`UNAVAILABLE`) from one that refuses our credentials or settings
 * (`AUTH`, `CONFIG`, `TLS`: loud, someone must act; records are kept) and
 * from one that answers nonsense (`PROTOCOL`).
 */
export type SinkErrorCode = 'ERR_SINK_UNAVAILABLE' | 'ERR_SINK_AUTH' | 'ERR_SINK_CONFIG' | 'ERR_SINK_TLS' | 'ERR_SINK_PROTOCOL' | 'ERR_SINK_ACK' | 'ERR_SINK_REJECTED';

export type HttpResult =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'network'; code: string; message: string; tls: boolean; ms: number }
  /** The answer was bigger than `maxResponseBytes`: read no further. */
  | { kind: 'too_large'; status: number; ms: number }
  /** `close()` was called while the request was in flight. */
  | { kind: 'aborted'; ms: number };

export interface SinkHttpOptions {
  /** Base URL: scheme, host, port and an optional path prefix (a reverse proxy's). */
  url: string;
  /** PEM CA certificate(s) to trust instead of Node's bundled roots (a private CA). */
  ca?: Buffer;
  maxSockets?: number;
  maxResponseBytes: number;
}

/** OpenSSL / Node codes of a certificate that did not verify: a configuration problem, said loudly. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/;

export class SinkHttpClient {
  readonly base: URL;
  private readonly https: boolean;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly live = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: SinkHttpOptions) {
    this.base = new URL(opts.url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TlsentryError('ERR_CONFIG', `${opts.url}: only http:// and https:// URLs are supported`);
    }
    this.https = this.base.protocol === 'https:';
    const maxSockets = opts.maxSockets ?? 4;
    this.agent = this.https
      ? new HttpsAgent({ keepAlive: true, maxSockets, ca: opts.ca })
      : new HttpAgent({ keepAlive: true, maxSockets });
  }

  /** POST `body` to `path` (with its query string) under the base URL. */
  async post(path: string, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<HttpResult> {
    const first = await this.once(path, body, headers, timeoutMs);
    // A keep-alive socket the server closed while idle fails on reuse with a
    // reset before any answer: that says nothing about the server, so try once
    // more on a fresh socket (the request was not processed, or is idempotent
    // enough for at-least-once delivery).
    if (first.kind === 'network' && first.reused && (first.code === 'ECONNRESET' || first.code === 'EPIPE')) {
      return this.once(path, body, headers, timeoutMs);
    }
    return first;
  }

  private once(path: string, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<HttpResult & { reused?: boolean }> {
    const t0 = performance.now();
    const ms = (): number => Math.round(performance.now() - t0);
    return new Promise((done) => {
      if (this.closed) {
        done({ kind: 'aborted', ms: 0 });
        return;
      }
      let finished = false;
      let req: ReturnType<typeof httpRequest> | undefined;
      const finish = (r: HttpResult & { reused?: boolean }): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.live.delete(abort);
        done(r);
      };
      const abort = (): void => {
        req?.destroy();
        finish({ kind: 'aborted', ms: ms() });
      };
      const timer = setTimeout(() => {
        req?.destroy();
        finish({ kind: 'timeout', ms: ms() });
      }, timeoutMs);
      this.live.add(abort);
      const prefix = this.base.pathname.replace(/\/+$/, '');
      try {
        req = (this.https ? httpsRequest : httpRequest)(
          {
            protocol: this.base.protocol,
            hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
            port: this.base.port || (this.https ? 443 : 80),
            path: `${prefix}${path}`,
            method: 'POST',
            agent: this.agent,
            headers: { ...headers, 'content-length': String(body.length), accept: 'application/json' },
          },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > this.opts.maxResponseBytes) {
                req?.destroy();
                finish({ kind: 'too_large', status: res.statusCode ?? 0, ms: ms() });
                return;
              }
              chunks.push(c);
            });
            res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: ms() }));
            res.on('error', (e: NodeJS.ErrnoException) => finish(networkResult(e, ms(), false)));
            res.on('aborted', () => finish({ kind: 'network', code: 'ECONNRESET', message: 'answer cut off', tls: false, ms: ms() }));
          },
        );
      } catch (e) {
        finish(networkResult(e as NodeJS.ErrnoException, ms(), false));
        return;
      }
      const r = req;
      r.on('error', (e: NodeJS.ErrnoException) => finish(networkResult(e, ms(), r.reusedSocket)));
      r.end(body);
    });
  }

  /** Abort what is in flight (it resolves as `aborted`) and close idle sockets. */
  close(): void {
    this.closed = true;
    for (const a of [...this.live]) a();
    this.agent.destroy();
  }
}

function networkResult(e: NodeJS.ErrnoException, ms: number, reused: boolean): HttpResult & { reused: boolean } {
  const code = e.code ?? 'ERR_NETWORK';
  return { kind: 'network', code, message: e.message, tls: TLS_CODES.test(code), ms, reused };
}

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

/** A CA file (PEM), relative to the config's directory. */
export function readCaFile(file: string | undefined, baseDir: string): Buffer | undefined {
  if (file === undefined) return undefined;
  const p = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    const pem = readFileSync(p);
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

/**
 * What the HTTP transports share: `deliver` never rejects (a throw in `run`
 * becomes a retry of the whole batch), and `close` waits for what is in flight.
 */
export abstract class HttpBatchTransport implements Transport {
  abstract readonly kind: string;
  protected closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  /** One batch's delivery: may throw; `deliver` turns that into a retry. */
  protected abstract run(batch: readonly EventRecord[]): Promise<DeliveryOutcome>;
  /** Stop waits and close connections (before in-flight calls are awaited). */
  protected abstract shutdown(): void;

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
    await Promise.allSettled([...this.inFlight]);
  }
}
