/**
 * The Enricher against a real agent (Sysmon backend on synthetic events, and
 * HTTPS with a private CA): batching, outcomes, whenSettled, the cache,
 * drain, stats; the packet-path calls never throw or wait.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { runAgent, type RunningAgent } from '../../src/agent/index.js';
import { Enricher } from '../../src/enrich/index.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { AttributionQuery } from '../../src/shared/endpoint-api.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { missingTools, tempDir } from '../helpers/tools.js';
import { TOKEN, tokenFile } from '../agent/helpers.js';
import { query, syntheticSysmon } from './helpers.js';

describe('Enricher with a real agent', () => {
  let agent: RunningAgent;
  before(async () => {
    agent = await runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile(), events: [syntheticSysmon(3000)] });
  });
  after(async () => agent?.close());

  it('batches (full batches go at once, the rest after batchDelayMs), answers every query in order', async () => {
    const counters = new AnomalyCounters();
    const e = new Enricher({ url: agent.url, token: TOKEN, batchSize: 500, batchDelayMs: 20 }, counters);
    const ids: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const q = query(i);
      e.request(q);
      ids.push(q.id);
    }
    e.request(query(5, { foreign: true, id: 'foreign' }));
    assert.equal(e.outcome('q0'), undefined, 'in flight');
    await Promise.all(ids.map((id) => e.whenSettled(id)));
    await e.whenSettled('foreign');
    for (let i = 0; i < 1200; i++) {
      const o = e.outcome(`q${i}`)!;
      assert.equal(o.status, 'enriched', `q${i}`);
      assert.equal(o.result!.id, `q${i}`);
      assert.equal(o.result!.process!.pid, 4242);
      assert.equal(o.result!.process!.executable, 'C:\\beacon.exe');
    }
    assert.equal(e.outcome('foreign')!.status, 'host_unknown');
    const s = e.stats;
    assert.equal(s.requests, 1201);
    assert.equal(s.batches, 3, '500 + 500 + 201');
    assert.equal(s.answered, 1201);
    assert.equal(s.enriched, 1200);
    assert.equal(s.timeouts + s.retries + s.breakerOpens, 0);
    assert.ok(s.latencyMs.p50 !== null && s.latencyMs.p99 !== null);
    assert.equal(counters.total(), 0, 'no anomalies');
    assert.equal(agent.stats.attributionRequests, 3);
    e.close();
  });

  it('the cache answers a repeated 5-tuple without asking; outcome() right away', async () => {
    const e = new Enricher({ url: agent.url, token: TOKEN, batchDelayMs: 1 }, new AnomalyCounters());
    e.request(query(7, { id: 'first' }));
    await e.whenSettled('first');
    e.request(query(7, { id: 'again' }));
    const o = e.outcome('again');
    assert.ok(o, 'answered synchronously from the cache');
    assert.equal(o.status, 'enriched');
    assert.equal(o.result!.id, 'again');
    assert.equal(e.stats.cacheHits, 1);
    assert.equal(e.stats.batches, 1);
    // a flow far from the cached one in time is asked again
    e.request({ ...query(7, { id: 'later' }), ts: new Date(Date.parse(query(7).ts) + 3_600_000).toISOString() });
    assert.equal(e.outcome('later'), undefined);
    await e.whenSettled('later');
    assert.equal(e.stats.batches, 2);
    e.close();
  });

  it('drain sends what is queued and waits; forget frees an outcome; whenSettled of an unknown id resolves', async () => {
    const e = new Enricher({ url: agent.url, token: TOKEN, batchDelayMs: 60_000 }, new AnomalyCounters());
    for (let i = 0; i < 50; i++) e.request(query(100 + i));
    assert.equal(e.stats.queued, 50);
    await e.drain(5000);
    assert.equal(e.stats.queued, 0);
    assert.equal(e.outcome('q100')!.status, 'enriched');
    e.forget('q100');
    assert.equal(e.outcome('q100'), undefined);
    await e.whenSettled('never-asked');
    e.close();
  });

  it('invalid queries and odd calls end with a status or are ignored, never thrown', async () => {
    const counters = new AnomalyCounters();
    const e = new Enricher({ url: agent.url, token: TOKEN, batchDelayMs: 1 }, counters);
    assert.doesNotThrow(() => e.request(null as unknown as AttributionQuery));
    assert.doesNotThrow(() => e.request({} as AttributionQuery));
    e.request({ ...query(1), id: 'badport', src_port: 70000 });
    e.request({ ...query(1), id: 'badip', src_ip: 'x' });
    assert.equal(e.outcome('badport')!.status, 'bad_response');
    assert.equal(e.outcome('badip')!.status, 'bad_response');
    e.request(query(2, { id: 'dup' }));
    e.request(query(2, { id: 'dup' }));
    await e.whenSettled('dup');
    assert.equal(counters.get('enrich.duplicate_id'), 1);
    assert.equal(counters.get('enrich.invalid_query'), 4);
    e.close();
    e.request(query(3, { id: 'after-close' }));
    assert.equal(e.outcome('after-close')!.status, 'agent_unavailable');
  });

  it('bad options are configuration errors at construction', () => {
    assert.throws(() => new Enricher({ url: 'not a url', token: TOKEN }, new AnomalyCounters()), (x: unknown) => x instanceof TlsentryError && x.code === 'ERR_CONFIG');
    assert.throws(() => new Enricher({ url: 'ftp://x', token: TOKEN }, new AnomalyCounters()), TlsentryError);
    assert.throws(() => new Enricher({ url: 'http://x', token: '' }, new AnomalyCounters()), TlsentryError);
    const e = new Enricher({ url: 'http://127.0.0.1:1', token: TOKEN, batchSize: 100_000 }, new AnomalyCounters());
    e.close();
  });
});

describe('Enricher over HTTPS (agent with --tls-cert/--tls-key, sensor with the CA)', { skip: missingTools('openssl') ?? false }, () => {
  it('answers with the CA; without it every query ends agent_unavailable', async () => {
    const dir = tempDir();
    // a certificate for the address itself (no name resolution involved)
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const certPem = readFileSync(cert);
    const agent = await runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile(), events: [syntheticSysmon(10)], tlsCert: cert, tlsKey: key });
    try {
      assert.match(agent.url, /^https:\/\/127\.0\.0\.1:/);
      const url = agent.url;
      const ok = new Enricher({ url, token: TOKEN, ca: certPem, batchDelayMs: 1 }, new AnomalyCounters());
      ok.request(query(1));
      await ok.whenSettled('q1');
      assert.equal(ok.outcome('q1')!.status, 'enriched');
      ok.close();
      const counters = new AnomalyCounters();
      const bad = new Enricher({ url, token: TOKEN, batchDelayMs: 1, retries: 0 }, counters);
      bad.request(query(1));
      await bad.whenSettled('q1');
      assert.equal(bad.outcome('q1')!.status, 'agent_unavailable', 'untrusted certificate');
      bad.close();
    } finally {
      await agent.close();
    }
  });
});
