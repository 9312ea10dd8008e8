/**
 * The detect stage's plain data: what the pipeline hands in per finished flow
 * (`DetectionInput`), what every rule returns (`RuleHit`), and what leaves as
 * an alert (`Alert`). Nothing here has behaviour.
 *
 * Times are microseconds since the epoch in the packet clock, like the flow
 * table's. Evidence objects use snake_case keys: the output stage copies them
 * into the alert event unchanged.
 */
import type { AttributionResult, EnrichmentStatus, EndpointProcess } from '../shared/endpoint-api.js';
import type { TlsSessionFacts } from '../tls/facts.js';
import type { ChainVerdict } from '../x509/types.js';

/** The flow part of a detection input (the originator is the client). */
export interface DetectionFlow {
  /** tlsentry's flow id (`tlsentry.flow.id`). */
  id: string;
  communityId: string;
  startMicros: number;
  endMicros: number;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** TCP payload bytes the originator sent (retransmissions once). */
  payloadOut: number;
  payloadIn: number;
  /** Producer-consumer ratio of payload bytes, −1 … +1. */
  pcr: number;
}

/** One finished flow with everything the earlier stages learned about it. */
export interface DetectionInput {
  /** Name of the host the sensor runs on (the fallback host key for local agents). */
  sensorHost?: string;
  flow: DetectionFlow;
  tls: TlsSessionFacts | null;
  verdict: ChainVerdict | null;
  enrichment: { status: EnrichmentStatus; result: AttributionResult | null };
}

export const RULE_NAMES = [
  'new_tls_process',
  'asymmetric_egress',
  'nonstandard_chain',
  'unexpected_tls_library',
  'tls_nonstandard_port',
  'no_sni',
  'user_writable_image_path',
  'listed_unexpected_process',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** JSON-serialisable evidence: the facts a rule looked at and the values it compared. */
export type Evidence = { [key: string]: unknown };

export interface RuleHit {
  name: RuleName;
  weight: number;
  /** One sentence an analyst can read without the evidence. */
  summary: string;
  evidence: Evidence;
}

/**
 * Who a baseline entry is about: the normalised executable path plus the
 * signer (signed images) or the SHA-256 (unsigned images), see `identity.ts`.
 */
export interface ProcessIdentity {
  /** The baseline key, e.g. `c:\users\<user>\downloads\x.exe|sha256:2c97…`. */
  key: string;
  /** Normalised executable path (case-folded on Windows, user names replaced). */
  executable: string;
  /** `signer`, `sha256`, or `path` (neither known). */
  basis: 'signer' | 'sha256' | 'path';
  signer: string | null;
  sha256: string | null;
}

/** The process an alert is about: ECS `process.*` plus the baseline identity. */
export interface AlertProcess {
  identity: string;
  identityBasis: ProcessIdentity['basis'];
  normalizedExecutable: string;
  executable: string | null;
  name: string | null;
  pid: number;
  /** Endpoint API `uid` (ECS `process.entity_id`). */
  entityId: string;
  startTime: string | null;
  commandLine: string | null;
  user: string | null;
  parent: EndpointProcess['parent'];
  hash: EndpointProcess['hash'];
  codeSignature: EndpointProcess['code_signature'];
}

/** The fixed threat mapping of every tlsentry alert. */
export const THREAT = {
  framework: 'MITRE ATT&CK',
  tactic: { id: 'TA0011', name: 'Command and Control', reference: 'https://attack.mitre.org/tactics/TA0011/' },
  technique: { id: 'T1573', name: 'Encrypted Channel', reference: 'https://attack.mitre.org/techniques/T1573/' },
  analytic: { id: 'AN0759', strategy: 'DET0273' },
} as const;

export interface Alert {
  /** Stable id: hash of the dedup key and the first flow id. */
  id: string;
  /**
   * `first`: the first flow over the threshold for this host, process and
   * destination in the dedup window (returned by `observe`). `summary`: the
   * end-of-window record of a window that absorbed repeats (`count` > 1),
   * returned by `drainAlerts`.
   */
  phase: 'first' | 'summary';
  score: number;
  threshold: number;
  /** Every rule that fired, heaviest first. */
  rules: RuleHit[];
  /** Hits removed by an allow-list entry, with its reason (they do not count in `score`). */
  suppressed: { rule: RuleName; reason: string }[];
  /** `score 85 ≥ 50: rule (w): summary; …` */
  summary: string;
  flowIds: string[];
  communityId: string;
  host: { name: string; ip: string | null; sensor: string | null };
  /** Null only with `require_process: false` and an unattributed flow. */
  process: AlertProcess | null;
  source: { ip: string; port: number };
  destination: { ip: string; port: number; sni: string | null };
  tls: {
    version: string | null;
    cipher: string | null;
    ja4: string | null;
    ja3: string | null;
    established: boolean;
    validationStatus: string | null;
  } | null;
  /** The first flow's byte counts. */
  flow: { startMicros: number; endMicros: number; payloadOut: number; payloadIn: number; pcr: number };
  enrichment: { status: EnrichmentStatus; method: string | null; confidence: number | null };
  /** Flows over the threshold in this window (deduplicated). */
  count: number;
  firstSeen: number;
  lastSeen: number;
  dedupWindowSeconds: number;
  threat: typeof THREAT;
}

/** What the baseline knows about one identity, for the flow being judged (before it is counted). */
export interface IdentityHistory {
  /** The identity on this host, or null when never seen here. */
  host: {
    flows: number;
    tlsFlows: number;
    bytesOut: number;
    bytesIn: number;
    firstSeen: number;
    lastSeen: number;
    /** `ip:port` of this flow was seen for this identity on this host. */
    destinationKnown: boolean;
    /** The SNI of this flow was seen (null without SNI). */
    sniKnown: boolean | null;
    distinctDestinations: number;
  } | null;
  /** The identity on every host of the baseline (this one included). */
  fleet: { hosts: number; hostsWithTls: number; flows: number; tlsFlows: number };
  /** Other identities with the same normalised path on this host (a changed signer or hash). */
  samePathOnHost: {
    identities: number;
    tlsFlows: number;
    /** TLS flows of the unsigned ones only (an unsigned binary updated in place changes hash). */
    unsignedTlsFlows: number;
  };
}
