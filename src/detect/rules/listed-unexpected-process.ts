/**
 * listed_unexpected_process: the image is on `data/process_lists.json`'s
 * list of processes that normally make no outbound TLS (notepad, rundll32 to
 * public addresses, certutil, msbuild, …; script interpreters, low, on
 * Windows and POSIX), each entry citing the public detection rules it comes
 * from. Entries may carry conditions (`public_destination`, `no_arguments`,
 * `late_tls_library`) that must all hold; an entry with a `platform`
 * (`windows`, `posix`) matches only executables with that kind of path.
 */
import { imageBaseName, isWindowsPath } from '../identity.js';
import { isPrivateIp } from '../net.js';
import type { ListCondition, ListEntry } from '../process-lists.js';
import type { Rule, RuleContext } from './context.js';
import { lateProviderLoads } from './unexpected-tls-library.js';

/** Split a command line into arguments (Windows quoting, roughly). */
function argumentCount(cmd: string): number {
  const parts = cmd.match(/"[^"]*"|\S+/g) ?? [];
  return Math.max(0, parts.length - 1);
}

function holds(c: ListCondition, ctx: RuleContext): boolean {
  switch (c) {
    case 'public_destination':
      return !isPrivateIp(ctx.input.flow.dstIp);
    case 'no_arguments': {
      const cmd = ctx.view.process?.command_line;
      return cmd != null && argumentCount(cmd.trim()) === 0;
    }
    case 'late_tls_library':
      return lateProviderLoads(ctx.view, ctx.config.rules.unexpected_tls_library.late_load_after).length > 0;
  }
}

function matchEntry(e: ListEntry, base: string, lowerPath: string): string | null {
  for (const re of e.names) if (re.test(base)) return `name ${base}`;
  for (const f of e.pathFragments) if (lowerPath.includes(f)) return `path contains ${f}`;
  return null;
}

export const listedUnexpectedProcess: Rule = {
  name: 'listed_unexpected_process',
  evaluate(ctx) {
    const cfg = ctx.config.rules.listed_unexpected_process;
    const p = ctx.view.process;
    if (!p || !ctx.view.isTls) return null;
    const exe = p.executable ?? p.name;
    const base = imageBaseName(exe);
    if (!exe || !base) return null;
    const lowerPath = exe.replace(/\//g, '\\').toLowerCase();
    const lowerBase = base.toLowerCase();
    const platform = isWindowsPath(exe) ? 'windows' : 'posix';
    const hits: { entry: ListEntry; matched: string }[] = [];
    for (const e of ctx.lists.entries) {
      if (e.platform !== null && e.platform !== platform) continue;
      const matched = matchEntry(e, lowerBase, lowerPath);
      if (matched && e.conditions.every((c) => holds(c, ctx))) hits.push({ entry: e, matched });
    }
    if (hits.length === 0) return null;
    const weightOf = (e: ListEntry) => (e.severity === 'high' ? cfg.weight : e.severity === 'medium' ? cfg.weight_medium : cfg.weight_low);
    hits.sort((a, b) => weightOf(b.entry) - weightOf(a.entry));
    const top = hits[0]!;
    return {
      name: 'listed_unexpected_process',
      weight: weightOf(top.entry),
      summary: `${base} is listed as a process that normally makes no outbound TLS (${top.entry.id}: ${top.entry.sources[0]})`,
      evidence: {
        executable: exe,
        lists: ctx.lists.source.replace(/^.*[\\/](data[\\/])/, '$1'),
        entries: hits.map(({ entry, matched }) => ({
          id: entry.id,
          image: entry.image,
          matched,
          conditions: entry.conditions,
          severity: entry.severity,
          sources: entry.sources,
          note: entry.note,
        })),
      },
    };
  },
};
