/**
 * The fast flow-event writer (src/output/flow-json.ts) against the schema's
 * definition (`buildFlowEvent` in src/output/schema.ts): every flow event the
 * pipeline writes — golden captures, the recorded OpenSSL handshakes, built
 * sessions, generated hellos with awkward strings — must be byte for byte
 * `JSON.stringify(buildFlowEvent(f, extras))`, and the line in the file must
 * parse to exactly that object (with pino's `ecs` field first).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { runRead, type ReadOptions } from '../../src/cli/pipeline.js';
import { addressBytes, addressText, communityIdTcp, communityIdV1, flowId, FlowTable, type Flow } from '../../src/flow/index.js';
import type { TlsSessionFacts } from '../../src/tls/index.js';
import type { Direction } from '../../src/flow/stream-parser.js';
import { FlowEventJson, JsonLine } from '../../src/output/flow-json.js';
import { buildFlowEvent, isoTime, isoTimeSlow, type FlowExtras } from '../../src/output/schema.js';
import { ECS_VERSION, EventWriter } from '../../src/output/writer.js';
import { tempDir } from '../helpers/tools.js';
import { alpnExt, clientHelloBody, ext, groupsExt, pointFormatsExt, sigAlgsExt, sniExt, supportedVersionsExt } from '../tls/helpers/hello-builder.js';
import { allFixtures } from '../tls/helpers/fixtures.js';
import { conversationPcap } from '../tls/helpers/pcap-writer.js';
import { chromeLikeHello, tls12Session, tls13Session, type Chunk } from '../tls/helpers/sessions.js';
import { goldenCaptures } from './golden-list.js';

interface Seen {
  events: number;
  mismatches: string[];
  /** The expected line of every flow event, in write order. */
  lines: string[];
}

/**
 * Run the pipeline with every `writeFlow` checked against `buildFlowEvent`,
 * then check the written file line by line.
 */
async function checkRun(name: string, opts: Omit<ReadOptions, 'output'>): Promise<number> {
  const seen: Seen = { events: 0, mismatches: [], lines: [] };
  const json = new FlowEventJson();
  const proto = EventWriter.prototype;
  const original = proto.writeFlow;
  proto.writeFlow = function (this: EventWriter, f: Flow, extras: FlowExtras = {}) {
    const want = JSON.stringify(buildFlowEvent(f, extras)).slice(1);
    const fast = json.body(f, extras);
    seen.events++;
    if (fast !== want) seen.mismatches.push(`${name} flow ${flowId(f)}:\n  fast: ${fast}\n  want: ${want}`);
    seen.lines.push(`{"ecs":{"version":${JSON.stringify(ECS_VERSION)}},${want}`);
    return original.call(this, f, extras);
  };
  const out = join(tempDir(), 'events.ndjson');
  try {
    await runRead({ ...opts, output: out });
  } finally {
    proto.writeFlow = original;
  }
  assert.deepEqual(seen.mismatches, [], `${name}: fast JSON differs from buildFlowEvent`);
  const written = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"dataset":"tlsentry.flow"'));
  assert.equal(written.length, seen.events, `${name}: one line per flow event`);
  // Byte-identical lines, hence identical parsed events (the golden test compares parsed JSON).
  assert.deepEqual(written, seen.lines, `${name}: written lines`);
  for (let i = 0; i < written.length; i++) assert.deepEqual(JSON.parse(written[i]), JSON.parse(seen.lines[i]));
  return seen.events;
}

function pcapOf(name: string, chunks: readonly (readonly [Direction, Buffer])[], o: { clientPort?: number; serverPort?: number; mss?: number } = {}): string {
  const path = join(tempDir(), `${name}.pcap`);
  writeFileSync(path, conversationPcap(chunks, o));
  return path;
}

const fixtures = allFixtures();

const OPTION_SETS: [string, Omit<ReadOptions, 'output' | 'inputs'>][] = [
  ['default', {}],
  ['no x509', { x509: false }],
  ['no tls', { tls: false }],
  ['ja4s', { tls: { ja4sFoxioLicense: true } }],
];

