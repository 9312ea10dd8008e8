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
import type { CaptureCounters } from '../capture/live.js';
import type { CaptureInfo, DropChange, StatsSnapshot } from '../capture/live-stats.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/*
 * The interfaces below are also the published JSON Schemas: `npm run schemas`
 * (scripts/gen-schemas.ts) turns them into schemas/*.schema.json, JSDoc
 * comments becoming descriptions. So: literal types where a field has a fixed
 * value, `Integer`/`Port`/`IsoTimestamp` rather than number/string where that
 * is what is written, and doc comments on their own lines (the generator
 * drops some one-line ones).
 */

/** `tlsentry.schema_version`: changes when a field is renamed or removed. */
export type SchemaVersion = '1';
export const SCHEMA_VERSION: SchemaVersion = '1';

export const ECS_VERSION = '8.11.0';
/** The ECS version the events follow (written first on every line by the writer). */
export type EcsVersion = typeof ECS_VERSION;

/** What the writer puts before each event's own fields. */
export interface EcsHeader {
  ecs: {
    version: EcsVersion;
  };
}

/** @asType integer */
export type Integer = number;

/**
 * @asType integer
 * @minimum 0
 * @maximum 65535
 */
export type Port = number;

/**
 * ISO 8601 / RFC 3339 time in UTC, e.g. `2024-01-02T03:04:05.678901Z`.
 * @format date-time
 */
export type IsoTimestamp = string;

export interface EcsEndpoint {
  ip: string;
  port: Port;
  /** IP bytes sent by this side (headers included, as ECS defines). */
  bytes: Integer;
  packets: Integer;
}

/** `tlsentry.flow` of the flow event and of interim events. */
export interface FlowFieldsCommon {
  /** The flow id: the same on the flow's interim, certificate and alert events. */
  id: string;
  /** TCP payload bytes the client sent, from sequence numbers (a retransmitted byte counts once). */
  source_payload_bytes: Integer;
  destination_payload_bytes: Integer;
  /** Bytes inside the streams that the capture never saw (both directions). */
  missed_bytes: Integer;
  /** Zeek conn.log history letters: upper case for the client. */
  history: string;
  /** Producer-consumer ratio of payload bytes, -1 (download) … +1 (upload). */
  pcr: number;
  /** Seconds from first to last packet. */
  duration: number;
  /** How the client side was decided: syn, syn_ack, tls_client_hello, tls_server_hello, port. */
  client_by: string;
  source_retransmits: Integer;
  destination_retransmits: Integer;
}

/** `tlsentry.flow` of the flow event (the flow has ended). */
export interface FlowFields extends FlowFieldsCommon {
  /** Why the flow ended: fin, rst, idle_timeout, interrupted, evicted, … */
  end_reason: string;
}

/** `tlsentry.flow` of an interim event (the flow is still open). */
export interface InterimFlowFields extends FlowFieldsCommon {
  interim: true;
  /** 1 for the first interim report of this flow, then 2, 3, … */
  interim_seq: Integer;
}

/**
 * The fields of a flow event and of an interim event (`tlsentry.flow`), which
 * differ only in `event.type` and `tlsentry.flow`.
 */
