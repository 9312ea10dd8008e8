import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { openCapture } from '../../src/capture/index.js';
import { ticksToMicros } from '../../src/capture/pcapng-reader.js';
import { counters, drain, frameBytes, PcapngBuilder, tmpDir } from './helpers.js';

const tmp = tmpDir();
after(() => tmp.cleanup());

const T0 = 1_700_000_000n; // seconds

/** Two sections with different byte orders, resolutions, link types and block kinds. */
function multiSection(): Buffer {
  const b = new PcapngBuilder();
  b.shb(true)
    .idb(1) // iface 0: Ethernet, default µs
    .idb(101, { tsresol: 9, snaplen: 65535 }) // iface 1: raw IP, ns
    .raw(4, Buffer.from('0100040001020304', 'hex')) // name resolution block: skipped
    .epb(0, T0 * 1_000_000n + 1n, frameBytes(0, 60))
    .epb(1, T0 * 1_000_000_000n + 2_999n, frameBytes(1, 40), { wirelen: 1500 })
    .raw(0x00000bad, Buffer.from('0000a9a0deadbeef', 'hex')) // custom block: skipped
    .spb(frameBytes(2, 30)) // simple packet: iface 0, last timestamp
    .raw(5, Buffer.alloc(20)) // interface statistics: skipped
    .opb(1, T0 * 1_000_000_000n + 5_000_000n, frameBytes(3, 20)); // obsolete packet block
  b.shb(false) // big-endian section: interfaces start again from 0
    .idb(228, { tsresol: 0x80 | 20, snaplen: 100 }) // iface 0: IPv4, 2^-20 s, snaplen 100
    .idb(276, { tsresol: 3, tsoffset: 1_000n }) // iface 1: SLL2, ms, +1000 s
    .epb(0, (T0 + 10n) * 1_048_576n + 524_288n, frameBytes(4, 50)) // +0.5 s
    .epb(1, (T0 - 1_000n + 20n) * 1_000n + 7n, frameBytes(5, 44))
    .spb(frameBytes(6, 100), 120);
  b.shb(true).idb(113).epb(0, (T0 + 30n) * 1_000_000n, frameBytes(7, 10));
  return b.build();
}

const EXPECTED = [
  { linkType: 1, tsMicros: Number(T0) * 1e6 + 1, caplen: 60, wirelen: 60, n: 0 },
  { linkType: 101, tsMicros: Number(T0) * 1e6 + 2, caplen: 40, wirelen: 1500, n: 1 },
  { linkType: 1, tsMicros: Number(T0) * 1e6 + 2, caplen: 30, wirelen: 30, n: 2 },
  { linkType: 101, tsMicros: Number(T0) * 1e6 + 5000, caplen: 20, wirelen: 20, n: 3 },
  { linkType: 228, tsMicros: Number(T0 + 10n) * 1e6 + 500_000, caplen: 50, wirelen: 50, n: 4 },
  { linkType: 276, tsMicros: Number(T0 + 20n) * 1e6 + 7000, caplen: 44, wirelen: 44, n: 5 },
  { linkType: 228, tsMicros: Number(T0 + 20n) * 1e6 + 7000, caplen: 100, wirelen: 120, n: 6 },
  { linkType: 113, tsMicros: Number(T0 + 30n) * 1e6, caplen: 10, wirelen: 10, n: 7 },
];

