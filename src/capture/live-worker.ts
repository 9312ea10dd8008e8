/**
 * The live capture worker: libpcap → Sensor (the same pipeline as `read`),
 * with the periodic work of a long-running sensor.
 *
 *   1. open the capture (the process may still be root), say `opened`;
 *   2. wait for `start` (the main thread has dropped privileges by then), then
 *      create the Sensor, which opens the output as the unprivileged user;
 *   3. per frame: `Sensor.handle()`; every 1024 frames look at the control
 *      buffer and the clock, because under overload libpcap's dispatch loop
 *      does not return and timers do not fire;
 *   4. housekeeping (a 250 ms timer, or from the packet loop when it is due):
 *      control (stop, reopen), capture stats and drop warnings, idle expiry
 *      by the wall clock, interim events, stats events, output flush, metrics;
 *   5. stop: keep reading for one kernel block timeout (frames the kernel
 *      already holds), take the final pcap_stats, close the capture, end every
 *      flow as `interrupted`, write the final stats event, close the output,
 *      say `done`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeSync } from 'node:fs';
import { LiveCapture, libpcapVersion, linkTypeName, type CaptureCounters } from './live.js';
import { DropWatch, type CaptureInfo, type SensorCounters, type StatsSnapshot } from './live-stats.js';
import { C, END_REASONS, M, MAX_ANOMALY_SLOTS, SINK_STATES, sinkSlot, type LiveWorkerData, type MainMessage, type SinkState, type SinkTotals, type WorkerMessage } from './live-shared.js';
import type { PacketRecord } from './types.js';
import { Sensor } from '../cli/pipeline.js';
// The worker is where live output is written (it runs the Sensor), so it builds the health events too.
import { buildDropEvent, buildStatsEvent, newRunId, statsEventId } from '../output/schema.js';
import { Detector } from '../detect/index.js';
import { FLOW_CLOSED } from '../flow/index.js';
import type { SinkCounters } from '../output/sinks/types.js';
import { AnomalyCounters, anomalyDefinitions } from '../shared/anomalies.js';
import { TlsentryError } from '../shared/errors.js';

const TICK_MS = 250;
/** Capture stats, idle expiry, output flush. */
const SECOND_MS = 1000;

const port = parentPort!;
const d = workerData as LiveWorkerData;

// The shared slots hold every sink counter: a new `SinkCounters` field must get a slot (SINK_STATES) too.
const sinkStatesComplete: [Exclude<keyof SinkCounters, SinkState>] extends [never] ? true : never = true;
void sinkStatesComplete;

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

function log(line: string): void {
  try {
    writeSync(2, `tlsentry: ${line}\n`);
  } catch {
    // stderr closed
  }
}

function fail(err: unknown): void {
  const code = err instanceof TlsentryError ? err.code : 'ERR_INTERNAL';
  post({ type: 'error', code, message: err instanceof Error ? err.message : String(err) });
}

class LiveRunner {
  private readonly metrics: Float64Array;
  private readonly control: Int32Array;
  private readonly info: CaptureInfo;
  private readonly drops: DropWatch;
  private readonly startedMs = Date.now();
  /** `event.id` of stats and drop events: this run's id and a counter. */
  private readonly runId = newRunId();
  private healthSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private n = 0;
  private nextTickMs = 0;
  private nextSecondMs = 0;
  private nextStatsMs = Infinity;
  private nextInterimMs = Infinity;
  private readonly interimCheckMs: number;
  private prevStats: StatsSnapshot;
  private reopenSeen = 0;
  private anomalyCount = -1;
  private lastCapture: CaptureCounters = { received: 0, droppedKernel: 0, droppedInterface: 0 };
  private stopAtMs = Infinity;
  private stopping = false;
  private finished = false;
  private exitCode = 0;
  private readonly handle: (p: PacketRecord) => void;

  constructor(
    private readonly cap: LiveCapture,
    private readonly sensor: Sensor,
    private readonly counters: AnomalyCounters,
  ) {
    this.metrics = new Float64Array(d.metrics);
    this.control = new Int32Array(d.control);
    this.info = {
      iface: cap.iface,
      filter: cap.filter,
      snaplen: cap.snaplen,
      linkType: cap.linkType,
      bufferBytes: cap.bufferBytes,
      promisc: cap.promisc,
    };
    const statsMs = d.statsIntervalSec * 1000;
    this.drops = new DropWatch(Math.max(10_000, Math.min(statsMs || 60_000, 60_000)), this.startedMs);
    this.reopenSeen = Atomics.load(this.control, C.reopen);
    if (statsMs > 0) this.nextStatsMs = this.startedMs + statsMs;
    // Interim events are due at multiples of the interval from each flow's start:
    // looking every tenth of it (1 to 10 s) keeps them within 10% of due.
    const interimMs = d.interimIntervalSec * 1000;
    this.interimCheckMs = Math.min(10_000, Math.max(1000, interimMs / 10));
    if (interimMs > 0) this.nextInterimMs = this.startedMs + this.interimCheckMs;
    this.prevStats = { atMs: this.startedMs, capture: { ...this.lastCapture }, sensor: this.sensorCounters(), sinks: this.sensor.writer.sinkCounters() };
    const sn = this.sensor;
    this.handle = (p) => {
      try {
        sn.handle(p);
      } catch (err) {
        this.crash(err);
        return;
      }
      if ((++this.n & 1023) === 0 && (Atomics.load(this.control, C.stop) !== 0 || Date.now() >= this.nextTickMs)) this.tick();
    };
  }

