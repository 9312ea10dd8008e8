/**
 * SIEM sinks in live capture:
 *
 * - HEC / Elasticsearch secret and CA files are read at configuration time
 *   (the main thread, still root), so a root-only token file works with
 *   `--user nobody`, and the text crosses into the capture worker inline;
 * - every sink's counters (queued, spooled, delivered, retried, rejected,
 *   dropped, pending) are in the `tlsentry.stats` events and on /metrics
 *   (`tlsentry_sink_events_total{sink,state}`, `tlsentry_sink_pending_events{sink}`),
 *   and `delivered` matches what the SIEM received;
 * - events lost at the spool's disk limit show up as `dropped` in both.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { metricsSlots, sinkSlot, SINK_STATES } from '../../src/capture/live-shared.js';
import { buildRegistry } from '../../src/cli/metrics.js';
import { outputConfig } from '../../src/output/sinks/config.js';
import { EventWriter, describeSinks } from '../../src/output/writer.js';
import { missingTools, tempDir } from '../helpers/tools.js';
import { makePrivateCa, startEsServer, startHecServer } from '../output/sinks/http-siem-servers.js';
import { byDataset, cannotCapture, freePort, killAll, readEventsStrict, run, sharedTempDir, shortConnections, sleep, startLive, type Ev } from './live-helpers.js';

test.after(killAll);

const TOKEN = '6c2b5e0e-97e1-4f4b-9a2a-3f0d1c5e7b11';


function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

/** `name{labels} value` lines of a Prometheus text body. */
function series(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]] = l[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one sink series (undefined when there is no such series). */
function sinkValue(text: string, sink: string, state: string): number | undefined {
  if (state === 'pending') return series(text, 'tlsentry_sink_pending_events').find((s) => s.labels.sink === sink)?.value;
  return series(text, 'tlsentry_sink_events_total').find((s) => s.labels.sink === sink && s.labels.state === state)?.value;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function nobodyIds(): { uid: number; gid: number } {
  return { uid: Number(run('id', ['-u', 'nobody']).stdout.trim()), gid: Number(run('id', ['-g', 'nobody']).stdout.trim()) };
}

describe('HEC / Elasticsearch secrets are read at configuration time', () => {
  it('outputConfig puts token, API key, password and CA text in the spec; the sinks work after the files are gone', { skip: missingTools('openssl') ?? false }, async () => {
    const dir = tempDir('tlsentry-sink-secrets-');
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets);
    writeFileSync(join(secrets, 'hec.token'), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(join(secrets, 'es.key'), 'kid:kvalue\n', { mode: 0o600 });
    writeFileSync(join(secrets, 'es.pass'), 'pw-s3cret\n', { mode: 0o600 });
    const ca = makePrivateCa(secrets, 'hec');
    const hec = await startHecServer({ token: TOKEN, tls: ca.server });
    const es = await startEsServer({ authorization: `ApiKey ${Buffer.from('kid:kvalue').toString('base64')}` });
    const es2 = await startEsServer({ authorization: `Basic ${Buffer.from('u1:pw-s3cret').toString('base64')}` });
    try {
      const cfgPath = join(dir, 'tlsentry.yaml');
      writeFileSync(
        cfgPath,
        [
          'output:',
          '  sinks:',
          `    - { type: splunk_hec, url: "${hec.url}", token_file: secrets/hec.token, ca_file: secrets/hec-ca.pem }`,
          `    - { type: elasticsearch, url: "${es.url}", api_key_file: secrets/es.key }`,
          `    - { type: elasticsearch, name: es-basic, url: "${es2.url}", username: u1, password_file: secrets/es.pass }`,
          `  spool: { dir: ${join(dir, 'spool')} }`,
          '',
        ].join('\n'),
      );
      const cfg = outputConfig({ config: cfgPath }, dir);
      const [h, e, e2] = cfg.sinks as { type: string; name: string; config: Record<string, unknown> }[];
      assert.equal(h.config.token, TOKEN, 'the token, trimmed');
      assert.equal(h.config.ca, ca.caPem.toString('utf8'), 'the CA as PEM text');
      assert.equal(e.config.api_key, 'kid:kvalue');
      assert.equal(e2.config.password, 'pw-s3cret');
      // Plain data: what crosses into the capture worker keeps the secrets as they are.
      assert.deepEqual(structuredClone(cfg), cfg);
      // Nothing names them where a run is described.
      const described = describeSinks(cfg);
      for (const secret of [TOKEN, 'kvalue', 'pw-s3cret']) assert.ok(!described.includes(secret), described);

      // The files are not read again (in live, the worker runs as --user by then).
      rmSync(secrets, { recursive: true });
      // Not in the schema-checked event tap: these are not sensor events.
      const tap = process.env.TLSENTRY_EVENT_TAP;
      delete process.env.TLSENTRY_EVENT_TAP;
      let w: EventWriter;
      try {
        w = new EventWriter(cfg, { log: () => undefined });
      } finally {
        if (tap !== undefined) process.env.TLSENTRY_EVENT_TAP = tap;
      }
      w.write({ event: { id: 'secret-test-1', dataset: 'tlsentry.test' }, message: 'one' });
      w.write({ event: { id: 'secret-test-2', dataset: 'tlsentry.test' }, message: 'two' });
      await w.close(10_000);
      const c = w.sinkCounters();
      assert.deepEqual(
        Object.fromEntries(Object.entries(c).map(([k, v]) => [k, [v.queued, v.delivered, v.pending]])),
        { splunk_hec: [2, 2, 0], elasticsearch: [2, 2, 0], 'es-basic': [2, 2, 0] },
      );
      assert.equal(hec.envelopes.length, 2, 'HEC over HTTPS with the private CA and the token');
      assert.equal(es.docs.size, 2, 'Elasticsearch with the API key');
      assert.equal(es2.docs.size, 2, 'Elasticsearch with username + password');
    } finally {
      await Promise.all([hec.close(), es.close(), es2.close()]);
    }
  });

  it('a missing or empty secret file is a configuration error that names the sink, at configuration time', () => {
    const dir = tempDir('tlsentry-sink-secrets-');
    const err = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && re.test(e.message));
    err(() => outputConfig({ sink: ['splunk-hec+https://127.0.0.1:8088?token_file=missing.token'] }, dir), /^--sink splunk-hec\+https:\S+: token_file .*missing\.token/);
    writeFileSync(join(dir, 'empty.key'), '\n');
    err(() => outputConfig({ sink: ['elasticsearch+https://127.0.0.1:9200?api_key_file=empty.key'] }, dir), /^--sink elasticsearch\+https:\S+: api_key_file .*empty\.key is empty/);
    writeFileSync(join(dir, 'not-a-ca.pem'), 'hello\n');
    writeFileSync(join(dir, 't'), 'tok\n');
    err(() => outputConfig({ sink: ['splunk-hec+https://127.0.0.1:8088?token_file=t&ca=not-a-ca.pem'] }, dir), /ca_file .*not-a-ca\.pem: no PEM certificate/);
  });
});

describe('sink counters on /metrics', () => {
  it('tlsentry_sink_events_total{sink,state} for every state, zeros included; the pending gauge; skipped only where a sink has it', async () => {
    const names = ['file', 'splunk_hec', 'es-ocsf'];
    const v = new Float64Array(metricsSlots(names.length));
    const SK = SINK_STATES.indexOf('skipped');
    names.forEach((_, i) => (v[sinkSlot(i, SK)] = NaN));
    const set = (i: number, c: Record<string, number>) => {
      for (const [k, n] of Object.entries(c)) v[sinkSlot(i, SINK_STATES.indexOf(k as (typeof SINK_STATES)[number]))] = n;
    };
    set(0, { queued: 40, delivered: 40 });
    set(1, { queued: 40, spooled: 12, delivered: 30, retried: 9, rejected: 1, dropped: 3, pending: 6 });
    set(2, { queued: 10, delivered: 10, skipped: 30 });
    const reg = buildRegistry({ values: v, anomalyNames: () => [], sinkNames: names, iface: 'lo', state: () => 'running' });
    const text = await reg.metrics();
    assert.match(text, /# TYPE tlsentry_sink_events_total counter/);
    assert.match(text, /# TYPE tlsentry_sink_pending_events gauge/);
    assert.deepEqual(
      Object.fromEntries(['queued', 'spooled', 'delivered', 'retried', 'rejected', 'dropped', 'skipped'].map((s) => [s, sinkValue(text, 'splunk_hec', s)])),
      { queued: 40, spooled: 12, delivered: 30, retried: 9, rejected: 1, dropped: 3, skipped: undefined },
    );
    assert.equal(sinkValue(text, 'splunk_hec', 'pending'), 6);
    assert.equal(sinkValue(text, 'file', 'dropped'), 0, 'a zero series exists before the first drop');
    assert.equal(sinkValue(text, 'file', 'pending'), 0);
    assert.equal(sinkValue(text, 'es-ocsf', 'skipped'), 30);
    assert.equal(series(text, 'tlsentry_sink_events_total').length, 3 * 6 + 1);
    assert.equal(series(text, 'tlsentry_sink_events_total').filter((s) => s.labels.state === 'pending').length, 0, 'pending is the gauge only');
  });
});

describe('live capture with a HEC sink', () => {
  it('a root-only token and CA with --user nobody: events reach HEC; /metrics and the stats event count them', { timeout: 120_000 }, async (t) => {
    const why = cannotCapture() ?? missingTools('openssl');
    if (why) return t.skip(why);
    // Root-only: a 0700 directory, 0600 files.
    const secrets = tempDir('tlsentry-live-secrets-');
    chmodSync(secrets, 0o700);
    const tokenFile = join(secrets, 'hec.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const ca = makePrivateCa(secrets, 'hec');
    chmodSync(ca.caFile, 0o600);
    for (const f of [tokenFile, ca.caFile]) {
      const st = statSync(f);
      assert.equal(st.uid, 0);
      assert.equal(st.mode & 0o777, 0o600);
    }
    // The point of the test: nobody cannot read them.
    const { uid, gid } = nobodyIds();
    assert.notEqual(spawnSync('cat', [tokenFile], { uid, gid }).status, 0, 'nobody cannot read the token file');

    const hec = await startHecServer({ token: TOKEN, tls: ca.server });
    const dir = sharedTempDir('tlsentry-live-sinks-');
    const out = join(dir, 'events.ndjson');
    const port = await freePort();
    const N = 4;
    let live: Awaited<ReturnType<typeof startLive>> | null = null;
    try {
      live = await startLive([
        '-i', 'lo', '-o', out, '--user', 'nobody', '--stats-interval', '0', '--metrics', '127.0.0.1:0',
        '--spool-dir', join(dir, 'spool'),
        '--sink', `splunk-hec+${hec.url}?token_file=${tokenFile}&ca=${ca.caFile}`,
        `tcp port ${port}`,
      ]);
      assert.match(live.stderr(), /dropped privileges to nobody/);
      const base = (await live.waitFor(/metrics on (http:\/\/[^/]+)\/metrics/))[1];
      await shortConnections(port, N);
      await until(`${N} flow events at HEC`, () => hec.envelopes.length >= N);
      // Once nothing is pending, what the sink counts delivered is what HEC took.
      let text = '';
      await until('the sink counters to settle', async () => {
        text = await get(`${base}/metrics`);
        return sinkValue(text, 'splunk_hec', 'pending') === 0 && sinkValue(text, 'splunk_hec', 'delivered') === hec.envelopes.length;
      });
      assert.equal(hec.envelopes.length, N, 'one flow event per connection, nothing else yet');
      assert.equal(sinkValue(text, 'splunk_hec', 'delivered'), N);
      assert.equal(sinkValue(text, 'splunk_hec', 'queued'), N);
      for (const s of ['spooled', 'retried', 'rejected', 'dropped']) assert.equal(sinkValue(text, 'splunk_hec', s), 0, s);
      assert.equal(sinkValue(text, 'file', 'queued'), N, 'the -o file is a sink too');
      assert.equal(sinkValue(text, 'file', 'delivered'), N);
      assert.equal(sinkValue(text, 'splunk_hec', 'skipped'), undefined, 'no skipped series without format: ocsf');

      const r = await live.stop('SIGTERM');
      assert.equal(r.code, 0, live.stderr());
      const stderr = live.stderr();
      assert.ok(!stderr.includes(TOKEN), 'the token is not logged');

      // The final stats event (written before the drain) reached HEC too: every earlier event was delivered by then.
      const envs = hec.envelopes.map((e) => e.event as Ev);
      const at = envs.findIndex((e) => e.event?.dataset === 'tlsentry.stats' && e.event?.action === 'final_stats');
      assert.ok(at >= 0, 'the final stats event at HEC');
      assert.equal(envs.length, at + 1, 'nothing after it');
      const st = envs[at].tlsentry.stats;
      assert.deepEqual(Object.keys(st.sinks).sort(), ['file', 'splunk_hec']);
      assert.deepEqual(st.sinks.splunk_hec, { queued: at, spooled: 0, delivered: at, retried: 0, rejected: 0, dropped: 0, pending: 0 });
      assert.equal(st.sensor.events_written, at + 1, 'events_written counts the stats event itself; the sinks had not got it yet');
      assert.deepEqual(st.sinks.file, { queued: at, spooled: 0, delivered: at, retried: 0, rejected: 0, dropped: 0, pending: 0 });
      // The same event in the file.
      const fileStats = byDataset(readEventsStrict(out), 'tlsentry.stats');
      assert.equal(fileStats.length, 1);
      assert.deepEqual(fileStats[0].tlsentry.stats.sinks, st.sinks);
      // The summary is taken after the drain: it counts the stats event as delivered too.
      const m = /sink splunk_hec\s+(\d+) queued this run, (\d+) delivered/.exec(stderr);
      assert.ok(m, stderr);
      assert.equal(Number(m[2]), hec.envelopes.length);
      assert.equal(Number(m[1]), hec.envelopes.length);
    } finally {
      if (live !== null && live.proc.exitCode === null) await live.stop('SIGKILL');
      await hec.close();
    }
  });

  it('events lost at the spool limit show up as dropped in the stats events and on /metrics', { timeout: 120_000 }, async (t) => {
    const why = cannotCapture();
    if (why) return t.skip(why);
    // A HEC that is down (503 to everything): events wait in a spool of 8 KiB.
    const hec = await startHecServer({ token: TOKEN, onEvent: () => ({ status: 503, body: { text: 'Server is busy', code: 9 } }) });
    const secrets = tempDir('tlsentry-live-secrets-');
    writeFileSync(join(secrets, 'hec.token'), `${TOKEN}\n`, { mode: 0o600 });
    const dir = sharedTempDir('tlsentry-live-drops-');
    const out = join(dir, 'events.ndjson');
    const cfg = join(secrets, 'tlsentry.yaml');
    writeFileSync(
      cfg,
      ['output:', '  sinks:', `    - { type: splunk_hec, url: "${hec.url}", token_file: hec.token }`, `  spool: { dir: ${join(dir, 'spool')}, max_bytes: 8KB }`, '  queue: { max_records: 2 }', ''].join('\n'),
    );
    const port = await freePort();
    let live: Awaited<ReturnType<typeof startLive>> | null = null;
    try {
      live = await startLive(['-i', 'lo', '-c', cfg, '-o', out, '--user', 'nobody', '--stats-interval', '1', '--metrics', '127.0.0.1:0', '--sink-drain-timeout', '1', `tcp port ${port}`]);
      const base = (await live.waitFor(/metrics on (http:\/\/[^/]+)\/metrics/))[1];
      await shortConnections(port, 12);
      let text = '';
      const spoolAnomaly = (): number | undefined => series(text, 'tlsentry_anomalies_total').find((s) => s.labels.name === 'sink.spool.dropped')?.value;
      // The capture thread publishes sink counters and anomaly counts into shared memory one after
      // the other, and the name of an anomaly first counted arrives by message: one scrape can fall
      // between them. Wait for a scrape with drops in which both show the same number.
      await until('dropped > 0 on /metrics, the spool anomaly with it', async () => {
        text = await get(`${base}/metrics`);
        const dropped = sinkValue(text, 'splunk_hec', 'dropped') ?? 0;
        return dropped > 0 && spoolAnomaly() === dropped;
      });
      assert.ok(hec.requests.length > 0, 'HEC was tried');
      assert.equal(sinkValue(text, 'splunk_hec', 'delivered'), 0);
      assert.ok(sinkValue(text, 'splunk_hec', 'retried')! > 0, 'retried');
      assert.ok(sinkValue(text, 'splunk_hec', 'spooled')! > 0, 'spooled');
      assert.ok(sinkValue(text, 'splunk_hec', 'pending')! > 0, 'pending');
      assert.equal(sinkValue(text, 'file', 'dropped'), 0);
      await live.waitFor(/TLSENTRY_SPOOL_FULL|DROPPED/);
      await until('a stats event that shows drops', () => byDataset(readEventsStrict(out), 'tlsentry.stats').some((e) => e.tlsentry.stats.sinks?.splunk_hec?.dropped > 0));

      const r = await live.stop('SIGTERM');
      assert.equal(r.code, 0, live.stderr());
      assert.match(live.stderr(), /sink splunk_hec .*DROPPED [1-9]/, 'the summary says so');
      const stats = byDataset(readEventsStrict(out), 'tlsentry.stats').filter((e) => e.event.action === 'stats' || e.event.action === 'final_stats');
      assert.ok(stats.length >= 2);
      for (const e of stats) {
        const s = e.tlsentry.stats;
        const h = s.sinks.splunk_hec;
        // Every event the writer had before this one went to the sink: queued (memory or spool) or dropped.
        assert.equal(h.queued + h.dropped, s.sensor.events_written - 1, JSON.stringify(s.sinks));
        assert.equal(s.sinks.file.queued, s.sensor.events_written - 1);
        assert.equal(h.delivered, 0);
        assert.equal(s.anomalies['sink.spool.dropped'] ?? 0, h.dropped);
      }
      const last = stats.at(-1)!.tlsentry.stats.sinks.splunk_hec;
      assert.ok(last.dropped > 0 && last.pending > 0 && last.spooled > 0, JSON.stringify(last));
      assert.equal(hec.envelopes.length, 0);
    } finally {
      if (live !== null && live.proc.exitCode === null) await live.stop('SIGKILL');
      await hec.close();
    }
  });
});
