/**
 * Validation of `POST /v1/attribution` bodies. Hostile input is normal: the
 * result is either the normalised queries or a list of problems, never an
 * exception.
 */
import type { NormalizedQuery } from './backend.js';
import { normalizeIp } from './ip.js';
import type { AttributionQuery } from '../shared/endpoint-api.js';

export const MAX_FLOWS = 500;
export const MAX_ID_LENGTH = 256;

export interface Problem {
  index?: number;
  field?: string;
  message: string;
}

export type ValidateResult = { ok: true; queries: NormalizedQuery[] } | { ok: false; status: 400 | 413; code: string; message: string; problems: Problem[] };

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i;

export function parseTs(s: unknown): number | null {
  if (typeof s !== 'string' || s.length > 40 || !RFC3339.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
}

export function validateAttributionRequest(body: unknown): ValidateResult {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, status: 400, code: 'bad_request', message: 'body must be a JSON object { "flows": [...] }', problems: [] };
  }
  const flows = (body as { flows?: unknown }).flows;
  if (!Array.isArray(flows)) return { ok: false, status: 400, code: 'bad_request', message: '"flows" must be an array', problems: [{ field: 'flows', message: 'not an array' }] };
  if (flows.length === 0) return { ok: false, status: 400, code: 'bad_request', message: '"flows" is empty', problems: [{ field: 'flows', message: 'empty' }] };
  if (flows.length > MAX_FLOWS) {
    return { ok: false, status: 413, code: 'too_many_flows', message: `at most ${MAX_FLOWS} flows per request (got ${flows.length})`, problems: [] };
  }
  const problems: Problem[] = [];
  const queries: NormalizedQuery[] = [];
  for (let i = 0; i < flows.length && problems.length < 20; i++) {
    const f = flows[i] as Partial<Record<keyof AttributionQuery, unknown>> | null;
    if (!f || typeof f !== 'object' || Array.isArray(f)) {
      problems.push({ index: i, message: 'flow must be an object' });
      continue;
    }
    const before = problems.length;
    if (typeof f.id !== 'string' || f.id.length === 0 || f.id.length > MAX_ID_LENGTH) problems.push({ index: i, field: 'id', message: `string of 1..${MAX_ID_LENGTH} characters` });
    if (f.proto !== 'tcp' && f.proto !== 'udp') problems.push({ index: i, field: 'proto', message: '"tcp" or "udp"' });
    const src = normalizeIp(f.src_ip);
    const dst = normalizeIp(f.dst_ip);
    if (!src) problems.push({ index: i, field: 'src_ip', message: 'IPv4 or IPv6 address' });
    if (!dst) problems.push({ index: i, field: 'dst_ip', message: 'IPv4 or IPv6 address' });
    if (!isPort(f.src_port)) problems.push({ index: i, field: 'src_port', message: 'integer 0..65535' });
    if (!isPort(f.dst_port)) problems.push({ index: i, field: 'dst_port', message: 'integer 0..65535' });
    const ts = parseTs(f.ts);
    if (ts === null) problems.push({ index: i, field: 'ts', message: 'RFC 3339 time' });
    if (problems.length > before) continue;
    queries.push({
      id: f.id as string,
      proto: f.proto as 'tcp' | 'udp',
      srcIp: src!,
      srcPort: f.src_port as number,
      dstIp: dst!,
      dstPort: f.dst_port as number,
      tsMs: ts!,
      raw: f as AttributionQuery,
    });
  }
  if (problems.length > 0) return { ok: false, status: 400, code: 'invalid_flows', message: 'some flows are invalid', problems };
  return { ok: true, queries };
}
