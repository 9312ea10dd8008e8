/**
 * Elasticsearch `_bulk` transport: batches of `create` actions with
 * `_id` = `event.id`, so a batch sent twice (a lost answer, a retry after a
 * timeout) stores each event once: the second copy comes back 409
 * `version_conflict_engine_exception`, which here means "already there".
 *
 * Elastic's documentation this follows:
 * - the Bulk API (NDJSON action/source pairs, final newline,
 *   `Content-Type: application/x-ndjson`, `create` fails if the `_id` exists,
 *   `?pipeline=`, a 200 answer with `errors` and one `items[]` entry per
 *   action in request order, each with its `status` and `error.type`/`reason`):
 *   https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
 *   (#bulk-api-response-body); data streams accept only `create`
 *   ("Data streams support only the create action",
 *   https://github.com/elastic/elasticsearch-specification, `_global/bulk`;
 *   https://www.elastic.co/guide/en/elasticsearch/reference/current/use-a-data-stream.html).
 * - `http.max_content_length` (100mb by default) answers 413 to a bigger
 *   request: the batch is split.
 *   https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-network.html
 * - 429 `es_rejected_execution_exception` means back off and send again;
 *   mapping errors (400) and missing indexes (404) do not get better by
 *   retrying — the retry policy of Elastic's own Logstash output:
 *   https://www.elastic.co/guide/en/logstash/current/plugins-outputs-elasticsearch.html#_retry_policy
 * - API keys: `Authorization: ApiKey <base64 of id:api_key>` (the `encoded`
 *   value the create-API-key call returns):
 *   https://www.elastic.co/guide/en/elasticsearch/reference/current/security-api-create-api-key.html
 *
 * The answer is shrunk with `filter_path` to the fields read here, as Logstash
 * does, so a 10 000-event batch answers in a few hundred kB.
 */
import { z } from 'zod';

import {
  BatchOutcome,
  HttpBatchTransport,
  chunkBySize,
  parseJsonObject,
  readCaFile,
  readSecretFile,
  retryAfterMs,
  retryEverything,
  snippet,
} from './http.js';
import type { DeliveryOutcome, EventRecord } from './types.js';
import { HttpPostClient } from '../../shared/http-post.js';

/** An index or data stream name as Elasticsearch allows it (lowercase, no `\ / * ? " < > | , #` or space, not `_`/`-`/`+` first). */
const INDEX_NAME = /^(?![_\-+])[^A-Z\\/*?"<>|,# :]{1,255}$/;

/** The `type: elasticsearch` entry of the sinks configuration (YAML keys). */
export const elasticsearchConfigSchema = z
  .strictObject({
    type: z.literal('elasticsearch'),
    /** `https://es.example:9200` (a path prefix for a proxy is kept). */
    url: z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL'),
    /** Index, alias or data stream (`logs-tlsentry-default`) the events go to. */
    index: z.string().regex(INDEX_NAME, 'expected an Elasticsearch index or data stream name (lowercase)').default('tlsentry-events'),
    /** File with an API key: the base64 `encoded` form, or `id:api_key`. */
    api_key_file: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
    ca_file: z.string().min(1).optional(),
    timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
    /** Ingest pipeline run on every event (`?pipeline=`). */
    pipeline: z.string().min(1).optional(),
    /** Largest request body (before gzip); bigger batches go as several requests. Keep under `http.max_content_length`. */
    max_batch_bytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(8 * 1024 * 1024),
    gzip: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.api_key_file !== undefined && (c.username !== undefined || c.password_file !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give api_key_file or username + password_file, not both', path: ['api_key_file'] });
    }
    if ((c.username === undefined) !== (c.password_file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'username and password_file go together', path: [c.username === undefined ? 'username' : 'password_file'] });
    }
  });
export type ElasticsearchConfig = z.output<typeof elasticsearchConfigSchema>;

export interface ElasticsearchOptions {
  url: string;
  index?: string;
  /** The API key, encoded (`base64(id:key)`) or as `id:key`. */
  apiKey?: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  timeoutMs?: number;
  pipeline?: string;
  maxBatchBytes?: number;
  gzip?: boolean;
  /** Cap on HTTP requests spent on one `deliver` (splitting, narrowing down a 400); the rest is retried later. */
  maxRequestsPerBatch?: number;
  /** Cap on the answer read (default 64 MiB). */
  maxResponseBytes?: number;
}

