/**
 * Sink configuration: the `output:` section of the configuration file and the
 * repeatable `--sink SPEC` flag, validated with zod (an error names the key).
 *
 *   output:
 *     sinks:
 *       - { type: file, path: /var/log/tlsentry/events.ndjson, rotate: { max_bytes: 100MB, interval: 1h } }
 *       - { type: stdout }
 *       - { type: syslog, url: tls://siem.example:6514, ca_file: ca.pem }
 *       - { type: splunk_hec, url: https://splunk:8088, token_file: hec.token }
 *       - { type: elasticsearch, url: https://es:9200, api_key_file: es.key }
 *     spool: { dir: /var/lib/tlsentry/spool, max_bytes: 1GB }
 *     queue: { max_records: 10000, max_bytes: 32MB }
 *     drain_timeout: 30
 *
 * Any sink may say `format: ocsf` (flow events as OCSF Network Activity, the
 * others skipped: ocsf-format.ts); `ecs` is the default.
 *
 *   --sink -                                            standard output
 *   --sink file:///var/log/tlsentry/events.ndjson?max_bytes=100MB&interval=1h
 *   --sink file:events.ndjson                           (relative path)
 *   --sink syslog+tcp://127.0.0.1:514
 *   --sink 'syslog+tls://siem:6514?ca=ca.pem&cert=c.pem&key=k.pem&servername=siem.example'
 *   --sink 'splunk-hec+https://splunk:8088?token_file=hec.token&index=main'
 *   --sink 'elasticsearch+https://es:9200?api_key_file=es.key&index=tlsentry-events'
 *
 * Query parameters are the config keys (`ca`, `cert`, `key` are short for
 * `ca_file`, `cert_file`, `key_file`); numbers and booleans are converted.
 * Sizes take K/M/G suffixes (powers of 1024), intervals s/m/h/d. Relative
 * paths are relative to the configuration file (flags: the working directory).
 * Certificate, key, token, API key and password files are read here, before
 * privileges are dropped.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TlsentryError } from '../../shared/errors.js';
import type { QueueLimits } from './queue.js';

const require = createRequire(import.meta.url);

export type SinkSpec = (
  | { type: 'file'; name: string; path: string; rotate: { maxBytes?: number; intervalSec?: number } }
  | { type: 'stdout'; name: string }
  | {
      type: 'syslog';
      name: string;
      url: string;
      /** PEM text (read from ca_file / cert_file / key_file). */
      ca?: string;
      cert?: string;
      key?: string;
      servername?: string;
      hostname?: string;
      facility?: number;
      confirmMs?: number;
      timeoutMs?: number;
    }
  /** Validated by the transport's own schema; built by its `…FromConfig(cfg, baseDir)`. */
  | { type: 'splunk_hec' | 'elasticsearch'; name: string; config: Record<string, unknown>; baseDir: string }
) & {
  /** Events in OCSF instead of ECS: flow events as Network Activity (4001); the others are skipped (and counted). */
  format?: 'ocsf';
};

/** Everything the writer needs to build its sinks: plain data (it crosses into the capture worker). */
export interface OutputConfig {
  sinks: SinkSpec[];
  spool: { dir: string; maxBytes: number };
  queue: QueueLimits;
  /** Seconds `close` waits for network sinks before leaving the rest in the spool. */
  drainTimeoutSec: number;
}

export const DEFAULT_SPOOL_MAX_BYTES = 1024 ** 3;
export const DEFAULT_DRAIN_TIMEOUT_SEC = 30;

/** Where spools live by default: the system state directory as root, the user's otherwise. */
export function defaultSpoolDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/tlsentry/spool';
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'tlsentry', 'spool');
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** `100MB`, `1.5G`, `65536` → bytes; null when not a size. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}

/** `90`, `90s`, `15m`, `1h`, `1d` → seconds; null when not an interval. */
export function parseInterval(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(v);
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's').toLowerCase() as 's']!;
}

const SHORT_KEYS: Record<string, string> = { ca: 'ca_file', cert: 'cert_file', key: 'key_file' };

/** A query value as YAML would have typed it: numbers and booleans converted. */
function typed(v: string): string | number | boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

/**
 * One `--sink` spec → a raw config entry (the shape of an `output.sinks` item),
 * validated later with the file's entries.
 */
