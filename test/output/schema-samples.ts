/**
 * Events to hold to the published schemas and to ECS: the golden files (real
 * captures through the whole sensor) and events made with the builders for
 * what the golden files lack (process attribution, interim reports, a client
 * certificate, alerts, capture health).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCaptures, forEachPacket, PacketRecord } from '../../src/capture/index.js';
import { Decoder, DECODE_TCP, PacketView } from '../../src/decode/index.js';
import { FlowTable, flowId, type Flow } from '../../src/flow/index.js';
import { createTlsParserFactory, TlsParser } from '../../src/tls/index.js';
import { summarizeCertificate } from '../../src/x509/index.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { AttributionResult } from '../../src/shared/endpoint-api.js';
import type { Alert } from '../../src/detect/index.js';
import { THREAT } from '../../src/detect/types.js';
import {
  addEnrichment,
  buildAlertEvent,
  buildDropEvent,
  buildFlowEvent,
  buildInterimEvent,
  buildStatsEvent,
  buildX509Event,
  statsEventId,
} from '../../src/output/schema.js';
import { ECS_VERSION } from '../../src/output/writer.js';
import type { CaptureInfo, StatsSnapshot } from '../../src/capture/live-stats.js';

export type Ev = Record<string, any>;

export interface Sample {
  /** Where it comes from, for messages. */
  name: string;
  event: Ev;
}

/** As the writer writes it: `ecs` first. */
export function line(ev: object): Ev {
  return { ecs: { version: ECS_VERSION }, ...ev };
}

/** Every event of every pcaps/*.expected.ndjson. */
export function goldenSamples(dir = 'pcaps'): Sample[] {
  const out: Sample[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.expected.ndjson')).sort()) {
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .forEach((l, i) => {
        if (l !== '') out.push({ name: `${f}:${i + 1}`, event: JSON.parse(l) });
      });
  }
  return out;
}

/** Flows of a capture through the real stages, with their TLS parsers. */
export async function captureFlows(path: string): Promise<Flow[]> {
  const counters = new AnomalyCounters();
  const reader = await openCaptures([path], counters);
  const decoder = new Decoder(counters);
  const view = new PacketView();
  const pkt = new PacketRecord();
  const out: Flow[] = [];
  const table = new FlowTable(counters, (f) => out.push(f), { parserFactory: createTlsParserFactory(counters, {}) });
  await forEachPacket(reader, pkt, (p) => {
    if (decoder.decode(p, view) === DECODE_TCP) table.process(view);
  });
  reader.close();
  decoder.flushFragments();
  table.flush();
  return out;
}

