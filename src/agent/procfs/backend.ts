/**
 * The Linux /proc backend: which local process owns (or owned) a socket.
 *
 * Every `pollMs` it reads /proc/net/{tcp,tcp6,udp,udp6}; a socket inode not
 * seen before is looked up among /proc/<pid>/fd symlinks (`socket:[inode]`),
 * and its owner's facts are read at once (exe, cmdline, status, stat, maps).
 * Sockets that disappear stay in a bounded history with their first-seen and
 * closed times, so a connection that already closed is still attributable.
 *
 * A socket that opens and closes between two polls is missed by polling; when
 * tracefs is mounted, the `sock:inet_sock_set_state` tracepoint (see
 * ftrace.ts) reports each connect with the connecting process, closing that
 * gap for outbound TCP.
 */
import { readdirSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';

import type { AttributionResult, EndpointProcess, ProcessAnnotation, ProcessModule, TlsLibraryLoad } from '../../shared/endpoint-api.js';
import { connKey, emptyResult, isoOrNull, type AttributionBackend, type BackendHealth, type NormalizedQuery, type ProcessDetail } from '../backend.js';
import { normalizeIp } from '../ip.js';
import { baseName, Watchlist, type TlsCategory } from '../watchlist.js';
import { analyzeElf, elfDynamic } from './elf.js';
import { FtraceSource, findTracefs, TCP_CLOSE, TCP_SYN_SENT, type SockStateEvent } from './ftrace.js';
import { HashCache } from './hash.js';
import { TCP_LISTEN, type ProcSocket } from './net.js';
import { ProcNetTable, SockDiagTable, type SocketTable } from './sockets.js';
import { PasswdCache, readBootFacts, readCmdline, readExe, readMappedPaths, readSocketInodes, readStat, readStatus, type BootFacts } from './proc.js';

export interface ProcfsOptions {
  /** Socket-table poll interval (default 20 ms). */
  pollMs?: number;
  watchlist?: Watchlist;
  /** Root of the proc filesystem (default /proc). */
  procRoot?: string;
  /** Closed sockets remembered (default 200 000). */
  historyMax?: number;
  /** How long a closed socket is remembered (default 30 min). */
  historyTtlMs?: number;
  /** Tolerance around a socket's lifetime for the query's `ts` (default 2 s, plus the poll interval before first sight). */
  windowSlackMs?: number;
  /** Use the sock:inet_sock_set_state tracepoint when tracefs is mounted (default auto). */
  ftrace?: 'auto' | 'on' | 'off';
  /** Also poll the UDP tables (default true). */
  udp?: boolean;
  /** Re-read maps of processes with live sockets at most this often (default 1000 ms). */
  mapsRefreshMs?: number;
  /** Socket table: netlink sock_diag through a python3 helper, /proc/net, or auto (sock_diag when it works). */
  socketTable?: 'auto' | 'proc' | 'sock_diag';
}

interface SockRec {
  proto: 'tcp' | 'udp';
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  key: string;
  inode: number;
  pid: number | null;
  proc: ProcRec | null;
  firstSeen: number;
  lastSeen: number;
  closedAt: number | null;
  /** Already open when the agent started: its start is unknown. */
  atStart: boolean;
  listen: boolean;
  source: 'poll' | 'ftrace';
  attempts: number;
}

interface LibState {
  path: string;
  category: TlsCategory | null;
  firstSeen: number;
  /** Last time the process was seen without this mapping (null: never). */
  absentBefore: number | null;
  atExec: boolean;
}

interface ProcRec {
  uid: string;
  pid: number;
  startTicks: number;
  startMs: number;
  exe: string | null;
  exeKey: string | null;
  name: string | null;
  cmdline: string | null;
  ppid: number;
  uidNum: number | null;
  user: string | null;
  parent: { pid: number; executable: string | null; command_line: string | null } | null;
  libs: Map<string, LibState>;
  mapsReadAt: number | null;
  staticTls: string | null;
  elfDone: boolean;
  sha256: string | null;
  endMs: number | null;
  lastUsed: number;
  annotations: ProcessAnnotation[];
}

const UNRESOLVED_ATTEMPTS = 3;

export class ProcfsBackend implements AttributionBackend {
  readonly name = 'procfs';
  readonly pollMs: number;
  private readonly root: string;
  private readonly watchlist: Watchlist;
  private readonly historyMax: number;
  private readonly historyTtlMs: number;
  private readonly slackMs: number;
  private readonly udp: boolean;
  private readonly mapsRefreshMs: number;
  private readonly ftraceMode: 'auto' | 'on' | 'off';
  private readonly boot: BootFacts;
  private readonly passwd = new PasswdCache();
  private readonly hashes = new HashCache();
  private readonly host = hostname();

  private readonly live = new Map<number, SockRec>();
  private readonly byKey = new Map<string, SockRec[]>();
  private readonly listeners = new Map<string, SockRec[]>();
  private closed: SockRec[] = [];
  private closedHead = 0;
  private readonly procByPid = new Map<number, ProcRec>();
  private readonly procByUid = new Map<string, ProcRec>();
  private readonly localIps = new Set<string>();
  private localIpsAt = 0;
  private pendingElf: ProcRec[] = [];
  private elfScheduled = false;

  private ftrace: FtraceSource | null = null;
  private readonly ftracePending = new Map<string, { pid: number; tMs: number; proc: ProcRec | null }>();
  private readonly ftraceLive = new Map<string, SockRec>();
  ftraceStatus = 'off';

  private timer: NodeJS.Timeout | null = null;
  private table: SocketTable;
  private readonly tableMode: 'auto' | 'proc' | 'sock_diag';
  private polling: Promise<void> | null = null;
  private pollStartedAt = 0;
  private started = false;
  private stopped = false;
  private firstPollDone = false;
  lastPollEnd = 0;
  readonly stats = { polls: 0, pollMsTotal: 0, pollMsMax: 0, fdScans: 0, socketsSeen: 0, ownersResolved: 0, ownersUnknown: 0, ftraceConnects: 0 };

  constructor(opts: ProcfsOptions = {}) {
    this.pollMs = Math.max(1, opts.pollMs ?? 20);
    this.root = opts.procRoot ?? '/proc';
    this.watchlist = opts.watchlist ?? new Watchlist();
    this.historyMax = opts.historyMax ?? 200_000;
    this.historyTtlMs = opts.historyTtlMs ?? 30 * 60_000;
    this.slackMs = opts.windowSlackMs ?? 2000;
    this.udp = opts.udp ?? true;
    this.mapsRefreshMs = opts.mapsRefreshMs ?? 1000;
    this.ftraceMode = opts.ftrace ?? 'auto';
    this.tableMode = opts.socketTable ?? 'auto';
    this.boot = readBootFacts(this.root);
    this.table = new ProcNetTable(this.root);
  }

  /** `proc` or `sock_diag`. */
  get socketTableName(): string {
    return this.table.name;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.tableMode !== 'proc' && this.root === '/proc') {
      const sd = SockDiagTable.tryStart();
      if (sd) this.table = sd;
      else if (this.tableMode === 'sock_diag') throw new Error('sock_diag helper unavailable (needs python3 with AF_NETLINK)');
    }
    if (this.ftraceMode !== 'off') this.startFtrace();
    this.refreshLocalIps(Date.now());
    await this.poll();
    const tick = (): void => {
      if (this.stopped) return;
      const t0 = Date.now();
      this.poll().then(
        () => {
          if (!this.stopped) this.timer = setTimeout(tick, Math.max(1, this.pollMs - (Date.now() - t0)));
        },
        () => {
          if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
        },
      );
    };
    this.timer = setTimeout(tick, this.pollMs);
  }

  private startFtrace(): void {
    const root = findTracefs();
    if (!root) {
      this.ftraceStatus = 'unavailable: tracefs not mounted';
      if (this.ftraceMode === 'on') throw new Error('ftrace requested but tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)');
      return;
    }
    const src = new FtraceSource(root);
    try {
      src.start();
    } catch (e) {
      void src.close();
      this.ftraceStatus = `unavailable: ${(e as Error).message}`;
      if (this.ftraceMode === 'on') throw e;
      return;
    }
    this.ftrace = src;
    this.ftraceStatus = 'on';
    src.on('event', (e: SockStateEvent) => {
      try {
        this.onSockState(e);
      } catch {
        /* never fatal */
      }
    });
    src.on('end', () => {
      if (!this.stopped) this.ftraceStatus = 'stopped';
    });
  }

  private onSockState(e: SockStateEvent): void {
    if (e.protocol !== 6) return;
    if (e.oldstate === TCP_CLOSE && e.newstate === TCP_SYN_SENT) {
      let pid = e.pid;
      if (!e.tgidKnown) pid = readStatus(this.root, pid)?.tgid ?? pid;
      this.stats.ftraceConnects++;
      const proc = this.ensureProcess(pid, Date.now());
      this.ftracePending.set(e.skaddr, { pid, tMs: e.wallMs, proc });
      if (this.ftracePending.size > 65536) this.ftracePending.delete(this.ftracePending.keys().next().value as string);
      return;
    }
    const pend = this.ftracePending.get(e.skaddr);
    if (pend && e.oldstate === TCP_SYN_SENT && e.sport > 0) {
      this.ftracePending.delete(e.skaddr);
      const localIp = e.saddr ? (normalizeIp(e.saddr) ?? '*') : '*';
      const remoteIp = e.daddr ? (normalizeIp(e.daddr) ?? '*') : '*';
      const rec: SockRec = {
        proto: 'tcp',
        localIp,
        localPort: e.sport,
        remoteIp,
        remotePort: e.dport,
        key: connKey('tcp', localIp, e.sport, remoteIp, e.dport),
        inode: 0,
        pid: pend.pid,
        proc: pend.proc ?? this.ensureProcess(pend.pid, Date.now()),
        firstSeen: pend.tMs,
        lastSeen: e.wallMs,
        closedAt: e.newstate === TCP_CLOSE ? e.wallMs : null,
        atStart: false,
        listen: false,
        source: 'ftrace',
        attempts: 0,
      };
      if (localIp !== '*' && localIp !== '0.0.0.0') this.localIps.add(localIp);
      this.index(rec);
      if (rec.closedAt === null) this.ftraceLive.set(e.skaddr, rec);
      else this.closed.push(rec);
      return;
    }
    if (e.newstate === TCP_CLOSE) {
      const rec = this.ftraceLive.get(e.skaddr);
      if (rec) {
        rec.closedAt = e.wallMs;
        rec.lastSeen = e.wallMs;
        this.ftraceLive.delete(e.skaddr);
        this.closed.push(rec);
      }
      this.ftracePending.delete(e.skaddr);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.ftrace) await this.ftrace.close();
    this.ftrace = null;
    this.table.close();
  }

  // ---- polling -------------------------------------------------------------

  /** One pass over the socket table (joined when one is already running); a query can force a fresh look. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    const t0 = performance.now();
    this.pollStartedAt = Date.now();
    this.polling = this.table
      .read(this.udp)
      .catch(async () => {
        // the helper died: fall back to /proc/net for good
        this.table.close();
        this.table = new ProcNetTable(this.root);
        return this.table.read(this.udp);
      })
      .then((socks) => {
        if (!this.stopped) this.apply(socks, t0);
      })
      .catch(() => undefined)
      .finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  private apply(socks: ProcSocket[], t0: number): void {
    const now = Date.now();
    const first = !this.firstPollDone;
    const seen = new Set<number>();
    const unresolved: SockRec[] = [];
    for (const s of socks) {
      if (s.inode === 0) continue; // TIME_WAIT or orphaned: no owner any more
      seen.add(s.inode);
      const listen = s.proto === 'tcp' ? s.state === TCP_LISTEN : s.remotePort === 0;
      const key = connKey(s.proto, s.localIp, s.localPort, s.remoteIp, s.remotePort);
      let rec = this.live.get(s.inode);
      if (rec && rec.key !== key) {
        // e.g. a UDP socket that connect()ed after bind(): a new flow key, same owner
        this.retire(rec, now);
        const pid = rec.pid;
        const proc = rec.proc;
        rec = this.newRec(s, key, listen, now, false);
        rec.pid = pid;
        rec.proc = proc;
      } else if (!rec) {
        rec = this.newRec(s, key, listen, now, first);
        this.stats.socketsSeen++;
        const ft = this.ftraceOwner(rec);
        if (ft) {
          rec.pid = ft.pid;
          rec.proc = ft.proc;
        }
      }
      rec.lastSeen = now;
      if (rec.pid === null && rec.attempts < UNRESOLVED_ATTEMPTS) unresolved.push(rec);
      if (s.localIp !== '0.0.0.0' && s.localIp !== '::') this.localIps.add(s.localIp);
    }
    for (const [inode, rec] of this.live) {
      if (!seen.has(inode)) this.retire(rec, now);
    }
    if (unresolved.length > 0) this.resolveOwners(unresolved, now);
    this.refreshMaps(now);
    if (this.pendingElf.length > 0 && !this.elfScheduled) {
      // static-TLS analysis reads the executable (tens of ms for a 100 MB binary, once per file): off the poll
      this.elfScheduled = true;
      setImmediate(() => {
        this.elfScheduled = false;
        const todo = this.pendingElf;
        this.pendingElf = [];
        for (const p of todo) this.analyzeExecutable(p);
      });
    }
    this.trim(now);
    this.firstPollDone = true;
    this.lastPollEnd = Date.now();
    const dt = performance.now() - t0;
    this.stats.polls++;
    this.stats.pollMsTotal += dt;
    if (dt > this.stats.pollMsMax) this.stats.pollMsMax = dt;
  }

  private ftraceOwner(rec: SockRec): { pid: number; proc: ProcRec | null } | null {
    if (!this.ftrace) return null;
    for (const k of [rec.key, connKey(rec.proto, '*', rec.localPort, '*', rec.remotePort)]) {
      const list = this.byKey.get(k);
      if (!list) continue;
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i];
        if (r.source === 'ftrace' && r.pid !== null && rec.firstSeen - r.firstSeen < 60_000) return { pid: r.pid, proc: r.proc };
      }
    }
    return null;
  }

  private newRec(s: ProcSocket, key: string, listen: boolean, now: number, atStart: boolean): SockRec {
    const rec: SockRec = {
      proto: s.proto,
      localIp: s.localIp,
      localPort: s.localPort,
      remoteIp: s.remoteIp,
      remotePort: s.remotePort,
      key,
      inode: s.inode,
      pid: null,
      proc: null,
      firstSeen: now,
      lastSeen: now,
      closedAt: null,
      atStart,
      listen,
      source: 'poll',
      attempts: 0,
    };
    this.live.set(s.inode, rec);
    this.index(rec);
    return rec;
  }

  private index(rec: SockRec): void {
    const list = this.byKey.get(rec.key);
    if (list) list.push(rec);
    else this.byKey.set(rec.key, [rec]);
    if (rec.listen) {
      const lk = `${rec.proto}|${rec.localPort}`;
      const l = this.listeners.get(lk);
      if (l) l.push(rec);
      else this.listeners.set(lk, [rec]);
    }
  }

  private unindex(rec: SockRec): void {
    const list = this.byKey.get(rec.key);
    if (list) {
      const i = list.indexOf(rec);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(rec.key);
    }
    if (rec.listen) {
      const lk = `${rec.proto}|${rec.localPort}`;
      const l = this.listeners.get(lk);
      if (l) {
        const i = l.indexOf(rec);
        if (i >= 0) l.splice(i, 1);
        if (l.length === 0) this.listeners.delete(lk);
      }
    }
  }

  private retire(rec: SockRec, now: number): void {
    rec.closedAt = now;
    this.live.delete(rec.inode);
    this.closed.push(rec);
  }

  /** Find the owners of new socket inodes through /proc/<pid>/fd, newest processes first. */
  private resolveOwners(recs: SockRec[], now: number): void {
    const want = new Map<number, SockRec>();
    for (const r of recs) {
      r.attempts++;
      want.set(r.inode, r);
    }
    this.stats.fdScans++;
    let pids: number[];
    try {
      pids = readdirSync(this.root)
        .filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57)
        .map(Number)
        .sort((a, b) => b - a);
    } catch {
      return;
    }
    for (const pid of pids) {
      if (want.size === 0) break;
      let fds: string[];
      try {
        fds = readdirSync(`${this.root}/${pid}/fd`);
      } catch {
        continue;
      }
      const found = readSocketInodes(this.root, pid, fds, (ino) => want.has(ino));
      if (found.length === 0) continue;
      const proc = this.ensureProcess(pid, now);
      for (const ino of found) {
        const r = want.get(ino)!;
        r.pid = pid;
        r.proc = proc;
        want.delete(ino);
        this.stats.ownersResolved++;
      }
    }
    for (const r of want.values()) if (r.attempts >= UNRESOLVED_ATTEMPTS) this.stats.ownersUnknown++;
  }

  /** The current process with this pid (read now if new or the pid was reused). */
  private ensureProcess(pid: number, now: number): ProcRec | null {
    const st = readStat(this.root, pid);
    const cur = this.procByPid.get(pid);
    if (!st) return cur ?? this.stubProcess(pid, now);
    if (cur && cur.startTicks === st.startTicks) {
      cur.lastUsed = now;
      return cur;
    }
    if (cur && cur.endMs === null) cur.endMs = now;
    const status = readStatus(this.root, pid);
    const exe = readExe(this.root, pid);
    const cmd = readCmdline(this.root, pid);
    const startMs = this.boot.bootTimeMs + (st.startTicks * 1000) / this.boot.clkTck;
    let parent: ProcRec['parent'] = null;
    if (st.ppid > 0) {
      const pp = this.procByPid.get(st.ppid);
      const pst = readStat(this.root, st.ppid);
      if (pp && pst && pp.startTicks === pst.startTicks) parent = { pid: st.ppid, executable: pp.exe, command_line: pp.cmdline };
      else parent = { pid: st.ppid, executable: readExe(this.root, st.ppid), command_line: readCmdline(this.root, st.ppid)?.line ?? null };
    }
    const uidNum = status?.uid ?? null;
    const rec: ProcRec = {
      uid: `${this.boot.bootId}-${pid}-${st.startTicks}`,
      pid,
      startTicks: st.startTicks,
      startMs,
      exe,
      exeKey: null,
      name: status?.name ?? st.comm,
      cmdline: cmd?.line ?? null,
      ppid: st.ppid,
      uidNum,
      user: this.passwd.name(uidNum),
      parent,
      libs: new Map(),
      mapsReadAt: null,
      staticTls: null,
      elfDone: false,
      sha256: null,
      endMs: null,
      lastUsed: now,
      annotations: [],
    };
    if (exe && exe.endsWith(' (deleted)')) {
      rec.annotations.push({ kind: 'executable_deleted', time: new Date(now).toISOString(), detail: { path: exe } });
    }
    this.procByPid.set(pid, rec);
    this.procByUid.set(rec.uid, rec);
    this.readMaps(rec, now);
    // hash from the live process's exe link (works for deleted files too), cached per file identity
    const exeLink = `${this.root}/${pid}/exe`;
    rec.exeKey = HashCache.keyOf(exeLink);
    const known = this.hashes.peek(rec.exeKey);
    if (known !== undefined) rec.sha256 = known;
    else
      void this.hashes.request(rec.exeKey, exeLink).then((h) => {
        if (h) rec.sha256 = h;
        else if (exe && !exe.endsWith(' (deleted)')) return this.hashes.request(HashCache.keyOf(exe), exe).then((h2) => void (rec.sha256 = h2));
      });
    this.pendingElf.push(rec);
    return rec;
  }

  /** A process that exited before its facts could be read: only the pid is known. */
  private stubProcess(pid: number, now: number): ProcRec {
    const rec: ProcRec = {
      uid: `${this.boot.bootId}-${pid}-unknown-${now}`,
      pid,
      startTicks: -1,
      startMs: NaN,
      exe: null,
      exeKey: null,
      name: null,
      cmdline: null,
      ppid: 0,
      uidNum: null,
      user: null,
      parent: null,
      libs: new Map(),
      mapsReadAt: null,
      staticTls: null,
      elfDone: true,
      sha256: null,
      endMs: now,
      lastUsed: now,
      annotations: [{ kind: 'exited_before_inspection', time: new Date(now).toISOString(), detail: { pid } }],
    };
    this.procByPid.set(pid, rec);
    this.procByUid.set(rec.uid, rec);
    return rec;
  }

  private analyzeExecutable(p: ProcRec): void {
    if (p.elfDone) return;
    p.elfDone = true;
    let facts = analyzeElf(`${this.root}/${p.pid}/exe`);
    if (!facts.isElf && p.exe && !p.exe.endsWith(' (deleted)')) facts = analyzeElf(p.exe);
    p.staticTls = facts.staticTls;
    if (!p.staticTls && p.exe && /^java$/.test(baseName(p.exe))) p.staticTls = 'jsse';
  }

  private readMaps(p: ProcRec, now: number): void {
    const paths = readMappedPaths(this.root, p.pid);
    if (!paths) {
      if (p.endMs === null && !readStat(this.root, p.pid)) p.endMs = now;
      return;
    }
    const prev = p.mapsReadAt;
    let added = false;
    for (const raw of paths) {
      if (p.libs.has(raw)) continue;
      added = true;
      const path = raw.endsWith(' (deleted)') ? raw.slice(0, -10) : raw;
      const category = this.watchlist.classify(path);
      p.libs.set(raw, { path, category, firstSeen: now, absentBefore: prev, atExec: false });
      if (prev !== null && category === 'tls_stack' && now - p.startMs > 5000) {
        p.annotations.push({ kind: 'tls_library_loaded_after_start', time: new Date(now).toISOString(), detail: { path, seconds_after_start: Math.round((now - p.startMs) / 100) / 10 } });
      }
    }
    p.mapsReadAt = now;
    if (added) this.markExecLibs(p);
  }

  /** Libraries the dynamic linker mapped at exec: the DT_NEEDED closure from the executable. */
  private markExecLibs(p: ProcRec): void {
    const byBase = new Map<string, LibState>();
    for (const lib of p.libs.values()) {
      byBase.set(baseName(lib.path), lib);
      // DT_NEEDED names the soname (libcurl.so.4); the mapped file is often the versioned one (libcurl.so.4.8.0)
      if (/\.so(\.|$)/.test(lib.path)) {
        const soname = elfDynamic(lib.path).soname;
        if (soname && !byBase.has(soname)) byBase.set(soname, lib);
      }
    }
    const exeNeeded = elfDynamic(`${this.root}/${p.pid}/exe`).needed;
    const queue = [...exeNeeded];
    const visited = new Set<string>();
    while (queue.length > 0) {
      const n = queue.pop()!;
      if (visited.has(n)) continue;
      visited.add(n);
      const lib = byBase.get(n);
      if (!lib) continue;
      lib.atExec = true;
      for (const m of elfDynamic(lib.path).needed) if (!visited.has(m)) queue.push(m);
    }
  }

  private refreshMaps(now: number): void {
    const due = new Set<ProcRec>();
    for (const rec of this.live.values()) {
      const p = rec.proc;
      if (p && p.endMs === null && !rec.listen && (p.mapsReadAt === null || now - p.mapsReadAt >= this.mapsRefreshMs)) due.add(p);
    }
    for (const p of due) this.readMaps(p, now);
  }

  private trim(now: number): void {
    const cutoff = now - this.historyTtlMs;
    while (this.closedHead < this.closed.length) {
      const r = this.closed[this.closedHead];
      const over = this.closed.length - this.closedHead > this.historyMax;
      if (!over && (r.closedAt ?? now) >= cutoff) break;
      this.unindex(r);
      this.closedHead++;
    }
    if (this.closedHead > 4096 && this.closedHead * 2 > this.closed.length) {
      this.closed = this.closed.slice(this.closedHead);
      this.closedHead = 0;
    }
    if (this.stats.polls % 256 === 0) this.trimProcesses(now);
  }

  private trimProcesses(now: number): void {
    const inUse = new Set<ProcRec>();
    for (const list of this.byKey.values()) for (const r of list) if (r.proc) inUse.add(r.proc);
    for (const [uid, p] of this.procByUid) {
      if (inUse.has(p)) continue;
      if (now - p.lastUsed < this.historyTtlMs) continue;
      this.procByUid.delete(uid);
      if (this.procByPid.get(p.pid) === p) this.procByPid.delete(p.pid);
    }
    if (now - this.localIpsAt > 10_000) this.refreshLocalIps(now);
  }

  private refreshLocalIps(now: number): void {
    this.localIpsAt = now;
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        const ip = normalizeIp(a.address);
        if (ip) this.localIps.add(ip);
      }
    }
  }

  // ---- queries ---------------------------------------------------------------

  private candidates(q: NormalizedQuery): { recs: SockRec[]; localIp: string; inWindowUnknown: number; orientation: 'client' | 'server' } | null {
    const tries: { localIp: string; lp: number; rip: string; rp: number; orientation: 'client' | 'server' }[] = [];
    // the flow's client is the process wanted: when it is on this host, only its own socket counts
    // (on loopback the server's socket has the mirrored 5-tuple, and is the wrong process)
    if (this.localIps.has(q.srcIp)) tries.push({ localIp: q.srcIp, lp: q.srcPort, rip: q.dstIp, rp: q.dstPort, orientation: 'client' });
    else if (this.localIps.has(q.dstIp)) tries.push({ localIp: q.dstIp, lp: q.dstPort, rip: q.srcIp, rp: q.srcPort, orientation: 'server' });
    let firstUnknown: { recs: SockRec[]; localIp: string; inWindowUnknown: number; orientation: 'client' | 'server' } | null = null;
    for (const t of tries) {
      const recs: SockRec[] = [];
      let unknown = 0;
      for (const k of [connKey(q.proto, t.localIp, t.lp, t.rip, t.rp), connKey(q.proto, '*', t.lp, '*', t.rp)]) {
        for (const r of this.byKey.get(k) ?? []) {
          if (!this.inWindow(r, q.tsMs)) continue;
          if (r.pid === null) unknown++;
          else recs.push(r);
        }
      }
      if (recs.length > 0) return { recs, localIp: t.localIp, inWindowUnknown: unknown, orientation: t.orientation };
      if (!firstUnknown) firstUnknown = { recs, localIp: t.localIp, inWindowUnknown: unknown, orientation: t.orientation };
    }
    return firstUnknown;
  }

  private inWindow(r: SockRec, ts: number): boolean {
    const lower = r.atStart ? -Infinity : r.firstSeen - (r.source === 'poll' ? this.pollMs + this.slackMs : this.slackMs);
    const upper = (r.closedAt ?? Date.now()) + this.slackMs;
    return ts >= lower && ts <= upper;
  }

  private listenerFor(q: NormalizedQuery): SockRec[] {
    // only for inbound flows: for a local client (loopback included) the listener is the wrong process
    if (!this.localIps.has(q.dstIp) || this.localIps.has(q.srcIp)) return [];
    return (this.listeners.get(`${q.proto}|${q.dstPort}`) ?? []).filter(
      (r) => r.pid !== null && (r.localIp === q.dstIp || r.localIp === '0.0.0.0' || r.localIp === '::') && this.inWindow(r, q.tsMs),
    );
  }

  private matchOne(q: NormalizedQuery): AttributionResult {
    if (!this.localIps.has(q.srcIp) && !this.localIps.has(q.dstIp)) {
      if (Date.now() - this.localIpsAt > 1000) this.refreshLocalIps(Date.now());
      if (!this.localIps.has(q.srcIp) && !this.localIps.has(q.dstIp)) return emptyResult(q.id, 'host_unknown');
    }
    const c = this.candidates(q);
    if (c && c.recs.length > 0) {
      const procs = distinctProcs(c.recs);
      const host = { name: this.host, ip: c.localIp };
      if (procs.length === 1) {
        const r = c.recs[c.recs.length - 1];
        const warnings: string[] = [];
        if (c.orientation === 'server') warnings.push('attributed_to_server_side');
        if (r.source === 'ftrace') warnings.push('socket_from_ftrace');
        if (procs[0].endMs !== null) warnings.push('process_exited');
        return {
          id: q.id,
          status: 'matched',
          method: 'exact_5tuple',
          confidence: c.orientation === 'client' ? 0.95 : 0.9,
          host,
          process: this.toEndpoint(procs[0], q.tsMs),
          candidates: [],
          warnings,
        };
      }
      return {
        id: q.id,
        status: 'ambiguous',
        method: 'exact_5tuple',
        confidence: 1 / procs.length,
        host,
        process: null,
        candidates: procs.map((p) => this.toEndpoint(p, q.tsMs)),
        warnings: ['port_reused_in_window'],
      };
    }
    const lis = this.listenerFor(q);
    if (lis.length > 0) {
      const procs = distinctProcs(lis);
      const host = { name: this.host, ip: q.dstIp };
      if (procs.length === 1) {
        return { id: q.id, status: 'matched', method: 'socket_table', confidence: 0.6, host, process: this.toEndpoint(procs[0], q.tsMs), candidates: [], warnings: ['attributed_to_listener'] };
      }
      return { id: q.id, status: 'ambiguous', method: 'socket_table', confidence: 1 / procs.length, host, process: null, candidates: procs.map((p) => this.toEndpoint(p, q.tsMs)), warnings: ['several_listeners'] };
    }
    const r = emptyResult(q.id, 'not_found', c && c.inWindowUnknown > 0 ? ['socket_seen_owner_unknown'] : []);
    r.host = { name: this.host, ip: this.localIps.has(q.srcIp) ? q.srcIp : q.dstIp };
    return r;
  }

  async attribute(queries: NormalizedQuery[]): Promise<AttributionResult[]> {
    let results = queries.map((q) => this.safeMatch(q));
    const now = Date.now();
    // A flow that began moments ago may not be in the tables yet: look once more, now, unless a
    // poll has already read the table since the flow began (then its socket is gone, or not ours).
    // The margin covers a sensor clock a little ahead of ours.
    const margin = Math.max(20, this.pollMs);
    let since = -Infinity;
    results.forEach((r, i) => {
      const ts = queries[i].tsMs;
      if (r.status === 'not_found' && now - ts < 10_000 && this.pollStartedAt < ts + margin && ts > since) since = ts;
    });
    if (since > -Infinity) {
      await this.freshPoll(since);
      results = results.map((r, i) => (r.status === 'not_found' ? this.safeMatch(queries[i]) : r));
    }
    await this.awaitHashes(results, 300);
    return results;
  }

  /** A poll that read the socket table after `since`: the running one if it started after, else a new one. */
  private async freshPoll(since: number): Promise<void> {
    if (this.polling) {
      const startedAfter = this.pollStartedAt >= since;
      await this.polling;
      if (startedAfter) return;
    }
    await this.poll();
  }

  private safeMatch(q: NormalizedQuery): AttributionResult {
    try {
      return this.matchOne(q);
    } catch (e) {
      return emptyResult(q.id, 'not_found', [`internal_error: ${(e as Error).message}`]);
    }
  }

  /** Give hashes of freshly seen executables a moment, then fill them in. */
  private async awaitHashes(results: AttributionResult[], maxMs: number): Promise<void> {
    const missing = results.filter((r) => r.process && r.process.hash === null);
    if (missing.length === 0) return;
    const jobs: Promise<unknown>[] = [];
    for (const r of missing) {
      const p = this.procByUid.get(r.process!.uid);
      if (p && p.exeKey) jobs.push(this.hashes.request(p.exeKey, `${this.root}/${p.pid}/exe`));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(jobs), new Promise<void>((res) => (timer = setTimeout(res, maxMs)))]);
    clearTimeout(timer);
    for (const r of missing) {
      const p = this.procByUid.get(r.process!.uid);
      const h = p ? (p.sha256 ?? this.hashes.peek(p.exeKey) ?? null) : null;
      if (h) r.process!.hash = { sha256: h };
    }
  }

  private libLoad(p: ProcRec, lib: LibState, ts: number): TlsLibraryLoad {
    const t = this.libTiming(p, lib, ts);
    return { path: lib.path, category: lib.category ?? 'none', load_time: t.load_time, loaded_before_flow: t.before, load_time_source: t.source, observed_at: isoOrNull(lib.firstSeen) };
  }

  private libTiming(p: ProcRec, lib: LibState, ts: number): { load_time: string | null; source: TlsLibraryLoad['load_time_source']; before: boolean | null } {
    let load_time: string | null;
    let source: TlsLibraryLoad['load_time_source'];
    let before: boolean | null;
    if (lib.atExec && Number.isFinite(p.startMs)) {
      load_time = isoOrNull(p.startMs);
      source = 'exec';
      before = p.startMs <= ts + 1000;
    } else if (lib.absentBefore !== null) {
      load_time = isoOrNull(lib.firstSeen);
      source = 'observed';
      before = lib.firstSeen <= ts ? true : lib.absentBefore >= ts ? false : null;
    } else {
      load_time = null;
      source = 'unknown';
      before = lib.firstSeen <= ts ? true : null;
    }
    return { load_time, source, before };
  }

  private toEndpoint(p: ProcRec, ts: number): EndpointProcess {
    if (!p.elfDone) this.analyzeExecutable(p);
    const tls: TlsLibraryLoad[] = [];
    for (const lib of p.libs.values()) if (lib.category) tls.push(this.libLoad(p, lib, ts));
    const sha = p.sha256 ?? this.hashes.peek(p.exeKey) ?? null;
    return {
      uid: p.uid,
      pid: p.pid,
      start_time: isoOrNull(p.startMs),
      executable: p.exe,
      name: p.exe ? baseName(p.exe.replace(/ \(deleted\)$/, '')) : p.name,
      command_line: p.cmdline,
      user: p.user,
      parent: p.parent,
      hash: sha ? { sha256: sha } : null,
      code_signature: null,
      tls_libraries: tls,
      static_tls_stack: p.staticTls,
      annotations: p.annotations.slice(),
      end_time: isoOrNull(p.endMs),
    };
  }

  process(uid: string): ProcessDetail | null {
    const p = this.procByUid.get(uid);
    if (!p) return null;
    const modules: ProcessModule[] = [];
    for (const lib of p.libs.values()) {
      const t = this.libTiming(p, lib, Date.now());
      modules.push({ path: lib.path, category: lib.category, load_time: t.load_time, load_time_source: t.source });
    }
    return { process: this.toEndpoint(p, Date.now()), modules };
  }

  health(): BackendHealth {
    const lag = this.lastPollEnd ? (Date.now() - this.lastPollEnd) / 1000 : null;
    let sockets = this.live.size + this.ftraceLive.size;
    sockets += this.closed.length - this.closedHead;
    return {
      name: this.name,
      hosts: [this.host],
      lag_seconds: lag,
      processes: this.procByUid.size,
      sockets,
      event_source: `procfs-poll(${this.table.name})${this.ftrace ? '+ftrace' : ''}`,
    };
  }

  /** Test and bench hook: process record for a pid, if tracked. */
  trackedPid(pid: number): boolean {
    return this.procByPid.has(pid);
  }
}

function distinctProcs(recs: SockRec[]): ProcRec[] {
  const out: ProcRec[] = [];
  for (const r of recs) if (r.proc && !out.includes(r.proc)) out.push(r.proc);
  return out;
}