export function parseSinkArg(spec: string): Record<string, unknown> {
  const s = spec.trim();
  if (s === '-' || s === 'stdout' || s === 'stdout:') return { type: 'stdout' };
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(s);
  if (!m) throw new TlsentryError('ERR_USAGE', `--sink ${spec}: expected SCHEME:… (file:, syslog+tcp://, syslog+tls://, splunk-hec+https://, elasticsearch+https://, or - for standard output)`);
  const scheme = m[1].toLowerCase();
  const rest = m[2];
  const q = rest.indexOf('?');
  const body = q >= 0 ? rest.slice(0, q) : rest;
  const params: Record<string, unknown> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rest.slice(q + 1))) params[SHORT_KEYS[k] ?? k] = typed(v);
  }
  if (scheme === 'file') {
    const path = decodeURIComponent(body.startsWith('//') ? body.slice(2) : body);
    if (path === '') throw new TlsentryError('ERR_USAGE', `--sink ${spec}: no path`);
    const { max_bytes, interval, name, ...other } = params;
    const rotate = max_bytes !== undefined || interval !== undefined ? { ...(max_bytes !== undefined ? { max_bytes } : {}), ...(interval !== undefined ? { interval } : {}) } : undefined;
    return { type: 'file', path, ...(rotate ? { rotate } : {}), ...(name !== undefined ? { name } : {}), ...other };
  }
  const plus = /^(syslog|splunk-hec|splunk_hec|elasticsearch)\+(tcp|tls|http|https)$/.exec(scheme);
  if (!plus) throw new TlsentryError('ERR_USAGE', `--sink ${spec}: unknown scheme ${scheme}: (file:, syslog+tcp://, syslog+tls://, splunk-hec+https://, elasticsearch+https://)`);
  const type = plus[1] === 'splunk-hec' ? 'splunk_hec' : plus[1];
  return { type, url: `${plus[2]}:${body}`, ...params };
}

interface RawSection {
  sinks?: unknown;
  spool?: unknown;
  queue?: unknown;
  drain_timeout?: unknown;
}

/**
 * The `output:` section of a configuration file (or `{}` without one). Relative
 * paths in it are relative to the file.
 */
export function readOutputSection(path: string): { section: RawSection; baseDir: string } {
  const { parse } = require('yaml') as typeof import('yaml');
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${path}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const section = typeof doc === 'object' && doc !== null && 'output' in doc ? (doc as { output: unknown }).output : {};
  if (section !== null && typeof section !== 'object') throw new TlsentryError('ERR_CONFIG', `${path}: output: expected a mapping`);
  return { section: (section ?? {}) as RawSection, baseDir: dirname(resolve(path)) };
}

export interface OutputFlags {
  /** `-o`: a file, or `-` for standard output (undefined: not given). */
  output?: string;
  /** `--sink` specs, in order. */
  sink?: string[];
  spoolDir?: string;
  sinkDrainTimeout?: number;
  /** `-c` configuration file. */
  config?: string;
}

/**
 * The sinks of a run: the configuration file's `output.sinks`, then `-o`,
 * then each `--sink`. Without any, standard output (the default of `-o`).
 * Flags win over the file for `--spool-dir` and `--sink-drain-timeout`.
 */
