/**
 * The Sysmon backend on real OTRF data (read in place from ../shared/endpoint):
 * ground-truth TLS flows of campaign 05, the Zeek conn flows of campaigns 02
 * and 05, the Sysmon-for-Linux capture, each host with its own clock offset.
 * Plus the formats the data does not cover: Winlogbeat nesting, gzip,
 * JSON arrays, EID 8 annotations, files that grow.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';

import { runAgent, type RunningAgent } from '../../src/agent/index.js';
import { SysmonBackend } from '../../src/agent/sysmon/backend.js';
import { guidStartMs, normalizeEvent, parseSysmonTime } from '../../src/agent/sysmon/events.js';
import type { AttributionQuery, AttributionResponse, AttributionResult, HealthResponse } from '../../src/shared/endpoint-api.js';
import { call, readZeekJoined, sharedPath, SKIP_NO_SHARED, sysmonMs, tokenFile, zeekQueries } from './helpers.js';
import { tempDir } from '../helpers/tools.js';

const C05 = sharedPath('otrf_lsass_campaign_05');
const C02 = sharedPath('otrf_lsass_campaign_02');
const L4S = sharedPath('otrf_log4shell_linux');

async function attribute(url: string, flows: AttributionQuery[]): Promise<AttributionResult[]> {
  const out: AttributionResult[] = [];
  for (let i = 0; i < flows.length; i += 500) {
    const r = await call(`${url}/v1/attribution`, { body: { flows: flows.slice(i, i + 500) } });
    assert.equal(r.status, 200, r.text);
    out.push(...(r.json as AttributionResponse).results);
  }
  return out;
}

const iso = (sec: number): string => new Date(sec * 1000).toISOString();
const ZERO_GUID = '{00000000-0000-0000-0000-000000000000}';

/** Zeek conn flows against the Sysmon EID 3 join: how many land on the joined process. */
async function zeekCampaign(url: string, dir: string, label: string, log: (s: string) => void): Promise<{ ok: number; total: number }> {
  const joined = zeekQueries(readZeekJoined(dir));
  const z = joined.map((j) => j.flow);
  const flows: AttributionQuery[] = joined.map((j, i) => ({ id: `${label}-${i}`, ...j.query }));
  const results = await attribute(url, flows);
  let ok = 0;
  let total = 0;
  let byPid = 0;
  const misses: string[] = [];
  const noTruth: Record<string, number> = {};
  z.forEach((f, i) => {
    const r = results[i];
    assert.equal(r.id, flows[i].id);
    if (f.matched.length === 0) {
      const k = `${r.status}${r.method ? `/${r.method}` : ''}`;
      noTruth[k] = (noTruth[k] ?? 0) + 1;
      return;
    }
    total++;
    const guids = new Set(f.matched.map((m) => m.process_guid.toLowerCase()));
    const pids = new Set(f.matched.map((m) => m.pid));
    const good =
      r.status === 'matched' &&
      (guids.has(r.process!.uid.toLowerCase()) ||
        // Sysmon wrote the all-zero GUID: the agent names the process by pid and time
        (guids.has(ZERO_GUID) && pids.has(r.process!.pid) && r.warnings.includes('process_guid_resolved_by_pid')));
    if (good) {
      ok++;
      if (guids.has(ZERO_GUID)) byPid++;
    } else misses.push(`${f.proto} ${f.src_ip}:${f.src_port} -> ${f.dst_ip}:${f.dst_port} @${f.ts}: ${r.status} ${r.process?.uid ?? ''} ${r.warnings.join(',')}`);
  });
  log(`# ${label}: ${ok}/${total} Zeek flows attributed to the Sysmon-joined process (${byPid} of them named by pid because Sysmon logged the all-zero ProcessGuid)`);
  log(`# ${label}: flows with no Sysmon join (${z.length - total}): ${JSON.stringify(noTruth)}`);
  for (const m of misses.slice(0, 10)) log(`# ${label} miss: ${m}`);
  return { ok, total };
}