describe('flow event JSON: fast writer = buildFlowEvent', () => {
  it('on every golden capture, with each option set', async (t) => {
    let events = 0;
    for (const cap of goldenCaptures()) {
      for (const [label, o] of OPTION_SETS) events += await checkRun(`${cap} (${label})`, { inputs: [join('pcaps', cap)], ...o });
    }
    t.diagnostic(`${events} flow events compared`);
    assert.ok(events > 20, `${events} events compared`);
  });

  it('on the recorded OpenSSL handshakes and built sessions', async (t) => {
    const sessions: [string, readonly Chunk[]][] = [
      ...fixtures,
      ['tls12', tls12Session()],
      ['tls13', tls13Session()],
      ['tls13-pq', tls13Session({ clientHello: chromeLikeHello('pq.example', true) })],
    ];
    // One capture per session, and one with all of them (shared hello shapes and certificates).
    const all: string[] = [];
    for (const [i, [name, chunks]] of sessions.entries()) {
      const path = pcapOf(name, chunks, { clientPort: 40000 + i });
      all.push(path);
      for (const [label, o] of OPTION_SETS) await checkRun(`${name} (${label})`, { inputs: [path], ...o });
    }
    const events = await checkRun('all sessions', { inputs: all });
    t.diagnostic(`${sessions.length} sessions; ${events} flow events in the combined run`);
    assert.equal(events, sessions.length);
  });

  it('on generated hellos: any server name and ALPN bytes, any segmentation', async () => {
    const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(latin1, fc.array(latin1, { maxLength: 3 }), fc.integer({ min: 1, max: 1400 }), fc.boolean(), async (sni, alpn, mss, tls12) => {
        const hello = clientHelloBody({
          ciphers: [0x1301, 0xc02f, 0x0a0a, 0x9999],
          extensions: [sniExt(sni), ...(alpn.length > 0 ? [alpnExt(...alpn)] : []), groupsExt(0x001d), pointFormatsExt(0), sigAlgsExt(0x0403), supportedVersionsExt(0x0304, 0x0303), ext(0x4a4a)],
        });
        const chunks = tls12 ? tls12Session({ clientHello: hello }) : tls13Session({ clientHello: hello });
        await checkRun(`generated ${JSON.stringify(sni)}`, { inputs: [pcapOf('gen', chunks, { mss })] });
      }),
      { numRuns: Number(process.env.FLOW_JSON_RUNS ?? 40) },
    );
  });
});

