/**
 * The Sysmon backend: endpoint facts from Sysmon event files.
 *
 * - Process table per host, keyed by ProcessGuid: EID 1 gives everything;
 *   a process first seen in another event (EID 3/7/8/22, most of them: their
 *   EID 1 is older than the log) gets pid, image, user from that event and its
 *   start time decoded from the ProcessGuid.
 * - Modules from EID 7 with load times; EID 8 (CreateRemoteThread) becomes an
 *   annotation on the target (and the source); EID 5 ends a process.
 * - Connections from EID 3, oriented by `Initiated` (true: Source is local;
 *   false: Destination is local) and indexed by 5-tuple.
 * - Host identity: the events' computer name; its addresses are the local
 *   sides of its EID 3 events.
 *
 * Clocks. In the OTRF captures the EID 3 (and EID 22) UtcTime differs from
 * the packet clock by a constant per host (−176 s … +5.6 days), while EID 1/7
 * agree with the packets. So two offsets are kept per host:
 * - network offset = EID 3 time − packet time, learned from exact 5-tuple
 *   matches (the median; TCP samples preferred, as Sysmon logs a UDP
 *   "connection" once for many datagrams);
 * - process offset (EID 1/7/8 clock): the network offset minus the skew
 *   between the two event clocks inside the log, measured against the
 *   log's own TimeCreated. A skew under 10 s means one clock (process
 *   offset = network offset); otherwise the estimate is only good to a few
 *   seconds (event-log write delay), so an estimate within 10 s of zero is
 *   taken as zero (the process events are on the packet clock) and a larger
 *   one is used as is, with a warning.
 */
import type { AttributionResult, EndpointProcess, ProcessAnnotation, ProcessModule, TlsLibraryLoad } from '../../shared/endpoint-api.js';
import { connKey, emptyResult, isoOrNull, type AttributionBackend, type BackendHealth, type NormalizedQuery, type ProcessDetail } from '../backend.js';
import { isNonUnicast, normalizeIp } from '../ip.js';
import { baseName, Watchlist, type TlsCategory } from '../watchlist.js';
import { guidStartMs, listEventFiles, readEventFile, type SysmonEvent } from './events.js';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';

export interface SysmonOptions {
  /** Files or directories of Sysmon JSON events. */
  paths: string[];
  watchlist?: Watchlist;
  /** Re-check the files for new events this often (default 2000 ms; 0: never). */
  refreshMs?: number;
  /** Time window around the corrected EID 3 time, TCP (default 30 s). */
  tcpWindowMs?: number;
  /** … UDP (default 300 s: Sysmon reports a UDP socket's traffic once per long stretch). */
  udpWindowMs?: number;
  /** Stop ingesting beyond this many events (default 5 000 000). */
  maxEvents?: number;
}

interface Module {
  path: string;
  timeMs: number | null;
  category: TlsCategory | null;
  signed: boolean | null;
  signature: string | null;
  sha256: string | null;
}

interface SProc {
  guid: string;
  pid: number | null;
  image: string | null;
  commandLine: string | null;
  user: string | null;
  startMs: number | null;
  startFromEid1: boolean;
  parentGuid: string | null;
  parentPid: number | null;
  parentImage: string | null;
  parentCmd: string | null;
  hashes: { sha256?: string; sha1?: string; md5?: string } | null;
  integrity: string | null;
  modules: Module[];
  annotations: ProcessAnnotation[];
  endMs: number | null;
}

/** A process known so far only by its GUID (and maybe pid); EID 1 fills in the rest. */
function newProc(guid: string, pid: number | null, startMs: number | null): SProc {
  return {
    guid,
    pid,
    image: null,
    commandLine: null,
    user: null,
    startMs,
    startFromEid1: false,
    parentGuid: null,
    parentPid: null,
    parentImage: null,
    parentCmd: null,
    hashes: null,
    integrity: null,
    modules: [],
    annotations: [],
    endMs: null,
  };
}

interface Conn {
  proto: 'tcp' | 'udp';
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  timeMs: number;
  /** Lower-case ProcessGuid; for an event with the all-zero GUID, the key of a placeholder process. */
  guid: string;
  /** Sysmon could not name the process (all-zero ProcessGuid): resolved by pid and time at query time. */
  unresolvedPid: number | null;
  /** ProcessId of the EID 3 event (Sysmon for Linux can log a forked child under its parent's GUID). */
  pid: number | null;
  sampled: boolean;
}

