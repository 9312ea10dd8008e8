import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { FlowTable, type Flow } from '../../src/flow/index.js';
import { buildFlowEvent } from '../../src/output/schema.js';
import { ByteSink, CLIENT, RecordParser, SERVER, encodeRecords, tcpView, F } from './helpers.js';

function table(opts: { maxFlows?: number; idle?: number; parser?: () => ByteSink | RecordParser } = {}) {
  const ended: Flow[] = [];
  const counters = new AnomalyCounters();
  const t = new FlowTable(counters, (f) => ended.push(f), {
    maxFlows: opts.maxFlows,
    idleTimeoutSec: opts.idle,
    parserFactory: opts.parser ?? null,
  });
  return { t, ended, counters };
}

interface Seg { fromClient: boolean; seq: number; ack: number; data: Buffer }

/** A whole connection: handshake, data segments both ways, FIN exchange. */
function connection(c2s: Buffer, s2c: Buffer, mss: number, isnC: number, isnS: number, t0 = 1_700_000_000_000_000) {
  const pkts: ReturnType<typeof tcpView>[] = [];
  let ts = t0;
  pkts.push(tcpView({ ts: ts++, fromClient: true, seq: isnC, flags: F.SYN }));
  pkts.push(tcpView({ ts: ts++, fromClient: false, seq: isnS, ack: isnC + 1, flags: F.SA }));
  pkts.push(tcpView({ ts: ts++, fromClient: true, seq: isnC + 1, ack: isnS + 1, flags: F.ACK }));
  const segs: Seg[] = [];
  for (let o = 0; o < c2s.length; o += mss) segs.push({ fromClient: true, seq: (isnC + 1 + o) >>> 0, ack: (isnS + 1) >>> 0, data: c2s.subarray(o, o + mss) });
  for (let o = 0; o < s2c.length; o += mss) segs.push({ fromClient: false, seq: (isnS + 1 + o) >>> 0, ack: (isnC + 1) >>> 0, data: s2c.subarray(o, o + mss) });
  return { pkts, segs, ts, finC: (isnC + 1 + c2s.length) >>> 0, finS: (isnS + 1 + s2c.length) >>> 0 };
}

test('a complete connection is one flow with exact per-direction bytes and Zeek history', () => {
  const { t, ended } = table({ parser: () => new ByteSink() });
  const c2s = Buffer.from('hello server'.repeat(100));
  const s2c = Buffer.from('hello client'.repeat(300));
  const conn = connection(c2s, s2c, 1000, 1000, 5000);
  for (const p of conn.pkts) t.process(p);
  let ts = conn.ts;
  for (const s of conn.segs) t.process(tcpView({ ts: ts++, fromClient: s.fromClient, seq: s.seq, ack: s.ack, flags: F.PA, payload: s.data }));
  t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.finC, ack: conn.finS, flags: F.FA }));
  t.process(tcpView({ ts: ts++, fromClient: false, seq: conn.finS, ack: conn.finC + 1, flags: F.FA }));
  t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.finC + 1, ack: conn.finS + 1, flags: F.ACK }));
  t.flush();
  assert.equal(ended.length, 1);
  const f = ended[0];
  assert.equal(f.toServer.maxRel, c2s.length);
  assert.equal(f.toClient.maxRel, s2c.length);
  assert.equal(f.endReason, 'fin');
  assert.equal(f.clientBy, 'syn');
  assert.equal(f.history, 'ShADdFf'); // the server sent no pure ACK
  const sink = f.parser as ByteSink;
  assert.deepEqual(sink.stream(0), c2s);
  assert.deepEqual(sink.stream(1), s2c);
  const ev = buildFlowEvent(f);
  assert.equal(ev.source.ip, '10.0.0.1');
  assert.equal(ev.destination.port, 443);
  assert.equal(ev.tlsentry.flow.source_payload_bytes, c2s.length);
  assert.equal(ev.tlsentry.flow.destination_payload_bytes, s2c.length);
  assert.equal(ev.source.packets, 6); // SYN, ACK, 2 data segments, FIN, last ACK
  assert.equal(ev.destination.packets, 6); // SYN-ACK, 4 data segments, FIN
});

