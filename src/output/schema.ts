/**
 * The event schema: everything a SIEM sees, in one module.
 *
 * ECS field names where ECS has them (https://www.elastic.co/guide/en/ecs/current/),
 * everything else under `tlsentry.*`. Each stage produces plain facts; the
 * builders here turn them into events, so a field is named in exactly one place.
 */
import { addressText, flowCommunityId, flowId, type Flow } from '../flow/index.js';
import { cipherSuiteName, ecsVersion, type TlsSessionFacts, type TlsSideFacts } from '../tls/index.js';
import type { CertificateSummary, ChainVerdict } from '../x509/index.js';
import type { Alert } from '../detect/index.js';
import type { AttributionResult, EndpointProcess, EnrichmentStatus } from '../shared/endpoint-api.js';

export const SCHEMA_VERSION = '1';

export interface EcsEndpoint {
  ip: string;
  port: number;
  /** IP bytes sent by this side (headers included, as ECS defines). */
  bytes: number;
  packets: number;
}

export interface FlowFields {
  id: string;
  /** TCP payload bytes the client sent, from sequence numbers (a retransmitted byte counts once). */
  source_payload_bytes: number;
  destination_payload_bytes: number;
  /** Bytes inside the streams that the capture never saw (both directions). */
  missed_bytes: number;
  /** Zeek conn.log history letters: upper case for the client. */
  history: string;
  /** Producer-consumer ratio of payload bytes, -1 (download) … +1 (upload). */
  pcr: number;
  /** Seconds from first to last packet. */
  duration: number;
  end_reason: string;
  /** How the client side was decided: syn, syn_ack, tls_client_hello, tls_server_hello, port. */
  client_by: string;
  source_retransmits: number;
  destination_retransmits: number;
}

export interface FlowEvent {
  '@timestamp': string;
  event: {
    kind: 'event';
    category: ['network'];
    type: ['connection', 'end'];
    dataset: 'tlsentry.flow';
    module: 'tlsentry';
    /** The flow id (`tlsentry.flow.id`): the same on every copy of this event, so a SIEM drops duplicates by it. */
    id: string;
    start: string;
    end: string;
    /** Nanoseconds (ECS). */
    duration: number;
  };
  source: EcsEndpoint;
  destination: EcsEndpoint;
  network: {
    transport: 'tcp';
    type: 'ipv4' | 'ipv6';
    iana_number: '6';
    community_id: string;
    bytes: number;
    packets: number;
    vlan?: { id: string };
  };
  tls?: EcsTls;
  process?: EcsProcess;
  tlsentry: {
    schema_version: string;
    flow: FlowFields;
    tls?: TlsFields;
    x509?: X509VerdictFields;
    process?: ProcessFields;
    enrichment?: { status: EnrichmentStatus };
  };
}

/** ECS `tls.*` (https://www.elastic.co/guide/en/ecs/current/ecs-tls.html). */
export interface EcsTls {
  version?: string;
  version_protocol?: string;
  cipher?: string;
  established: boolean;
  resumed: boolean;
  next_protocol?: string;
  client: { server_name?: string; ja3?: string; supported_ciphers?: string[] };
  server: {
    ja3s?: string;
    hash?: { sha1: string; sha256: string };
    subject?: string;
    issuer?: string;
    not_before?: string;
    not_after?: string;
  };
}

export interface TlsRecordCounts {
  handshake: number;
  change_cipher_spec: number;
  alert: number;
  application_data: number;
  encrypted_handshake: number;
  heartbeat: number;
}

/** What ECS has no field for, under `tlsentry.tls`. */
export interface TlsFields {
  /** Zeek's version name (`TLSv13`). */
  version_name?: string;
  ja3_string?: string;
  ja3s_string?: string;
  ja4?: string;
  ja4_r?: string;
  ja4_ro?: string;
  /** FoxIO License 1.1: only with --ja4s-foxio-license. */
  ja4s?: string;
  /** ALPN values the client offered, in order. */
  alpn: string[];
  /** The ClientHello carried encrypted_client_hello: the real server name is hidden. */
  ech: boolean;
  /** Plaintext before TLS: `http_connect`, `socks5`, `smtp_starttls`, … */
  prefix?: string;
  /** TLS started in the responder's direction or mid-stream. */
  midstream: boolean;
  hello_retry_request: boolean;
  /** Zeek ssl_history letters (client upper case). */
  history: string;
  last_alert?: string;
  client_records: TlsRecordCounts;
  server_records: TlsRecordCounts;
  /** Ciphertext bytes of application-data records: asymmetry without handshake bytes. */
  client_app_bytes: number;
  server_app_bytes: number;
  /** PCR of application-data bytes. */
  app_pcr: number;
  anomalies: string[];
}

