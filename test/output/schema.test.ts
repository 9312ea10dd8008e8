/**
 * The published JSON Schemas (schemas/*.schema.json): generated from
 * src/output/schema.ts and committed unchanged; every golden event and every
 * kind of built event validates; a wrong event does not.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateAll, EVENT_SCHEMAS, schemaLeaves, readEcsFields, TEMPLATE_FILE, type JsonSchema } from '../../scripts/gen-schemas.js';
import { describeErrors, kindOf, KINDS, loadValidators, validateEvent, type Validators } from '../../scripts/event-schemas.mjs';
import { ECS_VERSION } from '../../src/output/writer.js';
import type { EcsVersion } from '../../src/output/schema.js';
import { builtSamples, goldenSamples, type Ev, type Sample } from './schema-samples.js';

// The writer's constant must be the schema's literal (a compile error otherwise).
const writerVersion: EcsVersion = ECS_VERSION;

let validators: Validators;
let built: Sample[];
before(async () => {
  validators = loadValidators();
  built = await builtSamples();
});

function clone(e: Ev): Ev {
  return JSON.parse(JSON.stringify(e));
}

/** Every problem (run-tests prints the first few only). */
function problems(e: Ev): string[] {
  const kind = kindOf(e);
  if (kind === null) return validateEvent(validators, e).problems ?? [];
  const v = validators[kind];
  return v(e) ? [] : describeErrors(v.errors, 1000);
}

