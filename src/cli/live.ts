/**
 * `tlsentry live`: the `read` pipeline (the Sensor) fed from libpcap.
 *
 * Threads: the capture and the Sensor run in a worker (`capture/live-worker.ts`)
 * because libpcap's dispatch loop keeps its thread busy for as long as the ring
 * has frames. This (main) thread handles what must answer under any load:
 * signals, the privilege drop and the metrics endpoint. They share numbers and
 * a control word in SharedArrayBuffers (`capture/live-shared.ts`).
 *
 * Startup: metrics server (may bind a low port) → worker opens the capture →
 * drop to `--user` → worker opens the output and starts reading.
 * SIGINT/SIGTERM: every open flow is written (end reason `interrupted`), then a
 * final stats event; exit 0. A second one exits at once (exit 1).
 * SIGHUP: the output file is reopened (after logrotate moved it).
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import type { Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { Command, InvalidArgumentError, Option } from 'commander';
import { C, CONTROL_SLOTS, SINK_STATES, liveSinkNames, metricsSlots, sinkSlot, type LiveWorkerData, type MainMessage, type WorkerMessage } from '../capture/live-shared.js';
import { DEFAULT_BUFFER_BYTES, DEFAULT_SNAPLEN, DEFAULT_TIMEOUT_MS, type CaptureCounters } from '../capture/live.js';
import { TlsentryError } from '../shared/errors.js';
import { formatSummary } from './summary.js';
import { startMetricsServer } from './metrics.js';
import { addSensorOptions, sensorOptionsFromFlags, sinksFromFlags, type SensorFlags } from './analysis.js';
import { dropPrivileges, handleSignals } from './service.js';
import type { RunSummary } from './pipeline.js';

export const DEFAULT_STATS_INTERVAL_SEC = 60;
export const DEFAULT_INTERIM_INTERVAL_SEC = 600;

export interface LiveOptions {
  iface: string;
  filter: string;
  output: string;
  snaplen: number;
  bufferMiB: number;
  promisc: boolean;
  timeoutMs: number;
  statsIntervalSec: number;
  interimIntervalSec: number;
  user: string;
  metrics: string | null;
  quiet: boolean;
  sensor: LiveWorkerData['sensor'];
}

function log(line: string): void {
  process.stderr.write(`tlsentry: ${line}\n`);
}

/** The worker: the compiled `.js`, or the `.ts` source under tsx (tests, development). */
function spawnCaptureWorker(data: LiveWorkerData): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? '../capture/live-worker.ts' : '../capture/live-worker.js', import.meta.url);
  if (!ts) return new Worker(entry, { workerData: data });
  // Node 20 does not run --import hooks for a worker's entry: register tsx inside it.
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: data });
}

