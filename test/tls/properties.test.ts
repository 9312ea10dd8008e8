/**
 * Property tests (fast-check):
 * - no byte sequence, segmentation or gap makes the parser throw or break the
 *   consumed/needed contract (the feeder asserts it on every call);
 * - a ClientHello cut at any byte gives a partial hello and an anomaly;
 * - any segmentation of a real handshake gives the same facts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import type { Direction } from '../../src/flow/stream-parser.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { TlsParser, type TlsSessionFacts } from '../../src/tls/index.js';
import { DirectionFeeder, splitAt } from './helpers/feeder.js';
import { allFixtures } from './helpers/fixtures.js';
import { alpnExt, clientHelloBody, ext, handshake, records, sniExt, supportedVersionsExt } from './helpers/hello-builder.js';
import { chromeLikeHello, tls12Session, tls13Session, type Chunk } from './helpers/sessions.js';

const fixtures = allFixtures();
const built: [string, Chunk[]][] = [
  ['tls12', tls12Session()],
  ['tls13', tls13Session()],
  ['tls13-pq', tls13Session({ clientHello: chromeLikeHello('pq.example', true) })],
];
const conversations = [...fixtures, ...built];

const RUNS = Number(process.env.TLS_PROPERTY_RUNS ?? 150);

/** The facts that must not depend on how bytes were cut. */
function summary(f: TlsSessionFacts): unknown {
  return {
    detected: f.detected,
    version: f.version,
    cipher: f.cipher,
    sni: f.sni,
    alpnOffered: f.alpnOffered,
    alpnSelected: f.alpnSelected,
    ja3: f.ja3,
    ja3s: f.ja3s,
    ja4: f.ja4,
    ja4_r: f.ja4_r,
    ja4_ro: f.ja4_ro,
    established: f.established,
    resumed: f.resumed,
    history: f.history,
    hrr: f.helloRetryRequest,
    client: { ...f.client, certificates: f.client.certificates.map((c) => c.toString('hex')) },
    server: { ...f.server, certificates: f.server.certificates.map((c) => c.toString('hex')) },
    lastAlert: f.lastAlert,
    anomalies: f.anomalies,
  };
}

/**
 * Feed `chunks` with each chunk cut at `cuts` (fractions of its length) and,
 * per direction, delivered in one or more pushes.
 */
function feedCut(chunks: readonly Chunk[], cuts: readonly number[][], pad: boolean): TlsSessionFacts {
  const p = new TlsParser(new AnomalyCounters());
  const feeders = [new DirectionFeeder(p, 0, pad), new DirectionFeeder(p, 1, pad)];
  chunks.forEach(([d, b], i) => {
    const points = (cuts[i] ?? []).map((x) => Math.floor(x * b.length));
    for (const piece of splitAt(b, points)) feeders[d].push(piece);
  });
  return p.finish();
}

