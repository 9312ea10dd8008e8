/**
 * What the capture worker and the main thread share. The worker owns the
 * packet path; the main thread owns signals, privileges and the metrics
 * endpoint. Numbers cross in SharedArrayBuffers, which the worker updates from
 * inside the packet loop too: while the ring is never empty its event loop
 * does not turn, but the main thread still reads fresh values and can ask it
 * to stop (the worker looks at `control` every 1024 packets and on a timer).
 */
import type { ReadOptions, RunSummary } from '../cli/pipeline.js';
import type { CaptureCounters, LiveCaptureOptions } from './live.js';

/** Float64 slots of the metrics buffer. */
export const M = {
  heartbeatMs: 0,
  captureOpen: 1,
  startedMs: 2,
  packets: 3,
  bytes: 4,
  tcpPackets: 5,
  truncated: 6,
  capReceived: 7,
  capDroppedKernel: 8,
  capDroppedInterface: 9,
  flowsActive: 10,
  flowsCreated: 11,
  flowsEnded: 12,
  eventsWritten: 13,
  interimEvents: 14,
  statsEvents: 15,
  lastPacketMicros: 16,
  tlsFlows: 17,
  certificates: 18,
  linkType: 19,
  dropEpisodes: 20,
  /** Endpoint enrichment round-trip quantiles in seconds; NaN without --endpoint (or before an answer). */
  enrichP50: 21,
  enrichP99: 22,
  enrichMax: 23,
  alerts: 24,
  /** `END_REASONS.length` slots. */
  endReasons: 32,
  /** One slot per anomaly id (`anomalyDefinitions()` order in the worker). */
  anomalies: 64,
} as const;

export const MAX_ANOMALY_SLOTS = 1024;
/** Slots before the sink counters. */
export const METRICS_SLOTS = M.anomalies + MAX_ANOMALY_SLOTS;

/**
 * A sink's counters (`SinkCounters` of src/output/sinks/types.ts, in this
 * order): `SINK_STATES.length` slots per sink after the fixed ones, sinks in
 * `LiveWorkerData.sinkNames` order (known from the output configuration
 * before the worker starts).
 */
export const SINK_STATES = ['queued', 'spooled', 'delivered', 'retried', 'rejected', 'dropped', 'pending', 'skipped'] as const;
export type SinkState = (typeof SINK_STATES)[number];
/** `skipped`: `format: ocsf` sinks only (NaN in the slot of any other). */
export type SinkTotals = Record<Exclude<SinkState, 'skipped'>, number> & { skipped?: number };

/** The metrics buffer's length in slots, for this many sinks. */
export function metricsSlots(sinkCount: number): number {
  return METRICS_SLOTS + sinkCount * SINK_STATES.length;
}

/** The slot of sink number `sink`'s counter `state`. */
export function sinkSlot(sink: number, state: number): number {
  return METRICS_SLOTS + sink * SINK_STATES.length + state;
}

/**
 * The sink names of a run, as the writer names them: the configured sinks,
 * or the single `-o` destination (`stdout` or `file`, see `singleOutput`).
 */
export function liveSinkNames(sensor: { output: string; sinks?: { sinks: readonly { name: string }[] } }): string[] {
  if (sensor.sinks !== undefined) return sensor.sinks.sinks.map((s) => s.name);
  return [sensor.output === '-' ? 'stdout' : 'file'];
}

export const END_REASONS = ['fin', 'rst', 'idle_timeout', 'tuple_reuse', 'evicted', 'end_of_input', 'interrupted'] as const;

/** Int32 slots of the control buffer (main → worker). */
export const C = {
  /** Non-zero: stop capturing, end every flow as `interrupted`, exit. */
  stop: 0,
  /** Incremented per SIGHUP: reopen the output file. */
  reopen: 1,
} as const;
export const CONTROL_SLOTS = 4;

export interface LiveWorkerData {
  capture: LiveCaptureOptions;
  /** Sensor options; `detect` is opened in the worker (after the privilege drop), `endpoint` too. */
  sensor: Omit<ReadOptions, 'inputs' | 'parserFactory' | 'progress' | 'enricher' | 'detector'>;
  /** Seconds between stats events; 0 = only the final one. */
  statsIntervalSec: number;
  /** Seconds between interim events of an open flow; 0 = none. */
  interimIntervalSec: number;
  /** `metricsSlots(sinkNames.length)` slots. */
  metrics: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** The sinks whose counters go to the metrics buffer (`sinkSlot`), in slot order. */
  sinkNames: string[];
  quiet: boolean;
}

/** Worker → main. */
export type WorkerMessage =
  | { type: 'opened'; linkType: number; linkName: string; libpcap: string; warnings: string[] }
  | { type: 'running' }
  | { type: 'anomalies'; names: string[] }
  | { type: 'done'; exitCode: number; summary: RunSummary | null; capture: CaptureCounters; truncated: number }
  | { type: 'error'; code: string; message: string };

/** Main → worker. */
export type MainMessage = { type: 'start' } | { type: 'wake' };
