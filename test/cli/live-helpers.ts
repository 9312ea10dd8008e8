/**
 * Helpers for the live-capture tests: run `tlsentry live` from source (tsx) as
 * a child process, wait until it reads, stop it with a signal, read its events
 * strictly (every line must parse), and clean up children and network
 * namespaces even when a test fails.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../helpers/tools.js';

const REPO = process.cwd();
export const MAIN_TS = join(REPO, 'src/cli/main.ts');
/**
 * How `startLive` runs tlsentry: from source under tsx, or the built CLI named by
 * TLSENTRY_TEST_MAIN (e.g. dist/bundle/cli/main.cjs, the shipped bundle).
 */
const MAIN_ARGS = process.env.TLSENTRY_TEST_MAIN ? [process.env.TLSENTRY_TEST_MAIN] : ['--import', 'tsx', MAIN_TS];

/** A reason to skip when live capture is impossible here (not root). */
export function cannotCapture(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (live capture on lo, network namespaces)';
  return null;
}

/** A temp directory the unprivileged user (nobody) can write to. */
export function sharedTempDir(prefix: string): string {
  const d = tempDir(prefix);
  chmodSync(d, 0o777);
  return d;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface LiveProcess {
  proc: ChildProcess;
  pid: number;
  stderr(): string;
  /** Resolves when stderr matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Children to kill when a test ends, whatever happened. */
const children = new Set<ChildProcess>();

export function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

export function killAll(): void {
  for (const p of children) {
    if (p.exitCode === null && p.signalCode === null) {
      try {
        p.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  }
  children.clear();
}

/**
 * `tlsentry live ARGS` (prefix: e.g. `ip netns exec NS`), resolved once it
 * says it is writing events.
 */
export async function startLive(args: string[], opts: { prefix?: string[]; spawn?: SpawnOptions; node?: string } = {}): Promise<LiveProcess> {
  const node = opts.node ?? process.execPath;
  const cmd = [...(opts.prefix ?? []), node, ...MAIN_ARGS, 'live', ...args];
  const proc = track(spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO, ...opts.spawn }));
  let err = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of [...waiters]) {
      const m = err.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const m = err.match(re);
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} on stderr:\n${err}`)), timeoutMs);
      waiters.push({
        re,
        resolve: (mm) => {
          clearTimeout(timer);
          resolve(mm);
        },
      });
      void exited.then((x) => {
        clearTimeout(timer);
        reject(new Error(`tlsentry live exited (${x.code ?? x.signal}) before ${re}:\n${err}`));
      });
    });
  const lp: LiveProcess = {
    proc,
    pid: proc.pid!,
    stderr: () => err,
    waitFor,
    exited,
    stop: async (signal = 'SIGTERM', timeoutMs = 30_000) => {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
  await waitFor(/writing events to/);
  return lp;
}

export interface Ev {
  [k: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Every line of an NDJSON file, parsed; throws on a cut or malformed line. */
export function readEventsStrict(file: string): Ev[] {
  const text = readFileSync(file, 'utf8');
  if (text.length === 0) return [];
  if (!text.endsWith('\n')) throw new Error(`${file} does not end with a newline (a cut line)`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      try {
        return JSON.parse(line) as Ev;
      } catch (err) {
        throw new Error(`${file} line ${i + 1} is not JSON (${(err as Error).message}): ${line.slice(0, 200)}`);
      }
    });
}

export const byDataset = (evs: Ev[], ds: string) => evs.filter((e) => e.event?.dataset === ds);

/** Run a command to completion; throws with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run a command asynchronously (a TLS client), resolving with its output. */
export function runAsync(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = track(spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }));
    let out = '', err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} timed out: ${err}`));
    }, timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** /proc/PID/status fields (Uid, Gid, Groups, CapEff, …). */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** `n` short TCP connections on lo to `port` (a server that answers and closes): one flow event each. */
export async function shortConnections(port: number, n = 1): Promise<void> {
  const server = createServer((c) => c.end('hello\n'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = createConnection(port, '127.0.0.1');
      c.on('data', () => undefined);
      c.on('end', () => c.end());
      c.on('close', () => resolve());
      c.on('error', reject);
    });
  }
  await new Promise<void>((r) => server.close(() => r()));
}
