/**
 * Splunk HTTP Event Collector transport: batches of events POSTed to
 * `/services/collector/event` as concatenated JSON envelopes, with optional
 * indexer acknowledgement.
 *
 * Splunk's documentation this follows:
 * - event format and batching (concatenated objects, `time` in epoch seconds
 *   with milliseconds, `host`/`source`/`sourcetype`/`index`/`event`, the
 *   `Authorization: Splunk <token>` header):
 *   https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector
 * - endpoints (`services/collector/event`, `/event/1.0`, `/ack`):
 *   https://help.splunk.com/en/splunk-enterprise/get-data-in/collect-http-event-data/http-event-collector-rest-api-endpoints
 * - status codes (0 Success; 1 token disabled 403; 2 token required 401;
 *   3 invalid authorization 401; 4 invalid token 403; 5 no data 400; 6 invalid
 *   data format 400; 7 incorrect index 400; 8 internal error 500; 9 server is
 *   busy 503; 10/11 data channel missing/invalid 400; 12/13 event field
 *   required/blank 400; 14 ACK disabled 400; 15 indexed fields 400; 16 query
 *   string authorization off 400): "Troubleshoot HTTP Event Collector",
 *   https://help.splunk.com/en/splunk-enterprise/get-data-in/collect-http-event-data/troubleshoot-http-event-collector
 *   A 400 also carries `invalid-event-number`, the 0-based position of the
 *   event it choked on (seen in the field, e.g.
 *   https://github.com/signalfx/splunk-otel-collector-chart/issues/935).
 * - indexer acknowledgement (a channel GUID in `X-Splunk-Request-Channel`,
 *   `ackId` in the answer, `POST /services/collector/ack {"acks":[…]}` →
 *   `{"acks":{"0":true}}`; a 200 alone only means the data looked valid):
 *   https://docs.splunk.com/Documentation/Splunk/9.3.0/Data/AboutHECIDXAck
 *
 * One bad event fails the whole request, so a data 400 is narrowed down:
 * the event HEC names is tried alone (its number is only a hint), otherwise
 * the batch is halved, until only the bad events are rejected. Events HEC
 * took before the bad one may be sent twice: delivery is at-least-once and
 * searches drop duplicates by `event.id`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

import {
  BatchOutcome,
  HttpBatchTransport,
  Sleeper,
  chunkBySize,
  describeFailure,
  parseJsonObject,
  readCaFile,
  readSecretFile,
  retryAfterMs,
  retryEverything,
  snippet,
} from './http.js';
import type { DeliveryOutcome, EventRecord } from './types.js';
import { HttpPostClient } from '../../shared/http-post.js';

/** The `type: splunk_hec` entry of the sinks configuration (YAML keys). */
export const splunkHecConfigSchema = z.strictObject({
  type: z.literal('splunk_hec'),
  /** `https://splunk.example:8088` (a pasted `…/services/collector/event` is accepted too). */
  url: z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL'),
  /** File holding the HEC token (read at start, before privileges are dropped). */
  token_file: z.string().min(1),
  /** Splunk index; absent: the token's default index. */
  index: z.string().min(1).optional(),
  sourcetype: z.string().min(1).default('tlsentry'),
  source: z.string().min(1).default('tlsentry'),
  /** `host` of every event; absent: this machine's hostname. */
  host: z.string().min(1).optional(),
  /** PEM CA to verify the HEC's certificate (a private CA). */
  ca_file: z.string().min(1).optional(),
  /** Indexer acknowledgement: a record counts as delivered only once Splunk says it is indexed. */
  use_ack: z.boolean().default(false),
  /** The channel GUID (default: a new random one per start). */
  channel: z.string().uuid().optional(),
  timeout_ms: z.number().int().min(100).max(600_000).default(15_000),
  /** Longest wait for an acknowledgement before the records are sent again. */
  ack_timeout_ms: z.number().int().min(100).max(3_600_000).default(60_000),
  ack_poll_ms: z.number().int().min(10).max(60_000).default(1_000),
  /** Largest request body (before gzip); bigger batches go as several requests. */
  max_batch_bytes: z.number().int().min(1024).max(800 * 1024 * 1024).default(1024 * 1024),
  /** `Content-Encoding: gzip` request bodies. */
  gzip: z.boolean().default(false),
});
export type SplunkHecConfig = z.output<typeof splunkHecConfigSchema>;