describe('published JSON Schemas', () => {
  it('schemas/ and the index template are what src/output/schema.ts generates (run npm run schemas)', () => {
    const gen = generateAll();
    assert.equal(gen.size, EVENT_SCHEMAS.length + 1);
    for (const [rel, text] of gen) assert.equal(readFileSync(rel, 'utf8'), text, `${rel} is stale: run npm run schemas`);
  });

  it('one schema per kind of event, pinned to the writer’s ECS version', () => {
    assert.deepEqual(Object.values(KINDS).sort(), EVENT_SCHEMAS.map((s) => s.file).sort());
    for (const file of Object.values(KINDS)) {
      const s = JSON.parse(readFileSync(`schemas/${file}`, 'utf8')) as JsonSchema;
      const text = JSON.stringify(s);
      assert.ok(text.includes(`"const":"${writerVersion}"`), `${file}: ecs.version is ${writerVersion}`);
      assert.ok(text.includes('"additionalProperties":false'), `${file} is strict`);
    }
  });

  it('every golden event validates', () => {
    const samples = goldenSamples();
    assert.ok(samples.length >= 25, `golden events: ${samples.length}`);
    const bad = samples.flatMap((s) => problems(s.event).map((p) => `${s.name}: ${p}`));
    assert.deepEqual(bad, []);
    const kinds = new Set(samples.map((s) => kindOf(s.event)));
    assert.ok(kinds.has('flow') && kinds.has('x509'), 'golden files hold flow and x509 events');
  });

  it('every built event validates: flow with process, interim, client certificate, alerts, stats, drops', () => {
    const bad = built.flatMap((s) => problems(s.event).map((p) => `${s.name}: ${p}`));
    assert.deepEqual(bad, []);
    const kinds = built.map((s) => kindOf(s.event));
    for (const k of ['flow', 'interim', 'x509', 'alert', 'stats'] as const) assert.ok(kinds.includes(k), `a built ${k} event`);
  });

  it('events are routed by event.dataset, and event.type for interim reports', () => {
    assert.equal(kindOf({ event: { dataset: 'tlsentry.flow', type: ['connection', 'end'] } }), 'flow');
    assert.equal(kindOf({ event: { dataset: 'tlsentry.flow', type: ['connection', 'info'] } }), 'interim');
    assert.equal(kindOf({ event: { dataset: 'tlsentry.stats' } }), 'stats');
    assert.equal(kindOf({ event: { dataset: 'zeek.conn' } }), null);
    assert.equal(kindOf('not an event'), null);
    assert.ok(problems({ event: { dataset: 'zeek.conn' } }).length > 0, 'an unknown dataset is invalid');
  });

  describe('a wrong event fails', () => {
    const byName = (n: string) => clone(built.find((s) => s.name === n)!.event);
    const golden = () => clone(goldenSamples().find((s) => kindOf(s.event) === 'flow' && s.event.tls !== undefined)!.event);

    const cases: [string, () => Ev, (e: Ev) => void, RegExp][] = [
      ['wrong type: port as a string', golden, (e) => (e.source.port = '443'), /\/source\/port: must be integer/],
      ['wrong type: fractional byte count', golden, (e) => (e.destination.bytes = 1.5), /\/destination\/bytes: must be integer/],
      ['port out of range', golden, (e) => (e.destination.port = 70000), /\/destination\/port: must be <= 65535/],
      ['unknown field', golden, (e) => (e.event.severity_label = 'high'), /\/event: must NOT have additional properties/],
      ['unknown top-level field', golden, (e) => (e.x509 = {}), /: must NOT have additional properties/],
      ['missing required field', golden, (e) => delete e.event.id, /\/event: must have required property 'id'/],
      ['missing ecs.version', golden, (e) => delete e.ecs, /must have required property 'ecs'/],
      ['wrong ECS version', golden, (e) => (e.ecs.version = '1.12.0'), /\/ecs\/version: must be equal to constant/],
      ['wrong enum value', golden, (e) => (e.network.type = 'ipv5'), /\/network\/type: must be equal to one of the allowed values/],
      ['not a date-time', golden, (e) => (e['@timestamp'] = '01/06/2025 12:00'), /\/@timestamp: must match format "date-time"/],
      ['end event with interim fields', golden, (e) => (e.tlsentry.flow.interim = true), /\/tlsentry\/flow: must NOT have additional properties/],
      ['interim event with an end reason', () => byName('interim'), (e) => (e.tlsentry.flow.end_reason = 'fin'), /\/tlsentry\/flow: must NOT have additional properties/],
      ['alert with rule.name as a list', () => byName('alert'), (e) => (e.rule.name = [e.rule.name]), /\/rule\/name: must be string/],
      ['alert phase outside the enum', () => byName('alert'), (e) => (e.tlsentry.alert.phase = 'second'), /\/tlsentry\/alert\/phase/],
      ['x509 certificate at the root', () => byName('x509 server certificate'), (e) => ((e.x509 = e.tls.server.x509), delete e.tls), /must have required property 'tls'/],
      ['stats event without event.id', () => byName('stats'), (e) => delete e.event.id, /must have required property 'id'/],
      ['stats counter as a string', () => byName('final stats'), (e) => (e.tlsentry.stats.sensor.packets = '5088'), /\/tlsentry\/stats\/sensor\/packets: must be integer/],
      ['drop event with a stats action', () => byName('drops started'), (e) => (e.event.action = 'stats'), /\/event\/action/],
    ];
    for (const [name, make, mutate, want] of cases) {
      it(name, () => {
        const e = make();
        assert.deepEqual(problems(e), [], 'valid before the change');
        mutate(e);
        const p = problems(e);
        assert.ok(p.some((x) => want.test(x)), `expected ${want}, got:\n${p.join('\n')}`);
      });
    }
  });
});

