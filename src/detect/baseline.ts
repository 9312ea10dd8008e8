/**
 * The per-host, per-process baseline: what it holds, the store interface its
 * two backends (SQLite, PostgreSQL) implement, the in-memory cache the
 * detector evaluates against, and the JSON export format.
 *
 * One record per (host, process identity): first and last seen, outbound
 * flows and outbound TLS flows, payload bytes out and in, and bounded sets of
 * distinct destinations (`ip:port`), SNIs and JA4s. Updates are deltas that
 * add up: counts are summed, first/last seen take the min/max, sets are
 * unioned up to `max_distinct` values. Two sensors applying deltas to one
 * store in any order therefore end with the same record as one sensor
 * applying both.
 */
import { z } from 'zod';
import { TlsentryError } from '../shared/errors.js';
import { formatConfigIssues } from './config.js';
import type { IdentityHistory, ProcessIdentity } from './types.js';

export const DISTINCT_KINDS = ['destination', 'sni', 'ja4'] as const;
export type DistinctKind = (typeof DISTINCT_KINDS)[number];

export interface BaselineRecord {
  host: string;
  identity: string;
  executable: string;
  signer: string | null;
  sha256: string | null;
  firstSeen: number;
  lastSeen: number;
  flows: number;
  tlsFlows: number;
  bytesOut: number;
  bytesIn: number;
  destinations: string[];
  snis: string[];
  ja4s: string[];
}

/** An update: counts are increments, sets are additions. Same shape as a record. */
export type BaselineDelta = BaselineRecord;

