/**
 * Running as a service: dropping root after the capture is open, and signals.
 *
 * Privileges: libpcap needs CAP_NET_RAW only to open the capture; reading an
 * open one needs nothing. Started as root, the sensor opens the capture, then
 * sets its supplementary groups, gid and uid to those of `--user` (default
 * `nobody`). Once every uid is non-zero the kernel clears all capabilities, so
 * nothing of root is left (checked: setuid(0) must fail afterwards). Started
 * as another user (file capabilities: `setcap cap_net_raw+eip` on the node
 * binary, or systemd's AmbientCapabilities), there is nothing to drop.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TlsentryError } from '../shared/errors.js';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
}

/** A user's uid and primary gid: getent (NSS: LDAP, sssd …), else /etc/passwd. */
export function lookupUser(name: string): UserEntry | null {
  const parse = (line: string): UserEntry | null => {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) return null;
    return { name: f[0], uid: Number(f[2]), gid: Number(f[3]) };
  };
  const byId = /^\d+$/.test(name);
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() !== '') return parse(r.stdout.trim().split('\n')[0]);
  if (r.error === undefined && r.status === 2) return null; // getent: not found
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const e = parse(line);
      if (e !== null && (byId ? e.uid === Number(name) : e.name === name)) return e;
    }
  } catch {
    // no /etc/passwd
  }
  return null;
}

export type DropResult =
  | { dropped: true; user: UserEntry }
  | { dropped: false; reason: string };

/** Become `userName` if running as root (after the capture is open). */
export function dropPrivileges(userName: string): DropResult {
  if (typeof process.getuid !== 'function' || typeof process.setuid !== 'function') return { dropped: false, reason: 'not a POSIX platform' };
  const uid = process.getuid();
  const euid = process.geteuid!();
  if (uid !== 0 && euid !== 0) return { dropped: false, reason: `running as uid ${uid}, not root` };
  const user = lookupUser(userName);
  if (user === null) throw new TlsentryError('ERR_USAGE', `--user ${userName}: no such user`);
  if (user.uid === 0) return { dropped: false, reason: `--user ${userName} is root: privileges kept` };
  try {
    // initgroups(3) is on process at run time (POSIX) but not in @types/node 20's Process.
    (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(user.name, user.gid);
    process.setgid!(user.gid);
    process.setuid!(user.uid);
  } catch (err) {
    throw new TlsentryError('ERR_CONFIG', `cannot drop privileges to ${user.name}: ${(err as Error).message}`, { cause: err });
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // expected: root cannot be regained
  }
  if (regained || process.getuid() !== user.uid || process.geteuid!() !== user.uid || process.getegid!() !== user.gid) {
    throw new TlsentryError('ERR_CONFIG', `dropping privileges to ${user.name} did not take effect`);
  }
  return { dropped: true, user };
}

export interface SignalHandlers {
  /** SIGINT / SIGTERM; `again` is true from the second one on. */
  stop(signal: NodeJS.Signals, again: boolean): void;
  /** SIGHUP. */
  reopen(): void;
}

/** Install the handlers; returns a function that removes them. */
export function handleSignals(h: SignalHandlers): () => void {
  let stops = 0;
  const onStop = (sig: NodeJS.Signals) => h.stop(sig, ++stops > 1);
  const onHup = () => h.reopen();
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGHUP', onHup);
  };
}
