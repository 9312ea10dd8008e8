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

const require = createRequire(import.meta.url);

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

/** Endpoint and detection settings shared by `read` (and `live`). */
export function analysisFromFlags(o: {
  endpoint?: string;
  endpointTokenFile?: string;
  endpointCa?: string;
  endpointTimeout?: number;
  config?: string;
  baseline?: string;
  detect?: boolean;
  learn?: boolean;
}): { endpoint: EnricherOptions | null; detect: { config: DetectConfig; baseline?: string; learn?: boolean } | null } {
  let endpoint: EnricherOptions | null = null;
  if (o.endpoint !== undefined) {
    if (o.endpointTokenFile === undefined) throw new TlsentryError('ERR_USAGE', '--endpoint needs --endpoint-token-file');
    let token: string;
    try {
      token = readFileSync(o.endpointTokenFile, 'utf8').trim();
    } catch (e) {
      throw new TlsentryError('ERR_CONFIG', `cannot read ${o.endpointTokenFile}: ${(e as Error).message}`, { cause: e });
    }
    endpoint = { url: o.endpoint, token, timeoutMs: o.endpointTimeout, ca: o.endpointCa !== undefined ? readFileSync(o.endpointCa) : undefined };
  }
  const wantDetect = o.detect === true || o.learn === true || o.baseline !== undefined || o.config !== undefined;
  const detect = wantDetect
    ? { config: loadConfig(o.config), baseline: o.baseline, learn: o.learn === true }
    : null;
  return { endpoint, detect };
}

/** Adds the endpoint and detection options to a command. */
export function addAnalysisOptions(c: Command): Command {
  return c
    .option('--endpoint <url>', 'endpoint API of a tlsentry agent (or compatible) that attributes flows to processes')
    .option('--endpoint-token-file <file>', 'bearer token for --endpoint')
    .option('--endpoint-ca <file>', 'CA certificate (PEM) of an HTTPS agent with a private CA')
    .option('--endpoint-timeout <ms>', 'per-request timeout of the endpoint API', positiveInt('--endpoint-timeout'), 2000)
    .option('-c, --config <file>', 'YAML or JSON configuration: its detect: section (thresholds, weights, allow-lists, learning period, baseline)')
    .option('-b, --baseline <path|url>', 'AN0759 baseline: SQLite file or postgres://user@host:port/db (turns detection on)')
    .option('--detect', 'AN0759 detection with the configured (or default) baseline')
    .option('--learn', 'learn mode: update the baseline, raise no alerts');
}


function loadConfig(path: string | undefined): DetectConfig {
  // Synchronous, on demand: require() of the ES module (Node >= 20.19).
  const detect = require('../detect/index.js') as typeof import('../detect/index.js');
  return path !== undefined ? detect.loadDetectConfig(path) : detect.defaultDetectConfig;
}