describe('flow event JSON: kept runs of stack fields', () => {
  it('an event that differs from a kept run in any value the run covers is written from its own values', async (t) => {
    // Flows and extras of real TLS sessions, kept from reuse (FlowTable.release) so they can be written again.
    const seen: [Flow, FlowExtras][] = [];
    const proto = EventWriter.prototype;
    const original = proto.writeFlow;
    const release = FlowTable.prototype.release;
    proto.writeFlow = function (this: EventWriter, f: Flow, extras: FlowExtras = {}) {
      seen.push([f, { ...extras }]);
      return original.call(this, f, extras);
    };
    FlowTable.prototype.release = () => false;
    try {
      await runRead({ inputs: ['pcaps/tls12-openssl.pcap', 'pcaps/tls13-upload.pcap', 'pcaps/tls-unknown-ca.pcap'], output: join(tempDir(), 'e.ndjson') });
    } finally {
      proto.writeFlow = original;
      FlowTable.prototype.release = release;
    }
    const tlsFlows = seen.filter(([, x]) => x.tls?.ja3String && x.tls.ja3);
    assert.ok(tlsFlows.length >= 3, `${tlsFlows.length} TLS flows`);
    const otherLeaf = seen.map(([, x]) => x.leaf).find((l) => l) ?? null;
    const variants: [string, (tls: TlsSessionFacts) => Partial<TlsSessionFacts>][] = [
      ['versionName', () => ({ versionName: 'TLSv10' })],
      ['ja3sString', (x) => ({ ja3sString: `${x.ja3sString}-0` })],
      ['ja4', (x) => ({ ja4: `${x.ja4}x` })],
      ['ja4_r', (x) => ({ ja4_r: `${x.ja4_r}x` })],
      ['ja4_ro', (x) => ({ ja4_ro: `${x.ja4_ro}x` })],
      ['ja4s', () => ({ ja4s: 't130200_1302_a56c5b993250' })],
      ['no server name', () => ({ sni: null })],
      ['another server name', () => ({ sni: 'other.example' })],
      ['ja3s', () => ({ ja3s: '0123456789abcdef0123456789abcdef' })],
      ['version', (x) => ({ version: x.version === 0x0304 ? 0x0303 : 0x0304 })],
      ['cipherName', () => ({ cipherName: 'TLS_CHACHA20_POLY1305_SHA256' })],
      ['alpnSelected', (x) => ({ alpnSelected: x.alpnSelected === null ? 'h2' : null })],
      ['cipher suites', (x) => ({ clientHello: x.clientHello && { ...x.clientHello, cipherSuites: Object.freeze([0x1301, 0x1302]) } })],
    ];
    const json = new FlowEventJson();
    let compared = 0;
    const check = (label: string, f: Flow, x: FlowExtras): void => {
      assert.equal(json.body(f, x), JSON.stringify(buildFlowEvent(f, x)).slice(1), label);
      compared++;
    };
    for (const [f, x] of tlsFlows) {
      const tls = x.tls as TlsSessionFacts;
      check('as captured', f, x);
      for (const [name, change] of variants) {
        check(name, f, { ...x, tls: { ...tls, ...change(tls) } });
        check(`${name}, then as captured again`, f, x);
      }
      check('another leaf', f, { ...x, leaf: x.leaf === otherLeaf ? null : otherLeaf });
      check('no leaf', f, { ...x, leaf: null });
    }
    t.diagnostic(`${compared} events compared`);
  });
});

