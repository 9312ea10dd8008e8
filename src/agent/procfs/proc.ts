/**
 * Reading one process's facts from /proc/<pid>. Every reader returns null
 * (never throws) when the process is gone or the file is unreadable.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface StatFacts {
  comm: string;
  state: string;
  ppid: number;
  /** Field 22: start time in clock ticks after boot. */
  startTicks: number;
}

export function readStat(root: string, pid: number): StatFacts | null {
  const text = safeRead(`${root}/${pid}/stat`);
  if (text === null) return null;
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3]
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(startTicks)) return null;
  return { comm: text.slice(open + 1, close), state: rest[0], ppid, startTicks };
}

export interface StatusFacts {
  name: string | null;
  uid: number | null;
  tgid: number | null;
  ppid: number | null;
}

export function readStatus(root: string, pid: number): StatusFacts | null {
  const text = safeRead(`${root}/${pid}/status`);
  if (text === null) return null;
  const field = (name: string): string | null => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    return m ? m[1] : null;
  };
  const uid = field('Uid');
  const tgid = field('Tgid');
  const ppid = field('PPid');
  return {
    name: field('Name'),
    uid: uid ? Number(uid.split(/\s+/)[0]) : null,
    tgid: tgid ? Number(tgid) : null,
    ppid: ppid ? Number(ppid) : null,
  };
}

export function readExe(root: string, pid: number): string | null {
  try {
    return readlinkSync(`${root}/${pid}/exe`);
  } catch {
    return null;
  }
}

/** Arguments joined by spaces; an argument with a space or quote is double-quoted. */
export function readCmdline(root: string, pid: number): { args: string[]; line: string } | null {
  let buf: Buffer;
  try {
    buf = readFileSync(`${root}/${pid}/cmdline`);
  } catch {
    return null;
  }
  if (buf.length === 0) return { args: [], line: '' };
  const args = buf.toString('utf8').replace(/\0$/, '').split('\0');
  const line = args.map((a) => (a === '' || /[\s"]/.test(a) ? `"${a.replace(/(["\\])/g, '\\$1')}"` : a)).join(' ');
  return { args, line };
}

/** Distinct file paths mapped into the process (` (deleted)` suffix kept). */
export function readMappedPaths(root: string, pid: number): string[] | null {
  const text = safeRead(`${root}/${pid}/maps`);
  if (text === null) return null;
  const seen = new Set<string>();
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    const slash = text.indexOf('/', pos);
    if (slash >= 0 && slash < end) {
      // the path is the last column; it starts with '/'
      seen.add(text.slice(slash, end));
    }
    pos = end + 1;
  }
  return [...seen];
}

/** Socket inodes among the process's file descriptors (`socket:[12345]`). */
export function readSocketInodes(root: string, pid: number, names: string[], want: (inode: number) => boolean): number[] {
  const out: number[] = [];
  for (const fd of names) {
    let link: string;
    try {
      link = readlinkSync(`${root}/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.charCodeAt(0) !== 115 /* s */ || !link.startsWith('socket:[')) continue;
    const inode = Number(link.slice(8, -1));
    if (want(inode)) out.push(inode);
  }
  return out;
}

/** System facts needed to turn start ticks into wall time. */
export interface BootFacts {
  bootTimeMs: number;
  clkTck: number;
  bootId: string;
}

export function readBootFacts(root = '/proc'): BootFacts {
  let bootTimeMs = Date.now() - 1000 * Number(safeRead(`${root}/uptime`)?.split(' ')[0] ?? 0);
  const stat = safeRead(`${root}/stat`);
  const m = stat ? /^btime\s+(\d+)/m.exec(stat) : null;
  if (m) bootTimeMs = Number(m[1]) * 1000;
  let clkTck = 100;
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  if (r.status === 0 && Number(r.stdout.trim()) > 0) clkTck = Number(r.stdout.trim());
  const bootId = (safeRead(`${root}/sys/kernel/random/boot_id`) ?? '').trim() || 'unknown-boot';
  return { bootTimeMs, clkTck, bootId };
}

function safeRead(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** uid → user name from /etc/passwd, re-read when the file changes. */
export class PasswdCache {
  private names = new Map<number, string>();
  private mtime = -1;
  private checkedAt = 0;

  constructor(private readonly path = '/etc/passwd') {}

  name(uid: number | null): string | null {
    if (uid === null || !Number.isFinite(uid)) return null;
    const now = Date.now();
    if (now - this.checkedAt > 5000) {
      this.checkedAt = now;
      try {
        const st = statSync(this.path);
        if (st.mtimeMs !== this.mtime) {
          this.mtime = st.mtimeMs;
          this.names = new Map();
          for (const line of readFileSync(this.path, 'utf8').split('\n')) {
            const f = line.split(':');
            if (f.length >= 3 && /^\d+$/.test(f[2])) this.names.set(Number(f[2]), f[0]);
          }
        }
      } catch {
        /* keep the old table */
      }
    }
    return this.names.get(uid) ?? String(uid);
  }
}
