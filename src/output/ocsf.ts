/**
 * Optional OCSF output: a flow event (`tlsentry.flow`, finished or interim)
 * as an OCSF Network Activity event (class 4001, category 4 Network Activity).
 *
 * Follows OCSF schema 1.3.0 (https://schema.ocsf.io/1.3.0/classes/network_activity),
 * with the `host` profile for `actor.process`. Attribute requirements checked
 * against ocsf/ocsf-schema: events/network/network_activity.json,
 * events/network/network.json, objects/tls.json (`version` required),
 * objects/fingerprint.json (`algorithm_id`, `value` required),
 * objects/ja4_fingerprint.json (`type_id`, `value` required),
 * objects/network_connection_info.json (`direction_id` required),
 * objects/certificate.json (`issuer`, `serial_number` required).
 *
 * Only flow events map to Network Activity. The other event types have no
 * faithful 4001 form (an alert would be a Detection Finding, a certificate or
 * capture stats no network activity at all), so `ocsfFor` returns null for
 * them: a sink in OCSF format skips (and counts) them, and an ECS sink beside
 * it carries them. Pure functions: no clock, no I/O.
 */
import type { EcsProcess, FlowEvent, InterimFlowEvent, X509Event } from './schema.js';

export const OCSF_VERSION = '1.3.0';
export const OCSF_CLASS_UID = 4001;
export const OCSF_CATEGORY_UID = 4;

/** Network Activity `activity_id` values used here. */
export const OCSF_ACTIVITY = { close: 2, reset: 3, traffic: 6 } as const;
const ACTIVITY_NAME: Record<number, string> = { 2: 'Close', 3: 'Reset', 6: 'Traffic' };

export interface OcsfFingerprint {
  algorithm: 'MD5' | 'SHA-1' | 'SHA-256';
  /** 1 MD5, 2 SHA-1, 3 SHA-256. */
  algorithm_id: 1 | 2 | 3;
  value: string;
}

export interface OcsfEndpoint {
  ip: string;
  port: number;
}

export interface OcsfFile {
  name: string;
  path?: string;
  /** 1: Regular File. */
  type_id: 1;
  type: 'Regular File';
  hashes?: OcsfFingerprint[];
}

export interface OcsfProcess {
  pid: number;
  /** ECS `process.entity_id`. */
  uid?: string;
  name?: string;
  cmd_line?: string;
  file?: OcsfFile;
  /** Milliseconds since the epoch. */
  created_time?: number;
  user?: { name: string };
  parent_process?: { pid: number; cmd_line?: string; file?: OcsfFile };
}

export interface OcsfCertificate {
  issuer: string;
  serial_number: string;
  subject?: string;
  /** Milliseconds since the epoch (not before). */
  created_time?: number;
  /** Milliseconds since the epoch (not after). */
  expiration_time?: number;
  version?: string;
  fingerprints: OcsfFingerprint[];
  /** SHA-1 of the DER, as `tlsentry.x509.sha1`. */
  uid: string;
}

export interface OcsfTls {
  /** ECS `tls.version` (`1.2`, `1.3`). */
  version: string;
  cipher?: string;
  sni?: string;
  ja3_hash?: OcsfFingerprint;
  ja3s_hash?: OcsfFingerprint;
  client_ciphers?: string[];
  certificate?: OcsfCertificate;
  /** SHA-1 of each certificate the server presented, leaf first. */
  certificate_chain?: string[];
}

