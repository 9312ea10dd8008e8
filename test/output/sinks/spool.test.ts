import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Spool } from '../../../src/output/sinks/spool.js';
import { AnomalyCounters } from '../../../src/shared/anomalies.js';
import { tempDir } from '../../helpers/tools.js';
import { rec, sleep } from './helpers.js';

const MB = 1024 * 1024;

function readAll(s: Spool): { ids: string[]; lines: string[] } {
  const ids: string[] = [], lines: string[] = [];
  for (;;) {
    const got = s.read(1000, MB);
    if (got.length === 0) break;
    for (const r of got) {
      ids.push(r.rec.id);
      lines.push(r.rec.line.toString());
    }
    s.commit(got[got.length - 1].pos);
  }
  return { ids, lines };
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();
}

test('records come back in order, across segments and a reopen; delivered segments are deleted', () => {
  const dir = tempDir();
  const s = new Spool({ dir, maxBytes: 100 * MB, segmentBytes: 4096 });
  for (let i = 0; i < 200; i++) assert.equal(s.append(rec(i, i % 7 === 0 ? 300 : 0)), true);
  assert.equal(s.size, 200);
  assert.ok(segments(dir).length > 3, 'small segments roll over');
  // Deliver the first 50, then "restart".
  const first = s.read(50, MB);
  assert.equal(first.length, 50);
  s.commit(first[49].pos);
  s.close();
  const t = new Spool({ dir, maxBytes: 100 * MB, segmentBytes: 4096 });
  assert.equal(t.size, 150);
  const { ids, lines } = readAll(t);
  assert.deepEqual(ids, Array.from({ length: 150 }, (_, i) => `id-${i + 50}`));
  assert.equal(lines[0], rec(50).line.toString());
  assert.equal(t.size, 0);
  assert.ok(t.bytesOnDisk === 0 && segments(dir).length === 1 && statSync(join(dir, segments(dir)[0])).size === 0, 'everything delivered: one empty segment left');
  t.close();
});

