/**
 * `tlsentry agent`: serves the endpoint API (api/openapi.yaml) from a
 * backend (procfs: this Linux host; sysmon: Sysmon event files).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

import { TlsentryError } from '../shared/errors.js';
import type { AttributionBackend } from './backend.js';
import { ProcfsBackend } from './procfs/backend.js';
import { createAgentServer, type AgentServerStats } from './server.js';
import { SysmonBackend } from './sysmon/backend.js';
import { loadWatchlistFile, Watchlist } from './watchlist.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  backend: 'procfs' | 'sysmon';
  /** `HOST:PORT` (`[::1]:8443`; port 0 picks a free one). */
  listen: string;
  /** File holding the bearer token (first line). */
  tokenFile?: string;
  /** The token itself (programmatic use; tokenFile wins when both are given). */
  token?: string;
  /** Sysmon event files or directories (sysmon backend). */
  events?: string[];
  /** Serve without authentication. Must be asked for explicitly. */
  insecureNoAuth?: boolean;
  /** procfs: socket-table poll interval in ms (default 20); sysmon: file re-check interval (default 2000). */
  pollMs?: number;
  /** PEM files for HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** procfs: use the sock:inet_sock_set_state tracepoint when tracefs is mounted (default auto). */
  ftrace?: 'auto' | 'on' | 'off';
  /** A watchlist file in the shared tls_module_watchlist.json format, merged with the built-in list. */
  watchlistFile?: string;
  /** procfs: socket table from netlink sock_diag (python3 helper), /proc/net, or auto (default). */
  socketTable?: 'auto' | 'proc' | 'sock_diag';
  maxBodyBytes?: number;
}

export interface RunningAgent {
  url: string;
  host: string;
  port: number;
  backend: AttributionBackend;
  stats: AgentServerStats;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new TlsentryError('ERR_USAGE', `--listen must be HOST:PORT (got ${JSON.stringify(listen)})`);
  const port = Number(m[3]);
  if (port > 65535) throw new TlsentryError('ERR_USAGE', `--listen port out of range: ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TlsentryError('ERR_AGENT', `cannot read token file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const token = text.split(/\r?\n/)[0].trim();
  if (token.length < 8 || /\s/.test(token)) throw new TlsentryError('ERR_AGENT', `token file ${file}: the first line must be a token of at least 8 non-space characters`);
  return token;
}

export async function runAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { host, port } = parseListen(opts.listen);
  let token: string | null = null;
  if (opts.tokenFile) token = readToken(opts.tokenFile);
  else if (opts.token !== undefined) {
    if (opts.token.length < 8 || /\s/.test(opts.token)) throw new TlsentryError('ERR_AGENT', 'the token must be at least 8 non-space characters');
    token = opts.token;
  }
  if (token === null && !opts.insecureNoAuth) throw new TlsentryError('ERR_USAGE', 'the agent needs --token-file (or, explicitly, --insecure-no-auth)');
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new TlsentryError('ERR_USAGE', '--tls-cert and --tls-key go together');
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tlsCert && opts.tlsKey) {
    try {
      tls = { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) };
    } catch (e) {
      throw new TlsentryError('ERR_AGENT', `cannot read TLS certificate or key: ${(e as Error).message}`, { cause: e });
    }
  }
  let watchlist: Watchlist | undefined;
  if (opts.watchlistFile) {
    try {
      watchlist = loadWatchlistFile(opts.watchlistFile);
    } catch (e) {
      throw new TlsentryError('ERR_AGENT', `cannot read watchlist ${opts.watchlistFile}: ${(e as Error).message}`, { cause: e });
    }
  }

  let backend: AttributionBackend;
  if (opts.backend === 'procfs') {
    if (process.platform !== 'linux') throw new TlsentryError('ERR_AGENT', 'the procfs backend needs Linux');
    backend = new ProcfsBackend({ pollMs: opts.pollMs, watchlist, ftrace: opts.ftrace, socketTable: opts.socketTable });
  } else if (opts.backend === 'sysmon') {
    if (!opts.events || opts.events.length === 0) throw new TlsentryError('ERR_USAGE', 'the sysmon backend needs --events PATH');
    backend = new SysmonBackend({ paths: opts.events, watchlist, refreshMs: opts.pollMs });
  } else {
    throw new TlsentryError('ERR_USAGE', `unknown backend ${String(opts.backend)} (procfs or sysmon)`);
  }
  try {
    await backend.start();
  } catch (e) {
    await backend.close().catch(() => undefined);
    throw new TlsentryError('ERR_AGENT', `backend ${opts.backend} failed to start: ${(e as Error).message}`, { cause: e });
  }

  const { server, stats } = createAgentServer(backend, { token, tls, version: AGENT_VERSION, maxBodyBytes: opts.maxBodyBytes });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await backend.close();
    throw new TlsentryError('ERR_AGENT', `cannot listen on ${opts.listen}: ${(e as Error).message}`, { cause: e });
  }
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  let closed = false;
  return {
    url: `${tls ? 'https' : 'http'}://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    backend,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await backend.close();
    },
  };
}

export { ProcfsBackend } from './procfs/backend.js';
export { SysmonBackend } from './sysmon/backend.js';
export { Watchlist } from './watchlist.js';
export { createAgentServer } from './server.js';