/** The chain verdict, on the flow event. */
export interface X509VerdictFields {
  /** Zeek-compatible (OpenSSL) status, or `certificate not visible` under TLS 1.3. */
  validation_status: string;
  anomalies: string[];
  /** The presented server chain, leaf first. */
  chain_sha1: string[];
  client_chain_sha1?: string[];
  anchor?: { kind: string; subject: string; sha256: string };
  completed_from_cache: boolean;
  sni_matches_cert?: boolean;
}

/** One event per distinct certificate (`tlsentry.x509`), ECS `x509.*`. */
export interface X509Event {
  '@timestamp': string;
  /** `id`: the presenting flow's id and the certificate's SHA-1 (one event per certificate and flow that first showed it). */
  event: { kind: 'event'; category: ['network']; type: ['info']; dataset: 'tlsentry.x509'; module: 'tlsentry'; id: string };
  x509: {
    version_number?: string;
    serial_number: string;
    subject: { distinguished_name: string; common_name: string[] };
    issuer: { distinguished_name: string };
    not_before?: string;
    not_after?: string;
    public_key_algorithm: string;
    public_key_size?: number;
    public_key_curve?: string;
    signature_algorithm: string;
    alternative_names: string[];
  };
  tlsentry: {
    schema_version: string;
    x509: {
      sha1: string;
      sha256: string;
      /** The flow that first presented it. */
      first_seen_flow: string;
      der_length: number;
      parse_ok: boolean;
      basic_constraints?: { ca: boolean; path_len: number | null };
      key_usage?: string[];
      extended_key_usage?: string[];
      self_issued: boolean;
      unknown_critical_extensions: string[];
      anomalies: string[];
    };
  };
}

/** Microseconds since the epoch as ISO 8601 with six fractional digits (`2024-01-02T03:04:05.678901Z`). */
export function isoTime(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const us = Math.floor(micros - ms * 1000);
  const sec = Math.floor(ms / 1000);
  // Events come in time order: the date and time up to the second are formatted once per second.
  if (sec !== isoSecond) {
    if (!(ms >= 0 && ms < MAX_FOUR_DIGIT_YEAR_MS)) return isoTimeSlow(micros);
    isoSecondText = new Date(sec * 1000).toISOString().slice(0, 20); // 2024-01-02T03:04:05.
    isoSecond = sec;
  }
  const msPart = ms - sec * 1000;
  if (us >= 0 && us < 1000 && us === (us | 0)) return isoSecondText + PAD3[msPart] + PAD3[us] + 'Z';
  return isoSecondText + PAD3[msPart] + String(us).padStart(3, '0') + 'Z';
}

/** The definition `isoTime` is the fast form of (years outside 0000–9999 print differently). */
export function isoTimeSlow(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
  const us = Math.floor(micros - ms * 1000);
  return `${iso.slice(0, 23)}${String(us).padStart(3, '0')}Z`;
}

const MAX_FOUR_DIGIT_YEAR_MS = Date.UTC(10000, 0, 1);
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let isoSecond = NaN;
let isoSecondText = '';

/** What later stages found about a flow, added to its event. */
export interface FlowExtras {
  tls?: Readonly<TlsSessionFacts> | null;
  /** Server chain verdict (or `certificate not visible`). */
  verdict?: ChainVerdict | null;
  /** Summary of the server's leaf certificate. */
  leaf?: CertificateSummary | null;
  clientChainSha1?: string[];
}

/**
 * The flow event for a finished flow. The definition: flow-json.ts writes
 * the same event's JSON without building it (the writer's fast path), and
 * test/output/flow-json.test.ts checks the two agree byte for byte.
 */