test('a spool SIGKILLed while appending reopens to a clean prefix of whole records', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const script = join(dir, 'writer.ts');
  const spoolUrl = new URL('../../../src/output/sinks/spool.ts', import.meta.url).href;
  writeFileSync(
    script,
    `import { Spool } from ${JSON.stringify(spoolUrl)};
const s = new Spool({ dir: ${JSON.stringify(join(dir, 'spool'))}, maxBytes: 1e12, segmentBytes: 256 * 1024 });
for (let i = 0; ; i++) {
  const line = Buffer.from(JSON.stringify({ event: { id: 'id-' + i }, n: i, pad: 'x'.repeat(i % 5000) }));
  s.append({ id: 'id-' + i, line });
  if (i % 500 === 0) process.stdout.write(i + '\\n');
}
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: resolve('.') });
  let last = -1;
  child.stdout!.on('data', (d: Buffer) => {
    const m = /(\d+)\n$/.exec(d.toString());
    if (m) last = Number(m[1]);
  });
  while (last < 3000) await sleep(20);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const counters = new AnomalyCounters();
  const s = new Spool({ dir: join(dir, 'spool'), maxBytes: 1e12, counters });
  const n = s.size;
  assert.ok(n >= 3000, `at least what the child reported (${n})`);
  const { ids, lines } = readAll(s);
  assert.equal(ids.length, n);
  ids.forEach((id, i) => assert.equal(id, `id-${i}`));
  lines.forEach((l, i) => assert.equal(JSON.parse(l).n, i));
  assert.equal(counters.get('sink.spool.corrupt_record'), 0);
  s.close();
});

test('a torn last record is dropped and counted; appends continue on a clean end', () => {
  const dir = tempDir();
  const s = new Spool({ dir, maxBytes: 100 * MB });
  for (let i = 0; i < 10; i++) s.append(rec(i));
  s.close();
  const seg = join(dir, segments(dir)[0]);
  truncateSync(seg, statSync(seg).size - 5); // the 10th record loses its last bytes
  const counters = new AnomalyCounters();
  const t = new Spool({ dir, maxBytes: 100 * MB, counters });
  assert.equal(counters.get('sink.spool.torn_record'), 1);
  assert.equal(t.size, 9);
  t.append(rec(99));
  assert.deepEqual(readAll(t).ids, [...Array.from({ length: 9 }, (_, i) => `id-${i}`), 'id-99']);
  t.close();
});

test('hostile spool files give named counted anomalies, never a crash', () => {
  const dir = tempDir();
  const s = new Spool({ dir, maxBytes: 100 * MB, segmentBytes: 2048 });
  for (let i = 0; i < 60; i++) s.append(rec(i));
  s.close();
  const segs = segments(dir);
  assert.ok(segs.length >= 3);
  // A flipped byte inside the first segment: its checksum fails; the rest of that segment is skipped.
  const first = join(dir, segs[0]);
  const b = readFileSync(first);
  b[40] ^= 0xff;
  writeFileSync(first, b);
  // Garbage cursor; junk files beside the segments.
  writeFileSync(join(dir, 'cursor.json'), '{"segment": "lots"');
  writeFileSync(join(dir, 'README'), 'not a segment');
  writeFileSync(join(dir, '0000000000000099.seg.bak'), Buffer.alloc(100, 0xff));
  const counters = new AnomalyCounters();
  const t = new Spool({ dir, maxBytes: 100 * MB, counters });
  assert.equal(counters.get('sink.spool.bad_cursor'), 1);
  assert.equal(counters.get('sink.spool.corrupt_record'), 1);
  const { ids } = readAll(t);
  // Whatever survived is in order and whole; the later segments are all there.
  const nums = ids.map((id) => Number(id.slice(3)));
  assert.deepEqual([...nums].sort((a, b) => a - b), nums);
  assert.ok(nums.includes(59) && nums.length < 60 && nums.length > 30);
  t.close();

  // A segment of pure noise and a huge length prefix.
  const d2 = tempDir();
  writeFileSync(join(d2, '0000000000000001.seg'), Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 0, 0, 0, 0, 9, 9]));
  writeFileSync(join(d2, '0000000000000002.seg'), Buffer.alloc(5000, 0x41));
  appendFileSync(join(d2, 'cursor.json'), '{"segment":1,"offset":7}');
  const c2 = new AnomalyCounters();
  const u = new Spool({ dir: d2, maxBytes: 100 * MB, counters: c2 });
  assert.equal(u.size, 0);
  assert.ok(c2.get('sink.spool.corrupt_record') + c2.get('sink.spool.torn_record') >= 2);
  assert.equal(c2.get('sink.spool.bad_cursor'), 1, 'an offset inside no record');
  assert.equal(u.append(rec(1)), true);
  assert.deepEqual(readAll(u).ids, ['id-1']);
  u.close();
});

test('past the disk limit new records are dropped, counted, and warned about once per episode', async () => {
  const dir = tempDir();
  const counters = new AnomalyCounters();
  const warnings: { message: string; code?: string }[] = [];
  const onWarning = (w: Error & { code?: string }) => warnings.push({ message: w.message, code: w.code });
  process.on('warning', onWarning);
  try {
    const s = new Spool({ dir, maxBytes: 2000, counters, name: 'syslog' });
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (s.append(rec(i))) accepted++;
    assert.ok(accepted > 10 && accepted < 50, `accepted ${accepted}`);
    assert.equal(s.dropped, 100 - accepted);
    assert.equal(counters.get('sink.spool.dropped'), 100 - accepted);
    assert.ok(s.bytesOnDisk <= 2000);
    // Room again after delivery, then full again: a second episode.
    const got = s.read(1000, MB);
    s.commit(got[got.length - 1].pos);
    assert.equal(s.append(rec(1000)), true);
    for (let i = 0; i < 100; i++) s.append(rec(2000 + i));
    await sleep(10); // warnings are emitted on the next tick
    const full = warnings.filter((w) => w.code === 'TLSENTRY_SPOOL_FULL');
    assert.equal(full.length, 2, 'one warning per episode, not per record');
    assert.match(full[0].message, /syslog.*DROPPED/);
    s.close();
  } finally {
    process.off('warning', onWarning);
  }
});

test('spool append throughput (records/s) is reported', () => {
  const dir = tempDir();
  const s = new Spool({ dir, maxBytes: 1e12 });
  const line = Buffer.from(JSON.stringify({ pad: 'x'.repeat(1500) }));
  const n = 20_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) s.append({ id: `flow-${i}`, line });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  let got = 0;
  for (;;) {
    const r = s.read(500, MB);
    if (r.length === 0) break;
    got += r.length;
    s.commit(r[r.length - 1].pos);
  }
  const rsec = Number(process.hrtime.bigint() - t1) / 1e9;
  assert.equal(got, n);
  process.stdout.write(`# spool: append ${Math.round(n / sec)} records/s (${((n * line.length) / 1e6 / sec).toFixed(0)} MB/s), read+commit ${Math.round(n / rsec)} records/s\n`);
  s.close();
});
