/**
 * IPv4 and IPv6 fragment reassembly: any split, order and duplication gives
 * the datagram back; overlaps keep the first bytes; limits hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ether, ext, filler, ipv4, ipv6, tcp, udp, ACK, PSH } from '../../scripts/craft-pcaps.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { DECODE_FAILED, DECODE_HELD, DECODE_OTHER_IP, DECODE_TCP, Decoder, PacketView } from '../../src/decode/index.js';
import { FRAG_DONE, FRAG_DROPPED, FRAG_HELD, FragmentReassembler, type FragmentAnomalies } from '../../src/decode/ip-fragments.js';
import { DecodeStats } from '../../src/decode/stats.js';
import { record } from './helpers.js';

const SRC = '192.0.2.1';
const DST = '192.0.2.2';
const PROTO_TEST = 255; // reserved: decoded as "other IP", payload = the reassembled bytes

function frag4(payload: Buffer, offset: number, more: boolean, id = 77, proto = PROTO_TEST): Buffer {
  return ether(0x0800, ipv4({ src: SRC, dst: DST, proto, id, mf: more, fragOffset: offset, payload, l4sum: false }));
}

function frag6(payload: Buffer, offset: number, more: boolean, id = 0x99, next = PROTO_TEST, unfrag = [ext.hopByHop()]): Buffer {
  return ether(
    0x86dd,
    ipv6({ src: '2001:db8::1', dst: '2001:db8::2', proto: next, ext: [...unfrag, ext.fragment(offset, more, id)], payload, l4sum: false }),
  );
}

function setup(options = {}) {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, options);
  const view = new PacketView();
  const run = (frame: Buffer, ts = 0, wirelen = frame.length) => dec.decode(record(1, frame, wirelen, ts), view);
  const bytes = () => view.payload.subarray(view.payloadOffset, view.payloadOffset + view.payloadLength);
  return { counters, dec, view, run, bytes };
}

test('overlapping IPv4 fragments: the bytes that came first win, the overlap is counted', () => {
  const { counters, run, bytes, view } = setup();
  const a = Buffer.alloc(16, 0xaa);
  const b = Buffer.alloc(16, 0xbb);
  const c = Buffer.alloc(16, 0xcc);
  assert.equal(run(frag4(a, 0, true)), DECODE_HELD);
  assert.equal(run(frag4(b, 8, true)), DECODE_HELD); // [8,16) overlaps a
  assert.equal(run(frag4(c, 24, false)), DECODE_OTHER_IP);
  assert.equal(counters.get('decode.ipv4.frag_overlap'), 1);
  assert.deepEqual(bytes(), Buffer.concat([a, b.subarray(8), c]));
  assert.equal(view.ipBytes, 20 + 40);
  assert.equal(view.protocol, PROTO_TEST);
});

test('a later fragment covering held bytes only fills the holes around them', () => {
  const { counters, run, bytes } = setup();
  const mid = Buffer.alloc(8, 0x11);
  const all = Buffer.alloc(40, 0x22);
  const tail = Buffer.alloc(5, 0x33);
  assert.equal(run(frag4(mid, 16, true)), DECODE_HELD);
  assert.equal(run(frag4(tail, 40, false)), DECODE_HELD);
  assert.equal(run(frag4(all, 0, true)), DECODE_OTHER_IP);
  assert.equal(counters.get('decode.ipv4.frag_overlap'), 1);
  assert.deepEqual(bytes(), Buffer.concat([all.subarray(0, 16), mid, all.subarray(24), tail]));
});

test('the reassembled datagram outlives the next packet', () => {
  const { run, view } = setup();
  run(frag4(Buffer.alloc(8, 1), 0, true));
  assert.equal(run(frag4(Buffer.alloc(8, 2), 8, false)), DECODE_OTHER_IP);
  const kept = view.payload;
  const copy = Buffer.from(kept.subarray(view.payloadOffset, view.payloadOffset + view.payloadLength));
  run(frag4(Buffer.alloc(8, 3), 0, true, 78));
  run(frag4(Buffer.alloc(8, 4), 8, false, 78));
  assert.notEqual(view.payload, kept);
  assert.deepEqual(kept.subarray(0, 16), copy);
});

test('fragments time out by packet time', () => {
  const { dec, run } = setup({ fragTimeoutMicros: 30_000_000 });
  assert.equal(run(frag4(Buffer.alloc(8), 0, true), 1_000_000), DECODE_HELD);
  assert.equal(dec.fragmentDatagrams, 1);
  // 31 s later the first fragment is gone: the last one starts a new datagram that cannot complete.
  assert.equal(run(frag4(Buffer.alloc(8), 8, false), 32_000_000), DECODE_HELD);
  assert.equal(dec.stats.fragments.timedOut, 1);
  assert.equal(dec.fragmentDatagrams, 1);
  dec.expireFragments(100_000_000);
  assert.equal(dec.fragmentDatagrams, 0);
  assert.equal(dec.fragmentMemory, 0);
  assert.equal(dec.stats.fragments.timedOut, 2);
});

test('a fragment past 65,535 bytes is counted and dropped', () => {
  const { counters, run, dec } = setup();
  assert.equal(run(frag4(Buffer.alloc(16), 65528 - 8, false)), DECODE_FAILED);
  assert.equal(counters.get('decode.ipv4.frag_pkt_too_large'), 1);
  assert.equal(run(frag6(Buffer.alloc(16), 65528, false)), DECODE_FAILED);
  assert.equal(counters.get('decode.ipv6.frag_pkt_too_large'), 1);
  assert.equal(dec.fragmentDatagrams, 0);
});

test('impossible fragment lengths are counted', () => {
  const { counters, run } = setup();
  assert.equal(run(frag4(Buffer.alloc(12), 0, true)), DECODE_FAILED, 'non-final fragment not a multiple of 8');
  assert.equal(run(frag4(Buffer.alloc(0), 8, true)), DECODE_FAILED, 'empty non-final fragment');
  assert.equal(counters.get('decode.ipv4.frag_invalid_length'), 2);
  assert.equal(run(frag4(Buffer.alloc(8), 16, false, 5)), DECODE_HELD, 'datagram ends at 24');
  assert.equal(run(frag4(Buffer.alloc(8), 24, false, 5)), DECODE_FAILED, 'a second, different end');
  assert.equal(run(frag4(Buffer.alloc(16), 16, true, 5)), DECODE_FAILED, 'bytes past the known end');
  assert.equal(counters.get('decode.ipv4.frag_invalid_length'), 4);
  assert.equal(run(frag4(Buffer.alloc(16), 0, true, 5)), DECODE_OTHER_IP, 'the datagram still completes');
});

test('a fragment cut by the snap length cannot be reassembled', () => {
  const { counters, run } = setup();
  const f = frag4(Buffer.alloc(64), 0, true);
  assert.equal(run(f.subarray(0, f.length - 10), 0, f.length), DECODE_FAILED);
  assert.equal(counters.get('decode.ipv4.frag_truncated'), 1);
  const f6 = frag6(Buffer.alloc(64), 0, true);
  assert.equal(run(f6.subarray(0, f6.length - 10), 0, f6.length), DECODE_FAILED);
  assert.equal(counters.get('decode.ipv6.frag_truncated'), 1);
});

test('IPv6: overlap, and a second fragment header inside the reassembled payload', () => {
  const { counters, run, bytes } = setup();
  assert.equal(run(frag6(Buffer.alloc(16, 1), 0, true)), DECODE_HELD);
  assert.equal(run(frag6(Buffer.alloc(16, 2), 8, false)), DECODE_OTHER_IP);
  assert.equal(counters.get('decode.ipv6.frag_overlap'), 1);
  assert.deepEqual(bytes(), Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(8, 2)]));
  // The fragmentable part starts with another fragment header.
  const inner = Buffer.concat([Buffer.from([PROTO_TEST, 0, 0, 8, 0, 0, 0, 1]), Buffer.alloc(8)]);
  assert.equal(run(frag6(inner.subarray(0, 8), 0, true, 5, 44)), DECODE_HELD);
  assert.equal(run(frag6(inner.subarray(8), 8, false, 5, 44)), DECODE_FAILED);
  assert.equal(counters.get('decode.ipv6.frag_nested'), 1);
});

test('the reassembler alone: a datagram larger than the memory cap is dropped', () => {
  const counters = new AnomalyCounters();
  const stats = new DecodeStats();
  const r = new FragmentReassembler(1000, 10, 1e9, counters, stats);
  const ids: FragmentAnomalies = { overlap: 0, tooLarge: 0, invalidLength: 0 };
  const data = Buffer.alloc(2000);
  assert.equal(r.add(ids, 'a', 0, 0, true, data, 0, 400, 65535, 6, 20), FRAG_HELD);
  assert.equal(r.add(ids, 'b', 0, 0, true, data, 0, 400, 65535, 6, 20), FRAG_HELD);
  assert.equal(stats.fragments.evicted, 1, 'a made room for b');
  assert.equal(r.add(ids, 'b', 0, 400, true, data, 0, 800, 65535, 6, 20), FRAG_DROPPED);
  assert.equal(counters.get('decode.frag.memcap'), 1);
  assert.equal(r.memory, 0);
  assert.equal(r.datagrams, 0);
  assert.equal(r.add(ids, 'c', 0, 0, false, data, 0, 16, 65535, 6, 20), FRAG_DONE);
});

test('the memory cap option has a floor that fits a worst-case datagram', () => {
  const dec = new Decoder(new AnomalyCounters(), { fragMemoryCap: 1000 });
  assert.equal(dec.options.fragMemoryCap, 2 * 1024 * 1024);
  assert.ok(65535 + 8192 * 128 + 256 < dec.options.fragMemoryCap);
});

/** Splits [0, n) into fragments at multiples of 8 (at least `min` cuts). */
function splits(n: number, min = 0): fc.Arbitrary<number[]> {
  return fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, Math.floor((n - 1) / 8)) }), { minLength: min, maxLength: 12 })
    .map((cuts) => [0, ...cuts.map((c) => c * 8).filter((c) => c < n).sort((a, b) => a - b), n]);
}

