/**
 * The shared baseline on PostgreSQL (`postgres://…`), for fleets: many
 * sensors write into one baseline and see each other's processes.
 *
 * Concurrent sensors never lose updates: counts are atomic upserts
 * (`ON CONFLICT DO UPDATE SET flows = flows + excluded.flows`), first/last
 * seen use LEAST/GREATEST, distinct values are rows of their own table
 * inserted with `ON CONFLICT DO NOTHING`. One batch is one transaction with
 * rows in (host, identity) order, so writers lock rows in the same order; a
 * deadlock or serialization failure retries the whole batch (nothing of it
 * was committed, so nothing is counted twice).
 *
 * The distinct-value bound is checked against the committed rows when the
 * statement starts, so concurrent writers may overshoot `max_distinct` by
 * up to one batch.
 */
import pg from 'pg';
import { TlsentryError } from '../shared/errors.js';
import { DISTINCT_KINDS, mergeByKey, sortDeltas, type BaselineDelta, type BaselineRecord, type BaselineStore } from './baseline.js';
import { rowsToRecords, SCHEMA_SQL, SCHEMA_VERSION, setOf, upsertSql } from './baseline-sqlite.js';

const MIGRATION_LOCK = 0x746c73; // 'tls'
const RETRYABLE = new Set(['40P01', '40001']);

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export interface PgStoreOptions {
  maxDistinct?: number;
  /** Pool size (default 2: one writer, one reader). */
  connections?: number;
  retries?: number;
}

export class PgBaselineStore implements BaselineStore {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly maxDistinct: number;
  private readonly retries: number;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
    opts: PgStoreOptions,
  ) {
    this.location = redactUrl(url);
    this.maxDistinct = opts.maxDistinct ?? 256;
    this.retries = opts.retries ?? 5;
  }

  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgBaselineStore> {
    const pool = new pg.Pool({ connectionString: url, max: opts.connections ?? 2 });
    // An idle client's network error must not crash the sensor; the next query reports it.
    pool.on('error', () => {});
    const store = new PgBaselineStore(pool, url, opts);
    try {
      await store.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        for (const sql of SCHEMA_SQL) await c.query(sql);
        await c.query(`INSERT INTO tlsentry_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT DO NOTHING`, [SCHEMA_VERSION]);
        const v = await c.query<{ value: string }>(`SELECT value FROM tlsentry_meta WHERE key = 'schema_version'`);
        if (v.rows[0]?.value !== SCHEMA_VERSION) throw new Error(`schema version ${v.rows[0]?.value}, this tlsentry reads ${SCHEMA_VERSION}`);
      });
    } catch (e) {
      await pool.end().catch(() => {});
      throw new TlsentryError('ERR_BASELINE', `${store.location}: cannot open the baseline: ${(e as Error).message}`, { cause: e });
    }
    return store;
  }

  /** Run `fn` in one transaction, retrying deadlocks and serialization failures. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        const code = (e as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < this.retries) {
          await new Promise((r) => setTimeout(r, 10 * 2 ** attempt + Math.random() * 10));
          continue;
        }
        throw e;
      } finally {
        c.release();
      }
    }
  }

  async load(): Promise<BaselineRecord[]> {
    try {
      return await this.tx(async (c) => {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const rows = await c.query(`SELECT * FROM baseline_process`);
        const sets = await c.query(`SELECT host, identity, kind, value FROM baseline_distinct ORDER BY host, identity, kind, value`);
        return rowsToRecords(rows.rows, sets.rows);
      });
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot read the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  private async applyIn(c: pg.PoolClient, deltas: readonly BaselineDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const ds = sortDeltas(mergeByKey(deltas, this.maxDistinct));
    const col = <T>(f: (d: BaselineDelta) => T): T[] => ds.map(f);
    await c.query(
      upsertSql(
        'LEAST',
        'GREATEST',
        `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])`,
      ),
      [
        col((d) => d.host),
        col((d) => d.identity),
        col((d) => d.executable),
        col((d) => d.signer),
        col((d) => d.sha256),
        col((d) => d.firstSeen),
        col((d) => d.lastSeen),
        col((d) => d.flows),
        col((d) => d.tlsFlows),
        col((d) => d.bytesOut),
        col((d) => d.bytesIn),
      ],
    );
    const hosts: string[] = [], ids: string[] = [], kinds: string[] = [], values: string[] = [];
    for (const d of ds) {
      for (const kind of DISTINCT_KINDS) {
        for (const v of setOf(d, kind).slice(0, this.maxDistinct)) {
          hosts.push(d.host);
          ids.push(d.identity);
          kinds.push(kind);
          values.push(v);
        }
      }
    }
    if (values.length === 0) return;
    await c.query(
      `INSERT INTO baseline_distinct (host, identity, kind, value)
       SELECT d.host, d.identity, d.kind, d.value
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(host, identity, kind, value)
       WHERE (SELECT count(*) FROM baseline_distinct b WHERE b.host = d.host AND b.identity = d.identity AND b.kind = d.kind) < $5
       ORDER BY d.host, d.identity, d.kind, d.value
       ON CONFLICT DO NOTHING`,
      [hosts, ids, kinds, values, this.maxDistinct],
    );
  }

  async apply(deltas: readonly BaselineDelta[]): Promise<void> {
    try {
      await this.tx((c) => this.applyIn(c, deltas));
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot update the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  async replace(records: readonly BaselineRecord[]): Promise<void> {
    try {
      await this.tx(async (c) => {
        await c.query('DELETE FROM baseline_distinct');
        await c.query('DELETE FROM baseline_process');
        await this.applyIn(c, records);
      });
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${this.location}: cannot replace the baseline: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
