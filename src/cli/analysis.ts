/**
 * Endpoint enrichment and AN0759 detection options, shared by `read` and
 * `live`. The detect module (zod, yaml, SQLite and PostgreSQL clients) is
 * loaded only when detection is asked for.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Command, InvalidArgumentError } from 'commander';
import { TlsentryError } from '../shared/errors.js';
import type { EnricherOptions } from '../enrich/index.js';
import type { DetectConfig } from '../detect/index.js';
import type { ReadOptions } from './pipeline.js';
import { parseCaBundleArg, type CaBundleSpec } from '../x509/index.js';
import { outputConfig, type OutputConfig } from '../output/sinks/config.js';
import { describeSinks } from '../output/writer.js';
import { dirname, resolve } from 'node:path';

const require = createRequire(import.meta.url);

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

/** The sensor flags `read` and `live` share (commander's camel-cased option values). */
export interface SensorFlags {
  maxFlows: number;
  idleTimeout: number;
  tls: boolean;
  x509: boolean;
  caBundle: string[];
  defaultTrust: boolean;
  systemTrust?: boolean;
  intermediateCache?: boolean;
  aboutToExpireDays: number;
  ja4sFoxioLicense?: boolean;
  endpoint?: string;
  endpointTokenFile?: string;
  endpointCa?: string;
  endpointTimeout?: number;
  config?: string;
  baseline?: string;
  detect?: boolean;
  learn?: boolean;
  /** `--sink` specs (repeatable), `--spool-dir`, `--sink-drain-timeout` (seconds). */
  sink?: string[];
  spoolDir?: string;
  sinkDrainTimeout?: number;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Flow-table, TLS, certificate, endpoint and detection options, shared by `read` and `live`. */
export function addSensorOptions(c: Command): Command {
  c.option('--max-flows <n>', 'flows tracked at once before the least recently active is evicted', positiveInt('--max-flows'), 131072)
    .option('--idle-timeout <seconds>', 'end a flow after this many seconds without packets', positiveInt('--idle-timeout'), 300)
    .option('--no-tls', 'no TLS analysis (flows only)')
    .option('--no-x509', 'no certificate analysis')
    .option('--ca-bundle <file[=tag]>', 'also trust the CAs in this PEM file; tag enterprise_pki (default) or tls_inspection (repeatable)', collect, [])
    .option('--no-default-trust', "do not trust Node's bundled Mozilla roots")
    .option('--system-trust', "also trust the operating system's CA store")
    .option('--intermediate-cache', 'let intermediates seen on other connections complete a chain (verdicts say so)')
    .option('--about-to-expire-days <n>', 'about_to_expire anomaly threshold', positiveInt('--about-to-expire-days'), 30)
    .option('--ja4s-foxio-license', 'also compute JA4S: licensed under the FoxIO License 1.1 (internal use only; commercial use needs a licence from FoxIO)')
    .option(
      '--sink <spec>',
      'also send events to: - (stdout), file:PATH[?max_bytes=100MB&interval=1h], syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT?ca=CA.pem, splunk-hec+https://…?token_file=F, elasticsearch+https://…; repeatable',
      collect,
      [],
    )
    .option('--spool-dir <dir>', 'where network sinks keep events the SIEM has not taken yet (one directory per sink)')
    .option('--sink-drain-timeout <seconds>', 'at exit, wait this long for network sinks to deliver, then leave the rest spooled', nonNegativeInt('--sink-drain-timeout'));
  return addAnalysisOptions(c);
}

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number of seconds`);
    return n;
  };
}

/**
 * The sinks of a run (`-o`, `--sink`, the configuration file's `output:`),
 * and how the summary names them. Certificate files are read now, before
 * privileges are dropped.
 */
export function sinksFromFlags(f: SensorFlags & { output?: string }): { output: string; sinks: OutputConfig } {
  const sinks = outputConfig({ output: f.output, sink: f.sink, spoolDir: f.spoolDir, sinkDrainTimeout: f.sinkDrainTimeout, config: f.config });
  return { output: describeSinks(sinks), sinks };
}

/** The `Sensor` options those flags (and the configuration file they name) give. */
export function sensorOptionsFromFlags(f: SensorFlags): Pick<ReadOptions, 'maxFlows' | 'idleTimeoutSec' | 'tls' | 'x509' | 'endpoint' | 'detect'> {
  const analysis = analysisFromFlags(f);
  return {
    endpoint: analysis.endpoint,
    detect: analysis.detect,
    maxFlows: f.maxFlows,
    idleTimeoutSec: f.idleTimeout,
    tls: f.tls ? { ja4sFoxioLicense: f.ja4sFoxioLicense === true } : false,
    x509: f.x509
      ? {
          defaultTrust: f.defaultTrust,
          systemTrust: f.systemTrust === true,
          bundles: [...analysis.caBundles, ...f.caBundle.map((a) => parseCaBundleArg(a))],
          intermediateCache: f.intermediateCache === true,
          aboutToExpireDays: f.aboutToExpireDays,
        }
      : false,
  };
}

/** Endpoint and detection settings shared by `read` (and `live`). */
export function analysisFromFlags(o: Pick<SensorFlags, 'endpoint' | 'endpointTokenFile' | 'endpointCa' | 'endpointTimeout' | 'config' | 'baseline' | 'detect' | 'learn'>): {
  endpoint: EnricherOptions | null;
  detect: { config: DetectConfig; baseline?: string; learn?: boolean } | null;
  /** Trust bundles from the configuration file (`x509.ca_bundles`), before any --ca-bundle. */
  caBundles: CaBundleSpec[];
} {
  const file = o.config !== undefined ? loadSensorConfig(o.config) : null;
  // Command-line flags win over the configuration file.
  const url = o.endpoint ?? file?.endpoint?.url;
  const tokenFile = o.endpointTokenFile ?? file?.endpoint?.token_file;
  const caFile = o.endpointCa ?? file?.endpoint?.ca_file;
  let endpoint: EnricherOptions | null = null;
  if (url !== undefined) {
    if (tokenFile === undefined) throw new TlsentryError('ERR_USAGE', '--endpoint needs --endpoint-token-file (or endpoint.token_file)');
    let token: string;
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      throw new TlsentryError('ERR_CONFIG', `cannot read ${tokenFile}: ${(e as Error).message}`, { cause: e });
    }
    endpoint = { url, token, timeoutMs: o.endpointTimeout ?? file?.endpoint?.timeout_ms, ca: caFile !== undefined ? readFileSync(caFile) : undefined };
  }
  const wantDetect = o.detect === true || o.learn === true || o.baseline !== undefined || file?.hasDetect === true;
  const detect = wantDetect
    ? { config: loadConfig(o.config), baseline: o.baseline, learn: o.learn === true }
    : null;
  return { endpoint, detect, caBundles: file?.caBundles ?? [] };
}

interface SensorConfigFile {
  endpoint?: { url?: string; token_file?: string; ca_file?: string; timeout_ms?: number };
  caBundles: CaBundleSpec[];
  hasDetect: boolean;
}

/**
 * The sensor's own sections of the configuration file, validated with zod
 * (an error names the key): `endpoint: { url, token_file, ca_file, timeout_ms }`
 * and `x509: { ca_bundles: [ "corp.pem=enterprise_pki" | { path, tag } ] }`.
 * Relative paths are relative to the file. The `detect:` section is the
 * detector's (src/detect/config.ts).
 */
export function loadSensorConfig(path: string): SensorConfigFile {
  const { z } = require('zod') as typeof import('zod');
  const { parse } = require('yaml') as typeof import('yaml');
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${path}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const tag = z.enum(['enterprise_pki', 'tls_inspection']);
  const schema = z.looseObject({
    endpoint: z
      .strictObject({ url: z.string().url(), token_file: z.string().optional(), ca_file: z.string().optional(), timeout_ms: z.number().int().positive().optional() })
      .optional(),
    x509: z.strictObject({ ca_bundles: z.array(z.union([z.string(), z.strictObject({ path: z.string(), tag: tag.default('enterprise_pki') })])).default([]) }).optional(),
  });
  const r = schema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TlsentryError('ERR_CONFIG', `${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  const here = dirname(path);
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(here, p));
  const caBundles = (r.data.x509?.ca_bundles ?? []).map((b) => {
    const spec = typeof b === 'string' ? parseCaBundleArg(b) : { path: b.path, tag: b.tag };
    return { ...spec, path: resolve(here, spec.path) };
  });
  const ep = r.data.endpoint;
  return {
    endpoint: ep ? { ...ep, token_file: abs(ep.token_file), ca_file: abs(ep.ca_file) } : undefined,
    caBundles,
    hasDetect: typeof doc === 'object' && doc !== null && 'detect' in doc,
  };
}

