/**
 * LiveCapture (libpcap through the `pcap` binding) on lo, in this process:
 * frames arrive whole (loopback frames with offloads exceed 65535 bytes),
 * with the link type of the handle, microsecond timestamps from the kernel,
 * the wire length when the snap length cuts, pcap_stats counters; and the
 * per-frame path allocates nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { LiveCapture, linkTypeFromBinding } from '../../src/capture/live.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from '../../src/capture/types.js';
import { cannotCapture, freePort, killAll, sleep, track } from '../cli/live-helpers.js';

test.after(killAll);

/** Send `bytes` over a TCP connection on lo and wait for both sides to close. */
async function tcpTransfer(port: number, bytes: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer((c) => {
      c.resume();
      c.on('end', () => c.end());
    });
    server.listen(port, '127.0.0.1', () => {
      const c = createConnection(port, '127.0.0.1', () => c.end(Buffer.alloc(bytes, 0x5a)));
      c.resume();
      c.on('close', () => server.close(() => resolve()));
      c.on('error', reject);
    });
  });
}

test('lo: whole 64 KiB frames, link type from the handle, kernel timestamps in microseconds', { timeout: 30_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const port = await freePort();
  const cap = LiveCapture.open({ iface: 'lo', filter: `tcp port ${port}` });
  assert.equal(cap.linkType, LINKTYPE_ETHERNET, 'lo is DLT_EN10MB');
  let frames = 0, maxCaplen = 0, cut = 0, minTs = Infinity, maxTs = 0, sawPort = 0, subMs = false;
  cap.start(
    (p) => {
      frames++;
      if (p.caplen > maxCaplen) maxCaplen = p.caplen;
      if (p.caplen !== p.wirelen) cut++;
      if (p.tsMicros < minTs) minTs = p.tsMicros;
      if (p.tsMicros > maxTs) maxTs = p.tsMicros;
      if (p.tsMicros % 1000 !== 0) subMs = true;
      // Ethernet + IPv4 (20) : TCP ports at 34..37, read in place from the binding's buffer.
      const d = p.data, o = p.offset;
      if (d.readUInt16BE(o + 34) === port || d.readUInt16BE(o + 36) === port) sawPort++;
    },
    (m) => assert.fail(m),
  );
  const t0 = Date.now() * 1000;
  await tcpTransfer(port, 16 << 20);
  const t1 = Date.now() * 1000;
  await sleep(400); // a block timeout (100 ms) and a pump
  const s = cap.stats();
  cap.close();
  t.diagnostic(`${frames} frames, largest ${maxCaplen} bytes; pcap_stats ${JSON.stringify(s)}`);
  assert.ok(frames > 20, `frames seen: ${frames}`);
  assert.equal(sawPort, frames, 'every frame is a TCP segment of the test connection (filter applied, bytes in place)');
  assert.equal(cut, 0, 'no frame cut by the default snap length');
  assert.equal(cap.truncated, 0);
  // lo has TSO/GSO on by default: segments of 65483 payload bytes, 65549-byte frames.
  const gso = /tcp-segmentation-offload: on/.test(await ethtool('lo'));
  if (gso) assert.ok(maxCaplen > 65535, `a loopback frame larger than 65535 bytes arrived whole (largest ${maxCaplen})`);
  assert.ok(minTs >= t0 - 1e6 && maxTs <= t1 + 1e6, `timestamps within the transfer: ${minTs}..${maxTs} vs ${t0}..${t1}`);
  assert.ok(Number.isInteger(minTs) && subMs, 'integer microseconds, finer than milliseconds');
  // On lo the kernel counts each frame twice (libpcap discards the outgoing copy).
  assert.ok(s.received >= frames, `pcap_stats received ${s.received} >= ${frames} frames`);
  assert.equal(s.droppedKernel, 0);
});

