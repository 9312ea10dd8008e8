/**
 * Properties: baseline updates commute (any order, any batching gives the
 * same baseline — what lets concurrent sensors share one), and no rule
 * throws on any input the pipeline could build.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BaselineCache, exportBaseline, type BaselineDelta } from '../../src/detect/baseline.js';
import { SqliteBaselineStore } from '../../src/detect/baseline-sqlite.js';
import { Detector } from '../../src/detect/detector.js';
import { RULES } from '../../src/detect/rules/index.js';
import { config, context, input, lib, proc, T0, tls, verdict } from './helpers.js';

const delta: fc.Arbitrary<BaselineDelta> = fc.record({
  host: fc.constantFrom('a', 'b'),
  identity: fc.constantFrom('/x|path', '/y|path', '/z|sha256:00'),
  executable: fc.constant('/x'),
  signer: fc.constantFrom(null, 'S'),
  sha256: fc.constant(null),
  firstSeen: fc.integer({ min: 0, max: 1e12 }),
  lastSeen: fc.integer({ min: 0, max: 1e12 }),
  flows: fc.integer({ min: 0, max: 5 }),
  tlsFlows: fc.integer({ min: 0, max: 5 }),
  bytesOut: fc.integer({ min: 0, max: 1e9 }),
  bytesIn: fc.integer({ min: 0, max: 1e9 }),
  destinations: fc.uniqueArray(fc.constantFrom('1.1.1.1:443', '2.2.2.2:443', '3.3.3.3:853'), { maxLength: 3 }),
  snis: fc.uniqueArray(fc.constantFrom('a.test', 'b.test'), { maxLength: 2 }),
  ja4s: fc.uniqueArray(fc.constantFrom('t13d', 't12d'), { maxLength: 2 }),
});

describe('detect properties', () => {
  it('baseline updates commute: any order and batching give the same baseline', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(delta, { maxLength: 25 }), fc.integer({ min: 1, max: 7 }), fc.integer(), async (ds, batch, seed) => {
        // signer is per identity (first non-null wins), so keep it consistent per identity
        for (const d of ds) d.signer = d.identity === '/y|path' ? 'S' : null;
        const one = new SqliteBaselineStore(':memory:');
        await one.apply(ds);
        const shuffled = [...ds].sort((a, b) => ((ds.indexOf(a) * 7919 + seed) % 101) - ((ds.indexOf(b) * 7919 + seed) % 101));
        const many = new SqliteBaselineStore(':memory:');
        for (let i = 0; i < shuffled.length; i += batch) await many.apply(shuffled.slice(i, i + batch));
        const cache = new BaselineCache(256);
        for (const d of shuffled) cache.add(d);
        const a = exportBaseline(await one.load(), new Date(0));
        assert.deepEqual(exportBaseline(await many.load(), new Date(0)), a);
        assert.deepEqual(exportBaseline(cache.records(), new Date(0)), a);
        await one.close();
        await many.close();
      }),
      { numRuns: 60 },
    );
  });

  it('no rule throws, and observe() never throws, on arbitrary flows', async () => {
    const text = fc.oneof(fc.string(), fc.constantFrom('C:\\Users\\a\\x.exe', '/tmp/x', '', '<unknown process>', '\\\\?\\C:\\x'));
    const time = fc.oneof(fc.constant(null), fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
    const num = fc.oneof(fc.integer(), fc.double(), fc.constant(Number.NaN));
    const arb = fc.record({
      exe: fc.option(text),
      start: time,
      libPath: text,
      libTime: time,
      before: fc.constantFrom(true, false, null),
      cat: fc.constantFrom('tls_stack', 'http_stack', 'crypto', '', 'managed_tls'),
      sni: fc.option(fc.string()),
      port: fc.integer({ min: 0, max: 65535 }),
      dstIp: fc.constantFrom('10.0.0.1', '8.8.8.8', '::1', '2001:db8::1', 'x'),
      out: num,
      inn: num,
      appOut: fc.nat(),
      appIn: fc.nat(),
      status: fc.constantFrom('ok', 'self signed certificate', 'certificate not visible', 'no certificate') as fc.Arbitrary<'ok'>,
      cmd: fc.option(fc.string()),
      offset: fc.option(num),
    });
    const d = new Detector(config(), new SqliteBaselineStore(':memory:'), { timers: false });
    fc.assert(
      fc.property(arb, (a) => {
        const t = tls({ sni: a.sni });
        t.client.applicationDataBytes = a.appOut;
        t.server.applicationDataBytes = a.appIn;
        const inp = input({
          start: T0,
          dstPort: a.port,
          dstIp: a.dstIp,
          payloadOut: a.out,
          payloadIn: a.inn,
          tls: t,
          verdict: verdict(a.status),
          process: proc({ executable: a.exe, start_time: a.start, command_line: a.cmd, tls_libraries: [lib(a.libPath, a.libTime, a.before, a.cat)], annotations: [{ kind: 'remote_thread_created', time: a.libTime ?? '', detail: {} }] }),
        });
        inp.enrichment.result!.process_clock_offset_seconds = a.offset;
        for (const r of RULES) r.evaluate(context(inp));
        d.observe(inp);
      }),
      { numRuns: 300 },
    );
    assert.equal(d.stats().ruleErrors, 0);
    await d.flush();
    await d.close();
  });
});