export function buildFlowEvent(f: Flow, extras: FlowExtras = {}): FlowEvent {
  const cIp = addressText(f.ipVersion, f.c0, f.c1, f.c2, f.c3);
  const sIp = addressText(f.ipVersion, f.s0, f.s1, f.s2, f.s3);
  const community = flowCommunityId(f);
  const up = f.toServer, down = f.toClient;
  const durationMicros = f.lastTs - f.firstTs;
  const start = isoTime(f.firstTs);
  const id = flowId(f);
  const ev: FlowEvent = {
    '@timestamp': start,
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'end'],
      dataset: 'tlsentry.flow',
      module: 'tlsentry',
      id,
      start,
      end: isoTime(f.lastTs),
      duration: durationMicros * 1000,
    },
    source: { ip: cIp, port: f.cPort, bytes: up.ipBytes, packets: up.packets },
    destination: { ip: sIp, port: f.sPort, bytes: down.ipBytes, packets: down.packets },
    network: {
      transport: 'tcp',
      type: f.ipVersion === 6 ? 'ipv6' : 'ipv4',
      iana_number: '6',
      community_id: community,
      bytes: up.ipBytes + down.ipBytes,
      packets: up.packets + down.packets,
    },
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      flow: {
        id,
        source_payload_bytes: up.maxRel,
        destination_payload_bytes: down.maxRel,
        missed_bytes: up.missed + down.missed,
        history: f.history,
        pcr: f.pcr(),
        duration: durationMicros / 1e6,
        end_reason: f.endReason,
        client_by: f.clientBy,
        source_retransmits: up.retransmits,
        destination_retransmits: down.retransmits,
      },
    },
  };
  if (f.vlanId !== 0) ev.network.vlan = { id: String(f.vlanId) };
  const tls = extras.tls;
  if (tls && (tls.detected || tls.clientHello !== null)) addTls(ev, tls, extras);
  return ev;
}

function recordCounts(side: TlsSideFacts): TlsRecordCounts {
  return {
    handshake: side.handshakeRecords,
    change_cipher_spec: side.changeCipherSpecRecords,
    alert: side.alertRecords,
    application_data: side.applicationDataRecords,
    encrypted_handshake: side.encryptedHandshakeRecords,
    heartbeat: side.heartbeatRecords,
  };
}

