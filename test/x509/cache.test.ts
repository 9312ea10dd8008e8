import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { CertificateCache, ChainJudge, IntermediateCache, judgeChain, TrustStore } from '../../src/x509/index.js';
import { pki, T } from './fixtures.js';

const SNI = 'www.example.test';

function store(): TrustStore {
  const s = TrustStore.empty();
  s.addDer(pki().c.root.der, 'enterprise_pki');
  return s;
}

describe('CertificateCache', () => {
  it('summarises each distinct certificate once and says when it is first seen', () => {
    const { c } = pki();
    const cache = new CertificateCache();
    const a = cache.get(c.leaf.der);
    const b = cache.get(Buffer.from(c.leaf.der));
    assert.equal(a.firstSeen, true);
    assert.equal(b.firstSeen, false);
    assert.equal(a.summary, b.summary);
    assert.equal(cache.peek(a.summary.sha256), a.summary);
    assert.deepEqual([cache.hits, cache.misses], [1, 1]);
  });

  it('is bounded (LRU) and keeps its own copy of the DER', () => {
    const { c } = pki();
    const cache = new CertificateCache({ capacity: 2 });
    const scratch = Buffer.from(c.leaf.der);
    cache.get(scratch);
    scratch.fill(0); // the capture buffer is reused
    cache.get(c.inter.der);
    cache.get(c.leaf.der); // still cached, intact
    cache.get(c.root.der); // evicts inter (least recently used)
    assert.equal(cache.size, 2);
    assert.equal(cache.evictions, 1);
    assert.equal(cache.get(c.inter.der).firstSeen, true);
  });
});

describe('verdict cache', () => {
  it('one validation for many connections; summaries and buffers share it', async () => {
    const { c } = pki();
    const certs = new CertificateCache();
    const judge = new ChainJudge({ trust: store(), certificateCache: certs });
    const summaries = [certs.get(c.leaf.der).summary, certs.get(c.inter.der).summary];
    const first = await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6, sni: SNI });
    for (let i = 1; i <= 1000; i++) {
      const v = await judge.judge(i % 2 ? summaries : [c.leaf.der, c.inter.der], { atMicros: T * 1e6 + i * 1e6, sni: SNI });
      assert.equal(v, first);
    }
    assert.equal(judge.stats.validations, 1);
    assert.equal(judge.stats.cacheHits, 1000);
    assert.equal(judge.lookup(summaries, { atMicros: T * 1e6, sni: SNI }), first);
  });

  it('a capture time past notAfter does not reuse an ok', async () => {
    const { c } = pki();
    const judge = new ChainJudge({ trust: store() });
    const notAfter = Date.parse('2024-09-01T00:00:00Z') * 1000;
    const ok = await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6, sni: SNI });
    assert.equal(ok.validation_status, 'ok');
    assert.equal((await judge.judge([c.leaf.der, c.inter.der], { atMicros: notAfter, sni: SNI })).validation_status, 'ok');
    const late = await judge.judge([c.leaf.der, c.inter.der], { atMicros: notAfter + 1, sni: SNI });
    assert.equal(late.validation_status, 'certificate has expired');
    // Inside the about-to-expire window the anomaly appears, with the same status.
    const soon = await judge.judge([c.leaf.der, c.inter.der], { atMicros: notAfter - 5 * 86400e6, sni: SNI });
    assert.deepEqual(soon.anomalies, ['about_to_expire']);
    // Earlier windows are still served from the cache.
    const before = judge.stats.validations;
    assert.equal(await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6 + 7, sni: SNI }), ok);
    assert.equal(judge.stats.validations, before);
  });

  it('the SNI is part of the verdict, not of the validation', async () => {
    const { c } = pki();
    const judge = new ChainJudge({ trust: store() });
    const a = await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6, sni: 'WWW.Example.Test.' });
    const b = await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6, sni: 'other.test' });
    const none = await judge.judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6 });
    assert.deepEqual([a.sni_matches_cert, b.sni_matches_cert, none.sni_matches_cert], [true, false, null]);
    assert.deepEqual([a.anomalies, b.anomalies, none.anomalies], [[], ['hostname_mismatch'], ['missing_sni']]);
    assert.equal(judge.stats.validations, 1);
  });

  it('role client skips server-only checks', async () => {
    const { c } = pki();
    const v = await new ChainJudge({ trust: store() }).judge([c.clientOnly.der, c.inter.der], { atMicros: T * 1e6, role: 'client' });
    assert.deepEqual(v.anomalies, []);
  });

  it('intermediate cache: a verdict that needed it is redone when it learns (and flagged)', async () => {
    const { c } = pki();
    const ic = new IntermediateCache();
    const judge = new ChainJudge({ trust: store(), intermediateCache: ic });
    const ctx = { atMicros: T * 1e6, sni: SNI };
    assert.equal((await judge.judge([c.leaf.der], ctx)).validation_status, 'unable to get local issuer certificate');
    await judge.judge([c.sha1.der, c.inter.der], ctx); // learns the intermediate
    assert.equal(ic.size, 1);
    const v = await judge.judge([c.leaf.der], ctx);
    assert.equal(v.validation_status, 'ok');
    assert.equal(v.completed_from_cache, true);
    assert.deepEqual(v.anomalies, ['incomplete_chain']);
    // Without a cache, the same connection stays incomplete (Zeek's validate-certs-no-cache).
    const plain = await judgeChain([c.leaf.der], { ...ctx, trust: store() });
    assert.equal(plain.validation_status, 'unable to get local issuer certificate');
  });

  it('judgeChain shares a judge per trust store', async () => {
    const { c } = pki();
    const trust = store();
    const a = await judgeChain([c.leaf.der, c.inter.der], { trust, atMicros: T * 1e6, sni: SNI });
    const b = await judgeChain([c.leaf.der, c.inter.der], { trust, atMicros: T * 1e6 + 1, sni: SNI });
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
  });

  it('counts verdict anomalies per connection', async () => {
    const { c } = pki();
    const counters = new AnomalyCounters();
    const judge = new ChainJudge({ trust: store(), counters });
    for (let i = 0; i < 3; i++) await judge.judge([c.expired.der, c.inter.der], { atMicros: T * 1e6 });
    assert.equal(counters.get('x509.chain.expired'), 3);
    assert.equal(counters.get('x509.chain.missing_sni'), 3);
  });
});
