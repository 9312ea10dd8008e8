import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCapture, forEachPacket } from '../../src/capture/index.js';
import { NEXT_END, PacketRecord } from '../../src/capture/types.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { counters, drain, frameBytes, pcapFile, tmpDir, type Frame } from './helpers.js';

const tmp = tmpDir();
after(() => tmp.cleanup());

const BASE = 1_700_000_000;

function frames(nano: boolean): Frame[] {
  return [
    { sec: BASE, frac: nano ? 123_456_789 : 123_456, data: frameBytes(0, 60) },
    { sec: BASE + 1, frac: nano ? 999_999_999 : 999_999, data: frameBytes(1, 1514), wirelen: 1514 },
    { sec: BASE + 2, frac: 0, data: frameBytes(2, 64), wirelen: 1500 },
    { sec: BASE + 3, frac: nano ? 1_999 : 1, data: Buffer.alloc(0), wirelen: 0 },
  ];
}

describe('classic pcap', () => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      it(`reads ${le ? 'little' : 'big'}-endian ${nano ? 'nanosecond' : 'microsecond'} files`, async () => {
        const fr = frames(nano);
        const path = tmp.write(`f-${le}-${nano}.pcap`, pcapFile({ le, nano, linkType: 113 }, fr));
        const c = counters();
        const reader = await openCapture(path, c);
        assert.equal(reader.format, 'pcap');
        assert.equal(reader.name, path);
        assert.equal(reader.totalBytes, statSync(path).size);
        const pkts = await drain(reader);
        assert.equal(pkts.length, 4);
        assert.deepEqual(
          pkts.map((p) => p.tsMicros),
          nano
            ? [BASE * 1e6 + 123_456, (BASE + 1) * 1e6 + 999_999, (BASE + 2) * 1e6, (BASE + 3) * 1e6 + 1]
            : [BASE * 1e6 + 123_456, (BASE + 1) * 1e6 + 999_999, (BASE + 2) * 1e6, (BASE + 3) * 1e6 + 1],
        );
        for (let i = 0; i < fr.length; i++) {
          assert.equal(pkts[i].linkType, 113);
          assert.equal(pkts[i].caplen, fr[i].data.length);
          assert.equal(pkts[i].wirelen, fr[i].wirelen ?? fr[i].data.length);
          assert.equal(pkts[i].hex, fr[i].data.toString('hex'));
          assert.equal(pkts[i].input, 0);
        }
        assert.deepEqual(c.toObject(), {});
        assert.equal(reader.bytesRead, statSync(path).size);
      });
    }
  }

  it('gives identical results whatever the read size (records straddling chunks)', async () => {
    const fr: Frame[] = [];
    for (let i = 0; i < 50; i++) fr.push({ sec: BASE + i, frac: i, data: frameBytes(i, 1 + ((i * 97) % 1600)) });
    const path = tmp.write('chunks.pcap', pcapFile({}, fr));
    const ref = await drain(await openCapture(path, counters()));
    assert.equal(ref.length, 50);
    for (const chunkSize of [1, 2, 3, 7, 16, 17, 100, 1513, 4096]) {
      // readAhead: the next chunk is read on the thread pool into a second buffer, swapped in by fill().
      for (const readAhead of [false, true]) {
        const c = counters();
        const reader = await openCapture(path, c, { chunkSize, readAhead });
        const got = await drain(reader);
        assert.deepEqual(got, ref, `chunkSize ${chunkSize} readAhead ${readAhead}`);
        assert.equal(c.total(), 0);
        assert.equal(reader.bytesRead, statSync(path).size);
      }
    }
  });

  it('detects the format by magic, not by file name', async () => {
    const data = pcapFile({ le: false }, frames(false));
    for (const name of ['lies.pcapng', 'capture.txt', 'noext', 'x.gz']) {
      const reader = await openCapture(tmp.write(name, data), counters());
      assert.equal(reader.format, 'pcap');
      assert.equal((await drain(reader)).length, 4);
    }
  });

  it('keeps the link type in the low 16 bits (FCS bits ignored)', async () => {
    const path = tmp.write('fcs.pcap', pcapFile({ linkType: 0x14000001 }, frames(false)));
    const pkts = await drain(await openCapture(path, counters()));
    assert.equal(pkts[0].linkType, 1);
  });

  it('fixes caplen > wirelen and counts it', async () => {
    const c = counters();
    const fr: Frame[] = [{ sec: BASE, frac: 0, data: frameBytes(0, 100), wirelen: 60 }];
    const pkts = await drain(await openCapture(tmp.write('capwire.pcap', pcapFile({}, fr)), c));
    assert.equal(pkts[0].caplen, 100);
    assert.equal(pkts[0].wirelen, 100);
    assert.equal(c.get('capture.pcap.caplen_exceeds_wirelen'), 1);
  });

  it('counts an oversized caplen, resynchronises on the next record, and allocates nothing for it', async () => {
    const fr: Frame[] = [
      { sec: BASE, frac: 1, data: frameBytes(0, 80) },
      { sec: BASE + 1, frac: 2, data: frameBytes(1, 40), caplen: 0xfffffff0 }, // 4 GB claim
      { sec: BASE + 2, frac: 3, data: frameBytes(2, 90) },
      { sec: BASE + 3, frac: 4, data: frameBytes(3, 70) },
    ];
    for (const le of [true, false]) {
      for (const chunkSize of [undefined, 5]) {
        const c = counters();
        const pkts = await drain(await openCapture(tmp.write(`oversized-${le}.pcap`, pcapFile({ le }, fr)), c, { chunkSize }));
        assert.deepEqual(
          pkts.map((p) => p.tsMicros),
          [BASE * 1e6 + 1, (BASE + 2) * 1e6 + 3, (BASE + 3) * 1e6 + 4],
        );
        assert.equal(pkts[1].hex, fr[2].data.toString('hex'));
        assert.equal(c.get('capture.pcap.oversized_record'), 1);
        assert.equal(c.get('capture.pcap.resync'), 1);
        assert.equal(c.get('capture.pcap.trailing_garbage'), 0);
      }
    }
  });

  it('resynchronises onto a last record that ends exactly at end of file', async () => {
    const fr: Frame[] = [
      { sec: BASE, frac: 1, data: frameBytes(0, 80) },
      { sec: BASE + 1, frac: 2, data: frameBytes(1, 40), caplen: 300_000 },
      { sec: BASE + 2, frac: 3, data: frameBytes(2, 90) },
    ];
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('resync-last.pcap', pcapFile({}, fr)), c));
    assert.equal(pkts.length, 2);
    assert.equal(pkts[1].hex, fr[2].data.toString('hex'));
    assert.equal(c.get('capture.pcap.resync'), 1);
  });

  it('counts garbage after the last record', async () => {
    const good = pcapFile({}, frames(false));
    const garbage = Buffer.from('this text was appended to the capture by a careless script\n'.repeat(3));
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('garbage.pcap', Buffer.concat([good, garbage])), c));
    assert.equal(pkts.length, 4);
    assert.equal(c.get('capture.pcap.oversized_record'), 1);
    assert.equal(c.get('capture.pcap.trailing_garbage'), 1);
  });

  it('counts a truncated last record and a truncated header', async () => {
    const full = pcapFile({}, frames(false));
    let c = counters();
    let pkts = await drain(await openCapture(tmp.write('trunc.pcap', full.subarray(0, full.length - 10)), c));
    assert.equal(pkts.length, 3);
    assert.equal(c.get('capture.pcap.truncated_record'), 1);
    c = counters();
    pkts = await drain(await openCapture(tmp.write('trunc-hdr.pcap', full.subarray(0, 20)), c));
    assert.equal(pkts.length, 0);
    assert.equal(c.get('capture.pcap.truncated_header'), 1);
  });

  it('reads a header-only file as zero packets without anomalies', async () => {
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('empty.pcap', pcapFile({}, [])), c));
    assert.equal(pkts.length, 0);
    assert.equal(c.total(), 0);
  });

  it('throws TlsentryError for operational errors', async () => {
    const cases: [string, string][] = [
      [tmp.write('zero.bin', Buffer.alloc(0)), 'ERR_CAPTURE_FORMAT'],
      [tmp.write('three.bin', Buffer.from([0xd4, 0xc3, 0xb2])), 'ERR_CAPTURE_FORMAT'],
      [tmp.write('text.pcap', Buffer.from('hello, this is not a capture')), 'ERR_CAPTURE_FORMAT'],
      [tmp.write('modified.pcap', Buffer.from('a1b2cd34000200040000000000000000', 'hex')), 'ERR_CAPTURE_FORMAT'],
      [join(tmp.dir, 'does-not-exist.pcap'), 'ERR_CAPTURE_OPEN'],
    ];
    const sub = join(tmp.dir, 'a-directory');
    mkdirSync(sub);
    cases.push([sub, 'ERR_CAPTURE_OPEN']);
    for (const [path, code] of cases) {
      await assert.rejects(openCapture(path, counters()), (err: unknown) => {
        assert.ok(err instanceof TlsentryError, String(err));
        assert.equal(err.code, code, `${path}: ${err.message}`);
        return true;
      });
    }
  });

  it('forEachPacket visits every packet with the reusable record', async () => {
    const fr: Frame[] = [];
    for (let i = 0; i < 1000; i++) fr.push({ sec: BASE, frac: i, data: frameBytes(i, 100 + (i % 50)) });
    const reader = await openCapture(tmp.write('each.pcap', pcapFile({}, fr)), counters(), { chunkSize: 4096 });
    const pkt = new PacketRecord();
    let n = 0;
    let bytes = 0;
    let lastTs = -1;
    await forEachPacket(reader, pkt, (p) => {
      assert.equal(p, pkt);
      assert.ok(p.tsMicros > lastTs);
      lastTs = p.tsMicros;
      assert.equal(p.data.readUInt32BE(p.offset), n);
      n++;
      bytes += p.caplen;
    });
    assert.equal(n, 1000);
    assert.equal(bytes, fr.reduce((s, f) => s + f.data.length, 0));
    assert.equal(reader.next(pkt), NEXT_END);
  });

  it('close() ends the reader early', async () => {
    const reader = await openCapture(tmp.write('close.pcap', pcapFile({}, frames(false))), counters());
    const pkt = new PacketRecord();
    reader.close();
    assert.equal(reader.next(pkt), NEXT_END);
    await reader.fill();
    assert.equal(reader.next(pkt), NEXT_END);
  });
});
