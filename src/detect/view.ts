/** The facts every rule reads, derived once per flow from the pipeline's input. */
import type { DetectConfig } from './config.js';
import { processIdentity } from './identity.js';
import { classifyLibrary } from './libraries.js';
import { timeMicros, type FlowView, type LoadedLibrary } from './rules/context.js';
import type { DetectionInput } from './types.js';

export function destinationText(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The flow as the rules see it, endpoint times moved to the packet clock, or `inbound` when the attributed host is the
 * flow's responder (the process is a server: not AN0759's business).
 *
 * Host key: the agent's host name, else its address, else the sensor's own
 * name (a local agent), else the client address; lower-cased.
 */
export function buildFlowView(input: DetectionInput, config: DetectConfig): FlowView | 'inbound' {
  const { flow, enrichment } = input;
  const res = enrichment.result;
  const hostIp = res?.host?.ip ?? null;
  if (hostIp !== null && hostIp === flow.dstIp && hostIp !== flow.srcIp) return 'inbound';
  const proc = enrichment.status === 'enriched' ? (res?.process ?? null) : null;
  const host = (res?.host?.name || hostIp || input.sensorHost || flow.srcIp).toLowerCase();
  const tolerance = config.rules.unexpected_tls_library.load_tolerance * 1e6;
  // Endpoint times are in the host's clock; the agent says how far it is from the packets'.
  const offset = Math.round((res?.process_clock_offset_seconds ?? 0) * 1e6) || 0;
  const hostTime = (s: string | null | undefined): number | null => {
    const t = timeMicros(s);
    return t === null ? null : t - offset;
  };
  const libraries: LoadedLibrary[] = (proc?.tls_libraries ?? []).map((l) => {
    const loadMicros = hostTime(l.load_time);
    // In time for the handshake: loaded before the first packet, or within the tolerance after it
    // (WinINet connects, then loads schannel for the handshake). Unknown time: mapped before the agent watched.
    const servedFlow = l.loaded_before_flow === true || (loadMicros !== null ? loadMicros <= flow.startMicros + tolerance : l.loaded_before_flow !== false);
    const observedMicros = typeof l.observed_at === 'string' ? hostTime(l.observed_at) : null;
    return { ...classifyLibrary(l), path: l.path, category: l.category, loadMicros, observedMicros, loadedBeforeFlow: l.loaded_before_flow, servedFlow };
  });
  return {
    host,
    hostIp,
    isTls: input.tls?.detected === true,
    sni: input.tls?.sni || null,
    destination: destinationText(flow.dstIp, flow.dstPort),
    process: proc,
    identity: proc ? processIdentity(proc, { unsigned: config.baseline.unsigned_identity }) : null,
    clockOffsetMicros: offset,
    processStartMicros: proc ? hostTime(proc.start_time) : null,
    libraries,
  };
}