function addTls(ev: FlowEvent, t: Readonly<TlsSessionFacts>, x: FlowExtras): void {
  const ecs: EcsTls = { established: t.established, resumed: t.resumed, client: {}, server: {} };
  if (t.version !== null) {
    const v = ecsVersion(t.version);
    if (v) {
      ecs.version = v.version;
      ecs.version_protocol = v.protocol;
    }
  }
  if (t.cipherName !== null) ecs.cipher = t.cipherName;
  if (t.alpnSelected !== null) ecs.next_protocol = t.alpnSelected;
  if (t.sni !== null) ecs.client.server_name = t.sni;
  if (t.ja3 !== null) ecs.client.ja3 = t.ja3;
  const ch = t.clientHello;
  if (ch !== null && ch.cipherSuites.length > 0) ecs.client.supported_ciphers = ch.cipherSuites.map((c) => cipherSuiteName(c) ?? `0x${c.toString(16).padStart(4, '0')}`);
  if (t.ja3s !== null) ecs.server.ja3s = t.ja3s;
  const leaf = x.leaf;
  if (leaf) {
    ecs.server.hash = { sha1: leaf.sha1.toUpperCase(), sha256: leaf.sha256.toUpperCase() };
    ecs.server.subject = leaf.subject;
    ecs.server.issuer = leaf.issuer;
    if (leaf.not_before !== null) ecs.server.not_before = leaf.not_before;
    if (leaf.not_after !== null) ecs.server.not_after = leaf.not_after;
  }
  ev.tls = ecs;
  const out = t.client.applicationDataBytes, inn = t.server.applicationDataBytes;
  const fields: TlsFields = {
    alpn: [...t.alpnOffered],
    ech: t.ech,
    midstream: t.midstream || t.clientDirection !== 0,
    hello_retry_request: t.helloRetryRequest,
    history: t.history,
    client_records: recordCounts(t.client),
    server_records: recordCounts(t.server),
    client_app_bytes: out,
    server_app_bytes: inn,
    app_pcr: out + inn === 0 ? 0 : Math.round(((out - inn) / (out + inn)) * 10000) / 10000,
    anomalies: [...t.anomalies],
  };
  if (t.versionName !== null) fields.version_name = t.versionName;
  if (t.ja3String !== null) fields.ja3_string = t.ja3String;
  if (t.ja3sString !== null) fields.ja3s_string = t.ja3sString;
  if (t.ja4 !== null) fields.ja4 = t.ja4;
  if (t.ja4_r !== null) fields.ja4_r = t.ja4_r;
  if (t.ja4_ro !== null) fields.ja4_ro = t.ja4_ro;
  if (t.ja4s !== null) fields.ja4s = t.ja4s;
  if (t.prefix !== null) fields.prefix = t.prefix;
  if (t.lastAlert !== null) fields.last_alert = t.lastAlert.name;
  ev.tlsentry.tls = fields;
  const v = x.verdict;
  if (v) {
    const xf: X509VerdictFields = {
      validation_status: v.validation_status,
      anomalies: [...v.anomalies],
      chain_sha1: [...v.chain_sha1],
      completed_from_cache: v.completed_from_cache,
    };
    if (v.anchor) xf.anchor = { kind: v.anchor.kind, subject: v.anchor.subject, sha256: v.anchor.sha256 };
    if (v.sni_matches_cert !== null) xf.sni_matches_cert = v.sni_matches_cert;
    if (x.clientChainSha1 && x.clientChainSha1.length > 0) xf.client_chain_sha1 = x.clientChainSha1;
    ev.tlsentry.x509 = xf;
  }
}

/** The `tlsentry.x509` event for a certificate seen for the first time. */
export function buildX509Event(c: CertificateSummary, seenMicros: number, flowIdText: string): X509Event {
  const alt = [...c.san.dns, ...c.san.ip, ...c.san.email, ...c.san.uri];
  const ev: X509Event = {
    '@timestamp': isoTime(seenMicros),
    event: { kind: 'event', category: ['network'], type: ['info'], dataset: 'tlsentry.x509', module: 'tlsentry', id: `${flowIdText}-${c.sha1}` },
    x509: {
      serial_number: c.serial,
      subject: { distinguished_name: c.subject, common_name: [...c.common_names] },
      issuer: { distinguished_name: c.issuer },
      public_key_algorithm: c.public_key.type,
      signature_algorithm: c.signature_algorithm.name,
      alternative_names: alt,
    },
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      x509: {
        sha1: c.sha1,
        sha256: c.sha256,
        first_seen_flow: flowIdText,
        der_length: c.der_length,
        parse_ok: c.parse_ok,
        self_issued: c.self_issued,
        unknown_critical_extensions: [...c.unknown_critical_extensions],
        anomalies: [...c.anomalies],
      },
    },
  };
  if (c.version !== null) ev.x509.version_number = String(c.version);
  if (c.not_before !== null) ev.x509.not_before = c.not_before;
  if (c.not_after !== null) ev.x509.not_after = c.not_after;
  if (c.public_key.bits !== null) ev.x509.public_key_size = c.public_key.bits;
  if (c.public_key.curve !== null) ev.x509.public_key_curve = c.public_key.curve;
  const t = ev.tlsentry.x509;
  if (c.basic_constraints !== null) t.basic_constraints = { ...c.basic_constraints };
  if (c.key_usage !== null) t.key_usage = [...c.key_usage];
  if (c.extended_key_usage !== null) t.extended_key_usage = [...c.extended_key_usage];
  return ev;
}

// --- process enrichment (issue 5) -------------------------------------------

/** ECS `process.*` from the endpoint API's answer. */
export interface EcsProcess {
  pid: number;
  entity_id: string;
  executable?: string;
  name?: string;
  command_line?: string;
  start?: string;
  parent?: { pid: number; executable?: string; command_line?: string };
  hash?: { sha256?: string; sha1?: string; md5?: string };
  code_signature?: { exists: boolean; subject_name?: string };
  user?: { name: string };
}