export function outputConfig(f: OutputFlags, cwd = process.cwd()): OutputConfig {
  if (f.config === undefined && (f.sink ?? []).length === 0) {
    // Only -o (or nothing): nothing to validate, and zod (~40 ms to load) is not needed.
    const out = f.output === undefined || f.output === '-' ? '-' : isAbsolute(f.output) ? f.output : resolve(cwd, f.output);
    const cfg = singleOutput(out);
    if (f.spoolDir !== undefined) cfg.spool.dir = f.spoolDir;
    if (f.sinkDrainTimeout !== undefined) cfg.drainTimeoutSec = f.sinkDrainTimeout;
    return cfg;
  }
  const { z } = require('zod') as typeof import('zod');
  const file = f.config !== undefined ? readOutputSection(f.config) : null;
  const where = (label: string) => (file ? `${f.config}: output.${label}` : label);

  const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === null) ctx.addIssue({ code: 'custom', message: `expected a size such as 65536, 512KB, 100MB or 1GB, not ${JSON.stringify(v)}` });
    return n ?? 0;
  });
  const interval = z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseInterval(v);
    if (n === null || n <= 0) ctx.addIssue({ code: 'custom', message: `expected an interval such as 3600, 15m, 1h or 1d, not ${JSON.stringify(v)}` });
    return n ?? 0;
  });
  const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (it names the spool directory)').optional();
  const fileSchema = z.strictObject({
    type: z.literal('file'),
    name,
    path: z.string().min(1),
    rotate: z.strictObject({ max_bytes: size.optional(), interval: interval.optional() }).optional(),
  });
  const stdoutSchema = z.strictObject({ type: z.literal('stdout'), name });
  const syslogSchema = z.strictObject({
    type: z.literal('syslog'),
    name,
    url: z.string().regex(/^(tcp|tls):\/\/(\[[^\]]+\]|[^:/?#\s]+)(:\d{1,5})?\/?$/, 'expected tcp://host:port or tls://host:port'),
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
    hostname: z.string().min(1).max(255).optional(),
    facility: z.number().int().min(0).max(23).optional(),
    confirm_ms: z.number().int().min(0).max(600_000).optional(),
    timeout_ms: z.number().int().min(100).max(600_000).optional(),
  });
  const section = z.strictObject({
    sinks: z.array(z.looseObject({ type: z.enum(['file', 'stdout', 'syslog', 'splunk_hec', 'elasticsearch']) })).default([]),
    spool: z.strictObject({ dir: z.string().min(1).optional(), max_bytes: size.optional() }).optional(),
    queue: z
      .strictObject({
        max_records: z.number().int().positive().optional(),
        max_bytes: size.optional(),
        batch_records: z.number().int().positive().optional(),
        batch_bytes: size.optional(),
      })
      .optional(),
    drain_timeout: interval.optional(),
  });

  const fail = (label: string, issue: { path: PropertyKey[]; message: string }): never => {
    const key = issue.path.map(String).join('.');
    throw new TlsentryError('ERR_CONFIG', `${label}${key ? `: ${key}` : ''}: ${issue.message}`);
  };
  const sec = section.safeParse(file?.section ?? {});
  if (!sec.success) fail(file ? `${f.config}: output` : 'output', sec.error.issues[0]);
  const data = sec.data!;

  const entries: { raw: Record<string, unknown>; label: string; baseDir: string }[] = [];
  data.sinks.forEach((raw, i) => entries.push({ raw, label: where(`sinks.${i}`), baseDir: file!.baseDir }));
  if (f.output !== undefined) entries.push({ raw: f.output === '-' ? { type: 'stdout' } : { type: 'file', path: f.output }, label: '--output', baseDir: cwd });
  for (const s of f.sink ?? []) entries.push({ raw: parseSinkArg(s), label: `--sink ${s}`, baseDir: cwd });
  if (entries.length === 0) entries.push({ raw: { type: 'stdout' }, label: '--output', baseDir: cwd });

  const abs = (p: string, base: string) => (isAbsolute(p) ? p : resolve(base, p));
  const pem = (p: string | undefined, base: string, key: string, label: string): string | undefined => {
    if (p === undefined) return undefined;
    try {
      return readFileSync(abs(p, base), 'utf8');
    } catch (e) {
      throw new TlsentryError('ERR_CONFIG', `${label}: ${key} ${abs(p, base)}: ${(e as Error).message}`, { cause: e });
    }
  };
  const counts = new Map<string, number>();
  const specOf = (raw: Record<string, unknown>, label: string, baseDir: string): SinkSpec => {
    const type = raw.type as SinkSpec['type'];
    const n = (counts.get(type) ?? 0) + 1;
    counts.set(type, n);
    const given = typeof raw.name === 'string' ? raw.name : undefined;
    const sinkName = given ?? (n === 1 ? type : `${type}-${n}`);
    switch (type) {
      case 'file': {
        const r = fileSchema.safeParse(raw);
        if (!r.success) return fail(label, r.error.issues[0]);
        const path = abs(r.data.path, baseDir);
        return { type, name: sinkName, path, rotate: { maxBytes: r.data.rotate?.max_bytes, intervalSec: r.data.rotate?.interval } };
      }
      case 'stdout': {
        const r = stdoutSchema.safeParse(raw);
        if (!r.success) return fail(label, r.error.issues[0]);
        return { type, name: sinkName };
      }
      case 'syslog': {
        const r = syslogSchema.safeParse(raw);
        if (!r.success) return fail(label, r.error.issues[0]);
        const d = r.data;
        if ((d.cert_file === undefined) !== (d.key_file === undefined)) fail(label, { path: [d.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'cert_file and key_file go together' });
        if (!d.url.startsWith('tls:') && (d.ca_file ?? d.cert_file) !== undefined) fail(label, { path: ['url'], message: 'ca_file/cert_file need a tls:// URL' });
        return {
          type,
          name: sinkName,
          url: d.url,
          ca: pem(d.ca_file, baseDir, 'ca_file', label),
          cert: pem(d.cert_file, baseDir, 'cert_file', label),
          key: pem(d.key_file, baseDir, 'key_file', label),
          servername: d.servername,
          hostname: d.hostname,
          facility: d.facility,
          confirmMs: d.confirm_ms,
          timeoutMs: d.timeout_ms,
        };
      }
      case 'splunk_hec':
      case 'elasticsearch': {
        // Validated by the transport's own schema (src/output/sinks/splunk-hec.ts, elasticsearch.ts).
        const { name: _n, ...config } = raw;
        const r = transportSchema(type).safeParse(config);
        if (!r.success) return fail(label, r.error.issues[0]);
        // Token, key, password and CA files are read now, before privileges are dropped: their text goes in the spec.
        return { type, name: sinkName, config: transportSecrets(type, r.data, baseDir, label), baseDir };
      }
    }
  };
  const sinks: SinkSpec[] = entries.map(({ raw: { format, ...raw }, label, baseDir }) => {
    // `format: ocsf` (any sink): flow events as OCSF Network Activity (../ocsf.ts), other events skipped.
    if (format !== undefined && format !== 'ecs' && format !== 'ocsf') fail(label, { path: ['format'], message: `expected ecs or ocsf, not ${JSON.stringify(format)}` });
    const spec = specOf(raw, label, baseDir);
    return format === 'ocsf' ? { ...spec, format: 'ocsf' } : spec;
  });
  const names = new Set<string>();
  for (const s of sinks) {
    if (names.has(s.name)) throw new TlsentryError('ERR_CONFIG', `two sinks are named ${s.name}: give one a different name`);
    names.add(s.name);
  }
  const spoolDir = f.spoolDir ?? (data.spool?.dir !== undefined ? abs(data.spool.dir, file!.baseDir) : defaultSpoolDir());
  return {
    sinks,
    spool: { dir: resolve(cwd, spoolDir), maxBytes: data.spool?.max_bytes ?? DEFAULT_SPOOL_MAX_BYTES },
    queue: {
      maxRecords: data.queue?.max_records,
      maxBytes: data.queue?.max_bytes,
      batchRecords: data.queue?.batch_records,
      batchBytes: data.queue?.batch_bytes,
    },
    drainTimeoutSec: f.sinkDrainTimeout ?? data.drain_timeout ?? DEFAULT_DRAIN_TIMEOUT_SEC,
  };
}

/** The HEC / Elasticsearch schema, loaded only when such a sink is configured. */
function transportSchema(type: 'splunk_hec' | 'elasticsearch'): { safeParse(v: unknown): { success: true; data: unknown } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } } {
  if (type === 'splunk_hec') return (require('./splunk-hec.js') as typeof import('./splunk-hec.js')).splunkHecConfigSchema;
  return (require('./elasticsearch.js') as typeof import('./elasticsearch.js')).elasticsearchConfigSchema;
}

/** A validated HEC / Elasticsearch entry with the contents of its secret and CA files (`…Secrets`). */
function transportSecrets(type: 'splunk_hec' | 'elasticsearch', data: unknown, baseDir: string, label: string): Record<string, unknown> {
  try {
    if (type === 'splunk_hec') {
      const m = require('./splunk-hec.js') as typeof import('./splunk-hec.js');
      return m.splunkHecSecrets(data as Parameters<typeof m.splunkHecSecrets>[0], baseDir);
    }
    const m = require('./elasticsearch.js') as typeof import('./elasticsearch.js');
    return m.elasticsearchSecrets(data as Parameters<typeof m.elasticsearchSecrets>[0], baseDir);
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${label}: ${(e as Error).message}`, { cause: e });
  }
}

/** A config that is just standard output or one file: the writer's old single-destination case. */
export function singleOutput(output: string): OutputConfig {
  return {
    sinks: [output === '-' ? { type: 'stdout', name: 'stdout' } : { type: 'file', name: 'file', path: output, rotate: {} }],
    spool: { dir: defaultSpoolDir(), maxBytes: DEFAULT_SPOOL_MAX_BYTES },
    queue: {},
    drainTimeoutSec: DEFAULT_DRAIN_TIMEOUT_SEC,
  };
}
