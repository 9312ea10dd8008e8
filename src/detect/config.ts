/**
 * Detection policy: thresholds, weights, allow-lists, learning period and
 * baseline settings, from the `detect:` section of a YAML or JSON file,
 * validated with zod. Every error names the key it is about
 * (`detect.rules.asymmetric_egress.min_bytes_out: expected number, got string "lots"`).
 *
 * Durations are seconds, or a string `500ms`, `30s`, `5m`, `1h`, `7d`, `2w`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { TlsentryError } from '../shared/errors.js';
import { ANCHOR_KINDS } from '../x509/types.js';
import { AddressSet } from './net.js';
import { RULE_NAMES } from './types.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/;

/** Seconds from a number of seconds or `30s`/`5m`/…; NaN when unreadable. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : NaN;
  if (typeof v !== 'string') return NaN;
  const m = DURATION_RE.exec(v);
  return m ? Number(m[1]) * UNITS[m[2] ?? 's']! : NaN;
}

const duration = (dflt: number | string) =>
  z
    .unknown()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return parseDuration(dflt);
      const s = parseDuration(v);
      if (Number.isNaN(s)) {
        ctx.addIssue({ code: 'custom', message: `expected a duration (seconds, or 500ms, 30s, 5m, 1h, 7d), got ${describe(v)}` });
        return z.NEVER;
      }
      return s;
    });

const weight = z.number().min(0).max(1000);
const enabled = z.boolean().default(true);
const port = z.number().int().min(0).max(65535);
const ruleName = z.enum(RULE_NAMES);
const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits (SHA-256)');
const strings = (d: string[]) => z.array(z.string()).default(d);

export const DEFAULT_STANDARD_TLS_PORTS = [443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 3269, 5061, 5223, 5986, 6443, 8443, 9443];

const rulesSchema = z.strictObject({
  new_tls_process: z
    .strictObject({
      enabled,
      /** Never (or rarely) initiated TLS on this host nor on any other. */
      weight: weight.default(30),
      /** New on this host, known for TLS on other hosts of the baseline. */
      weight_host_only: weight.default(15),
      /** New identity for a path this host knows for TLS (signer or hash changed, e.g. an update). */
      weight_changed_binary: weight.default(10),
      /** "Rarely": at most this many earlier TLS flows still count as new. */
      max_prior_tls_flows: z.number().int().min(0).default(0),
    })
    .prefault({}),
  asymmetric_egress: z
    .strictObject({
      enabled,
      weight: weight.default(25),
      min_pcr: z.number().min(-1).max(1).default(0.4),
      min_bytes_out: z.number().int().min(0).default(102400),
    })
    .prefault({}),
  nonstandard_chain: z
    .strictObject({
      enabled,
      weight: weight.default(25),
      /** Anchor kinds (from the x509 trust store's tagged bundles) whose chains never count. */
      allow_anchor_kinds: z.array(z.enum(ANCHOR_KINDS as [string, ...string[]])).default([]),
    })
    .prefault({}),
  unexpected_tls_library: z
    .strictObject({
      enabled,
      weight_late_load: weight.default(40),
      late_load_after: duration('5m'),
      weight_after_remote_thread: weight.default(50),
      remote_thread_window: duration('60s'),
      remote_thread_annotations: strings(['remote_thread_created']),
      weight_no_library: weight.default(25),
      /** Off for agents that do not report loaded modules. */
      assume_module_visibility: z.boolean().default(true),
      /** Image names whose TLS is in a runtime with no native TLS library (JSSE). */
      tls_capable_runtimes: strings(['java', 'javaw', 'java.exe', 'javaw.exe']),
      weight_fresh_process: weight.default(15),
      /** MITRE's TimeWindow: process creation, TLS library load and the connection. */
      time_window: duration('30s'),
      weight_family_mismatch: weight.default(15),
      /** JA4 (or a prefix of one) → TLS family (`schannel`, `openssl`, …). Empty: the check is off. */
      fingerprint_families: z.record(z.string(), z.string()).default({}),
      /** A library loaded this long after the flow's first packet still served its handshake. */
      load_tolerance: duration('2s'),
    })
    .prefault({}),
  tls_nonstandard_port: z
    .strictObject({
      enabled,
      weight: weight.default(15),
      standard_ports: z.array(port).default(DEFAULT_STANDARD_TLS_PORTS),
      skip_known_destination: z.boolean().default(true),
    })
    .prefault({}),
  no_sni: z
    .strictObject({ enabled, weight: weight.default(10), skip_known_destination: z.boolean().default(true) })
    .prefault({}),
  user_writable_image_path: z
    .strictObject({
      enabled,
      weight: weight.default(20),
      /** Case-insensitive substrings of Windows paths. */
      windows: strings(['\\users\\', '\\appdata\\', '\\temp\\', '\\programdata\\', '\\$recycle.bin\\', '\\perflogs\\']),
      /** Path prefixes on Linux and macOS. */
      linux: strings(['/tmp/', '/var/tmp/', '/dev/shm/', '/home/', '/root/', '/run/user/', '/Users/']),
    })
    .prefault({}),
  listed_unexpected_process: z
    .strictObject({
      enabled,
      weight: weight.default(30),
      weight_medium: weight.default(20),
      weight_low: weight.default(10),
      /** Process lists file; default: the bundled `data/process_lists.json`. */
      lists: z.string().optional(),
    })
    .prefault({}),
});

