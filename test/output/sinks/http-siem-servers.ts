/**
 * Local stand-ins for Splunk's HTTP Event Collector and Elasticsearch's
 * `_bulk`, on 127.0.0.1 random ports (HTTP or HTTPS), that check requests the
 * way the products document them and answer with the products' documented
 * status codes and bodies; hooks let a test make them misbehave.
 * Also: real event records from the golden files, and a private CA.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import type { EventRecord } from '../../../src/output/sinks/types.js';

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
}

interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, tls?: TlsFiles): Promise<Listening> {
  const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A reply a hook can force: status, JSON body, headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

// ---------------------------------------------------------------- Splunk HEC

export interface HecRequest {
  path: string;
  headers: IncomingMessage['headers'];
  /** The body as received, decompressed. */
  raw: Buffer;
  /** Each JSON object of the body, as text (null for the ack endpoint). */
  objects: string[];
}

export interface HecServerOptions {
  token: string;
  tls?: TlsFiles;
  /** The token has indexer acknowledgement on: a channel is required and answers carry `ackId`. */
  acks?: boolean;
  /** Whether an ackId is indexed yet, asked at each poll (default: yes). */
  ackStatus?: (ackId: number, poll: number) => boolean;
  /** Put `invalid-event-number` in 400 answers, as Splunk does (default true). */
  invalidEventNumber?: boolean;
  /** Answer 413 to bodies larger than this (Splunk's `max_content_length`). */
  maxContentLength?: number;
  /** Force an answer to an event request (after it was recorded); undefined: behave like HEC. */
  onEvent?: (r: HecRequest, n: number) => Reply | undefined;
}

export interface HecServer extends Listening {
  requests: HecRequest[];
  /** Envelopes HEC accepted (parsed), in order. */
  envelopes: Record<string, unknown>[];
  ackPolls: { channel: string | undefined; acks: unknown }[];
}

/** Concatenated JSON objects, split by a brace scan that knows strings (as HEC reads a batch). */
export function splitObjects(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inStr = false;
  let esc = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) {
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) {
        out.push(text.slice(start, i + 1));
        start = -1;
      }
    } else if (depth === 0 && !/\s/.test(c)) {
      // Something outside any object: the rest is one bad "event".
      out.push(text.slice(i));
      return out;
    }
  }
  if (depth !== 0 && start >= 0) out.push(text.slice(start));
  return out;
}

export async function startHecServer(opts: HecServerOptions): Promise<HecServer> {
  const requests: HecRequest[] = [];
  const envelopes: Record<string, unknown>[] = [];
  const ackPolls: HecServer['ackPolls'] = [];
  const nextAck = new Map<string, number>();
  const polls = new Map<string, number>();
  const hint = opts.invalidEventNumber ?? true;

  const l = await listen(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    // Splunk's answers, "Troubleshoot HTTP Event Collector".
    const auth = req.headers.authorization;
    if (auth === undefined) return json(res, 401, { text: 'Token is required', code: 2 });
    const m = /^Splunk (\S+)$/.exec(auth);
    if (!m) return json(res, 401, { text: 'Invalid authorization', code: 3 });
    if (m[1] !== opts.token) return json(res, 403, { text: 'Invalid token', code: 4 });
    const channel = (req.headers['x-splunk-request-channel'] as string | undefined) ?? u.searchParams.get('channel') ?? undefined;

    if (u.pathname === '/services/collector/ack') {
      if (!opts.acks) return json(res, 400, { text: 'ACK is disabled', code: 14 });
      if (channel === undefined) return json(res, 400, { text: 'Data channel is missing', code: 10 });
      let body: { acks?: unknown };
      try {
        body = JSON.parse(raw.toString()) as { acks?: unknown };
      } catch {
        return json(res, 400, { text: 'Invalid data format', code: 6 });
      }
      ackPolls.push({ channel, acks: body.acks });
      const out: Record<string, boolean> = {};
      for (const id of Array.isArray(body.acks) ? body.acks : []) {
        const k = `${channel}/${id}`;
        const n = (polls.get(k) ?? 0) + 1;
        polls.set(k, n);
        out[String(id)] = (opts.ackStatus ?? (() => true))(id as number, n);
      }
      return json(res, 200, { acks: out });
    }
    if (!['/services/collector/event', '/services/collector/event/1.0', '/services/collector'].includes(u.pathname)) {
      return json(res, 404, { text: 'The requested URL was not found on this server.', code: 404 });
    }
    const r: HecRequest = { path: u.pathname, headers: req.headers, raw, objects: splitObjects(raw.toString('utf8')) };
    requests.push(r);
    const forced = opts.onEvent?.(r, requests.length);
    if (forced) return json(res, forced.status, forced.body ?? {}, forced.headers);
    if (opts.maxContentLength !== undefined && raw.length > opts.maxContentLength) {
      res.writeHead(413, { 'content-type': 'text/plain' });
      return res.end('Content-Length of ' + raw.length + ' too large (maximum is ' + opts.maxContentLength + ')');
    }
    if (opts.acks && channel === undefined) return json(res, 400, { text: 'Data channel is missing', code: 10 });
    if (r.objects.length === 0) return json(res, 400, { text: 'No data', code: 5 });
    const accepted: Record<string, unknown>[] = [];
    for (let i = 0; i < r.objects.length; i++) {
      const bad = (text: string, code: number) => json(res, 400, hint ? { text, code, 'invalid-event-number': i } : { text, code });
      let o: unknown;
      try {
        o = JSON.parse(r.objects[i]!);
      } catch {
        return bad('Invalid data format', 6);
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return bad('Invalid data format', 6);
      const env = o as Record<string, unknown>;
      if (!('event' in env)) return bad('Event field is required', 12);
      if (env.event === '' || env.event === null) return bad('Event field cannot be blank', 13);
      accepted.push(env);
    }
    envelopes.push(...accepted);
    if (opts.acks) {
      const id = nextAck.get(channel!) ?? 0;
      nextAck.set(channel!, id + 1);
      return json(res, 200, { text: 'Success', code: 0, ackId: id });
    }
    return json(res, 200, { text: 'Success', code: 0 });
  }, opts.tls);
  return { ...l, requests, envelopes, ackPolls };
}