export interface OcsfNetworkActivity {
  class_uid: 4001;
  class_name: 'Network Activity';
  category_uid: 4;
  category_name: 'Network Activity';
  activity_id: number;
  activity_name: string;
  /** class_uid * 100 + activity_id. */
  type_uid: number;
  type_name: string;
  /** Milliseconds since the epoch: the end of the flow (Close, Reset) or the time of the report (Traffic). */
  time: number;
  start_time: number;
  end_time: number;
  /** Milliseconds. */
  duration: number;
  /** 1: Informational (a flow is a record, not a finding). */
  severity_id: 1;
  severity: 'Informational';
  metadata: {
    version: typeof OCSF_VERSION;
    product: { name: 'tlsentry'; vendor_name: string; version?: string };
    /** ECS `event.id`: a SIEM drops duplicates by it. */
    uid: string;
    /** The flow id, shared with the flow's interim, certificate and alert events. */
    correlation_uid: string;
    log_name: string;
    profiles: string[];
    /** The ECS `@timestamp`, microsecond precision. */
    original_time: string;
  };
  src_endpoint: OcsfEndpoint;
  dst_endpoint: OcsfEndpoint;
  connection_info: {
    uid: string;
    community_uid: string;
    protocol_num: 6;
    protocol_name: 'tcp';
    protocol_ver_id: 4 | 6;
    /** 0: Unknown (a passive sensor does not know which side is inside). */
    direction_id: 0;
    direction: 'Unknown';
  };
  traffic: {
    bytes: number;
    bytes_out: number;
    bytes_in: number;
    packets: number;
    packets_out: number;
    packets_in: number;
  };
  tls?: OcsfTls;
  ja4_fingerprint_list?: { type_id: 1 | 2; type: 'JA4' | 'JA4Server'; value: string }[];
  actor?: { process: OcsfProcess };
  /** Everything under ECS `tlsentry.*` (flow asymmetry, chain verdict, attribution), unchanged. */
  unmapped: { tlsentry: FlowEvent['tlsentry'] | InterimFlowEvent['tlsentry'] };
}

export interface OcsfOptions {
  /** The `tlsentry.x509` event of the server's leaf certificate (matched by SHA-1): adds `tls.certificate`. */
  leafCertificate?: X509Event | null;
  /** tlsentry's version, for `metadata.product.version`. */
  productVersion?: string;
  /** `metadata.product.vendor_name` (default `tlsentry`). */
  vendorName?: string;
}

function ms(iso: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`not an ISO time: ${iso}`);
  return t;
}

function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? path : path.slice(i + 1);
}

function file(path: string | undefined, name: string | undefined, hash?: EcsProcess['hash']): OcsfFile | undefined {
  const n = name ?? (path !== undefined ? baseName(path) : undefined);
  if (n === undefined) return undefined;
  const f: OcsfFile = { name: n, type_id: 1, type: 'Regular File' };
  if (path !== undefined) f.path = path;
  const hashes: OcsfFingerprint[] = [];
  if (hash?.md5 !== undefined) hashes.push({ algorithm: 'MD5', algorithm_id: 1, value: hash.md5 });
  if (hash?.sha1 !== undefined) hashes.push({ algorithm: 'SHA-1', algorithm_id: 2, value: hash.sha1 });
  if (hash?.sha256 !== undefined) hashes.push({ algorithm: 'SHA-256', algorithm_id: 3, value: hash.sha256 });
  if (hashes.length > 0) f.hashes = hashes;
  return f;
}

function ocsfProcess(p: EcsProcess): OcsfProcess {
  const out: OcsfProcess = { pid: p.pid, uid: p.entity_id };
  if (p.name !== undefined) out.name = p.name;
  if (p.command_line !== undefined) out.cmd_line = p.command_line;
  const f = file(p.executable, p.name, p.hash);
  if (f !== undefined) out.file = f;
  if (p.start !== undefined) out.created_time = ms(p.start);
  if (p.user !== undefined) out.user = { name: p.user.name };
  if (p.parent !== undefined) {
    out.parent_process = { pid: p.parent.pid };
    if (p.parent.command_line !== undefined) out.parent_process.cmd_line = p.parent.command_line;
    const pf = file(p.parent.executable, undefined);
    if (pf !== undefined) out.parent_process.file = pf;
  }
  return out;
}

function certificate(x: X509Event): OcsfCertificate {
  const side = 'server' in x.tls ? x.tls.server.x509 : x.tls.client.x509;
  const t = x.tlsentry.x509;
  const c: OcsfCertificate = {
    issuer: side.issuer.distinguished_name,
    serial_number: side.serial_number,
    subject: side.subject.distinguished_name,
    fingerprints: [
      { algorithm: 'SHA-1', algorithm_id: 2, value: t.sha1 },
      { algorithm: 'SHA-256', algorithm_id: 3, value: t.sha256 },
    ],
    uid: t.sha1,
  };
  if (side.not_before !== undefined) c.created_time = ms(side.not_before);
  if (side.not_after !== undefined) c.expiration_time = ms(side.not_after);
  if (side.version_number !== undefined) c.version = side.version_number;
  return c;
}