const allowProcess = z.strictObject({
  /** Executable path pattern (`*` wildcard), normalised like identities (`c:\users\*\…`). */
  executable: z.string().min(1),
  /** Code-signing subject that must match exactly (case-insensitive); the image must be signed. */
  signer: z.string().min(1).optional(),
  sha256: hex64.optional(),
  /** Host name patterns; default every host. */
  hosts: z.array(z.string()).optional(),
  /** Rules whose hits this entry removes; default all (no alert for this process). */
  rules: z.array(ruleName).optional(),
  reason: z.string().min(1),
});

const cidr = z.string().superRefine((v, ctx) => {
  try {
    new AddressSet([v]);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const allowDestination = z
  .strictObject({
    /** IP address or CIDR. */
    address: cidr.optional(),
    /** SNI pattern (`*.corp.example`). */
    sni: z.string().min(1).optional(),
    port: port.optional(),
    rules: z.array(ruleName).optional(),
    reason: z.string().min(1),
  })
  .refine((d) => d.address !== undefined || d.sni !== undefined || d.port !== undefined, {
    message: 'needs at least one of address, sni, port',
  });

const allowAnchor = z
  .strictObject({ sha256: hex64.optional(), subject: z.string().min(1).optional(), reason: z.string().min(1) })
  .refine((a) => a.sha256 !== undefined || a.subject !== undefined, { message: 'needs sha256 or subject' });

export const detectConfigSchema = z.strictObject({
  /** Alert when the sum of the weights of the rules that fired reaches this. */
  threshold: z.number().min(0).default(50),
  /** Score only flows the endpoint agent attributed to a process. */
  require_process: z.boolean().default(true),
  /** Also score flows where no TLS was seen (only asymmetric_egress and path rules can fire). */
  score_non_tls_flows: z.boolean().default(false),
  learning: z
    .strictObject({
      /** Per host, from the first flow the baseline saw for it: learn, never alert. 0: off. */
      duration: duration(0),
    })
    .prefault({}),
  dedup: z
    .strictObject({
      window: duration('1h'),
      max_flow_ids: z.number().int().min(1).default(100),
      max_open: z.number().int().min(1).default(100000),
    })
    .prefault({}),
  baseline: z
    .strictObject({
      /** SQLite file, or `postgres://user@host:port/db`. */
      path: z.string().min(1).default('tlsentry-baseline.db'),
      flush_interval: duration('5s'),
      /** Flush once this many identities have unsaved changes. */
      flush_batch: z.number().int().min(1).default(1000),
      /** Reload a PostgreSQL baseline (other sensors' updates) this often. 0: never. */
      refresh_interval: duration('60s'),
      /** Distinct destinations, SNIs and JA4s kept per identity and host. */
      max_distinct: z.number().int().min(1).default(256),
      unsigned_identity: z.enum(['hash', 'path']).default('hash'),
      /** Let flows that raised an alert update the baseline (off: an alerting process stays new). */
      learn_alerting_flows: z.boolean().default(false),
    })
    .prefault({}),
  rules: rulesSchema.prefault({}),
  allow: z
    .strictObject({
      processes: z.array(allowProcess).default([]),
      destinations: z.array(allowDestination).default([]),
      ca_anchors: z.array(allowAnchor).default([]),
    })
    .prefault({}),
});

export type DetectConfig = z.output<typeof detectConfigSchema>;
export type RulesConfig = DetectConfig['rules'];

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export const defaultDetectConfig: DetectConfig = deepFreeze(detectConfigSchema.parse({}));

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'object';
  return `${typeof v} ${String(v)}`;
}

function keyPath(base: string, path: readonly PropertyKey[]): string {
  let s = base;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return s;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

type SchemaDef = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType };
const defOf = (s: z.ZodType): SchemaDef => (s as unknown as { def: SchemaDef }).def;

/** Through defaults, prefaults, optionals and transforms to the schema that parses the value. */
function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** Keys the schema knows at `path`, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let s = unwrap(detectConfigSchema);
  for (const p of path) {
    const d = defOf(s);
    const next = typeof p === 'number' ? d.element : typeof p === 'string' ? d.shape?.[p] : undefined;
    if (!next) return [];
    s = unwrap(next);
  }
  return Object.keys(defOf(s).shape ?? {});
}

/** One line per problem, each starting with the full key (`detect.…`). */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[], base = 'detect'): string[] {
  const out: string[] = [];
  for (const i of issues) {
    const where = keyPath(base, i.path);
    if (i.code === 'unrecognized_keys') {
      const known = knownKeysAt(i.path);
      for (const k of i.keys) {
        const near = known.filter((c) => distance(c, k) <= Math.max(2, Math.floor(k.length / 4)));
        out.push(`${keyPath(base, [...i.path, k])}: unknown key${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}`);
      }
    } else if (i.code === 'invalid_type') {
      const input = (i as { input?: unknown }).input;
      out.push(`${where}: expected ${i.expected}, got ${input === undefined ? 'nothing' : describe(input)}`);
    } else if (i.code === 'invalid_value') {
      const input = (i as { input?: unknown }).input;
      out.push(`${where}: expected one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(input)}`);
    } else {
      out.push(`${where}: ${i.message}`);
    }
  }
  return out;
}