/** Runs until stopped; resolves with the exit code. */
export async function runLive(o: LiveOptions): Promise<number> {
  // Sink names are known now (the output configuration): their counters get slots after the fixed ones.
  const sinkNames = liveSinkNames(o.sensor);
  const metricsBuf = new SharedArrayBuffer(metricsSlots(sinkNames.length) * 8);
  const controlBuf = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const values = new Float64Array(metricsBuf);
  // No `skipped` series until the worker says a sink has that counter (format: ocsf).
  sinkNames.forEach((_, i) => (values[sinkSlot(i, SINK_STATES.indexOf('skipped'))] = NaN));
  const control = new Int32Array(controlBuf);
  let state: 'starting' | 'running' | 'stopping' = 'starting';
  let anomalyNames: readonly string[] = [];
  const info = (line: string) => {
    if (!o.quiet) log(line);
  };

  let server: Server | null = null;
  if (o.metrics !== null) {
    server = await startMetricsServer(o.metrics, { values, anomalyNames: () => anomalyNames, sinkNames, iface: o.iface, state: () => state });
    const a = server.address();
    info(`metrics on http://${typeof a === 'object' && a !== null ? (a.family === 'IPv6' ? `[${a.address}]` : a.address) + ':' + a.port : o.metrics}/metrics and /healthz`);
  }

  const data: LiveWorkerData = {
    capture: {
      iface: o.iface,
      filter: o.filter,
      snaplen: o.snaplen,
      bufferBytes: o.bufferMiB * 1024 * 1024,
      promisc: o.promisc,
      timeoutMs: o.timeoutMs,
    },
    sensor: o.sensor,
    statsIntervalSec: o.statsIntervalSec,
    interimIntervalSec: o.interimIntervalSec,
    metrics: metricsBuf,
    control: controlBuf,
    sinkNames,
    quiet: o.quiet,
  };
  const worker = spawnCaptureWorker(data);
  const send = (m: MainMessage) => worker.postMessage(m);

  return new Promise<number>((resolve) => {
    let settled = false;
    let started = false;
    const settle = (code: number) => {
      if (settled) return;
      settled = true;
      removeSignals();
      if (server !== null) {
        server.closeAllConnections();
        server.close();
      }
      resolve(code);
    };
    const removeSignals = handleSignals({
      stop(sig, again) {
        if (again) {
          log(`${sig} again: exiting now; open flows are not written`);
          void worker.terminate();
          settle(1);
          return;
        }
        if (!started) {
          info(`${sig} before the capture started`);
          void worker.terminate();
          settle(0);
          return;
        }
        info(`${sig}: stopping`);
        state = 'stopping';
        Atomics.store(control, C.stop, 1);
        send({ type: 'wake' });
      },
      reopen() {
        Atomics.add(control, C.reopen, 1);
        send({ type: 'wake' });
      },
    });

    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'opened': {
          const c = data.capture;
          info(
            `live capture on ${o.iface} (${m.linkName}), snaplen ${c.snaplen}, buffer ${o.bufferMiB} MiB, ${c.promisc ? 'promiscuous' : 'not promiscuous'}` +
              `${c.filter ? `, filter "${c.filter}"` : ''}; ${m.libpcap}`,
          );
          try {
            const r = dropPrivileges(o.user);
            info(r.dropped ? `dropped privileges to ${r.user.name} (uid ${r.user.uid}, gid ${r.user.gid})` : `privileges: ${r.reason}`);
            checkReadable(o.sensor);
          } catch (err) {
            log(err instanceof TlsentryError ? `${err.code}: ${err.message}` : String(err));
            void worker.terminate();
            settle(2);
            return;
          }
          started = true;
          send({ type: 'start' });
          break;
        }
        case 'running':
          if (state === 'starting') state = 'running';
          info(`writing events to ${o.output === '-' ? 'standard output' : o.output}`);
          break;
        case 'anomalies':
          anomalyNames = m.names;
          break;
        case 'error':
          log(`${m.code}: ${m.message}`);
          void worker.terminate();
          settle(m.code.startsWith('ERR_') && m.code !== 'ERR_INTERNAL' ? 2 : 1);
          break;
        case 'done':
          if (!o.quiet) process.stderr.write(formatLiveSummary(o.iface, m.summary, m.capture, m.truncated) + '\n');
          void worker.terminate();
          settle(m.exitCode);
          break;
      }
    });
    worker.on('error', (err) => {
      log(`capture worker failed: ${err.stack ?? err.message}`);
      settle(1);
    });
    worker.on('exit', (code) => {
      if (!settled) {
        log(`capture worker exited (${code}) before finishing`);
        settle(1);
      }
    });
  });
}

/** Files the worker reads later (as the unprivileged user) must be readable now. */
function checkReadable(sensor: LiveWorkerData['sensor']): void {
  const x = sensor.x509;
  if (!x || !x.bundles) return;
  for (const b of x.bundles) {
    try {
      accessSync(b.path, fsConstants.R_OK);
    } catch (err) {
      throw new TlsentryError('ERR_USAGE', `--ca-bundle ${b.path} is not readable after dropping privileges: ${(err as Error).message}`);
    }
  }
}