/**
 * A validated entry with its files' contents (`elasticsearchSecrets`): plain
 * data that crosses into the capture worker. Never logged.
 */
export type ElasticsearchSpec = ElasticsearchConfig & {
  /** Read from `api_key_file`. */
  api_key?: string;
  /** Read from `password_file`. */
  password?: string;
  /** PEM text, read from `ca_file`. */
  ca?: string;
};

/**
 * Read `api_key_file`, `password_file` and `ca_file` into the spec, each only
 * if not read yet: at configuration time, before `live` drops privileges (they
 * may be readable by root only), or at the latest when the transport is made.
 */
export function elasticsearchSecrets(cfg: ElasticsearchSpec, baseDir: string): ElasticsearchSpec {
  const out: ElasticsearchSpec = { ...cfg };
  if (out.api_key === undefined && cfg.api_key_file !== undefined) out.api_key = readSecretFile(cfg.api_key_file, baseDir, 'api_key_file');
  if (out.password === undefined && cfg.password_file !== undefined) out.password = readSecretFile(cfg.password_file, baseDir, 'password_file');
  const ca = out.ca ?? readCaFile(cfg.ca_file, baseDir);
  if (ca !== undefined) out.ca = ca;
  return out;
}

/** The transport described by a validated config entry (relative paths are relative to `baseDir`). */
export function elasticsearchFromConfig(cfg: ElasticsearchSpec, baseDir: string): ElasticsearchTransport {
  const s = elasticsearchSecrets(cfg, baseDir);
  return new ElasticsearchTransport({
    url: s.url,
    index: s.index,
    apiKey: s.api_key,
    username: s.username,
    password: s.password,
    ca: s.ca !== undefined ? Buffer.from(s.ca, 'utf8') : undefined,
    timeoutMs: cfg.timeout_ms,
    pipeline: cfg.pipeline,
    maxBatchBytes: cfg.max_batch_bytes,
    gzip: cfg.gzip,
  });
}

type BulkResult =
  | { kind: 'items'; items: { status: number; type?: string; reason?: string }[] }
  | { kind: 'too_large' }
  | { kind: 'bad_request'; reason: string }
  | { kind: 'retry'; error: string; retryAfterMs?: number };

interface Run {
  batch: readonly EventRecord[];
  /** Per sendable record, its action line `{"create":{…,"_id":…}}\n`. */
  actions: (Buffer | null)[];
  out: BatchOutcome;
  requestsLeft: number;
}

const NL = Buffer.from('\n');

export class ElasticsearchTransport extends HttpBatchTransport {
  readonly kind = 'elasticsearch';
  private readonly path: string;
  /** `{"create":{"_index":"<index>","_id":` — then the id and `}}\n`. */
  private readonly actionHead: Buffer;
  private readonly maxBatchBytes: number;
  private readonly maxRequests: number;
  /** For tests and stats: requests sent, copies Elasticsearch already had (409 on create). */
  readonly stats = { requests: 0, duplicates: 0, rejected: 0 };

  constructor(opts: ElasticsearchOptions) {
    const u = new URL(opts.url);
    u.pathname = u.pathname.replace(/\/_bulk\/?$/, '') || '/';
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (opts.apiKey !== undefined) {
      const key = opts.apiKey.includes(':') ? Buffer.from(opts.apiKey).toString('base64') : opts.apiKey;
      headers.authorization = `ApiKey ${key}`;
    } else if (opts.username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
    }
    super({
      http: new HttpPostClient({ url: u.toString(), ca: opts.ca, maxResponseBytes: opts.maxResponseBytes ?? 64 * 1024 * 1024 }),
      headers,
      timeoutMs: opts.timeoutMs ?? 30_000,
      gzip: opts.gzip ?? false,
    });
    const q = new URLSearchParams({ filter_path: 'errors,items.*.status,items.*.error.type,items.*.error.reason,error.type,error.reason,status' });
    if (opts.pipeline !== undefined) q.set('pipeline', opts.pipeline);
    this.path = `/_bulk?${q.toString().replace(/%2C/g, ',').replace(/%2A/g, '*')}`;
    this.actionHead = Buffer.from(`{"create":{"_index":${JSON.stringify(opts.index ?? 'tlsentry-events')},"_id":`);
    this.maxBatchBytes = opts.maxBatchBytes ?? 8 * 1024 * 1024;
    this.maxRequests = opts.maxRequestsPerBatch ?? 200;
  }

