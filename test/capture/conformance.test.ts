/**
 * Black-box cross-check against the public conformance captures in
 * ../shared/conformance/ (index.json from tshark 4.0), and — when Wireshark's
 * tools are installed — against capinfos (every capture) and tshark
 * (per-packet timestamp, lengths and MD5 for the pcapng and non-Ethernet ones).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { forEachPacket, openCapture, openCaptures } from '../../src/capture/index.js';
import { PacketRecord } from '../../src/capture/types.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = resolve(ROOT, '..', 'shared', 'conformance');
const INDEX = join(DIR, 'index.json');
const present = existsSync(INDEX);
if (!present) console.log(`# conformance captures not found in ${DIR}: conformance tests skipped`);

interface IndexEntry {
  pcap: string;
  format: string;
  linktypes: string[];
  packets: number;
  first_packet: string;
}

function which(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const haveTshark = which('tshark');
const haveCapinfos = which('capinfos');
if (present && !haveTshark) console.log('# tshark not installed: tshark/capinfos cross-checks skipped (apt-get install -y tshark)');

/** "2018-01-17 10:59:46.703072" (UTC) -> microseconds. */
function utcMicros(s: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})$/.exec(s);
  assert.ok(m, `bad date ${s}`);
  const [, y, mo, d, h, mi, se, us] = m.map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, se) * 1000 + us;
}

/** "1516186786.703072[000]" -> microseconds, floored like the reader. */
function epochMicros(s: string): number {
  const [sec, frac = ''] = s.trim().split('.');
  return Number(sec) * 1e6 + Number((frac + '000000').slice(0, 6));
}

interface Summary {
  format: string;
  count: number;
  first: number;
  last: number;
  min: number;
  max: number;
  linkTypes: number[];
  anomalies: Record<string, number>;
  packets: { ts: number; caplen: number; wirelen: number; md5: string }[] | null;
}

async function summarise(path: string, perPacket: boolean): Promise<Summary> {
  const c = new AnomalyCounters();
  const reader = await openCapture(path, c);
  const s: Summary = {
    format: reader.format,
    count: 0,
    first: NaN,
    last: NaN,
    min: Infinity,
    max: -Infinity,
    linkTypes: [],
    anomalies: {},
    packets: perPacket ? [] : null,
  };
  const links = new Set<number>();
  await forEachPacket(reader, new PacketRecord(), (p) => {
    if (s.count === 0) s.first = p.tsMicros;
    s.last = p.tsMicros;
    if (p.tsMicros < s.min) s.min = p.tsMicros;
    if (p.tsMicros > s.max) s.max = p.tsMicros;
    links.add(p.linkType);
    s.count++;
    s.packets?.push({
      ts: p.tsMicros,
      caplen: p.caplen,
      wirelen: p.wirelen,
      md5: createHash('md5').update(p.data.subarray(p.offset, p.offset + p.caplen)).digest('hex'),
    });
  });
  s.linkTypes = [...links].sort((a, b) => a - b);
  s.anomalies = c.toObject();
  return s;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd: DIR, maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => (err ? rej(err) : res(stdout)));
  });
}