test('re-ordering, duplication and re-segmentation give the same streams and byte counts (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.integer({ min: 1, max: 700 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (a, b, mss, isnC, isnS, perm, dups) => {
        const c2s = Buffer.from(a), s2c = Buffer.from(b);
        const conn = connection(c2s, s2c, mss, isnC, isnS);
        // re-segment: split some segments in two; overlap: resend a segment merged with its successor
        const segs = [...conn.segs];
        for (const d of dups) {
          if (segs.length === 0) break;
          const s = segs[d % segs.length];
          segs.push({ ...s });
          const cut = 1 + (d % Math.max(1, s.data.length));
          if (cut < s.data.length) {
            segs.push({ ...s, data: s.data.subarray(0, cut) });
            segs.push({ ...s, seq: (s.seq + cut) >>> 0, data: s.data.subarray(cut) });
          }
        }
        // permute
        for (let i = 0; i < perm.length && segs.length > 1; i++) {
          const x = perm[i] % segs.length, y = (perm[i] >> 3) % segs.length;
          [segs[x], segs[y]] = [segs[y], segs[x]];
        }
        const { t, ended } = table({ parser: () => new ByteSink() });
        for (const p of conn.pkts) t.process(p);
        let ts = conn.ts;
        for (const s of segs) t.process(tcpView({ ts: ts++, fromClient: s.fromClient, seq: s.seq, ack: s.ack, flags: F.PA, payload: s.data }));
        t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.finC, ack: conn.finS, flags: F.FA }));
        t.process(tcpView({ ts: ts++, fromClient: false, seq: conn.finS, ack: conn.finC + 1, flags: F.FA }));
        t.flush();
        assert.equal(ended.length, 1);
        const f = ended[0];
        const sink = f.parser as ByteSink;
        assert.deepEqual(sink.stream(0), c2s);
        assert.deepEqual(sink.stream(1), s2c);
        assert.equal(f.toServer.maxRel, c2s.length);
        assert.equal(f.toClient.maxRel, s2c.length);
        assert.equal(f.toServer.missed + f.toClient.missed, 0);
        assert.deepEqual(sink.gaps, [[], []]);
      },
    ),
    { numRuns: 300 },
  );
});

test('a parser that consumes whole records sees the same records under any segmentation (property)', () => {
  const recordArb = fc.record({ kind: fc.constantFrom(0 as const, 0 as const, 1 as const), body: fc.uint8Array({ maxLength: 900 }) });
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 12 }), fc.integer({ min: 1, max: 500 }), fc.array(fc.nat(), { maxLength: 20 }), (recs, mss, perm) => {
      const stream = encodeRecords(recs.map((r) => ({ kind: r.kind, body: Buffer.from(r.body) })));
      const conn = connection(stream, Buffer.alloc(0), mss, 77, 99);
      const segs = [...conn.segs];
      for (let i = 0; i < perm.length && segs.length > 1; i++) {
        const x = perm[i] % segs.length, y = (perm[i] >> 4) % segs.length;
        [segs[x], segs[y]] = [segs[y], segs[x]];
      }
      const { t, ended } = table({ parser: () => new RecordParser() });
      for (const p of conn.pkts) t.process(p);
      let ts = conn.ts;
      for (const s of segs) t.process(tcpView({ ts: ts++, fromClient: s.fromClient, seq: s.seq, ack: s.ack, flags: F.PA, payload: s.data }));
      t.flush();
      const parser = ended[0].parser as RecordParser;
      const expected = recs.map((r) => (r.kind === 1 ? `skip:${r.body.length}` : Buffer.from(r.body).toString('hex')));
      assert.deepEqual(parser.records[0], expected);
    }),
    { numRuns: 300 },
  );
});