  protected async run(batch: readonly EventRecord[]): Promise<DeliveryOutcome> {
    const out = new BatchOutcome(batch.length);
    const run: Run = { batch, actions: new Array<Buffer | null>(batch.length).fill(null), out, requestsLeft: this.maxRequests };
    const sendable: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { id, line } = batch[i]!;
      // A raw newline would cut the NDJSON pairs and fail the whole request;
      // a line that is not an object is no document: refuse both here.
      if (line.length < 2 || line[0] !== 0x7b || line[line.length - 1] !== 0x7d || line.includes(0x0a) || line.includes(0x0d)) {
        out.reject(i, 'ERR_SINK_REJECTED elasticsearch: not a one-line JSON object');
        continue;
      }
      if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > 512) {
        out.reject(i, 'ERR_SINK_REJECTED elasticsearch: event.id missing or longer than 512 bytes (the _id limit)');
        continue;
      }
      run.actions[i] = Buffer.concat([this.actionHead, Buffer.from(`${JSON.stringify(id)}}}\n`)]);
      sendable.push(i);
    }
    const chunks = chunkBySize(sendable, (i) => run.actions[i]!.length + batch[i]!.line.length + 1, this.maxBatchBytes);
    for (let c = 0; c < chunks.length; c++) {
      if (!(await this.send(run, chunks[c]!))) {
        for (const rest of chunks.slice(c + 1)) out.retry(rest, out.error ?? 'ERR_SINK_UNAVAILABLE elasticsearch');
        break;
      }
    }
    const o = out.outcome();
    this.stats.rejected += o.rejected.length;
    return o;
  }

  /** POST these records and deal with the answer. False: stop sending this batch (the rest waits for a retry). */
  private async send(run: Run, idx: number[]): Promise<boolean> {
    const r = await this.post(run, idx);
    switch (r.kind) {
      case 'items':
        return this.items(run, idx, r.items);
      case 'retry':
        run.out.retry(idx, r.error, r.retryAfterMs);
        return false;
      case 'too_large':
        if (idx.length === 1) {
          run.out.reject(idx[0]!, 'ERR_SINK_REJECTED elasticsearch: HTTP 413, the event alone is larger than http.max_content_length');
          return true;
        }
        return this.halves(run, idx);
      case 'bad_request':
        // A 400 for the whole request: the body did not parse. Our framing is
        // fixed, so one record is to blame: find it, keep the others.
        if (idx.length === 1) {
          run.out.reject(idx[0]!, `ERR_SINK_REJECTED elasticsearch: ${r.reason}`);
          return true;
        }
        return this.halves(run, idx);
    }
  }

  private async halves(run: Run, idx: number[]): Promise<boolean> {
    const mid = idx.length >> 1;
    const right = idx.slice(mid);
    if (!(await this.send(run, idx.slice(0, mid)))) {
      run.out.retry(right, run.out.error ?? 'ERR_SINK_UNAVAILABLE elasticsearch');
      return false;
    }
    return this.send(run, right);
  }

  /** Per-item statuses of a 200 answer. False when any item must wait (the cluster is pushing back). */
  private items(run: Run, idx: number[], items: { status: number; type?: string; reason?: string }[]): boolean {
    let again = false;
    for (let j = 0; j < idx.length; j++) {
      const i = idx[j]!;
      const { status, type, reason } = items[j]!;
      const said = `item ${status}${type ? ` ${type}` : ''}${reason ? `: ${snippet(reason, 300)}` : ''}`;
      if (status === 200 || status === 201) continue;
      if (status === 409) {
        // `create` of an `_id` that exists: an earlier copy got in. Delivered.
        this.stats.duplicates++;
        continue;
      }
      if (status === 429 || status >= 500) {
        run.out.retry([i], `ERR_SINK_UNAVAILABLE elasticsearch: ${said}`);
        again = true;
      } else if (status === 401 || status === 403) {
        // security_exception (the key may not write this index) or an index
        // block (flood-stage disk watermark on older versions): someone must act; keep the event.
        run.out.retry([i], `ERR_SINK_AUTH elasticsearch: ${said}; events kept`);
        again = true;
      } else if (status === 404 && type === 'index_not_found_exception') {
        // Automatic index creation is off and the index is missing: one
        // setting away from working, so keep the events rather than dead-letter all of them.
        run.out.retry([i], `ERR_SINK_CONFIG elasticsearch: ${said} (create the index or its template); events kept`);
        again = true;
      } else {
        run.out.reject(i, `ERR_SINK_REJECTED elasticsearch: ${said}`);
      }
    }
    return !again;
  }

  private async post(run: Run, idx: number[]): Promise<BulkResult> {
    if (this.closed) return { kind: 'retry', error: 'ERR_SINK_UNAVAILABLE elasticsearch: transport closed' };
    if (run.requestsLeft-- <= 0) {
      return { kind: 'retry', error: `ERR_SINK_PROTOCOL elasticsearch: more than ${this.maxRequests} requests for one batch; the rest waits` };
    }
    const parts: Buffer[] = [];
    for (const i of idx) parts.push(run.actions[i]!, run.batch[i]!.line, NL);
    this.stats.requests++;
    const res = await this.postParts(this.path, parts);
    if (res.kind !== 'response') return res;
    return classify(res.status, res.body, retryAfterMs(res.headers), idx.length);
  }
}

