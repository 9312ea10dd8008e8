/**
 * Hostile input is normal input: truncations of every crafted frame at every
 * length, random bytes on every link type, random corruption of valid frames,
 * and fragment floods. Nothing may throw, a failed decode must name an
 * anomaly, the view must never point outside its buffer, and fragment memory
 * stays under its cap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { craftCaptures, ether, filler, frameMicros, ipv4, ipv6, ext, tcp, ACK } from '../../scripts/craft-pcaps.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { PacketRecord } from '../../src/capture/types.js';
import { DECODE_FAILED, DECODE_HELD, DECODE_TCP, Decoder, PacketView } from '../../src/decode/index.js';
import { MAX_KEYS } from '../../src/decode/stats.js';
import { record, recordIn } from './helpers.js';

const LINK_TYPES = [0, 1, 9, 12, 14, 50, 101, 108, 113, 228, 229, 276, 127, 147, 65535, 70000, -1];

/** The invariants every decode keeps, whatever the input. */
function checkedDecode(dec: Decoder, counters: AnomalyCounters, rec: PacketRecord, view: PacketView, label: string): number {
  const before = counters.total();
  const r = dec.decode(rec, view);
  assert.ok(Number.isInteger(r) && r >= 0 && r <= 4, `${label}: result ${r} is a DECODE_* constant`);
  if (r === DECODE_FAILED) assert.ok(counters.total() > before, `${label}: a failed decode counts an anomaly`);
  assert.ok(view.payloadLength >= 0, `${label}: payloadLength >= 0`);
  assert.ok(view.payloadOffset >= 0 && view.payloadOffset + view.payloadLength <= view.payload.length, `${label}: payload inside its buffer`);
  if (view.payload === rec.data) {
    assert.ok(view.payloadOffset + view.payloadLength <= rec.offset + rec.caplen, `${label}: payload inside the captured frame`);
  }
  return r;
}

test('every crafted frame truncated at every length: no throw, an anomaly or a valid shorter decode', () => {
  const counters = new AnomalyCounters();
  const view = new PacketView();
  let decodes = 0;
  for (const cap of craftCaptures()) {
    const dec = new Decoder(counters);
    const full = new PacketView();
    cap.frames.forEach((f, i) => {
      // The full decode, for reference (after the frames before it, so fragments complete).
      dec.flushFragments();
      for (let j = 0; j < i; j++) dec.decode(recordIn(cap.linkType, cap.frames[j].data, undefined, frameMicros(j)), full);
      const fullResult = dec.decode(recordIn(cap.linkType, f.data, f.wirelen ?? f.data.length, frameMicros(i)), full);
      const wire = f.wirelen ?? f.data.length;
      for (let n = 0; n <= f.data.length; n++) {
        for (const snapCut of [false, true]) {
          dec.flushFragments();
          for (let j = 0; j < i; j++) dec.decode(recordIn(cap.linkType, cap.frames[j].data, undefined, frameMicros(j)), view);
          const cut = f.data.subarray(0, n);
          const rec = recordIn(cap.linkType, cut, snapCut ? wire : n, frameMicros(i));
          const label = `${cap.name} #${i + 1} cut at ${n}${snapCut ? ' (snap length)' : ''}`;
          const r = checkedDecode(dec, counters, rec, view, label);
          decodes++;
          if (r === DECODE_TCP) {
            // A shorter decode is the same packet with less payload.
            assert.equal(fullResult, DECODE_TCP, `${label}: TCP only when the whole frame is TCP`);
            for (const k of ['srcPort', 'dstPort', 'seq', 'ack', 'tcpFlags', 'ipVersion', 'src0', 'dst3'] as const) {
              assert.equal(view[k], full[k], `${label}: ${k}`);
            }
            assert.ok(view.payloadLength <= full.payloadLength, `${label}: payload no longer than the full frame's`);
            if (snapCut) assert.equal(view.payloadWireLength, full.payloadWireLength, `${label}: wire length from the header`);
          }
          if (n === f.data.length && !snapCut) assert.equal(r, f.wirelen ? fullResult : f.expect.result, `${label}: whole frame`);
        }
      }
    });
  }
  assert.ok(decodes > 10000);
});

