/**
 * Hand-built detection inputs: a TLS session, a verdict, an attributed
 * process, and the flow around them, each with overridable fields.
 */
import type { AttributionResult, EndpointProcess, TlsLibraryLoad } from '../../src/shared/endpoint-api.js';
import { newSessionFacts, type TlsSessionFacts } from '../../src/tls/facts.js';
import type { ChainVerdict } from '../../src/x509/types.js';
import { BaselineCache } from '../../src/detect/baseline.js';
import { SqliteBaselineStore } from '../../src/detect/baseline-sqlite.js';
import { parseDetectConfig, type DetectConfig } from '../../src/detect/config.js';
import { loadProcessLists } from '../../src/detect/process-lists.js';
import type { RuleContext } from '../../src/detect/rules/context.js';
import { buildFlowView } from '../../src/detect/view.js';
import type { DetectionInput } from '../../src/detect/types.js';

export const T0 = Date.parse('2024-05-01T10:00:00Z') * 1000;
export const S = 1_000_000;

export function tls(over: Partial<TlsSessionFacts> = {}): TlsSessionFacts {
  const t = newSessionFacts();
  Object.assign(t, {
    detected: true,
    clientHelloCount: 1,
    serverHelloCount: 1,
    version: 0x0304,
    versionName: 'TLSv13',
    cipherName: 'TLS_AES_128_GCM_SHA256',
    sni: 'www.example.com',
    alpnOffered: ['h2', 'http/1.1'],
    ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
    established: true,
  });
  t.client.applicationDataBytes = 2_000;
  t.client.applicationDataRecords = 3;
  t.server.applicationDataBytes = 40_000;
  t.server.applicationDataRecords = 12;
  return Object.assign(t, over);
}

export function verdict(status: ChainVerdict['validation_status'] = 'ok', over: Partial<ChainVerdict> = {}): ChainVerdict {
  return {
    validation_status: status,
    status_code: status === 'ok' ? 0 : 18,
    error_depth: status === 'ok' ? null : 0,
    anomalies: status === 'self signed certificate' ? ['self_signed'] : [],
    anchor: status === 'ok' ? { kind: 'public', subject: 'CN=ISRG Root X1,O=Internet Security Research Group,C=US', sha256: 'a'.repeat(64) } : null,
    chain_sha1: ['b'.repeat(40)],
    chain_sha256: ['c'.repeat(64)],
    path_sha256: ['c'.repeat(64)],
    completed_from_cache: false,
    sni_matches_cert: true,
    path_validation: null,
    certificate_anomalies: [],
    ...over,
  };
}

export function lib(path: string, loadTime: string | null, loadedBeforeFlow: boolean | null = true, category = 'tls_stack'): TlsLibraryLoad {
  return { path, category, load_time: loadTime, loaded_before_flow: loadedBeforeFlow };
}

export function proc(over: Partial<EndpointProcess> = {}): EndpointProcess {
  return {
    uid: 'host:1234:1714550000',
    pid: 1234,
    start_time: '2024-05-01T09:00:00Z',
    executable: '/usr/bin/curl',
    name: 'curl',
    command_line: 'curl https://www.example.com/',
    user: 'alice',
    parent: { pid: 1, executable: '/usr/bin/bash', command_line: 'bash' },
    hash: { sha256: 'd'.repeat(64) },
    code_signature: null,
    tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', '2024-05-01T09:00:00.010Z')],
    static_tls_stack: null,
    annotations: [],
    ...over,
  };
}

export interface InputOptions {
  id?: string;
  start?: number;
  durationUs?: number;
  srcIp?: string;
  srcPort?: number;
  dstIp?: string;
  dstPort?: number;
  payloadOut?: number;
  payloadIn?: number;
  tls?: TlsSessionFacts | null;
  verdict?: ChainVerdict | null;
  process?: EndpointProcess | null;
  host?: { name: string | null; ip: string } | null;
  status?: DetectionInput['enrichment']['status'];
  sensorHost?: string;
}

let seq = 0;
export function input(o: InputOptions = {}): DetectionInput {
  const start = o.start ?? T0;
  const out = o.payloadOut ?? 2_500;
  const inn = o.payloadIn ?? 41_000;
  const p = o.process === undefined ? proc() : o.process;
  const result: AttributionResult | null =
    p === null && o.status === undefined
      ? null
      : {
          id: o.id ?? `f${seq}`,
          status: p ? 'matched' : 'not_found',
          method: p ? 'exact_5tuple' : null,
          confidence: p ? 1 : 0,
          host: o.host === undefined ? { name: 'ws1.example.net', ip: o.srcIp ?? '10.1.2.3' } : o.host,
          process: p,
          candidates: [],
          warnings: [],
        };
  return {
    sensorHost: o.sensorHost,
    flow: {
      id: o.id ?? `flow-${++seq}`,
      communityId: '1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      startMicros: start,
      endMicros: start + (o.durationUs ?? 2 * S),
      srcIp: o.srcIp ?? '10.1.2.3',
      srcPort: o.srcPort ?? 50000 + (seq % 10000),
      dstIp: o.dstIp ?? '93.184.215.14',
      dstPort: o.dstPort ?? 443,
      payloadOut: out,
      payloadIn: inn,
      pcr: out + inn > 0 ? (out - inn) / (out + inn) : 0,
    },
    tls: o.tls === undefined ? tls() : o.tls,
    verdict: o.verdict === undefined ? verdict() : o.verdict,
    enrichment: { status: o.status ?? (p ? 'enriched' : 'not_found'), result },
  };
}

export function config(detect: object = {}): DetectConfig {
  return parseDetectConfig(detect);
}

export const lists = loadProcessLists();

/** A rule context over a cache (empty by default), as the detector builds it. */
export function context(inp: DetectionInput, cfg: DetectConfig = config(), cache = new BaselineCache(256)): RuleContext {
  const view = buildFlowView(inp, cfg);
  if (view === 'inbound') throw new Error('inbound flow');
  const history = view.identity ? cache.history(view.host, view.identity, view.destination, view.sni) : null;
  return { input: inp, view, history, config: cfg, lists };
}

/** An in-memory SQLite store (synchronous, like a file). */
export function memoryStore(maxDistinct = 256): SqliteBaselineStore {
  return new SqliteBaselineStore(':memory:', { maxDistinct });
}
