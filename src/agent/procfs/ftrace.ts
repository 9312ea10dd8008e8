/**
 * An event source for connects, without eBPF: the kernel tracepoint
 * `sock:inet_sock_set_state` through tracefs (ftrace). The CLOSE → SYN_SENT
 * transition runs inside connect(2), so the traced task is the connecting
 * process; the source port is chosen just after, and shows in the socket's
 * next transition (same `skaddr`). A private trace instance is used
 * (instances/tlsentry-<pid>), so nothing else that uses ftrace is disturbed,
 * and it is removed on close.
 *
 * Needs root and a mounted tracefs (`mount -t tracefs nodev /sys/kernel/tracing`);
 * the agent does not mount it itself. IPv6 addresses are not printed in the
 * `fields` output format, so IPv6 sockets are keyed by ports only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface SockStateEvent {
  /** Thread-group id (the process), or the thread id when the tgid was not recorded. */
  pid: number;
  tgidKnown: boolean;
  comm: string;
  wallMs: number;
  skaddr: string;
  oldstate: number;
  newstate: number;
  sport: number;
  dport: number;
  family: number;
  protocol: number;
  saddr: string | null;
  daddr: string | null;
}

export const TCP_SYN_SENT = 2;
export const TCP_CLOSE = 7;

/** Where tracefs is mounted, or null. */
export function findTracefs(mounts = '/proc/mounts'): string | null {
  try {
    for (const line of readFileSync(mounts, 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[2] === 'tracefs' && existsSync(`${f[1]}/instances`)) return f[1];
    }
  } catch {
    /* no /proc/mounts */
  }
  for (const p of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (existsSync(`${p}/instances`)) return p;
  return null;
}

const LINE_RE = /^\s*(.*)-(\d+)\s+\(\s*(\d+|-+)\)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d+): inet_sock_set_state: (.*)$/;
const FIELD_RE = /(\w+)=(0x[0-9a-f]+|<[^>]*>)/g;

function v4(v: number): string {
  // __u8[4] printed as a little-endian number
  return `${v & 255}.${(v >>> 8) & 255}.${(v >>> 16) & 255}.${v >>> 24}`;
}

/** Parse one trace_pipe line (fields + record-tgid format); null when it is something else. */
export function parseTraceLine(line: string, monoToWall: (sec: number, usec: number) => number): SockStateEvent | null {
  const m = LINE_RE.exec(line);
  if (!m) return null;
  const f: Record<string, string> = {};
  for (const x of m[6].matchAll(FIELD_RE)) f[x[1]] = x[2];
  const num = (k: string): number => (f[k] && f[k].startsWith('0x') ? parseInt(f[k], 16) : NaN);
  const family = num('family');
  const tgidKnown = /^\d+$/.test(m[3]);
  const ev: SockStateEvent = {
    pid: tgidKnown ? Number(m[3]) : Number(m[2]),
    tgidKnown,
    comm: m[1].trim(),
    wallMs: monoToWall(Number(m[4]), Number(m[5].padEnd(6, '0').slice(0, 6))),
    skaddr: f.skaddr ?? '',
    oldstate: num('oldstate'),
    newstate: num('newstate'),
    sport: num('sport'),
    dport: num('dport'),
    family,
    protocol: num('protocol'),
    saddr: family === 2 && f.saddr?.startsWith('0x') ? v4(parseInt(f.saddr, 16) >>> 0) : null,
    daddr: family === 2 && f.daddr?.startsWith('0x') ? v4(parseInt(f.daddr, 16) >>> 0) : null,
  };
  if (!ev.skaddr || Number.isNaN(ev.oldstate) || Number.isNaN(ev.newstate)) return null;
  return ev;
}

export class FtraceSource extends EventEmitter {
  private instance: string | null = null;
  private reader: ChildProcess | null = null;
  lines = 0;

  constructor(private readonly root: string) {
    super();
  }

  /** Create the instance and start reading; throws with the reason when it cannot. */
  start(): void {
    const dir = `${this.root}/instances/tlsentry-${process.pid}`;
    if (!existsSync(dir)) mkdirSync(dir);
    this.instance = dir;
    writeFileSync(`${dir}/options/record-tgid`, '1');
    writeFileSync(`${dir}/options/fields`, '1');
    writeFileSync(`${dir}/trace_clock`, 'mono');
    writeFileSync(`${dir}/buffer_size_kb`, '2048');
    const ev = `${dir}/events/sock/inet_sock_set_state`;
    writeFileSync(`${ev}/filter`, 'protocol == 6');
    writeFileSync(`${ev}/enable`, '1');
    const reader = spawn('cat', [`${dir}/trace_pipe`], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.reader = reader;
    const hr0 = process.hrtime.bigint();
    const wall0 = Date.now();
    const monoToWall = (sec: number, usec: number): number => wall0 + (sec * 1000 + usec / 1000 - Number(hr0 / 1000n) / 1000);
    const rl = createInterface({ input: reader.stdout! });
    rl.on('line', (line) => {
      this.lines++;
      const e = parseTraceLine(line, monoToWall);
      if (e) this.emit('event', e);
    });
    reader.on('exit', () => this.emit('end'));
  }

  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    if (reader && reader.exitCode === null && reader.signalCode === null) {
      const exited = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        reader.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      reader.kill();
      await exited;
    }
    if (this.instance) {
      try {
        writeFileSync(`${this.instance}/events/sock/inet_sock_set_state/enable`, '0');
      } catch {
        /* gone */
      }
      try {
        rmdirSync(this.instance);
      } catch {
        /* busy or gone */
      }
      this.instance = null;
    }
  }
}
