/**
 * Shared by the enrichment benches: the agent as its own plain-JavaScript
 * process (bundled with the esbuild that tsx brings; no TypeScript loader in
 * the measurement), and CPU time of a process tree from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

let bundled: string | null = null;

/** test/agent/fixtures/agent-main.ts (the `tlsentry agent` command) as one .mjs in bench/.cache. */
export function bundleAgent(): string {
  if (bundled) return bundled;
  mkdirSync(join(REPO, 'bench/.cache'), { recursive: true });
  const out = join(REPO, 'bench/.cache/agent-main.mjs');
  const r = spawnSync(
    join(REPO, 'node_modules/.bin/esbuild'),
    [join(REPO, 'test/agent/fixtures/agent-main.ts'), '--bundle', '--platform=node', '--format=esm', '--packages=external', `--outfile=${out}`, '--log-level=warning'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`esbuild failed: ${r.stderr}`);
  bundled = out;
  return out;
}

export async function startAgent(agentArgs: string[], wrap: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const cmd = [...wrap, process.execPath, bundleAgent(), 'agent', ...agentArgs];
  const child = spawn(cmd[0], cmd.slice(1), { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((res, rej) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on (\S+)/.exec(log);
      if (m) res(m[1]);
    });
    child.on('exit', (code) => rej(new Error(`agent exited ${code}: ${log}`)));
  });
  return { child, url };
}

export async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      /* gone */
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) of a process and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  return [pid, ...descendants(pid)].reduce((s, p) => s + cpuTicks(p), 0) / CLK_TCK;
}

export function option(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
}
