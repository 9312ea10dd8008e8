/**
 * `tlsentry live` as a service: it drops root once the capture is open (and
 * keeps no capability), runs as a non-root user with only CAP_NET_RAW, and
 * serves Prometheus metrics and a health check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, statSync, realpathSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { have } from '../helpers/tools.js';
import { byDataset, cannotCapture, freePort, killAll, procStatus, readEventsStrict, run, sharedTempDir, shortConnections, sleep, startLive, MAIN_TS } from './live-helpers.js';

test.after(killAll);


function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']) }));
    })
      .on('error', reject)
      .end();
  });
}

test('started as root: the capture is opened, then the process becomes nobody with no capabilities', { timeout: 60_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-priv-');
  const port = await freePort();
  const out = join(dir, 'events.ndjson');
  const live = await startLive(['-i', 'lo', '-o', out, '--user', 'nobody', '--stats-interval', '0', `tcp port ${port}`]);
  try {
    assert.match(live.stderr(), /dropped privileges to nobody \(uid \d+, gid \d+\)/);
    const st = procStatus(live.pid);
    const nobody = run('id', ['-u', 'nobody']).stdout.trim();
    assert.deepEqual(st.Uid.split(/\s+/), [nobody, nobody, nobody, nobody], 'real, effective, saved and fs uid');
    assert.equal(new Set(st.Gid.split(/\s+/)).size, 1);
    assert.notEqual(st.Gid.split(/\s+/)[0], '0', 'no root gid');
    assert.ok(!st.Groups.split(/\s+/).includes('0'), `no root supplementary group: "${st.Groups}"`);
    assert.equal(st.CapEff, '0000000000000000', 'no effective capability');
    assert.equal(st.CapPrm, '0000000000000000', 'no permitted capability');
    await shortConnections(port);
    await sleep(300);
    assert.equal(String(statSync(out).uid), nobody, 'the output file was created by the unprivileged user');
  } finally {
    const r = await live.stop('SIGTERM');
    assert.equal(r.code, 0, live.stderr());
  }
  assert.equal(byDataset(readEventsStrict(out), 'tlsentry.flow').length, 1, 'the flow captured after the drop was written');
});

test('an unknown --user is an error before anything is read', { timeout: 30_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const r = run(process.execPath, ['--import', 'tsx', MAIN_TS, 'live', '-i', 'lo', '--user', 'no-such-user-tlsentry', 'tcp port 1'], { allowFail: true });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /ERR_USAGE: --user no-such-user-tlsentry: no such user/);
});

test('a non-root user with only CAP_NET_RAW (setcap on node) captures; nothing to drop', { timeout: 60_000 }, async (t) => {
  const why = cannotCapture() ?? (have('setcap') ? null : 'needs setcap (Debian package libcap2-bin)');
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-caps-');
  const node = join(dir, 'node');
  copyFileSync(realpathSync(process.execPath), node);
  chmodSync(node, 0o755);
  run('setcap', ['cap_net_raw+eip', node]);
  const probe = run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', node, '-e', 'process.exit(0)'], { allowFail: true });
  if (probe.status !== 0) return t.skip(`file capabilities unusable here (nosuid mount?): ${probe.stderr}`);
  const port = await freePort();
  const out = join(dir, 'events.ndjson');
  const live = await startLive(['-i', 'lo', '-o', out, '--stats-interval', '0', `tcp port ${port}`], {
    prefix: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'],
    node,
  });
  try {
    assert.match(live.stderr(), /privileges: running as uid \d+, not root/);
    const st = procStatus(live.pid);
    assert.equal(st.CapEff, '0000000000002000', 'CAP_NET_RAW only');
    await shortConnections(port);
    await sleep(300);
  } finally {
    const r = await live.stop('SIGTERM');
    assert.equal(r.code, 0, live.stderr());
  }
  assert.equal(byDataset(readEventsStrict(out), 'tlsentry.flow').length, 1);
  // Without the capability the same user cannot capture, and is told what to do.
  const plain = join(dir, 'node-plain');
  copyFileSync(realpathSync(process.execPath), plain);
  chmodSync(plain, 0o755);
  const denied = run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', plain, '--import', 'tsx', MAIN_TS, 'live', '-i', 'lo', 'tcp port 1'], { allowFail: true });
  assert.equal(denied.status, 2, denied.stderr);
  assert.match(denied.stderr, /ERR_CAPTURE_OPEN: .*CAP_NET_RAW/);
});

test('/metrics and /healthz', { timeout: 60_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-metrics-');
  const port = await freePort();
  const live = await startLive(['-i', 'lo', '-o', join(dir, 'e.ndjson'), '--metrics', '127.0.0.1:0', '--stats-interval', '0', `tcp port ${port}`]);
  try {
    const base = (await live.waitFor(/metrics on (http:\/\/[^/]+)\/metrics/))[1];
    await shortConnections(port);
    await sleep(1500); // a housekeeping second: stats polled, metrics published
    const m = await get(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    const value = (name: string) => {
      const line = m.body.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
      assert.ok(line, `${name} in /metrics`);
      return Number(line.split(' ').at(-1));
    };
    assert.ok(value('tlsentry_packets_total') >= 5, 'packets counted');
    assert.ok(value('tlsentry_bytes_total') > 0);
    assert.ok(value('tlsentry_capture_received_packets_total') >= value('tlsentry_packets_total'));
    assert.equal(value('tlsentry_capture_dropped_packets_total{by="kernel"}'), 0);
    assert.equal(value('tlsentry_capture_dropped_packets_total{by="interface"}'), 0);
    assert.equal(value('tlsentry_flows_total'), 1);
    assert.ok(value('tlsentry_flows_active') >= 0);
    assert.ok(value('tlsentry_events_written_total') >= 0);
    assert.equal(value('tlsentry_capture_up'), 1);
    assert.ok(value('tlsentry_last_packet_timestamp_seconds') > Date.now() / 1000 - 60);
    assert.equal(value('process_cpu_seconds_total') >= 0, true, 'process metrics');
    for (const name of ['tlsentry_anomalies_total', 'tlsentry_enrichment_latency_seconds', 'tlsentry_flows_ended_total', 'tlsentry_interim_events_total']) {
      assert.match(m.body, new RegExp(`# HELP ${name} `), `${name} declared`);
    }
    const h = await get(`${base}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(JSON.parse(h.body).status, 'ok');
    assert.equal((await get(`${base}/nope`)).status, 404);
  } finally {
    const r = await live.stop('SIGTERM');
    assert.equal(r.code, 0, live.stderr());
  }
});