export interface FlowEventShape<Type extends readonly string[], Flow> {
  /** The flow's start (flow event) or the time of the report (interim event). */
  '@timestamp': IsoTimestamp;
  event: {
    kind: 'event';
    category: ['network'];
    /** `connection, end` for a finished flow; `connection, info` for a report on an open one. */
    type: Type;
    dataset: 'tlsentry.flow';
    module: 'tlsentry';
    /**
     * Unique per event and the same on every copy of it, so a SIEM drops duplicates by it:
     * the flow id (flow event), the flow id with `-i<seq>` (interim event).
     */
    id: string;
    start: IsoTimestamp;
    /** Last packet so far. */
    end: IsoTimestamp;
    /** Nanoseconds (ECS). */
    duration: Integer;
  };
  /** The client (the side that opened the connection). */
  source: EcsEndpoint;
  /** The server. */
  destination: EcsEndpoint;
  network: {
    transport: 'tcp';
    type: 'ipv4' | 'ipv6';
    iana_number: '6';
    /** Community ID flow hash v1 (https://github.com/corelight/community-id-spec). */
    community_id: string;
    bytes: Integer;
    packets: Integer;
    vlan?: {
      /** The outermost 802.1Q VLAN id. */
      id: string;
    };
  };
  tls?: EcsTls;
  process?: EcsProcess;
  tlsentry: {
    schema_version: SchemaVersion;
    flow: Flow;
    tls?: TlsFields;
    x509?: X509VerdictFields;
    process?: ProcessFields;
    enrichment?: {
      status: EnrichmentStatus;
    };
  };
}

/** `tlsentry.flow`: one event per TCP connection, when it ends. */
export type FlowEvent = FlowEventShape<['connection', 'end'], FlowFields>;

/** `tlsentry.flow` interim report on a flow still open (live capture); see interim.ts. */
export type InterimFlowEvent = FlowEventShape<['connection', 'info'], InterimFlowFields>;

/** ECS `tls.*` (https://www.elastic.co/guide/en/ecs/current/ecs-tls.html). */
export interface EcsTls {
  version?: string;
  version_protocol?: string;
  cipher?: string;
  established: boolean;
  resumed: boolean;
  next_protocol?: string;
  client: {
    /** SNI. */
    server_name?: string;
    ja3?: string;
    /** Cipher suites the client offered, by IANA name (`0x....` when unknown). */
    supported_ciphers?: string[];
  };
  server: {
    ja3s?: string;
    /** Of the leaf certificate, upper-case hex. */
    hash?: {
      sha1: string;
      sha256: string;
    };
    subject?: string;
    issuer?: string;
    not_before?: IsoTimestamp;
    not_after?: IsoTimestamp;
  };
}

export interface TlsRecordCounts {
  handshake: Integer;
  change_cipher_spec: Integer;
  alert: Integer;
  application_data: Integer;
  encrypted_handshake: Integer;
  heartbeat: Integer;
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
  client_app_bytes: Integer;
  server_app_bytes: Integer;
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
  /** The trust anchor the chain ended at. */
  anchor?: {
    /** `mozilla`, `system`, `enterprise_pki`, `tls_inspection`. */
    kind: string;
    subject: string;
    sha256: string;
  };
  completed_from_cache: boolean;
  sni_matches_cert?: boolean;
}

/** ECS `x509.*` (https://www.elastic.co/guide/en/ecs/current/ecs-x509.html). */
export interface EcsX509 {
  version_number?: string;
  serial_number: string;
  subject: {
    distinguished_name: string;
    common_name: string[];
  };
  issuer: {
    distinguished_name: string;
  };
  not_before?: IsoTimestamp;
  not_after?: IsoTimestamp;
  public_key_algorithm: string;
  public_key_size?: Integer;
  public_key_curve?: string;
  signature_algorithm: string;
  /** Subject alternative names: DNS, IP, e-mail, URI. */
  alternative_names: string[];
}

/**
 * One event per distinct certificate (`tlsentry.x509`). ECS has no root
 * `x509.*`: a certificate seen on a connection goes under the side that
 * presented it, `tls.server.x509` or `tls.client.x509`.
 */
export interface X509Event {
  '@timestamp': IsoTimestamp;
  event: {
    kind: 'event';
    category: ['network'];
    type: ['info'];
    dataset: 'tlsentry.x509';
    module: 'tlsentry';
    /** The presenting flow's id and the certificate's SHA-1 (one event per certificate and flow that first showed it). */
    id: string;
  };
  tls: X509ServerSide | X509ClientSide;
  tlsentry: {
    schema_version: SchemaVersion;
    x509: {
      sha1: string;
      sha256: string;
      /** The flow that first presented it. */
      first_seen_flow: string;
      der_length: Integer;
      parse_ok: boolean;
      basic_constraints?: {
        ca: boolean;
        path_len: Integer | null;
      };
      key_usage?: string[];
      extended_key_usage?: string[];
      self_issued: boolean;
      unknown_critical_extensions: string[];
      anomalies: string[];
    };
  };
}