describe('properties', () => {
  it('no byte sequence makes the parser throw', () => {
    const counters = new AnomalyCounters();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom<Direction>(0, 1), fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(40)), { maxLength: 20 }),
        (pieces) => {
          const p = new TlsParser(counters);
          const feeders = [new DirectionFeeder(p, 0, true), new DirectionFeeder(p, 1, true)];
          for (const [d, bytes, g] of pieces) {
            feeders[d].push(Buffer.from(bytes));
            if (g > 35) feeders[d].gap(g);
          }
          p.finish();
        },
      ),
      { numRuns: RUNS * 4 },
    );
    assert.equal(counters.get('tls.parser.internal_error'), 0);
  });

  it('no corruption of a real handshake makes the parser throw', () => {
    const counters = new AnomalyCounters();
    fc.assert(
      fc.property(
        fc.constantFrom(...conversations),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 12 }),
        fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), { maxLength: 12 }),
        fc.option(fc.tuple(fc.nat(), fc.nat(3000))),
        ([, chunks], flips, cuts, gap) => {
          const total = chunks.reduce((n, [, b]) => n + b.length, 0);
          const mutated: Chunk[] = chunks.map(([d, b]) => [d, Buffer.from(b)] as const);
          for (const [pos, val] of flips) {
            let at = pos % total;
            for (const [, b] of mutated) {
              if (at < b.length) {
                b[at] = val;
                break;
              }
              at -= b.length;
            }
          }
          const p = new TlsParser(counters);
          const feeders = [new DirectionFeeder(p, 0, true), new DirectionFeeder(p, 1, true)];
          mutated.forEach(([d, b], i) => {
            const points = (cuts[i] ?? []).map((x) => Math.floor(x * b.length));
            const pieces = splitAt(b, points);
            pieces.forEach((piece, k) => {
              if (gap !== null && gap[0] % (mutated.length * 2) === i * 2 + (k % 2)) feeders[d].gap(gap[1] + 1);
              feeders[d].push(piece);
            });
          });
          p.finish();
        },
      ),
      { numRuns: RUNS * 2 },
    );
    assert.equal(counters.get('tls.parser.internal_error'), 0);
  });

  it('a ClientHello cut at any byte gives a partial hello and an anomaly', () => {
    const hellos = [
      chromeLikeHello('cut.example', true),
      clientHelloBody({ extensions: [sniExt('small.example'), alpnExt('h2'), supportedVersionsExt(0x0304), ext(0x0017)] }),
    ];
    for (const hello of hellos) {
      for (const fragment of [16384, 300]) {
        const stream = records(22, handshake(1, hello), 0x0301, fragment);
        for (let cut = 3; cut < stream.length; cut++) {
          const p = new TlsParser(new AnomalyCounters());
          new DirectionFeeder(p, 0).push(stream.subarray(0, cut));
          const f = p.finish();
          assert.equal(f.detected, true, `cut ${cut}`);
          assert.ok(f.clientHello !== null, `cut ${cut}: a partial hello`);
          assert.equal(f.clientHello.truncated, true, `cut ${cut}`);
          assert.ok(f.anomalies.includes('tls.client_hello.truncated'), `cut ${cut}: ${JSON.stringify(f.anomalies)}`);
          assert.equal(f.ja4, null);
          if (cut >= 5 + 4 + 2) assert.equal(f.clientHello.legacyVersion, 0x0303, `cut ${cut}`);
        }
      }
    }
  });

  it('random hellos cut at a random byte: partial result, anomaly, no throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 })), { maxLength: 20 }),
        fc.domain(),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ciphers, extensions, name, where) => {
          const exts = [sniExt(name), ...extensions.filter(([t]) => t !== 0).map(([t, d]) => ext(t, Buffer.from(d)))];
          const hello = clientHelloBody({ ciphers, extensions: exts });
          const stream = records(22, handshake(1, hello), 0x0301);
          const cut = 3 + Math.floor(where * (stream.length - 3));
          const p = new TlsParser(new AnomalyCounters());
          new DirectionFeeder(p, 0).push(stream.subarray(0, cut));
          const f = p.finish();
          assert.ok(f.clientHello?.truncated);
          assert.ok(f.anomalies.includes('tls.client_hello.truncated'));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('any segmentation of a real handshake gives the same facts', () => {
    const baselines = new Map(conversations.map(([name, chunks]) => [name, summary(feedCut(chunks, [], false))]));
    fc.assert(
      fc.property(
        fc.constantFrom(...conversations),
        fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), { maxLength: 12 }),
        fc.boolean(),
        ([name, chunks], cuts, pad) => {
          assert.deepEqual(summary(feedCut(chunks, cuts, pad)), baselines.get(name), name);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    // Byte-by-byte as the extreme.
    for (const [name, chunks] of conversations) {
      const cuts = chunks.map(([, b]) => Array.from({ length: b.length }, (_, i) => i / b.length));
      assert.deepEqual(summary(feedCut(chunks, cuts, false)), baselines.get(name), `${name}, byte by byte`);
    }
  });
});
