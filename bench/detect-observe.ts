/**
 * Micro-benchmark of the detect stage:
 *
 *   npx tsx bench/detect-observe.ts [flows] [rounds]
 *
 * - score: `observe()` of a TLS flow against a baseline of 50 hosts × 200
 *   identities (every rule runs, the baseline cache and pending batch are
 *   updated; nothing alerts because every identity is known)
 * - score, new process: the same for flows whose process is new (rules
 *   fire, alerts are built and deduplicated)
 * - learn + flush (SQLite file, WAL): learn-mode `observe()` plus a flush
 *   every 1000 identities, as `baseline build` does
 *
 * Prints µs per flow (best and median round) and the heap the baseline takes.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteBaselineStore } from '../src/detect/baseline-sqlite.js';
import { Detector } from '../src/detect/detector.js';
import type { DetectionInput } from '../src/detect/types.js';
import { config, input, lib, proc, S, T0 } from '../test/detect/helpers.js';

const flows = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 5);
const HOSTS = 50, IDS = 200;

function flowFor(i: number, fresh: boolean, host = i % HOSTS, ident = fresh ? 100000 + i : (i * 7) % IDS): DetectionInput {
  const h = host, id = ident;
  return input({
    id: `f${i}`,
    start: T0 + i * 1000,
    srcIp: `10.0.${h >> 8}.${h & 255}`,
    host: { name: `ws${h}.example.net`, ip: `10.0.${h >> 8}.${h & 255}` },
    dstIp: `93.184.${(i >> 8) & 255}.${i & 255}`,
    process: proc({
      executable: `/opt/app${id}/bin/app`,
      start_time: new Date(T0 / 1000 - 3600_000).toISOString(),
      tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', new Date(T0 / 1000 - 3600_000).toISOString())],
    }),
  });
}

function seeded(): Detector {
  const d = new Detector(config(), new SqliteBaselineStore(':memory:'), { learn: true, timers: false });
  for (let h = 0; h < HOSTS; h++) for (let id = 0; id < IDS; id++) d.observe(flowFor(h * IDS + id, false, h, id));
  return d;
}

function report(name: string, perFlowUs: number[]): void {
  const s = [...perFlowUs].sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} best ${s[0]!.toFixed(2)} µs/flow  median ${s[Math.floor(s.length / 2)]!.toFixed(2)} µs/flow  (${Math.round(1e6 / s[0]!)} flows/s)`);
}

async function main(): Promise<void> {
  const heap0 = process.memoryUsage().heapUsed;
  const base = seeded();
  await base.flush();
  const records = await base.store.load();
  const heap1 = process.memoryUsage().heapUsed;
  console.log(`baseline: ${records.length} identities, ~${((heap1 - heap0) / 1e6).toFixed(1)} MB heap (cache + SQLite in memory)`);

  for (const [name, fresh] of [['score (known processes)', false], ['score, new process (alerts)', true]] as const) {
    const inputs = Array.from({ length: flows }, (_, i) => flowFor(i, fresh));
    const per: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const store = new SqliteBaselineStore(':memory:');
      await store.apply(records);
      const d = new Detector(config(), store, { timers: false });
      const t = performance.now();
      for (const inp of inputs) d.observe(inp);
      per.push(((performance.now() - t) * 1000) / flows);
      await d.close();
    }
    report(name, per);
  }

  const per: number[] = [];
  const inputs = Array.from({ length: flows }, (_, i) => flowFor(i, false));
  for (let r = 0; r < rounds; r++) {
    const file = join(tmpdir(), `tlsentry-bench-${process.pid}-${r}.db`);
    const d = new Detector(config({ baseline: { flush_batch: 1000 } }), new SqliteBaselineStore(file), { learn: true, timers: false });
    const t = performance.now();
    let n = 0;
    for (const inp of inputs) {
      d.observe(inp);
      if (++n % 1000 === 0) await d.flush();
    }
    await d.flush();
    per.push(((performance.now() - t) * 1000) / flows);
    await d.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  }
  report('learn + flush (SQLite file, WAL)', per);
  void S;
}

await main();
