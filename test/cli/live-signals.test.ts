/**
 * Signals of `tlsentry live`, under real TLS traffic on lo:
 *   - SIGTERM while connections stream: exit 0, every open flow written as
 *     `interrupted`, every line whole, the final stats event last; the long
 *     connections got interim events on the way;
 *   - SIGHUP after logrotate renamed the file: the sensor writes to a new one;
 *   - restart: the output is appended to, and a line cut by a killed writer
 *     is ended rather than joined to the next event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { appendFileSync, chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCert, missingTools } from '../helpers/tools.js';
import { byDataset, cannotCapture, freePort, killAll, readEventsStrict, sharedTempDir, sleep, startLive, type Ev } from './live-helpers.js';

test.after(killAll);

/** A TLS server that streams to every client and swallows what clients send. */
function streamingServer(cert: Buffer, key: Buffer, port: number) {
  const chunk = Buffer.alloc(4096, 0x73);
  const sockets = new Set<TLSSocket>();
  const server = createServer({ cert, key }, (s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => {
      if (d.includes('BYE')) s.end('bye\n');
    });
    const timer = setInterval(() => {
      if (s.writable && s.writableLength < 1 << 20) s.write(chunk);
    }, 5);
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
    });
    s.on('error', () => undefined);
  });
  return {
    server,
    listen: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r())),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

interface Client {
  port: number;
  openedAt: number;
  closedAt: number | null;
  socket: TLSSocket;
}

function tlsClient(port: number, opts: { chatty?: boolean; bye?: boolean }): Promise<Client> {
  return new Promise((resolve, reject) => {
    const openedAt = Date.now();
    const socket = connect({ host: '127.0.0.1', port, servername: 'live.test', rejectUnauthorized: false }, () => {
      const c: Client = { port: socket.localPort!, openedAt, closedAt: null, socket };
      socket.on('close', () => (c.closedAt = Date.now()));
      if (opts.chatty) {
        const t = setInterval(() => (socket.writable ? socket.write('x'.repeat(1024)) : clearInterval(t)), 20);
        socket.on('close', () => clearInterval(t));
      }
      if (opts.bye) socket.write('BYE\n');
      resolve(c);
    });
    socket.on('data', () => undefined);
    socket.on('end', () => socket.end());
    socket.on('error', reject);
  });
}

test('SIGTERM under traffic: every open flow is written as interrupted, no line is cut, exit 0', { timeout: 90_000 }, async (t) => {
  const why = cannotCapture() ?? missingTools('openssl');
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-sigterm-');
  const { keyPem, certPem } = makeCert(dir, 'live.test');
  const port = await freePort();
  const srv = streamingServer(certPem, keyPem, port);
  await srv.listen();
  const out = join(dir, 'events.ndjson');
  const long: Client[] = [];
  const short: Client[] = [];
  let churn = true;
  try {
    const live = await startLive(['-i', 'lo', '-o', out, '--stats-interval', '1', '--interim-interval', '1', `tcp port ${port}`]);
    for (let i = 0; i < 16; i++) long.push(await tlsClient(port, { chatty: true }));
    // Short connections keep starting and ending while the sensor is stopped.
    const churner = (async () => {
      while (churn) {
        short.push(await tlsClient(port, { bye: true }));
        await sleep(40);
      }
    })();
    await sleep(3500);
    const sigAt = Date.now();
    const r = await live.stop('SIGTERM');
    churn = false;
    await churner;
    assert.equal(r.code, 0, `exit ${r.code ?? r.signal}: ${live.stderr()}`);
    assert.match(live.stderr(), /SIGTERM: stopping/);
    assert.match(live.stderr(), /live capture on lo, [\d.]+ s/);

    const evs = readEventsStrict(out); // throws on any cut or malformed line
    // Final flow events (interim reports share the dataset, with event.type info).
    const flows = byDataset(evs, 'tlsentry.flow').filter((e) => e.event.type[1] === 'end');
    const bySrcPort = new Map<number, Ev[]>();
    for (const f of flows) bySrcPort.set(f.source.port, [...(bySrcPort.get(f.source.port) ?? []), f]);
    for (const c of long) {
      const fs = bySrcPort.get(c.port) ?? [];
      assert.equal(fs.length, 1, `one flow event for the open connection from port ${c.port}`);
      assert.equal(fs[0].tlsentry.flow.end_reason, 'interrupted');
      assert.ok(fs[0].destination.bytes > 100_000, 'the streamed bytes were counted');
      assert.equal(fs[0].tls?.established, true);
    }
    const doneBefore = short.filter((c) => c.closedAt !== null && c.closedAt < sigAt - 300);
    assert.ok(doneBefore.length > 10, `short connections completed before SIGTERM: ${doneBefore.length}`);
    // Loopback reuses a closed connection's port within seconds: match by port and time.
    const during = (c: Client, f: Ev) => {
      const start = Date.parse(f.event.start);
      return start >= c.openedAt - 500 && start <= (c.closedAt ?? Infinity);
    };
    for (const c of doneBefore) {
      const fs = (bySrcPort.get(c.port) ?? []).filter((f) => during(c, f));
      assert.equal(fs.length, 1, `a flow event for the finished connection from port ${c.port}: ${fs.map((f) => f.event.start).join(', ')}`);
    }
    const keys = flows.map((f) => `${f.network.community_id}|${f.event.start}`);
    assert.equal(new Set(keys).size, keys.length, 'no flow written twice');

    // Interim events of the long connections: open for > 3 s with a 1 s interval.
    const interim = evs.filter((e) => e.tlsentry?.flow?.interim === true);
    for (const c of long) {
      const mine = interim.filter((e) => e.source.port === c.port);
      assert.ok(mine.length >= 2, `interim events for port ${c.port}: ${mine.length}`);
      const final = bySrcPort.get(c.port)![0];
      let prevBytes = 0;
      mine.forEach((e, i) => {
        assert.deepEqual(e.event.type, ['connection', 'info']);
        assert.equal(e.event.dataset, 'tlsentry.flow');
        assert.equal(e.tlsentry.flow.interim_seq, i + 1);
        assert.equal(e.tlsentry.flow.end_reason, undefined, 'an interim event has no end reason');
        assert.equal(e.network.community_id, final.network.community_id);
        assert.equal(e.event.start, final.event.start);
        assert.ok(e.network.bytes >= prevBytes && e.network.bytes <= final.network.bytes, 'bytes so far grow towards the final count');
        assert.equal(typeof e.tlsentry.flow.pcr, 'number', 'asymmetry so far');
        assert.equal(e.tls?.client?.server_name, 'live.test', 'TLS facts so far');
        prevBytes = e.network.bytes;
      });
    }
    const stats = byDataset(evs, 'tlsentry.stats').filter((e) => e.event.action === 'stats');
    assert.ok(stats.length >= 2, `periodic stats events: ${stats.length}`);
    const last = evs.at(-1)!;
    assert.equal(last.event.action, 'final_stats', 'the final stats event is the last line');
    assert.equal(last.tlsentry.stats.final, true);
    assert.equal(last.tlsentry.stats.sensor.events_written, evs.length, 'events_written counts every line');
    assert.ok(last.tlsentry.stats.sensor.flows.end_reasons.interrupted >= long.length);
  } finally {
    churn = false;
    for (const c of [...long, ...short]) c.socket.destroy();
    srv.close();
  }
});