test('a short snap length cuts frames, keeps the wire length and counts them', { timeout: 30_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const port = await freePort();
  const cap = LiveCapture.open({ iface: 'lo', filter: `tcp port ${port}`, snaplen: 96, promisc: false, timeoutMs: 0 });
  let big = 0, maxCaplen = 0;
  cap.start(
    (p) => {
      if (p.wirelen > 96) big++;
      if (p.caplen > maxCaplen) maxCaplen = p.caplen;
    },
    (m) => assert.fail(m),
  );
  await tcpTransfer(port, 1 << 20);
  await sleep(200);
  cap.close();
  assert.ok(big > 0, 'frames longer than the snap length were seen');
  assert.equal(maxCaplen, 96, 'no more than the snap length is kept');
  assert.equal(cap.truncated, big, 'every cut frame is counted');
});

test('link types the binding names map to LINKTYPE numbers', () => {
  assert.equal(linkTypeFromBinding('LINKTYPE_ETHERNET'), LINKTYPE_ETHERNET);
  assert.equal(linkTypeFromBinding('LINKTYPE_LINUX_SLL'), LINKTYPE_LINUX_SLL);
  assert.equal(linkTypeFromBinding('LINKTYPE_RAW'), LINKTYPE_RAW);
  assert.equal(linkTypeFromBinding('Unknown linktype 12'), LINKTYPE_RAW, 'DLT_RAW (12) is LINKTYPE_RAW (101)');
  assert.equal(linkTypeFromBinding('Unknown linktype 276'), LINKTYPE_LINUX_SLL2);
  assert.throws(() => linkTypeFromBinding('something else'), /unknown link type/);
});

test('an interface that does not exist is a clear error', (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  assert.throws(() => LiveCapture.open({ iface: 'nosuchif0' }), (e: Error & { code?: string }) => e.code === 'ERR_CAPTURE_OPEN' && /nosuchif0/.test(e.message));
});

/** The allocation child: capture FRAMES UDP frames, report GC counts. */
async function allocRun(mode: 'inplace' | 'allocate', frames: number): Promise<{ frames: number; gcs: number; heapGrowth: number; droppedKernel: number }> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', 'test/capture/live-alloc-child.ts', String(port), String(frames), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '', err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\n(\{.*\})\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`alloc child exited ${code}: ${err}`)));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`alloc child exited ${code}: ${err}`)));
  });
  // Send from this process at a pace the child keeps up with (no drops to muddy counts).
  const sock = createSocket('udp4');
  const payload = Buffer.alloc(64, 1);
  for (let sent = 0; sent < frames + 5000; sent += 200) {
    for (let i = 0; i < 200; i++) sock.send(payload, port, '127.0.0.1');
    await new Promise((r) => setImmediate(r));
    if ((sent & 0x3fff) === 0) await sleep(1);
  }
  let timer: NodeJS.Timeout | undefined;
  const line = await Promise.race([
    done,
    new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error(`alloc child: no result; stderr ${err}`)), 60_000))),
  ]).finally(() => clearTimeout(timer));
  sock.close();
  return JSON.parse(line);
}

test('the per-frame path allocates nothing (1 MiB young generation, 300k frames)', { timeout: 120_000 }, async (t) => {
  const why = cannotCapture();
  if (why) return t.skip(why);
  const frames = 300_000;
  const inplace = await allocRun('inplace', frames);
  const control = await allocRun('allocate', frames);
  t.diagnostic(`in place: ${JSON.stringify(inplace)}; control (an object per frame): ${JSON.stringify(control)}`);
  // The control allocates ~32 bytes per frame: ~9 MB, i.e. many scavenges of a 1 MiB semi-space.
  assert.ok(control.gcs >= 5, `the control run shows allocation (${control.gcs} GCs), so the measurement can see it`);
  // Per-dispatch objects (timers) are allowed; per-frame ones are not: 16 bytes × 300k would be ~5 scavenges.
  assert.ok(inplace.gcs <= 2, `${inplace.gcs} GCs while ${inplace.frames} frames were read in place`);
});

async function ethtool(iface: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('ethtool', ['-k', iface], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', () => resolve(''));
    p.on('exit', () => resolve(out));
  });
}
