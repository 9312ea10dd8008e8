/**
 * Sysmon evidence from OTRF Security-Datasets LSASS_campaign_05 (MIT):
 * `../shared/endpoint/otrf_lsass_campaign_05/`. The Meterpreter payload's TLS
 * flows (keys and process facts from `ground_truth_tls_flow_to_process.json`)
 * must score with unexpected_tls_library, user_writable_image_path and
 * tls_nonstandard_port evidence; the benign processes of the same host that
 * loaded a TLS provider or an HTTP stack (Sysmon EID 1 + 7 in
 * `sysmon_eid1_3_7_22_subset.jsonl.gz`) must not alert.
 *
 * The capture holds no TLS flow of those benign processes (they spoke DNS,
 * LDAP, Kerberos and plain HTTP), so each gets a synthetic TLS flow to 443
 * with SNI and a valid chain, one second after its last TLS/HTTP library load;
 * their real Zeek-joined flows go in too, as non-TLS inputs. The endpoint
 * facts are mapped into the endpoint API's `AttributionResult` shape here,
 * the way the Sysmon backend will: EID 1 UtcTime as the process start, EID 7
 * loads classified by `tls_module_watchlist.json`.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Detector } from '../../src/detect/detector.js';
import type { DetectionInput } from '../../src/detect/types.js';
import { communityIdV1 } from '../../src/flow/index.js';
import type { EndpointProcess, TlsLibraryLoad } from '../../src/shared/endpoint-api.js';
import { newSessionFacts } from '../../src/tls/facts.js';
import { readZeekJoined } from '../agent/helpers.js';
import { config, memoryStore, verdict } from './helpers.js';

const ENDPOINT = join(import.meta.dirname, '..', '..', '..', 'shared', 'endpoint');
const CAMPAIGN = join(ENDPOINT, 'otrf_lsass_campaign_05');
const SKIP = existsSync(join(CAMPAIGN, 'ground_truth_tls_flow_to_process.json'))
  ? false
  : `needs ../shared/endpoint/otrf_lsass_campaign_05 (OTRF Security-Datasets), absent at ${CAMPAIGN}`;

/** Sysmon `2023-09-06 04:53:25.966` (UTC) → RFC 3339. */
const rfc3339 = (t: string) => `${t.replace(' ', 'T')}Z`;
const micros = (t: string) => Date.parse(rfc3339(t)) * 1000;
const base = (p: string) => p.split('\\').pop()!.toLowerCase();

function watchlistCategories(): Map<string, string> {
  const w = JSON.parse(readFileSync(join(ENDPOINT, 'tls_module_watchlist.json'), 'utf8')).windows;
  const m = new Map<string, string>();
  const add = (list: ({ name: string } | string)[], cat: string) => {
    for (const e of list) for (const n of (typeof e === 'string' ? e : e.name).split(' / ')) m.set(n.toLowerCase(), cat);
  };
  add(w.tls_provider_high_specificity, 'tls_stack');
  add(w.sspi_and_crypto_medium, 'crypto');
  add(w.http_stack_low_specificity, 'http_stack');
  add(w.managed_runtime_tls, 'managed_tls');
  add(w.third_party_tls_libraries, 'tls_stack');
  add(w.sockets_dns_context_only, 'socket_context');
  return m;
}

function hashes(s: string | undefined): EndpointProcess['hash'] {
  if (!s) return null;
  const h: Record<string, string> = {};
  for (const kv of s.split(',')) {
    const [k, v] = kv.split('=');
    if (k && v) h[k.toLowerCase()] = v.toLowerCase();
  }
  return { sha256: h.sha256, sha1: h.sha1, md5: h.md5 };
}

interface Load {
  path: string;
  time: string;
}

function libraries(loads: Load[], flowStartMicros: number, cats: Map<string, string>): TlsLibraryLoad[] {
  return loads
    .filter((l) => cats.has(base(l.path)))
    .map((l) => ({ path: l.path, category: cats.get(base(l.path))!, load_time: rfc3339(l.time), loaded_before_flow: micros(l.time) <= flowStartMicros }));
}

function tlsFacts(version: string, cipher: string | null, sni: string | null) {
  const t = newSessionFacts();
  Object.assign(t, { detected: true, clientHelloCount: 1, serverHelloCount: 1, versionName: version, cipherName: cipher, sni });
  return t;
}