test('any split, order and duplication of IPv4 fragments gives the same TCP segment (fast-check)', () => {
  const payload = filler(700, 4);
  const seg = tcp({ sport: 5555, dport: 443, seq: 0xdeadbeef, ack: 1, flags: PSH | ACK, payload });
  const { counters, run, bytes, view, dec } = setup();
  fc.assert(
    fc.property(splits(seg.length, 1), fc.nat(), fc.array(fc.nat(), { maxLength: 3 }), (edges, seed, dups) => {
      const pieces = edges.slice(0, -1).map((s, i) => ({ s, e: edges[i + 1] }));
      const order = [...pieces.keys()];
      let x = seed; // deterministic shuffle from the seed
      for (let i = order.length - 1; i > 0; i--) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const j = x % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      // Duplicates of pieces other than the one sent last go in before it, while the datagram is open.
      const sends = order.slice(0, -1);
      for (const d of dups) sends.splice(d % (sends.length + 1), 0, order[d % (order.length - 1)]);
      sends.push(order[order.length - 1]);
      const overlapsBefore = counters.get('decode.ipv4.frag_overlap');
      const before = counters.total();
      sends.forEach((k, n) => {
        const { s, e } = pieces[k];
        const r = run(frag4(seg.subarray(s, e), s, e < seg.length, 4242, 6));
        assert.equal(r, n === sends.length - 1 ? DECODE_TCP : DECODE_HELD);
      });
      assert.deepEqual(bytes(), payload);
      assert.equal(view.seq, 0xdeadbeef);
      assert.equal(view.ipBytes, 20 + seg.length);
      const dupCount = sends.length - order.length;
      assert.equal(counters.total() - before, counters.get('decode.ipv4.frag_overlap') - overlapsBefore, 'only overlaps counted');
      if (dupCount === 0) assert.equal(counters.total(), before, 'no anomaly without duplicates');
      assert.equal(dec.fragmentDatagrams, 0);
    }),
    { numRuns: 300 },
  );
});

