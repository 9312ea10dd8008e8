/**
 * The reassembly depth bounds what a parser inspects, not what it counts: a
 * TLS upload far past the depth keeps exact application-data byte counts
 * (found on a real 4 MiB curl upload in the scenario suite, where the counts
 * stopped near 2 MiB), while a parser that reads every byte is still cut off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { FlowTable, ReassemblyBudget, type Flow, type StreamParser } from '../../src/flow/index.js';
import { createTlsParserFactory, TlsParser } from '../../src/tls/index.js';
import { F, RecordParser, encodeRecords, tcpView } from '../flow/helpers.js';
import { appData, u16, clientHelloBody, handshake, records, serverHelloBody, sniExt, supportedVersionsExt, keyShareExt } from './helpers/hello-builder.js';

const MIB = 1024 * 1024;

/** Client and server streams as one connection, client bytes first, in `seg`-byte segments. */
function run(c2s: Buffer, s2c: Buffer, seg: number, parser: () => StreamParser, depth: number) {
  const counters = new AnomalyCounters();
  const ended: Flow[] = [];
  const budget = new ReassemblyBudget();
  budget.depth = depth;
  const t = new FlowTable(counters, (f) => ended.push(f), { parserFactory: parser, budget });
  let ts = 1_700_000_000_000_000;
  const isnC = 1000, isnS = 900_000;
  t.process(tcpView({ ts: ts++, fromClient: true, seq: isnC, flags: F.SYN }));
  t.process(tcpView({ ts: ts++, fromClient: false, seq: isnS, ack: isnC + 1, flags: F.SA }));
  t.process(tcpView({ ts: ts++, fromClient: true, seq: isnC + 1, ack: isnS + 1, flags: F.ACK }));
  let c = 0, s = 0;
  const send = (fromClient: boolean, upTo: number) => {
    const data = fromClient ? c2s : s2c;
    while ((fromClient ? c : s) < upTo) {
      const o = fromClient ? c : s;
      const n = Math.min(seg, upTo - o);
      t.process(
        tcpView({
          ts: ts++,
          fromClient,
          seq: ((fromClient ? isnC : isnS) + 1 + o) >>> 0,
          ack: ((fromClient ? isnS + 1 + s : isnC + 1 + c)) >>> 0,
          flags: F.PA,
          payload: data.subarray(o, o + n),
        }),
      );
      if (fromClient) c += n;
      else s += n;
    }
  };
  return { t, ended, budget, counters, send, finish: () => t.flush('end_of_input') };
}

describe('reassembly depth and TLS record counting', () => {
  it('counts every application-data byte of an upload 8x the depth, and the depth is never reached', () => {
    const hello = records(22, handshake(1, clientHelloBody({ extensions: [sniExt('up.example'), supportedVersionsExt(0x0304), keyShareExt([0x001d, 32])] })));
    const serverHello = records(22, handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [[0x002b, u16(0x0304)], keyShareExt([0x001d, 32])] })));
    const serverFlight = Buffer.concat([serverHello, appData(2000)]); // encrypted extensions … finished
    const clientFinished = appData(53);
    const upload: Buffer[] = [];
    const recordBody = 16384;
    const recordsOut = Math.ceil((16 * MIB) / recordBody);
    for (let i = 0; i < recordsOut; i++) upload.push(appData(recordBody));
    const c2s = Buffer.concat([hello, clientFinished, ...upload]);
    const s2c = Buffer.concat([serverFlight, appData(100)]);

    const counters0 = new AnomalyCounters();
    const r = run(c2s, s2c, 65_000, createTlsParserFactory(counters0) as () => StreamParser, 2 * MIB);
    r.send(true, hello.length);
    r.send(false, serverFlight.length);
    r.send(true, c2s.length);
    r.send(false, s2c.length);
    r.finish();
    assert.equal(r.ended.length, 1);
    const p = r.ended[0]!.parser;
    assert.ok(p instanceof TlsParser);
    const facts = p.facts;
    assert.equal(facts.version, 0x0304);
    assert.equal(facts.client.applicationDataRecords, recordsOut, 'every upload record counted');
    assert.equal(facts.client.applicationDataBytes, recordsOut * recordBody);
    assert.equal(facts.server.applicationDataBytes, 100);
    assert.equal(r.budget.depthReached, 0);
  });

  it('a parser that reads every byte is still cut off at the depth', () => {
    // RecordParser delivers kind-0 bodies: it inspects them, so they count.
    const recs = Array.from({ length: 100 }, () => ({ kind: 0 as const, body: Buffer.alloc(60_000, 1) }));
    const c2s = encodeRecords(recs);
    let parser: RecordParser | null = null;
    const r = run(c2s, Buffer.alloc(0), 65_000, () => (parser = new RecordParser()), 2 * MIB);
    r.send(true, c2s.length);
    r.finish();
    assert.equal(r.budget.depthReached, 1);
    const seen = parser!.records[0].length;
    assert.ok(seen > 0 && seen < 40, `records delivered before the depth: ${seen}`);
  });
});