// ------------------------------------------------------------- Elasticsearch

export interface BulkAction {
  op: string;
  meta: Record<string, unknown>;
  /** The source line as sent. */
  source: string;
}

export interface EsRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: Buffer;
  actions: BulkAction[];
}

export interface EsServerOptions {
  tls?: TlsFiles;
  /** The exact `Authorization` header required (401 otherwise). */
  authorization?: string;
  /** Answer 413 (no body, as Elasticsearch's `http.max_content_length` check does) to bigger bodies. */
  maxContentLength?: number;
  /** Force the answer to a whole request (after it was recorded). */
  onBulk?: (r: EsRequest, n: number) => Reply | undefined;
  /** Force one item's status and error (position in the request, running position over all requests). */
  itemStatus?: (a: BulkAction, pos: number, seq: number) => { status: number; error?: { type: string; reason: string } } | undefined;
}

export interface EsServer extends Listening {
  requests: EsRequest[];
  /** Stored documents by `<index>/<_id>`: the source text. */
  docs: Map<string, string>;
}

export async function startEsServer(opts: EsServerOptions = {}): Promise<EsServer> {
  const requests: EsRequest[] = [];
  const docs = new Map<string, string>();
  let seq = 0;
  const l = await listen(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    if (opts.authorization !== undefined && req.headers.authorization !== opts.authorization) {
      return json(res, 401, {
        error: { root_cause: [{ type: 'security_exception', reason: 'unable to authenticate with provided credentials and anonymous access is not allowed for this request' }], type: 'security_exception', reason: 'unable to authenticate with provided credentials and anonymous access is not allowed for this request' },
        status: 401,
      }, { 'www-authenticate': 'ApiKey, Basic realm="security", charset="UTF-8"' });
    }
    const pm = /^(?:\/([^/_][^/]*))?\/_bulk$/.exec(u.pathname);
    if (req.method !== 'POST' && req.method !== 'PUT') return json(res, 405, { error: `Incorrect HTTP method for uri [${u.pathname}] and method [${req.method}], allowed: [POST, PUT]`, status: 405 });
    if (!pm) return json(res, 404, { error: { type: 'index_not_found_exception', reason: `no such index [${u.pathname}]` }, status: 404 });
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^application\/(x-ndjson|json)/.test(ct)) return json(res, 406, { error: `Content-Type header [${ct}] is not supported`, status: 406 });
    const r: EsRequest = { path: u.pathname, query: u.searchParams, headers: req.headers, raw, actions: [] };
    requests.push(r);
    const forced = opts.onBulk?.(r, requests.length);
    if (forced) return json(res, forced.status, forced.body ?? {}, forced.headers);
    if (opts.maxContentLength !== undefined && raw.length > opts.maxContentLength) {
      res.writeHead(413);
      return res.end();
    }
    const text = raw.toString('utf8');
    if (!text.endsWith('\n')) {
      return json(res, 400, { error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }, status: 400 });
    }
    const lines = text.slice(0, -1).split('\n');
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i += 2) {
      let action: Record<string, Record<string, unknown>>;
      try {
        action = JSON.parse(lines[i]!) as Record<string, Record<string, unknown>>;
      } catch (e) {
        return json(res, 400, { error: { type: 'x_content_parse_exception', reason: `[1:1] Malformed action/metadata line [${i + 1}]: ${(e as Error).message}` }, status: 400 });
      }
      const op = Object.keys(action)[0]!;
      const meta = action[op]!;
      const source = lines[i + 1];
      if (source === undefined) return json(res, 400, { error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }, status: 400 });
      const a: BulkAction = { op, meta, source };
      r.actions.push(a);
      const index = (meta._index as string | undefined) ?? pm[1];
      const id = meta._id as string;
      let status: number;
      let error: { type: string; reason: string } | undefined;
      const forcedItem = opts.itemStatus?.(a, r.actions.length - 1, seq++);
      if (forcedItem) ({ status, error } = forcedItem);
      else {
        let doc: unknown;
        try {
          doc = JSON.parse(source);
        } catch {
          doc = undefined;
        }
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
          status = 400;
          error = { type: 'document_parsing_exception', reason: '[1:2] failed to parse' };
        } else if (op === 'create' && docs.has(`${index}/${id}`)) {
          status = 409;
          error = { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` };
        } else {
          docs.set(`${index}/${id}`, source);
          status = 201;
        }
      }
      if (status >= 300) errors = true;
      items.push({ [op]: error ? { _index: index, _id: id, status, error } : { _index: index, _id: id, _version: 1, result: 'created', status } });
    }
    return json(res, 200, { took: 3, errors, items });
  }, opts.tls);
  return { ...l, requests, docs };
}

// ----------------------------------------------------------- hostile servers

/** A server that answers each request with `handler` (which may never answer). */
export async function startRawServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  return listen((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
}

// ------------------------------------------------------------------- records

/**
 * The golden expected events of `pcaps/`, each a real event line. They get
 * an `event.id` (the lead is adding it to the writer) when they lack one:
 * `tlsentry.flow.id` or the x509 fingerprint plus a sequence number, unique.
 */
export function goldenRecords(): EventRecord[] {
  const dir = join(import.meta.dirname, '../../../pcaps');
  const out: EventRecord[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.expected.ndjson')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const o = JSON.parse(line) as { event: { id?: string }; tlsentry?: { flow?: { id?: string }; x509?: { sha256?: string } } };
      if (o.event.id === undefined) {
        const base = o.tlsentry?.flow?.id ?? o.tlsentry?.x509?.sha256?.slice(0, 16) ?? 'ev';
        o.event.id = `${base}-${out.length}`;
      }
      out.push({ id: o.event.id, line: Buffer.from(JSON.stringify(o)) });
    }
  }
  return out;
}

/** `n` records: the golden events over and over, each with its own `event.id`. */
export function manyRecords(n: number, prefix = 'r'): EventRecord[] {
  const g = goldenRecords().map((r) => JSON.parse(r.line.toString()) as { event: { id: string } });
  const out: EventRecord[] = [];
  for (let i = 0; i < n; i++) {
    const o = g[i % g.length]!;
    o.event.id = `${prefix}${i}`;
    out.push({ id: o.event.id, line: Buffer.from(JSON.stringify(o)) });
  }
  return out;
}

// ---------------------------------------------------------------- certificates

/** A private CA and a server certificate it signed for 127.0.0.1 / localhost (openssl). */
export function makePrivateCa(dir: string, name = 'ca'): { caPem: Buffer; caFile: string; server: TlsFiles } {
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const f = (s: string): string => join(dir, `${name}-${s}`);
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '30', '-subj', `/CN=tlsentry test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('srv.pem'), '-days', '30', '-extfile', f('ext.cnf')]);
  return { caPem: readFileSync(f('ca.pem')), caFile: f('ca.pem'), server: { key: readFileSync(f('srv.key')), cert: readFileSync(f('srv.pem')) } };
}