describe('pcapng', () => {
  it('reads multiple sections with their own byte order, interfaces, if_tsresol and if_tsoffset', async () => {
    const data = multiSection();
    for (const chunkSize of [undefined, 1, 3, 8, 13, 64]) {
      const c = counters();
      const reader = await openCapture(tmp.write('multi.pcapng', data), c, { chunkSize });
      assert.equal(reader.format, 'pcapng');
      const pkts = await drain(reader);
      assert.equal(pkts.length, EXPECTED.length, `chunkSize ${chunkSize}`);
      EXPECTED.forEach((e, i) => {
        assert.equal(pkts[i].linkType, e.linkType, `packet ${i} link type`);
        assert.equal(pkts[i].tsMicros, e.tsMicros, `packet ${i} timestamp`);
        assert.equal(pkts[i].caplen, e.caplen, `packet ${i} caplen`);
        assert.equal(pkts[i].wirelen, e.wirelen, `packet ${i} wirelen`);
        assert.equal(pkts[i].hex, frameBytes(e.n, e.caplen).toString('hex'), `packet ${i} bytes`);
      });
      assert.deepEqual(c.toObject(), {});
      assert.equal(reader.bytesRead, data.length);
    }
  });

  it('starts with a big-endian section', async () => {
    const data = new PcapngBuilder().shb(false).idb(1, { tsresol: 6 }).epb(0, 1_234_567n, frameBytes(9, 33)).build();
    const pkts = await drain(await openCapture(tmp.write('be.pcapng', data), counters()));
    assert.deepEqual(
      pkts.map((p) => [p.linkType, p.tsMicros, p.caplen]),
      [[1, 1_234_567, 33]],
    );
  });

  it('counts a simple packet block too short for its original length (no snaplen) and keeps its bytes', async () => {
    const data = new PcapngBuilder().shb(true).idb(1).spb(frameBytes(1, 40), 60).build();
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('spb-short.pcapng', data), c));
    assert.equal(pkts[0].caplen, 40);
    assert.equal(pkts[0].wirelen, 60);
    assert.equal(c.get('capture.pcapng.caplen_exceeds_block'), 1);
  });

  it('limits a simple packet block to the interface snaplen', async () => {
    const data = new PcapngBuilder().shb(true).idb(1, { snaplen: 16 }).spb(frameBytes(1, 40), 40).build();
    const pkts = await drain(await openCapture(tmp.write('spb-snap.pcapng', data), counters()));
    assert.equal(pkts[0].caplen, 16);
    assert.equal(pkts[0].wirelen, 40);
  });

  it('counts packets referencing undefined interfaces (interfaces are per section)', async () => {
    const data = new PcapngBuilder()
      .shb(true)
      .idb(1)
      .idb(1)
      .epb(1, 5n, frameBytes(0))
      .epb(2, 6n, frameBytes(1)) // no interface 2
      .shb(true)
      .spb(frameBytes(2)) // no interface 0 in this section yet
      .idb(1)
      .epb(1, 7n, frameBytes(3)) // interface 1 belonged to the previous section
      .epb(0, 8n, frameBytes(4))
      .build();
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('undef.pcapng', data), c));
    assert.deepEqual(
      pkts.map((p) => p.tsMicros),
      [5, 8],
    );
    assert.equal(c.get('capture.pcapng.undefined_interface'), 3);
  });

  it('skips large unknown blocks without buffering them', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 4, 0x55);
    const data = new PcapngBuilder()
      .shb(true)
      .idb(1)
      .epb(0, 1n, frameBytes(0))
      .raw(0x40000bad, big)
      .raw(10, big.subarray(0, 700_000)) // decryption secrets block
      .epb(0, 2n, frameBytes(1))
      .build();
    for (const chunkSize of [undefined, 4096, 65_537]) {
      const c = counters();
      const pkts = await drain(await openCapture(tmp.write('bigskip.pcapng', data), c, { chunkSize }));
      assert.deepEqual(
        pkts.map((p) => p.tsMicros),
        [1, 2],
      );
      assert.equal(c.total(), 0);
    }
  });

  it('skips oversized packet blocks and counts them', async () => {
    const data = new PcapngBuilder()
      .shb(true)
      .idb(1)
      .epb(0, 1n, Buffer.alloc(400 * 1024))
      .epb(0, 2n, frameBytes(1))
      .build();
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('bigepb.pcapng', data), c, { chunkSize: 10_000 }));
    assert.deepEqual(
      pkts.map((p) => p.tsMicros),
      [2],
    );
    assert.equal(c.get('capture.pcapng.oversized_record'), 1);
  });

  it('counts caplen past the block end, and caplen > original length', async () => {
    const data = new PcapngBuilder()
      .shb(true)
      .idb(1)
      .epb(0, 1n, frameBytes(0, 20), { caplen: 200 })
      .epb(0, 2n, frameBytes(1, 20), { wirelen: 10 })
      .build();
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('caplen.pcapng', data), c));
    assert.equal(pkts.length, 1);
    assert.equal(pkts[0].wirelen, 20);
    assert.equal(c.get('capture.pcapng.caplen_exceeds_block'), 1);
    assert.equal(c.get('capture.pcapng.caplen_exceeds_wirelen'), 1);
  });

  it('stops cleanly on a bad block length or a trailer mismatch', async () => {
    for (const [override, name] of [
      [{ lengthOverride: 8 }, 'capture.pcapng.bad_block_length'],
      [{ lengthOverride: 30 }, 'capture.pcapng.bad_block_length'],
      [{ trailerOverride: 44 }, 'capture.pcapng.block_length_mismatch'],
    ] as const) {
      const data = new PcapngBuilder()
        .shb(true)
        .idb(1)
        .epb(0, 1n, frameBytes(0))
        .raw(6, Buffer.alloc(28), override) // the damaged block
        .epb(0, 2n, frameBytes(1))
        .build();
      const c = counters();
      const pkts = await drain(await openCapture(tmp.write('badlen.pcapng', data), c));
      assert.deepEqual(
        pkts.map((p) => p.tsMicros),
        [1],
        name,
      );
      assert.equal(c.get(name), 1, name);
    }
  });

  it('stops on an unknown byte-order magic, skips sections of an unknown version', async () => {
    const bad = new PcapngBuilder().shb(true).idb(1).epb(0, 1n, frameBytes(0)).build();
    const badBom = Buffer.concat([bad, Buffer.from('0a0d0d0a1c00000011223344010000000000000000000000' + '1c000000', 'hex')]);
    let c = counters();
    let pkts = await drain(await openCapture(tmp.write('bom.pcapng', badBom), c));
    assert.equal(pkts.length, 1);
    assert.equal(c.get('capture.pcapng.bad_byte_order_magic'), 1);

    const v2 = new PcapngBuilder()
      .shb(true)
      .idb(1)
      .epb(0, 1n, frameBytes(0))
      .shb(false, 2)
      .idb(1)
      .epb(0, 2n, frameBytes(1))
      .shb(true)
      .idb(1)
      .epb(0, 3n, frameBytes(2))
      .build();
    c = counters();
    pkts = await drain(await openCapture(tmp.write('v2.pcapng', v2), c));
    assert.deepEqual(
      pkts.map((p) => p.tsMicros),
      [1, 3],
    );
    assert.equal(c.get('capture.pcapng.unsupported_version'), 1);
  });

  it('counts malformed interface options and keeps defaults', async () => {
    const b = new PcapngBuilder().shb(true);
    const badResol = b.option(9, Buffer.from([6, 6]));
    const data = b
      .idb(1, { extraOptions: badResol })
      .epb(0, 42n, frameBytes(0))
      .build();
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('opt.pcapng', data), c));
    assert.equal(pkts[0].tsMicros, 42);
    assert.equal(c.get('capture.pcapng.bad_option'), 1);
  });

  it('caps the interfaces kept per section', async () => {
    const b = new PcapngBuilder().shb(true);
    for (let i = 0; i < 65_540; i++) b.idb(1);
    b.epb(65_535, 1n, frameBytes(0)).epb(65_537, 2n, frameBytes(1));
    const c = counters();
    const pkts = await drain(await openCapture(tmp.write('ifaces.pcapng', b.build()), c));
    assert.deepEqual(
      pkts.map((p) => p.tsMicros),
      [1],
    );
    assert.equal(c.get('capture.pcapng.too_many_interfaces'), 4);
    assert.equal(c.get('capture.pcapng.undefined_interface'), 1);
  });

  it('converts timestamps exactly for every resolution up to 2^-37 s (property)', () => {
    const resolutions = [
      ...Array.from({ length: 12 }, (_, i) => 10n ** BigInt(i)),
      ...Array.from({ length: 38 }, (_, i) => 2n ** BigInt(i)),
    ];
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(...resolutions), (ticks, units) => {
        const expected = (ticks / units) * 1_000_000n + ((ticks % units) * 1_000_000n) / units;
        if (expected > BigInt(Number.MAX_SAFE_INTEGER)) return; // beyond a double's integers
        const got = ticksToMicros(Number(ticks >> 32n), Number(ticks & 0xffffffffn), Number(units));
        assert.equal(got, Number(expected), `ticks ${ticks} units ${units}`);
      }),
      { numRuns: 20_000 },
    );
  });
});
