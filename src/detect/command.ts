/**
 * `tlsentry baseline show | export | import` (and `build`, when the CLI hands
 * in the capture pipeline: building reads captures through every stage, so
 * the CLI owns it and calls `Detector` in learn mode).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TlsentryError } from '../shared/errors.js';
import { exportBaseline, parseBaselineExport, type BaselineRecord } from './baseline.js';
import { openBaselineStore } from './baseline-open.js';
import { defaultDetectConfig, loadDetectConfig, type DetectConfig } from './config.js';
import { globToRegExp, normalizeExecutable } from './identity.js';

export interface BaselineBuildRequest {
  inputs: string[];
  config: DetectConfig;
  /** SQLite file or `postgres://…` to write into. */
  baseline: string;
  /** Endpoint API options as given on the command line (the CLI interprets them). */
  flags: Record<string, unknown>;
}

export interface BaselineCommandHooks {
  /** Registers `baseline build <inputs...>` when given (the CLI runs the captures through the pipeline). */
  build?: (req: BaselineBuildRequest) => Promise<void>;
  /** Where show/export print (default: standard output). */
  out?: (text: string) => void;
}

interface CommonOptions {
  config?: string;
  baseline?: string;
}

function resolveCommon(o: CommonOptions): { config: DetectConfig; baseline: string } {
  const config = o.config ? loadDetectConfig(o.config) : defaultDetectConfig;
  return { config, baseline: o.baseline ?? config.baseline.path };
}

async function readAll(spec: string, maxDistinct: number): Promise<BaselineRecord[]> {
  const store = await openBaselineStore(spec, { maxDistinct, readonly: true });
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}

function iso(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().replace('.000Z', 'Z');
}

/** The `show` table: one line per host and identity, TLS-heaviest first. */
export function formatBaselineTable(records: readonly BaselineRecord[]): string {
  const rows = [...records].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : b.tlsFlows - a.tlsFlows || b.flows - a.flows));
  const head = ['HOST', 'TLS/FLOWS', 'BYTES OUT/IN', 'DST', 'SNI', 'JA4', 'FIRST SEEN', 'LAST SEEN', 'IDENTITY'];
  const table = rows.map((r) => [
    r.host,
    `${r.tlsFlows}/${r.flows}`,
    `${r.bytesOut}/${r.bytesIn}`,
    String(r.destinations.length),
    String(r.snis.length),
    String(r.ja4s.length),
    iso(r.firstSeen),
    iso(r.lastSeen),
    r.identity,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const hosts = new Set(rows.map((r) => r.host)).size;
  return [line(head), ...table.map(line), `${rows.length} identities on ${hosts} host${hosts === 1 ? '' : 's'}`].join('\n') + '\n';
}

export function baselineCommand(program: Command, hooks: BaselineCommandHooks = {}): Command {
  const out = hooks.out ?? ((s: string) => void process.stdout.write(s));
  const cmd = program
    .command('baseline')
    .description('the per-host, per-process TLS baseline the AN0759 detector compares flows with (SQLite file or postgres://…)');
  const common = (c: Command) =>
    c
      .option('-c, --config <file>', "YAML or JSON configuration (its detect: section); default: built-in defaults")
      .option('-b, --baseline <path|url>', 'SQLite file or postgres://user@host:port/db (default: detect.baseline.path)');

  common(
    cmd
      .command('show')
      .description('list what the baseline knows, per host and process identity')
      .option('--host <name>', 'only this host (case-insensitive; * wildcard)')
      .option('--process <pattern>', 'only executables matching this path pattern (* wildcard)')
      .option('--json', 'records as JSON (the export format) instead of a table'),
  ).action(async (o: CommonOptions & { host?: string; process?: string; json?: boolean }) => {
    const { config, baseline } = resolveCommon(o);
    let records = await readAll(baseline, config.baseline.max_distinct);
    if (o.host) {
      const re = globToRegExp(o.host.toLowerCase());
      records = records.filter((r) => re.test(r.host));
    }
    if (o.process) {
      const re = globToRegExp(normalizeExecutable(o.process));
      records = records.filter((r) => re.test(r.executable));
    }
    out(o.json ? JSON.stringify(exportBaseline(records), null, 1) + '\n' : formatBaselineTable(records));
  });

  common(
    cmd
      .command('export')
      .description('write the whole baseline as JSON')
      .option('-o, --output <file>', 'write to FILE instead of standard output', '-'),
  ).action(async (o: CommonOptions & { output: string }) => {
    const { config, baseline } = resolveCommon(o);
    const text = JSON.stringify(exportBaseline(await readAll(baseline, config.baseline.max_distinct)), null, 1) + '\n';
    if (o.output === '-') out(text);
    else writeFileSync(o.output, text);
  });

  common(
    cmd
      .command('import')
      .description('merge a JSON export into the baseline (counts add up, sets union), or replace it')
      .argument('<file>', 'a file written by baseline export (- for standard input)')
      .option('--replace', 'replace the baseline instead of merging'),
  ).action(async (file: string, o: CommonOptions & { replace?: boolean }) => {
    const { config, baseline } = resolveCommon(o);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
    } catch (e) {
      throw new TlsentryError('ERR_BASELINE', `${file}: cannot read a baseline export: ${(e as Error).message}`, { cause: e });
    }
    const records = parseBaselineExport(doc, file);
    const store = await openBaselineStore(baseline, { maxDistinct: config.baseline.max_distinct });
    try {
      if (o.replace) await store.replace(records);
      else await store.apply(records);
    } finally {
      await store.close();
    }
    out(`${o.replace ? 'replaced the baseline with' : 'merged'} ${records.length} records into ${store.location}\n`);
  });

  if (hooks.build) {
    const build = hooks.build;
    common(
      cmd
        .command('build')
        .description('learn the baseline from captures (flows update it, nothing alerts)')
        .argument('<inputs...>', 'capture files or directories')
        .option('--endpoint <url>', 'endpoint API that attributes the flows to processes (needed to learn anything)')
        .option('--endpoint-token-file <file>', 'bearer token for --endpoint'),
    ).action(async (inputs: string[], o: CommonOptions & Record<string, unknown>) => {
      const { config, baseline } = resolveCommon(o);
      await build({ inputs, config, baseline, flags: o });
    });
  }
  return cmd;
}
