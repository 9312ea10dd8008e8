/**
 * Capture health events of live capture (`event.dataset: "tlsentry.stats"`):
 *
 *   - a stats event every `--stats-interval` seconds and one at exit
 *     (`event.kind: "metric"`, `event.action: "stats"` / `"final_stats"`):
 *     libpcap's counters (received, dropped by the kernel, dropped by the
 *     interface) as totals and for the interval, and what the sensor did;
 *   - a warning when drops start (`event.action: "capture_drops_started"`,
 *     `log.level: "warning"`) and a note when they have stopped for a while
 *     (`"capture_drops_stopped"`, with the episode's totals).
 */
import { hostname } from 'node:os';
import { isoTime, SCHEMA_VERSION } from '../output/schema.js';
import type { CaptureCounters } from './live.js';

export interface SensorCounters {
  packets: number;
  bytes: number;
  tcpPackets: number;
  truncated: number;
  flowsActive: number;
  flowsCreated: number;
  flowsEnded: number;
  maxActive: number;
  endReasons: Record<string, number>;
  tlsFlows: number;
  certificates: number;
  alerts: number;
  /** Enrichment outcomes by status (null without --endpoint). */
  enrichment: Record<string, number> | null;
  eventsWritten: number;
  interimEvents: number;
}

export interface CaptureInfo {
  iface: string;
  filter: string;
  snaplen: number;
  linkType: number;
  bufferBytes: number;
  promisc: boolean;
}

export interface StatsSnapshot {
  atMs: number;
  capture: CaptureCounters;
  sensor: SensorCounters;
}

const HOST = hostname();

function ratio(dropped: number, received: number): number {
  return received === 0 ? 0 : Math.round((dropped / received) * 1e6) / 1e6;
}

function observer(info: CaptureInfo) {
  return { hostname: HOST, ingress: { interface: { name: info.iface } } };
}

export function buildStatsEvent(
  info: CaptureInfo,
  startedMs: number,
  prev: StatsSnapshot,
  now: StatsSnapshot,
  anomalies: Record<string, number>,
  final: boolean,
) {
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
      action: final ? 'final_stats' : 'stats',
      start: isoTime(prev.atMs * 1000),
      end: isoTime(now.atMs * 1000),
      duration: durMs * 1e6,
    },
    observer: observer(info),
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
      },
    },
  };
}

export type DropChange =
  | { kind: 'started'; droppedKernel: number; droppedInterface: number; received: number; windowMs: number }
  | { kind: 'stopped'; droppedKernel: number; droppedInterface: number; durationMs: number };

/**
 * Drop episodes: `update()` is called about once a second with the running
 * totals. An episode starts with the first new drop after a quiet period and
 * stops after `quietMs` without any.
 */
export class DropWatch {
  private last: CaptureCounters = { received: 0, droppedKernel: 0, droppedInterface: 0 };
  private lastAtMs: number;
  private inEpisode = false;
  private episodeStartMs = 0;
  private lastDropMs = 0;
  private episodeBase: CaptureCounters = { received: 0, droppedKernel: 0, droppedInterface: 0 };
  episodes = 0;

  constructor(
    private readonly quietMs: number,
    startMs: number,
  ) {
    this.lastAtMs = startMs;
  }

  update(c: CaptureCounters, nowMs: number): DropChange | null {
    const dk = c.droppedKernel - this.last.droppedKernel;
    const di = c.droppedInterface - this.last.droppedInterface;
    const dr = c.received - this.last.received;
    const windowMs = nowMs - this.lastAtMs;
    const before = this.last;
    this.last = { ...c };
    this.lastAtMs = nowMs;
    if (dk > 0 || di > 0) {
      this.lastDropMs = nowMs;
      if (!this.inEpisode) {
        this.inEpisode = true;
        this.episodes++;
        this.episodeStartMs = nowMs - windowMs;
        this.episodeBase = before;
        return { kind: 'started', droppedKernel: dk, droppedInterface: di, received: dr, windowMs };
      }
      return null;
    }
    if (this.inEpisode && nowMs - this.lastDropMs >= this.quietMs) {
      this.inEpisode = false;
      return {
        kind: 'stopped',
        droppedKernel: c.droppedKernel - this.episodeBase.droppedKernel,
        droppedInterface: c.droppedInterface - this.episodeBase.droppedInterface,
        durationMs: this.lastDropMs - this.episodeStartMs,
      };
    }
    return null;
  }
}

export function buildDropEvent(info: CaptureInfo, change: DropChange, totals: CaptureCounters, nowMs: number) {
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
      action: started ? 'capture_drops_started' : 'capture_drops_stopped',
    },
    log: { level: started ? 'warning' : 'info' },
    message,
    observer: observer(info),
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
