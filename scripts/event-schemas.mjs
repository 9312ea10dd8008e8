// Validation of tlsentry NDJSON events against the published JSON Schemas
// (schemas/*.schema.json, made by `npm run schemas`). Plain JavaScript so
// scripts/run-tests.mjs can use it without tsx; the tests use it too
// (types in event-schemas.d.mts).
import { closeSync, createReadStream, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

export const SCHEMA_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

/** Event kinds, each with its schema file. `flow` and `interim` share `event.dataset: tlsentry.flow`. */
export const KINDS = {
  flow: 'tlsentry.flow.schema.json',
  interim: 'tlsentry.flow.interim.schema.json',
  x509: 'tlsentry.x509.schema.json',
  alert: 'tlsentry.alert.schema.json',
  stats: 'tlsentry.stats.schema.json',
};

/** Which schema an event is held to: by `event.dataset`, and `event.type` for interim flow reports. Null: not a tlsentry event. */
export function kindOf(ev) {
  const e = ev !== null && typeof ev === 'object' ? ev.event : undefined;
  const dataset = e !== null && typeof e === 'object' ? e.dataset : undefined;
  switch (dataset) {
    case 'tlsentry.flow':
      return Array.isArray(e.type) && e.type.includes('info') ? 'interim' : 'flow';
    case 'tlsentry.x509':
      return 'x509';
    case 'tlsentry.alert':
      return 'alert';
    case 'tlsentry.stats':
      return 'stats';
    default:
      return null;
  }
}

/** One compiled validator per kind. */
export function loadValidators(dir = SCHEMA_DIR) {
  // strict: a schema keyword ajv does not know is an error, not silently ignored.
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv, ['date-time']);
  const out = {};
  for (const [kind, file] of Object.entries(KINDS)) out[kind] = ajv.compile(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  return out;
}

/** Ajv's errors as short lines (`/event/type: must be equal to constant`). */
export function describeErrors(errors, max = 8) {
  const lines = (errors ?? []).slice(0, max).map((e) => {
    const extra = e.params && Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : '';
    return `${e.instancePath || '/'}: ${e.message}${extra}`;
  });
  if ((errors ?? []).length > max) lines.push(`… ${errors.length - max} more`);
  return lines;
}

/**
 * Validate one event object. Returns null when valid, else a list of problems.
 * `validators` from loadValidators().
 */
export function validateEvent(validators, ev) {
  const kind = kindOf(ev);
  if (kind === null) return { kind: null, problems: [`unknown event.dataset ${JSON.stringify(ev?.event?.dataset)}`] };
  const v = validators[kind];
  if (v(ev)) return { kind, problems: null };
  return { kind, problems: describeErrors(v.errors) };
}

/**
 * Validate every line of every *.ndjson file in `dir`. A final line without
 * its newline is a write cut short by a killed process: it is counted in
 * `truncated` when it does not parse, not reported as invalid.
 */
export async function validateDir(dir, validators = loadValidators(), maxInvalid = 5) {
  const counts = { total: 0, flow: 0, interim: 0, x509: 0, alert: 0, stats: 0 };
  const invalid = [];
  let invalidCount = 0;
  let truncated = 0;
  let files = 0;
  let names = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.ndjson')).sort();
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const check = (name, lineNo, line, cutShort) => {
    if (line.length === 0) return;
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      if (cutShort) {
        truncated++;
        return;
      }
      invalidCount++;
      if (invalid.length < maxInvalid) invalid.push({ where: `${name}:${lineNo}`, problems: ['not JSON'], line: line.slice(0, 300) });
      return;
    }
    const r = validateEvent(validators, ev);
    counts.total++;
    if (r.kind !== null) counts[r.kind]++;
    if (r.problems !== null) {
      invalidCount++;
      if (invalid.length < maxInvalid) invalid.push({ where: `${name}:${lineNo}`, kind: r.kind, problems: r.problems, line: line.slice(0, 300) });
    }
  };
  for (const name of names) {
    files++;
    const path = join(dir, name);
    const unterminated = !endsWithNewline(path);
    // Line by line, one line behind (to know the last one): the tap can be large.
    const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let lineNo = 0;
    let prev = null;
    for await (const line of rl) {
      if (prev !== null) check(name, lineNo, prev, false);
      prev = line;
      lineNo++;
    }
    if (prev !== null) check(name, lineNo, prev, unterminated);
  }
  return { files, counts, invalid, invalidCount, truncated };
}

function endsWithNewline(path) {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return true;
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** The one-line summary run-tests prints. */
export function summaryLine(r) {
  const c = r.counts;
  return (
    `events validated: ${c.total} (flow ${c.flow + c.interim}, x509 ${c.x509}, alert ${c.alert}, stats ${c.stats}; ` +
    `${c.interim} of the flow events interim) from ${r.files} tap file(s)` +
    (r.truncated > 0 ? `; ${r.truncated} final line(s) cut short by a killed writer skipped` : '') +
    (r.invalidCount > 0 ? `; ${r.invalidCount} INVALID` : '')
  );
}