export const PROCESS_ATTRIBUTION: AttributionResult = {
  id: 'q-1',
  status: 'matched',
  method: 'exact_5tuple',
  confidence: 0.97,
  host: { name: 'ws-17', ip: '10.1.2.3' },
  process: {
    uid: 'ws-17:4242:1717243200',
    pid: 4242,
    start_time: '2025-06-01T11:59:58.123Z',
    executable: '/usr/bin/curl',
    name: 'curl',
    command_line: 'curl https://rsa.tlsentry.test/',
    user: 'alice',
    parent: { pid: 4000, executable: '/bin/bash', command_line: 'bash' },
    hash: { sha256: 'a'.repeat(64), sha1: 'b'.repeat(40), md5: 'c'.repeat(32) },
    code_signature: { signed: true, subject: 'Example Corp' },
    tls_libraries: [{ path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', category: 'openssl', load_time: '2025-06-01T11:59:58.200Z', loaded_before_flow: true }],
    static_tls_stack: null,
    annotations: [{ kind: 'remote_thread', time: '2025-06-01T11:59:59Z', detail: {} }],
  },
  candidates: [],
  warnings: ['clock offset guessed'],
} as unknown as AttributionResult;

/** An alert with every optional part present (and its summary). */
export function sampleAlert(phase: 'first' | 'summary' = 'first'): Alert {
  return {
    id: 'a1b2c3d4e5f6',
    phase,
    score: 72.5,
    threshold: 50,
    rules: [
      { name: 'nonstandard_chain', weight: 40, summary: 'chain ends at an unknown CA', evidence: { validation_status: 'unable to get local issuer certificate', anchor: null } },
      { name: 'new_tls_process', weight: 32.5, summary: 'first TLS from this process', evidence: { flows_seen: 0 } },
    ],
    suppressed: [{ rule: 'no_sni', reason: 'lab' }],
    summary: 'score 72.5 ≥ 50: nonstandard_chain (40): chain ends at an unknown CA; new_tls_process (32.5): first TLS from this process',
    flowIds: ['ChjpcyxtVbI8'],
    communityId: '1:z+qYieWY/pqunxCWCc/q5jPYbIE=',
    host: { name: 'ws-17', ip: '10.1.2.3', sensor: null },
    process: {
      identity: 'ws-17|/usr/bin/curl',
      pid: 4242,
      entityId: 'ws-17:4242:1717243200',
      executable: '/usr/bin/curl',
      name: 'curl',
      startTime: '2025-06-01T11:59:58.123Z',
      commandLine: 'curl https://rsa.tlsentry.test/',
      user: 'alice',
      parent: { pid: 4000, executable: '/bin/bash', command_line: 'bash' },
      hash: { sha256: 'a'.repeat(64) },
      codeSignature: { signed: false, subject: null },
    },
    source: { ip: '10.1.2.3', port: 40112 },
    destination: { ip: '203.0.113.7', port: 443, sni: 'rsa.tlsentry.test' },
    tls: { version: '1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', ja4: 't12d1312h2_8b80da21ef18_b00751acaffa', ja3: '0'.repeat(32), established: true, validationStatus: 'unable to get local issuer certificate' },
    flow: { startMicros: 1748779200000000, endMicros: 1748779200496165, payloadOut: 431, payloadIn: 2218, pcr: -0.6746 },
    enrichment: { status: 'enriched', method: 'exact_5tuple', confidence: 0.97 },
    count: phase === 'summary' ? 3 : 1,
    firstSeen: 1748779200000000,
    lastSeen: 1748779260000000,
    dedupWindowSeconds: 3600,
    threat: THREAT,
  } as unknown as Alert;
}

export const CAPTURE_INFO: CaptureInfo = { iface: 'eth1', filter: 'tcp', snaplen: 262144, linkType: 1, bufferBytes: 64 << 20, promisc: true };

function snapshot(atMs: number, received: number, droppedKernel: number, packets: number, enrichment: Record<string, number> | null): StatsSnapshot {
  return {
    atMs,
    capture: { received, droppedKernel, droppedInterface: 0 },
    sensor: {
      packets,
      bytes: packets * 900,
      tcpPackets: packets,
      truncated: 0,
      flowsActive: 3,
      flowsCreated: 10,
      flowsEnded: 7,
      maxActive: 5,
      endReasons: { fin: 6, rst: 1 },
      tlsFlows: 8,
      certificates: 4,
      alerts: 1,
      enrichment,
      eventsWritten: 20,
      interimEvents: 2,
    },
    sinks: {
      file: { queued: 20, spooled: 0, delivered: 20, retried: 0, rejected: 0, dropped: 0, pending: 0 },
      splunk_hec: { queued: 20, spooled: 6, delivered: 17, retried: 6, rejected: 1, dropped: 0, pending: 2 },
      'elasticsearch-ocsf': { queued: 8, spooled: 0, delivered: 8, retried: 0, rejected: 0, dropped: 0, pending: 0, skipped: 12 },
    },
  };
}

/** Events made with the builders: what the golden files do not show. */
export async function builtSamples(): Promise<Sample[]> {
  const out: Sample[] = [];
  const flows = await captureFlows('pcaps/tls12-openssl.pcap');
  const f = flows.find((x) => x.parser instanceof TlsParser && x.parser.facts.server.certificates.length > 0);
  if (f === undefined) throw new Error('pcaps/tls12-openssl.pcap: no flow with certificates');
  const tls = (f.parser as TlsParser).facts;
  const leaf = summarizeCertificate(tls.server.certificates[0]);
  const attributed = buildFlowEvent(f, { tls, leaf });
  addEnrichment(attributed, 'enriched', PROCESS_ATTRIBUTION);
  out.push({ name: 'flow with process', event: line(attributed) });
  const unattributed = buildFlowEvent(f, { tls });
  addEnrichment(unattributed, 'not_found', { ...PROCESS_ATTRIBUTION, status: 'not_found', method: null, confidence: 0, process: null, host: null, warnings: [] });
  out.push({ name: 'flow, process not found', event: line(unattributed) });
  out.push({ name: 'interim', event: line(buildInterimEvent(f, { tls, leaf }, f.lastTs + 1000, 1)) });
  out.push({ name: 'interim 2', event: line(buildInterimEvent(f, { tls }, f.lastTs + 2000, 2)) });
  out.push({ name: 'x509 client certificate', event: line(buildX509Event(leaf, f.firstTs, flowId(f), 'client')) });
  out.push({ name: 'x509 server certificate', event: line(buildX509Event(leaf, f.firstTs, flowId(f), 'server')) });
  out.push({ name: 'alert', event: line(buildAlertEvent(sampleAlert('first'))) });
  out.push({ name: 'alert summary', event: line(buildAlertEvent(sampleAlert('summary'))) });
  const bare = sampleAlert('first') as unknown as Ev;
  bare.process = null;
  bare.tls = null;
  bare.host = { name: null, ip: null, sensor: null };
  bare.destination = { ...bare.destination, sni: null };
  out.push({ name: 'alert without process or TLS', event: line(buildAlertEvent(bare as unknown as Alert)) });
  const t0 = 1748779200000;
  const s0 = snapshot(t0, 0, 0, 0, null);
  const s1 = snapshot(t0 + 60_000, 5000, 12, 4988, { enriched: 7, not_found: 1 });
  out.push({ name: 'stats', event: line(buildStatsEvent(CAPTURE_INFO, t0, s0, s1, { 'tcp.bad_checksum': 2 }, false, statsEventId('run1', 2))) });
  out.push({ name: 'final stats', event: line(buildStatsEvent(CAPTURE_INFO, t0, s1, snapshot(t0 + 61_500, 5100, 12, 5088, null), {}, true, statsEventId('run1', 4))) });
  const totals = { received: 5000, droppedKernel: 12, droppedInterface: 0 };
  out.push({
    name: 'drops started',
    event: line(buildDropEvent(CAPTURE_INFO, { kind: 'started', droppedKernel: 12, droppedInterface: 0, received: 800, windowMs: 1000 }, totals, t0 + 30_000, statsEventId('run1', 1))),
  });
  out.push({
    name: 'drops stopped',
    event: line(buildDropEvent(CAPTURE_INFO, { kind: 'stopped', droppedKernel: 12, droppedInterface: 0, durationMs: 2000 }, totals, t0 + 90_000, statsEventId('run1', 3))),
  });
  return out;
}