test('shuffled IPv6 fragments with duplicates give the datagram back (fast-check)', () => {
  const dgram = udp(1000, 2000, filler(900, 6));
  const { run, bytes, view, dec } = setup();
  fc.assert(
    fc.property(splits(dgram.length), fc.nat(), fc.boolean(), (edges, seed, dup) => {
      const pieces = edges.slice(0, -1).map((s, i) => ({ s, e: edges[i + 1] }));
      const order = pieces.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 97) - ((b * 7919 + seed) % 97));
      if (dup) order.unshift(order[order.length - 1]);
      let last = -1;
      let completedBy = -1;
      order.forEach((k, n) => {
        const { s, e } = pieces[k];
        const r = run(frag6(dgram.subarray(s, e), s, e < dgram.length, 0x1234 + seed, 17));
        if (r === DECODE_OTHER_IP && completedBy < 0) {
          completedBy = n;
          assert.deepEqual(bytes(), dgram.subarray(8));
          assert.equal(view.srcPort, 1000);
          // An only fragment (offset 0, M = 0) is atomic: its header stays in the packet.
          assert.equal(view.ipBytes, 40 + 8 + dgram.length + (pieces.length === 1 ? 8 : 0));
        }
        last = r;
      });
      assert.ok(completedBy >= 0, `completed (last result ${last})`);
      dec.flushFragments();
    }),
    { numRuns: 300 },
  );
});