/** What a `_bulk` answer means for the records of the request. */
function classify(status: number, body: Buffer, after: number | undefined, n: number): BulkResult {
  const j = parseJsonObject(body);
  const err = j?.error;
  const e = err !== null && typeof err === 'object' ? (err as { type?: unknown; reason?: unknown }) : undefined;
  const said = e !== undefined
    ? `HTTP ${status} ${String(e.type ?? '')}: ${snippet(String(e.reason ?? ''), 300)}`
    : `HTTP ${status} ${snippet(typeof err === 'string' ? err : body)}`.trim();
  if (status === 200) {
    const items = j?.items;
    if (!Array.isArray(items) || items.length !== n) {
      // Without one item per action nothing says which arrived; sending all
      // again is safe: the ones that did come back 409.
      return { kind: 'retry', error: `ERR_SINK_PROTOCOL elasticsearch: HTTP 200 without ${n} bulk items (${snippet(body, 120)})` };
    }
    const out: { status: number; type?: string; reason?: string }[] = [];
    for (const it of items) {
      const op = it !== null && typeof it === 'object' ? (Object.values(it as object)[0] as { status?: unknown; error?: unknown } | undefined) : undefined;
      const st = op?.status;
      if (typeof st !== 'number') return { kind: 'retry', error: `ERR_SINK_PROTOCOL elasticsearch: bulk item without a status (${snippet(JSON.stringify(it), 120)})` };
      const ie = op?.error !== null && typeof op?.error === 'object' ? (op.error as { type?: unknown; reason?: unknown }) : undefined;
      out.push({ status: st, type: typeof ie?.type === 'string' ? ie.type : undefined, reason: typeof ie?.reason === 'string' ? ie.reason : undefined });
    }
    return { kind: 'items', items: out };
  }
  if (status === 413) return { kind: 'too_large' };
  if (status === 400) return { kind: 'bad_request', reason: said };
  if (status === 401 || status === 403) {
    return { kind: 'retry', error: `ERR_SINK_AUTH elasticsearch: ${said}: check api_key_file or username/password_file and the key's privileges (create_doc on the index); events kept`, retryAfterMs: after };
  }
  if (status === 404) return { kind: 'retry', error: `ERR_SINK_CONFIG elasticsearch: ${said}: no _bulk endpoint at this URL; events kept`, retryAfterMs: after };
  if (status === 429 || status >= 500) return { kind: 'retry', error: `ERR_SINK_UNAVAILABLE elasticsearch: ${said}`, retryAfterMs: after };
  return { kind: 'retry', error: `ERR_SINK_PROTOCOL elasticsearch: unexpected ${said}`, retryAfterMs: after };
}
