import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { openCapture, openCaptureStream } from '../../src/capture/index.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { counters, drain, frameBytes, pcapFile, PcapngBuilder, tmpDir, type Frame } from './helpers.js';

const tmp = tmpDir();
after(() => tmp.cleanup());

const BASE = 1_600_000_000;
const FRAMES: Frame[] = Array.from({ length: 300 }, (_, i) => ({ sec: BASE + i, frac: i * 7, data: frameBytes(i, 40 + ((i * 131) % 1400)) }));
const PCAP = pcapFile({ le: false, nano: true }, FRAMES.map((f) => ({ ...f, frac: f.frac * 1000 })));
const PCAPNG = new PcapngBuilder()
  .shb(false)
  .idb(1, { tsresol: 9 })
  .epb(0, BigInt(BASE) * 1_000_000_000n + 5_000n, frameBytes(0, 100))
  .shb(true)
  .idb(101)
  .epb(0, BigInt(BASE + 1) * 1_000_000n, frameBytes(1, 200))
  .build();

/** Random-looking filler that gzip cannot shrink much, so the compressed stream spans many chunks. */
function noisyFrames(n: number): Frame[] {
  let x = 12345;
  return Array.from({ length: n }, (_, i) => {
    const data = Buffer.alloc(1000);
    for (let k = 0; k < data.length; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[k] = x >>> 24;
    }
    data.writeUInt32BE(i, 0);
    return { sec: BASE + i, frac: 0, data };
  });
}

describe('gzip', () => {
  it('streams gzip-compressed pcap and pcapng', async () => {
    for (const [name, raw] of [
      ['a.pcap.gz', PCAP],
      ['b.pcapng.gz', PCAPNG],
      ['no-extension', PCAP],
    ] as const) {
      const gz = gzipSync(raw);
      const plain = await drain(await openCapture(tmp.write(`plain-${name}`, raw), counters()));
      const path = tmp.write(name, gz);
      const c = counters();
      const reader = await openCapture(path, c);
      assert.equal(reader.format, raw === PCAP ? 'pcap' : 'pcapng');
      assert.equal(reader.totalBytes, gz.length);
      const pkts = await drain(reader);
      assert.deepEqual(pkts, plain);
      assert.equal(reader.bytesRead, gz.length);
      assert.equal(c.total(), 0);
    }
  });

  it('keeps the packets read before a truncated or corrupt gzip stream, counting capture.gzip.corrupt', async () => {
    const raw = pcapFile({}, noisyFrames(800));
    const gz = gzipSync(raw);
    const full = await drain(await openCapture(tmp.write('n.pcap', raw), counters()));

    // truncated: the packets read are a prefix of the real ones
    let c = counters();
    let pkts = await drain(await openCapture(tmp.write('cut.pcap.gz', gz.subarray(0, Math.floor(gz.length / 2))), c));
    assert.ok(pkts.length > 100 && pkts.length < 800, `got ${pkts.length}`);
    assert.deepEqual(pkts, full.slice(0, pkts.length));
    assert.equal(c.get('capture.gzip.corrupt'), 1);

    // corrupt in the middle (stored blocks of noise: flip bytes of a block header region)
    const bad = Buffer.from(gz);
    for (let i = Math.floor(gz.length * 0.6); i < Math.floor(gz.length * 0.6) + 64; i++) bad[i] ^= 0xa5;
    c = counters();
    pkts = await drain(await openCapture(tmp.write('bad.pcap.gz', bad), c));
    assert.ok(pkts.length < 800);
    assert.ok(c.get('capture.gzip.corrupt') === 1 || c.total() > 0, JSON.stringify(c.toObject()));
  });

  it('rejects gzip data that is not a capture', async () => {
    await assert.rejects(openCapture(tmp.write('text.gz', gzipSync(Buffer.from('just some text'))), counters()), (err: unknown) => {
      assert.ok(err instanceof TlsentryError);
      assert.equal(err.code, 'ERR_CAPTURE_FORMAT');
      return true;
    });
    const c = counters();
    await assert.rejects(openCapture(tmp.write('garbled.gz', Buffer.from('1f8b0800000000000003ffffffffffffffffffff', 'hex')), c), TlsentryError);
  });
});

describe('streams and standard input', () => {
  it('reads a Readable delivering one byte at a time', async () => {
    const plain = await drain(await openCapture(tmp.write('s.pcap', PCAP), counters()));
    const chunks: Buffer[] = Array.from(PCAP.subarray(0, 5000), (b) => Buffer.from([b]));
    chunks.push(PCAP.subarray(5000));
    const reader = await openCaptureStream(Readable.from(chunks, { objectMode: false }), 'test-stream', counters());
    assert.equal(reader.totalBytes, -1);
    assert.deepEqual(await drain(reader), plain);
    assert.equal(reader.bytesRead, PCAP.length);
  });

  it('reads a gzip Readable', async () => {
    const plain = await drain(await openCapture(tmp.write('s2.pcapng', PCAPNG), counters()));
    const gz = gzipSync(PCAPNG);
    const reader = await openCaptureStream(Readable.from([gz.subarray(0, 1), gz.subarray(1, 3), gz.subarray(3)]), 'gz-stream', counters());
    assert.deepEqual(await drain(reader), plain);
    assert.equal(reader.bytesRead, gz.length);
  });

  it('reads a named pipe-like non-regular file via streams', async () => {
    // /dev/stdin of a child is exercised below; here a stream of a regular file stands in.
    const path = tmp.write('fs.pcap', PCAP);
    const reader = await openCaptureStream(createReadStream(path, { highWaterMark: 1000 }), path, counters());
    assert.equal((await drain(reader)).length, FRAMES.length);
  });

  // A child process reads '-' while a file is piped into its standard input.
  const script = join(tmp.dir, 'read-stdin.mts');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  writeFileSync(
    script,
    `import { openCapture, forEachPacket, PacketRecord } from ${JSON.stringify(join(root, 'src/capture/index.ts'))};
import { AnomalyCounters } from ${JSON.stringify(join(root, 'src/shared/anomalies.ts'))};
const c = new AnomalyCounters();
const r = await openCapture('-', c);
let n = 0, first = -1, last = -1, bytes = 0;
await forEachPacket(r, new PacketRecord(), (p) => { n++; if (first < 0) first = p.tsMicros; last = p.tsMicros; bytes += p.caplen; });
process.stdout.write(JSON.stringify({ format: r.format, n, first, last, bytes, bytesRead: r.bytesRead, anomalies: c.toObject() }));
`,
  );

  function runChild(input: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
        else resolve(JSON.parse(out) as Record<string, unknown>);
      });
      createReadStream(input, { highWaterMark: 777 }).pipe(child.stdin);
    });
  }

  it('reads standard input ("-") piped from another process, plain and gzip', async () => {
    const bytes = FRAMES.reduce((s, f) => s + f.data.length, 0);
    const plainPath = tmp.write('stdin.pcap', PCAP);
    const gzPath = tmp.write('stdin.pcap.gz', gzipSync(PCAP));
    for (const path of [plainPath, gzPath]) {
      const res = await runChild(path);
      assert.deepEqual(res, {
        format: 'pcap',
        n: FRAMES.length,
        first: BASE * 1e6,
        last: (BASE + 299) * 1e6 + 299 * 7,
        bytes,
        bytesRead: statSync(path).size,
        anomalies: {},
      });
    }
  });
});