export function formatLiveSummary(iface: string, s: RunSummary | null, c: CaptureCounters, truncated: number): string {
  const pct = (n: number) => (c.received === 0 ? '0' : ((n / c.received) * 100).toFixed(n === 0 ? 0 : 3));
  const capture =
    `  capture    ${c.received} received by the filter, ${c.droppedKernel} dropped by the kernel (${pct(c.droppedKernel)}%), ` +
    `${c.droppedInterface} by the interface${truncated > 0 ? `, ${truncated} frames cut by the snap length` : ''}`;
  if (s === null) return `tlsentry: live capture on ${iface}\n${capture}`;
  return formatSummary(s).replace(/^tlsentry: read .*$/m, `tlsentry: live capture on ${iface}, ${s.elapsedSec.toFixed(1)} s\n${capture}`);
}

// --- command line ----------------------------------------------------------


function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

interface LiveFlags extends SensorFlags {
  interface: string;
  filter?: string;
  output?: string;
  snaplen: number;
  bufferSize: number;
  promisc: boolean;
  bufferTimeout: number;
  statsInterval: number;
  interimInterval: number;
  user: string;
  metrics?: string;
  quiet?: boolean;
}

/** Registers `tlsentry live` on the program. */
export function liveCommand(program: Command): Command {
  const live = program
    .command('live')
    .description('capture from a network interface (libpcap) and analyse as `read` does, until SIGINT/SIGTERM')
    .argument('[filter...]', 'BPF filter, as tcpdump takes it (or -f)')
    .requiredOption('-i, --interface <name>', 'interface to capture on (a SPAN or TAP port; "any" for all)')
    .option('-f, --filter <bpf>', 'BPF filter expression (pcap-filter(7))')
    .option('-o, --output <file>', 'append events to FILE (NDJSON; SIGHUP reopens it) instead of standard output (- for standard output)')
    .option('--snaplen <bytes>', 'bytes kept per frame (the default never truncates: loopback frames reach 64 KiB)', intArg('--snaplen', 64, 262144), DEFAULT_SNAPLEN)
    .option('--buffer-size <MiB>', 'kernel capture ring size', intArg('--buffer-size', 1, 2047), DEFAULT_BUFFER_BYTES / (1024 * 1024))
    .option('--no-promisc', 'do not put the interface into promiscuous mode')
    .addOption(
      new Option('--buffer-timeout <ms>', 'how long the kernel may hold a partly filled block (0: immediate mode)')
        .argParser(intArg('--buffer-timeout', 0, 10_000))
        .default(DEFAULT_TIMEOUT_MS),
    )
    .option('--stats-interval <seconds>', 'capture stats event every N seconds (0: only at exit)', intArg('--stats-interval', 0), DEFAULT_STATS_INTERVAL_SEC)
    .option('--interim-interval <seconds>', 'interim event for a flow open this long, and again every N seconds (0: none)', intArg('--interim-interval', 0), DEFAULT_INTERIM_INTERVAL_SEC)
    .option('--user <name>', 'when started as root, become this user once the capture is open', 'nobody')
    .option('--metrics <host:port>', 'serve Prometheus /metrics and /healthz on HOST:PORT')
    .option('-q, --quiet', 'only warnings and errors on standard error');
  // Flow, TLS, certificate, endpoint and detection options as for `read`. Token and CA files
  // are read here, before privileges are dropped; a baseline file is opened after (as --user).
  addSensorOptions(live);
  return live.action(async (words: string[], f: LiveFlags) => {
    if (f.filter !== undefined && words.length > 0) throw new TlsentryError('ERR_USAGE', 'give the BPF filter either with -f or as arguments, not both');
    const out = sinksFromFlags(f);
    const code = await runLive({
      iface: f.interface,
      filter: f.filter ?? words.join(' '),
      output: out.output,
      snaplen: f.snaplen,
      bufferMiB: f.bufferSize,
      promisc: f.promisc,
      timeoutMs: f.bufferTimeout,
      statsIntervalSec: f.statsInterval,
      interimIntervalSec: f.interimInterval,
      user: f.user,
      metrics: f.metrics ?? null,
      quiet: f.quiet === true,
      sensor: { ...sensorOptionsFromFlags(f), ...out },
    });
    // Nothing else to wait for: the capture socket goes with the process.
    process.exit(code);
  });
}
