/**
 * Capture reader throughput: tlsentry's reader vs the `pcap-parser` npm
 * package (and a bare inline loop as the ceiling), on the same pcap file in the
 * same run. Every reader counts packets and sums caplen; the sums must agree.
 *
 *   npx tsx bench/capture-readers.ts [file.pcap] [--rounds N] [--frame-size N] [--size-mb N]
 *
 * Any capture tlsentry reads (pcapng, gzip) can be given; pcap-parser and the
 * inline loop then take part only for little-endian microsecond pcap.
 *
 * Without a file, a synthetic classic pcap of Ethernet/IPv4/TCP frames
 * (1514 bytes by default, ~200 MB) is generated once in /tmp and reused.
 */
import { closeSync, existsSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachPacket, openCapture } from '../src/capture/index.js';
import { NEXT_END, NEXT_PACKET, PacketRecord } from '../src/capture/types.js';
import { AnomalyCounters } from '../src/shared/anomalies.js';

interface Result {
  packets: number;
  bytes: number;
}

// ---- arguments -------------------------------------------------------------------
const args = process.argv.slice(2);
function option(name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad ${name}`);
  return v;
}
const rounds = option('--rounds', 5);
const frameSize = option('--frame-size', 1514);
const sizeMb = option('--size-mb', 200);
const file = args[0] ?? generate(frameSize, sizeMb);

// ---- synthetic input -------------------------------------------------------------
function generate(frame: number, mb: number): string {
  if (frame < 54 || frame > 65535) throw new Error('--frame-size must be 54..65535');
  const path = join(tmpdir(), `tlsentry-bench-${mb}mb-${frame}.pcap`);
  const target = mb * 1e6;
  const recLen = 16 + frame;
  const count = Math.floor((target - 24) / recLen);
  if (existsSync(path) && statSync(path).size === 24 + count * recLen) return path;
  process.stderr.write(`generating ${path} (${count} frames of ${frame} bytes)...\n`);
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  // One template record: Ethernet / IPv4 / TCP (ACK|PSH) / payload.
  const t = Buffer.alloc(recLen);
  t.writeUInt32LE(frame, 24 - 16 + 8 - 0); // placeholder, rewritten below
  const f = 16; // frame start within the record
  Buffer.from('020000000002020000000001', 'hex').copy(t, f); // dst, src MAC
  t.writeUInt16BE(0x0800, f + 12);
  const ip = f + 14;
  t[ip] = 0x45;
  t.writeUInt16BE(frame - 14, ip + 2);
  t[ip + 8] = 64;
  t[ip + 9] = 6;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(t, ip + 12);
  const tcp = ip + 20;
  t.writeUInt16BE(443, tcp);
  t.writeUInt16BE(50000, tcp + 2);
  t[tcp + 12] = 0x50;
  t[tcp + 13] = 0x18;
  t.writeUInt16BE(65535, tcp + 14);
  for (let i = tcp + 20; i < recLen; i++) t[i] = (i * 7) & 0xff;
  const perChunk = Math.max(1, Math.floor((8 << 20) / recLen));
  const chunk = Buffer.alloc(perChunk * recLen);
  for (let i = 0; i < perChunk; i++) t.copy(chunk, i * recLen);
  const fd = openSync(path, 'w');
  writeSync(fd, hdr);
  const t0 = 1_700_000_000;
  for (let done = 0; done < count; ) {
    const n = Math.min(perChunk, count - done);
    for (let i = 0; i < n; i++) {
      const r = i * recLen;
      const k = done + i;
      chunk.writeUInt32LE(t0 + Math.floor(k / 10000), r);
      chunk.writeUInt32LE((k % 10000) * 100, r + 4);
      chunk.writeUInt32LE(frame, r + 8);
      chunk.writeUInt32LE(frame, r + 12);
      chunk.writeUInt32BE((k * (frame - 54)) >>> 0, r + 16 + 14 + 20 + 4); // TCP seq
    }
    writeSync(fd, chunk, 0, n * recLen);
    done += n;
  }
  closeSync(fd);
  return path;
}

// ---- readers ----------------------------------------------------------------------
async function tlsentryForEach(path: string): Promise<Result> {
  const reader = await openCapture(path, new AnomalyCounters());
  const res = { packets: 0, bytes: 0 };
  await forEachPacket(reader, new PacketRecord(), (p) => {
    res.packets++;
    res.bytes += p.caplen;
  });
  return res;
}

async function tlsentryNextLoop(path: string): Promise<Result> {
  const reader = await openCapture(path, new AnomalyCounters());
  const pkt = new PacketRecord();
  let packets = 0;
  let bytes = 0;
  for (;;) {
    const r = reader.next(pkt);
    if (r === NEXT_PACKET) {
      packets++;
      bytes += pkt.caplen;
    } else if (r === NEXT_END) break;
    else await reader.fill();
  }
  return { packets, bytes };
}

/** The ceiling: no abstraction, 4 MiB readSync chunks, little-endian only. */
async function inlineLoop(path: string): Promise<Result> {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe((4 << 20) + (320 << 10));
  let pos = 0;
  let end = readSync(fd, buf, 0, buf.length, 0);
  let filePos = end;
  pos = 24;
  let packets = 0;
  let bytes = 0;
  for (;;) {
    if (end - pos < 16 || end - pos < 16 + buf.readUInt32LE(pos + 8)) {
      buf.copyWithin(0, pos, end);
      end -= pos;
      pos = 0;
      const n = readSync(fd, buf, end, Math.min(4 << 20, buf.length - end), filePos);
      if (n === 0) break;
      filePos += n;
      end += n;
      continue;
    }
    const cap = buf.readUInt32LE(pos + 8);
    packets++;
    bytes += cap;
    pos += 16 + cap;
  }
  closeSync(fd);
  return { packets, bytes };
}

interface PcapParserModule {
  parse(input: string): {
    on(ev: 'packet', fn: (p: { header: { capturedLength: number }; data: Buffer }) => void): void;
    on(ev: 'end', fn: () => void): void;
    on(ev: 'error', fn: (e: Error) => void): void;
  };
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as PcapParserModule;

function pcapParserRead(path: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const res = { packets: 0, bytes: 0 };
    const parser = pcapParser.parse(path);
    parser.on('packet', (p) => {
      res.packets++;
      res.bytes += p.header.capturedLength;
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(res));
  });
}

// ---- run --------------------------------------------------------------------------
const size = statSync(file).size;
/** pcap-parser and the inline loop only read little-endian microsecond pcap. */
function isLePcap(path: string): boolean {
  const fd = openSync(path, 'r');
  const m = Buffer.alloc(4);
  readSync(fd, m, 0, 4, 0);
  closeSync(fd);
  return m.readUInt32BE(0) === 0xd4c3b2a1;
}
const contenders: [string, (p: string) => Promise<Result>][] = [
  ['tlsentry forEachPacket', tlsentryForEach],
  ['tlsentry next() loop', tlsentryNextLoop],
];
if (isLePcap(file)) {
  contenders.push(['inline loop (ceiling)', inlineLoop], ['pcap-parser (npm)', pcapParserRead]);
} else {
  console.log('(not a little-endian microsecond pcap: pcap-parser and the inline loop cannot read it; tlsentry only)');
}

async function main(): Promise<void> {
  // Silence pcap-parser's `new Buffer()` deprecation warning.
  process.removeAllListeners('warning');
  await tlsentryForEach(file); // warm the page cache (and the JIT)
  const times = new Map<string, number[]>(contenders.map(([n]) => [n, []]));
  let reference: Result | null = null;
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of contenders) {
      const t0 = process.hrtime.bigint();
      const res = await fn(file);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      if (reference === null) reference = res;
      else if (res.packets !== reference.packets || res.bytes !== reference.bytes) {
        throw new Error(`${name} disagrees: ${JSON.stringify(res)} vs ${JSON.stringify(reference)}`);
      }
      (times.get(name) as number[]).push(dt);
    }
  }
  const ref = reference as Result;
  console.log(`file: ${file}`);
  console.log(`size: ${(size / 1e6).toFixed(1)} MB, ${ref.packets} packets, ${(ref.bytes / ref.packets).toFixed(0)} B/packet avg; ${rounds} rounds, median (best)`);
  console.log(`node ${process.version}`);
  console.log('');
  const rows = [['reader', 'Mpkt/s', 'MB/s (file)', 'ms/pass']];
  for (const [name] of contenders) {
    const ts = (times.get(name) as number[]).slice().sort((a, b) => a - b);
    const med = ts[Math.floor(ts.length / 2)];
    const best = ts[0];
    rows.push([
      name,
      `${(ref.packets / med / 1e6).toFixed(2)} (${(ref.packets / best / 1e6).toFixed(2)})`,
      `${(size / med / 1e6).toFixed(0)} (${(size / best / 1e6).toFixed(0)})`,
      `${(med * 1000).toFixed(0)}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

await main();