export interface SplunkHecOptions {
  url: string;
  token: string;
  index?: string;
  sourcetype?: string;
  source?: string;
  host?: string;
  ca?: Buffer;
  useAck?: boolean;
  channel?: string;
  timeoutMs?: number;
  ackTimeoutMs?: number;
  ackPollMs?: number;
  maxBatchBytes?: number;
  gzip?: boolean;
  /** Cap on HTTP requests spent on one `deliver` (splitting and narrowing down bad events); the rest is retried later. */
  maxRequestsPerBatch?: number;
}

/**
 * A validated entry with its files' contents (`splunkHecSecrets`): plain data
 * that crosses into the capture worker. Never logged.
 */
export type SplunkHecSpec = SplunkHecConfig & {
  /** The HEC token, read from `token_file`. */
  token?: string;
  /** PEM text, read from `ca_file`. */
  ca?: string;
};

/**
 * Read `token_file` and `ca_file` into the spec, each only if not read yet: at
 * configuration time, before `live` drops privileges (the token file may be
 * readable by root only), or at the latest when the transport is made.
 */
export function splunkHecSecrets(cfg: SplunkHecSpec, baseDir: string): SplunkHecSpec & { token: string } {
  const token = cfg.token ?? readSecretFile(cfg.token_file, baseDir, 'token_file');
  const out = { ...cfg, token };
  const ca = out.ca ?? readCaFile(cfg.ca_file, baseDir);
  if (ca !== undefined) out.ca = ca;
  return out;
}

/** The transport described by a validated config entry (relative paths are relative to `baseDir`). */
export function splunkHecFromConfig(spec: SplunkHecSpec, baseDir: string): SplunkHecTransport {
  const cfg = splunkHecSecrets(spec, baseDir);
  return new SplunkHecTransport({
    url: cfg.url,
    token: cfg.token,
    index: cfg.index,
    sourcetype: cfg.sourcetype,
    source: cfg.source,
    host: cfg.host,
    ca: cfg.ca !== undefined ? Buffer.from(cfg.ca, 'utf8') : undefined,
    useAck: cfg.use_ack,
    channel: cfg.channel,
    timeoutMs: cfg.timeout_ms,
    ackTimeoutMs: cfg.ack_timeout_ms,
    ackPollMs: cfg.ack_poll_ms,
    maxBatchBytes: cfg.max_batch_bytes,
    gzip: cfg.gzip,
  });
}

/** HEC codes that are about the data of the request: narrowed down to the bad events, which are rejected. */
const DATA_CODES = new Set([5, 6, 12, 13, 15]);
/** HEC codes (HTTP 400) that are about our settings, not the events: retried, loudly. */
const CONFIG_CODES: Record<number, string> = {
  7: 'the index is not allowed for this token (check index)',
  10: 'data channel missing (indexer acknowledgement is on for this token: set use_ack: true)',
  11: 'invalid data channel (check channel)',
  14: 'indexer acknowledgement is disabled for this token (set use_ack: false)',
  16: 'query string authorization is not enabled',
};

type HecResult =
  | { kind: 'ok'; ackId?: number }
  | { kind: 'too_large' }
  | { kind: 'bad_data'; reason: string; hint?: number }
  | { kind: 'retry'; error: string; retryAfterMs?: number };

interface PendingAck {
  ackId: number;
  indexes: number[];
}

/** State of one `deliver` call. */
interface Run {
  batch: readonly EventRecord[];
  /** Per sendable record, `{"time":<t>,` (or `{`): the rest of its envelope is shared or the line itself. */
  heads: (Buffer | null)[];
  out: BatchOutcome;
  acks: PendingAck[];
  requestsLeft: number;
  /** A event HEC named as bad went through alone: stop believing `invalid-event-number`, halve instead. */
  hintsWrong: boolean;
}

const TS_KEY = Buffer.from('"@timestamp":"');
const OPEN = Buffer.from('{');
const CLOSE = Buffer.from('}');

