/**
 * The endpoint API (v1) between the sensor (src/enrich) and `tlsentry agent`
 * (src/agent): the JSON shapes both sides share. The OpenAPI document in
 * `api/openapi.yaml` describes the same shapes for other implementers.
 */

/** One flow the sensor asks about. `ts` is the flow's first-packet time, RFC 3339. */
export interface AttributionQuery {
  id: string;
  proto: 'tcp' | 'udp';
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  ts: string;
}

export interface AttributionRequest {
  flows: AttributionQuery[];
}

export type AttributionStatus = 'matched' | 'ambiguous' | 'not_found' | 'host_unknown';
export type AttributionMethod = 'exact_5tuple' | 'socket_table' | 'dst_time_window';

export interface TlsLibraryLoad {
  path: string;
  /** From the TLS-module watchlist: e.g. `tls_stack`, `crypto`, `http_stack` (weak evidence). */
  category: string;
  /** RFC 3339, or null when the load time is unknown (mapped before the agent started watching). */
  load_time: string | null;
  /** The library was loaded before the flow's first packet (as known to the agent). */
  loaded_before_flow: boolean | null;
  /**
   * Where `load_time` comes from (optional): `event` (a load event, Sysmon EID 7),
   * `exec` (mapped by the dynamic linker at exec: the process start time),
   * `observed` (seen appearing between two polls of /proc/<pid>/maps), or
   * `unknown` (already mapped when first observed; `load_time` is null).
   */
  load_time_source?: 'event' | 'exec' | 'observed' | 'unknown';
  /** When the agent first saw the library mapped (procfs), RFC 3339. */
  observed_at?: string | null;
  /** Code signature of the module, when the source reports it (Sysmon EID 7). */
  signed?: boolean | null;
  signature?: string | null;
}

export interface ProcessAnnotation {
  /** e.g. `remote_thread_created` (Sysmon EID 8). */
  kind: string;
  time: string;
  detail: Record<string, string | number | boolean | null>;
}

export interface EndpointProcess {
  /** Stable id of the process instance (Sysmon ProcessGuid, or host:pid:starttime). */
  uid: string;
  pid: number;
  start_time: string | null;
  executable: string | null;
  name: string | null;
  command_line: string | null;
  user: string | null;
  parent: { pid: number; executable: string | null; command_line: string | null } | null;
  hash: { sha256?: string; sha1?: string; md5?: string } | null;
  code_signature: { signed: boolean; subject: string | null } | null;
  tls_libraries: TlsLibraryLoad[];
  /** A TLS stack compiled into the executable: `go`, `rustls`, `boringssl`, … */
  static_tls_stack: string | null;
  annotations: ProcessAnnotation[];
  /** Optional: Windows integrity level (Sysmon EID 1). */
  integrity_level?: string | null;
  /** Optional: when the process ended, if known (RFC 3339). */
  end_time?: string | null;
}

export interface AttributionResult {
  id: string;
  status: AttributionStatus;
  method: AttributionMethod | null;
  confidence: number;
  host: { name: string | null; ip: string } | null;
  process: EndpointProcess | null;
  candidates: EndpointProcess[];
  warnings: string[];
  /**
   * Optional: the host's network-event clock minus the packet clock, in
   * seconds, as applied to the time-window check (Sysmon: learned per host).
   */
  clock_offset_seconds?: number | null;
  /** Optional: the same for process and module events (Sysmon EID 1/7/8). */
  process_clock_offset_seconds?: number | null;
}

export interface AttributionResponse {
  results: AttributionResult[];
}

export interface HealthResponse {
  status: 'ok' | 'degraded';
  version: string;
  backends: {
    name: string;
    hosts: string[];
    lag_seconds: number | null;
    processes: number;
    sockets: number;
    /** Optional: how sockets are learned (`procfs-poll`, `procfs-poll+ftrace`, `sysmon-files`). */
    event_source?: string;
    /** Optional: per-host clock offsets in use (Sysmon). */
    clock_offsets?: { host: string; network_seconds: number | null; process_seconds: number | null; samples: number }[];
  }[];
}

/** One module of a process (`GET /v1/processes/{uid}`). */
export interface ProcessModule {
  path: string;
  /** Watchlist category, or null for a module that is not TLS evidence. */
  category: string | null;
  load_time: string | null;
  load_time_source?: 'event' | 'exec' | 'observed' | 'unknown';
  signed?: boolean | null;
  signature?: string | null;
  sha256?: string | null;
}

/** `GET /v1/processes/{uid}?limit=&cursor=`: one process, its modules one page at a time. */
export interface ProcessResponse {
  process: EndpointProcess;
  modules: ProcessModule[];
  page: { limit: number; cursor: string | null; next_cursor: string | null; total: number };
}

/** Every non-2xx answer of the agent. */
export interface ErrorResponse {
  error: { code: string; message: string; details?: { index?: number; field?: string; message: string }[] };
}

/**
 * Why a flow event carries no process (`tlsentry.enrichment.status`), or
 * `enriched` when it does.
 */
export type EnrichmentStatus =
  | 'enriched'
  | 'ambiguous'
  | 'not_found'
  | 'host_unknown'
  | 'timeout'
  | 'agent_unavailable'
  | 'circuit_open'
  | 'auth_failed'
  | 'bad_response'
  | 'queue_full'
  | 'disabled';
