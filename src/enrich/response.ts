/**
 * Checks an agent's answer before the sensor trusts it: the agent is another
 * program on another host, and its answers are input like any other.
 */
import type { AttributionResult, EndpointProcess } from '../shared/endpoint-api.js';

const STATUSES = new Set(['matched', 'ambiguous', 'not_found', 'host_unknown']);
const METHODS = new Set(['exact_5tuple', 'socket_table', 'dst_time_window']);

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** Why `p` is not an EndpointProcess, or null when it is one. */
export function processProblem(p: unknown): string | null {
  if (!isObj(p)) return 'process is not an object';
  if (typeof p.uid !== 'string') return 'process.uid';
  if (typeof p.pid !== 'number' || !Number.isFinite(p.pid)) return 'process.pid';
  for (const k of ['start_time', 'executable', 'name', 'command_line', 'user'] as const) if (!strOrNull(p[k])) return `process.${k}`;
  if (p.parent !== null && (!isObj(p.parent) || typeof p.parent.pid !== 'number' || !strOrNull(p.parent.executable) || !strOrNull(p.parent.command_line))) return 'process.parent';
  if (p.hash !== null && !isObj(p.hash)) return 'process.hash';
  if (isObj(p.hash)) for (const v of Object.values(p.hash)) if (typeof v !== 'string') return 'process.hash';
  if (p.code_signature !== null && (!isObj(p.code_signature) || typeof p.code_signature.signed !== 'boolean' || !strOrNull(p.code_signature.subject))) return 'process.code_signature';
  if (!Array.isArray(p.tls_libraries)) return 'process.tls_libraries';
  for (const l of p.tls_libraries) {
    if (!isObj(l) || typeof l.path !== 'string' || typeof l.category !== 'string' || !strOrNull(l.load_time)) return 'process.tls_libraries[]';
    if (l.loaded_before_flow !== null && typeof l.loaded_before_flow !== 'boolean') return 'process.tls_libraries[].loaded_before_flow';
  }
  if (!strOrNull(p.static_tls_stack)) return 'process.static_tls_stack';
  if (!Array.isArray(p.annotations)) return 'process.annotations';
  for (const a of p.annotations) if (!isObj(a) || typeof a.kind !== 'string' || typeof a.time !== 'string' || !isObj(a.detail)) return 'process.annotations[]';
  return null;
}

/** Why `r` is not a valid result for query `id`, or null. */
export function resultProblem(r: unknown, id: string): string | null {
  if (!isObj(r)) return 'result is not an object';
  if (r.id !== id) return 'result id does not match the query at this position';
  if (typeof r.status !== 'string' || !STATUSES.has(r.status)) return 'status';
  if (r.method !== null && (typeof r.method !== 'string' || !METHODS.has(r.method))) return 'method';
  if (typeof r.confidence !== 'number' || !(r.confidence >= 0 && r.confidence <= 1)) return 'confidence';
  if (r.host !== null && (!isObj(r.host) || typeof r.host.ip !== 'string' || !strOrNull(r.host.name))) return 'host';
  if (r.process !== null) {
    const pp = processProblem(r.process);
    if (pp) return pp;
  }
  if (r.status === 'matched' && r.process === null) return 'matched without a process';
  if (!Array.isArray(r.candidates)) return 'candidates';
  for (const c of r.candidates) {
    const cp = processProblem(c);
    if (cp) return `candidates[]: ${cp}`;
  }
  if (!Array.isArray(r.warnings) || r.warnings.some((w) => typeof w !== 'string')) return 'warnings';
  return null;
}

export type BatchCheck = { ok: true; results: (AttributionResult | null)[]; problems: (string | null)[] } | { ok: false; problem: string };

/**
 * Check a whole answer for the queries `ids` (in order). A wrong envelope or
 * count fails the batch; a single bad result only fails its own query
 * (null at its position).
 */
export function checkAttributionResponse(body: unknown, ids: string[]): BatchCheck {
  if (!isObj(body) || !Array.isArray(body.results)) return { ok: false, problem: 'no results array' };
  if (body.results.length !== ids.length) return { ok: false, problem: `expected ${ids.length} results, got ${body.results.length}` };
  const results: (AttributionResult | null)[] = [];
  const problems: (string | null)[] = [];
  for (let i = 0; i < ids.length; i++) {
    const p = resultProblem(body.results[i], ids[i]);
    problems.push(p);
    results.push(p ? null : (body.results[i] as AttributionResult));
  }
  return { ok: true, results, problems };
}

export type { EndpointProcess };
