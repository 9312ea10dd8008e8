import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { forEachPacket, openCaptures } from '../../src/capture/index.js';
import { PacketRecord } from '../../src/capture/types.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { counters, drain, frameBytes, pcapFile, PcapngBuilder, tmpDir, type Frame } from './helpers.js';

const tmp = tmpDir();
after(() => tmp.cleanup());

const BASE = 1_690_000_000;

/** Frames at BASE + t microseconds, tagged with `tag * 1000 + t` in their bytes. */
function at(tag: number, times: number[], len = 60): Frame[] {
  return times.map((t) => ({ sec: BASE + Math.floor(t / 1e6), frac: t % 1e6, data: frameBytes(tag * 1000 + (t % 1000), len) }));
}

describe('openCaptures', () => {
  it('merges two files with interleaved timestamps in time order, stable by input order on ties', async () => {
    const a = tmp.write('a.pcap', pcapFile({}, at(1, [1, 3, 5, 7, 9])));
    const b = tmp.write(
      'b.pcapng',
      new PcapngBuilder()
        .shb(false)
        .idb(101, { tsresol: 9 })
        .epb(0, BigInt(BASE) * 1_000_000_000n + 2_000n, frameBytes(2002))
        .epb(0, BigInt(BASE) * 1_000_000_000n + 3_000n, frameBytes(2003))
        .epb(0, BigInt(BASE) * 1_000_000_000n + 4_000n, frameBytes(2004))
        .epb(0, BigInt(BASE) * 1_000_000_000n + 10_000n, frameBytes(2010))
        .build(),
    );
    const c = counters();
    const reader = await openCaptures([a, b], c);
    assert.equal(reader.format, 'merged');
    assert.deepEqual(reader.inputs, [a, b]);
    const pkts = await drain(reader);
    assert.deepEqual(
      pkts.map((p) => [p.tsMicros - BASE * 1e6, p.input, p.linkType]),
      [
        [1, 0, 1],
        [2, 1, 101],
        [3, 0, 1],
        [3, 1, 101],
        [4, 1, 101],
        [5, 0, 1],
        [7, 0, 1],
        [9, 0, 1],
        [10, 1, 101],
      ],
    );
    assert.equal(pkts[1].hex, frameBytes(2002).toString('hex'));
    assert.equal(pkts[2].hex, at(1, [3])[0].data.toString('hex'));
    assert.equal(c.total(), 0);
    assert.ok(reader.bytesRead > 0);
  });

  it('keeps each file in its own order when a file is not chronological', async () => {
    const a = tmp.write('ooo-a.pcap', pcapFile({}, at(1, [10, 5, 20])));
    const b = tmp.write('ooo-b.pcap', pcapFile({}, at(2, [6, 15])));
    const pkts = await drain(await openCaptures([a, b], counters()));
    assert.deepEqual(
      pkts.map((p) => [p.tsMicros - BASE * 1e6, p.input]),
      [
        [6, 1],
        [10, 0],
        [5, 0],
        [15, 1],
        [20, 0],
      ],
    );
  });

  it('merges large overlapping files whose readers refill mid-merge', async () => {
    const n = 3000;
    const ta = Array.from({ length: n }, (_, i) => i * 10);
    const tb = Array.from({ length: n }, (_, i) => i * 10 + 5);
    const a = tmp.write('big-a.pcap', pcapFile({}, at(1, ta, 900)));
    const b = tmp.write('big-b.pcap.gz', gzipSync(pcapFile({ le: false }, at(2, tb, 700))));
    const reader = await openCaptures([a, b], counters());
    const pkt = new PacketRecord();
    let last = -1;
    let count = 0;
    await forEachPacket(reader, pkt, (p) => {
      assert.ok(p.tsMicros > last);
      last = p.tsMicros;
      assert.equal(p.input, count % 2);
      assert.equal(p.caplen, count % 2 === 0 ? 900 : 700);
      count++;
    });
    assert.equal(count, 2 * n);
  });

  it('walks directories recursively in name order, skipping and listing non-captures', async () => {
    const root = join(tmp.dir, 'tree');
    mkdirSync(join(root, 'b-sub', 'deeper'), { recursive: true });
    mkdirSync(join(root, 'a-empty'));
    writeFileSync(join(root, 'c.pcap'), pcapFile({}, at(3, [30, 31])));
    writeFileSync(join(root, 'README.txt'), 'not a capture');
    writeFileSync(join(root, 'empty.pcap'), Buffer.alloc(0));
    writeFileSync(join(root, 'b-sub', 'x.pcapng.gz'), gzipSync(new PcapngBuilder().shb(true).idb(1).epb(0, BigInt(BASE) * 1_000_000n + 31n, frameBytes(7)).build()));
    writeFileSync(join(root, 'b-sub', 'deeper', 'y.cap'), pcapFile({ le: false }, at(4, [29])));
    writeFileSync(join(root, 'b-sub', 'notes.gz'), gzipSync(Buffer.from('gzip but not a capture')));
    const c = counters();
    const reader = await openCaptures([root], c);
    assert.deepEqual(reader.inputs, [join(root, 'b-sub', 'deeper', 'y.cap'), join(root, 'b-sub', 'x.pcapng.gz'), join(root, 'c.pcap')]);
    assert.deepEqual(
      reader.skipped.map((s) => s.path),
      [join(root, 'README.txt'), join(root, 'b-sub', 'notes.gz'), join(root, 'empty.pcap')].sort(),
    );
    assert.ok(reader.skipped.every((s) => s.reason.length > 0));
    assert.equal(c.total(), 0, 'files that are not captures are listed, not anomalies');
    const pkts = await drain(reader);
    assert.deepEqual(
      pkts.map((p) => [p.tsMicros - BASE * 1e6, p.input]),
      [
        [29, 0],
        [30, 2],
        [31, 1],
        [31, 2],
      ],
    );
  });

  it('gives the plain reader for one file, and for a directory holding one capture', async () => {
    const one = tmp.write('one.pcap', pcapFile({}, at(1, [1, 2])));
    const r1 = await openCaptures([one], counters());
    assert.equal(r1.format, 'pcap');
    assert.deepEqual(r1.inputs, [one]);
    assert.deepEqual(r1.skipped, []);
    assert.equal((await drain(r1)).length, 2);

    const dir = join(tmp.dir, 'single');
    mkdirSync(dir);
    writeFileSync(join(dir, 'only.pcap'), pcapFile({}, at(1, [1])));
    writeFileSync(join(dir, 'junk.bin'), 'junk');
    const c = counters();
    const r2 = await openCaptures([dir], c);
    assert.equal(r2.format, 'pcap');
    assert.equal(r2.skipped.length, 1);
    assert.equal(c.total(), 0);
    assert.equal((await drain(r2)).length, 1);
  });

  it('reads an empty directory as no packets', async () => {
    const dir = join(tmp.dir, 'nothing');
    mkdirSync(dir);
    const r = await openCaptures([dir], counters());
    assert.deepEqual(r.inputs, []);
    assert.equal((await drain(r)).length, 0);
  });

  it('throws for explicitly named paths that are missing or not captures', async () => {
    const good = tmp.write('good.pcap', pcapFile({}, at(1, [1])));
    const text = tmp.write('named.txt', Buffer.from('plain text, not a capture'));
    await assert.rejects(openCaptures([good, text], counters()), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_CAPTURE_FORMAT');
    await assert.rejects(openCaptures([good, join(tmp.dir, 'missing.pcap')], counters()), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_CAPTURE_OPEN');
    await assert.rejects(openCaptures([text], counters()), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_CAPTURE_FORMAT');
  });

  it('counts each anomaly once (probing does not double-count) and includes packet-less files', async () => {
    const withAnomaly = tmp.write(
      'anom.pcapng',
      new PcapngBuilder().shb(true).idb(1).epb(5, 1n, frameBytes(0)).epb(0, BigInt(BASE) * 1_000_000n + 3n, frameBytes(1)).build(),
    );
    const headerOnly = tmp.write('hdr.pcap', pcapFile({}, []).subarray(0, 20)); // truncated global header
    const normal = tmp.write('norm.pcap', pcapFile({}, at(1, [1, 5])));
    const c = counters();
    const reader = await openCaptures([withAnomaly, headerOnly, normal], c);
    const pkts = await drain(reader);
    assert.deepEqual(
      pkts.map((p) => [p.tsMicros - BASE * 1e6, p.input]),
      [
        [1, 2],
        [3, 0],
        [5, 2],
      ],
    );
    assert.deepEqual(c.toObject(), { 'capture.pcap.truncated_header': 1, 'capture.pcapng.undefined_interface': 1 });
  });

  it('holds few files open when merging many rotated (sequential) captures', { skip: !existsSync('/proc/self/fd') && 'needs /proc' }, async () => {
    const dir = join(tmp.dir, 'rotated');
    mkdirSync(dir);
    const files = 60;
    for (let f = 0; f < files; f++) {
      const times = Array.from({ length: 50 }, (_, i) => f * 1_000_000 + i * 1000);
      writeFileSync(join(dir, `dump-${String(f).padStart(3, '0')}.pcap`), pcapFile({}, at(f, times)));
    }
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const baseline = openFds();
    const reader = await openCaptures([dir], counters());
    assert.equal(reader.inputs.length, files);
    let maxFds = 0;
    let count = 0;
    let last = -1;
    await forEachPacket(reader, new PacketRecord(), (p) => {
      if (count % 25 === 0) maxFds = Math.max(maxFds, openFds());
      assert.ok(p.tsMicros > last);
      last = p.tsMicros;
      assert.equal(p.input, Math.floor(count / 50));
      count++;
    });
    assert.equal(count, files * 50);
    assert.ok(maxFds - baseline <= 3, `${maxFds - baseline} extra descriptors open`);
    assert.equal(openFds(), baseline);
  });

  it('merges standard input with a file', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = join(tmp.dir, 'merge-stdin.mts');
    writeFileSync(
      script,
      `import { openCaptures, forEachPacket, PacketRecord } from ${JSON.stringify(join(root, 'src/capture/index.ts'))};
import { AnomalyCounters } from ${JSON.stringify(join(root, 'src/shared/anomalies.ts'))};
const r = await openCaptures(['-', process.argv[2]], new AnomalyCounters());
const out: number[][] = [];
await forEachPacket(r, new PacketRecord(), (p) => { out.push([p.tsMicros, p.input]); });
process.stdout.write(JSON.stringify(out));
`,
    );
    const piped = tmp.write('piped.pcap.gz', gzipSync(pcapFile({}, at(1, [2, 4, 6]))));
    const other = tmp.write('other.pcap', pcapFile({}, at(2, [1, 4, 5])));
    const out = await new Promise<number[][]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, other], { cwd: root });
      let s = '';
      let e = '';
      child.stdout.on('data', (d) => (s += d));
      child.stderr.on('data', (d) => (e += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(s) as number[][]) : reject(new Error(e))));
      createReadStream(piped).pipe(child.stdin);
    });
    assert.deepEqual(
      out.map(([t, i]) => [t - BASE * 1e6, i]),
      [
        [1, 1],
        [2, 0],
        [4, 0],
        [4, 1],
        [5, 1],
        [6, 0],
      ],
    );
  });
});