/** A certificate the server presented. */
export interface X509ServerSide {
  server: {
    x509: EcsX509;
  };
}

/** A certificate the client presented. */
export interface X509ClientSide {
  client: {
    x509: EcsX509;
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

/** The `tlsentry.x509` event for a certificate seen for the first time, presented by `side`. */
export function buildX509Event(c: CertificateSummary, seenMicros: number, flowIdText: string, side: 'server' | 'client' = 'server'): X509Event {
  const alt = [...c.san.dns, ...c.san.ip, ...c.san.email, ...c.san.uri];
  const x509: EcsX509 = {
    serial_number: c.serial,
    subject: { distinguished_name: c.subject, common_name: [...c.common_names] },
    issuer: { distinguished_name: c.issuer },
    public_key_algorithm: c.public_key.type,
    signature_algorithm: c.signature_algorithm.name,
    alternative_names: alt,
  };
  const ev: X509Event = {
    '@timestamp': isoTime(seenMicros),
    event: { kind: 'event', category: ['network'], type: ['info'], dataset: 'tlsentry.x509', module: 'tlsentry', id: `${flowIdText}-${c.sha1}` },
    tls: side === 'server' ? { server: { x509 } } : { client: { x509 } },
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
  if (c.version !== null) x509.version_number = String(c.version);
  if (c.not_before !== null) x509.not_before = c.not_before;
  if (c.not_after !== null) x509.not_after = c.not_after;
  if (c.public_key.bits !== null) x509.public_key_size = c.public_key.bits;
  if (c.public_key.curve !== null) x509.public_key_curve = c.public_key.curve;
  const t = ev.tlsentry.x509;
  if (c.basic_constraints !== null) t.basic_constraints = { ...c.basic_constraints };
  if (c.key_usage !== null) t.key_usage = [...c.key_usage];
  if (c.extended_key_usage !== null) t.extended_key_usage = [...c.extended_key_usage];
  return ev;
}

// --- process enrichment (issue 5) -------------------------------------------

/** ECS `process.*` from the endpoint API's answer. */
export interface EcsProcess {
  pid: Integer;
  /** The endpoint API's process uid: unique per host and process start. */
  entity_id: string;
  executable?: string;
  name?: string;
  command_line?: string;
  start?: IsoTimestamp;
  parent?: {
    pid: Integer;
    executable?: string;
    command_line?: string;
  };
  hash?: {
    sha256?: string;
    sha1?: string;
    md5?: string;
  };
  code_signature?: {
    exists: boolean;
    subject_name?: string;
  };
  user?: {
    name: string;
  };
}

/** What ECS has no field for about the process, under `tlsentry.process`. */
export interface ProcessFields {
  /** TLS libraries the process had mapped. */
  tls_libraries: {
    path: string;
    category: string;
    load_time: IsoTimestamp | null;
    loaded_before_flow: boolean | null;
  }[];
  /** A statically linked TLS stack found in the executable (`go`, …). */
  static_tls_stack: string | null;
  /** How the flow was joined to the process. */
  attribution: {
    status: string;
    method: string | null;
    confidence: number;
    host?: {
      name: string | null;
      ip: string;
    };
    warnings?: string[];
  };
  annotations?: {
    kind: string;
    time: string;
  }[];
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
  '@timestamp': IsoTimestamp;
  event: {
    kind: 'alert';
    category: ['network', 'intrusion_detection'];
    type: ['info'];
    dataset: 'tlsentry.alert';
    module: 'tlsentry';
    /** Unique per event: the alert id, with `-summary` on a dedup window's summary. */
    id: string;
    /** The score, rounded and capped at 100 (ECS `event.severity` is a long). */
    severity: Integer;
    /** The score, capped at 100. */
    risk_score: number;
    start: IsoTimestamp;
    end: IsoTimestamp;
  };
  message: string;
  rule: {
    /** The heaviest rule that fired; all of them are in `tlsentry.alert.rules`. */
    name: string;
  };
  threat: {
    framework: string;
    tactic: {
      id: string[];
      name: string[];
      reference: string[];
    };
    technique: {
      id: string[];
      name: string[];
      reference: string[];
    };
  };
  source: {
    ip: string;
    port: Port;
  };
  destination: {
    ip: string;
    port: Port;
    /** The SNI. */
    domain?: string;
  };
  network: {
    transport: 'tcp';
    community_id: string;
  };
  /** The host the process runs on (from the endpoint API). */
  host: {
    name?: string;
    ip?: string[];
  };
  process?: EcsProcess;
  tls?: {
    version?: string;
    cipher?: string;
    established: boolean;
    client: {
      server_name?: string;
      ja3?: string;
    };
  };
  tlsentry: {
    schema_version: SchemaVersion;
    alert: {
      /** Shared by an alert and its dedup summary, so the two can be joined. */
      id: string;
      analytic: string;
      strategy: string;
      phase: 'first' | 'summary';
      score: number;
      threshold: number;
      /** Every rule that fired, heaviest first. */
      rules: string[];
      evidence: {
        rule: string;
        weight: number;
        summary: string;
        /** Rule-specific details (free-form). */
        evidence: unknown;
      }[];
      /** Hits an allow-list entry removed, with its reason. */
      suppressed: {
        rule: string;
        reason: string;
      }[];
      flow_ids: string[];
      /** Flows over the threshold in the dedup window. */
      count: Integer;
      dedup_window_seconds: number;
      process_identity?: string;
      ja4?: string;
      validation_status?: string;
      payload_bytes_out: Integer;
      payload_bytes_in: Integer;
      pcr: number;
      enrichment: {
        status: string;
        method: string | null;
        confidence: number | null;
      };
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
      severity: Math.min(100, Math.round(a.score)),
      risk_score: Math.min(100, a.score),
      start: isoTime(a.firstSeen),
      end: isoTime(a.lastSeen),
    },
    message: a.summary,
    rule: { name: a.rules[0]?.name ?? '' },
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

// --- interim events of open flows (issue 7) ----------------------------------

/** The interim event of an open flow, reported at `nowMicros` (see interim.ts for what differs from the flow event). */
export function buildInterimEvent(f: Flow, extras: FlowExtras, nowMicros: number, seq: number): InterimFlowEvent {
  const ev = buildFlowEvent(f, extras);
  const { end_reason: _ended, ...flow } = ev.tlsentry.flow;
  return {
    ...ev,
    '@timestamp': isoTime(nowMicros),
    event: { ...ev.event, id: `${ev.event.id}-i${seq}`, type: ['connection', 'info'] },
    tlsentry: { ...ev.tlsentry, flow: { ...flow, interim: true, interim_seq: seq } },
  };
}

// --- capture health of live capture (issue 7) ---------------------------------

/**
 * `observer.*` of capture health events: this sensor and the interface it
 * captures on.
 */
export interface StatsObserver {
  hostname: string;
  ingress: {
    interface: {
      name: string;
    };
  };
}

/** libpcap's counters for a stretch of time. */
export interface CaptureInterval {
  received: Integer;
  dropped_kernel: Integer;
  dropped_interface: Integer;
  /** (kernel + interface drops) / received, 6 decimals; 0 when nothing was received. */
  drop_ratio: number;
}

/**
 * One sink's delivery counters in a stats event (`SinkCounters`): totals since
 * the sensor started, except `pending`. For a file or standard output every
 * line is queued and delivered at once.
 */
export interface SinkStats {
  /** Events handed to the sink (into its memory queue or its spool). */
  queued: Integer;
  /** Events that went through the on-disk spool (the SIEM was slow or down, or memory was full). */
  spooled: Integer;
  /** Events the SIEM has (it said so). */
  delivered: Integer;
  /** Delivery attempts that had to be repeated (per event). */
  retried: Integer;
  /** Events the SIEM refused for good (kept in the dead-letter file). */
  rejected: Integer;
  /** Events lost because the spool reached its disk limit (`spool.max_bytes`). Should stay 0. */
  dropped: Integer;
  /** Events waiting now (memory queue and spool, earlier runs' included). */
  pending: Integer;
  /** `format: ocsf` sinks only: events with no OCSF form (certificates, alerts, stats), not sent. */
  skipped?: Integer;
}

/**
 * `tlsentry.stats` metric event: every `--stats-interval` seconds of live
 * capture (`event.action: stats`) and once at exit (`final_stats`). Totals
 * since the sensor started, and the interval since the previous stats event.
 */
export interface StatsEvent {
  '@timestamp': IsoTimestamp;
  event: {
    kind: 'metric';
    category: ['network'];
    type: ['info'];
    dataset: 'tlsentry.stats';
    module: 'tlsentry';
    /** `<run id>-stats-<seq>`: a random run id made once per sensor start, and a counter. */
    id: string;
    action: 'stats' | 'final_stats';
    /** The previous stats event (or the sensor's start). */
    start: IsoTimestamp;
    end: IsoTimestamp;
    /** Nanoseconds (ECS). */
    duration: Integer;
  };
  observer: StatsObserver;
  tlsentry: {
    schema_version: SchemaVersion;
    stats: {
      final: boolean;
      uptime_sec: Integer;
      interval_sec: number;
      capture: {
        interface: string;
        /** The BPF filter ('' for none). */
        filter: string;
        snaplen: Integer;
        /** The libpcap DLT number. */
        link_type: Integer;
        buffer_bytes: Integer;
        promiscuous: boolean;
        /** Frames the kernel passed through the filter, dropped ones included. */
        received: Integer;
        /** The kernel's ring was full (`ps_drop`). */
        dropped_kernel: Integer;
        /** Dropped by the interface or its driver (`ps_ifdrop`). */
        dropped_interface: Integer;
        drop_ratio: number;
        interval: CaptureInterval;
      };
      /** What the sensor did with the frames it got. */
      sensor: {
        packets: Integer;
        bytes: Integer;
        tcp_packets: Integer;
        /** Frames cut by the snap length. */
        truncated_frames: Integer;
        interval: {
          packets: Integer;
          bytes: Integer;
        };
        flows: {
          active: Integer;
          max_active: Integer;
          created: Integer;
          ended: Integer;
          /** Ended flows by `tlsentry.flow.end_reason`. */
          end_reasons: Record<string, Integer>;
        };
        tls_flows: Integer;
        certificates: Integer;
        alerts: Integer;
        /** Endpoint enrichment outcomes by status (only with --endpoint). */
        enrichment?: Record<string, Integer>;
        /** Events written, this one included. */
        events_written: Integer;
        interim_events: Integer;
      };
      /** Every anomaly counter by name (`tlsentry anomalies` lists them). */
      anomalies: Record<string, Integer>;
      /** Every output sink's delivery counters, by sink name (`file`, `stdout`, `syslog`, `splunk_hec`, `elasticsearch`, or the configured name). */
      sinks: Record<string, SinkStats>;
    };
  };
}

/** The drops of the window in which a drop episode started. */
export interface DropWindow {
  dropped_kernel: Integer;
  dropped_interface: Integer;
  received: Integer;
  duration_sec: number;
}

/** The totals of a drop episode that has ended. */
export interface DropEpisode {
  dropped_kernel: Integer;
  dropped_interface: Integer;
  /** From the first to the last drop. */
  duration_sec: number;
}

/** Capture counters of a drop event: totals since start, and the window or the episode. */
export interface DropCapture {
  interface: string;
  received: Integer;
  dropped_kernel: Integer;
  dropped_interface: Integer;
  drop_ratio: number;
  /** `capture_drops_started` only. */
  window?: DropWindow;
  /** `capture_drops_stopped` only. */
  episode?: DropEpisode;
}

/**
 * `tlsentry.stats` drop warning: `capture_drops_started` (`log.level:
 * warning`) when the capture starts dropping packets, `capture_drops_stopped`
 * (`info`) once it has stopped for a while.
 */
export interface CaptureDropEvent {
  '@timestamp': IsoTimestamp;
  event: {
    kind: 'event';
    category: ['network'];
    type: ['info'];
    dataset: 'tlsentry.stats';
    module: 'tlsentry';
    /** `<run id>-stats-<seq>`, numbered with the stats events. */
    id: string;
    action: 'capture_drops_started' | 'capture_drops_stopped';
  };
  log: {
    level: 'warning' | 'info';
  };
  message: string;
  observer: StatsObserver;
  tlsentry: {
    schema_version: SchemaVersion;
    stats: {
      capture: DropCapture;
    };
  };
}

/** Any `tlsentry.stats` event. */
export type CaptureHealthEvent = StatsEvent | CaptureDropEvent;

/** A random id for one run of the sensor: `event.id` of its stats events starts with it. */
export function newRunId(): string {
  return randomBytes(9).toString('base64url');
}

/** `event.id` of the `seq`-th capture health event (stats or drops) of run `runId`. */
export function statsEventId(runId: string, seq: number): string {
  return `${runId}-stats-${seq}`;
}

const HOST = hostname();

function ratio(dropped: number, received: number): number {
  return received === 0 ? 0 : Math.round((dropped / received) * 1e6) / 1e6;
}

function statsObserver(info: CaptureInfo): StatsObserver {
  return { hostname: HOST, ingress: { interface: { name: info.iface } } };
}

/** The stats event for the interval from `prev` to `now`. */
export function buildStatsEvent(
  info: CaptureInfo,
  startedMs: number,
  prev: StatsSnapshot,
  now: StatsSnapshot,
  anomalies: Record<string, number>,
  final: boolean,
  id: string,
): StatsEvent {
  const c = now.capture, pc = prev.capture, s = now.sensor, ps = prev.sensor;
  const dropped = c.droppedKernel + c.droppedInterface;
  const interval = {
    received: c.received - pc.received,
    dropped_kernel: c.droppedKernel - pc.droppedKernel,
    dropped_interface: c.droppedInterface - pc.droppedInterface,
  };
  const durMs = now.atMs - prev.atMs;
  return {
    '@timestamp': isoTime(now.atMs * 1000),
    event: {
      kind: 'metric',
      category: ['network'],
      type: ['info'],
      dataset: 'tlsentry.stats',
      module: 'tlsentry',
      id,
      action: final ? 'final_stats' : 'stats',
      start: isoTime(prev.atMs * 1000),
      end: isoTime(now.atMs * 1000),
      duration: durMs * 1e6,
    },
    observer: statsObserver(info),
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      stats: {
        final,
        uptime_sec: Math.round((now.atMs - startedMs) / 1000),
        interval_sec: Math.round(durMs) / 1000,
        capture: {
          interface: info.iface,
          filter: info.filter,
          snaplen: info.snaplen,
          link_type: info.linkType,
          buffer_bytes: info.bufferBytes,
          promiscuous: info.promisc,
          received: c.received,
          dropped_kernel: c.droppedKernel,
          dropped_interface: c.droppedInterface,
          drop_ratio: ratio(dropped, c.received),
          interval: { ...interval, drop_ratio: ratio(interval.dropped_kernel + interval.dropped_interface, interval.received) },
        },
        sensor: {
          packets: s.packets,
          bytes: s.bytes,
          tcp_packets: s.tcpPackets,
          truncated_frames: s.truncated,
          interval: { packets: s.packets - ps.packets, bytes: s.bytes - ps.bytes },
          flows: {
            active: s.flowsActive,
            max_active: s.maxActive,
            created: s.flowsCreated,
            ended: s.flowsEnded,
            end_reasons: s.endReasons,
          },
          tls_flows: s.tlsFlows,
          certificates: s.certificates,
          alerts: s.alerts,
          ...(s.enrichment !== null ? { enrichment: s.enrichment } : {}),
          events_written: s.eventsWritten,
          interim_events: s.interimEvents,
        },
        anomalies,
        sinks: sinkStats(now.sinks),
      },
    },
  };
}

/** A copy with the counters in `SinkStats` order. */
function sinkStats(sinks: StatsSnapshot['sinks']): Record<string, SinkStats> {
  const out: Record<string, SinkStats> = {};
  for (const [name, c] of Object.entries(sinks)) {
    out[name] = { queued: c.queued, spooled: c.spooled, delivered: c.delivered, retried: c.retried, rejected: c.rejected, dropped: c.dropped, pending: c.pending };
    if (c.skipped !== undefined) out[name].skipped = c.skipped;
  }
  return out;
}

/** The warning (drops started) or note (drops stopped) for a drop episode. */
export function buildDropEvent(info: CaptureInfo, change: DropChange, totals: CaptureCounters, nowMs: number, id: string): CaptureDropEvent {
  const started = change.kind === 'started';
  const message = started
    ? `capture on ${info.iface} is dropping packets: ${change.droppedKernel} dropped by the kernel and ${change.droppedInterface} by the interface in the last ${(change.windowMs / 1000).toFixed(1)} s (${change.received} received)`
    : `capture on ${info.iface} stopped dropping packets: ${change.droppedKernel} dropped by the kernel and ${change.droppedInterface} by the interface over ${(change.durationMs / 1000).toFixed(1)} s`;
  return {
    '@timestamp': isoTime(nowMs * 1000),
    event: {
      kind: 'event',
      category: ['network'],
      type: ['info'],
      dataset: 'tlsentry.stats',
      module: 'tlsentry',
      id,
      action: started ? 'capture_drops_started' : 'capture_drops_stopped',
    },
    log: { level: started ? 'warning' : 'info' },
    message,
    observer: statsObserver(info),
    tlsentry: {
      schema_version: SCHEMA_VERSION,
      stats: {
        capture: {
          interface: info.iface,
          received: totals.received,
          dropped_kernel: totals.droppedKernel,
          dropped_interface: totals.droppedInterface,
          drop_ratio: ratio(totals.droppedKernel + totals.droppedInterface, totals.received),
          ...(started
            ? { window: { dropped_kernel: change.droppedKernel, dropped_interface: change.droppedInterface, received: change.received, duration_sec: change.windowMs / 1000 } }
            : { episode: { dropped_kernel: change.droppedKernel, dropped_interface: change.droppedInterface, duration_sec: change.durationMs / 1000 } }),
        },
      },
    },
  };
}

// --- lines as written (the published JSON Schemas) ----------------------------

/** A `tlsentry.flow` line: a finished flow. */
export type FlowEventLine = EcsHeader & FlowEvent;
/** A `tlsentry.flow` interim line: a report on an open flow. */
export type InterimFlowEventLine = EcsHeader & InterimFlowEvent;
/** A `tlsentry.x509` line: a certificate seen for the first time. */
export type X509EventLine = EcsHeader & X509Event;
/** A `tlsentry.alert` line: an AN0759 detection or a dedup window's summary. */
export type AlertEventLine = EcsHeader & AlertEvent;
/** A `tlsentry.stats` line: capture health of live capture. */
export type StatsEventLine = EcsHeader & CaptureHealthEvent;