const HOST = { name: 'MKT01.pandalab.com', ip: '192.168.56.30' };
const ipv4 = (ip: string) => Uint8Array.from(ip.split('.').map(Number));

function detectionInput(o: {
  id: string;
  startMicros: number;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  proto?: number;
  tls: ReturnType<typeof tlsFacts> | null;
  verdict: ReturnType<typeof verdict> | null;
  process: EndpointProcess;
  payloadOut?: number;
  payloadIn?: number;
}): DetectionInput {
  const out = o.payloadOut ?? 0, inn = o.payloadIn ?? 0;
  return {
    flow: {
      id: o.id,
      communityId: communityIdV1(o.proto ?? 6, ipv4(HOST.ip), o.srcPort, ipv4(o.dstIp), o.dstPort),
      startMicros: o.startMicros,
      endMicros: o.startMicros,
      srcIp: HOST.ip,
      srcPort: o.srcPort,
      dstIp: o.dstIp,
      dstPort: o.dstPort,
      payloadOut: out,
      payloadIn: inn,
      pcr: out + inn ? (out - inn) / (out + inn) : 0,
    },
    tls: o.tls,
    verdict: o.verdict,
    enrichment: {
      status: 'enriched',
      result: { id: o.id, status: 'matched', method: 'exact_5tuple', confidence: 1, host: HOST, process: o.process, candidates: [], warnings: [] },
    },
  };
}

interface GroundTruth {
  network: { zeek_uid: string; ts: number; src_port: number; dst_ip: string; dst_port: number; tls_version: string; cipher: string; server_name: string | null };
  endpoint: {
    process_guid: string;
    pid: number;
    image: string;
    user: string;
    process_create: { UtcTime: string; CommandLine: string; ParentImage: string; ParentCommandLine: string; ParentProcessId: string; Hashes: string };
    tls_modules_loaded: { path: string; utc_time: string }[];
  };
}

function payloadInputs(cats: Map<string, string>): DetectionInput[] {
  const gt = JSON.parse(readFileSync(join(CAMPAIGN, 'ground_truth_tls_flow_to_process.json'), 'utf8')) as GroundTruth[];
  return gt.map(({ network: n, endpoint: e }) => {
    const start = Math.round(n.ts * 1e6);
    const pc = e.process_create;
    return detectionInput({
      id: n.zeek_uid,
      startMicros: start,
      srcPort: n.src_port,
      dstIp: n.dst_ip,
      dstPort: n.dst_port,
      tls: tlsFacts(n.tls_version, n.cipher, n.server_name),
      verdict: null, // not in the ground truth: the payload must score without the certificate
      process: {
        uid: e.process_guid,
        pid: e.pid,
        start_time: rfc3339(pc.UtcTime),
        executable: e.image,
        name: base(e.image),
        command_line: pc.CommandLine,
        user: e.user,
        parent: { pid: Number(pc.ParentProcessId), executable: pc.ParentImage, command_line: pc.ParentCommandLine },
        hash: hashes(pc.Hashes),
        code_signature: null,
        tls_libraries: libraries(e.tls_modules_loaded.map((m) => ({ path: m.path, time: m.utc_time })), start, cats),
        static_tls_stack: null,
        annotations: [],
      },
    });
  });
}

type SysmonEvent = Record<string, string | number>;