class Samples {
  private values: number[] = [];
  private sorted: number[] | null = null;
  constructor(private readonly max: number) {}
  add(v: number): void {
    if (!Number.isFinite(v)) return;
    this.values.push(v);
    if (this.values.length > this.max) this.values.shift();
    this.sorted = null;
  }
  get size(): number {
    return this.values.length;
  }
  median(): number | null {
    if (this.values.length === 0) return null;
    if (!this.sorted) this.sorted = [...this.values].sort((a, b) => a - b);
    const s = this.sorted;
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  }
}

interface Host {
  name: string;
  ips: Set<string>;
  procs: Map<string, SProc>;
  byPid: Map<number, SProc[]>;
  conns: Map<string, Conn[]>;
  byRemote: Map<string, Conn[]>;
  tcpSamples: Samples;
  udpSamples: Samples;
  /** UtcTime − TimeCreated, for network events (3, 22) and process events (1, 5, 7, 8). */
  netSkew: Samples;
  procSkew: Samples;
  connCount: number;
  lastUtcMs: number | null;
}

const ONE_CLOCK_TOLERANCE_MS = 10_000;

function lower(s: string | undefined | null): string {
  return (s ?? '').toLowerCase();
}

function parseHashes(s: string | undefined): { sha256?: string; sha1?: string; md5?: string } | null {
  if (!s || s === '-') return null;
  const out: { sha256?: string; sha1?: string; md5?: string } = {};
  for (const part of s.split(',')) {
    const [k, v] = part.split('=');
    if (!k || !v) continue;
    const key = k.trim().toUpperCase();
    const val = v.trim().toLowerCase();
    if (!/^[0-9a-f]+$/.test(val)) continue;
    if (key === 'SHA256') out.sha256 = val;
    else if (key === 'SHA1') out.sha1 = val;
    else if (key === 'MD5') out.md5 = val;
  }
  return Object.keys(out).length ? out : null;
}