test('a lost segment is a gap: missed bytes counted, parser told, history g', () => {
  const { t, ended } = table({ parser: () => new ByteSink() });
  const data = Buffer.alloc(3000, 7);
  const conn = connection(data, Buffer.alloc(0), 1000, 10, 20);
  for (const p of conn.pkts) t.process(p);
  let ts = conn.ts;
  t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.segs[0].seq, flags: F.PA, payload: conn.segs[0].data }));
  t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.segs[2].seq, flags: F.PA, payload: conn.segs[2].data }));
  t.flush();
  const f = ended[0];
  assert.equal(f.toServer.missed, 1000);
  assert.equal(f.toServer.maxRel, 3000);
  assert.deepEqual((f.parser as ByteSink).gaps[0], [1000]);
  assert.equal((f.parser as ByteSink).stream(0).length, 2000);
  assert.match(f.history, /G/);
  assert.equal(buildFlowEvent(f).tlsentry.flow.missed_bytes, 1000);
});

test('bytes the peer acknowledged but the capture never saw count as missed', () => {
  const { t, ended } = table();
  const conn = connection(Buffer.alloc(0), Buffer.alloc(0), 1000, 100, 200);
  for (const p of conn.pkts) t.process(p);
  // server acknowledges 5000 client bytes that were not captured
  t.process(tcpView({ ts: conn.ts + 1, fromClient: false, seq: 201, ack: 101 + 5000, flags: F.ACK }));
  t.flush();
  assert.equal(ended[0].toServer.missed, 5000);
  assert.equal(ended[0].toServer.maxRel, 5000);
});

test('retransmitted bytes count once; history t', () => {
  const { t, ended } = table();
  const conn = connection(Buffer.alloc(2000, 1), Buffer.alloc(0), 1000, 1, 2);
  for (const p of conn.pkts) t.process(p);
  let ts = conn.ts;
  for (const s of [conn.segs[0], conn.segs[0], conn.segs[1], conn.segs[0]]) {
    t.process(tcpView({ ts: ts++, fromClient: true, seq: s.seq, flags: F.PA, payload: s.data }));
  }
  t.flush();
  assert.equal(ended[0].toServer.maxRel, 2000);
  assert.equal(ended[0].toServer.retransmits, 2);
  assert.equal(ended[0].toServer.packets, 2 + 4);
  assert.match(ended[0].history, /T/);
});

test('sequence numbers wrap around 2^32', () => {
  const { t, ended } = table({ parser: () => new ByteSink() });
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 255));
  const conn = connection(data, Buffer.alloc(0), 1460, 0xffffffff - 2000, 5);
  for (const p of conn.pkts) t.process(p);
  let ts = conn.ts;
  for (const s of conn.segs.reverse()) t.process(tcpView({ ts: ts++, fromClient: true, seq: s.seq, flags: F.PA, payload: s.data }));
  t.flush();
  assert.equal(ended[0].toServer.maxRel, 5000);
  assert.deepEqual((ended[0].parser as ByteSink).stream(0), data);
});

test('a SYN after FIN on the same 4-tuple starts a new flow', () => {
  const { t, ended } = table();
  for (let i = 0; i < 3; i++) {
    const conn = connection(Buffer.alloc(100 * (i + 1)), Buffer.alloc(10), 1000, 1000 * i, 50000 + i, 1_700_000_000_000_000 + i * 1000);
    for (const p of conn.pkts) t.process(p);
    let ts = conn.ts;
    for (const s of conn.segs) t.process(tcpView({ ts: ts++, fromClient: s.fromClient, seq: s.seq, flags: F.PA, payload: s.data }));
    t.process(tcpView({ ts: ts++, fromClient: true, seq: conn.finC, ack: conn.finS, flags: F.FA }));
    t.process(tcpView({ ts: ts++, fromClient: false, seq: conn.finS, ack: conn.finC + 1, flags: F.FA }));
  }
  t.flush();
  assert.equal(ended.length, 3);
  assert.deepEqual(ended.map((f) => f.toServer.maxRel), [100, 200, 300]);
  assert.deepEqual(ended.map((f) => f.endReason), ['fin', 'fin', 'fin']);
  const ids = new Set(ended.map((f) => buildFlowEvent(f).tlsentry.flow.id));
  assert.equal(ids.size, 3);
});

