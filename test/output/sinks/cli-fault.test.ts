/**
 * The fault test, with the real CLI and a real rsyslogd:
 *
 *   1. `tlsentry read -` (a pipe the test feeds) with a file sink and a
 *      syslog sink; flows arrive, rsyslog gets their events;
 *   2. rsyslog is killed (SIGKILL); more flows arrive and go to the spool;
 *      then the sensor is SIGKILLed too, in the middle of the outage;
 *   3. rsyslog starts again; a new sensor (same spool) reads the last flows
 *      (from the one whose event the killed sensor had not written yet) and
 *      exits once everything is delivered.
 *
 * Afterwards rsyslog holds every event of the three phases at least once;
 * dropping duplicates by event.id (first occurrence kept) gives exactly the
 * lines an uninterrupted run writes to its file, byte for byte, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tools.js';
import { freePort, missingRsyslog, Rsyslog, sleep } from './helpers.js';

const MAIN = new URL('../../../src/cli/main.ts', import.meta.url).pathname;
const REPO = new URL('../../../', import.meta.url).pathname;

function pcapHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20); // Ethernet
  return h;
}

/** One Ethernet/IPv4/TCP frame as a pcap record (checksums are not checked by the sensor). */
function frame(tsMicros: number, src: number[], dst: number[], sport: number, dport: number, flags: number, seq: number, ack: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 20);
  f.writeUInt16BE(0x0800, 12);
  const ip = 14;
  f[ip] = 0x45;
  f.writeUInt16BE(40, ip + 2);
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  Buffer.from(src).copy(f, ip + 12);
  Buffer.from(dst).copy(f, ip + 16);
  const tcp = ip + 20;
  f.writeUInt16BE(sport, tcp);
  f.writeUInt16BE(dport, tcp + 2);
  f.writeUInt32BE(seq >>> 0, tcp + 4);
  f.writeUInt32BE(ack >>> 0, tcp + 8);
  f[tcp + 12] = 5 << 4;
  f[tcp + 13] = flags;
  f.writeUInt16BE(65535, tcp + 14);
  const rh = Buffer.alloc(16);
  rh.writeUInt32LE(Math.floor(tsMicros / 1e6), 0);
  rh.writeUInt32LE(tsMicros % 1e6, 4);
  rh.writeUInt32LE(f.length, 8);
  rh.writeUInt32LE(f.length, 12);
  return Buffer.concat([rh, f]);
}

/**
 * Flow i: SYN, SYN-ACK, ACK, RST, 6 s of capture time after flow i-1: a
 * closed flow lingers 5 s (capture time) for stray segments, so flow i's
 * event is written when flow i+1 starts (the last one's at the end of input).
 */
function flows(from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = from; i < to; i++) {
    const c = [10, 1, (i >> 8) & 255, i & 255], s = [192, 0, 2, 1 + (i % 7)];
    const t = 1748779200_000_000 + i * 6_000_000;
    const sp = 20000 + (i % 40000);
    parts.push(
      frame(t, c, s, sp, 443, 0x02, 1000, 0),
      frame(t + 100, s, c, 443, sp, 0x12, 5000, 1001),
      frame(t + 200, c, s, sp, 443, 0x10, 1001, 5001),
      frame(t + 300, c, s, sp, 443, 0x14, 1001, 5001),
    );
  }
  return Buffer.concat(parts);
}

function startSensor(args: string[]): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'read', '-', '--no-progress', ...args], { cwd: REPO, stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, stderr: () => err, exited };
}

function spoolBytes(dir: string): number {
  let n = 0;
  try {
    for (const f of readdirSync(dir)) if (f.endsWith('.seg')) n += statSync(join(dir, f)).size;
  } catch {
    return 0;
  }
  return n;
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('syslog collector down mid-run, sensor SIGKILLed during the outage: every event arrives, in order, byte for byte', { timeout: 90_000 }, async (t) => {
  const why = missingRsyslog(false);
  if (why) return t.skip(why);
  const dir = tempDir('tlsentry-fault-');
  const N1 = 300, N2 = 700, N3 = 1000;
  // The reference: one uninterrupted run over all the flows, to a file.
  const all = Buffer.concat([pcapHeader(), flows(0, N3)]);
  writeFileSync(join(dir, 'all.pcap'), all);
  const ref = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'read', join(dir, 'all.pcap'), '-o', join(dir, 'ref.ndjson'), '-q'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(ref.status, 0, ref.stderr);
  const want = readFileSync(join(dir, 'ref.ndjson'), 'utf8').trimEnd().split('\n');
  assert.equal(want.length, N3, 'one event per flow');
  const wantIds = want.map((l) => JSON.parse(l).event.id as string);
  assert.equal(new Set(wantIds).size, N3, 'event ids are unique');

  const rs = new Rsyslog(join(dir, 'rsyslog'), await freePort(), await freePort(), null);
  await rs.start();
  const spoolDir = join(dir, 'spool');
  const sink = `syslog+tcp://127.0.0.1:${rs.tcpPort}?confirm_ms=200`;
  const common = ['--sink', sink, '--spool-dir', spoolDir];
  try {
    // Phase 1: the collector is up.
    const s1 = startSensor(['-o', join(dir, 'run1.ndjson'), ...common]);
    s1.proc.stdin!.write(pcapHeader());
    s1.proc.stdin!.write(flows(0, N1));
    await until('phase 1 events at rsyslog', () => rs.lines().length >= N1 - 1);
    // Phase 2: the collector crashes; the next flows go to the spool; then the sensor is killed.
    await rs.stop('SIGKILL');
    s1.proc.stdin!.write(flows(N1, N2));
    let last = -1;
    await until('the spool to hold the outage', () => {
      const b = spoolBytes(join(spoolDir, 'syslog'));
      const stable = b > 0 && b === last;
      last = b;
      if (!stable) return false;
      return true;
    });
    await sleep(400);
    assert.ok(spoolBytes(join(spoolDir, 'syslog')) >= (N2 - N1) * 500, 'the outage events are on disk');
    s1.proc.kill('SIGKILL');
    await s1.exited;
    // Phase 3: the collector is back; a new sensor delivers the spool, then its own events.
    await rs.start();
    const s3 = startSensor(['-o', join(dir, 'run3.ndjson'), ...common, '--sink-drain-timeout', '30']);
    s3.proc.stdin!.write(pcapHeader());
    s3.proc.stdin!.end(flows(N2 - 1, N3));
    const code = await s3.exited;
    assert.equal(code, 0, s3.stderr());
    assert.match(s3.stderr(), /from an earlier run in the spool/);
    assert.match(s3.stderr(), /sink syslog\s+301 queued this run, 1,000 delivered, .*pending 0/);
    const lines = await rs.waitLines(N3);
    const seen = new Set<string>();
    const firsts: string[] = [];
    for (const l of lines) {
      const id = JSON.parse(l).event.id as string;
      if (seen.has(id)) continue;
      seen.add(id);
      firsts.push(l);
    }
    assert.equal(firsts.length, N3, `every event id (${lines.length} lines, ${lines.length - firsts.length} duplicates)`);
    for (let i = 0; i < N3; i++) assert.equal(firsts[i], want[i], `event ${i} byte for byte, in writer order`);
    // The last run's own file sink has exactly its lines, equal to what rsyslog got.
    assert.deepEqual(readFileSync(join(dir, 'run3.ndjson'), 'utf8').trimEnd().split('\n'), want.slice(N2 - 1));
    process.stdout.write(`# fault test: ${lines.length} lines at rsyslog for ${N3} events (${lines.length - N3} duplicates)\n`);
  } finally {
    await rs.stop();
  }
});
