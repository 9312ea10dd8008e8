/**
 * Prometheus endpoint of live capture (prom-client), served by the main
 * thread from numbers the capture worker publishes in shared memory
 * (`capture/live-shared.ts`), so a scrape never waits for the packet loop.
 *
 *   GET /metrics  Prometheus text format
 *   GET /healthz  200 while the capture is open and the worker has reported
 *                 within the last 5 s; 503 otherwise (JSON body either way)
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { END_REASONS, M, SINK_STATES, sinkSlot } from '../capture/live-shared.js';
import { TlsentryError } from '../shared/errors.js';

export const HEALTH_STALE_MS = 5000;

export interface MetricsSource {
  /** The shared metrics buffer (`M` slots). */
  values: Float64Array;
  /** Anomaly names by counter id (from the worker). */
  anomalyNames(): readonly string[];
  /** Output sinks, in the order of their slots (`sinkSlot`). */
  sinkNames: readonly string[];
  iface: string;
  /** `starting`, `running`, `stopping`. */
  state(): string;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TlsentryError('ERR_USAGE', `--metrics wants HOST:PORT (127.0.0.1:9464, [::1]:9464, :9464 for every address), not ${text}`);
  }
  return { host: m[1] ?? (m[2] || '::'), port };
}

/** The registry: tlsentry_* metrics plus prom-client's process and Node.js defaults. */
export function buildRegistry(src: MetricsSource): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  const v = src.values;
  const counter = (name: string, help: string, slot: number) =>
    new Counter({
      name,
      help,
      registers: [reg],
      collect() {
        this.reset();
        this.inc(v[slot] || 0);
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [reg],
      collect() {
        this.set(read());
      },
    });
  /** Series by label values, made afresh at every scrape: `fill` calls `put(labelValues, n)` for each (a counter's total, a gauge's value). */
  type Fill = (put: (labels: string[], n: number) => void) => void;
  const counterBy = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [reg],
      collect() {
        this.reset();
        fill((labels, n) => this.labels(...labels).inc(n));
      },
    });
  const gaugeBy = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [reg],
      collect() {
        this.reset();
        fill((labels, n) => this.labels(...labels).set(n));
      },
    });

  counter('tlsentry_packets_total', 'Frames the sensor processed', M.packets);
  counter('tlsentry_bytes_total', 'Captured bytes the sensor processed (sum of caplen)', M.bytes);
  counter('tlsentry_tcp_packets_total', 'TCP segments accounted to flows', M.tcpPackets);
  counter('tlsentry_capture_received_packets_total', 'Packets the kernel passed through the filter, dropped ones included (pcap_stats ps_recv)', M.capReceived);
  counterBy(
    'tlsentry_capture_dropped_packets_total',
    'Packets dropped before the sensor saw them: by="kernel" the capture ring was full (ps_drop), by="interface" the NIC or driver (ps_ifdrop)',
    ['by'],
    (put) => {
      put(['kernel'], v[M.capDroppedKernel] || 0);
      put(['interface'], v[M.capDroppedInterface] || 0);
    },
  );
  counter('tlsentry_capture_truncated_frames_total', 'Frames cut by the snap length', M.truncated);
  gauge('tlsentry_capture_up', '1 while the capture is open', () => v[M.captureOpen] || 0);
  gauge('tlsentry_last_packet_timestamp_seconds', 'Capture time of the newest frame (0 before the first)', () => (v[M.lastPacketMicros] || 0) / 1e6);
  counter('tlsentry_capture_drop_episodes_total', 'Times the capture started dropping after a quiet period (a warning event each)', M.dropEpisodes);
  gauge('tlsentry_flows_active', 'TCP flows tracked now', () => v[M.flowsActive] || 0);
  counter('tlsentry_flows_total', 'TCP flows seen', M.flowsCreated);
  counterBy('tlsentry_flows_ended_total', 'TCP flows ended, by end reason', ['reason'], (put) =>
    END_REASONS.forEach((r, i) => put([r], v[M.endReasons + i] || 0)),
  );
  counter('tlsentry_tls_flows_total', 'Flows in which TLS was detected', M.tlsFlows);
  counter('tlsentry_alerts_total', 'AN0759 alert events (with --detect or --baseline)', M.alerts);
  counter('tlsentry_events_written_total', 'Events written to the output (flow, x509, interim, stats)', M.eventsWritten);
  counter('tlsentry_interim_events_total', 'Interim events of long flows', M.interimEvents);
  counter('tlsentry_stats_events_total', 'Capture stats events', M.statsEvents);
  counterBy('tlsentry_anomalies_total', 'Named anomaly counters (tlsentry anomalies lists them)', ['name'], (put) =>
    src.anomalyNames().forEach((name, i) => {
      const n = v[M.anomalies + i];
      if (n > 0) put([name], n);
    }),
  );
  // Every state of every sink, zeros included: an alert on state="dropped" needs the series before the first drop.
  const PENDING = SINK_STATES.indexOf('pending');
  counterBy(
    'tlsentry_sink_events_total',
    'Events per output sink and state: queued (handed to the sink), spooled (went through the disk spool), delivered (the SIEM has them), ' +
      'retried (delivery attempts repeated, per event), rejected (refused for good, dead-lettered), dropped (lost: the spool was full), ' +
      'skipped (format: ocsf sinks only: events with no OCSF form, not sent)',
    ['sink', 'state'],
    (put) =>
      src.sinkNames.forEach((sink, i) => {
        SINK_STATES.forEach((state, k) => {
          const n = v[sinkSlot(i, k)];
          // NaN: the sink has no such counter (skipped without format: ocsf).
          if (k !== PENDING && !Number.isNaN(n)) put([sink, state], n || 0);
        });
      }),
  );
  gaugeBy('tlsentry_sink_pending_events', 'Events waiting for delivery per output sink now (memory queue and disk spool)', ['sink'], (put) =>
    src.sinkNames.forEach((sink, i) => put([sink], v[sinkSlot(i, PENDING)] || 0)),
  );
  gaugeBy(
    'tlsentry_enrichment_latency_seconds',
    'Round-trip time of endpoint-agent attribution requests (quantile 1 = max); no series without --endpoint or before the first answer',
    ['quantile'],
    (put) => {
      for (const [q, slot] of [['0.5', M.enrichP50], ['0.99', M.enrichP99], ['1', M.enrichMax]] as const) {
        if (Number.isFinite(v[slot])) put([q], v[slot]);
      }
    },
  );
  gaugeBy('tlsentry_capture_info', 'Capture interface and link type (value 1)', ['interface', 'link_type'], (put) => put([src.iface, String(v[M.linkType] || 0)], 1));
  return reg;
}

export function health(src: MetricsSource, nowMs = Date.now()): { ok: boolean; body: Record<string, unknown> } {
  const v = src.values;
  const age = v[M.heartbeatMs] > 0 ? nowMs - v[M.heartbeatMs] : null;
  const open = v[M.captureOpen] === 1;
  const ok = open && src.state() === 'running' && age !== null && age < HEALTH_STALE_MS;
  return {
    ok,
    body: {
      status: ok ? 'ok' : 'unhealthy',
      state: src.state(),
      interface: src.iface,
      capture_open: open,
      heartbeat_age_ms: age,
      packets: v[M.packets] || 0,
      dropped_kernel: v[M.capDroppedKernel] || 0,
      dropped_interface: v[M.capDroppedInterface] || 0,
    },
  };
}

/** Listen on `listen` (HOST:PORT); resolves once bound. */
export async function startMetricsServer(listen: string, src: MetricsSource): Promise<Server> {
  const { host, port } = parseListen(listen);
  const reg = buildRegistry(src);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      reg.metrics().then(
        (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    } else if (path === '/healthz') {
      const h = health(src);
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h.body) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TlsentryError('ERR_USAGE', `--metrics ${listen}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  return server;
}