describe('conformance captures', { skip: !present && `no ${DIR}` }, () => {
  const index: IndexEntry[] = present ? (JSON.parse(readFileSync(INDEX, 'utf8')) as IndexEntry[]) : [];

  it(`reads every capture with the packet count, first timestamp, format and link types of index.json`, async () => {
    assert.ok(index.length > 0);
    const failures: string[] = [];
    for (const e of index) {
      const s = await summarise(join(DIR, e.pcap), false);
      const expectLinks = [...new Set(e.linktypes.map((l) => Number(l.split(' ')[0])))].sort((a, b) => a - b);
      const problems: string[] = [];
      if (s.format !== e.format) problems.push(`format ${s.format} != ${e.format}`);
      if (s.count !== e.packets) problems.push(`packets ${s.count} != ${e.packets}`);
      if (s.count > 0 && s.first !== utcMicros(e.first_packet)) problems.push(`first ${s.first} != ${e.first_packet}`);
      if (JSON.stringify(s.linkTypes) !== JSON.stringify(expectLinks)) problems.push(`link types ${s.linkTypes} != ${expectLinks}`);
      if (Object.keys(s.anomalies).length > 0) problems.push(`anomalies ${JSON.stringify(s.anomalies)}`);
      if (problems.length) failures.push(`${e.pcap}: ${problems.join('; ')}`);
    }
    assert.deepEqual(failures, []);
  });

  it('agrees with capinfos on count, earliest/latest and (chronological files) last timestamp', { skip: !(haveTshark && haveCapinfos) && 'capinfos/tshark not installed' }, async () => {
    // -T table, -r no header, -M exact counts, -c count, -S epoch seconds, -a earliest, -e latest, -o chronological
    const out = await run('capinfos', ['-T', '-r', '-M', '-c', '-S', '-a', '-e', '-o', ...index.map((e) => e.pcap)]);
    const rows = new Map(out.trim().split('\n').map((l) => [l.split('\t')[0], l.split('\t')]));
    const failures: string[] = [];
    for (const e of index) {
      const row = rows.get(e.pcap);
      if (!row) {
        failures.push(`${e.pcap}: no capinfos row`);
        continue;
      }
      const [, count, earliest, latest, chrono] = row;
      const s = await summarise(join(DIR, e.pcap), false);
      if (s.count !== Number(count)) failures.push(`${e.pcap}: count ${s.count} != ${count}`);
      if (s.count === 0) continue;
      if (s.min !== epochMicros(earliest)) failures.push(`${e.pcap}: earliest ${s.min} != ${earliest}`);
      if (s.max !== epochMicros(latest)) failures.push(`${e.pcap}: latest ${s.max} != ${latest}`);
      if (chrono.trim() === 'True' && s.last !== epochMicros(latest)) failures.push(`${e.pcap}: last ${s.last} != ${latest}`);
    }
    assert.deepEqual(failures, []);
  });

  it('agrees with tshark packet by packet (timestamp, caplen, wire length, MD5) on pcapng, non-Ethernet and non-chronological captures', { skip: !haveTshark && 'tshark not installed' }, async () => {
    const chosen = index.filter((e) => e.format === 'pcapng' || !e.linktypes.every((l) => l.startsWith('1 ')) || e.pcap.includes('tls-bypass-missing-event'));
    assert.ok(chosen.length >= 20);
    const failures: string[] = [];
    const queue = [...chosen];
    const worker = async (): Promise<void> => {
      for (let e = queue.shift(); e; e = queue.shift()) {
        const out = await run('tshark', ['-n', '-r', e.pcap, '-o', 'frame.generate_md5_hash:TRUE', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.md5_hash']);
        const theirs = out.trim() === '' ? [] : out.trim().split('\n').map((l) => l.split('\t'));
        const ours = (await summarise(join(DIR, e.pcap), true)).packets ?? [];
        if (theirs.length !== ours.length) {
          failures.push(`${e.pcap}: ${ours.length} packets, tshark ${theirs.length}`);
          continue;
        }
        for (let i = 0; i < ours.length; i++) {
          const [ts, cap, len, md5] = theirs[i];
          const o = ours[i];
          if (o.ts !== epochMicros(ts) || o.caplen !== Number(cap) || o.wirelen !== Number(len) || o.md5 !== md5) {
            failures.push(`${e.pcap} frame ${i + 1}: ours ${JSON.stringify(o)} tshark ${theirs[i].join(' ')}`);
            break;
          }
        }
      }
    };
    await Promise.all([worker(), worker()]);
    assert.deepEqual(failures, []);
  });

  it('merges the whole directory in time order, skipping the expectation files', async () => {
    const c = new AnomalyCounters();
    const reader = await openCaptures([DIR], c);
    assert.equal(reader.inputs.length, index.length);
    assert.ok(reader.skipped.length > 0);
    assert.equal(c.get('capture.input.unreadable'), 0);
    let count = 0;
    let last = -Infinity;
    let outOfOrder = 0;
    const perInput = new Array<number>(reader.inputs.length).fill(0);
    await forEachPacket(reader, new PacketRecord(), (p) => {
      if (p.tsMicros < last) outOfOrder++;
      last = p.tsMicros;
      perInput[p.input]++;
      count++;
    });
    const byPath = new Map(index.map((e) => [join(DIR, e.pcap), e.packets]));
    assert.equal(count, index.reduce((s, e) => s + e.packets, 0));
    reader.inputs.forEach((path, i) => assert.equal(perInput[i], byPath.get(path), path));
    // Only a capture that is itself not chronological may step back.
    assert.ok(outOfOrder <= 1, `${outOfOrder} steps back in time`);
  });
});
