/**
 * Hostile input: every byte may come from an attacker. Truncations, random
 * bytes and mutations must end cleanly with counted anomalies — never a throw
 * (other than TlsentryError for an unrecognisable file), a hang, or a packet
 * pointing outside its buffer.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { MAX_FRAME, openCapture, openCaptureStream } from '../../src/capture/index.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { counters, drain, frameBytes, pcapFile, pcapHeader, PcapngBuilder, tmpDir, type ReadPacket } from './helpers.js';

const tmp = tmpDir();
after(() => tmp.cleanup());

const BASE = 1_650_000_000;

function smallPcap(le: boolean, nano: boolean): { data: Buffer; boundaries: number[] } {
  const frames = [0, 1, 2, 3].map((i) => ({ sec: BASE + i, frac: i, data: frameBytes(i, 20 + i * 9) }));
  const data = pcapFile({ le, nano }, frames);
  const boundaries = [24];
  for (const f of frames) boundaries.push(boundaries[boundaries.length - 1] + 16 + f.data.length);
  return { data, boundaries };
}

function smallPcapng(): { data: Buffer; boundaries: number[] } {
  const b = new PcapngBuilder();
  const parts = [
    b.shb(true).build().length,
    b.idb(1, { tsresol: 9 }).build().length,
    b.epb(0, BigInt(BASE) * 1_000_000_000n + 7n, frameBytes(0, 21)).build().length,
    b.raw(0x0bad, Buffer.alloc(8)).build().length,
    b.spb(frameBytes(1, 13)).build().length,
    b.shb(false).build().length,
    b.idb(101).build().length,
    b.epb(0, BigInt(BASE + 1) * 1_000_000n, frameBytes(2, 30)).build().length,
  ];
  return { data: b.build(), boundaries: parts };
}

/**
 * Every cut of `data` must: throw ERR_CAPTURE_FORMAT only when too short for a
 * magic; otherwise read a prefix of the full packet list, with no anomaly
 * exactly at a record boundary and at least one anywhere else.
 */
async function everyTruncation(
  data: Buffer,
  boundaries: number[],
  name: string,
  minLen: number,
  open: (cut: Buffer) => Promise<Awaited<ReturnType<typeof openCapture>>>,
): Promise<void> {
  const full = await drain(await open(data));
  for (let cut = 0; cut < data.length; cut++) {
    const part = data.subarray(0, cut);
    const c = counters();
    let pkts: ReadPacket[];
    try {
      const reader = await openCaptureWith(open, part, c);
      pkts = await drain(reader);
    } catch (err) {
      assert.ok(err instanceof TlsentryError, `${name} cut ${cut}: ${String(err)}`);
      assert.equal(err.code, 'ERR_CAPTURE_FORMAT', `${name} cut ${cut}`);
      assert.ok(cut < minLen, `${name} cut ${cut} threw ${err.message}`);
      continue;
    }
    assert.deepEqual(pkts, full.slice(0, pkts.length), `${name} cut ${cut}: not a prefix`);
    if (boundaries.includes(cut)) assert.equal(c.total(), 0, `${name} cut ${cut} at a boundary: ${JSON.stringify(c.toObject())}`);
    else assert.ok(c.total() > 0, `${name} cut ${cut}: no anomaly counted`);
  }
}

let currentCounters = counters();
async function openCaptureWith(
  open: (cut: Buffer) => Promise<Awaited<ReturnType<typeof openCapture>>>,
  part: Buffer,
  c: ReturnType<typeof counters>,
): Promise<Awaited<ReturnType<typeof openCapture>>> {
  currentCounters = c;
  return open(part);
}