/** Validate a `detect` section (already parsed). Throws `ERR_CONFIG` naming every bad key. */
export function parseDetectConfig(section: unknown, source = 'configuration'): DetectConfig {
  const r = detectConfigSchema.safeParse(section ?? {}, { reportInput: true });
  if (!r.success) {
    const lines = formatConfigIssues(r.error.issues);
    throw new TlsentryError('ERR_CONFIG', `${source}: invalid detection configuration:\n  ${lines.join('\n  ')}`);
  }
  return r.data;
}

/**
 * Read a YAML or JSON file and validate its `detect:` section (other top-level
 * sections belong to other stages and are ignored; a file without `detect:`
 * gives the defaults). A relative `rules.listed_unexpected_process.lists` is
 * resolved against the file's folder.
 */
export function loadDetectConfig(path: string): DetectConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` (line ${e.linePos[0].line})` : '';
    throw new TlsentryError('ERR_CONFIG', `${path}${where}: not YAML or JSON: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (doc == null) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TlsentryError('ERR_CONFIG', `${path}: expected a mapping at the top level, got ${describe(doc)}`);
  }
  const cfg = parseDetectConfig((doc as Record<string, unknown>).detect, path);
  const lists = cfg.rules.listed_unexpected_process.lists;
  if (lists !== undefined) cfg.rules.listed_unexpected_process.lists = resolve(dirname(path), lists);
  return cfg;
}