export interface ProcessFields {
  tls_libraries: { path: string; category: string; load_time: string | null; loaded_before_flow: boolean | null }[];
  static_tls_stack: string | null;
  attribution: { status: string; method: string | null; confidence: number; host?: { name: string | null; ip: string }; warnings?: string[] };
  annotations?: { kind: string; time: string }[];
}

export function ecsProcess(p: EndpointProcess): EcsProcess {
  const out: EcsProcess = { pid: p.pid, entity_id: p.uid };
  if (p.executable !== null) out.executable = p.executable;
  if (p.name !== null) out.name = p.name;
  if (p.command_line !== null) out.command_line = p.command_line;
  if (p.start_time !== null) out.start = p.start_time;
  if (p.parent !== null) {
    out.parent = { pid: p.parent.pid };
    if (p.parent.executable !== null) out.parent.executable = p.parent.executable;
    if (p.parent.command_line !== null) out.parent.command_line = p.parent.command_line;
  }
  if (p.hash !== null) out.hash = { ...p.hash };
  if (p.code_signature !== null) {
    out.code_signature = { exists: p.code_signature.signed };
    if (p.code_signature.subject !== null) out.code_signature.subject_name = p.code_signature.subject;
  }
  if (p.user !== null) out.user = { name: p.user };
  return out;
}

/** Adds `process.*`, `tlsentry.process.*` and `tlsentry.enrichment.status` to a flow event. */
export function addEnrichment(ev: FlowEvent, status: EnrichmentStatus, r: AttributionResult | null): void {
  ev.tlsentry.enrichment = { status };
  if (r === null) return;
  const attribution: ProcessFields['attribution'] = { status: r.status, method: r.method, confidence: r.confidence };
  if (r.host !== null) attribution.host = r.host;
  if (r.warnings.length > 0) attribution.warnings = [...r.warnings];
  const p = r.process;
  if (p === null) {
    ev.tlsentry.process = { tls_libraries: [], static_tls_stack: null, attribution };
    return;
  }
  ev.process = ecsProcess(p);
  ev.tlsentry.process = {
    tls_libraries: p.tls_libraries.map((l) => ({ path: l.path, category: l.category, load_time: l.load_time, loaded_before_flow: l.loaded_before_flow })),
    static_tls_stack: p.static_tls_stack,
    attribution,
  };
  if (p.annotations.length > 0) ev.tlsentry.process.annotations = p.annotations.map((a) => ({ kind: a.kind, time: a.time }));
}

// --- alerts (issue 6) ---------------------------------------------------------

/** `tlsentry.alert`: an AN0759 detection, with every rule that fired and its evidence. */
export interface AlertEvent {
  '@timestamp': string;
  event: {
    kind: 'alert';
    category: ['network', 'intrusion_detection'];
    type: ['info'];
    dataset: 'tlsentry.alert';
    module: 'tlsentry';
    /** Unique per event: the alert id, with `-summary` on a dedup window's summary. */
    id: string;
    severity: number;
    risk_score: number;
    start: string;
    end: string;
  };
  message: string;
  rule: { name: string[] };
  threat: {
    framework: string;
    tactic: { id: string[]; name: string[]; reference: string[] };
    technique: { id: string[]; name: string[]; reference: string[] };
  };
  source: { ip: string; port: number };
  destination: { ip: string; port: number; domain?: string };
  network: { transport: 'tcp'; community_id: string };
  host: { name?: string; ip?: string[] };
  process?: EcsProcess;
  tls?: { version?: string; cipher?: string; established: boolean; client: { server_name?: string; ja3?: string } };
  tlsentry: {
    schema_version: string;
    alert: {
      /** Shared by an alert and its dedup summary, so the two can be joined. */
      id: string;
      analytic: string;
      strategy: string;
      phase: 'first' | 'summary';
      score: number;
      threshold: number;
      rules: string[];
      evidence: { rule: string; weight: number; summary: string; evidence: unknown }[];
      suppressed: { rule: string; reason: string }[];
      flow_ids: string[];
      count: number;
      dedup_window_seconds: number;
      process_identity?: string;
      ja4?: string;
      validation_status?: string;
      payload_bytes_out: number;
      payload_bytes_in: number;
      pcr: number;
      enrichment: { status: string; method: string | null; confidence: number | null };
    };
  };
}