describe('flow event JSON: value writers', () => {
  const line = new JsonLine(16);
  const written = (f: (l: JsonLine) => void): string => {
    line.reset();
    f(line);
    return line.toString();
  };

  it('numbers as JSON.stringify writes them', () => {
    const special = [0, -0, 1, -1, 9, 10, 99, 100, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1e21, 1e-7, 0.1, -0.7062, 123.456, NaN, Infinity, -Infinity];
    for (const n of special) assert.equal(written((l) => l.num(n)), JSON.stringify(n), String(n));
    fc.assert(fc.property(fc.oneof(fc.integer(), fc.double(), fc.maxSafeInteger()), (n) => written((l) => l.num(n)) === JSON.stringify(n)), { numRuns: 5000 });
    // Ratios rounded to four decimals (pcr) and durations in microseconds, all through the decimal fast path.
    for (let k = -10000; k <= 10000; k++) {
      const x = Math.round((k / 10000) * 10000) / 10000;
      assert.equal(written((l) => l.num(x)), JSON.stringify(x));
    }
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (m) => written((l) => l.num(m / 1e6)) === JSON.stringify(m / 1e6) && written((l) => l.num(m / 1e3)) === JSON.stringify(m / 1e3)),
      { numRuns: 20000 },
    );
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6 }), (n) => written((l) => l.num(n)) === JSON.stringify(n)), { numRuns: 20000 });
  });

  it('strings as JSON.stringify writes them (escapes, non-ASCII, lone surrogates)', () => {
    for (const s of ['', 'a', '"', '\\', '\u0000', '\u001f', '\u007f', 'é', '\u2028', '\ud800', '\udc00x', '😀', 'tlsentry.test']) {
      assert.equal(written((l) => l.str(s)), JSON.stringify(s));
      assert.equal(written((l) => l.raw(JSON.stringify(s))), JSON.stringify(s));
    }
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => written((l) => l.str(s)) === JSON.stringify(s)), { numRuns: 3000 });
  });

  it('times as isoTime, and isoTime as its definition', () => {
    const special = [0, 1, 999, 1000, 1_000_000, 1.5, 1_700_000_000_123_456, 253402300799999999, 253402300800000000, -1, -1_000_001, 4102444800000000.5];
    for (const t of special) {
      assert.equal(isoTime(t), isoTimeSlow(t), String(t));
      assert.equal(written((l) => l.time(t)), JSON.stringify(isoTimeSlow(t)), String(t));
    }
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 3e17 }), (t) => isoTime(t) === isoTimeSlow(t) && written((l) => l.time(t)) === JSON.stringify(isoTimeSlow(t))),
      { numRuns: 5000 },
    );
  });

  it('addresses as addressText, Community ID from words as from bytes', () => {
    const word = fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 });
    fc.assert(
      fc.property(fc.constantFrom(4, 6), word, word, word, word, word, word, word, word, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (v, c0, c1, c2, c3, s0, s1, s2, s3, cp, sp) => {
        if (v === 4) c1 = c2 = c3 = s1 = s2 = s3 = 0;
        assert.equal(written((l) => l.address(v, c0, c1, c2, c3)), JSON.stringify(addressText(v, c0, c1, c2, c3)));
        const want = communityIdV1(6, addressBytes(v, c0, c1, c2, c3), cp, addressBytes(v, s0, s1, s2, s3), sp);
        assert.equal(communityIdTcp(v, c0, c1, c2, c3, cp, s0, s1, s2, s3, sp), want);
        // equal addresses: the ports decide the order
        assert.equal(communityIdTcp(v, c0, c1, c2, c3, cp, c0, c1, c2, c3, sp), communityIdV1(6, addressBytes(v, c0, c1, c2, c3), cp, addressBytes(v, c0, c1, c2, c3), sp));
      }),
      { numRuns: 3000 },
    );
  });

  it('a run whose fast JSON disagreed with buildFlowEvent falls back to it, and says so', async () => {
    const proto = FlowEventJson.prototype;
    const original = proto.write;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    // A fast writer that forgot a field.
    proto.write = function (this: FlowEventJson, f: Flow, x: FlowExtras, out: JsonLine) {
      original.call(this, f, x, out);
      const text = out.toString().replace(',"client_by":', ',"client_bx":');
      out.reset();
      out.raw(text);
    };
    const dir = tempDir();
    try {
      await runRead({ inputs: [join('pcaps', 'tls12-openssl.pcap')], output: join(dir, 'events.ndjson') });
      await new Promise((r) => setImmediate(r));
    } finally {
      proto.write = original;
      process.off('warning', onWarning);
    }
    await runRead({ inputs: [join('pcaps', 'tls12-openssl.pcap')], output: join(dir, 'expected.ndjson') });
    assert.equal(readFileSync(join(dir, 'events.ndjson'), 'utf8'), readFileSync(join(dir, 'expected.ndjson'), 'utf8'));
    assert.ok(warnings.some((w) => w.includes('differs from buildFlowEvent')), warnings.join('; '));
  });

  it('writeFlow writes the line pino writes for the built event', async () => {
    // One flow through both EventWriter paths.
    const dir = tempDir();
    const capture = pcapOf('one', tls12Session());
    let flow: Flow | null = null;
    let extras: FlowExtras = {};
    const proto = EventWriter.prototype;
    const original = proto.writeFlow;
    proto.writeFlow = function (this: EventWriter, f: Flow, x: FlowExtras = {}) {
      flow = f;
      extras = x;
      return original.call(this, f, x);
    };
    try {
      await runRead({ inputs: [capture], output: join(dir, 'run.ndjson') });
    } finally {
      proto.writeFlow = original;
    }
    assert.ok(flow);
    const a = new EventWriter(join(dir, 'fast.ndjson'));
    a.writeFlow(flow, extras);
    await a.close();
    const b = new EventWriter(join(dir, 'pino.ndjson'));
    b.write(buildFlowEvent(flow, extras));
    await b.close();
    assert.equal(readFileSync(join(dir, 'fast.ndjson'), 'utf8'), readFileSync(join(dir, 'pino.ndjson'), 'utf8'));
  });
});
