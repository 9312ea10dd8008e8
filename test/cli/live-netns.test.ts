/**
 * Load in a network namespace the test creates: a veth pair, tcpreplay
 * replaying TLS traffic onto one end at rising rates, `tlsentry live`
 * capturing the other. The machinery, not the figures (bench/live-load.sh
 * makes those): every replayed frame is accounted for at rates any machine
 * keeps up with, CPU use is reported per step, and when the sensor cannot
 * read (stopped with SIGSTOP while a burst larger than its ring arrives) the
 * kernel's drops are reported — in stats events, a warning event, on stderr
 * and in the final numbers.
 *
 * The replayed capture is the first 40,000 frames of bench/.cache/tls-bulk.pcap
 * when the benchmark captures exist, else the repository's pcaps/ looped.
 * The namespace, its veths and every child are removed even when a test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { missingTools } from '../helpers/tools.js';
import { byDataset, cannotCapture, killAll, readEventsStrict, run, sharedTempDir, sleep, startLive, type Ev, type LiveProcess } from './live-helpers.js';

const NS_PREFIX = 'tlsentry-t';
const ns = `${NS_PREFIX}${process.pid}`;
const FRAMES = 40_000;

function delNs(name: string): void {
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

// Whatever happens (a failed assertion, a timeout), the namespace goes.
process.once('exit', () => delNs(ns));
test.after(() => {
  killAll();
  delNs(ns);
});

/** Namespaces left by killed runs of this test (their pid is gone). */
function removeStaleNamespaces(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${NS_PREFIX}(\\d+)$`).exec(name);
    if (m && !existsSync(`/proc/${m[1]}`)) delNs(name);
  }
}

function nsRun(args: string[], opts: { allowFail?: boolean } = {}) {
  return run('ip', ['netns', 'exec', ns, ...args], opts);
}

/** The capture to replay, and tcpreplay arguments that send FRAMES of it. */
function replaySource(dir: string): { files: string[]; loop: string[]; origin: string } {
  const bulk = 'bench/.cache/tls-bulk.pcap';
  if (existsSync(bulk)) {
    const slice = join(dir, 'tls-bulk-slice.pcap');
    run('tcpdump', ['-r', bulk, '-c', String(FRAMES), '-w', slice]);
    return { files: [slice], loop: [], origin: `first ${FRAMES} frames of ${bulk}` };
  }
  const files = readdirSync('pcaps')
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => join('pcaps', f));
  return { files, loop: ['--loop=10000'], origin: `pcaps/*.pcap looped (${bulk} absent: bash bench/gen-captures.sh makes it)` };
}

interface Replay {
  sent: number;
  mbps: number;
  pps: number;
}

function replay(rate: string[], limit: number, src: { files: string[]; loop: string[] }): Replay {
  const r = nsRun(['tcpreplay', '-i', 'tr0', ...rate, `--limit=${limit}`, ...src.loop, ...src.files]);
  const out = r.stdout + r.stderr;
  const sent = Number(/Successful packets:\s+(\d+)/.exec(out)?.[1]);
  const rated = /Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps/.exec(out);
  assert.ok(Number.isInteger(sent), `tcpreplay output: ${out}`);
  return { sent, mbps: Number(rated?.[1] ?? 0), pps: Number(rated?.[2] ?? 0) };
}

/** utime + stime of a process, seconds (every thread). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
  return (Number(f[11]) + Number(f[12])) / ticks;
}

/** The newest stats event once its counters include `received` frames. */
async function statsReaching(out: string, received: number, timeoutMs = 10_000): Promise<Ev> {
  const deadline = Date.now() + timeoutMs;
  let last: Ev | undefined;
  for (;;) {
    const evs = existsSync(out) ? readEventsStrict(out) : [];
    last = byDataset(evs, 'tlsentry.stats').filter((e) => e.event.action === 'stats').at(-1);
    if (last && last.tlsentry.stats.capture.received >= received && last.tlsentry.stats.sensor.packets + last.tlsentry.stats.capture.dropped_kernel >= received) return last;
    if (Date.now() > deadline) throw new Error(`no stats event reached ${received} received frames; last: ${JSON.stringify(last?.tlsentry?.stats?.capture)}`);
    await sleep(250);
  }
}

test('tcpreplay onto a veth pair at rising rates: frames accounted for, CPU reported, kernel drops reported', { timeout: 120_000 }, async (t) => {
  const why = cannotCapture() ?? missingTools('ip', 'tcpreplay', 'tcpdump');
  if (why) return t.skip(why);
  removeStaleNamespaces();
  const dir = sharedTempDir('tlsentry-live-netns-');
  const src = replaySource(dir);
  t.diagnostic(`replaying ${src.origin}`);
  delNs(ns);
  run('ip', ['netns', 'add', ns]);
  nsRun(['ip', 'link', 'add', 'tr0', 'type', 'veth', 'peer', 'name', 'cap0']);
  for (const dev of ['tr0', 'cap0']) {
    nsRun(['ip', 'link', 'set', dev, 'mtu', '65535']); // the looped pcaps/ may hold frames larger than 1514 bytes
    nsRun(['ip', 'link', 'set', dev, 'up']);
  }
  const out = join(dir, 'events.ndjson');
  let live: LiveProcess | null = null;
  try {
    // A 32 MiB ring: a second of traffic at the higher steps, and a burst of
    // 40,000 MTU-sized frames (~56 MB) cannot fit while the sensor is stopped.
    live = await startLive(['-i', 'cap0', '-o', out, '--stats-interval', '1', '--buffer-size', '32', 'tcp'], { prefix: ['ip', 'netns', 'exec', ns] });
    const pid = live.pid;
    let sent = 0;
    const rows: string[] = [];
    for (const [label, rate, frames] of [
      ['2,000 pps', ['--pps=2000'], 4000],
      ['10,000 pps', ['--pps=10000'], 20_000],
      ['40,000 pps', ['--pps=40000'], FRAMES],
      ['top speed', ['--topspeed'], FRAMES],
    ] as const) {
      const cpu0 = cpuSeconds(pid);
      const t0 = Date.now();
      const r = replay([...rate], frames, src);
      const wall = (Date.now() - t0) / 1000;
      sent += r.sent;
      const st = await statsReaching(out, sent);
      const cpu = ((cpuSeconds(pid) - cpu0) / wall) * 100;
      const c = st.tlsentry.stats.capture;
      rows.push(`${label.padEnd(10)} ${String(r.sent).padStart(6)} frames at ${r.pps.toFixed(0).padStart(7)} pps ${r.mbps.toFixed(0).padStart(5)} Mbps: received ${c.received}, dropped ${c.dropped_kernel}, CPU ${cpu.toFixed(0)}% of a core (${wall.toFixed(1)} s)`);
      if (label === '2,000 pps' || label === '10,000 pps') {
        assert.equal(c.received, sent, `${label}: every frame reached the capture`);
        assert.equal(c.dropped_kernel, 0, `${label}: no kernel drops`);
        assert.equal(st.tlsentry.stats.sensor.packets, sent, `${label}: every frame processed`);
      }
    }
    for (const r of rows) t.diagnostic(r);

    // The sensor stops reading (SIGSTOP) while more than its ring arrives.
    const before = byDataset(readEventsStrict(out), 'tlsentry.stats').at(-1)!.tlsentry.stats.capture.dropped_kernel as number;
    process.kill(pid, 'SIGSTOP');
    let burst: Replay;
    try {
      burst = replay(['--topspeed'], FRAMES, src);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    sent += burst.sent;
    const st = await statsReaching(out, sent);
    const dropped = st.tlsentry.stats.capture.dropped_kernel - before;
    t.diagnostic(`stopped sensor, ${burst.sent} frames at top speed: ${dropped} dropped by the kernel`);
    assert.ok(dropped > 0, 'drops while the sensor could not read');
    assert.ok(st.tlsentry.stats.capture.interval.dropped_kernel > 0 || byDataset(readEventsStrict(out), 'tlsentry.stats').some((e) => e.tlsentry.stats.capture?.interval?.dropped_kernel > 0), 'a stats interval shows them');
    const warning = byDataset(readEventsStrict(out), 'tlsentry.stats').find((e) => e.event.action === 'capture_drops_started');
    assert.ok(warning, 'a warning event when drops started');
    assert.equal(warning.log.level, 'warning');
    assert.ok(warning.tlsentry.stats.capture.window.dropped_kernel > 0);
    await live.waitFor(/warning: capture on cap0 is dropping packets/);

    const r = await live.stop('SIGTERM');
    assert.equal(r.code, 0, live.stderr());
    const evs = readEventsStrict(out);
    const fin = evs.at(-1)!;
    assert.equal(fin.event.action, 'final_stats');
    const c = fin.tlsentry.stats.capture;
    assert.equal(c.received, sent, 'the kernel saw every frame tcpreplay sent');
    assert.equal(fin.tlsentry.stats.sensor.packets + c.dropped_kernel, c.received, 'processed + dropped = received');
    assert.ok(c.drop_ratio > 0);
    assert.match(live.stderr(), new RegExp(`capture +${c.received} received by the filter, ${c.dropped_kernel} dropped by the kernel`));
    assert.ok(byDataset(evs, 'tlsentry.flow').length > 0, 'flows written');
  } finally {
    if (live !== null && live.proc.exitCode === null) {
      try {
        process.kill(live.pid, 'SIGCONT');
      } catch {
        // gone
      }
      await live.stop('SIGKILL');
    }
    delNs(ns);
  }
  assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'namespace removed');
});
