/**
 * The public captures in ../shared/conformance (Zeek, Suricata, FoxIO JA4
 * test traces): every one decodes with no decode anomaly and nothing left
 * undecoded, and, when tshark is installed, every frame's addresses, ports,
 * sequence numbers and payload lengths agree with tshark's.
 *
 * Frames are read with the capture stage's reader (src/capture). The
 * tshark side runs once, over all captures concatenated by `mergecap -a`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { forEachPacket, openCapture, PacketRecord } from '../../src/capture/index.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { DECODE_HELD, DECODE_NOT_IP, DECODE_OTHER_IP, DECODE_TCP, Decoder, PacketView } from '../../src/decode/index.js';
import { addrText, hasCommand } from './helpers.js';

const ROOT = resolve('../shared/conformance');
const present = existsSync(join(ROOT, 'index.json'));
const captures: { pcap: string }[] = present ? JSON.parse(readFileSync(join(ROOT, 'index.json'), 'utf8')) : [];

interface Facts {
  r: number;
  v: number;
  proto: number;
  src: string;
  dst: string;
  sp: number;
  dp: number;
  seq: number;
  ack: number;
  wire: number;
}

/** Decodes one capture; per-frame facts, decode anomalies, not-decoded list. */
async function decodeCapture(path: string) {
  const counters = new AnomalyCounters();
  const reader = await openCapture(path, counters);
  const dec = new Decoder(counters);
  const view = new PacketView();
  const facts: Facts[] = [];
  try {
    await forEachPacket(reader, new PacketRecord(), (p) => {
      const r = dec.decode(p, view);
      const ip = view.ipVersion !== 0;
      facts.push({
        r, v: view.ipVersion, proto: view.protocol, src: ip ? addrText(view, 'src') : '', dst: ip ? addrText(view, 'dst') : '',
        sp: view.srcPort, dp: view.dstPort, seq: view.seq, ack: view.ack, wire: view.payloadWireLength,
      });
    });
  } finally {
    reader.close();
  }
  dec.flushFragments();
  const anomalies = Object.fromEntries(Object.entries(counters.toObject()).filter(([k]) => k.startsWith('decode.')));
  return { facts, anomalies, notDecoded: dec.stats.snapshot().notDecoded, stats: dec.stats };
}

const decoded = new Map<string, Awaited<ReturnType<typeof decodeCapture>>>();

describe('conformance captures', { skip: present ? false : `no ${ROOT} (shared conformance captures)` }, () => {
  test('every capture decodes: no decode anomaly, nothing left undecoded', async () => {
    let frames = 0;
    let tcp = 0;
    for (const c of captures) {
      const d = await decodeCapture(join(ROOT, c.pcap));
      decoded.set(c.pcap, d);
      frames += d.facts.length;
      tcp += d.stats.tcp;
      assert.deepEqual(d.anomalies, {}, `${c.pcap}: decode anomalies`);
      assert.deepEqual(d.notDecoded, {}, `${c.pcap}: not decoded`);
    }
    assert.ok(frames > 10000 && tcp > 10000, `${frames} frames, ${tcp} TCP`);
  });

  const tools = hasCommand('tshark') && hasCommand('mergecap');
  test('every frame agrees with tshark', { skip: tools ? false : 'tshark/mergecap not installed (Debian package: tshark)' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsentry-conformance-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const merged = join(dir, 'all.pcapng');
    const run = promisify(execFile);
    await run('mergecap', ['-a', '-w', merged, ...captures.map((c) => join(ROOT, c.pcap))]);
    const fields = ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len', 'udp.srcport', 'udp.dstport', 'udp.length'];
    const args = ['-r', merged, '-T', 'fields', '-E', 'occurrence=l', '-E', 'separator=\t'];
    for (const f of fields) args.push('-e', f);
    const { stdout } = await run('tshark', args, { maxBuffer: 1 << 28, env: { ...process.env, LC_ALL: 'C' } });
    const rows = stdout.split('\n');
    let row = 0;
    let compared = 0;
    const problems: string[] = [];
    for (const c of captures) {
      const d = decoded.get(c.pcap) ?? (await decodeCapture(join(ROOT, c.pcap)));
      d.facts.forEach((o, i) => {
        const cols = (rows[row++] ?? '').split('\t');
        const t = Object.fromEntries(fields.map((f, k) => [f, cols[k] ?? '']));
        // tshark's last occurrence inside an ICMP error is the quoted packet: compare the outer one only by ports.
        if (o.proto === 1 || o.proto === 58) return;
        const diffs: string[] = [];
        if (o.r !== DECODE_NOT_IP && o.v !== 0) {
          const [ts, td] = o.v === 4 ? [t['ip.src'], t['ip.dst']] : [t['ipv6.src'], t['ipv6.dst']];
          if (o.src !== ts || o.dst !== td) diffs.push(`addresses ${o.src} > ${o.dst} vs ${ts} > ${td}`);
        } else if (t['ip.src'] || t['ipv6.src']) {
          diffs.push(`result ${o.r} without IP, tshark has ${t['ip.src']}${t['ipv6.src']}`);
        }
        if (o.r === DECODE_TCP) {
          const ours = `${o.sp} ${o.dp} ${o.seq} ${o.ack} ${o.wire}`;
          const theirs = `${t['tcp.srcport']} ${t['tcp.dstport']} ${t['tcp.seq_raw']} ${t['tcp.ack_raw']} ${t['tcp.len']}`;
          if (ours !== theirs) diffs.push(`tcp ${ours} vs ${theirs}`);
        } else if (o.r === DECODE_OTHER_IP && o.proto === 17) {
          const ours = `${o.sp} ${o.dp} ${o.wire + 8}`;
          const theirs = `${t['udp.srcport']} ${t['udp.dstport']} ${t['udp.length']}`;
          if (ours !== theirs) diffs.push(`udp ${ours} vs ${theirs}`);
        } else if (o.r !== DECODE_HELD && t['tcp.srcport']) {
          diffs.push(`result ${o.r}, tshark has TCP`);
        }
        if (diffs.length) problems.push(`${c.pcap} #${i + 1}: ${diffs.join('; ')}`);
        compared++;
      });
    }
    assert.equal(rows.length - 1, row, 'tshark and the reader see the same frames');
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} frames differ`);
    assert.ok(compared > 10000);
  });
});