test('SIGHUP reopens the output (logrotate); a restart appends and ends a cut line', { timeout: 60_000 }, async (t) => {
  const why = cannotCapture() ?? missingTools('openssl');
  if (why) return t.skip(why);
  const dir = sharedTempDir('tlsentry-live-sighup-');
  const { keyPem, certPem } = makeCert(dir, 'live.test');
  const port = await freePort();
  const srv = streamingServer(certPem, keyPem, port);
  await srv.listen();
  const out = join(dir, 'events.ndjson');
  // A previous run was killed in the middle of a line.
  const previous = JSON.stringify({ earlier: 'run' });
  writeFileSync(out, previous + '\n');
  appendFileSync(out, '{"cut":');
  chmodSync(out, 0o666); // the sensor appends as nobody
  try {
    const live = await startLive(['-i', 'lo', '-o', out, '--stats-interval', '0', `tcp port ${port}`]);
    const a = await tlsClient(port, { bye: true });
    // The flow ends with FIN, lingers 5 s for stragglers, then is written (flushed each second).
    const deadline = Date.now() + 15_000;
    while (!readFileSync(out, 'utf8').includes(`"port":${a.port}`)) {
      assert.ok(Date.now() < deadline, 'flow A written');
      await sleep(250);
    }
    renameSync(out, out + '.1');
    live.proc.kill('SIGHUP');
    await live.waitFor(/reopened /);
    const b = await tlsClient(port, { bye: true });
    await sleep(300);
    const r = await live.stop('SIGTERM');
    assert.equal(r.code, 0, live.stderr());

    const rotated = readFileSync(out + '.1', 'utf8').split('\n');
    assert.equal(rotated[0], previous, 'the earlier run’s events are kept (append)');
    assert.equal(rotated[1], '{"cut":', 'the cut line is ended, not joined to the next event');
    const rotatedEvents = rotated.slice(2, -1).map((l) => JSON.parse(l) as Ev);
    assert.ok(rotatedEvents.some((e) => e.source?.port === a.port), 'flow A is in the rotated file');
    assert.ok(!rotatedEvents.some((e) => e.source?.port === b.port), 'flow B is not');
    const fresh = readEventsStrict(out);
    assert.ok(fresh.some((e) => e.source?.port === b.port), 'flow B is in the new file');
    assert.equal(fresh.at(-1)!.event.action, 'final_stats');
  } finally {
    srv.close();
  }
});
