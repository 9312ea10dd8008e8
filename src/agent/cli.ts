/**
 * `tlsentry agent …`: registers the subcommand on a commander program. The
 * lead's CLI only calls `agentCommand(program)`.
 */
import { InvalidArgumentError, type Command } from 'commander';

import { runAgent, type AgentOptions, type RunningAgent } from './index.js';

interface AgentCliOptions {
  backend: string;
  listen: string;
  tokenFile?: string;
  events?: string[];
  insecureNoAuth?: boolean;
  pollMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  ftrace: string;
  socketTable: string;
  watchlist?: string;
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Adds `agent` to `program`; `onStarted` (tests) gets the running agent. */
export function agentCommand(program: Command, onStarted?: (agent: RunningAgent) => void): Command {
  return program
    .command('agent')
    .description('serve the endpoint API (process attribution of flows) from this host (procfs) or Sysmon event files')
    .requiredOption('--backend <name>', 'procfs (this Linux host) or sysmon (Sysmon JSON event files)')
    .requiredOption('--listen <host:port>', 'address to listen on, e.g. 127.0.0.1:7443 or [::1]:7443')
    .option('--token-file <file>', 'file whose first line is the bearer token clients must send')
    .option('--events <path>', 'Sysmon event file or directory (NDJSON or JSON array, flat or Winlogbeat, .gz allowed); repeatable', collect)
    .option('--insecure-no-auth', 'serve without a token (never on a shared network)')
    .option('--poll-ms <ms>', 'procfs: socket-table poll interval (default 20); sysmon: file re-check interval (default 2000)', positiveInt('--poll-ms'))
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--ftrace <mode>', 'procfs: auto|on|off, use the sock:inet_sock_set_state tracepoint when tracefs is mounted', 'auto')
    .option('--socket-table <source>', 'procfs: auto|sock_diag|proc, netlink sock_diag through a python3 helper (much cheaper) or /proc/net/tcp*', 'auto')
    .option('--watchlist <file>', 'extra TLS-module watchlist (tls_module_watchlist.json format)')
    .action(async (o: AgentCliOptions) => {
      if (o.backend !== 'procfs' && o.backend !== 'sysmon') throw new InvalidArgumentError('--backend must be procfs or sysmon');
      if (o.ftrace !== 'auto' && o.ftrace !== 'on' && o.ftrace !== 'off') throw new InvalidArgumentError('--ftrace must be auto, on or off');
      if (o.socketTable !== 'auto' && o.socketTable !== 'proc' && o.socketTable !== 'sock_diag') throw new InvalidArgumentError('--socket-table must be auto, sock_diag or proc');
      const opts: AgentOptions = {
        backend: o.backend,
        listen: o.listen,
        tokenFile: o.tokenFile,
        events: o.events,
        insecureNoAuth: o.insecureNoAuth === true,
        pollMs: o.pollMs,
        tlsCert: o.tlsCert,
        tlsKey: o.tlsKey,
        ftrace: o.ftrace,
        socketTable: o.socketTable,
        watchlistFile: o.watchlist,
      };
      const agent = await runAgent(opts);
      const h = agent.backend.health();
      process.stderr.write(`tlsentry agent: ${h.name} backend (${h.event_source ?? h.name}), ${h.processes} processes, listening on ${agent.url}${opts.insecureNoAuth ? ' WITHOUT AUTHENTICATION' : ''}\n`);
      await new Promise<void>((resolve) => {
        const close = agent.close.bind(agent);
        let closing: Promise<void> | null = null;
        const stop = (): Promise<void> => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          closing ??= close().then(resolve, resolve);
          return closing;
        };
        agent.close = stop;
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        onStarted?.(agent);
      });
    });
}