describe('Elasticsearch index template (docs/siem/elastic-index-template.json)', () => {
  type Mapping = { type?: string; properties?: Record<string, Mapping>; fields?: Record<string, Mapping> };
  const template = JSON.parse(readFileSync(TEMPLATE_FILE, 'utf8'));
  const props = template.template.mappings.properties as Record<string, Mapping>;
  const at = (path: string): Mapping | undefined => {
    let node: Mapping | undefined = { properties: props };
    for (const p of path.split('.')) node = node?.properties?.[p];
    return node;
  };

  it('is a data stream template for logs-tlsentry-*', () => {
    assert.ok(template.index_patterns.includes('logs-tlsentry-*'));
    assert.deepEqual(template.data_stream, {});
    assert.ok(template.priority > 100, 'above the built-in logs-*-* template');
  });

  it('maps every field of every schema; ECS fields with ECS’s type', () => {
    const ecs = readEcsFields();
    const schemas = Object.values(KINDS).map((f) => JSON.parse(readFileSync(`schemas/${f}`, 'utf8')) as JsonSchema);
    const leaves = [...schemaLeaves(schemas).values()];
    assert.ok(leaves.length > 150, `schema leaves: ${leaves.length}`);
    const missing = leaves.filter((l) => at(l.path)?.type === undefined).map((l) => l.path);
    assert.deepEqual(missing, []);
    const wrong = leaves.filter((l) => ecs.has(l.path) && at(l.path)!.type !== ecs.get(l.path)!.type).map((l) => `${l.path}: ${at(l.path)!.type}`);
    assert.deepEqual(wrong, []);
    assert.equal(at('@timestamp')!.type, 'date');
    assert.equal(at('source.ip')!.type, 'ip');
    assert.equal(at('process.command_line')!.type, 'wildcard');
    assert.equal(at('process.command_line')!.fields?.text?.type, 'match_only_text');
    assert.equal(at('tlsentry.flow.pcr')!.type, 'double');
    assert.equal(at('tlsentry.flow.source_payload_bytes')!.type, 'long');
    assert.equal(at('tlsentry.x509.sha256')!.type, 'keyword');
    assert.equal(at('tlsentry.process.tls_libraries.load_time')!.type, 'date');
    assert.equal(at('tlsentry.alert.evidence.evidence')!.type, 'flattened', 'free-form rule evidence cannot explode the mapping');
  });
});

describe('docs/siem', () => {
  it('every JSON example in the ingestion docs parses, and the docs exist for Elastic, Splunk and syslog', () => {
    let blocks = 0;
    for (const f of ['README.md', 'elastic.md', 'splunk.md', 'syslog.md']) {
      const text = readFileSync(`docs/siem/${f}`, 'utf8');
      for (const m of text.matchAll(/```json\n([\s\S]*?)```/g)) {
        blocks++;
        assert.doesNotThrow(() => JSON.parse(m[1]), `${f}: a JSON block does not parse:\n${m[1]}`);
      }
    }
    assert.ok(blocks >= 2, `JSON blocks: ${blocks}`);
    assert.match(readFileSync('docs/siem/splunk.md', 'utf8'), /KV_MODE = json[\s\S]*INDEXED_EXTRACTIONS = json[\s\S]*dedup event\.id/);
    assert.match(readFileSync('docs/siem/syslog.md', 'utf8'), /template\(name="tlsentry-msg" type="string" string="%msg%\\n"\)/);
  });
});

describe('validateDir (what run-tests does with the event tap)', () => {
  it('counts by kind, reports invalid lines, skips a final line cut short, accepts an empty or missing tap', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { validateDir } = await import('../../scripts/event-schemas.mjs');
    const dir = mkdtempSync(join(tmpdir(), 'tlsentry-tap-test-'));
    try {
      assert.equal((await validateDir(dir)).counts.total, 0, 'an empty tap is fine');
      assert.equal((await validateDir(join(dir, 'missing'))).invalidCount, 0, 'a missing tap is fine');
      const good = built.map((s) => JSON.stringify(s.event)).join('\n') + '\n';
      writeFileSync(join(dir, '1-a.ndjson'), good + '{"ecs":{"version":"8.11.0"},"@timestamp":"2025');
      let r = await validateDir(dir);
      assert.equal(r.invalidCount, 0, JSON.stringify(r.invalid));
      assert.equal(r.truncated, 1);
      assert.equal(r.counts.total, built.length);
      assert.equal(r.counts.stats, built.filter((s) => kindOf(s.event) === 'stats').length);
      assert.equal(r.counts.interim, 2);
      const bad = clone(built[0].event);
      bad.source.port = -1;
      writeFileSync(join(dir, '2-b.ndjson'), JSON.stringify(bad) + '\nnot json\n');
      r = await validateDir(dir);
      assert.equal(r.invalidCount, 2);
      assert.deepEqual(r.invalid.map((i) => i.where), ['2-b.ndjson:1', '2-b.ndjson:2']);
      assert.ok(r.invalid[0].problems.some((p) => p.startsWith('/source/port: must be >= 0')), r.invalid[0].problems.join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
