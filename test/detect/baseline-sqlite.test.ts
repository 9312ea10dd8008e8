import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { exportBaseline, parseBaselineExport } from '../../src/detect/baseline.js';
import { SqliteBaselineStore } from '../../src/detect/baseline-sqlite.js';
import { baselineCommand } from '../../src/detect/command.js';
import { Detector } from '../../src/detect/detector.js';
import { tempDir } from '../helpers/tools.js';
import { config, input, lib, proc, S, T0 } from './helpers.js';

const WRITER = join(import.meta.dirname, 'fixtures', 'sqlite-writer.ts');

function benign(i: number) {
  return input({ id: `b${i}`, start: T0 + i * S, dstIp: `93.184.215.${i % 3}`, process: proc({ executable: i % 2 ? '/usr/bin/curl' : '/usr/bin/wget' }) });
}

/** A new /tmp binary that just loaded libssl: alerts on an empty baseline. */
function dropper(start: number) {
  return input({
    start,
    process: proc({
      executable: '/tmp/x',
      start_time: new Date(start / 1000 - 300).toISOString(),
      tls_libraries: [lib('/usr/lib/libssl.so.3', new Date(start / 1000 - 200).toISOString())],
    }),
  });
}

describe('SQLite baseline', () => {
  it('persists: a second detector over the same file sees the baseline and raises nothing', async () => {
    const file = join(tempDir(), 'baseline.db');
    const first = new Detector(config(), new SqliteBaselineStore(file), { learn: true, timers: false });
    for (let i = 0; i < 20; i++) first.observe(benign(i));
    first.observe(dropper(T0 + 30 * S));
    await first.close();

    const second = new Detector(config(), new SqliteBaselineStore(file), { timers: false });
    assert.equal(second.baseline().length, 3);
    const curl = second.baseline().find((r) => r.executable === '/usr/bin/curl')!;
    assert.equal(curl.tlsFlows, 10);
    assert.deepEqual(curl.destinations, ['93.184.215.0:443', '93.184.215.1:443', '93.184.215.2:443']);
    for (let i = 0; i < 20; i++) assert.equal(second.observe(benign(100 + i)), null, `benign flow ${i}`);
    assert.equal(second.observe(dropper(T0 + 200 * S)), null, 'learnt in the first run');
    await second.close();

    const third = new Detector(config(), new SqliteBaselineStore(file), { timers: false });
    assert.equal(third.baseline().find((r) => r.executable === '/usr/bin/curl')!.tlsFlows, 20);
    await third.close();
  });

  it('a sensor killed with SIGKILL mid-write leaves a file that opens cleanly with whole batches', async () => {
    const file = join(tempDir(), 'crash.db');
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`writer did not commit: ${err}`)), 30_000);
        child.stdout.on('data', (b: Buffer) => {
          out += b;
          if ((out.match(/batch/g) ?? []).length >= 3 + round) {
            clearTimeout(timer);
            // Kill somewhere inside the next batch.
            setTimeout(() => resolve(), Math.floor(Math.random() * 15));
          }
        });
        child.on('exit', () => reject(new Error(`writer exited early: ${err}`)));
      });
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.on('exit', r));
      assert.ok(child.kill('SIGKILL'));
      await exited;

      const store = new SqliteBaselineStore(file);
      assert.equal(store.integrityCheck(), 'ok');
      const records = store.loadSync();
      assert.equal(records.length, 300, 'every identity is there');
      const counts = new Set(records.map((r) => r.flows));
      assert.equal(counts.size, 1, `all records have the same count (no torn batch): ${[...counts].join(',')}`);
      assert.ok([...counts][0]! >= 3);
      await store.close();
    }
    const d = new Detector(config(), new SqliteBaselineStore(file), { timers: false });
    assert.equal(d.baseline().length, 300);
    await d.close();
  });

  it('export and import: merge adds up, replace restores, a bad file is refused', async () => {
    const src = new Detector(config(), new SqliteBaselineStore(':memory:'), { learn: true, timers: false });
    for (let i = 0; i < 10; i++) src.observe(benign(i));
    await src.flush();
    const exported = exportBaseline(await src.store.load());
    await src.close();
    assert.equal(exported.format, 'tlsentry-baseline');
    assert.equal(exported.records.length, 2);
    const json = JSON.parse(JSON.stringify(exported));

    const dst = new SqliteBaselineStore(':memory:');
    await dst.apply(parseBaselineExport(json));
    assert.deepEqual(exportBaseline(await dst.load(), new Date(0)).records, exportBaseline(parseBaselineExport(json), new Date(0)).records);
    await dst.apply(parseBaselineExport(json));
    const doubled = await dst.load();
    assert.equal(doubled.find((r) => r.executable === '/usr/bin/curl')!.flows, 10);
    await dst.replace(parseBaselineExport(json));
    assert.equal((await dst.load()).find((r) => r.executable === '/usr/bin/curl')!.flows, 5);
    await dst.close();
    assert.throws(() => parseBaselineExport({ format: 'tlsentry-baseline', version: 1, records: [{ host: 'h' }] }, 'x.json'), /x\.json: not a tlsentry baseline export:\n  baseline\.records\[0\]\.identity: expected string/);
  });

  it('bounds distinct values per record', async () => {
    const store = new SqliteBaselineStore(':memory:', { maxDistinct: 4 });
    const d = new Detector(config({ baseline: { max_distinct: 4 } }), store, { learn: true, timers: false });
    for (let i = 0; i < 10; i++) d.observe(input({ start: T0 + i * S, dstIp: `10.0.0.${i}` }));
    assert.equal(d.baseline()[0]!.destinations.length, 4);
    await d.flush();
    assert.equal((await store.load())[0]!.destinations.length, 4);
    assert.equal((await store.load())[0]!.flows, 10);
    await d.close();
  });

  it('tlsentry baseline show | export | import', async () => {
    const dir = tempDir();
    const file = join(dir, 'b.db');
    const d = new Detector(config(), new SqliteBaselineStore(file), { learn: true, timers: false });
    for (let i = 0; i < 6; i++) d.observe(benign(i));
    await d.close();
    let printed = '';
    const run = async (...args: string[]) => {
      printed = '';
      const program = new Command().exitOverride();
      baselineCommand(program, { out: (s) => (printed += s) });
      await program.parseAsync(['baseline', ...args], { from: 'user' });
      return printed;
    };
    const table = await run('show', '--baseline', file);
    assert.match(table, /^HOST\s+TLS\/FLOWS\s+BYTES OUT\/IN/);
    assert.match(table, /ws1\.example\.net\s+3\/3\s+7500\/123000\s+3\s+1\s+1\s+2024-05-01T10:00:0\dZ\s+2024-05-01T10:00:0\dZ\s+\/usr\/bin\/(curl|wget)\|sha256:d{64}/);
    assert.match(table, /2 identities on 1 host\n$/);
    assert.match(await run('show', '--baseline', file, '--process', '/usr/bin/cu*'), /1 identities on 1 host/);
    const exportFile = join(dir, 'export.json');
    await run('export', '--baseline', file, '-o', exportFile);
    assert.equal(JSON.parse(readFileSync(exportFile, 'utf8')).records.length, 2);
    const other = join(dir, 'other.db');
    assert.match(await run('import', exportFile, '--baseline', other), /merged 2 records into .*other\.db/);
    const shown = JSON.parse(await run('show', '--baseline', other, '--json'));
    assert.deepEqual(
      shown.records.map((r: { identity: string; flows: number }) => [r.identity, r.flows]),
      JSON.parse(readFileSync(exportFile, 'utf8')).records.map((r: { identity: string; flows: number }) => [r.identity, r.flows]),
    );
    const cfg = join(dir, 'tlsentry.yaml');
    writeFileSync(cfg, `detect:\n  baseline:\n    path: ${other}\n`);
    assert.match(await run('show', '--config', cfg), /2 identities on 1 host/);
    await assert.rejects(run('show', '--baseline', join(dir, 'missing.db')), /cannot open the baseline/);
  });
});
