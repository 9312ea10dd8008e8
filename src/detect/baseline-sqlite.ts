/**
 * The embedded baseline: one SQLite file through better-sqlite3 (v12; v13
 * crashes on Node 20). WAL journal, every update one transaction, so a
 * sensor killed mid-write leaves a file that opens cleanly with the last
 * committed batch (SQLite rolls the torn one back on open).
 */
import Database from 'better-sqlite3';
import { TlsentryError } from '../shared/errors.js';
import {
  DISTINCT_KINDS,
  sortDeltas,
  type BaselineDelta,
  type BaselineRecord,
  type BaselineStore,
  type DistinctKind,
} from './baseline.js';

export const SCHEMA_VERSION = '1';

/** Shared with the PostgreSQL store (types chosen to mean the same in both). */
export const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS tlsentry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS baseline_process (
    host TEXT NOT NULL,
    identity TEXT NOT NULL,
    executable TEXT NOT NULL,
    signer TEXT,
    sha256 TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    flows BIGINT NOT NULL DEFAULT 0,
    tls_flows BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (host, identity))`,
  `CREATE TABLE IF NOT EXISTS baseline_distinct (
    host TEXT NOT NULL,
    identity TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (host, identity, kind, value))`,
];

/** The upsert both stores run (SQLite spells LEAST/GREATEST as min/max). */
export function upsertSql(least: string, greatest: string, values: string): string {
  return `INSERT INTO baseline_process (host, identity, executable, signer, sha256, first_seen, last_seen, flows, tls_flows, bytes_out, bytes_in)
    ${values}
    ON CONFLICT (host, identity) DO UPDATE SET
      first_seen = ${least}(baseline_process.first_seen, excluded.first_seen),
      last_seen = ${greatest}(baseline_process.last_seen, excluded.last_seen),
      flows = baseline_process.flows + excluded.flows,
      tls_flows = baseline_process.tls_flows + excluded.tls_flows,
      bytes_out = baseline_process.bytes_out + excluded.bytes_out,
      bytes_in = baseline_process.bytes_in + excluded.bytes_in,
      signer = coalesce(baseline_process.signer, excluded.signer),
      sha256 = coalesce(baseline_process.sha256, excluded.sha256)`;
}

export function setOf(d: BaselineDelta, kind: DistinctKind): string[] {
  return kind === 'destination' ? d.destinations : kind === 'sni' ? d.snis : d.ja4s;
}

interface ProcessRow {
  host: string;
  identity: string;
  executable: string;
  signer: string | null;
  sha256: string | null;
  first_seen: number | string;
  last_seen: number | string;
  flows: number | string;
  tls_flows: number | string;
  bytes_out: number | string;
  bytes_in: number | string;
}

/** Rows of both tables → records (shared with the PostgreSQL store). */
export function rowsToRecords(rows: ProcessRow[], sets: { host: string; identity: string; kind: string; value: string }[]): BaselineRecord[] {
  const byKey = new Map<string, BaselineRecord>();
  const out: BaselineRecord[] = [];
  for (const r of rows) {
    const rec: BaselineRecord = {
      host: r.host,
      identity: r.identity,
      executable: r.executable,
      signer: r.signer,
      sha256: r.sha256,
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
      flows: Number(r.flows),
      tlsFlows: Number(r.tls_flows),
      bytesOut: Number(r.bytes_out),
      bytesIn: Number(r.bytes_in),
      destinations: [],
      snis: [],
      ja4s: [],
    };
    byKey.set(`${r.host}\u0000${r.identity}`, rec);
    out.push(rec);
  }
  for (const s of sets) {
    const rec = byKey.get(`${s.host}\u0000${s.identity}`);
    if (!rec) continue;
    if (s.kind === 'destination') rec.destinations.push(s.value);
    else if (s.kind === 'sni') rec.snis.push(s.value);
    else if (s.kind === 'ja4') rec.ja4s.push(s.value);
  }
  return out;
}

export interface SqliteStoreOptions {
  maxDistinct?: number;
  readonly?: boolean;
}

export class SqliteBaselineStore implements BaselineStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly maxDistinct: number;
  private readonly db: Database.Database;
  private readonly applyTx: (deltas: readonly BaselineDelta[]) => void;
  private readonly replaceTx: (records: readonly BaselineRecord[]) => void;

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.location = file;
    this.maxDistinct = opts.maxDistinct ?? 256;
    try {
      this.db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: 10_000 });
      if (!opts.readonly) {
        this.db.pragma('journal_mode = WAL');
        // WAL + NORMAL: a killed process loses nothing committed; a power cut may lose the last batch, never consistency.
        this.db.pragma('synchronous = NORMAL');
        this.db.transaction(() => {
          for (const sql of SCHEMA_SQL) this.db.exec(sql);
          this.db.prepare(`INSERT INTO tlsentry_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT DO NOTHING`).run(SCHEMA_VERSION);
        })();
      }
      const v = this.db.prepare(`SELECT value FROM tlsentry_meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
      if (v && v.value !== SCHEMA_VERSION) throw new Error(`schema version ${v.value}, this tlsentry reads ${SCHEMA_VERSION}`);
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${file}: cannot open the baseline: ${(e as Error).message}`, { cause: e });
    }

    const upsert = this.db.prepare(
      upsertSql('min', 'max', `VALUES (@host, @identity, @executable, @signer, @sha256, @firstSeen, @lastSeen, @flows, @tlsFlows, @bytesOut, @bytesIn)`),
    );
    const count = this.db.prepare(`SELECT count(*) AS n FROM baseline_distinct WHERE host = ? AND identity = ? AND kind = ?`).pluck();
    const insertSet = this.db.prepare(`INSERT INTO baseline_distinct (host, identity, kind, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    const max = this.maxDistinct;
    const applyAll = (deltas: readonly BaselineDelta[]): void => {
      for (const d of sortDeltas(deltas)) {
        upsert.run({
          host: d.host,
          identity: d.identity,
          executable: d.executable,
          signer: d.signer,
          sha256: d.sha256,
          firstSeen: d.firstSeen,
          lastSeen: d.lastSeen,
          flows: d.flows,
          tlsFlows: d.tlsFlows,
          bytesOut: d.bytesOut,
          bytesIn: d.bytesIn,
        });
        for (const kind of DISTINCT_KINDS) {
          const values = setOf(d, kind);
          if (values.length === 0) continue;
          let n = count.get(d.host, d.identity, kind) as number;
          for (const v of values) {
            if (n >= max) break;
            n += insertSet.run(d.host, d.identity, kind, v).changes;
          }
        }
      }
    };
    this.applyTx = this.db.transaction(applyAll);
    this.replaceTx = this.db.transaction((records: readonly BaselineRecord[]) => {
      this.db.exec(`DELETE FROM baseline_distinct; DELETE FROM baseline_process;`);
      applyAll(records);
    });
  }

  loadSync(): BaselineRecord[] {
    try {
      const read = this.db.transaction(() => {
        const rows = this.db.prepare(`SELECT * FROM baseline_process`).all() as ProcessRow[];
        const sets = this.db.prepare(`SELECT host, identity, kind, value FROM baseline_distinct ORDER BY host, identity, kind, value`).all() as {
          host: string;
          identity: string;
          kind: string;
          value: string;
        }[];
        return rowsToRecords(rows, sets);
      });
      return read();
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot read the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  async load(): Promise<BaselineRecord[]> {
    return this.loadSync();
  }

  /** Synchronous apply (SQLite only). */
  applySync(deltas: readonly BaselineDelta[]): void {
    try {
      this.applyTx(deltas);
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot update the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  async apply(deltas: readonly BaselineDelta[]): Promise<void> {
    this.applySync(deltas);
  }

  async replace(records: readonly BaselineRecord[]): Promise<void> {
    try {
      this.replaceTx(records);
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot replace the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  /** `PRAGMA integrity_check`: `ok` on a sound file. */
  integrityCheck(): string {
    return (this.db.prepare('PRAGMA integrity_check').pluck().all() as string[]).join('; ');
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
