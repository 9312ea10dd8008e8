/**
 * What every rule receives: the flow as the pipeline built it, facts derived
 * from it once per flow, the baseline's view of the process (before this
 * flow is counted), and the policy. A rule is a pure function of this
 * context: it returns a hit (weight, summary, evidence) or null, and never
 * throws on any input.
 */
import type { EndpointProcess } from '../../shared/endpoint-api.js';
import type { DetectConfig } from '../config.js';
import type { LibraryClass } from '../libraries.js';
import type { ProcessLists } from '../process-lists.js';
import type { DetectionInput, IdentityHistory, ProcessIdentity, RuleHit, RuleName } from '../types.js';

export interface LoadedLibrary extends LibraryClass {
  path: string;
  category: string;
  /** Load time in microseconds in the packet clock, null when the agent does not know it. */
  loadMicros: number | null;
  /**
   * When the agent first saw it mapped (procfs `observed_at`), packet clock: with an unknown
   * load time, the load happened between the process start and this.
   */
  observedMicros: number | null;
  loadedBeforeFlow: boolean | null;
  /** Loaded before the flow, or within `load_tolerance` after its first packet (in time for the handshake). */
  servedFlow: boolean;
}

export interface FlowView {
  /** Host key: lower-case name (or address) of the host the process runs on. */
  host: string;
  hostIp: string | null;
  /** TLS (or SSL) records were seen. */
  isTls: boolean;
  sni: string | null;
  /** `ip:port` of the server (the baseline's destination value). */
  destination: string;
  process: EndpointProcess | null;
  identity: ProcessIdentity | null;
  /**
   * The host's process/module event clock minus the packet clock
   * (`process_clock_offset_seconds`, learned by the agent), in µs. Process,
   * library and annotation times below are already corrected by it.
   */
  clockOffsetMicros: number;
  /** Process start in the packet clock. */
  processStartMicros: number | null;
  libraries: LoadedLibrary[];
}

export interface RuleContext {
  input: DetectionInput;
  view: FlowView;
  /** Null when the flow has no process. */
  history: IdentityHistory | null;
  config: DetectConfig;
  lists: ProcessLists;
}

export interface Rule {
  name: RuleName;
  evaluate(ctx: RuleContext): RuleHit | null;
}

/** RFC 3339 (or anything `Date.parse` reads) → microseconds; null when absent or unreadable. */
export function timeMicros(s: string | null | undefined): number | null {
  if (!s) return null;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) return null;
  // Keep microseconds Date.parse drops: ".123456Z" → 456 µs.
  const frac = /\.(\d{4,6})/.exec(s);
  const extra = frac ? Number(frac[1]!.padEnd(6, '0').slice(3, 6)) : 0;
  return ms * 1000 + extra;
}

/** ISO 8601 of a µs time; null when absent or outside what a Date can hold. */
export function isoMicros(us: number | null): string | null {
  if (us === null) return null;
  const d = new Date(Math.floor(us / 1000));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function seconds(us: number): number {
  return Math.round(us / 1000) / 1000;
}
