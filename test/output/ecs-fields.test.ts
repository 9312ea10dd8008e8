/**
 * ECS field names and types, checked against ECS's own field definitions
 * (data/ecs-fields.csv, from elastic/ecs generated/csv/fields.csv): every
 * field outside `tlsentry.*` of real events, and of the published schemas
 * (which also hold fields no sample has), must be an ECS field with a
 * compatible JSON type, a list only where ECS says the field is an array, and
 * an ISO 8601 string where ECS says date. All violations are reported at once.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readEcsFields, schemaLeaves, type EcsField, type JsonSchema } from '../../scripts/gen-schemas.js';
import { KINDS } from '../../scripts/event-schemas.mjs';
import { builtSamples, goldenSamples, type Sample } from './schema-samples.js';

const ecs = readEcsFields();

/** The JSON type an ECS (Elasticsearch) field type takes in an event. */
function jsonTypeOf(ecsType: string): 'string' | 'number' | 'boolean' | 'object' {
  switch (ecsType) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'ip':
    case 'date':
    case 'text':
    case 'match_only_text':
      return 'string';
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'float':
    case 'half_float':
    case 'scaled_float':
    case 'double':
    case 'unsigned_long':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
    case 'flattened':
    case 'nested':
    case 'geo_point':
      return 'object';
    default:
      throw new Error(`ECS type ${ecsType} has no JSON type here`);
  }
}

/** ISO 8601 date-time with a zone (what Elasticsearch's default date format, strict_date_optional_time, reads). */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const parents = new Set([...ecs.keys()].flatMap((k) => k.split('.').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('.'))));
function hasChildren(path: string): boolean {
  return parents.has(path);
}

interface Walked {
  checked: Set<string>;
  violations: string[];
}

/** Walks one event's fields; `where` names the event in messages. */
function walkEvent(ev: Record<string, unknown>, where: string, out: Walked): void {
  const visit = (v: unknown, path: string, inList: boolean): void => {
    if (path === 'tlsentry' || path.startsWith('tlsentry.')) return;
    const f: EcsField | undefined = ecs.get(path);
    if (Array.isArray(v)) {
      if (f === undefined) {
        out.violations.push(`${where}: ${path}: not an ECS field`);
        return;
      }
      if (!f.array && f.type !== 'nested') out.violations.push(`${where}: ${path}: a list, but ECS ${path} is not an array field`);
      for (const x of v) visit(x, path, true);
      return;
    }
    if (v !== null && typeof v === 'object') {
      // A plain object: an ECS flattened field, or an object field ECS defines nothing under (`labels`),
      // is a leaf; anything else (`observer.ingress`, `dns.answers`) is a branch of deeper fields.
      if (f !== undefined && jsonTypeOf(f.type) === 'object' && !hasChildren(path)) {
        out.checked.add(path);
        return;
      }
      if (f !== undefined && jsonTypeOf(f.type) !== 'object') out.violations.push(`${where}: ${path}: an object, but ECS ${path} is ${f.type}`);
      for (const [k, x] of Object.entries(v)) visit(x, path === '' ? k : `${path}.${k}`, inList);
      return;
    }
    if (f === undefined) {
      out.violations.push(`${where}: ${path}: not an ECS field`);
      return;
    }
    out.checked.add(path);
    const want = jsonTypeOf(f.type);
    const got = v === null ? 'null' : typeof v;
    if (got !== want) out.violations.push(`${where}: ${path}: ${got} ${JSON.stringify(v)}, ECS type ${f.type} wants a ${want}`);
    else if (f.type === 'date' && !ISO.test(v as string)) out.violations.push(`${where}: ${path}: ${JSON.stringify(v)} is not an ISO 8601 date-time`);
    else if (['long', 'integer', 'short', 'byte', 'unsigned_long'].includes(f.type) && !Number.isInteger(v)) out.violations.push(`${where}: ${path}: ${v} is not an integer (ECS ${f.type})`);
  };
  visit(ev, '', false);
}