export class SplunkHecTransport extends HttpBatchTransport {
  readonly kind = 'splunk_hec';
  private readonly eventPath: string;
  /** `"host":…,"source":…,"sourcetype":…,"index":…,"event":` — the same for every event. */
  private readonly meta: Buffer;
  private readonly useAck: boolean;
  readonly channel: string | undefined;
  /**
   * With acknowledgement a batch resolves only after an ack poll (about
   * `ack_poll_ms`), so the queue may keep several batches waiting at once;
   * each POST still leaves in call order.
   */
  readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly ackPollMs: number;
  private readonly maxBatchBytes: number;
  private readonly maxRequests: number;
  private readonly sleeper = new Sleeper();
  /** For tests and stats: requests sent, events rejected, acks timed out. */
  readonly stats = { requests: 0, ackPolls: 0, ackTimeouts: 0, rejected: 0 };

  constructor(opts: SplunkHecOptions) {
    const u = new URL(opts.url);
    // Accept a URL pasted with the endpoint; keep any proxy prefix before it.
    const m = /^(.*?)\/services\/collector(?:\/event(?:\/1\.0)?)?\/?$/.exec(u.pathname);
    const eventPath = m && u.pathname.endsWith('/1.0') ? '/services/collector/event/1.0' : '/services/collector/event';
    if (m) u.pathname = m[1] || '/';
    const useAck = opts.useAck ?? false;
    const channel = opts.channel ?? (useAck ? randomUUID() : undefined);
    const headers: Record<string, string> = { authorization: `Splunk ${opts.token}`, 'content-type': 'application/json' };
    if (channel !== undefined) headers['x-splunk-request-channel'] = channel;
    super({
      http: new HttpPostClient({ url: u.toString(), ca: opts.ca, maxResponseBytes: 1024 * 1024 }),
      headers,
      timeoutMs: opts.timeoutMs ?? 15_000,
      gzip: opts.gzip ?? false,
    });
    this.eventPath = eventPath;
    const meta: Record<string, string> = {
      host: opts.host ?? hostname(),
      source: opts.source ?? 'tlsentry',
      sourcetype: opts.sourcetype ?? 'tlsentry',
    };
    if (opts.index !== undefined) meta.index = opts.index;
    this.meta = Buffer.from(`${JSON.stringify(meta).slice(1, -1)},"event":`);
    this.useAck = useAck;
    this.channel = channel;
    this.maxInFlight = useAck ? 4 : 1;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 60_000;
    this.ackPollMs = opts.ackPollMs ?? 1_000;
    this.maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024;
    this.maxRequests = opts.maxRequestsPerBatch ?? 200;
  }

  protected override shutdown(): void {
    this.sleeper.cancel();
  }

