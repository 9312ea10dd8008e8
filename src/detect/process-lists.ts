/**
 * `data/process_lists.json`: images that normally make no outbound TLS
 * (Windows binaries; script interpreters on Windows and POSIX), each with the
 * public detection rules it comes from. Loaded and compiled once, at
 * configuration time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TlsentryError } from '../shared/errors.js';
import { formatConfigIssues } from './config.js';
import { globToRegExp } from './identity.js';

export const LIST_CONDITIONS = ['public_destination', 'no_arguments', 'late_tls_library'] as const;
export type ListCondition = (typeof LIST_CONDITIONS)[number];

const entrySchema = z.object({
  id: z.string().min(1),
  image: z.string(),
  names: z.array(z.string().min(1)).optional(),
  path_fragments: z.array(z.string().min(1)).optional(),
  conditions: z.array(z.enum(LIST_CONDITIONS)).default([]),
  /** Only images with this kind of path (`C:\\…` is windows, anything else posix); absent: both. */
  platform: z.enum(['windows', 'posix']).optional(),
  severity: z.enum(['high', 'medium', 'low']),
  sources: z.array(z.string()).min(1),
  note: z.string().optional(),
});
const fileSchema = z.object({ unexpected_network: z.array(entrySchema) });

export interface ListEntry {
  id: string;
  image: string;
  severity: 'high' | 'medium' | 'low';
  conditions: ListCondition[];
  /** Null: any platform. */
  platform: 'windows' | 'posix' | null;
  sources: string[];
  note: string | null;
  names: RegExp[];
  /** Lower-case substrings of the lower-cased path. */
  pathFragments: string[];
}

export interface ProcessLists {
  source: string;
  entries: ListEntry[];
}

/** The bundled file: `data/` at the repository root, from `src/detect` or `dist/src/detect`. */
export function bundledListsPath(): string {
  for (const rel of ['../../data/process_lists.json', '../../../data/process_lists.json']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new TlsentryError('ERR_CONFIG', 'data/process_lists.json not found next to the installed tlsentry');
}

export function compileProcessLists(doc: unknown, source: string): ProcessLists {
  const r = fileSchema.safeParse(doc, { reportInput: true });
  if (!r.success) {
    throw new TlsentryError('ERR_CONFIG', `${source}: invalid process lists:\n  ${formatConfigIssues(r.error.issues, 'process_lists').join('\n  ')}`);
  }
  return {
    source,
    entries: r.data.unexpected_network.map((e) => ({
      id: e.id,
      image: e.image,
      severity: e.severity,
      conditions: e.conditions,
      platform: e.platform ?? null,
      sources: e.sources,
      note: e.note ?? null,
      names: (e.names ?? []).map(globToRegExp),
      pathFragments: (e.path_fragments ?? []).map((f) => f.toLowerCase()),
    })),
  };
}

export function loadProcessLists(path?: string): ProcessLists {
  const file = path ?? bundledListsPath();
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TlsentryError('ERR_CONFIG', `${file}: cannot read process lists: ${(e as Error).message}`, { cause: e });
  }
  return compileProcessLists(doc, file);
}
