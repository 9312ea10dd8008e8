/**
 * The endpoint API over HTTP(S) (api/openapi.yaml): bearer-token auth on
 * every route, bodies capped, at most 500 flows per batch, bounded
 * concurrency. Every answer is JSON; every failure is an ErrorResponse.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

import type { AttributionResponse, ErrorResponse, HealthResponse, ProcessResponse } from '../shared/endpoint-api.js';
import type { AttributionBackend } from './backend.js';
import { validateAttributionRequest, type Problem } from './validate.js';

export interface AgentServerOptions {
  /** The bearer token, or null to serve without authentication (explicit --insecure-no-auth). */
  token: string | null;
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Request bodies above this are refused with 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Attribution requests served at once; more get 503 (default 32). */
  maxConcurrent?: number;
  version: string;
}

export interface AgentServerStats {
  requests: number;
  attributionRequests: number;
  flows: number;
  unauthorized: number;
  badRequests: number;
  tooLarge: number;
  errors: number;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function createAgentServer(backend: AttributionBackend, opts: AgentServerOptions): { server: Server; stats: AgentServerStats } {
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const maxConcurrent = opts.maxConcurrent ?? 32;
  const tokenDigest = opts.token === null ? null : digest(opts.token);
  const stats: AgentServerStats = { requests: 0, attributionRequests: 0, flows: 0, unauthorized: 0, badRequests: 0, tooLarge: 0, errors: 0 };
  let inFlight = 0;

  const authorized = (req: IncomingMessage): boolean => {
    if (tokenDigest === null) return true;
    const h = req.headers.authorization;
    if (typeof h !== 'string' || h.length > 4096) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return false;
    return timingSafeEqual(digest(m[1]), tokenDigest);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests++;
    handle(req, res).catch((e: unknown) => {
      stats.errors++;
      if (!res.headersSent) sendError(res, 500, 'internal', `internal error: ${(e as Error)?.message ?? 'unknown'}`);
      else res.destroy();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent');
    } catch {
      stats.badRequests++;
      sendError(res, 400, 'bad_request', 'bad request target', [], true);
      return;
    }
    const path = url.pathname;
    if (!authorized(req)) {
      stats.unauthorized++;
      res.setHeader('WWW-Authenticate', 'Bearer realm="tlsentry-agent"');
      sendError(res, 401, 'unauthorized', 'missing or invalid bearer token', [], true);
      return;
    }
    if (path === '/v1/health') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      const b = backend.health();
      const body: HealthResponse = { status: b.lag_seconds !== null && b.lag_seconds > 60 && b.name === 'procfs' ? 'degraded' : 'ok', version: opts.version, backends: [b] };
      send(res, 200, body);
      return;
    }
    if (path === '/v1/attribution') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      stats.attributionRequests++;
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBody) {
        stats.tooLarge++;
        sendError(res, 413, 'body_too_large', `request body above ${maxBody} bytes`, [], true);
        return;
      }
      if (inFlight >= maxConcurrent) {
        res.setHeader('Retry-After', '1');
        sendError(res, 503, 'busy', 'too many attribution requests at once', [], true);
        return;
      }
      inFlight++;
      try {
        const raw = await readBody(req, maxBody);
        if (raw === null) {
          stats.tooLarge++;
          sendError(res, 413, 'body_too_large', `request body above ${maxBody} bytes`, [], true);
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          stats.badRequests++;
          sendError(res, 400, 'bad_json', 'body is not valid JSON');
          return;
        }
        const v = validateAttributionRequest(parsed);
        if (!v.ok) {
          if (v.status === 413) stats.tooLarge++;
          else stats.badRequests++;
          sendError(res, v.status, v.code, v.message, v.problems);
          return;
        }
        stats.flows += v.queries.length;
        const results = await backend.attribute(v.queries);
        const body: AttributionResponse = { results };
        send(res, 200, body);
      } finally {
        inFlight--;
      }
      return;
    }
    if (path.startsWith('/v1/processes/')) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      let uid: string;
      try {
        uid = decodeURIComponent(path.slice('/v1/processes/'.length));
      } catch {
        stats.badRequests++;
        sendError(res, 400, 'bad_request', 'bad uid encoding');
        return;
      }
      if (uid.length === 0 || uid.length > 256) {
        stats.badRequests++;
        sendError(res, 400, 'bad_request', 'uid must be 1..256 characters');
        return;
      }
      const limitRaw = url.searchParams.get('limit');
      const limit = limitRaw === null ? 100 : Number(limitRaw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        stats.badRequests++;
        sendError(res, 400, 'bad_request', 'limit must be an integer 1..1000', [{ field: 'limit', message: 'integer 1..1000' }]);
        return;
      }
      const cursor = url.searchParams.get('cursor');
      let offset = 0;
      if (cursor !== null) {
        offset = decodeCursor(cursor);
        if (offset < 0) {
          stats.badRequests++;
          sendError(res, 400, 'bad_request', 'bad cursor', [{ field: 'cursor', message: 'not a cursor from this API' }]);
          return;
        }
      }
      const detail = backend.process(uid);
      if (!detail) {
        sendError(res, 404, 'not_found', 'no process with this uid');
        return;
      }
      const page = detail.modules.slice(offset, offset + limit);
      const next = offset + limit < detail.modules.length ? encodeCursor(offset + limit) : null;
      const body: ProcessResponse = { process: detail.process, modules: page, page: { limit, cursor, next_cursor: next, total: detail.modules.length } };
      send(res, 200, body);
      return;
    }
    sendError(res, 404, 'not_found', 'no such route');
  }

  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createHttpServer(handler);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return { server, stats };
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(c: string): number {
  if (c.length > 32) return -1;
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(c, 'base64url').toString('latin1'));
  return m ? Number(m[1]) : -1;
}

/** The body, or null when it exceeds `max` (the rest is not read; the connection will close). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        done = true;
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
    req.on('aborted', () => {
      if (!done) {
        done = true;
        reject(new Error('client aborted'));
      }
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (close) res.setHeader('Connection', 'close');
  res.end(text);
  if (close) res.once('finish', () => res.socket?.destroySoon?.());
}

function sendError(res: ServerResponse, status: number, code: string, message: string, details: Problem[] = [], close = false): void {
  const body: ErrorResponse = { error: { code, message, ...(details.length ? { details } : {}) } };
  send(res, status, body, close);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendError(res, 405, 'method_not_allowed', `use ${allow}`);
}