  start(): void {
    const m = this.metrics;
    m[M.startedMs] = this.startedMs;
    m[M.linkType] = this.cap.linkType;
    m[M.captureOpen] = 1;
    this.publish(this.startedMs);
    this.cap.start(this.handle, (message) => {
      log(`error: ${message}`);
      this.exitCode = 1;
      this.requestStop(Date.now(), 0);
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    post({ type: 'running' });
  }

  /** Periodic work; also called from the packet loop when due. */
  tick(): void {
    if (this.finished) return;
    const now = Date.now();
    this.nextTickMs = now + TICK_MS;
    try {
      if (!this.stopping && Atomics.load(this.control, C.stop) !== 0) this.requestStop(now, this.cap.timeoutMs + 50);
      if (this.stopping) {
        if (now >= this.stopAtMs) this.finish();
        return;
      }
      const reopen = Atomics.load(this.control, C.reopen);
      if (reopen !== this.reopenSeen) {
        this.reopenSeen = reopen;
        try {
          this.sensor.reopenOutput();
          if (!d.quiet) log(`reopened ${this.sensor.writer.target}`);
        } catch (err) {
          log(`warning: ${(err as Error).message}; still writing to the old file`);
        }
      }
      if (now >= this.nextSecondMs) {
        this.nextSecondMs = now + SECOND_MS;
        this.everySecond(now);
      }
      if (now >= this.nextInterimMs) {
        this.nextInterimMs = now + this.interimCheckMs;
        this.sensor.interim(now * 1000, d.interimIntervalSec * 1e6);
      }
      if (now >= this.nextStatsMs) {
        this.nextStatsMs = now + d.statsIntervalSec * 1000;
        this.writeStats(now, false);
      }
      this.publish(now);
    } catch (err) {
      this.crash(err);
    }
  }

  private everySecond(now: number): void {
    this.lastCapture = this.cap.stats();
    const change = this.drops.update(this.lastCapture, now);
    if (change !== null) {
      const ev = buildDropEvent(this.info, change, this.lastCapture, now, statsEventId(this.runId, ++this.healthSeq));
      this.sensor.writer.write(ev);
      if (change.kind === 'started' || !d.quiet) log(`${change.kind === 'started' ? 'warning: ' : ''}${ev.message}`);
    }
    // Idle expiry by the wall clock too: with no packets the flow table's own
    // clock stands still. Two seconds behind, for frames still in the ring.
    this.sensor.table.sweep(now * 1000 - 2e6);
    this.sensor.writer.flush();
  }

  private sensorCounters(): SensorCounters {
    const s = this.sensor, t = s.table.stats;
    const summary = s.summary([], [], 1);
    return {
      packets: s.packets,
      bytes: s.bytes,
      tcpPackets: t.tcpPackets,
      truncated: this.cap.truncated,
      flowsActive: t.active,
      flowsCreated: t.flowsCreated,
      flowsEnded: t.flowsEnded,
      maxActive: t.maxActive,
      endReasons: { ...t.endReasons },
      tlsFlows: s.tlsFlows,
      certificates: summary.certificates,
      alerts: s.alerts,
      enrichment: summary.enrichment,
      eventsWritten: s.writer.written,
      interimEvents: s.interimEvents,
    };
  }

  private writeStats(now: number, final: boolean): void {
    const snap: StatsSnapshot = { atMs: now, capture: { ...this.lastCapture }, sensor: this.sensorCounters(), sinks: this.sensor.writer.sinkCounters() };
    // Count the stats event itself in events_written.
    snap.sensor.eventsWritten++;
    this.sensor.writer.write(buildStatsEvent(this.info, this.startedMs, this.prevStats, snap, this.counters.toObject(), final, statsEventId(this.runId, ++this.healthSeq)));
    this.prevStats = snap;
    this.metrics[M.statsEvents]++;
  }

  /** Numbers for the metrics endpoint (main thread). */
  private publish(now: number): void {
    const m = this.metrics, s = this.sensor, t = s.table.stats, c = this.lastCapture;
    m[M.heartbeatMs] = now;
    m[M.packets] = s.packets;
    m[M.bytes] = s.bytes;
    m[M.tcpPackets] = t.tcpPackets;
    m[M.truncated] = this.cap.truncated;
    m[M.capReceived] = c.received;
    m[M.capDroppedKernel] = c.droppedKernel;
    m[M.capDroppedInterface] = c.droppedInterface;
    m[M.flowsActive] = t.active;
    m[M.flowsCreated] = t.flowsCreated;
    m[M.flowsEnded] = t.flowsEnded;
    m[M.eventsWritten] = s.writer.written;
    m[M.interimEvents] = s.interimEvents;
    m[M.lastPacketMicros] = s.lastMicros;
    m[M.tlsFlows] = s.tlsFlows;
    m[M.dropEpisodes] = this.drops.episodes;
    m[M.alerts] = s.alerts;
    const lat = s.enrichmentStats()?.latencyMs;
    m[M.enrichP50] = lat?.p50 != null ? lat.p50 / 1000 : NaN;
    m[M.enrichP99] = lat?.p99 != null ? lat.p99 / 1000 : NaN;
    m[M.enrichMax] = lat?.max != null ? lat.max / 1000 : NaN;
    for (let i = 0; i < END_REASONS.length; i++) m[M.endReasons + i] = t.endReasons[END_REASONS[i]];
    this.publishSinks(s.writer.sinkCounters());
    const defs = anomalyDefinitions();
    const n = Math.min(defs.length, MAX_ANOMALY_SLOTS);
    m.set(this.counters.counts.subarray(0, n), M.anomalies);
    if (defs.length !== this.anomalyCount) {
      this.anomalyCount = defs.length;
      post({ type: 'anomalies', names: defs.slice(0, n).map((a) => a.name) });
    }
  }

  /** Each sink's counters into its slots (`sinkNames` order: sinks the main thread did not know of are left out). */
  private publishSinks(counters: Record<string, SinkTotals>): void {
    const m = this.metrics, names = d.sinkNames;
    for (let i = 0; i < names.length; i++) {
      const c = counters[names[i]];
      if (c === undefined) continue;
      for (let k = 0; k < SINK_STATES.length; k++) m[sinkSlot(i, k)] = c[SINK_STATES[k]] ?? NaN;
    }
  }

  /** Stop after `graceMs` more of reading (frames the kernel already holds). */
  private requestStop(now: number, graceMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopAtMs = now + graceMs;
    if (!d.quiet) {
      let open = 0;
      for (const f of this.sensor.table.activeFlows()) if (f.state !== FLOW_CLOSED) open++;
      log(`stopping: ${open} open flow(s) end as interrupted`);
    }
    // The capture keeps feeding frames until finish(), at the end of the grace period.
    if (graceMs === 0) this.finish();
    else setTimeout(() => this.tick(), graceMs);
  }

  private crash(err: unknown): void {
    if (this.stopping) return;
    log(`error: ${(err as Error)?.stack ?? String(err)}`);
    log('stopping after an internal error; open flows are written as interrupted');
    this.exitCode = 1;
    this.requestStop(Date.now(), 0);
  }

  /** Close the capture and end everything (asynchronously, off the packet loop). */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.cap.close();
    this.lastCapture = this.cap.stats(); // the totals taken when it closed
    this.metrics[M.captureOpen] = 0;
    // Leave the dispatch (we may be inside it) before the asynchronous part.
    setImmediate(() => void this.end());
  }

  private async end(): Promise<void> {
    const now = () => Date.now();
    let summary = null;
    try {
      await this.sensor.finish('interrupted', () => this.writeStats(now(), true));
      summary = this.sensor.summary([`live:${this.cap.iface}`], [], (now() - this.startedMs) / 1000);
    } catch (err) {
      log(`error: ${(err as Error).message}`);
      this.exitCode = 1;
    }
    this.publish(now());
    post({ type: 'done', exitCode: this.exitCode, summary, capture: this.lastCapture, truncated: this.cap.truncated });
  }
}

function main(): void {
  let cap: LiveCapture;
  try {
    cap = LiveCapture.open(d.capture);
  } catch (err) {
    fail(err);
    return;
  }
  post({ type: 'opened', linkType: cap.linkType, linkName: linkTypeName(cap.linkType), libpcap: libpcapVersion(), warnings: cap.warnings });
  let runner: LiveRunner | null = null;
  let starting = false;
  port.on('message', (m: MainMessage) => {
    if (m.type === 'wake') {
      runner?.tick(); // `control` changed (stop, reopen)
      return;
    }
    if (starting) return;
    starting = true;
    void start(cap).then(
      (r) => {
        runner = r;
        r.start();
      },
      (err) => {
        cap.close();
        fail(err);
      },
    );
  });
}

/** The Sensor (and its detector), as the unprivileged user: files are opened as it. */
async function start(cap: LiveCapture): Promise<LiveRunner> {
  const counters = new AnomalyCounters();
  const o = d.sensor;
  // A Buffer crosses to the worker as a plain Uint8Array.
  const endpoint = o.endpoint ? { ...o.endpoint, ca: o.endpoint.ca !== undefined ? Buffer.from(o.endpoint.ca) : undefined } : null;
  const detector = o.detect ? await Detector.open(o.detect.config, { baseline: o.detect.baseline, learn: o.detect.learn, counters }) : null;
  try {
    return new LiveRunner(cap, new Sensor({ ...o, endpoint, detector, appendOutput: true }, counters), counters);
  } catch (err) {
    await detector?.close();
    throw err;
  }
}

main();