  protected async run(batch: readonly EventRecord[]): Promise<DeliveryOutcome> {
    const out = new BatchOutcome(batch.length);
    const run: Run = { batch, heads: new Array<Buffer | null>(batch.length).fill(null), out, acks: [], requestsLeft: this.maxRequests, hintsWrong: false };
    const sendable: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const line = batch[i]!.line;
      // A line that is not one JSON object (a torn spool line) would break the
      // framing of every event after it: refuse it here, for good.
      if (line.length < 2 || line[0] !== 0x7b || line[line.length - 1] !== 0x7d) {
        out.reject(i, 'ERR_SINK_REJECTED splunk_hec: not a JSON object');
        continue;
      }
      const t = eventTime(line);
      run.heads[i] = t === undefined ? OPEN : Buffer.from(`{"time":${t},`);
      sendable.push(i);
    }
    const extra = this.meta.length + CLOSE.length;
    const chunks = chunkBySize(sendable, (i) => run.heads[i]!.length + extra + batch[i]!.line.length, this.maxBatchBytes);
    for (let c = 0; c < chunks.length; c++) {
      if (!(await this.send(run, chunks[c]!))) {
        for (const rest of chunks.slice(c + 1)) out.retry(rest, out.error ?? 'ERR_SINK_UNAVAILABLE splunk_hec');
        break;
      }
    }
    if (run.acks.length > 0) await this.awaitAcks(run);
    const o = out.outcome();
    this.stats.rejected += o.rejected.length;
    return o;
  }

  /** POST these events and deal with the answer. False: stop sending this batch (the rest waits for a retry). */
  private async send(run: Run, idx: number[]): Promise<boolean> {
    return this.handle(run, idx, await this.post(run, idx));
  }

  private async handle(run: Run, idx: number[], r: HecResult): Promise<boolean> {
    switch (r.kind) {
      case 'ok':
        if (this.useAck) {
          if (r.ackId !== undefined) run.acks.push({ ackId: r.ackId, indexes: idx });
          // A 200 without ackId: the token has acknowledgement off; the 200 is all there is.
          else run.out.note('ERR_SINK_CONFIG splunk_hec: use_ack is on but HEC returned no ackId (indexer acknowledgement off for this token?); counted delivered on HTTP 200');
        }
        return true;
      case 'retry':
        run.out.retry(idx, r.error, r.retryAfterMs);
        return false;
      case 'too_large':
        if (idx.length === 1) {
          run.out.reject(idx[0]!, `ERR_SINK_REJECTED splunk_hec: HTTP 413, the event alone is larger than the HEC accepts (max_content_length)`);
          return true;
        }
        return this.halves(run, idx);
      case 'bad_data':
        return this.narrow(run, idx, r);
    }
  }

  /** A data 400 on `idx`: find the bad events. */
  private async narrow(run: Run, idx: number[], r: { reason: string; hint?: number }): Promise<boolean> {
    if (idx.length === 1) {
      run.out.reject(idx[0]!, `ERR_SINK_REJECTED splunk_hec: ${r.reason}`);
      return true;
    }
    if (!run.hintsWrong && r.hint !== undefined && r.hint >= 0 && r.hint < idx.length) {
      // Try the named event alone: if HEC refuses it too, only it is rejected.
      const k = idx[r.hint]!;
      const rest = idx.filter((i) => i !== k);
      if (!(await this.send(run, [k]))) {
        run.out.retry(rest, run.out.error ?? 'ERR_SINK_UNAVAILABLE splunk_hec');
        return false;
      }
      if (!run.out.isRejected(k)) run.hintsWrong = true;
      return this.send(run, rest);
    }
    return this.halves(run, idx);
  }

  private async halves(run: Run, idx: number[]): Promise<boolean> {
    const mid = idx.length >> 1;
    const left = idx.slice(0, mid);
    const right = idx.slice(mid);
    if (!(await this.send(run, left))) {
      run.out.retry(right, run.out.error ?? 'ERR_SINK_UNAVAILABLE splunk_hec');
      return false;
    }
    return this.send(run, right);
  }

  private async post(run: Run, idx: number[]): Promise<HecResult> {
    if (this.closed) return { kind: 'retry', error: 'ERR_SINK_UNAVAILABLE splunk_hec: transport closed' };
    if (run.requestsLeft-- <= 0) {
      return { kind: 'retry', error: `ERR_SINK_PROTOCOL splunk_hec: more than ${this.maxRequests} requests for one batch (HEC refuses too many of its events); the rest waits` };
    }
    // `{"time":<sec.ms>,<meta>"event":<line>}` per event, spliced, never parsed and re-stringified.
    const parts: Buffer[] = [];
    for (const i of idx) parts.push(run.heads[i]!, this.meta, run.batch[i]!.line, CLOSE);
    this.stats.requests++;
    const res = await this.postParts(this.eventPath, parts);
    // An answer too large to read is not a HEC answer: HEC says little.
    if (res.kind !== 'response') return res;
    return classify(res.status, res.body, retryAfterMs(res.headers));
  }

  /** Poll `/services/collector/ack` until every ackId of this batch is true, or retry what is not by the deadline. */
  private async awaitAcks(run: Run): Promise<void> {
    let pending = run.acks;
    const deadline = performance.now() + this.ackTimeoutMs;
    let lastError: string | undefined;
    while (pending.length > 0 && !this.closed) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.sleeper.sleep(Math.min(this.ackPollMs, left));
      if (this.closed) break;
      this.stats.ackPolls++;
      const body = Buffer.from(JSON.stringify({ acks: pending.map((p) => p.ackId) }));
      const res = await this.http.post('/services/collector/ack', body, this.headers, Math.min(this.timeoutMs, Math.max(100, deadline - performance.now())));
      if (res.kind !== 'response') {
        lastError = describeFailure(this.kind, res, this.timeoutMs);
        continue;
      }
      const j = parseJsonObject(res.body);
      const acks = j?.acks;
      if (res.status !== 200 || acks === null || typeof acks !== 'object' || Array.isArray(acks)) {
        const c = classify(res.status, res.body, undefined);
        lastError = c.kind === 'retry' ? c.error : `ERR_SINK_ACK splunk_hec: ack query answered HTTP ${res.status} ${snippet(res.body)}`;
        continue;
      }
      const status = acks as Record<string, unknown>;
      pending = pending.filter((p) => status[String(p.ackId)] !== true);
    }
    if (pending.length > 0) {
      this.stats.ackTimeouts += pending.length;
      const why = this.closed ? 'transport closed' : `not acknowledged within ${this.ackTimeoutMs} ms`;
      const err = `ERR_SINK_ACK splunk_hec: ${pending.reduce((n, p) => n + p.indexes.length, 0)} events ${why}${lastError ? ` (last: ${lastError})` : ''}; sending again`;
      for (const p of pending) run.out.retry(p.indexes, err);
    }
  }
}