test('random bytes on every link type never throw (fast-check)', () => {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters);
  const view = new PacketView();
  fc.assert(
    fc.property(
      fc.constantFrom(...LINK_TYPES),
      fc.uint8Array({ maxLength: 400, size: 'medium' }),
      fc.nat({ max: 2000 }),
      (lt, bytes, extraWire) => {
        const data = Buffer.from(bytes);
        checkedDecode(dec, counters, record(lt, data, data.length + extraWire), view, `linktype ${lt}`);
      },
    ),
    { numRuns: 20000 },
  );
});

/** Link-layer prefixes that reach the deeper decoders quickly; `fix` makes length fields agree with the tail. */
const fixV4 = (d: Buffer): void => {
  d.writeUInt16BE(Math.min(d.length, 0xffff), 2);
  if (d[9] === 17 && d.length >= 28) d.writeUInt16BE(Math.min(d.length - 20, 0xffff), 24);
};
const fixV6 = (d: Buffer): void => {
  d.writeUInt16BE(Math.min(d.length - 40, 0xffff), 4);
};
const udpTo = (port: number): Buffer =>
  Buffer.concat([
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, payload: Buffer.alloc(0), l4sum: false }),
    Buffer.from([0xc0, 0x00, port >> 8, port & 255, 0, 0, 0, 0]),
  ]);
const greWith = (hex: string): Buffer =>
  Buffer.concat([ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 47, payload: Buffer.alloc(0) }), Buffer.from(hex, 'hex')]);
const PREFIXES: [number, Buffer, ((d: Buffer) => void)?][] = [
  [1, Buffer.from('020000000000020000000001' + '0800', 'hex')],
  [1, Buffer.from('020000000000020000000001' + '86dd', 'hex')],
  [1, Buffer.from('020000000000020000000001' + '8100', 'hex')],
  [1, Buffer.from('020000000000020000000001' + '88a8' + '0001' + '8100', 'hex')],
  [1, Buffer.from('020000000000020000000001' + '8847', 'hex')],
  [1, Buffer.from('020000000000020000000001' + '8864' + '1100', 'hex')],
  [101, Buffer.from('45', 'hex')],
  [101, Buffer.from('60', 'hex')],
  [228, Buffer.from('4500', 'hex')],
  [229, Buffer.from('6000000000', 'hex')],
  [0, Buffer.from('02000000', 'hex')],
  [0, Buffer.from('1e000000', 'hex')],
  [108, Buffer.from('00000018', 'hex')],
  [113, Buffer.from('0000000100060200000000000000' + '0800', 'hex')],
  [276, Buffer.from('86dd0000000000020001', 'hex')],
  // IPv4 carrying GRE, IP-in-IP, TCP, VXLAN, Geneve; IPv6 fragments and extension headers; random bodies.
  [228, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 47, payload: Buffer.alloc(0) }), fixV4],
  [228, greWith('100088be00000001'), fixV4],
  [228, greWith('000022eb'), fixV4],
  [228, greWith('00006558'), fixV4],
  [228, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 4, payload: Buffer.alloc(0) }), fixV4],
  [228, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, payload: Buffer.alloc(0), l4sum: false }), fixV4],
  [228, udpTo(4789), fixV4],
  [228, udpTo(6081), fixV4],
  [228, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 9, mf: true, payload: Buffer.alloc(0), l4sum: false }), fixV4],
  [229, ipv6({ src: '::1', dst: '::2', proto: 6, ext: [ext.fragment(8, true, 1)], payload: Buffer.alloc(0), l4sum: false }), fixV6],
  [229, ipv6({ src: '::1', dst: '::2', proto: 6, ext: [ext.fragment(0, true, 1)], payload: Buffer.alloc(0), l4sum: false }), fixV6],
  [229, ipv6({ src: '::1', dst: '::2', proto: 6, ext: [ext.hopByHop()], payload: Buffer.alloc(0), l4sum: false }), fixV6],
];

