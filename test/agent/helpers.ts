/**
 * Shared helpers for the agent and enrichment tests: where the shared
 * endpoint data lives (read in place, never copied), HTTP calls with a token,
 * and an agent process started through the CLI helper.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AttributionQuery } from '../../src/shared/endpoint-api.js';
import { tempDir } from '../helpers/tools.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = resolve(REPO, '../shared/endpoint');
export const OPENAPI = join(REPO, 'api/openapi.yaml');

/** The shared data folder, or null (tests skip with this message). */
export function sharedPath(...parts: string[]): string | null {
  const p = join(SHARED, ...parts);
  return existsSync(p) ? p : null;
}
export const SKIP_NO_SHARED = `shared endpoint data not found at ${SHARED}`;

/** A row of a campaign's `zeek_conn_joined_sysmon_eid3.json`: a Zeek conn record and the Sysmon EID 3 processes joined to it. */
export interface ZeekJoinedFlow {
  zeek_uid: string;
  ts: number;
  proto: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  matched: { pid: number; process_guid: string; image: string }[];
}

/** The Zeek conn records of the shared campaign folder `dir`, joined to Sysmon EID 3. */
export function readZeekJoined(dir: string): ZeekJoinedFlow[] {
  return JSON.parse(readFileSync(join(dir, 'zeek_conn_joined_sysmon_eid3.json'), 'utf8')) as ZeekJoinedFlow[];
}

/** The TCP and UDP records, and each as an attribution query (without its id). */
export function zeekQueries(flows: ZeekJoinedFlow[]): { flow: ZeekJoinedFlow; query: Omit<AttributionQuery, 'id'> }[] {
  return flows
    .filter((f) => f.proto === 'tcp' || f.proto === 'udp')
    .map((f) => ({
      flow: f,
      query: { proto: f.proto as 'tcp' | 'udp', src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port, ts: new Date(f.ts * 1000).toISOString() },
    }));
}

export const TOKEN = 'test-token-0123456789abcdef';

export function tokenFile(token = TOKEN): string {
  const dir = tempDir('tlsentry-agent-');
  const f = join(dir, 'token');
  writeFileSync(f, `${token}\n`, { mode: 0o600 });
  return f;
}

export async function call(
  url: string,
  opts: { method?: string; token?: string | null; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(url, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await r.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text, headers: r.headers };
}

/** An agent in its own process (test/agent/fixtures/agent-main.ts); resolves with its URL once listening. */
export async function spawnAgent(args: string[], opts: { wrap?: string[] } = {}): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const main = join(REPO, 'test/agent/fixtures/agent-main.ts');
  const cmd = [...(opts.wrap ?? []), process.execPath, '--import', 'tsx', main, 'agent', ...args];
  const child = spawn(cmd[0], cmd.slice(1), { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`agent did not start: ${log}`)), 30_000);
    const onData = (): void => {
      const m = /listening on (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        res(m[1]);
      }
    };
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`agent exited (${code}): ${log}`));
    });
  });
  return { child, url, log: () => log };
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill(signal);
  });
}

/** True when tracefs can be mounted in a private mount namespace (root, unshare). */
export function tracefsUsable(): boolean {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tracefs nodev /sys/kernel/tracing && test -d /sys/kernel/tracing/events/sock/inet_sock_set_state'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Sysmon `YYYY-MM-DD HH:MM:SS.fff` (UTC) → epoch ms. */
export function sysmonMs(s: string): number {
  return Date.parse(`${s.replace(' ', 'T')}Z`);
}