/** What a HEC answer means for the events of the request. */
function classify(status: number, body: Buffer, after: number | undefined): HecResult {
  const j = parseJsonObject(body);
  const code = typeof j?.code === 'number' ? j.code : undefined;
  const text = typeof j?.text === 'string' ? j.text : undefined;
  const said = code !== undefined ? `HTTP ${status} code ${code} ${text ?? ''}`.trim() : `HTTP ${status} ${snippet(body)}`.trim();
  if (status === 200) {
    if (code === 0) return { kind: 'ok', ackId: typeof j?.ackId === 'number' ? j.ackId : undefined };
    // Not HEC's answer (a proxy's page, garbage): nothing says the events arrived.
    return { kind: 'retry', error: `ERR_SINK_PROTOCOL splunk_hec: ${said}: not a HEC success answer` };
  }
  if (status === 400) {
    if (code !== undefined && DATA_CODES.has(code)) {
      const n = j?.['invalid-event-number'];
      return { kind: 'bad_data', reason: said, hint: typeof n === 'number' && Number.isInteger(n) ? n : undefined };
    }
    if (code !== undefined && CONFIG_CODES[code] !== undefined) {
      return { kind: 'retry', error: `ERR_SINK_CONFIG splunk_hec: ${said}: ${CONFIG_CODES[code]}`, retryAfterMs: after };
    }
    return { kind: 'retry', error: `ERR_SINK_PROTOCOL splunk_hec: ${said}: not a HEC data error, events kept`, retryAfterMs: after };
  }
  if (status === 401 || status === 403) {
    return { kind: 'retry', error: `ERR_SINK_AUTH splunk_hec: ${said}: the HEC refuses the token (check token_file; is the token enabled?); events kept`, retryAfterMs: after };
  }
  if (status === 404) return { kind: 'retry', error: `ERR_SINK_CONFIG splunk_hec: ${said}: no HEC at this URL (is HEC enabled? url should be https://host:8088)`, retryAfterMs: after };
  if (status === 413) return { kind: 'too_large' };
  if (status === 429 || status >= 500) return { kind: 'retry', error: `ERR_SINK_UNAVAILABLE splunk_hec: ${said}`, retryAfterMs: after };
  return { kind: 'retry', error: `ERR_SINK_PROTOCOL splunk_hec: unexpected ${said}`, retryAfterMs: after };
}

/**
 * HEC's `time` (epoch seconds with milliseconds) from the event's top-level
 * `@timestamp`, found by a byte scan: the writer puts `@timestamp` right after
 * `ecs`, and an escaped string can never contain the unescaped key pattern.
 * Undefined when absent or unreadable: HEC then stamps the receipt time.
 */
export function eventTime(line: Buffer): string | undefined {
  const at = line.indexOf(TS_KEY);
  if (at < 0) return undefined;
  const start = at + TS_KEY.length;
  const end = line.indexOf(0x22, start);
  if (end < 0 || end - start > 40) return undefined;
  const ms = Date.parse(line.toString('latin1', start, end));
  return Number.isFinite(ms) ? (ms / 1000).toFixed(3) : undefined;
}
