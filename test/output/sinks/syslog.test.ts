/**
 * Syslog over TCP and TLS: RFC 5424 in RFC 6587 octet-counted frames, checked
 * by a plain node:net server that parses the frames, then against a real
 * rsyslogd (byte-exact `%msg%`, events over 8 KiB, a verified CA), and a
 * collector killed mid-stream that still ends with every event id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeliveryQueue } from '../../../src/output/sinks/queue.js';
import { SyslogTransport, parseSyslogUrl } from '../../../src/output/sinks/syslog.js';
import type { EventRecord } from '../../../src/output/sinks/types.js';
import { tempDir } from '../../helpers/tools.js';
import { freePort, makeCa, missingRsyslog, parse5424, parseOctetCounted, Rsyslog, sleep } from './helpers.js';

const quiet = () => undefined;

/** Events shaped like the sensor's: @timestamp, dataset, event.id, UTF-8, escapes; some over 8 KiB. */
function events(n: number, big = 0): EventRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const ev = {
      ecs: { version: '8.11.0' },
      '@timestamp': `2025-06-01T12:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0').slice(-6)}Z`,
      event: { kind: 'event', dataset: i % 3 === 0 ? 'tlsentry.x509' : 'tlsentry.flow', id: `Ev${i}"]\\x` },
      tls: { server_name: 'bücher.example', note: 'tab\there, newline\nthere, \u0001 control, 😀' },
      pad: i < big ? 'z'.repeat(9000 + i * 100) : 'short',
    };
    const line = Buffer.from(JSON.stringify(ev));
    return { id: ev.event.id, line };
  });
}

test('the URL parser takes tcp:// and tls:// with default ports, and refuses others', () => {
  assert.deepEqual(parseSyslogUrl('tcp://10.0.0.1'), { tls: false, host: '10.0.0.1', port: 514 });
  assert.deepEqual(parseSyslogUrl('tls://[::1]:7514'), { tls: true, host: '::1', port: 7514 });
  assert.deepEqual(parseSyslogUrl('tls://siem.example'), { tls: true, host: 'siem.example', port: 6514 });
  assert.throws(() => parseSyslogUrl('udp://x:514'), /tcp:\/\/host:port/);
});

test('frames are RFC 6587 octet-counted RFC 5424 messages with the event id in structured data', async () => {
  const port = await freePort();
  const chunks: Buffer[] = [];
  const server = createServer((s) => s.on('data', (d) => chunks.push(d)));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const t = new SyslogTransport({ url: `tcp://127.0.0.1:${port}`, hostname: 'sensor 01', confirmMs: 50 });
  const evs = events(20, 2);
  const o = await t.deliver(evs);
  assert.deepEqual(o, { retry: [], rejected: [] });
  await t.close();
  await sleep(50);
  server.close();
  const msgs = parseOctetCounted(Buffer.concat(chunks));
  assert.equal(msgs.length, 20);
  msgs.forEach((m, i) => {
    const p = parse5424(m);
    assert.equal(p.pri, 134, 'local0.info');
    assert.equal(p.host, 'sensor_01', 'HOSTNAME has no spaces');
    assert.equal(p.app, 'tlsentry');
    assert.equal(p.procid, String(process.pid));
    assert.equal(p.msgid, i % 3 === 0 ? 'tlsentry.x509' : 'tlsentry.flow');
    assert.equal(p.ts, JSON.parse(evs[i].line.toString())['@timestamp']);
    assert.equal(p.id, evs[i].id, 'SD-PARAM escaping round-trips " ] \\');
    assert.ok(p.body.equals(evs[i].line), 'MSG is the line, byte for byte');
  });
});

