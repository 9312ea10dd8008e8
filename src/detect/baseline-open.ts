/** Open the baseline a `--baseline` value names: a SQLite file, or `postgres://…`. */
import type { BaselineStore } from './baseline.js';
import { isPostgresUrl, PgBaselineStore } from './baseline-pg.js';
import { SqliteBaselineStore } from './baseline-sqlite.js';

export interface OpenBaselineOptions {
  maxDistinct?: number;
  /** SQLite only: open read-only (the file must exist). */
  readonly?: boolean;
}

export async function openBaselineStore(spec: string, opts: OpenBaselineOptions = {}): Promise<BaselineStore> {
  if (isPostgresUrl(spec)) return PgBaselineStore.open(spec, { maxDistinct: opts.maxDistinct });
  return new SqliteBaselineStore(spec, { maxDistinct: opts.maxDistinct, readonly: opts.readonly });
}
