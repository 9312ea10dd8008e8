/**
 * Flow reuse (FlowTable.release): a reused Flow, its streams and its TLS
 * parser must be indistinguishable from new ones, and events must not depend
 * on whether objects were reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { Flow, FlowTable, TcpStream } from '../../src/flow/index.js';
import { TCP_RST } from '../../src/decode/packet-view.js';
import { runRead } from '../../src/cli/pipeline.js';
import { dirty } from '../helpers/dirty.js';
import { tempDir } from '../helpers/tools.js';
import { tcpView, F } from './helpers.js';

test('Flow.reset and TcpStream.reset: every field back to what new Flow / new TcpStream sets', () => {
  const f = new Flow(7, 1_000_000, 4);
  const streams = [f.toServer, f.toClient];
  dirty(f, ['toServer', 'toClient', 'parser']);
  // dirty() replaced the streams: put them back, dirtied themselves (reset keeps the objects).
  f.toServer = streams[0];
  f.toClient = streams[1];
  for (const s of streams) dirty(s, ['altIsns', 'held', 'pending']);
  f.reset(9, 2_000_000, 6);
  assert.equal(f.toServer, streams[0], 'the stream objects are kept');
  assert.deepEqual({ ...f }, { ...new Flow(9, 2_000_000, 6) });
  assert.deepEqual({ ...f.toServer }, { ...new TcpStream(0) });
  assert.deepEqual({ ...f.toClient }, { ...new TcpStream(1) });
});

test('FlowTable reuses a released flow for the next one; a live or twice-released flow is refused', () => {
  const ended: Flow[] = [];
  const table = new FlowTable(new AnomalyCounters(), (f) => ended.push(f), { closedLingerSec: 0 });
  const t0 = 1_000_000;
  table.process(tcpView({ ts: t0, fromClient: true, flags: F.SYN, seq: 100 }));
  const live = [...table.activeFlows()][0];
  assert.equal(table.release(live), false, 'a flow still in the table is not released');
  table.process(tcpView({ ts: t0 + 1, fromClient: true, flags: TCP_RST | F.ACK, seq: 101 }));
  table.sweep(t0 + 2_000_000);
  assert.equal(ended.length, 1);
  const first = ended[0];
  assert.equal(first.endReason, 'rst');
  assert.equal(table.release(first), true);
  assert.equal(table.release(first), false, 'released twice');
  table.process(tcpView({ ts: t0 + 3_000_000, fromClient: true, client: { ip: 0x0a000063, port: 40001 }, flags: F.SYN, seq: 500 }));
  const second = [...table.activeFlows()][0];
  assert.equal(second, first, 'the released object serves the new flow');
  assert.equal(second.serial, 2);
  assert.equal(second.cPort, 40001);
  assert.equal(second.endReason, 'end_of_input');
  assert.equal(second.toServer.packets, 1);
  assert.equal(second.history, 'S');
  assert.equal(table.release(second), false, 'the reused flow is live again');
});

/** Every capture of `dirs` in one run (flows of one file reuse those of the others), with and without reuse. */
async function eventsWithAndWithoutReuse(inputs: string[]): Promise<{ reused: string; fresh: string }> {
  const dir = tempDir();
  await runRead({ inputs, output: join(dir, 'reused.ndjson') });
  const release = FlowTable.prototype.release;
  FlowTable.prototype.release = () => false;
  try {
    await runRead({ inputs, output: join(dir, 'fresh.ndjson') });
  } finally {
    FlowTable.prototype.release = release;
  }
  return { reused: readFileSync(join(dir, 'reused.ndjson'), 'utf8'), fresh: readFileSync(join(dir, 'fresh.ndjson'), 'utf8') };
}

test('events are byte-identical with and without reuse: the golden captures', async () => {
  const { reused, fresh } = await eventsWithAndWithoutReuse(['pcaps']);
  assert.ok(reused.split('\n').length > 20, 'the golden captures give their events');
  assert.equal(reused, fresh);
});

test('events are byte-identical with and without reuse: every ../shared/conformance capture in one run', async (t) => {
  const shared = join(process.cwd(), '..', 'shared', 'conformance');
  if (!existsSync(shared)) return t.skip(`../shared/conformance is absent (${shared})`);
  // One directory of links: one run, so later captures' flows reuse earlier captures' objects.
  const dir = join(tempDir(), 'all');
  mkdirSync(dir);
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(pcap|pcapng|cap)$/.test(e.name)) symlinkSync(p, join(dir, `${String(n++).padStart(3, '0')}-${e.name}`));
    }
  };
  walk(shared);
  assert.ok(n > 100, `${n} captures`);
  const { reused, fresh } = await eventsWithAndWithoutReuse([dir]);
  assert.ok(reused.split('\n').length > 500, 'hundreds of events');
  assert.equal(reused, fresh);
});
