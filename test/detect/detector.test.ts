import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Detector } from '../../src/detect/detector.js';
import type { BaselineRecord, BaselineStore } from '../../src/detect/baseline.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { config, input, lib, memoryStore, proc, S, T0, tls, verdict } from './helpers.js';

/** A /tmp binary that just started, loaded libssl and connected: new + writable path + fresh library = 65. */
function dropper(over: Parameters<typeof input>[0] = {}) {
  return input({
    process: proc({
      executable: '/tmp/.x/curl',
      start_time: new Date((over.start ?? T0) / 1000 - 500).toISOString(),
      tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', new Date((over.start ?? T0) / 1000 - 400).toISOString())],
    }),
    ...over,
  });
}

function detector(detect: object = {}, opts: ConstructorParameters<typeof Detector>[2] = {}): Detector {
  return new Detector(config(detect), memoryStore(), { timers: false, ...opts });
}

describe('Detector', () => {
  it('alerts with every rule, its evidence and the threat mapping', async () => {
    const d = detector();
    const a = d.observe(dropper());
    assert.ok(a);
    assert.equal(a.phase, 'first');
    assert.equal(a.score, 65);
    assert.equal(a.threshold, 50);
    assert.deepEqual(
      a.rules.map((r) => [r.name, r.weight]),
      [
        ['new_tls_process', 30],
        ['user_writable_image_path', 20],
        ['unexpected_tls_library', 15],
      ],
    );
    assert.match(a.summary, /^score 65 ≥ 50: new_tls_process \(30\): \/tmp\/\.x\/curl never initiated TLS/);
    assert.equal(a.count, 1);
    assert.equal(a.host.name, 'ws1.example.net');
    assert.equal(a.process?.executable, '/tmp/.x/curl');
    assert.equal(a.process?.identity, `/tmp/.x/curl|sha256:${'d'.repeat(64)}`);
    assert.deepEqual(a.destination, { ip: '93.184.215.14', port: 443, sni: 'www.example.com' });
    assert.equal(a.threat.technique.id, 'T1573');
    assert.equal(a.threat.analytic.id, 'AN0759');
    assert.equal(a.threat.framework, 'MITRE ATT&CK');
    assert.equal(a.communityId, '1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    assert.equal(a.tls?.ja4, 't13d1516h2_8daaf6152771_e5627efa2ab1');
    await d.close();
  });

  it('stays quiet under the threshold and counts the flow in the baseline', async () => {
    const d = detector();
    assert.equal(d.observe(input()), null, 'a new curl alone scores 30');
    const s = d.score(input());
    assert.ok(s);
    assert.equal(s.score, 0, 'after one flow curl is baselined');
    assert.equal(d.baseline()[0]!.tlsFlows, 1);
    await d.close();
  });

  it('deduplicates per host, process and destination within the window, with a count', async () => {
    const d = detector({ dedup: { window: '10m' } });
    const first = d.observe(dropper({ id: 'a1', start: T0 }));
    assert.ok(first);
    assert.equal(d.observe(dropper({ id: 'a2', start: T0 + 60 * S })), null);
    assert.equal(d.observe(dropper({ id: 'a3', start: T0 + 120 * S })), null);
    const other = d.observe(dropper({ id: 'b1', start: T0 + 130 * S, dstIp: '198.51.100.7' }));
    assert.ok(other, 'another destination is another alert');
    assert.deepEqual(d.drainAlerts(T0 + 5 * 60 * S), [], 'windows still open');
    const [summary, ...rest] = d.drainAlerts(T0 + 11 * 60 * S);
    assert.equal(rest.length, 0, 'the single-flow window ends silently');
    assert.ok(summary);
    assert.equal(summary.phase, 'summary');
    assert.equal(summary.count, 3);
    assert.deepEqual(summary.flowIds, ['a1', 'a2', 'a3']);
    assert.equal(summary.id, first.id);
    assert.equal(summary.firstSeen, T0);
    assert.equal(summary.lastSeen, T0 + 122 * S);
    const again = d.observe(dropper({ id: 'a4', start: T0 + 12 * 60 * S }));
    assert.ok(again, 'a new window opens after the old one');
    assert.equal(d.stats().deduplicated, 2);
    assert.equal(d.stats().alerts, 3);
    await d.close();
  });

  it('does not learn alerting flows: the process stays new', async () => {
    const d = detector();
    assert.ok(d.observe(dropper({ start: T0 })));
    const s = d.score(dropper({ start: T0 + S }));
    assert.equal(s?.hits[0]?.name, 'new_tls_process');
    assert.equal(d.baseline().length, 0);
    const learning = detector({ baseline: { learn_alerting_flows: true } });
    assert.ok(learning.observe(dropper({ start: T0 })));
    assert.equal(learning.baseline()[0]?.tlsFlows, 1);
    await d.close();
    await learning.close();
  });

  it('learning period: no alerts for a host until duration after its first flow, then alerts', async () => {
    const d = detector({ learning: { duration: '1h' } });
    assert.equal(d.observe(input({ start: T0 })), null);
    assert.equal(d.observe(dropper({ start: T0 + 30 * 60 * S })), null, 'still learning');
    assert.equal(d.stats().learning, 2);
    const after = dropper({ start: T0 + 61 * 60 * S, process: proc({ executable: '/tmp/other', start_time: new Date((T0 + 61 * 60 * S) / 1000 - 500).toISOString(), tls_libraries: [lib('/usr/lib/libssl.so.3', new Date((T0 + 61 * 60 * S) / 1000 - 400).toISOString())] }) });
    assert.ok(d.observe(after), 'learning is over for this host');
    assert.equal(d.score(dropper({ start: T0 + 62 * 60 * S }))?.score, 20, 'the /tmp/.x/curl learnt while learning is no longer new: only its path counts');
    await d.close();
  });

  it('learn mode never alerts and builds the baseline', async () => {
    const d = detector({}, { learn: true });
    for (let i = 0; i < 5; i++) assert.equal(d.observe(dropper({ start: T0 + i * S })), null);
    const [r] = d.baseline();
    assert.equal(r?.tlsFlows, 5);
    assert.equal(r?.flows, 5);
    assert.deepEqual(r?.destinations, ['93.184.215.14:443']);
    assert.deepEqual(r?.snis, ['www.example.com']);
    assert.deepEqual(r?.ja4s, ['t13d1516h2_8daaf6152771_e5627efa2ab1']);
    assert.equal(r?.bytesOut, 5 * 2_500);
    await d.close();
  });

  it('allow-lists: a process by path and signer, a destination, with reasons', async () => {
    const upd = proc({
      executable: 'C:\\Users\\stevie.marie\\AppData\\Local\\Microsoft\\OneDrive\\OneDriveStandaloneUpdater.exe',
      code_signature: { signed: true, subject: 'Microsoft Corporation' },
      start_time: new Date(T0 / 1000 - 500).toISOString(),
      tls_libraries: [lib('C:\\Windows\\System32\\schannel.dll', new Date(T0 / 1000 - 400).toISOString())],
    });
    const allow = {
      allow: {
        processes: [{ executable: 'C:\\Users\\*\\AppData\\Local\\Microsoft\\OneDrive\\OneDriveStandaloneUpdater.exe', signer: 'Microsoft Corporation', reason: 'update agent' }],
      },
    };
    assert.ok(detector().observe(input({ process: upd })), 'without the allow-list: 65');
    const d = detector(allow);
    assert.equal(d.observe(input({ process: upd })), null);
    assert.equal(d.stats().suppressedHits, 3);
    const forged = { ...upd, code_signature: { signed: true, subject: 'Evil Corp' } };
    assert.ok(d.observe(input({ process: forged })), 'another signer is not allowed');

    const dst = detector({ allow: { destinations: [{ address: '203.0.113.0/24', rules: ['nonstandard_chain', 'tls_nonstandard_port'], reason: 'lab servers' }] } });
    const inp = dropper({ dstIp: '203.0.113.9', dstPort: 4443, verdict: verdict('self signed certificate') });
    const a = dst.observe(inp);
    assert.ok(a);
    assert.equal(a.score, 65);
    assert.deepEqual(a.suppressed, [
      { rule: 'nonstandard_chain', reason: 'lab servers' },
      { rule: 'tls_nonstandard_port', reason: 'lab servers' },
    ]);
    await d.close();
    await dst.close();
  });

  it('ignores inbound flows and, by default, unattributed ones; non-TLS flows only count', async () => {
    const d = detector();
    assert.equal(d.observe(dropper({ srcIp: '198.51.100.1', dstIp: '10.1.2.3', host: { name: 'ws1', ip: '10.1.2.3' } })), null);
    assert.equal(d.observe(input({ process: null })), null);
    assert.equal(d.observe(dropper({ tls: null, verdict: null })), null);
    const st = d.stats();
    assert.equal(st.inbound, 1);
    assert.equal(st.unattributed, 1);
    assert.equal(st.nonTls, 1);
    assert.equal(d.baseline()[0]?.flows, 1);
    assert.equal(d.baseline()[0]?.tlsFlows, 0);
    const open = detector({ require_process: false });
    const a = open.observe(input({ process: null, dstPort: 6666, tls: tls({ sni: null }), verdict: verdict('self signed certificate') }));
    assert.ok(a, 'network-only evidence: chain 25 + port 15 + no_sni 10');
    assert.equal(a.process, null);
    await d.close();
    await open.close();
  });

  it('a rule that throws is counted, never thrown', async () => {
    const counters = new AnomalyCounters();
    const d = detector({}, { counters });
    const inp = input({ tls: tls({ sni: null }) });
    Object.defineProperty(inp.tls!, 'alpnOffered', { get: () => { throw new Error('boom'); } });
    assert.doesNotThrow(() => d.observe(inp));
    assert.equal(d.stats().ruleErrors, 1);
    assert.equal(counters.get('detect.rule_error'), 1);
    await d.close();
  });

  it('keeps pending updates when a flush fails and writes them on the next one', async () => {
    const inner = memoryStore();
    let fail = true;
    const flaky: BaselineStore = {
      kind: 'sqlite',
      location: 'flaky',
      maxDistinct: 256,
      load: () => inner.load(),
      apply: async (ds) => {
        if (fail) throw new Error('disk full');
        await inner.apply(ds);
      },
      replace: (r) => inner.replace(r),
      close: () => inner.close(),
    };
    const d = new Detector(config(), flaky, { timers: false });
    await d.ready;
    d.observe(input({ start: T0 }));
    await assert.rejects(d.flush(), /disk full/);
    d.observe(input({ start: T0 + S }));
    assert.equal(d.stats().pending, 1);
    fail = false;
    await d.flush();
    const rec = (await inner.load()) as BaselineRecord[];
    assert.equal(rec[0]?.flows, 2);
    assert.equal(d.stats().flushErrors, 1);
    await d.close();
  });

  it('an async store: observe before ready is refused, after ready works', async () => {
    const inner = memoryStore();
    const slow: BaselineStore = { kind: 'postgres', location: 'slow', maxDistinct: 256, load: () => inner.load(), apply: (x) => inner.apply(x), replace: (x) => inner.replace(x), close: () => inner.close() };
    const d = new Detector(config(), slow, { timers: false });
    assert.throws(() => d.observe(input()), /not loaded yet/);
    await d.ready;
    assert.equal(d.observe(input()), null);
    await d.close();
  });
});