let samples: Sample[];
before(async () => {
  samples = [...goldenSamples(), ...(await builtSamples())];
});

describe('ECS fields (against ECS’s own definitions)', () => {
  it('the ECS field list is ECS’s: loaded whole, with the fields and types we rely on', () => {
    assert.ok(ecs.size > 1700, `ECS fields: ${ecs.size}`);
    assert.deepEqual(ecs.get('source.ip'), { type: 'ip', array: false });
    assert.deepEqual(ecs.get('event.category'), { type: 'keyword', array: true });
    assert.deepEqual(ecs.get('tls.server.x509.alternative_names'), { type: 'keyword', array: true });
    assert.equal(ecs.get('process.command_line')?.type, 'wildcard');
    assert.equal(ecs.get('x509.subject.common_name'), undefined, 'ECS has no root x509.*');
    assert.equal(ecs.get('rule.name')?.array, false);
  });

  it('every non-tlsentry field of every golden and built event is ECS, with a compatible type', (t) => {
    const w: Walked = { checked: new Set(), violations: [] };
    for (const s of samples) walkEvent(s.event, s.name, w);
    t.diagnostic(`${samples.length} events, ${w.checked.size} distinct ECS fields checked, ${w.violations.length} violations`);
    assert.deepEqual(w.violations, []);
    assert.ok(w.checked.size >= 80, `ECS fields seen: ${w.checked.size}`);
    for (const f of ['tls.server.x509.subject.common_name', 'tls.client.x509.serial_number', 'process.parent.pid', 'observer.ingress.interface.name', 'threat.technique.id', 'rule.name', 'log.level']) {
      assert.ok(w.checked.has(f), `a sample has ${f}`);
    }
  });

  it('the walk catches a violation of each kind', () => {
    const w: Walked = { checked: new Set(), violations: [] };
    walkEvent(
      {
        '@timestamp': '2025-06-01 12:00:00',
        x509: { serial_number: '1' },
        rule: { name: ['a', 'b'] },
        source: { port: '443', bytes: 1.5 },
        event: { category: 'network' },
        tlsentry: { anything: [1, 'x'] },
      },
      'bad',
      w,
    );
    assert.deepEqual(w.violations.sort(), [
      'bad: @timestamp: "2025-06-01 12:00:00" is not an ISO 8601 date-time',
      'bad: rule.name: a list, but ECS rule.name is not an array field',
      'bad: source.bytes: 1.5 is not an integer (ECS long)',
      'bad: source.port: string "443", ECS type long wants a number',
      'bad: x509.serial_number: not an ECS field',
    ]);
  });

  it('every non-tlsentry field the schemas allow is ECS (optional fields included)', (t) => {
    const schemas = Object.values(KINDS).map((f) => JSON.parse(readFileSync(`schemas/${f}`, 'utf8')) as JsonSchema);
    const bad: string[] = [];
    let n = 0;
    for (const l of schemaLeaves(schemas).values()) {
      if (l.path.startsWith('tlsentry.')) continue;
      n++;
      const f = ecs.get(l.path);
      if (f === undefined) {
        bad.push(`${l.path}: not an ECS field`);
        continue;
      }
      const want = jsonTypeOf(f.type);
      const types = [...l.types].map((x) => (x === 'integer' ? 'number' : x));
      if (types.some((x) => x !== want)) bad.push(`${l.path}: schema ${types.join('|')}, ECS ${f.type}`);
      if (l.array && !f.array) bad.push(`${l.path}: a list in the schema, not an array in ECS`);
      if (f.type === 'date' && !l.dateTime) bad.push(`${l.path}: ECS date without format date-time in the schema`);
    }
    t.diagnostic(`${n} ECS fields in the schemas`);
    assert.ok(n > 60, `ECS fields in the schemas: ${n}`);
    assert.deepEqual(bad, []);
  });
});