/** Adds the endpoint and detection options to a command. */
export function addAnalysisOptions(c: Command): Command {
  return c
    .option('--endpoint <url>', 'endpoint API of a tlsentry agent (or compatible) that attributes flows to processes')
    .option('--endpoint-token-file <file>', 'bearer token for --endpoint')
    .option('--endpoint-ca <file>', 'CA certificate (PEM) of an HTTPS agent with a private CA')
    .option('--endpoint-timeout <ms>', 'per-request timeout of the endpoint API', positiveInt('--endpoint-timeout'), 2000)
    .option('-c, --config <file>', 'YAML or JSON configuration: endpoint:, x509: (ca_bundles) and detect: (thresholds, weights, allow-lists, learning period, baseline)')
    .option('-b, --baseline <path|url>', 'AN0759 baseline: SQLite file or postgres://user@host:port/db (turns detection on)')
    .option('--detect', 'AN0759 detection with the configured (or default) baseline')
    .option('--learn', 'learn mode: update the baseline, raise no alerts');
}


function loadConfig(path: string | undefined): DetectConfig {
  // Synchronous, on demand: require() of the ES module (Node >= 20.19).
  const detect = require('../detect/index.js') as typeof import('../detect/index.js');
  return path !== undefined ? detect.loadDetectConfig(path) : detect.defaultDetectConfig;
}
