/**
 * `tlsentry live -i lo` while real TLS clients run (curl, openssl s_client,
 * Node's tls), with tcpdump capturing the same traffic at the same time: the
 * live flow and x509 events equal those of an offline `tlsentry read` of the
 * tcpdump file — bytes, packets, TLS fields, verdicts — matched by community
 * id and start time.
 *
 * Start times agree to within microseconds, not exactly: loopback clears the
 * frame's kernel timestamp (skb->tstamp), so each packet socket stamps it when
 * its turn comes, and the sensor's socket (opened later, called first) is a
 * microsecond or so earlier than tcpdump's. The flow id hashes the start time
 * too. Those fields are compared with a tolerance; everything else exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { makeCert, missingTools, startTcpdump, stopTcpdump } from '../helpers/tools.js';
import { byDataset, cannotCapture, freePort, killAll, readEventsStrict, run, runAsync, sharedTempDir, sleep, startLive, MAIN_TS, type Ev } from './live-helpers.js';

test.after(killAll);

const SNI = 'test.tlsentry.local';

function startServer(cert: Buffer, key: Buffer, port: number): Promise<Server> {
  const block = Buffer.alloc(1 << 20, 0x61);
  const server = createServer({ cert, key, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    let received = 0;
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => {
      const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
      let n = m ? Number(m[1]) : 0;
      const body = m ? null : Buffer.from(JSON.stringify({ received }) + '\n');
      res.writeHead(200, { 'content-length': String(body ? body.length : n), connection: 'close' });
      if (body) return res.end(body);
      const more = () => {
        while (n > 0) {
          const k = Math.min(n, block.length);
          n -= k;
          if (!res.write(block.subarray(0, k))) return res.once('drain', more);
        }
        res.end();
      };
      more();
    });
  });
  return new Promise((resolve) => server.listen(port, '::', () => resolve(server)));
}

/** A Node TLS client: one HTTP/1.1 request, read until the server closes. */
function nodeClient(port: number, opts: { alpn?: string[]; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; body?: number; path?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: SNI, rejectUnauthorized: false, ALPNProtocols: opts.alpn, maxVersion: opts.maxVersion }, () => {
      const body = Buffer.alloc(opts.body ?? 0, 0x62);
      s.write(`${body.length > 0 ? 'POST' : 'GET'} ${opts.path ?? '/bytes/3000'} HTTP/1.1\r\nHost: ${SNI}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      if (body.length > 0) s.write(body);
    });
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('end', () => {
      s.end();
      resolve(got);
    });
    s.on('error', reject);
  });
}

const key = (e: Ev) => `${e.network.community_id}|${e.event.start}`;
const micros = (iso: string) => Date.parse(iso.slice(0, 23) + 'Z') * 1000 + Number(iso.slice(23, 26));
const TOLERANCE_US = 1000;

/** The event without the fields that hold the (per-socket) capture time. */
function timeless(e: Ev): Ev {
  const c = structuredClone(e);
  delete c['@timestamp'];
  // event.id is the flow id (or contains it), made from the first packet's time.
  if (c.event) for (const k of ['start', 'end', 'duration', 'id']) delete c.event[k];
  if (c.tlsentry?.flow) {
    delete c.tlsentry.flow.id;
    delete c.tlsentry.flow.duration;
  }
  if (c.tlsentry?.x509) delete c.tlsentry.x509.first_seen_flow;
  return c;
}

/** Pair live and offline flow events: same community id, start within the tolerance. */
function pair(live: Ev[], offline: Ev[]): [Ev, Ev][] {
  const left = [...offline];
  return live.map((ev) => {
    const i = left.findIndex((o) => o.network.community_id === ev.network.community_id && Math.abs(micros(o.event.start) - micros(ev.event.start)) <= TOLERANCE_US);
    assert.ok(i >= 0, `live flow ${key(ev)} has no offline twin`);
    return [ev, left.splice(i, 1)[0]];
  });
}

test('live on lo equals an offline read of tcpdump’s capture of the same TLS traffic', { timeout: 120_000 }, async (t) => {
  const why = cannotCapture() ?? missingTools('tcpdump', 'curl', 'openssl');
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-lo-');
  const { keyPem, certPem } = makeCert(dir, SNI);
  const port = await freePort('::');
  const server = await startServer(certPem, keyPem, port);
  const filter = `tcp port ${port}`;
  const pcap = join(dir, 'tcpdump.pcap');
  const liveOut = join(dir, 'live.ndjson');
  const offlineOut = join(dir, 'offline.ndjson');
  const tcpdump = await startTcpdump('lo', pcap, filter);
  const live = await startLive(['-i', 'lo', '-o', liveOut, '--stats-interval', '0', filter]);
  try {
    const resolve = ['--resolve', `${SNI}:${port}:127.0.0.1`];
    const clients = [
      runAsync('curl', ['-sk', '--http1.1', ...resolve, `https://${SNI}:${port}/bytes/100000`, '-o', '/dev/null']),
      runAsync('curl', ['-sk', '--http1.1', '--tls-max', '1.2', ...resolve, `https://${SNI}:${port}/bytes/4000000`, '-o', '/dev/null']),
      runAsync('curl', ['-sk', '--http1.1', '-6', `https://[::1]:${port}/bytes/5000`, '-o', '/dev/null']),
      runAsync('curl', ['-sk', '--http1.1', ...resolve, '--data-binary', '@-', `https://${SNI}:${port}/upload`, '-o', '/dev/null'], 'u'.repeat(300_000)),
      runAsync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', SNI, '-tls1_2', '-quiet', '-ign_eof'], `GET /bytes/1000 HTTP/1.1\r\nHost: ${SNI}\r\nConnection: close\r\n\r\n`),
      runAsync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', SNI, '-tls1_3', '-alpn', 'http/1.1', '-quiet', '-ign_eof'], `GET /bytes/20000 HTTP/1.1\r\nHost: ${SNI}\r\nConnection: close\r\n\r\n`),
      nodeClient(port, { alpn: ['h2', 'http/1.1'] }),
      nodeClient(port, { maxVersion: 'TLSv1.2', path: '/bytes/200000' }),
      nodeClient(port, { body: 1_000_000, path: '/upload' }),
    ];
    const results = await Promise.all(clients);
    for (const r of results) if (typeof r === 'object') assert.equal(r.code, 0, `client failed: ${r.stderr}`);
    await sleep(500); // last FIN/ACKs
  } finally {
    await stopTcpdump(tcpdump, pcap);
    server.close();
  }
  const stopped = await live.stop('SIGTERM');
  assert.equal(stopped.code, 0, `live exited ${stopped.code ?? stopped.signal}: ${live.stderr()}`);
  run(process.execPath, ['--import', 'tsx', MAIN_TS, 'read', pcap, '-o', offlineOut, '-q']);

  const liveEvents = readEventsStrict(liveOut);
  const offline = readEventsStrict(offlineOut);
  const liveFlows = byDataset(liveEvents, 'tlsentry.flow');
  const offFlows = byDataset(offline, 'tlsentry.flow');
  t.diagnostic(`live: ${liveFlows.length} flows, ${byDataset(liveEvents, 'tlsentry.x509').length} certificates; offline: ${offFlows.length} flows`);
  assert.equal(offFlows.length, 9, 'tcpdump saw the nine client connections');
  assert.equal(liveFlows.length, offFlows.length, 'as many flows live as offline');
  let maxSkew = 0, exact = 0;
  for (const [ev, off] of pair(liveFlows, offFlows)) {
    const skew = Math.abs(micros(ev.event.start) - micros(off.event.start));
    maxSkew = Math.max(maxSkew, skew);
    if (skew === 0) exact++;
    assert.ok(Math.abs(ev.event.duration - off.event.duration) <= TOLERANCE_US * 1000, `${key(ev)}: durations agree`);
    assert.deepEqual(timeless(ev), timeless(off), `flow ${key(ev)}: live event equals the offline one (bytes, packets, history, TLS, verdict)`);
  }
  t.diagnostic(`start times: ${exact} of ${liveFlows.length} identical, largest difference ${maxSkew} µs`);
  for (const ev of liveFlows) {
    assert.equal(ev.tlsentry.flow.end_reason === 'fin' || ev.tlsentry.flow.end_reason === 'rst', true, `${key(ev)} ended by the connection`);
    assert.ok(ev.tls?.client?.server_name === SNI || ev.destination.ip === '::1', 'TLS seen with the SNI');
    assert.ok(ev.tlsentry.tls?.ja4, 'JA4 computed');
  }
  const versions = new Set(liveFlows.map((e) => e.tls?.version));
  assert.deepEqual([...versions].sort(), ['1.2', '1.3'], 'TLS 1.2 and 1.3 flows');
  assert.ok(liveFlows.some((e) => e.network.type === 'ipv6'), 'an IPv6 flow');
  assert.deepEqual(byDataset(liveEvents, 'tlsentry.x509').map(timeless), byDataset(offline, 'tlsentry.x509').map(timeless), 'the same certificate events');
  const finalStats = liveEvents.at(-1)!;
  assert.equal(finalStats.event.action, 'final_stats', 'the last line is the final stats event');
  assert.equal(finalStats.tlsentry.stats.capture.dropped_kernel, 0);
  assert.equal(finalStats.tlsentry.stats.sensor.truncated_frames, 0);
});