function sysmonEvents(): SysmonEvent[] {
  const text = gunzipSync(readFileSync(join(CAMPAIGN, 'sysmon_eid1_3_7_22_subset.jsonl.gz'))).toString('utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as SysmonEvent);
}

/**
 * Benign TLS-capable processes — those that loaded winhttp/wininet or a TLS
 * provider, as `process_lists.json` defines "observed as TLS-capable" — and
 * their Zeek-joined flows. (cscript.exe running gatherNetworkInfo.vbs loaded
 * only urlmon and made no connection; it is on the listed-unexpected list,
 * and TLS from it would rightly alert.)
 */
function benignInputs(cats: Map<string, string>, payloadGuids: Set<string>, dayShiftMicros = 0): { tlsInputs: DetectionInput[]; realInputs: DetectionInput[]; images: Set<string> } {
  const events = sysmonEvents();
  const creates = new Map<string, SysmonEvent>();
  const loads = new Map<string, Load[]>();
  for (const e of events) {
    const g = String(e.ProcessGuid);
    if (e.EventID === 1) creates.set(g, e);
    if (e.EventID === 7) {
      const l = loads.get(g) ?? [];
      l.push({ path: String(e.ImageLoaded), time: String(e.UtcTime) });
      loads.set(g, l);
    }
  }
  const procOf = (g: string, startMicros: number): EndpointProcess | null => {
    const c = creates.get(g);
    if (!c) return null;
    return {
      uid: g,
      pid: Number(c.ProcessId),
      start_time: rfc3339(String(c.UtcTime)),
      executable: String(c.Image),
      name: base(String(c.Image)),
      command_line: String(c.CommandLine),
      user: String(c.User),
      parent: { pid: Number(c.ParentProcessId), executable: String(c.ParentImage), command_line: String(c.ParentCommandLine) },
      hash: hashes(String(c.Hashes)),
      code_signature: null,
      tls_libraries: libraries(loads.get(g) ?? [], startMicros, cats),
      static_tls_stack: null,
      annotations: [],
    };
  };
  const tlsInputs: DetectionInput[] = [];
  const images = new Set<string>();
  let port = 60000;
  for (const [g, l] of loads) {
    if (payloadGuids.has(g) || !creates.has(g)) continue;
    const relevant = l.filter((x) => cats.get(base(x.path)) === 'tls_stack' || ['winhttp.dll', 'wininet.dll'].includes(base(x.path)));
    if (relevant.length === 0) continue;
    const start = Math.max(...relevant.map((x) => micros(x.time))) + 1_000_000 + dayShiftMicros;
    const p = procOf(g, start)!;
    images.add(p.executable!);
    tlsInputs.push(
      detectionInput({
        id: `benign-${g}`,
        startMicros: start,
        srcPort: port++,
        dstIp: '13.107.42.14',
        dstPort: 443,
        tls: tlsFacts('TLSv12', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'config.edge.skype.com'),
        verdict: verdict('ok'),
        process: p,
        payloadOut: 1_800,
        payloadIn: 24_000,
      }),
    );
  }
  // Real flows of benign processes, joined by Zeek to Sysmon EID 3: not TLS.
  const joined = readZeekJoined(CAMPAIGN);
  const realInputs: DetectionInput[] = [];
  for (const j of joined) {
    const m = j.matched[0];
    if (!m || payloadGuids.has(m.process_guid) || j.src_ip !== HOST.ip) continue;
    const start = Math.round(j.ts * 1e6) + dayShiftMicros;
    const p = procOf(m.process_guid, start);
    if (!p) continue;
    realInputs.push(detectionInput({ id: j.zeek_uid, startMicros: start, srcPort: j.src_port, dstIp: j.dst_ip, dstPort: j.dst_port, proto: j.proto === 'udp' ? 17 : 6, tls: null, verdict: null, process: p }));
  }
  return { tlsInputs, realInputs, images };
}

describe('Sysmon evidence: OTRF LSASS_campaign_05', { skip: SKIP }, () => {
  const cats = SKIP ? new Map<string, string>() : watchlistCategories();
  const payload = SKIP ? [] : payloadInputs(cats);
  const payloadGuids = new Set(payload.map((p) => p.enrichment.result!.process!.uid));

  function assertPayloadEvidence(d: Detector, inputs: DetectionInput[]) {
    for (const inp of inputs) {
      const s = d.score(inp);
      assert.ok(s, inp.flow.id);
      const byName = new Map(s.hits.map((h) => [h.name, h]));
      for (const r of ['unexpected_tls_library', 'user_writable_image_path', 'tls_nonstandard_port'] as const) assert.ok(byName.has(r), `${inp.flow.id}: ${r} in ${[...byName.keys()].join(', ')}`);
      assert.ok(s.score >= s.threshold, `${inp.flow.id} scores ${s.score}`);
      const lib = byName.get('unexpected_tls_library')!;
      const f = (lib.evidence.findings as { kind: string; library: string; library_after_start_seconds: number; flow_after_start_seconds: number }[])[0]!;
      assert.equal(f.kind, 'fresh_process');
      assert.equal(f.library, 'C:\\Windows\\System32\\schannel.dll');
      assert.ok(f.library_after_start_seconds < 1 && f.flow_after_start_seconds < 3, JSON.stringify(f));
      assert.equal(byName.get('user_writable_image_path')!.evidence.executable, 'C:\\Users\\stevie.marie\\Downloads\\winx64_payload.exe');
      assert.equal(byName.get('tls_nonstandard_port')!.evidence.port, 6666);
      assert.equal(byName.get('tls_nonstandard_port')!.evidence.usual_service, 'irc');
      assert.ok(byName.has('no_sni'));
      assert.equal(byName.get('new_tls_process')!.evidence.scope, 'all_hosts');
    }
  }

  it('with an empty baseline: the payload alerts with the expected evidence; benign TLS-capable processes do not', async () => {
    const { tlsInputs, realInputs, images } = benignInputs(cats, payloadGuids);
    assert.ok(tlsInputs.length >= 20, `benign TLS-capable processes: ${tlsInputs.length}`);
    for (const i of ['msedge.exe', 'wermgr.exe', 'wmiprvse.exe', 'onedrivestandaloneupdater.exe', 'dllhost.exe']) {
      assert.ok([...images].some((p) => base(p) === i), `${i} among the benign processes`);
    }
    // The analytic's "update agents" exception: OneDrive's per-user updater runs from AppData.
    // Sysmon EID 1 carries no signer, so the entry is by path.
    const cfg = config({
      allow: { processes: [{ executable: 'C:\\Users\\*\\AppData\\Local\\Microsoft\\OneDrive\\OneDriveStandaloneUpdater.exe', reason: 'OneDrive update agent' }] },
    });
    const d = new Detector(cfg, memoryStore(), { timers: false });
    const all = [...tlsInputs, ...realInputs, ...payload].sort((a, b) => a.flow.startMicros - b.flow.startMicros);
    assertPayloadEvidence(d, payload);
    // Score each flow as the detector meets it (before it counts in the baseline), then observe it.
    const results = all.map((i) => ({ i, scored: d.score(i)!, alert: d.observe(i) }));
    const alerts = results.filter((r) => r.alert !== null).map((r) => [r.i, r.alert] as const);
    assert.deepEqual(
      alerts.map(([i, a]) => [i.flow.id, a!.process!.executable, a!.destination.port]),
      [['C3e6Z62TPrVqwYFIUk', 'C:\\Users\\stevie.marie\\Downloads\\winx64_payload.exe', 6666]],
      'only the payload alerts (its second flow is deduplicated)',
    );
    const [alert] = alerts.map(([, a]) => a!);
    assert.equal(alert!.host.name, 'mkt01.pandalab.com');
    assert.equal(alert!.process!.hash?.sha256, '2c972afde00b33cbdaaf80c23743cdc46ea0a77dee2c22e3d108da30dca3a42a');
    assert.deepEqual(
      alert!.rules.map((r) => r.name),
      ['new_tls_process', 'user_writable_image_path', 'unexpected_tls_library', 'tls_nonstandard_port', 'no_sni'],
    );
    const [summary] = d.drainAlerts();
    assert.equal(summary?.count, 2);
    assert.deepEqual(summary?.flowIds, ['C3e6Z62TPrVqwYFIUk', 'Ci7ZSQ1t6RT7OLzlYd']);
    // The highest benign score, first seen on an empty baseline, stays under the threshold.
    const benign = results.filter((r) => !payloadGuids.has(r.i.enrichment.result!.process!.uid));
    const worst = benign.reduce((m, r) => (r.scored.score > m.scored.score ? r : m));
    assert.ok(worst.scored.score < cfg.threshold, `highest benign score ${worst.scored.score}`);
    assert.equal(worst.scored.score, 45, 'WmiPrvSE: new (30) + schannel right after start (15)');
    assert.equal(worst.i.enrichment.result!.process!.name, 'wmiprvse.exe');
    await d.close();
  });

  it('after learning the benign processes a day earlier: no allow-list needed, the payload still alerts', async () => {
    const day = 86_400_000_000;
    const earlier = benignInputs(cats, payloadGuids, -day);
    const store = memoryStore();
    const learner = new Detector(config(), store, { learn: true, timers: false });
    for (const i of [...earlier.tlsInputs, ...earlier.realInputs]) learner.observe(i);
    await learner.flush();
    const d = new Detector(config(), store, { timers: false });
    const { tlsInputs, realInputs } = benignInputs(cats, payloadGuids);
    for (const i of [...tlsInputs, ...realInputs]) assert.equal(d.observe(i), null, `${i.enrichment.result!.process!.executable} alerted`);
    assertPayloadEvidence(d, payload);
    assert.ok(d.observe(payload[0]!));
    await d.close();
  });
});