test('a flow picked up mid-stream takes the ephemeral port as client, or the ClientHello sender', () => {
  const { t, ended } = table();
  t.process(tcpView({ ts: 1, fromClient: false, seq: 500, flags: F.PA, payload: Buffer.alloc(100, 1) }));
  t.flush();
  assert.equal(ended[0].cPort, CLIENT.port);
  assert.equal(ended[0].clientBy, 'port');
  assert.equal(ended[0].toClient.maxRel, 100);

  const b = table();
  const hello = Buffer.from('160301002a0100002603', 'hex');
  // both ports ephemeral; the first packet is an ACK from the "wrong" side, then the hello
  const cl = { ip: 1, port: 40000 }, sv = { ip: 2, port: 45000 };
  b.t.process(tcpView({ ts: 1, fromClient: false, seq: 9, flags: F.ACK, client: cl, server: sv }));
  b.t.process(tcpView({ ts: 2, fromClient: true, seq: 100, flags: F.PA, payload: hello, client: cl, server: sv }));
  b.t.flush();
  assert.equal(b.ended.length, 1);
  assert.equal(b.ended[0].cPort, 40000);
  assert.equal(b.ended[0].clientBy, 'tls_client_hello');
  assert.equal(b.ended[0].toServer.maxRel, hello.length);
});

test('a full table evicts the least recently active flow, counts it, and still reports it', () => {
  const { t, ended, counters } = table({ maxFlows: 2 });
  for (let i = 0; i < 3; i++) t.process(tcpView({ ts: 10 + i, fromClient: true, seq: 1, flags: F.SYN, client: { ip: 1, port: 1000 + i }, server: SERVER }));
  assert.equal(ended.length, 1);
  assert.equal(ended[0].cPort, 1000);
  assert.equal(ended[0].endReason, 'evicted');
  assert.equal(counters.get('flow.table.evicted'), 1);
  t.flush();
  assert.equal(ended.length, 3);
  assert.equal(t.stats.flowsCreated, t.stats.flowsEnded);
});

test('the bucket array grows with the flows; every flow is found again; chains stay short (keyed hash)', () => {
  const { t, ended } = table({ maxFlows: 50_000 });
  const n = 20_000;
  // Clients that differ in one address bit or one port step: the inputs an unkeyed low-bit index does worst on.
  const client = (i: number) => ({ ip: 0x0a000000 + (i >>> 4), port: 40000 + (i & 15) * 1024 });
  for (let i = 0; i < n; i++) t.process(tcpView({ ts: 10 + i, fromClient: true, seq: 1, flags: F.SYN, client: client(i), server: SERVER }));
  for (let i = n - 1; i >= 0; i--) t.process(tcpView({ ts: 10 + n + i, fromClient: false, seq: 7, ack: 2, flags: F.SA, client: client(i), server: SERVER }));
  assert.equal(t.stats.flowsCreated, n, 'no flow was missed by a lookup after the table grew');
  assert.ok(t.longestChain() <= 12, `longest chain ${t.longestChain()}`);
  t.flush();
  assert.equal(ended.length, n);
  assert.ok(ended.every((f) => f.history === 'Sh'), 'both packets of every flow on the same flow');
});

test('idle flows time out by packet time; closed flows after their linger', () => {
  const { t, ended } = table({ idle: 60 });
  t.process(tcpView({ ts: 1e6, fromClient: true, seq: 1, flags: F.SYN, client: { ip: 1, port: 1111 } }));
  t.process(tcpView({ ts: 2e6, fromClient: true, seq: 1, flags: F.SYN, client: { ip: 1, port: 2222 } }));
  t.process(tcpView({ ts: 3e6, fromClient: false, seq: 1, flags: F.ACK | 0x04, client: { ip: 1, port: 2222 } }));
  t.process(tcpView({ ts: 30e6, fromClient: true, seq: 1, flags: F.SYN, client: { ip: 1, port: 3333 } }));
  assert.deepEqual(ended.map((f) => [f.cPort, f.endReason]), [[2222, 'rst']]);
  t.process(tcpView({ ts: 62e6, fromClient: true, seq: 1, flags: F.SYN, client: { ip: 1, port: 4444 } }));
  assert.deepEqual(ended.map((f) => [f.cPort, f.endReason]), [[2222, 'rst'], [1111, 'idle_timeout']]);
});