/** The OCSF Network Activity form of a flow event (finished: Close or Reset; interim: Traffic). */
export function toOcsfNetworkActivity(ev: FlowEvent | InterimFlowEvent, o: OcsfOptions = {}): OcsfNetworkActivity {
  const interim = ev.event.type[1] === 'info';
  const flow = ev.tlsentry.flow;
  const activity = interim ? OCSF_ACTIVITY.traffic : 'end_reason' in flow && flow.end_reason === 'rst' ? OCSF_ACTIVITY.reset : OCSF_ACTIVITY.close;
  const start = ms(ev.event.start), end = ms(ev.event.end);
  const out: OcsfNetworkActivity = {
    class_uid: OCSF_CLASS_UID,
    class_name: 'Network Activity',
    category_uid: OCSF_CATEGORY_UID,
    category_name: 'Network Activity',
    activity_id: activity,
    activity_name: ACTIVITY_NAME[activity],
    type_uid: OCSF_CLASS_UID * 100 + activity,
    type_name: `Network Activity: ${ACTIVITY_NAME[activity]}`,
    // A finished flow happened when it ended; an interim report when it was made.
    time: interim ? ms(ev['@timestamp']) : end,
    start_time: start,
    end_time: end,
    duration: Math.round(ev.event.duration / 1e6),
    severity_id: 1,
    severity: 'Informational',
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'tlsentry', vendor_name: o.vendorName ?? 'tlsentry' },
      uid: ev.event.id,
      correlation_uid: flow.id,
      log_name: ev.event.dataset,
      profiles: [],
      original_time: ev['@timestamp'],
    },
    src_endpoint: { ip: ev.source.ip, port: ev.source.port },
    dst_endpoint: { ip: ev.destination.ip, port: ev.destination.port },
    connection_info: {
      uid: flow.id,
      community_uid: ev.network.community_id,
      protocol_num: 6,
      protocol_name: 'tcp',
      protocol_ver_id: ev.network.type === 'ipv6' ? 6 : 4,
      direction_id: 0,
      direction: 'Unknown',
    },
    traffic: {
      bytes: ev.network.bytes,
      bytes_out: ev.source.bytes,
      bytes_in: ev.destination.bytes,
      packets: ev.network.packets,
      packets_out: ev.source.packets,
      packets_in: ev.destination.packets,
    },
    unmapped: { tlsentry: ev.tlsentry },
  };
  if (o.productVersion !== undefined) out.metadata.product.version = o.productVersion;
  const t = ev.tls;
  // OCSF requires tls.version: a flow whose version was never seen gets no tls object.
  if (t !== undefined && t.version !== undefined) {
    const tls: OcsfTls = { version: t.version };
    if (t.cipher !== undefined) tls.cipher = t.cipher;
    if (t.client.server_name !== undefined) tls.sni = t.client.server_name;
    if (t.client.ja3 !== undefined) tls.ja3_hash = { algorithm: 'MD5', algorithm_id: 1, value: t.client.ja3 };
    if (t.server.ja3s !== undefined) tls.ja3s_hash = { algorithm: 'MD5', algorithm_id: 1, value: t.server.ja3s };
    if (t.client.supported_ciphers !== undefined) tls.client_ciphers = [...t.client.supported_ciphers];
    const chain = ev.tlsentry.x509?.chain_sha1;
    if (chain !== undefined && chain.length > 0) tls.certificate_chain = [...chain];
    const leaf = o.leafCertificate;
    if (leaf != null && chain !== undefined && leaf.tlsentry.x509.sha1 === chain[0]) tls.certificate = certificate(leaf);
    out.tls = tls;
  }
  const ja4: NonNullable<OcsfNetworkActivity['ja4_fingerprint_list']> = [];
  if (ev.tlsentry.tls?.ja4 !== undefined) ja4.push({ type_id: 1, type: 'JA4', value: ev.tlsentry.tls.ja4 });
  if (ev.tlsentry.tls?.ja4s !== undefined) ja4.push({ type_id: 2, type: 'JA4Server', value: ev.tlsentry.tls.ja4s });
  if (ja4.length > 0) out.ja4_fingerprint_list = ja4;
  if (ev.process !== undefined) {
    out.actor = { process: ocsfProcess(ev.process) };
    out.metadata.profiles.push('host');
  }
  return out;
}

/** The OCSF form of any tlsentry event, or null for events with no Network Activity form (x509, alert, stats). */
export function ocsfFor(ev: { event?: { dataset?: unknown } }, o: OcsfOptions = {}): OcsfNetworkActivity | null {
  if (ev.event?.dataset !== 'tlsentry.flow') return null;
  return toOcsfNetworkActivity(ev as FlowEvent | InterimFlowEvent, o);
}
