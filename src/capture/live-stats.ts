/**
 * Facts for the capture health events of live capture (`tlsentry.stats`):
 * the counters a stats event reports (`StatsSnapshot`) and the drop episodes
 * a warning is written for (`DropWatch`). The events themselves are built in
 * src/output/schema.ts (`buildStatsEvent`, `buildDropEvent`), with every other
 * event shape; capture does not depend on output.
 */
import type { CaptureCounters } from './live.js';
import type { SinkTotals } from './live-shared.js';

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
  /** Each sink's delivery counters, by sink name (totals since start; `pending` now). */
  sinks: Record<string, SinkTotals>;
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