export interface BaselineStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, safe to print (passwords hidden). */
  readonly location: string;
  /** Distinct values kept per set and record. */
  readonly maxDistinct: number;
  load(): Promise<BaselineRecord[]>;
  /** SQLite answers at once: the detector is ready at construction. */
  loadSync?(): BaselineRecord[];
  /** Add the deltas in one transaction (all or nothing). */
  apply(deltas: readonly BaselineDelta[]): Promise<void>;
  /** Replace everything with these records, in one transaction. */
  replace(records: readonly BaselineRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** A record with sets, for merging in memory. */
type SetFields = 'destinations' | 'snis' | 'ja4s';
export type BaselineEntry = Omit<BaselineRecord, SetFields> & { [K in SetFields]: Set<string> };

export function baselineKey(host: string, identity: string): string {
  return `${host}\u0000${identity}`;
}

export function emptyEntry(d: Pick<BaselineRecord, 'host' | 'identity' | 'executable' | 'signer' | 'sha256' | 'firstSeen' | 'lastSeen'>): BaselineEntry {
  return {
    host: d.host,
    identity: d.identity,
    executable: d.executable,
    signer: d.signer,
    sha256: d.sha256,
    firstSeen: d.firstSeen,
    lastSeen: d.lastSeen,
    flows: 0,
    tlsFlows: 0,
    bytesOut: 0,
    bytesIn: 0,
    destinations: new Set(),
    snis: new Set(),
    ja4s: new Set(),
  };
}

function addBounded(set: Set<string>, values: Iterable<string>, max: number): void {
  for (const v of values) {
    if (set.size >= max) return;
    set.add(v);
  }
}

/** Merge a delta (or record) into an entry, the same way the stores do. */
export function mergeInto(e: BaselineEntry, d: BaselineDelta | BaselineEntry, maxDistinct: number): void {
  e.firstSeen = Math.min(e.firstSeen, d.firstSeen);
  e.lastSeen = Math.max(e.lastSeen, d.lastSeen);
  e.flows += d.flows;
  e.tlsFlows += d.tlsFlows;
  e.bytesOut += d.bytesOut;
  e.bytesIn += d.bytesIn;
  e.signer ??= d.signer;
  e.sha256 ??= d.sha256;
  addBounded(e.destinations, d.destinations, maxDistinct);
  addBounded(e.snis, d.snis, maxDistinct);
  addBounded(e.ja4s, d.ja4s, maxDistinct);
}

export function entryToRecord(e: BaselineEntry): BaselineRecord {
  return {
    host: e.host,
    identity: e.identity,
    executable: e.executable,
    signer: e.signer,
    sha256: e.sha256,
    firstSeen: e.firstSeen,
    lastSeen: e.lastSeen,
    flows: e.flows,
    tlsFlows: e.tlsFlows,
    bytesOut: e.bytesOut,
    bytesIn: e.bytesIn,
    destinations: [...e.destinations].sort(),
    snis: [...e.snis].sort(),
    ja4s: [...e.ja4s].sort(),
  };
}

/** Deltas in (host, identity) order: every writer takes row locks in the same order. */
export function sortDeltas<T extends { host: string; identity: string }>(ds: readonly T[]): T[] {
  return [...ds].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

/** Merge deltas with the same (host, identity) (an import may repeat a key). */
export function mergeByKey(ds: readonly BaselineDelta[], maxDistinct: number): BaselineDelta[] {
  const m = new Map<string, BaselineEntry>();
  let dup = false;
  for (const d of ds) {
    const k = baselineKey(d.host, d.identity);
    let e = m.get(k);
    if (e) dup = true;
    else {
      e = emptyEntry(d);
      m.set(k, e);
    }
    mergeInto(e, d, maxDistinct);
  }
  return dup ? [...m.values()].map(entryToRecord) : [...ds];
}

interface FleetTotals {
  hosts: number;
  hostsWithTls: number;
  flows: number;
  tlsFlows: number;
}

/**
 * The detector's in-memory view of the baseline, with the indexes the rules
 * need per flow (identity across hosts, same path on a host, host first
 * seen) kept up to date on every merge.
 */
export class BaselineCache {
  private readonly entries = new Map<string, BaselineEntry>();
  private readonly fleet = new Map<string, FleetTotals>();
  private readonly byPath = new Map<string, BaselineEntry[]>();
  private readonly hostFirst = new Map<string, number>();

  constructor(readonly maxDistinct: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(host: string, identity: string): BaselineEntry | undefined {
    return this.entries.get(baselineKey(host, identity));
  }

  add(d: BaselineDelta | BaselineEntry): void {
    const key = baselineKey(d.host, d.identity);
    let e = this.entries.get(key);
    let f = this.fleet.get(d.identity);
    if (!f) {
      f = { hosts: 0, hostsWithTls: 0, flows: 0, tlsFlows: 0 };
      this.fleet.set(d.identity, f);
    }
    if (!e) {
      e = emptyEntry(d);
      this.entries.set(key, e);
      f.hosts++;
      const pk = baselineKey(d.host, d.executable);
      const same = this.byPath.get(pk);
      if (same) same.push(e);
      else this.byPath.set(pk, [e]);
    }
    const hadTls = e.tlsFlows > 0;
    mergeInto(e, d, this.maxDistinct);
    if (!hadTls && e.tlsFlows > 0) f.hostsWithTls++;
    f.flows += d.flows;
    f.tlsFlows += d.tlsFlows;
    const first = this.hostFirst.get(d.host);
    if (first === undefined || d.firstSeen < first) this.hostFirst.set(d.host, d.firstSeen);
  }

  hostFirstSeen(host: string): number | undefined {
    return this.hostFirst.get(host);
  }

  /** What the baseline knows about `identity` before this flow is counted. */
  history(host: string, id: ProcessIdentity, destination: string, sni: string | null): IdentityHistory {
    const e = this.entries.get(baselineKey(host, id.key));
    const f = this.fleet.get(id.key);
    let identities = 0;
    let tlsFlows = 0;
    let unsignedTlsFlows = 0;
    for (const o of this.byPath.get(baselineKey(host, id.executable)) ?? []) {
      if (o.identity === id.key) continue;
      identities++;
      tlsFlows += o.tlsFlows;
      if (o.signer === null) unsignedTlsFlows += o.tlsFlows;
    }
    return {
      host: e
        ? {
            flows: e.flows,
            tlsFlows: e.tlsFlows,
            bytesOut: e.bytesOut,
            bytesIn: e.bytesIn,
            firstSeen: e.firstSeen,
            lastSeen: e.lastSeen,
            destinationKnown: e.destinations.has(destination),
            sniKnown: sni === null ? null : e.snis.has(sni),
            distinctDestinations: e.destinations.size,
          }
        : null,
      fleet: f ? { ...f } : { hosts: 0, hostsWithTls: 0, flows: 0, tlsFlows: 0 },
      samePathOnHost: { identities, tlsFlows, unsignedTlsFlows },
    };
  }

  records(): BaselineRecord[] {
    return sortDeltas([...this.entries.values()]).map(entryToRecord);
  }
}

// ---------------------------------------------------------------- JSON export

export const EXPORT_FORMAT = 'tlsentry-baseline';
export const EXPORT_VERSION = 1;

const exportRecord = z.object({
  host: z.string().min(1),
  identity: z.string().min(1),
  executable: z.string(),
  signer: z.string().nullable(),
  sha256: z.string().nullable(),
  first_seen_us: z.number().int(),
  last_seen_us: z.number().int(),
  first_seen: z.string().optional(),
  last_seen: z.string().optional(),
  flows: z.number().int().min(0),
  tls_flows: z.number().int().min(0),
  bytes_out: z.number().int().min(0),
  bytes_in: z.number().int().min(0),
  destinations: z.array(z.string()),
  snis: z.array(z.string()),
  ja4s: z.array(z.string()),
});
const exportFile = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(EXPORT_VERSION),
  exported_at: z.string().optional(),
  records: z.array(exportRecord),
});
export type BaselineExport = z.output<typeof exportFile>;

function iso(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function exportBaseline(records: readonly BaselineRecord[], now = new Date()): BaselineExport {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exported_at: now.toISOString(),
    records: sortDeltas(records).map((r) => ({
      host: r.host,
      identity: r.identity,
      executable: r.executable,
      signer: r.signer,
      sha256: r.sha256,
      first_seen_us: r.firstSeen,
      last_seen_us: r.lastSeen,
      first_seen: iso(r.firstSeen),
      last_seen: iso(r.lastSeen),
      flows: r.flows,
      tls_flows: r.tlsFlows,
      bytes_out: r.bytesOut,
      bytes_in: r.bytesIn,
      destinations: [...r.destinations].sort(),
      snis: [...r.snis].sort(),
      ja4s: [...r.ja4s].sort(),
    })),
  };
}

/** Validate an export (parsed JSON) and turn it back into records. */
export function parseBaselineExport(doc: unknown, source = 'baseline export'): BaselineRecord[] {
  const r = exportFile.safeParse(doc, { reportInput: true });
  if (!r.success) {
    throw new TlsentryError('ERR_BASELINE', `${source}: not a tlsentry baseline export:\n  ${formatConfigIssues(r.error.issues, 'baseline').join('\n  ')}`);
  }
  return r.data.records.map((x) => ({
    host: x.host,
    identity: x.identity,
    executable: x.executable,
    signer: x.signer,
    sha256: x.sha256,
    firstSeen: x.first_seen_us,
    lastSeen: x.last_seen_us,
    flows: x.flows,
    tlsFlows: x.tls_flows,
    bytesOut: x.bytes_out,
    bytesIn: x.bytes_in,
    destinations: x.destinations,
    snis: x.snis,
    ja4s: x.ja4s,
  }));
}