test('a collector that drops the connection: unconfirmed batches are retried', async () => {
  const port = await freePort();
  let conns = 0;
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    conns++;
    sockets.push(s);
    s.on('data', () => {
      // The first connection dies as soon as data arrives.
      if (conns === 1) s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const t = new SyslogTransport({ url: `tcp://127.0.0.1:${port}`, confirmMs: 200 });
  const o1 = await t.deliver(events(5));
  assert.deepEqual(o1.retry, [0, 1, 2, 3, 4]);
  assert.ok(o1.error);
  const o2 = await t.deliver(events(5));
  assert.deepEqual(o2.retry, []);
  assert.equal(t.connections, 2);
  await t.close();
  for (const s of sockets) s.destroy();
  server.close();
});

for (const mode of ['tcp', 'tls'] as const) {
  test(`rsyslog over ${mode.toUpperCase()} receives every event byte for byte (%msg% equals the line, events over 8 KiB)`, { timeout: 60_000 }, async (t) => {
    const why = missingRsyslog(mode === 'tls');
    if (why) return t.skip(why);
    const dir = tempDir('tlsentry-rsyslog-');
    const pki = makeCa(dir);
    const rs = new Rsyslog(dir, await freePort(), await freePort(), pki);
    await rs.start();
    try {
      const url = mode === 'tcp' ? `tcp://127.0.0.1:${rs.tcpPort}` : `tls://127.0.0.1:${rs.tlsPort}`;
      const transport = new SyslogTransport({ url, ca: readFileSync(pki.ca), confirmMs: 100 });
      const q = new DeliveryQueue({ name: 'syslog', transport, spool: { dir: join(dir, 'spool'), maxBytes: 1e9 }, log: quiet });
      const evs = events(2000, 50);
      const t0 = process.hrtime.bigint();
      for (const e of evs) q.write(e);
      assert.equal(await q.drain(30_000), true, 'delivered');
      const lines = await rs.waitLines(evs.length);
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      const want = evs.map((e) => e.line.toString('utf8'));
      assert.equal(lines.length, want.length);
      for (let i = 0; i < want.length; i++) assert.equal(lines[i], want[i], `line ${i}`);
      const sd = readFileSync(rs.sd, 'utf8').trim().split('\n');
      assert.equal(sd[1], '[tlsentry@32473 id="Ev1\\"\\]\\\\x"]');
      const c = q.counters();
      assert.equal(c.delivered, 2000);
      assert.equal(c.pending, 0);
      process.stdout.write(`# rsyslog ${mode}: ${Math.round(evs.length / sec)} events/s (2000 events, 50 of them over 8 KiB, incl. 100 ms confirmation)\n`);
      await q.close(1000);
    } finally {
      await rs.stop();
    }
  });
}

test('TLS: a collector whose certificate the configured CA did not sign gets nothing', { timeout: 30_000 }, async (t) => {
  const why = missingRsyslog(true);
  if (why) return t.skip(why);
  const dir = tempDir('tlsentry-rsyslog-');
  const pki = makeCa(dir);
  const rs = new Rsyslog(dir, await freePort(), await freePort(), pki);
  await rs.start();
  try {
    const transport = new SyslogTransport({ url: `tls://127.0.0.1:${rs.tlsPort}`, ca: readFileSync(pki.otherCa), confirmMs: 50 });
    const o = await transport.deliver(events(3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.match(o.error ?? '', /certificate|verify|issuer/i);
    await transport.close();
    await sleep(300);
    assert.equal(rs.lines().length, 0);
  } finally {
    await rs.stop();
  }
});

test('rsyslog killed mid-stream and restarted: every event id arrives, first copies in order', { timeout: 60_000 }, async (t) => {
  const why = missingRsyslog(false);
  if (why) return t.skip(why);
  const dir = tempDir('tlsentry-rsyslog-');
  const rs = new Rsyslog(dir, await freePort(), await freePort(), null);
  await rs.start();
  try {
    const transport = new SyslogTransport({ url: `tcp://127.0.0.1:${rs.tcpPort}`, confirmMs: 300 });
    const q = new DeliveryQueue({ name: 'syslog', transport, spool: { dir: join(dir, 'spool'), maxBytes: 1e9 }, backoffBaseMs: 100, backoffMaxMs: 400, log: quiet });
    const evs = events(3000);
    let i = 0;
    const feed = async (until: number) => {
      for (; i < until; i++) {
        q.write(evs[i]);
        if (i % 50 === 0) await sleep(5);
      }
    };
    await feed(1000);
    await rs.stop('SIGKILL'); // a crash: whatever it had not written is lost
    await feed(2000);
    await sleep(300);
    assert.ok(q.counters().spooled > 0, 'the outage went to the spool');
    await rs.start();
    await feed(3000);
    assert.equal(await q.drain(30_000), true);
    const lines = await rs.waitLines(3000);
    const ids = lines.map((l) => JSON.parse(l).event.id as string);
    const firsts = [...new Set(ids)];
    assert.deepEqual(firsts, evs.map((e) => e.id), 'every id, first occurrences in writer order');
    process.stdout.write(`# rsyslog killed mid-stream: ${ids.length} lines for ${evs.length} events (${ids.length - evs.length} duplicates), retried ${q.counters().retried}\n`);
    await q.close(1000);
  } finally {
    await rs.stop();
  }
});
