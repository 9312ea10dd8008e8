/**
 * Parser reuse (createTlsParserFactory's pool, fed by StreamParser.release):
 * a reused TlsParser, its sides and its facts must equal a new parser's, and
 * analyse the next session exactly as a new parser does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { FlowFacts } from '../../src/flow/stream-parser.js';
import { createTlsParserFactory, TlsParser } from '../../src/tls/index.js';
import { dirty } from '../helpers/dirty.js';
import { allFixtures } from './helpers/fixtures.js';
import { feedConversation } from './helpers/feeder.js';
import { tls12Session, tls13Session, type Chunk } from './helpers/sessions.js';

const flowA: FlowFacts = { clientPort: 40000, serverPort: 443, lastTs: 1_000_000 };
const flowB: FlowFacts = { clientPort: 40001, serverPort: 8443, lastTs: 2_000_000 };

type Bag = Record<string, unknown>;

/** A parser's whole state as plain data: its fields, sides and facts (shared objects by identity). */
function state(p: TlsParser): Bag {
  const r = p as unknown as Bag;
  const f = r.f as Bag;
  return {
    ...r,
    sides: (r.sides as Bag[]).map((s) => ({ ...s })),
    dirFacts: (r.dirFacts as Bag[]).map((s) => ({ ...s })),
    f: { ...f, client: { ...(f.client as Bag) }, server: { ...(f.server as Bag) } },
    facts: null,
  };
}

function run(p: TlsParser, chunks: readonly Chunk[]): void {
  feedConversation(p, chunks);
  p.onEnd();
}

test('a released parser, reused, has exactly the state of a new one (every field of parser, sides and facts dirtied first)', () => {
  const counters = new AnomalyCounters();
  const make = createTlsParserFactory(counters);
  const p = make(flowA) as TlsParser;
  run(p, tls12Session());
  assert.ok(p.facts.detected && p.facts.client.certificates.length + p.facts.server.certificates.length > 0);
  const r = p as unknown as Bag;
  const f = r.f as Bag;
  assert.equal(f.clientHello, r.ownClientHello, 'the session\'s ClientHello is the parser\'s own');
  assert.equal(f.serverHello, r.ownServerHello, 'the session\'s ServerHello is the parser\'s own');
  dirty(r, []);
  for (const s of r.sides as object[]) dirty(s, ['hs']);
  dirty(f, ['clientHello', 'serverHello', 'retryRequest', 'alpnOffered', 'anomalies', 'lastAlert', 'prefix']);
  for (const s of r.dirFacts as object[]) dirty(s, ['certificates']);
  // The hellos the parser parses into: release must leave them as new ones, pinning nothing.
  dirty(r.ownClientHello as object, ['cipherSuites', 'compressionMethods', 'extensions', 'extensionTypes', 'alpn', 'supportedVersions', 'supportedGroups', 'ecPointFormats', 'signatureAlgorithms', 'keyShareGroups', 'pskKeyExchangeModes']);
  dirty(r.ownServerHello as object, ['extensions', 'extensionTypes']);
  // The roles swapped, as after a ClientHello from the responder.
  [f.client, f.server] = [f.server, f.client];
  r.released = false; // bookkeeping of release() itself, dirtied above
  p.release();
  const again = make(flowB) as TlsParser;
  assert.equal(again, p, 'the factory hands out the released parser');
  const fresh = new TlsParser(counters, r.opts as never, flowB, r.pool as TlsParser[]);
  assert.deepEqual(state(again), state(fresh));
  assert.equal(again.facts.client, (r.dirFacts as object[])[0], 'client facts are direction 0 again');
});

test('a reused parser analyses the next session as a new parser does (every recorded fixture after every other)', () => {
  const sessions: [string, Chunk[]][] = [
    ...allFixtures(),
    ['tls12', tls12Session({ serverData: [100, 200] })],
    ['tls13', tls13Session({ clientData: [300], serverData: [50, 60] })],
    ['tls12-cert', tls12Session({ cipher: 0x009c })],
  ];
  assert.ok(sessions.length >= 5);
  const counters = new AnomalyCounters();
  const make = createTlsParserFactory(counters);
  let compared = 0;
  for (const [before, first] of sessions) {
    for (const [name, second] of sessions) {
      const p = make(flowA) as TlsParser;
      run(p, first);
      p.release();
      const reused = make(flowB) as TlsParser;
      assert.equal(reused, p);
      run(reused, second);
      const fresh = new TlsParser(counters, {}, flowB);
      run(fresh, second);
      assert.deepEqual(reused.facts, fresh.facts, `${name} after ${before}`);
      reused.release();
      compared++;
    }
  }
  assert.equal(compared, sessions.length ** 2);
});

test('release is refused twice, and a parser made without a factory is never pooled', () => {
  const make = createTlsParserFactory(new AnomalyCounters());
  const p = make(flowA) as TlsParser;
  run(p, tls13Session());
  p.release();
  p.release();
  const a = make(flowA), b = make(flowB);
  assert.equal(a, p);
  assert.notEqual(b, p, 'released once, handed out once');
  const alone = new TlsParser(new AnomalyCounters(), {}, flowA);
  run(alone, tls12Session());
  alone.release();
  assert.ok(alone.facts.detected && alone.facts.server.certificates.length > 0, 'its facts stay as they were');
});

test('after a HelloRetryRequest the retry and the ServerHello are two objects: only the first ServerHello is parsed into the parser\'s own', () => {
  const hrr = allFixtures().find(([name]) => name.includes('hrr'));
  assert.ok(hrr, 'the recorded HelloRetryRequest fixture');
  const make = createTlsParserFactory(new AnomalyCounters());
  for (let round = 0; round < 2; round++) {
    const p = make(flowA) as TlsParser;
    run(p, hrr[1]);
    const f = p.facts;
    assert.ok(f.helloRetryRequest && f.retryRequest !== null && f.serverHello !== null);
    assert.notEqual(f.retryRequest, f.serverHello);
    assert.equal(f.retryRequest.helloRetryRequest, true);
    assert.equal(f.serverHello.helloRetryRequest, false, 'the real ServerHello did not overwrite the retry');
    assert.equal(f.retryRequest, (p as unknown as Bag).ownServerHello);
    p.release();
  }
});
