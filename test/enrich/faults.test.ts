/**
 * The Enricher when the agent misbehaves: killed mid-run, slower than the
 * timeout, a wrong token, malformed answers (not JSON, wrong shape, wrong
 * count, one bad result), 5xx. Every query ends with a status; nothing is
 * thrown into the caller; the circuit breaker opens and recovers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Enricher, type Outcome } from '../../src/enrich/index.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { AttributionQuery } from '../../src/shared/endpoint-api.js';
import { spawnAgent, stopChild, TOKEN, tokenFile } from '../agent/helpers.js';
import { fakeAgent, goodAnswer, query, syntheticSysmon } from './helpers.js';

async function settleAll(e: Enricher, ids: string[]): Promise<Outcome[]> {
  await Promise.all(ids.map((id) => e.whenSettled(id)));
  return ids.map((id) => {
    const o = e.outcome(id);
    assert.ok(o, `${id} has an outcome`);
    return o;
  });
}

function ask(e: Enricher, from: number, n: number): string[] {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const q = query(i);
    assert.doesNotThrow(() => e.request(q));
    ids.push(q.id);
  }
  return ids;
}

const tally = (os: Outcome[]): Record<string, number> => os.reduce<Record<string, number>>((m, o) => ((m[o.status] = (m[o.status] ?? 0) + 1), m), {});

describe('Enricher faults', () => {
  it('agent killed mid-run: answered queries stay enriched, the rest end agent_unavailable or circuit_open', async () => {
    const { child, url } = await spawnAgent(['--backend', 'sysmon', '--listen', '127.0.0.1:0', '--token-file', tokenFile(), '--events', syntheticSysmon(2000)]);
    const counters = new AnomalyCounters();
    const e = new Enricher({ url, token: TOKEN, batchSize: 50, batchDelayMs: 2, timeoutMs: 500, retries: 2, backoffMs: 20, breakerThreshold: 3, breakerCooldownMs: 60_000 }, counters);
    const before = await settleAll(e, ask(e, 0, 200));
    assert.deepEqual(tally(before), { enriched: 200 });
    await stopChild(child, 'SIGKILL');
    const afterIds: string[] = [];
    for (let round = 0; round < 10; round++) {
      afterIds.push(...ask(e, 200 + round * 20, 20));
      await new Promise((r) => setTimeout(r, 10));
    }
    const after = await settleAll(e, afterIds);
    const t = tally(after);
    assert.equal((t.agent_unavailable ?? 0) + (t.circuit_open ?? 0), afterIds.length, JSON.stringify(t));
    assert.ok(t.circuit_open! > 0, 'the breaker opened and spared the dead agent');
    assert.equal(e.stats.breakerOpens, 1);
    assert.ok(counters.get('enrich.agent_unavailable') > 0);
    assert.ok(counters.get('enrich.breaker_opened') === 1);
    console.log(`# agent killed mid-run: before ${JSON.stringify(tally(before))}, after ${JSON.stringify(t)}, retries ${e.stats.retries}`);
    e.close();
  });

  it('agent slower than the timeout: timeout after retries with backoff; a faster answer later succeeds', async () => {
    let delay = 400;
    const fake = await fakeAgent((b) => ({ delayMs: delay, body: goodAnswer(b!.flows) }));
    try {
      const counters = new AnomalyCounters();
      const e = new Enricher({ url: fake.url, token: TOKEN, batchDelayMs: 1, timeoutMs: 100, retries: 2, backoffMs: 10, breakerThreshold: 100 }, counters);
      const t0 = Date.now();
      const [o] = await settleAll(e, ask(e, 0, 1));
      assert.equal(o.status, 'timeout');
      assert.equal(fake.requests(), 3, 'first try + 2 retries');
      assert.equal(e.stats.retries, 2);
      assert.ok(Date.now() - t0 >= 300, 'three timeouts');
      assert.equal(counters.get('enrich.timeout'), 1);
      assert.equal(counters.get('enrich.retry'), 2);
      delay = 0;
      const [o2] = await settleAll(e, ask(e, 1, 1));
      assert.equal(o2.status, 'enriched');
      e.close();
    } finally {
      await fake.close();
    }
  });

  it('wrong token: 401 → auth_failed, not retried', async () => {
    const { child, url } = await spawnAgent(['--backend', 'sysmon', '--listen', '127.0.0.1:0', '--token-file', tokenFile(), '--events', syntheticSysmon(10)]);
    try {
      const counters = new AnomalyCounters();
      const e = new Enricher({ url, token: 'not-the-token-at-all', batchDelayMs: 1, retries: 3 }, counters);
      const os = await settleAll(e, ask(e, 0, 5));
      assert.deepEqual(tally(os), { auth_failed: 5 });
      assert.equal(e.stats.retries, 0);
      assert.equal(counters.get('enrich.auth_failed'), 5);
      e.close();
    } finally {
      await stopChild(child);
    }
  });

  it('malformed answers: not JSON, wrong shape, wrong count, wrong ids, one bad result, 4xx, cut connection, 5xx', async () => {
    type Mk = (flows: AttributionQuery[]) => { status?: number; body?: string; destroy?: boolean };
    const cases: [string, Mk, Record<string, number>][] = [
      ['not JSON', () => ({ body: '<html>oops</html>' }), { bad_response: 3 }],
      ['empty body', () => ({ body: '' }), { bad_response: 3 }],
      ['results not an array', () => ({ body: '{"results": "yes"}' }), { bad_response: 3 }],
      ['wrong count', (f) => ({ body: goodAnswer(f.slice(1)) }), { bad_response: 3 }],
      ['wrong ids', (f) => ({ body: goodAnswer(f.map((x) => ({ ...x, id: `${x.id}-x` }))) }), { bad_response: 3 }],
      [
        'one result with a bad shape',
        (f) => {
          const j = JSON.parse(goodAnswer(f)) as { results: Record<string, unknown>[] };
          j.results[1].confidence = 'high';
          return { body: JSON.stringify(j) };
        },
        { enriched: 2, bad_response: 1 },
      ],
      [
        'matched without a process',
        (f) => {
          const j = JSON.parse(goodAnswer(f)) as { results: Record<string, unknown>[] };
          j.results[0].process = null;
          return { body: JSON.stringify(j) };
        },
        { enriched: 2, bad_response: 1 },
      ],
      ['400', () => ({ status: 400, body: '{"error":{"code":"bad_request","message":"x"}}' }), { bad_response: 3 }],
      ['connection cut', () => ({ destroy: true }), { agent_unavailable: 3 }],
      ['500', () => ({ status: 500, body: 'boom' }), { agent_unavailable: 3 }],
      ['503 busy', () => ({ status: 503, body: '{}' }), { agent_unavailable: 3 }],
    ];
    for (const [name, mk, expected] of cases) {
      const fake = await fakeAgent((b) => (b ? mk(b.flows) : { status: 400 }));
      const counters = new AnomalyCounters();
      const e = new Enricher({ url: fake.url, token: TOKEN, batchDelayMs: 1, retries: 1, backoffMs: 5, breakerThreshold: 100 }, counters);
      try {
        const os = await settleAll(e, ask(e, 0, 3));
        assert.deepEqual(tally(os), expected, name);
        for (const o of os) if (o.status !== 'enriched') assert.equal(o.result, null);
      } finally {
        e.close();
        await fake.close();
      }
    }
  });

  it('circuit breaker: opens after consecutive failures, answers circuit_open at once, half-opens after the cool-down and closes on success', async () => {
    let failing = true;
    const fake = await fakeAgent((b) => (failing ? { status: 500 } : { body: goodAnswer(b!.flows) }));
    try {
      const counters = new AnomalyCounters();
      const e = new Enricher({ url: fake.url, token: TOKEN, batchDelayMs: 1, retries: 0, breakerThreshold: 3, breakerCooldownMs: 200 }, counters);
      for (let i = 0; i < 3; i++) await settleAll(e, ask(e, i, 1));
      assert.equal(e.stats.breaker, 'open');
      const n = fake.requests();
      e.request(query(10));
      assert.equal(e.outcome('q10')!.status, 'circuit_open', 'decided synchronously, nothing sent');
      assert.equal(fake.requests(), n);
      failing = false;
      await new Promise((r) => setTimeout(r, 250));
      const os = await settleAll(e, ask(e, 20, 5));
      assert.deepEqual(tally(os), { enriched: 5 });
      assert.equal(e.stats.breaker, 'closed');
      assert.equal(counters.get('enrich.breaker_opened'), 1);
      assert.equal(counters.get('enrich.circuit_open'), 1);
      e.close();
    } finally {
      await fake.close();
    }
  });

  it('queue_full beyond maxQueue; drain deadline ends the rest as timeout; close ends in-flight as agent_unavailable', async () => {
    const fake = await fakeAgent((b) => ({ delayMs: 300, body: goodAnswer(b!.flows) }));
    try {
      const counters = new AnomalyCounters();
      const e = new Enricher({ url: fake.url, token: TOKEN, batchSize: 10, batchDelayMs: 1, maxQueue: 20, maxInFlightBatches: 1, timeoutMs: 5000 }, counters);
      // synchronous burst: the first 20 queue, the rest are refused at once
      const ids = ask(e, 0, 30);
      const full = ids.filter((id) => e.outcome(id)?.status === 'queue_full');
      assert.equal(full.length, 10);
      assert.equal(counters.get('enrich.queue_full'), 10);
      await e.drain(100);
      const t = tally(ids.map((id) => e.outcome(id)!));
      assert.deepEqual(t, { queue_full: 10, timeout: 20 }, JSON.stringify(t));
      assert.equal(counters.get('enrich.drain_deadline'), 20);
      const more = ask(e, 100, 5);
      e.close();
      assert.deepEqual(tally(more.map((id) => e.outcome(id)!)), { agent_unavailable: 5 });
    } finally {
      await fake.close();
    }
  });
});
