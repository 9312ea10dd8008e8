/**
 * The shared baseline on a real PostgreSQL: the test starts its own cluster
 * (initdb + pg_ctl from the Debian `postgresql` package) in a temporary
 * folder, on 127.0.0.1 and a free port, as the `postgres` user when run as
 * root. Two child-process sensors write different flow sets into one
 * baseline at the same time; the result must equal one sensor writing both.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportBaseline } from '../../src/detect/baseline.js';
import { PgBaselineStore } from '../../src/detect/baseline-pg.js';
import { Detector } from '../../src/detect/detector.js';
import { tempDir } from '../helpers/tools.js';
import { flowSet, FLOWS_PER_SET } from './fixtures/flow-sets.js';
import { config, input, memoryStore, T0 } from './helpers.js';

const WRITER = join(import.meta.dirname, 'fixtures', 'pg-writer.ts');

function pgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

const BIN = pgBin();
const SKIP = BIN ? false : 'needs the PostgreSQL server (initdb, pg_ctl): Debian package postgresql';
const asRoot = process.getuid?.() === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function run(cmd: string, args: string[]): void {
  const [c, a] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
}

interface Written {
  which: string;
  first: number;
  last: number;
  flows: number;
}

/** Start a writer; resolves `go` once it is connected, `done` when it has written everything. */
async function startWriter(url: string, which: 'a' | 'b'): Promise<{ go: () => void; done: Promise<Written> }> {
  const c = spawn(process.execPath, ['--import', 'tsx', WRITER, url, which], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  c.stderr.on('data', (b: Buffer) => (err += b));
  const done = new Promise<Written>((resolve, reject) => {
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice(out.indexOf('\n') + 1))) : reject(new Error(`writer ${which} exited ${code}: ${err}`))));
  });
  await new Promise<void>((resolve, reject) => {
    c.stdout.on('data', (b: Buffer) => {
      out += b;
      if (out.startsWith('ready\n')) resolve();
    });
    done.catch(reject);
  });
  return { go: () => c.stdin.end('go\n'), done };
}

describe('PostgreSQL baseline', { skip: SKIP }, () => {
  let dir = '';
  let url = '';
  before(async () => {
    dir = tempDir('tlsentry-pg-');
    chmodSync(dir, 0o777);
    if (asRoot) spawnSync('chown', ['postgres', dir]);
    const data = join(dir, 'data');
    run(join(BIN!, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    const port = await freePort();
    run(join(BIN!, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  });
  after(() => {
    if (dir && existsSync(join(dir, 'data', 'postmaster.pid'))) run(join(BIN!, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
  });

  it('two sensors writing at once end with exactly the counts of one sensor writing both', async () => {
    const writers = await Promise.all([startWriter(url, 'a'), startWriter(url, 'b')]);
    for (const w of writers) w.go();
    const [a, b] = await Promise.all(writers.map((w) => w.done));
    assert.equal(a.flows, FLOWS_PER_SET);
    assert.equal(b.flows, FLOWS_PER_SET);
    assert.ok(a.first < b.last && b.first < a.last, `the two sensors' writes overlapped in time: ${JSON.stringify([a, b])}`);

    const reference = new Detector(config(), memoryStore(), { learn: true, timers: false });
    for (const f of [...flowSet('a'), ...flowSet('b')]) reference.observe(f);
    await reference.flush();
    const expected = exportBaseline(await reference.store.load(), new Date(0));
    await reference.close();

    const store = await PgBaselineStore.open(url);
    const got = exportBaseline(await store.load(), new Date(0));
    await store.close();
    assert.equal(got.records.length, 21);
    assert.deepEqual(got, expected);
    assert.equal(got.records.reduce((s, r) => s + r.flows, 0), 2 * FLOWS_PER_SET);
  });

  it('a detector sees what another sensor wrote after refresh()', async () => {
    const viewer = await Detector.open(config({ baseline: { refresh_interval: 0 } }), { baseline: url, timers: false });
    const writer = await Detector.open(config(), { baseline: url, learn: true, timers: false });
    const exe = { executable: '/opt/new/agent', start_time: '2024-05-01T09:00:00Z' };
    const flow = (start: number) => input({ start, process: { ...input().enrichment.result!.process!, ...exe } });
    assert.equal(viewer.score(flow(T0))?.hits[0]?.name, 'new_tls_process');
    writer.observe(flow(T0));
    await writer.flush();
    await viewer.refresh();
    assert.equal(viewer.score(flow(T0 + 1))?.hits.length, 0);
    await writer.close();
    await viewer.close();
  });

  it('reports a bad URL as ERR_BASELINE without the password', async () => {
    await assert.rejects(PgBaselineStore.open('postgres://u:secret@127.0.0.1:1/x'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_BASELINE');
      assert.ok(!e.message.includes('secret'));
      assert.match(e.message, /postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: cannot open the baseline/);
      return true;
    });
  });
});