describe('hostile input', () => {
  it('survives truncation at every byte offset of small pcap files (file and stream paths)', async () => {
    for (const le of [true, false]) {
      for (const nano of [false, true]) {
        const { data, boundaries } = smallPcap(le, nano);
        await everyTruncation(data, boundaries, `pcap le=${le} ns=${nano}`, 4, (cut) =>
          openCapture(tmp.write('cut.pcap', cut), currentCounters),
        );
      }
    }
    const { data, boundaries } = smallPcap(true, false);
    await everyTruncation(data, boundaries, 'pcap file chunk 3, read ahead', 4, (cut) =>
      openCapture(tmp.write('cut.pcap', cut), currentCounters, { chunkSize: 3, readAhead: true }),
    );
    await everyTruncation(data, boundaries, 'pcap stream chunk 3', 4, (cut) =>
      openCaptureStream(Readable.from([cut.subarray(0, 1), cut.subarray(1)]), 'cut', currentCounters, { chunkSize: 3 }),
    );
  });

  it('survives truncation at every byte offset of a small multi-section pcapng', async () => {
    const { data, boundaries } = smallPcapng();
    for (const [chunkSize, readAhead] of [[undefined, undefined], [5, false], [5, true]] as const) {
      await everyTruncation(data, boundaries, `pcapng chunk ${chunkSize} readAhead ${readAhead}`, 4, (cut) =>
        openCapture(tmp.write('cut.pcapng', cut), currentCounters, { chunkSize, readAhead }),
      );
    }
  });

  it('survives truncation at every byte offset of a gzip file', async () => {
    const { data } = smallPcap(true, false);
    const gz = gzipSync(data);
    const full = await drain(await openCapture(tmp.write('full.pcap.gz', gz), counters()));
    for (let cut = 0; cut < gz.length; cut++) {
      const c = counters();
      try {
        const pkts = await drain(await openCapture(tmp.write('cut.pcap.gz', gz.subarray(0, cut)), c));
        assert.deepEqual(pkts, full.slice(0, pkts.length));
        assert.ok(c.get('capture.gzip.corrupt') > 0, `cut ${cut}: ${JSON.stringify(c.toObject())}`);
      } catch (err) {
        assert.ok(err instanceof TlsentryError && err.code === 'ERR_CAPTURE_FORMAT', `cut ${cut}: ${String(err)}`);
      }
    }
  });

  it('terminates without throwing on random bytes after a valid header (property)', async () => {
    const headers = [
      pcapHeader({ le: true }),
      pcapHeader({ le: false }),
      pcapHeader({ le: true, nano: true }),
      new PcapngBuilder().shb(true).build(),
      new PcapngBuilder().shb(false).idb(1, { tsresol: 9 }).build(),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...headers),
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.constantFrom(undefined, 1, 7, 64),
        async (header, tail, chunkSize) => {
          const data = Buffer.concat([header, Buffer.from(tail)]);
          const c = counters();
          const reader = await openCaptureStream(Readable.from([data]), 'fuzz', c, { chunkSize });
          const pkts = await drain(reader, 100_000);
          assert.ok(pkts.length <= data.length / 12);
          for (const p of pkts) assert.ok(p.caplen <= MAX_FRAME && p.caplen <= p.wirelen);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('terminates without throwing on mutated valid files (property)', async () => {
    const seeds = [smallPcap(true, false).data, smallPcap(false, true).data, smallPcapng().data];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (seed, edits, cutAt) => {
          const data = Buffer.from(seed);
          // keep the magic so that the reader is always reached
          for (const [at, v] of edits) data[4 + (at % (data.length - 4))] = v;
          const cut = cutAt === undefined ? data : data.subarray(0, 4 + (cutAt % (data.length - 3)));
          const c = counters();
          const reader = await openCaptureStream(Readable.from([cut]), 'mutant', c, { chunkSize: 16 });
          await drain(reader, 100_000);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('does not allocate for a 4 GB caplen (pcap) or a 4 GB block (pcapng)', async () => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(BASE, 0);
    rec.writeUInt32LE(0xffffffff, 8);
    rec.writeUInt32LE(0xffffffff, 12);
    let c = counters();
    const before = process.memoryUsage().rss;
    let pkts = await drain(await openCapture(tmp.write('4g.pcap', Buffer.concat([pcapHeader(), rec, Buffer.alloc(100)])), c));
    assert.equal(pkts.length, 0);
    assert.equal(c.get('capture.pcap.oversized_record'), 1);
    assert.equal(c.get('capture.pcap.trailing_garbage'), 1);

    const ng = new PcapngBuilder().shb(true).idb(1).epb(0, 1n, frameBytes(0)).raw(0x1234, Buffer.alloc(16), { lengthOverride: 0xfffffffc }).build();
    c = counters();
    pkts = await drain(await openCapture(tmp.write('4g.pcapng', ng), c));
    assert.equal(pkts.length, 1);
    assert.equal(c.get('capture.pcapng.truncated_block'), 1);

    const ngEpb = new PcapngBuilder().shb(true).idb(1).epb(0, 1n, frameBytes(0), { caplen: 0xfffffff0 }).build();
    c = counters();
    pkts = await drain(await openCapture(tmp.write('4g-epb.pcapng', ngEpb), c));
    assert.equal(pkts.length, 0);
    assert.equal(c.get('capture.pcapng.caplen_exceeds_block'), 1);
    assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
  });

  it('stops on a pcapng block length below 12 or not a multiple of 4 even inside a skipped section', async () => {
    for (const len of [0, 4, 8, 13, 0xfffffffe]) {
      const data = new PcapngBuilder().shb(true).idb(1).raw(77, Buffer.alloc(4), { lengthOverride: len }).epb(0, 1n, frameBytes(0)).build();
      const c = counters();
      const pkts = await drain(await openCapture(tmp.write('len.pcapng', data), c));
      assert.equal(pkts.length, 0);
      assert.equal(c.get('capture.pcapng.bad_block_length'), 1, `len ${len}`);
    }
  });
});
