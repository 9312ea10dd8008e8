import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeliveryQueue } from '../../../src/output/sinks/queue.js';
import { tempDir } from '../../helpers/tools.js';
import { rec, sleep, TestTransport } from './helpers.js';

const MB = 1024 * 1024;
const quiet = () => undefined;

function queue(t: TestTransport, extra: Partial<ConstructorParameters<typeof DeliveryQueue>[0]> = {}, dir = tempDir()) {
  return new DeliveryQueue({ name: 'test', transport: t, spool: { dir, maxBytes: 100 * MB }, backoffBaseMs: 20, backoffMaxMs: 100, log: quiet, ...extra });
}

const ids = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `id-${a + i}`);

test('a healthy transport gets every record once, in order, in batches', async () => {
  const t = new TestTransport();
  const q = queue(t, { batchRecords: 100 });
  for (let i = 0; i < 1000; i++) q.write(rec(i));
  assert.equal(await q.drain(5000), true);
  assert.deepEqual(t.delivered, ids(0, 1000));
  assert.ok(t.batches.every((n) => n <= 100) && t.batches.length >= 10);
  const c = q.counters();
  assert.deepEqual({ ...c }, { queued: 1000, spooled: 0, delivered: 1000, retried: 0, rejected: 0, dropped: 0, pending: 0 });
  await q.close(100);
});

test('a failing transport: records go to the spool and arrive in order once it is back', async () => {
  const t = new TestTransport();
  t.mode = 'down';
  const dir = tempDir();
  const q = queue(t, { batchRecords: 50 }, dir);
  for (let i = 0; i < 100; i++) q.write(rec(i));
  await sleep(60);
  for (let i = 100; i < 300; i++) q.write(rec(i));
  await sleep(60);
  const mid = q.counters();
  assert.equal(mid.delivered, 0);
  assert.equal(mid.pending, 300);
  assert.ok(mid.spooled >= 200, `memory moved to the spool while failing (${mid.spooled})`);
  assert.ok(mid.retried > 0);
  assert.ok(q.lastError?.includes('down'));
  t.mode = 'up';
  assert.equal(await q.drain(5000), true);
  assert.deepEqual(t.delivered, ids(0, 300));
  assert.equal(q.counters().pending, 0);
  await q.close(100);
});