function num(s: string | undefined): number | null {
  if (s === undefined || s === '' || s === '-') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function nullish(s: string | undefined): string | null {
  return s === undefined || s === '' || s === '-' ? null : s;
}

/** A better image name: a full path beats a bare name and `<unknown process>`. */
function betterImage(cur: string | null, next: string | undefined): string | null {
  const n = nullish(next);
  if (!n || n === '<unknown process>') return cur;
  if (!cur || cur === '<unknown process>') return n;
  const full = (s: string): boolean => s.includes('\\') || s.includes('/');
  if (!full(cur) && full(n)) return n;
  return cur;
}

export class SysmonBackend implements AttributionBackend {
  readonly name = 'sysmon';
  private readonly paths: string[];
  private readonly watchlist: Watchlist;
  private readonly refreshMs: number;
  private readonly tcpWindowMs: number;
  private readonly udpWindowMs: number;
  private readonly maxEvents: number;
  private readonly hosts = new Map<string, Host>();
  private readonly hostByIp = new Map<string, Host>();
  private readonly procByGuid = new Map<string, { host: Host; proc: SProc }>();
  private readonly files = new Map<string, { size: number; mtimeMs: number; records: number; bytes: number | null }>();
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  lastRefresh = 0;
  readonly stats = { events: 0, duplicates: 0, skipped: 0, files: 0, truncated: false };

  constructor(opts: SysmonOptions) {
    this.paths = opts.paths;
    this.watchlist = opts.watchlist ?? new Watchlist();
    this.refreshMs = opts.refreshMs ?? 2000;
    this.tcpWindowMs = opts.tcpWindowMs ?? 30_000;
    this.udpWindowMs = opts.udpWindowMs ?? 300_000;
    this.maxEvents = opts.maxEvents ?? 5_000_000;
  }

  async start(): Promise<void> {
    this.refresh(true);
    if (this.refreshMs > 0) {
      const tick = (): void => {
        try {
          this.refresh(false);
        } catch {
          /* keep serving what we have */
        }
        this.timer = setTimeout(tick, this.refreshMs);
        this.timer.unref();
      };
      this.timer = setTimeout(tick, this.refreshMs);
      this.timer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Read new events from the files (all of them the first time). Throws only on a missing path at start. */
  refresh(initial: boolean): void {
    for (const root of this.paths) {
      let files: string[];
      try {
        files = listEventFiles(root);
      } catch (e) {
        if (initial) throw e;
        continue;
      }
      for (const f of files) {
        let st;
        try {
          st = statSync(f);
        } catch {
          continue;
        }
        const prev = this.files.get(f);
        if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs) continue;
        let read;
        try {
          if (prev && prev.bytes !== null && st.size >= prev.bytes) read = readEventFile(f, 0, prev.bytes); // appended lines only
          else read = readEventFile(f, prev && prev.bytes === null && st.size >= prev.size ? prev.records : 0);
        } catch {
          continue;
        }
        if (!prev) this.stats.files++;
        this.stats.skipped += read.skipped;
        for (const e of read.events) this.ingest(e);
        const records = prev && prev.bytes !== null && read.bytes !== null ? prev.records + read.records : Math.max(read.records, prev?.records ?? 0);
        this.files.set(f, { size: st.size, mtimeMs: st.mtimeMs, records, bytes: read.bytes });
      }
    }
    this.lastRefresh = Date.now();
  }

  private hostOf(name: string): Host {
    const key = name.toLowerCase();
    let h = this.hosts.get(key);
    if (!h) {
      h = {
        name,
        ips: new Set(),
        procs: new Map(),
        byPid: new Map(),
        conns: new Map(),
        byRemote: new Map(),
        tcpSamples: new Samples(1001),
        udpSamples: new Samples(1001),
        netSkew: new Samples(4001),
        procSkew: new Samples(4001),
        connCount: 0,
        lastUtcMs: null,
      };
      this.hosts.set(key, h);
    }
    return h;
  }

  private proc(h: Host, guid: string | undefined, pid: string | undefined, image: string | undefined, user: string | undefined): SProc | null {
    const g = nullish(guid);
    if (!g || /^\{?0{8}-0{4}-0{4}-0{4}-0{12}\}?$/.test(g)) return null;
    const key = g.toLowerCase();
    let p = h.procs.get(key);
    if (!p) {
      p = newProc(g, num(pid), guidStartMs(g));
      h.procs.set(key, p);
      this.procByGuid.set(key, { host: h, proc: p });
      this.indexPid(h, p);
    }
    if (p.pid === null) {
      p.pid = num(pid);
      this.indexPid(h, p);
    }
    p.image = betterImage(p.image, image);
    const u = nullish(user);
    if (u && !p.user) p.user = u;
    return p;
  }

  private indexPid(h: Host, p: SProc): void {
    if (p.pid === null) return;
    const l = h.byPid.get(p.pid);
    if (l) l.push(p);
    else h.byPid.set(p.pid, [p]);
  }

  /** A placeholder for events whose process Sysmon could not name (all-zero ProcessGuid). */
  private placeholder(h: Host, pid: number, image: string | undefined, user: string | undefined): SProc {
    const key = `unknown-guid:${h.name}:${pid}`.toLowerCase();
    let p = h.procs.get(key);
    if (!p) {
      p = newProc(`unknown-guid:${h.name}:${pid}`, pid, null);
      h.procs.set(key, p);
      this.procByGuid.set(key, { host: h, proc: p });
    }
    p.image = betterImage(p.image, image);
    if (!p.user) p.user = nullish(user);
    return p;
  }

  private ingest(e: SysmonEvent): void {
    if (this.stats.events >= this.maxEvents) {
      this.stats.truncated = true;
      return;
    }
    const d = e.data;
    const dedupe = `${lower(e.host)}|${e.eid}|${lower(d.ProcessGuid ?? d.SourceProcessGuid)}|${d.UtcTime}|${d.ImageLoaded ?? ''}|${d.SourcePort ?? ''}|${d.DestinationPort ?? ''}|${d.DestinationIp ?? ''}|${d.QueryName ?? ''}|${d.TargetProcessGuid ?? ''}`;
    const key = createHash('md5').update(dedupe).digest('base64');
    if (this.seen.has(key)) {
      this.stats.duplicates++;
      return;
    }
    this.seen.add(key);
    this.stats.events++;
    const h = this.hostOf(e.host);
    if (e.utcMs !== null && (h.lastUtcMs === null || e.utcMs > h.lastUtcMs)) h.lastUtcMs = e.utcMs;
    if (e.utcMs !== null && e.createdMs !== null) {
      if (e.eid === 3 || e.eid === 22) h.netSkew.add(e.utcMs - e.createdMs);
      else if (e.eid === 1 || e.eid === 5 || e.eid === 7 || e.eid === 8) h.procSkew.add(e.utcMs - e.createdMs);
    }
    switch (e.eid) {
      case 1: {
        const p = this.proc(h, d.ProcessGuid, d.ProcessId, d.Image, d.User);
        if (!p) return;
        p.commandLine = nullish(d.CommandLine) ?? p.commandLine;
        if (e.utcMs !== null) {
          p.startMs = e.utcMs;
          p.startFromEid1 = true;
        }
        p.parentGuid = nullish(d.ParentProcessGuid);
        p.parentPid = num(d.ParentProcessId);
        p.parentImage = nullish(d.ParentImage);
        p.parentCmd = nullish(d.ParentCommandLine);
        p.hashes = parseHashes(d.Hashes) ?? p.hashes;
        p.integrity = nullish(d.IntegrityLevel);
        if (p.parentGuid) {
          const parent = this.proc(h, p.parentGuid, d.ParentProcessId, d.ParentImage, d.ParentUser);
          if (parent && !parent.commandLine) parent.commandLine = nullish(d.ParentCommandLine);
        }
        return;
      }
      case 3: {
        let p = this.proc(h, d.ProcessGuid, d.ProcessId, d.Image, d.User);
        let unresolvedPid: number | null = null;
        if (!p && num(d.ProcessId) !== null) {
          unresolvedPid = num(d.ProcessId);
          p = this.placeholder(h, unresolvedPid!, d.Image, d.User);
        }
        const proto = lower(d.Protocol);
        if (proto !== 'tcp' && proto !== 'udp') return;
        const src = normalizeIp(d.SourceIp);
        const dst = normalizeIp(d.DestinationIp);
        const sp = num(d.SourcePort);
        const dp = num(d.DestinationPort);
        if (!src || !dst || sp === null || dp === null || e.utcMs === null || !p) return;
        const initiated = lower(d.Initiated) !== 'false';
        const [localIp, localPort, remoteIp, remotePort] = initiated ? [src, sp, dst, dp] : [dst, dp, src, sp];
        const c: Conn = { proto, localIp, localPort, remoteIp, remotePort, timeMs: e.utcMs, guid: p.guid.toLowerCase(), unresolvedPid, pid: num(d.ProcessId), sampled: false };
        const k = connKey(proto, localIp, localPort, remoteIp, remotePort);
        const list = h.conns.get(k);
        if (list) list.push(c);
        else h.conns.set(k, [c]);
        const rk = `${proto}|${remoteIp}|${remotePort}`;
        const rl = h.byRemote.get(rk);
        if (rl) rl.push(c);
        else h.byRemote.set(rk, [c]);
        h.connCount++;
        if (!isNonUnicast(localIp) && !h.ips.has(localIp)) {
          h.ips.add(localIp);
          if (!this.hostByIp.has(localIp)) this.hostByIp.set(localIp, h);
        }
        return;
      }
      case 5: {
        const p = this.proc(h, d.ProcessGuid, d.ProcessId, d.Image, d.User);
        if (p && e.utcMs !== null) p.endMs = e.utcMs;
        return;
      }
      case 7: {
        const p = this.proc(h, d.ProcessGuid, d.ProcessId, d.Image, d.User);
        const path = nullish(d.ImageLoaded);
        if (!p || !path) return;
        const signed = d.Signed === undefined ? null : lower(d.Signed) === 'true';
        p.modules.push({
          path,
          timeMs: e.utcMs,
          category: this.watchlist.classify(path),
          signed,
          signature: nullish(d.Signature),
          sha256: parseHashes(d.Hashes)?.sha256 ?? null,
        });
        return;
      }
      case 8: {
        const src = this.proc(h, d.SourceProcessGuid, d.SourceProcessId, d.SourceImage, d.SourceUser);
        const dst = this.proc(h, d.TargetProcessGuid, d.TargetProcessId, d.TargetImage, d.TargetUser);
        const time = isoOrNull(e.utcMs) ?? '';
        if (dst) {
          dst.annotations.push({
            kind: 'remote_thread_created',
            time,
            detail: {
              source_pid: num(d.SourceProcessId),
              source_image: nullish(d.SourceImage),
              source_uid: nullish(d.SourceProcessGuid),
              start_address: nullish(d.StartAddress),
              start_module: nullish(d.StartModule),
              start_function: nullish(d.StartFunction),
            },
          });
        }
        if (src) {
          src.annotations.push({
            kind: 'created_remote_thread',
            time,
            detail: { target_pid: num(d.TargetProcessId), target_image: nullish(d.TargetImage), target_uid: nullish(d.TargetProcessGuid) },
          });
        }
        return;
      }
      default: {
        // any other event still tells us the process exists (EID 10, 11, 22, 23, …)
        this.proc(h, d.ProcessGuid, d.ProcessId, d.Image, d.User);
      }
    }
  }

  // ---- clocks -------------------------------------------------------------

  netOffsetMs(h: Host): number | null {
    return h.tcpSamples.size > 0 ? h.tcpSamples.median() : h.udpSamples.median();
  }

  procOffsetMs(h: Host): { offset: number; note: string | null } {
    const net = this.netOffsetMs(h);
    if (net === null) return { offset: 0, note: 'clock_offset_unknown' };
    const ns = h.netSkew.median();
    const ps = h.procSkew.median();
    if (ns === null || ps === null) return { offset: net, note: null };
    const skew = ns - ps;
    if (Math.abs(skew) < ONE_CLOCK_TOLERANCE_MS) return { offset: net, note: null };
    const est = net - skew;
    if (Math.abs(est) < ONE_CLOCK_TOLERANCE_MS) return { offset: 0, note: null };
    return { offset: est, note: 'process_clock_offset_estimated' };
  }

  // ---- queries --------------------------------------------------------------

  private tries(q: NormalizedQuery): { host: Host; key: string; localIp: string; remoteIp: string; remotePort: number }[] {
    const out: { host: Host; key: string; localIp: string; remoteIp: string; remotePort: number }[] = [];
    const hs = this.hostByIp.get(q.srcIp);
    if (hs) out.push({ host: hs, key: connKey(q.proto, q.srcIp, q.srcPort, q.dstIp, q.dstPort), localIp: q.srcIp, remoteIp: q.dstIp, remotePort: q.dstPort });
    const hd = this.hostByIp.get(q.dstIp);
    if (hd) out.push({ host: hd, key: connKey(q.proto, q.dstIp, q.dstPort, q.srcIp, q.srcPort), localIp: q.dstIp, remoteIp: q.srcIp, remotePort: q.srcPort });
    return out;
  }

  /** Learn clock offsets from queries whose 5-tuple has exactly one EID 3 record. */
  private learn(queries: NormalizedQuery[]): void {
    for (const q of queries) {
      for (const t of this.tries(q)) {
        const list = t.host.conns.get(t.key);
        if (!list || list.length !== 1) continue;
        const c = list[0];
        if (c.sampled) continue;
        c.sampled = true;
        (c.proto === 'tcp' ? t.host.tcpSamples : t.host.udpSamples).add(c.timeMs - q.tsMs);
      }
    }
  }

  async attribute(queries: NormalizedQuery[]): Promise<AttributionResult[]> {
    this.learn(queries);
    return queries.map((q) => {
      try {
        return this.matchOne(q);
      } catch (e) {
        return emptyResult(q.id, 'not_found', [`internal_error: ${(e as Error).message}`]);
      }
    });
  }

  /**
   * The process key of a connection: its own GUID, or for an all-zero GUID
   * the one process with that pid alive at the (clock-corrected) event time.
   */
  private connProc(h: Host, c: Conn, netMs: number | null, procOffMs: number, notes: Set<string>): string {
    if (c.unresolvedPid === null) return c.guid;
    const t = netMs === null ? null : c.timeMs - netMs + procOffMs;
    const alive = (h.byPid.get(c.unresolvedPid) ?? []).filter(
      (p) => t !== null && p.startMs !== null && p.startMs <= t + 1000 && (p.endMs === null || p.endMs >= t - 1000),
    );
    if (alive.length === 1) {
      notes.add('process_guid_resolved_by_pid');
      return alive[0].guid.toLowerCase();
    }
    notes.add('process_guid_unknown');
    return c.guid;
  }

  private matchOne(q: NormalizedQuery): AttributionResult {
    const tries = this.tries(q);
    if (tries.length === 0) return emptyResult(q.id, 'host_unknown');
    const warnings: string[] = [];
    for (const t of tries) {
      const h = t.host;
      const list = h.conns.get(t.key);
      if (!list || list.length === 0) continue;
      const net = this.netOffsetMs(h);
      const pOff = this.procOffsetMs(h);
      const base = (status: AttributionResult['status']): AttributionResult => ({
        id: q.id,
        status,
        method: 'exact_5tuple',
        confidence: 0,
        host: { name: h.name, ip: t.localIp },
        process: null,
        candidates: [],
        warnings: [...warnings],
        clock_offset_seconds: net === null ? null : net / 1000,
        process_clock_offset_seconds: pOff.offset / 1000,
      });
      if (pOff.note) warnings.push(pOff.note);
      const notes = new Set<string>();
      if (net === null) {
        const guids = [...new Set(list.map((c) => this.connProc(h, c, net, pOff.offset, notes)))];
        const r = base(guids.length === 1 ? 'matched' : 'ambiguous');
        r.warnings.push('clock_offset_unknown', ...notes);
        if (guids.length === 1) {
          r.confidence = 0.7;
          r.process = this.toEndpoint(h, guids[0], q.tsMs, pOff.offset);
        } else {
          r.confidence = 1 / guids.length;
          r.candidates = guids.map((g) => this.toEndpoint(h, g, q.tsMs, pOff.offset));
        }
        return r;
      }
      const window = q.proto === 'tcp' ? this.tcpWindowMs : this.udpWindowMs;
      const inWin = list
        .map((c) => ({ c, g: this.connProc(h, c, net, pOff.offset, notes), d: Math.abs(c.timeMs - net - q.tsMs) }))
        .filter((x) => x.d <= window)
        .sort((a, b) => a.d - b.d);
      if (inWin.length === 0) {
        warnings.push('5tuple_seen_outside_time_window');
        continue;
      }
      const guids = [...new Set(inWin.map((x) => x.g))];
      const samples = (q.proto === 'tcp' ? h.tcpSamples.size : h.udpSamples.size) || h.tcpSamples.size + h.udpSamples.size;
      const r = base('matched');
      r.warnings.push(...notes);
      if (guids.length === 1) {
        r.confidence = (q.proto === 'tcp' ? 0.95 : 0.85) * (samples >= 3 ? 1 : 0.9);
        r.process = this.toEndpoint(h, guids[0], q.tsMs, pOff.offset);
        const eventPid = inWin[0].c.pid;
        if (eventPid !== null && eventPid !== r.process.pid && inWin[0].c.unresolvedPid === null) {
          // the socket's own pid (e.g. a forked child logged under its parent's GUID)
          r.warnings.push(`pid_from_network_event (process create: ${r.process.pid})`);
          r.process.pid = eventPid;
        }
        return r;
      }
      // a port reused by several processes in the window: the nearest one wins when it is clearly nearest
      const best = inWin[0];
      const other = inWin.find((x) => x.g !== best.g)!;
      if (best.d <= 2000 && other.d > 10_000) {
        r.confidence = 0.6;
        r.process = this.toEndpoint(h, best.g, q.tsMs, pOff.offset);
        r.warnings.push('port_reused_nearest_chosen');
        r.candidates = guids.filter((g) => g !== best.g).map((g) => this.toEndpoint(h, g, q.tsMs, pOff.offset));
        return r;
      }
      r.status = 'ambiguous';
      r.confidence = 1 / guids.length;
      r.candidates = guids.map((g) => this.toEndpoint(h, g, q.tsMs, pOff.offset));
      r.warnings.push('port_reused_in_window');
      return r;
    }
    // no exact 5-tuple: the same remote endpoint from this host within a couple of seconds
    for (const t of tries) {
      const h = t.host;
      const net = this.netOffsetMs(h);
      if (net === null) continue;
      const pOff = this.procOffsetMs(h);
      const notes = new Set<string>();
      const near = (h.byRemote.get(`${q.proto}|${t.remoteIp}|${t.remotePort}`) ?? []).filter((c) => c.localIp === t.localIp && Math.abs(c.timeMs - net - q.tsMs) <= 2000);
      const guids = [...new Set(near.map((c) => this.connProc(h, c, net, pOff.offset, notes)))];
      if (guids.length === 1) {
        return {
          id: q.id,
          status: 'matched',
          method: 'dst_time_window',
          confidence: 0.4,
          host: { name: h.name, ip: t.localIp },
          process: this.toEndpoint(h, guids[0], q.tsMs, pOff.offset),
          candidates: [],
          warnings: [...warnings, 'local_port_differs', ...notes],
          clock_offset_seconds: net / 1000,
          process_clock_offset_seconds: pOff.offset / 1000,
        };
      }
    }
    const r = emptyResult(q.id, 'not_found', warnings);
    r.host = { name: tries[0].host.name, ip: tries[0].localIp };
    return r;
  }

  private toEndpoint(h: Host, guid: string, tsMs: number, procOffsetMs: number): EndpointProcess {
    const p = h.procs.get(guid.toLowerCase())!;
    const tls: TlsLibraryLoad[] = [];
    for (const m of p.modules) {
      if (!m.category) continue;
      tls.push({
        path: m.path,
        category: m.category,
        load_time: isoOrNull(m.timeMs),
        loaded_before_flow: m.timeMs === null ? null : m.timeMs - procOffsetMs <= tsMs,
        load_time_source: 'event',
        signed: m.signed,
        signature: m.signature,
      });
    }
    const self = p.image ? p.modules.find((m) => lower(m.path) === lower(p.image)) : undefined;
    let parent: EndpointProcess['parent'] = null;
    if (p.parentPid !== null || p.parentGuid) {
      const pp = p.parentGuid ? h.procs.get(p.parentGuid.toLowerCase()) : undefined;
      parent = { pid: p.parentPid ?? pp?.pid ?? 0, executable: p.parentImage ?? pp?.image ?? null, command_line: p.parentCmd ?? pp?.commandLine ?? null };
    }
    const hash = p.hashes ?? (self?.sha256 ? { sha256: self.sha256 } : null);
    return {
      uid: p.guid,
      pid: p.pid ?? 0,
      start_time: isoOrNull(p.startMs),
      executable: p.image,
      name: p.image ? baseName(p.image) : null,
      command_line: p.commandLine,
      user: p.user,
      parent,
      hash,
      code_signature: self && self.signed !== null ? { signed: self.signed, subject: self.signature } : null,
      tls_libraries: tls,
      static_tls_stack: null,
      annotations: p.annotations.slice(),
      integrity_level: p.integrity,
      end_time: isoOrNull(p.endMs),
    };
  }

  process(uid: string): ProcessDetail | null {
    const hit = this.procByGuid.get(uid.toLowerCase()) ?? this.procByGuid.get(`{${uid.toLowerCase()}}`);
    if (!hit) return null;
    const off = this.procOffsetMs(hit.host).offset;
    const modules: ProcessModule[] = hit.proc.modules.map((m) => ({
      path: m.path,
      category: m.category,
      load_time: isoOrNull(m.timeMs),
      load_time_source: 'event',
      signed: m.signed,
      signature: m.signature,
      sha256: m.sha256,
    }));
    return { process: this.toEndpoint(hit.host, hit.proc.guid, Date.now() + off, off), modules };
  }

  health(): BackendHealth {
    let procs = 0;
    let conns = 0;
    for (const h of this.hosts.values()) {
      procs += h.procs.size;
      conns += h.connCount;
    }
    return {
      name: this.name,
      hosts: [...this.hosts.values()].map((h) => h.name),
      lag_seconds: this.lastRefresh ? (Date.now() - this.lastRefresh) / 1000 : null,
      processes: procs,
      sockets: conns,
      event_source: 'sysmon-files',
      clock_offsets: [...this.hosts.values()].map((h) => {
        const net = this.netOffsetMs(h);
        return {
          host: h.name,
          network_seconds: net === null ? null : net / 1000,
          process_seconds: net === null ? null : this.procOffsetMs(h).offset / 1000,
          samples: h.tcpSamples.size + h.udpSamples.size,
        };
      }),
    };
  }

  /** Host names and their addresses (for tests and diagnostics). */
  hostAddresses(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const h of this.hosts.values()) out[h.name] = [...h.ips];
    return out;
  }
}