test('an implausible sequence jump is an anomaly and is not counted as payload', () => {
  const { t, ended, counters } = table();
  const conn = connection(Buffer.alloc(0), Buffer.alloc(0), 1000, 1, 2);
  for (const p of conn.pkts) t.process(p);
  t.process(tcpView({ ts: conn.ts, fromClient: false, seq: 3 + 1_600_000_000, flags: F.PA, payload: Buffer.alloc(10) }));
  t.flush();
  assert.equal(counters.get('flow.tcp.seq_jump'), 1);
  assert.equal(ended[0].toClient.maxRel, 0);
});

test('bytes cut by the snap length are counted from sequence numbers and reported as missed', () => {
  const { t, ended } = table({ parser: () => new ByteSink() });
  const conn = connection(Buffer.alloc(0), Buffer.alloc(0), 1000, 1, 2);
  for (const p of conn.pkts) t.process(p);
  t.process(tcpView({ ts: conn.ts, fromClient: true, seq: 2, flags: F.PA, payload: Buffer.alloc(100, 3), wireLen: 1400 }));
  t.process(tcpView({ ts: conn.ts + 1, fromClient: true, seq: 1402, flags: F.PA, payload: Buffer.alloc(100, 4), wireLen: 100 }));
  t.flush();
  const f = ended[0];
  assert.equal(f.toServer.maxRel, 1500);
  assert.equal(f.toServer.missed, 1300);
  assert.deepEqual((f.parser as ByteSink).gaps[0], [1300]);
});

test('data on a SYN (TCP Fast Open) starts after the SYN sequence number', () => {
  const { t, ended } = table({ parser: () => new ByteSink() });
  const data = Buffer.from('fast open hello');
  t.process(tcpView({ ts: 1, fromClient: true, seq: 1000, flags: F.SYN, payload: data }));
  t.process(tcpView({ ts: 2, fromClient: false, seq: 5000, ack: 1001 + data.length, flags: F.SA }));
  // the client retransmits the same bytes after the handshake (server ignored the SYN data)
  t.process(tcpView({ ts: 3, fromClient: true, seq: 1001, ack: 5001, flags: F.PA, payload: data }));
  t.process(tcpView({ ts: 4, fromClient: true, seq: 1001 + data.length, ack: 5001, flags: F.PA, payload: Buffer.from('!') }));
  t.flush();
  assert.equal(ended.length, 1);
  assert.equal(ended[0].toServer.maxRel, data.length + 1);
  assert.deepEqual((ended[0].parser as ByteSink).stream(0), Buffer.concat([data, Buffer.from('!')]));
  assert.equal(ended[0].toServer.retransmits, 1);
});

test('a SYN-ACK repeated with another ISN: the one the client acknowledges is used', () => {
  const { t, ended, counters } = table({ parser: () => new ByteSink() });
  t.process(tcpView({ ts: 1, fromClient: true, seq: 100, flags: F.SYN }));
  t.process(tcpView({ ts: 2, fromClient: false, seq: 7000, ack: 101, flags: F.SA }));
  t.process(tcpView({ ts: 3, fromClient: false, seq: 9000, ack: 101, flags: F.SA }));
  t.process(tcpView({ ts: 4, fromClient: false, seq: 7000, ack: 101, flags: F.SA }));
  t.process(tcpView({ ts: 5, fromClient: true, seq: 101, ack: 9001, flags: F.ACK }));
  t.process(tcpView({ ts: 6, fromClient: false, seq: 9001, ack: 101, flags: F.PA, payload: Buffer.from('server data') }));
  t.flush();
  assert.equal(ended[0].toClient.maxRel, 11);
  assert.equal((ended[0].parser as ByteSink).stream(1).toString(), 'server data');
  assert.equal(counters.get('flow.tcp.seq_jump'), 0);
});