test('a partial failure retries only those records, ahead of everything newer', async () => {
  const t = new TestTransport();
  let first = true;
  t.mode = (batch) => {
    if (!first) return { retry: [], rejected: [] };
    first = false;
    // Records 3 and 7 are asked for again; 5 is refused for good.
    return { retry: [3, 7], rejected: [{ index: 5, reason: 'mapper_parsing_exception' }], error: 'HTTP 429' };
  };
  const dir = tempDir();
  const q = queue(t, { batchRecords: 10 }, dir);
  for (let i = 0; i < 30; i++) q.write(rec(i));
  assert.equal(await q.drain(5000), true);
  const want = [...ids(0, 10).filter((id) => !['id-3', 'id-5', 'id-7'].includes(id)), 'id-3', 'id-7', ...ids(10, 30)];
  assert.deepEqual(t.delivered, want);
  const c = q.counters();
  assert.equal(c.rejected, 1);
  assert.equal(c.retried, 2);
  assert.equal(c.delivered, 29);
  const dead = readFileSync(join(dir, 'dead-letter.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(dead.length, 1);
  assert.equal(dead[0].event_id, 'id-5');
  assert.equal(dead[0].reason, 'mapper_parsing_exception');
  assert.deepEqual(dead[0].event, JSON.parse(rec(5).line.toString()));
  await q.close(100);
});

test('backoff grows exponentially with jitter; Retry-After wins', async () => {
  const t = new TestTransport();
  t.mode = 'down';
  const q = queue(t, { backoffBaseMs: 40, backoffMaxMs: 400, random: () => 1 });
  q.write(rec(1));
  await sleep(700);
  const gaps = t.callTimes.slice(1).map((x, i) => x - t.callTimes[i]);
  // 40, 80, 160, 320 (random()=1: the top of each jitter range).
  assert.ok(gaps.length >= 3, `gaps ${gaps}`);
  for (let i = 0; i < 3; i++) assert.ok(gaps[i] >= 40 * 2 ** i - 5 && gaps[i] < 40 * 2 ** i + 60, `gap ${i}: ${gaps[i]}`);
  await q.close(0);

  const t2 = new TestTransport();
  t2.mode = () => ({ retry: [0], rejected: [], retryAfterMs: 300, error: 'HTTP 503' });
  const q2 = queue(t2, { backoffBaseMs: 10 });
  q2.write(rec(1));
  await sleep(200);
  assert.equal(t2.calls, 1, 'Retry-After: 300 ms: no second attempt after 200 ms');
  t2.mode = 'up';
  await sleep(250);
  assert.equal(t2.calls, 2);
  assert.deepEqual(t2.delivered, ['id-1']);
  await q2.close(100);
});

test('memory full: the spool takes over, order holds across memory and spool', async () => {
  const t = new TestTransport();
  t.delayMs = 30; // a slow SIEM
  const q = queue(t, { maxRecords: 20, batchRecords: 10 });
  for (let i = 0; i < 200; i++) q.write(rec(i));
  assert.ok(q.counters().spooled >= 170);
  assert.equal(await q.drain(10_000), true);
  assert.deepEqual(t.delivered, ids(0, 200));
  await q.close(100);
});

test('pipelined transports: several batches in flight, outcomes applied in order', async () => {
  const t = new TestTransport();
  t.maxInFlight = 4;
  let failedOnce = false;
  t.mode = (batch) => {
    if (batch[0]!.id !== 'id-10' || failedOnce) return { retry: [], rejected: [] };
    failedOnce = true;
    return { retry: batch.map((_, i) => i), rejected: [], error: 'reset' };
  };
  // The first batch answers last, so every outcome of the first four is applied at once, in
  // call order (with equal delays a fifth batch may go out between two answers: pipelining).
  t.delayFor = (call) => (call === 1 ? 60 : 10);
  const q = queue(t, { batchRecords: 10 });
  for (let i = 0; i < 100; i++) q.write(rec(i));
  assert.equal(await q.drain(5000), true);
  assert.ok(t.calls >= 11, 'the failed batch was sent again');
  // The second batch failed; batches 3 and 4 were already out (delivered: duplicates are fine),
  // and the second batch was sent again before anything newer.
  assert.deepEqual(new Set(t.delivered.slice(0, 30)), new Set([...ids(0, 10), ...ids(20, 40)]), 'batches 1, 3 and 4 got through first');
  assert.deepEqual(new Set(t.delivered), new Set(ids(0, 100)));
  const pos = (id: string) => t.delivered.indexOf(id);
  assert.ok(pos('id-10') < pos('id-40'), 'the retried batch went out before newer records');
  await q.close(100);
});

test('close: what could not be delivered stays in the spool and is delivered by the next queue', async () => {
  const dir = tempDir();
  const t = new TestTransport();
  t.mode = 'down';
  const lines: string[] = [];
  const q = queue(t, { log: (l) => lines.push(l) }, dir);
  for (let i = 0; i < 50; i++) q.write(rec(i));
  await q.close(150);
  assert.ok(lines.some((l) => /50 event\(s\) not delivered.*kept in/.test(l)), lines.join('\n'));
  assert.equal(t.closed, true);
  const t2 = new TestTransport();
  const q2 = queue(t2, {}, dir);
  assert.equal(q2.counters().pending, 50);
  q2.write(rec(50));
  assert.equal(await q2.drain(5000), true);
  assert.deepEqual(t2.delivered, ids(0, 51));
  await q2.close(100);
  assert.ok(!existsSync(join(dir, 'dead-letter.ndjson')));
});

test('close clears its timers: a queue backing off does not keep the process alive', async () => {
  const t = new TestTransport();
  t.mode = 'down';
  const q = queue(t, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
  q.write(rec(1));
  await sleep(50);
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await q.close(0);
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.ok(after < before || before === 0, `timers before ${before}, after ${after}`);
  assert.equal(t.calls, 1);
});