export function buildAlertEvent(a: Alert): AlertEvent {
  const t = a.threat;
  const ev: AlertEvent = {
    '@timestamp': isoTime(a.lastSeen),
    event: {
      kind: 'alert',
      category: ['network', 'intrusion_detection'],
      type: ['info'],
      dataset: 'tlsentry.alert',
      module: 'tlsentry',
      id: a.phase === 'summary' ? `${a.id}-summary` : a.id,
      severity: Math.min(100, a.score),
      risk_score: Math.min(100, a.score),
      start: isoTime(a.firstSeen),
      end: isoTime(a.lastSeen),
    },
    message: a.summary,
    rule: { name: a.rules.map((r) => r.name) },
    threat: {
      framework: t.framework,
      tactic: { id: [t.tactic.id], name: [t.tactic.name], reference: [t.tactic.reference] },
      technique: { id: [t.technique.id], name: [t.technique.name], reference: [t.technique.reference] },
    },
    source: { ...a.source },
    destination: { ip: a.destination.ip, port: a.destination.port },
    network: { transport: 'tcp', community_id: a.communityId },
    host: {},
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      alert: {
        id: a.id,
        analytic: t.analytic.id,
        strategy: t.analytic.strategy,
        phase: a.phase,
        score: a.score,
        threshold: a.threshold,
        rules: a.rules.map((r) => r.name),
        evidence: a.rules.map((r) => ({ rule: r.name, weight: r.weight, summary: r.summary, evidence: r.evidence })),
        suppressed: a.suppressed.map((s) => ({ rule: s.rule, reason: s.reason })),
        flow_ids: [...a.flowIds],
        count: a.count,
        dedup_window_seconds: a.dedupWindowSeconds,
        payload_bytes_out: a.flow.payloadOut,
        payload_bytes_in: a.flow.payloadIn,
        pcr: a.flow.pcr,
        enrichment: { ...a.enrichment },
      },
    },
  };
  if (a.destination.sni !== null) ev.destination.domain = a.destination.sni;
  if (a.host.name !== null) ev.host.name = a.host.name;
  if (a.host.ip !== null) ev.host.ip = [a.host.ip];
  const p = a.process;
  if (p !== null) {
    ev.process = { pid: p.pid, entity_id: p.entityId };
    if (p.executable !== null) ev.process.executable = p.executable;
    if (p.name !== null) ev.process.name = p.name;
    if (p.commandLine !== null) ev.process.command_line = p.commandLine;
    if (p.startTime !== null) ev.process.start = p.startTime;
    if (p.parent !== null) {
      ev.process.parent = { pid: p.parent.pid };
      if (p.parent.executable !== null) ev.process.parent.executable = p.parent.executable;
      if (p.parent.command_line !== null) ev.process.parent.command_line = p.parent.command_line;
    }
    if (p.hash !== null) ev.process.hash = { ...p.hash };
    if (p.codeSignature !== null) {
      ev.process.code_signature = { exists: p.codeSignature.signed };
      if (p.codeSignature.subject !== null) ev.process.code_signature.subject_name = p.codeSignature.subject;
    }
    if (p.user !== null) ev.process.user = { name: p.user };
    ev.tlsentry.alert.process_identity = p.identity;
  }
  if (a.tls !== null) {
    ev.tls = { established: a.tls.established, client: {} };
    if (a.tls.version !== null) ev.tls.version = a.tls.version;
    if (a.tls.cipher !== null) ev.tls.cipher = a.tls.cipher;
    if (a.destination.sni !== null) ev.tls.client.server_name = a.destination.sni;
    if (a.tls.ja3 !== null) ev.tls.client.ja3 = a.tls.ja3;
    if (a.tls.ja4 !== null) ev.tlsentry.alert.ja4 = a.tls.ja4;
    if (a.tls.validationStatus !== null) ev.tlsentry.alert.validation_status = a.tls.validationStatus;
  }
  return ev;
}