test('structured prefixes with random tails never throw (fast-check)', () => {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, { fragMemoryCap: 2 * 1024 * 1024 });
  const view = new PacketView();
  fc.assert(
    fc.property(fc.nat({ max: PREFIXES.length - 1 }), fc.uint8Array({ maxLength: 600, size: 'max' }), fc.boolean(), (pi, tail, snap) => {
      const [lt, prefix, fix] = PREFIXES[pi];
      const data = Buffer.concat([prefix, Buffer.from(tail)]);
      fix?.(data);
      checkedDecode(dec, counters, record(lt, data, snap ? data.length + 100 : data.length), view, `prefix ${pi}`);
    }),
    { numRuns: 30000 },
  );
  assert.ok(dec.fragmentMemory <= 2 * 1024 * 1024);
  // The random tails did reach the deep layers.
  const s = dec.stats;
  for (const [k, n] of Object.entries(s.tunnels)) assert.ok(n > 0, `tunnels.${k} reached`);
  assert.ok(s.tcp > 0 && s.udp > 0 && s.fragments.received > 0 && s.ipv6 > 0, 'tcp, udp, fragments and ipv6 reached');
  assert.ok(s.notIpTypes.size <= MAX_KEYS + 1 && s.notDecoded.size <= MAX_KEYS + 1, 'stats maps stay bounded');
});

test('crafted frames with random bytes overwritten never throw (fast-check)', () => {
  const frames = craftCaptures().flatMap((c) => c.frames.map((f) => [c.linkType, f.data] as const));
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters);
  const view = new PacketView();
  fc.assert(
    fc.property(
      fc.nat({ max: frames.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      (fi, edits, cutSeed) => {
        const [lt, orig] = frames[fi];
        const data = Buffer.from(orig);
        for (const [pos, val] of edits) data[pos % data.length] = val;
        const cut = data.subarray(0, data.length - (cutSeed % 4 === 0 ? cutSeed % data.length : 0));
        checkedDecode(dec, counters, recordIn(lt, cut, data.length), view, `frame ${fi} edited`);
      },
    ),
    { numRuns: 30000 },
  );
});

function fragFrame(id: number, offset: number, more: boolean, payload: Buffer, src = '192.0.2.1'): Buffer {
  return ether(0x0800, ipv4({ src, dst: '192.0.2.2', proto: 6, id, mf: more, fragOffset: offset, payload, l4sum: false }));
}

test('a flood of distinct datagram ids stays within the fragment memory cap', () => {
  const cap = 2 * 1024 * 1024;
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, { fragMemoryCap: cap, fragMaxDatagrams: 1_000_000 });
  const view = new PacketView();
  const body = filler(1480);
  let maxMemory = 0;
  for (let i = 0; i < 20000; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const r = dec.decode(record(1, fragFrame(i & 0xffff, 0, true, body, src), undefined, i), view);
    assert.equal(r, DECODE_HELD);
    maxMemory = Math.max(maxMemory, dec.fragmentMemory);
  }
  assert.ok(maxMemory <= cap, `memory ${maxMemory} within cap ${cap}`);
  assert.ok(dec.fragmentDatagrams < 2000, `${dec.fragmentDatagrams} datagrams held`);
  assert.ok(counters.get('decode.frag.evicted') > 18000);
  assert.equal(dec.stats.fragments.evicted, counters.get('decode.frag.evicted'));
});

test('the datagram limit bounds a flood of tiny fragments', () => {
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, { fragMaxDatagrams: 64 });
  const view = new PacketView();
  for (let i = 0; i < 5000; i++) {
    dec.decode(record(1, fragFrame(i, 8, true, filler(8)), undefined, i), view);
    assert.ok(dec.fragmentDatagrams <= 64);
  }
  assert.equal(counters.get('decode.frag.evicted'), 5000 - 64);
});

test('one datagram cut into 8-byte pieces arriving backwards is bounded in time and memory', () => {
  const cap = 2 * 1024 * 1024;
  const counters = new AnomalyCounters();
  const dec = new Decoder(counters, { fragMemoryCap: cap });
  const view = new PacketView();
  const seg = tcp({ sport: 1, dport: 443, seq: 5, ack: 6, flags: ACK, payload: filler(65535 - 20 - 20 - 15) });
  const pieces = Math.ceil(seg.length / 8);
  const t0 = process.hrtime.bigint();
  let r = -1;
  for (let k = pieces - 1; k >= 0; k--) {
    const part = seg.subarray(k * 8, Math.min(seg.length, k * 8 + 8));
    r = dec.decode(record(1, fragFrame(7, k * 8, k !== pieces - 1, part)), view);
    assert.ok(dec.fragmentMemory <= cap);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(r, DECODE_TCP, 'the last piece completes the datagram');
  assert.equal(view.payloadLength, seg.length - 20);
  assert.ok(ms < 3000, `took ${ms} ms`);
  assert.equal(dec.fragmentMemory, 0);
});