describe('sysmon backend on the OTRF captures', { skip: !(C05 && C02) && SKIP_NO_SHARED }, () => {
  let agent: RunningAgent;
  before(async () => {
    agent = await runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile(), events: [C05!, C02!, ...(L4S ? [L4S] : [])], pollMs: 60_000 });
  });
  after(async () => agent?.close());

  it('campaign 05 ground truth: each TLS flow → its process and TLS-library loads, despite the −12.1 h EID 3 clock', async () => {
    const gt = JSON.parse(readFileSync(join(C05!, 'ground_truth_tls_flow_to_process.json'), 'utf8')) as {
      network: { ts: number; src_ip: string; src_port: number; dst_ip: string; dst_port: number };
      endpoint: {
        sysmon_eid3_utctime: string;
        process_guid: string;
        pid: number;
        image: string;
        user: string;
        process_create: { CommandLine: string; ParentImage: string; ParentCommandLine: string; ParentProcessId: string; Hashes: string; UtcTime: string };
        tls_modules_loaded: { path: string; utc_time: string; signed: boolean; signature: string }[];
      };
    }[];
    assert.ok(gt.length >= 1);
    // these flows are the agent's first queries: the offset is learned from them
    const flows: AttributionQuery[] = gt.map((g, i) => ({ id: `gt-${i}`, proto: 'tcp', ...g.network, ts: iso(g.network.ts) }));
    const results = await attribute(agent.url, flows);
    let matched = 0;
    let beforeTrue = 0;
    let beforeFalse = 0;
    gt.forEach((g, i) => {
      const r = results[i];
      const e = g.endpoint;
      assert.equal(r.status, 'matched', JSON.stringify(r));
      assert.equal(r.method, 'exact_5tuple');
      const p = r.process!;
      assert.equal(p.uid.toLowerCase(), e.process_guid.toLowerCase());
      assert.equal(p.pid, e.pid);
      assert.equal(p.executable, e.image);
      assert.equal(p.name, 'winx64_payload.exe');
      assert.equal(p.command_line, e.process_create.CommandLine);
      assert.equal(p.user, e.user);
      assert.deepEqual(p.parent, { pid: Number(e.process_create.ParentProcessId), executable: e.process_create.ParentImage, command_line: e.process_create.ParentCommandLine });
      assert.equal(p.hash?.sha256, /SHA256=([0-9A-F]+)/i.exec(e.process_create.Hashes)![1].toLowerCase());
      assert.equal(p.start_time, new Date(sysmonMs(e.process_create.UtcTime)).toISOString());
      assert.equal(r.host?.name, 'MKT01.pandalab.com');
      // the clock: EID 3 UtcTime − packet time
      const expectedOffset = (sysmonMs(e.sysmon_eid3_utctime) - g.network.ts * 1000) / 1000;
      assert.ok(Math.abs(r.clock_offset_seconds! - expectedOffset) < 1, `offset ${r.clock_offset_seconds} vs ${expectedOffset}`);
      assert.equal(r.process_clock_offset_seconds, 0);
      for (const m of e.tls_modules_loaded) {
        const lib = p.tls_libraries.find((l) => l.path.toLowerCase() === m.path.toLowerCase());
        assert.ok(lib, `${m.path} missing from tls_libraries`);
        assert.equal(lib.load_time, new Date(sysmonMs(m.utc_time)).toISOString(), m.path);
        const expected = sysmonMs(m.utc_time) <= g.network.ts * 1000;
        assert.equal(lib.loaded_before_flow, expected, `${m.path} loaded_before_flow`);
        assert.equal(lib.signed, m.signed);
        if (expected) beforeTrue++;
        else beforeFalse++;
      }
      const schannel = p.tls_libraries.find((l) => /schannel\.dll$/i.test(l.path))!;
      assert.equal(schannel.category, 'tls_stack');
      assert.equal(schannel.loaded_before_flow, true, 'schannel was loaded 44 ms before the first ClientHello');
      matched++;
    });
    console.log(`# campaign 05 ground truth: ${matched}/${gt.length} TLS flows matched to the ground-truth process; ${beforeTrue + beforeFalse} TLS-library loads checked (${beforeFalse} loaded after the flow)`);
    assert.ok(beforeFalse > 0, 'the data has loads after the flow, so loaded_before_flow is really judged at ts');
  });

  it('campaign 02: every Zeek conn flow joined to a Sysmon EID 3 attributes to that process (+176 s clock)', async () => {
    const { ok, total } = await zeekCampaign(agent.url, C02!, 'campaign 02', (s) => console.log(s));
    assert.ok(total >= 100);
    assert.equal(ok, total);
  });

  it('campaign 05: every Zeek conn flow joined to a Sysmon EID 3 attributes to that process', async () => {
    const { ok, total } = await zeekCampaign(agent.url, C05!, 'campaign 05', (s) => console.log(s));
    assert.ok(total >= 800);
    assert.equal(ok, total);
  });

  it('per-host clock offsets in /v1/health: MKT01 −43517 s, ACCT01 +176.5 s, process events on the packet clock', async () => {
    const r = await call(`${agent.url}/v1/health`);
    assert.equal(r.status, 200);
    const b = (r.json as HealthResponse).backends[0];
    assert.equal(b.name, 'sysmon');
    const off = Object.fromEntries(b.clock_offsets!.map((c) => [c.host, c]));
    assert.ok(Math.abs(off['MKT01.pandalab.com'].network_seconds! + 43517.3) < 1, JSON.stringify(off));
    assert.ok(Math.abs(off['ACCT01.pandalab.com'].network_seconds! - 176.5) < 1, JSON.stringify(off));
    assert.equal(off['MKT01.pandalab.com'].process_seconds, 0);
    assert.equal(off['ACCT01.pandalab.com'].process_seconds, 0);
  });

  it('Sysmon for Linux (log4shell): outbound flows → java/bash by 5-tuple; the inbound one has no EID 3', { skip: !L4S && SKIP_NO_SHARED }, async () => {
    const gt = JSON.parse(readFileSync(join(L4S!, 'ground_truth_flow_to_process.json'), 'utf8')) as {
      flows: { syn_ts: number; src_ip: string; src_port: number; dst_ip: string; dst_port: number; endpoint: { ProcessGuid: string; ProcessId: string }[] }[];
    };
    const flows: AttributionQuery[] = gt.flows.map((f, i) => ({ id: `l4s-${i}`, proto: 'tcp', src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port, ts: iso(f.syn_ts) }));
    const results = await attribute(agent.url, flows);
    let ok = 0;
    let withTruth = 0;
    gt.flows.forEach((f, i) => {
      const r = results[i];
      if (f.endpoint.length === 0) {
        assert.notEqual(r.status, 'host_unknown', 'the Linux host is known from its own EID 3 events');
        return;
      }
      withTruth++;
      assert.equal(r.status, 'matched', JSON.stringify(r));
      assert.equal(r.process!.uid.toLowerCase(), f.endpoint[0].ProcessGuid.toLowerCase());
      assert.equal(r.process!.pid, Number(f.endpoint[0].ProcessId));
      assert.equal(r.host!.name, 'UBUNTU5');
      ok++;
    });
    const java = results.find((r) => r.process?.name === 'java');
    assert.ok(java, 'java named from its full path');
    assert.equal(java!.process!.executable, '/usr/lib/jvm/java-8-openjdk-amd64/jre/bin/java');
    console.log(`# log4shell (Sysmon for Linux): ${ok}/${withTruth} flows with endpoint truth matched`);
  });

  it('GET /v1/processes/{uid}: the payload with all its EID 7 modules, paged', async () => {
    const uid = '{ec2b781c-05c5-64f8-b806-000000000500}';
    const seen: string[] = [];
    let cursor: string | null = null;
    let total = -1;
    do {
      const q: string = `limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await call(`${agent.url}/v1/processes/${encodeURIComponent(uid)}?${q}`);
      assert.equal(r.status, 200, r.text);
      const j = r.json as { process: { pid: number }; modules: { path: string }[]; page: { next_cursor: string | null; total: number } };
      assert.equal(j.process.pid, 7116);
      assert.ok(j.modules.length <= 7);
      seen.push(...j.modules.map((m) => m.path));
      total = j.page.total;
      cursor = j.page.next_cursor;
    } while (cursor);
    assert.equal(seen.length, total);
    assert.equal(new Set(seen).size, seen.length, 'no module twice across pages');
    assert.ok(seen.some((p) => /schannel\.dll$/i.test(p)));
    assert.ok(seen.some((p) => /ntdll\.dll$/i.test(p)), 'non-TLS modules are listed too');
    const missing = await call(`${agent.url}/v1/processes/${encodeURIComponent('{ec2b781c-0000-0000-0000-000000000000}')}`);
    assert.equal(missing.status, 404);
  });

  it('unknown hosts are host_unknown, known hosts without a socket not_found', async () => {
    const res = await attribute(agent.url, [
      { id: 'a', proto: 'tcp', src_ip: '203.0.113.9', src_port: 1, dst_ip: '198.51.100.7', dst_port: 443, ts: '2023-09-06T04:53:26.934Z' },
      { id: 'b', proto: 'tcp', src_ip: '192.168.56.30', src_port: 1, dst_ip: '198.51.100.7', dst_port: 443, ts: '2023-09-06T04:53:26.934Z' },
    ]);
    assert.equal(res[0].status, 'host_unknown');
    assert.equal(res[1].status, 'not_found');
    assert.equal(res[1].host?.name, 'MKT01.pandalab.com');
  });
});

describe('sysmon event formats and process GUIDs', () => {
  it('ProcessGuid encodes the start time: decoded time within 1 s before EID 1 UtcTime on all OTRF EID 1 events', { skip: !(C05 && C02) && SKIP_NO_SHARED }, () => {
    let n = 0;
    for (const dir of [C05!, C02!]) {
      const text = gunzipSync(readFileSync(join(dir, 'sysmon_eid1_3_7_22_subset.jsonl.gz'))).toString('utf8');
      for (const line of text.split('\n')) {
        if (!line) continue;
        const e = normalizeEvent(JSON.parse(line))!;
        if (e.eid !== 1) continue;
        const d = e.utcMs! - guidStartMs(e.data.ProcessGuid)!;
        assert.ok(d >= 0 && d < 1000, `${e.data.ProcessGuid} ${e.data.UtcTime}`);
        n++;
      }
    }
    assert.ok(n >= 200, `${n} EID 1 events`);
    assert.equal(guidStartMs('{ec2b781c-05c5-64f8-b806-000000000500}'), Date.parse('2023-09-06T04:53:25Z'));
    assert.equal(guidStartMs('{00000000-0000-0000-0000-000000000000}'), null);
    assert.equal(guidStartMs('not a guid'), null);
  });

  it('times: Sysmon format, RFC 3339 with offsets, junk', () => {
    assert.equal(parseSysmonTime('2023-09-05 16:48:09.577'), Date.parse('2023-09-05T16:48:09.577Z'));
    assert.equal(parseSysmonTime('2023-09-05T16:48:09.5+02:00'), Date.parse('2023-09-05T14:48:09.500Z'));
    assert.equal(parseSysmonTime('yesterday'), null);
    assert.equal(parseSysmonTime(42), null);
  });

  it('Winlogbeat-nested, gzip, JSON array and junk lines in one directory; EID 8 kept as an annotation; EID 5 ends the process', async () => {
    const dir = tempDir('tlsentry-sysmon-');
    const guid = '{11111111-2222-6400-aaaa-000000000001}'; // GUID time 0x64002222
    const target = '{11111111-3333-6400-aaaa-000000000002}';
    const host = 'WS01.example.test';
    const nested = (eid: number, data: Record<string, string>, ts: string): string =>
      JSON.stringify({ '@timestamp': ts, host: { name: host }, winlog: { event_id: eid, computer_name: host, provider_name: 'Microsoft-Windows-Sysmon', event_data: data } });
    const lines = [
      nested(1, { UtcTime: '2023-03-02 10:00:00.100', ProcessGuid: target, ProcessId: '900', Image: 'C:\\Windows\\System32\\notepad.exe', CommandLine: 'notepad.exe', User: 'EX\\bob', ParentProcessId: '800', ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'explorer.exe', Hashes: 'SHA256=AB' + '0'.repeat(62) }, '2023-03-02T10:00:00.200Z'),
      nested(8, { UtcTime: '2023-03-02 10:00:05.000', SourceProcessGuid: guid, SourceProcessId: '700', SourceImage: 'C:\\Users\\bob\\evil.exe', TargetProcessGuid: target, TargetProcessId: '900', TargetImage: 'C:\\Windows\\System32\\notepad.exe', StartAddress: '0x1000', StartModule: '-', StartFunction: '-' }, '2023-03-02T10:00:05.100Z'),
      nested(7, { UtcTime: '2023-03-02 10:00:08.000', ProcessGuid: target, ProcessId: '900', Image: 'C:\\Windows\\System32\\notepad.exe', ImageLoaded: 'C:\\Windows\\System32\\schannel.dll', Signed: 'true', Signature: 'Microsoft Windows' }, '2023-03-02T10:00:08.100Z'),
      'this line is not JSON',
      '{"truncated": ',
      nested(5, { UtcTime: '2023-03-02 10:05:00.000', ProcessGuid: target, ProcessId: '900', Image: 'C:\\Windows\\System32\\notepad.exe' }, '2023-03-02T10:05:00.100Z'),
    ];
    writeFileSync(join(dir, 'a.jsonl.gz'), gzipSync(lines.join('\n') + '\n'));
    // an EID 3 in a flat JSON array, another file
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify([
        { EventID: 3, Hostname: host, UtcTime: '2023-03-02 10:00:10.000', ProcessGuid: target, ProcessId: '900', Image: 'C:\\Windows\\System32\\notepad.exe', Protocol: 'tcp', Initiated: 'true', SourceIp: '10.1.1.5', SourcePort: '50000', DestinationIp: '203.0.113.10', DestinationPort: '443' },
        { not: 'an event' },
      ]),
    );
    writeFileSync(join(dir, 'notes.yaml'), 'ignored: true\n');
    const b = new SysmonBackend({ paths: [dir], refreshMs: 0 });
    await b.start();
    assert.equal(b.stats.events, 5);
    assert.ok(b.stats.skipped >= 3);
    const q = { id: 'x', proto: 'tcp' as const, srcIp: '10.1.1.5', srcPort: 50000, dstIp: '203.0.113.10', dstPort: 443, tsMs: Date.parse('2023-03-02T10:00:10.050Z'), raw: {} as AttributionQuery };
    const [r] = await b.attribute([q]);
    assert.equal(r.status, 'matched');
    const p = r.process!;
    assert.equal(p.pid, 900);
    assert.equal(p.command_line, 'notepad.exe');
    assert.equal(p.end_time, '2023-03-02T10:05:00.000Z');
    assert.equal(p.hash?.sha256, 'ab' + '0'.repeat(62));
    const ann = p.annotations.find((a) => a.kind === 'remote_thread_created')!;
    assert.ok(ann, 'EID 8 annotation on the target');
    assert.equal(ann.detail.source_image, 'C:\\Users\\bob\\evil.exe');
    assert.equal(ann.detail.source_pid, 700);
    assert.equal(ann.time, '2023-03-02T10:00:05.000Z');
    const sch = p.tls_libraries.find((l) => l.path.endsWith('schannel.dll'))!;
    assert.equal(sch.loaded_before_flow, true);
    // the source process exists too, known only from EID 8, with the GUID-decoded start time
    const src = b.process(guid)!;
    assert.equal(src.process.pid, 700);
    assert.equal(src.process.start_time, new Date(0x64002222 * 1000).toISOString());
    assert.equal(src.process.annotations[0].kind, 'created_remote_thread');
    // the file grows: new events are picked up, old ones not read twice
    appendFileSync(join(dir, 'c.jsonl'), JSON.stringify({ EventID: 3, Hostname: host, UtcTime: '2023-03-02 10:01:00.000', ProcessGuid: guid, ProcessId: '700', Image: 'C:\\Users\\bob\\evil.exe', Protocol: 'tcp', Initiated: 'true', SourceIp: '10.1.1.5', SourcePort: '50001', DestinationIp: '203.0.113.10', DestinationPort: '443' }) + '\n');
    b.refresh(false);
    assert.equal(b.stats.events, 6);
    b.refresh(false);
    assert.equal(b.stats.events, 6);
    const [r2] = await b.attribute([{ ...q, id: 'y', srcPort: 50001, tsMs: Date.parse('2023-03-02T10:01:00.020Z') }]);
    assert.equal(r2.status, 'matched');
    assert.equal(r2.process!.executable, 'C:\\Users\\bob\\evil.exe');
    await b.close();
  });
});
