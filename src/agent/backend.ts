/**
 * What the HTTP layer needs from an endpoint-data backend (procfs, Sysmon).
 */
import type { AttributionQuery, AttributionResult, EndpointProcess, HealthResponse, ProcessModule } from '../shared/endpoint-api.js';

/** A validated query: addresses already normalised, `ts` in epoch milliseconds. */
export interface NormalizedQuery {
  id: string;
  proto: 'tcp' | 'udp';
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  tsMs: number;
  raw: AttributionQuery;
}

export type BackendHealth = HealthResponse['backends'][number];

export interface ProcessDetail {
  process: EndpointProcess;
  modules: ProcessModule[];
}

export interface AttributionBackend {
  readonly name: string;
  start(): Promise<void>;
  /** One result per query, in order. Must not throw on odd queries. */
  attribute(queries: NormalizedQuery[]): Promise<AttributionResult[]>;
  /** A process with all its modules, or null when the uid is unknown. */
  process(uid: string): ProcessDetail | null;
  health(): BackendHealth;
  close(): Promise<void>;
}

export function emptyResult(id: string, status: AttributionResult['status'], warnings: string[] = []): AttributionResult {
  return { id, status, method: null, confidence: 0, host: null, process: null, candidates: [], warnings };
}

export function isoOrNull(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The flow key of a socket or connection as seen from one host. */
export function connKey(proto: string, localIp: string, localPort: number, remoteIp: string, remotePort: number): string {
  return `${proto}|${localIp}|${localPort}|${remoteIp}|${remotePort}`;
}
