/**
 * The AN0759 detector: per finished flow, run every enabled rule against the
 * baseline's view of the flow's process, add up the weights of the hits the
 * allow-lists leave, and alert when the sum reaches the threshold —
 * deduplicated per host, process and destination within a window.
 *
 * The packet path is synchronous and the store may not be (PostgreSQL), so
 * rules read an in-memory cache of the baseline; each flow's update goes
 * into the cache at once and into a pending batch that `flush()` writes in
 * one transaction (on a timer, when the batch is large, and on `close()`).
 * `refresh()` reloads the cache from the store (other sensors' updates)
 * and replays what is still pending on top.
 *
 * Learning: in learn mode (`baseline build`, `--learn`), or while a host is
 * within `learning.duration` of the first flow the baseline saw for it,
 * flows update the baseline and never alert. Flows that raise an alert do
 * not update it (unless `baseline.learn_alerting_flows`), so an alerting
 * process stays "new" until an analyst allow-lists it.
 */
import { createHash } from 'node:crypto';
import { AnomalyCounters, defineAnomaly } from '../shared/anomalies.js';
import { TlsentryError } from '../shared/errors.js';
import type { BaselineRecord, BaselineStore } from './baseline.js';
import { BaselineCache, emptyEntry, entryToRecord, mergeInto, baselineKey, type BaselineDelta, type BaselineEntry } from './baseline.js';
import { openBaselineStore } from './baseline-open.js';
import type { DetectConfig } from './config.js';
import { globToRegExp, normalizeExecutable } from './identity.js';
import { AddressSet } from './net.js';
import { loadProcessLists, type ProcessLists } from './process-lists.js';
import { RULES, type FlowView, type RuleContext } from './rules/index.js';
import { buildFlowView } from './view.js';
import { THREAT, type Alert, type DetectionInput, type RuleHit, type RuleName } from './types.js';

const RULE_ERROR = defineAnomaly('detect.rule_error', 'a detection rule threw; its hit was dropped');
const FLUSH_FAILED = defineAnomaly('detect.baseline_flush_failed', 'writing a baseline batch failed; it stays pending');

export interface DetectorOptions {
  /** Learn mode: update the baseline, never alert (`baseline build`, `--learn`). */
  learn?: boolean;
  /** Process lists (default: the file the configuration names, else the bundled one). */
  processLists?: ProcessLists;
  /** Background flush/refresh timers (default on; they never keep the process alive). */
  timers?: boolean;
  /** Called with background flush or refresh failures (they are also counted). */
  onError?: (e: Error) => void;
  /** The run's anomaly counters (`detect.rule_error`, `detect.baseline_flush_failed`). */
  counters?: AnomalyCounters;
}

export interface DetectorStats {
  observed: number;
  /** Flows into the host (the process is the server): not AN0759's business. */
  inbound: number;
  /** No process (not scored with `require_process`). */
  unattributed: number;
  /** Attributed but no TLS seen (counted in the baseline, not scored). */
  nonTls: number;
  learning: number;
  scored: number;
  alerts: number;
  deduplicated: number;
  suppressedHits: number;
  ruleErrors: number;
  flushes: number;
  flushErrors: number;
  baselineEntries: number;
  pending: number;
}

/** What the rules made of one flow, without touching the baseline. */
export interface Scoring {
  learning: boolean;
  score: number;
  threshold: number;
  hits: RuleHit[];
  suppressed: { rule: RuleName; reason: string }[];
}

interface AllowProcess {
  exe: RegExp;
  signer: string | null;
  sha256: string | null;
  hosts: RegExp[] | null;
  rules: Set<RuleName> | null;
  reason: string;
}
interface AllowDestination {
  addresses: AddressSet | null;
  sni: RegExp | null;
  port: number | null;
  rules: Set<RuleName> | null;
  reason: string;
}

interface DedupWindow {
  opened: number;
  first: Alert;
  best: Alert;
  count: number;
  lastSeen: number;
  flowIds: string[];
}

const RULE_ORDER = new Map(RULES.map((r, i) => [r.name, i]));

export class Detector {
  readonly config: DetectConfig;
  readonly store: BaselineStore;
  readonly learnMode: boolean;
  /** Resolves once the baseline is in memory (at once for SQLite). */
  readonly ready: Promise<void>;
  private cache: BaselineCache;
  private pending = new Map<string, BaselineEntry>();
  private loaded = false;
  private io: Promise<void> = Promise.resolve();
  private readonly lists: ProcessLists;
  private readonly allowProcesses: AllowProcess[];
  private readonly allowDestinations: AllowDestination[];
  private readonly windows = new Map<string, DedupWindow>();
  private readonly closedSummaries: Alert[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly onError: (e: Error) => void;
  private readonly counters: AnomalyCounters | null;
  private closed = false;
  lastError: Error | null = null;
  private readonly s: Omit<DetectorStats, 'baselineEntries' | 'pending'> = {
    observed: 0,
    inbound: 0,
    unattributed: 0,
    nonTls: 0,
    learning: 0,
    scored: 0,
    alerts: 0,
    deduplicated: 0,
    suppressedHits: 0,
    ruleErrors: 0,
    flushes: 0,
    flushErrors: 0,
  };

  constructor(config: DetectConfig, store: BaselineStore, options: DetectorOptions = {}) {
    this.config = config;
    this.store = store;
    this.learnMode = options.learn ?? false;
    this.onError = options.onError ?? (() => {});
    this.counters = options.counters ?? null;
    this.lists = options.processLists ?? loadProcessLists(config.rules.listed_unexpected_process.lists);
    this.allowProcesses = config.allow.processes.map((p) => ({
      exe: globToRegExp(normalizeExecutable(p.executable)),
      signer: p.signer?.toLowerCase() ?? null,
      sha256: p.sha256?.toLowerCase() ?? null,
      hosts: p.hosts ? p.hosts.map(globToRegExp) : null,
      rules: p.rules ? new Set(p.rules) : null,
      reason: p.reason,
    }));
    this.allowDestinations = config.allow.destinations.map((d) => ({
      addresses: d.address !== undefined ? new AddressSet([d.address]) : null,
      sni: d.sni !== undefined ? globToRegExp(d.sni) : null,
      port: d.port ?? null,
      rules: d.rules ? new Set(d.rules) : null,
      reason: d.reason,
    }));
    this.cache = new BaselineCache(store.maxDistinct);
    if (store.loadSync) {
      for (const r of store.loadSync()) this.cache.add(r);
      this.loaded = true;
      this.ready = Promise.resolve();
    } else {
      this.ready = this.refresh();
      this.ready.catch(() => {});
    }
    if (options.timers ?? true) {
      const b = config.baseline;
      if (b.flush_interval > 0) this.timers.push(setInterval(() => this.background(this.flush()), b.flush_interval * 1000).unref());
      // Only shared stores change under us; a SQLite file has one writer (this sensor).
      if (b.refresh_interval > 0 && !store.loadSync) this.timers.push(setInterval(() => this.background(this.refresh()), b.refresh_interval * 1000).unref());
    }
  }

  /** Open the store the configuration (or `baseline`) names and wait until the baseline is loaded. */
  static async open(config: DetectConfig, options: DetectorOptions & { baseline?: string } = {}): Promise<Detector> {
    const store = await openBaselineStore(options.baseline ?? config.baseline.path, { maxDistinct: config.baseline.max_distinct });
    const d = new Detector(config, store, options);
    try {
      await d.ready;
    } catch (e) {
      await d.close().catch(() => {});
      throw e;
    }
    return d;
  }

  private background(p: Promise<void>): void {
    p.catch((e: Error) => this.onError(e));
  }

  // ------------------------------------------------------------ per flow

  private inLearningPeriod(host: string, t: number): boolean {
    const d = this.config.learning.duration;
    if (d <= 0) return false;
    const first = this.cache.hostFirstSeen(host) ?? t;
    return t < first + d * 1e6;
  }

  private allowFor(view: FlowView, input: DetectionInput): { rules: Set<RuleName> | null; reason: string }[] {
    const out: { rules: Set<RuleName> | null; reason: string }[] = [];
    const id = view.identity;
    if (id) {
      for (const a of this.allowProcesses) {
        if (!a.exe.test(id.executable)) continue;
        if (a.signer !== null && id.signer?.toLowerCase() !== a.signer) continue;
        if (a.sha256 !== null && id.sha256 !== a.sha256) continue;
        if (a.hosts !== null && !a.hosts.some((h) => h.test(view.host))) continue;
        out.push(a);
      }
    }
    for (const a of this.allowDestinations) {
      if (a.addresses !== null && !a.addresses.has(input.flow.dstIp)) continue;
      if (a.port !== null && a.port !== input.flow.dstPort) continue;
      if (a.sni !== null && (view.sni === null || !a.sni.test(view.sni))) continue;
      out.push(a);
    }
    return out;
  }

  private evaluate(input: DetectionInput, view: FlowView): Omit<Scoring, 'learning'> {
    const history = view.identity ? this.cache.history(view.host, view.identity, view.destination, view.sni) : null;
    const ctx: RuleContext = { input, view, history, config: this.config, lists: this.lists };
    const hits: RuleHit[] = [];
    for (const rule of RULES) {
      if (!this.config.rules[rule.name].enabled) continue;
      try {
        const h = rule.evaluate(ctx);
        if (h && h.weight > 0) hits.push(h);
      } catch {
        this.s.ruleErrors++;
        this.counters?.inc(RULE_ERROR);
      }
    }
    const allows = hits.length ? this.allowFor(view, input) : [];
    const kept: RuleHit[] = [];
    const suppressed: { rule: RuleName; reason: string }[] = [];
    for (const h of hits) {
      const a = allows.find((x) => x.rules === null || x.rules.has(h.name));
      if (a) suppressed.push({ rule: h.name, reason: a.reason });
      else kept.push(h);
    }
    kept.sort((a, b) => b.weight - a.weight || RULE_ORDER.get(a.name)! - RULE_ORDER.get(b.name)!);
    return { score: kept.reduce((s, h) => s + h.weight, 0), threshold: this.config.threshold, hits: kept, suppressed };
  }

  private assertLoaded(): void {
    if (!this.loaded) throw new TlsentryError('ERR_BASELINE', `${this.store.location}: the baseline is not loaded yet: await detector.ready first`);
  }

  /** Score a flow without updating the baseline or the dedup windows (for explanations and tests). */
  score(input: DetectionInput): Scoring | null {
    this.assertLoaded();
    const view = buildFlowView(input, this.config);
    if (view === 'inbound' || (!view.process && this.config.require_process)) return null;
    const learning = this.learnMode || this.inLearningPeriod(view.host, input.flow.startMicros);
    return { learning, ...this.evaluate(input, view) };
  }

  /**
   * Judge one finished flow and count it in the baseline. Returns the alert
   * when this flow opens a dedup window over the threshold; repeats in the
   * window only raise its count (see `drainAlerts`).
   */
  observe(input: DetectionInput): Alert | null {
    this.assertLoaded();
    this.s.observed++;
    const view = buildFlowView(input, this.config);
    if (view === 'inbound') {
      this.s.inbound++;
      return null;
    }
    if (!view.process) {
      this.s.unattributed++;
      if (this.config.require_process) return null;
    }
    let alert: Alert | null = null;
    let alerted = false;
    if (this.learnMode || this.inLearningPeriod(view.host, input.flow.startMicros)) {
      this.s.learning++;
    } else if (!view.isTls && !this.config.score_non_tls_flows) {
      this.s.nonTls++;
    } else {
      this.s.scored++;
      const r = this.evaluate(input, view);
      this.s.suppressedHits += r.suppressed.length;
      if (r.hits.length > 0 && r.score >= r.threshold) {
        alerted = true;
        alert = this.dedup(this.buildAlert(input, view, r));
      }
    }
    if (view.identity && (!alerted || this.config.baseline.learn_alerting_flows)) this.record(input, view);
    return alert;
  }

  private record(input: DetectionInput, view: FlowView): void {
    const id = view.identity!;
    const f = input.flow;
    if (!Number.isFinite(f.startMicros)) return;
    const start = Math.round(f.startMicros);
    const bytes = (x: number) => (Number.isFinite(x) && x > 0 ? Math.round(x) : 0);
    const d: BaselineDelta = {
      host: view.host,
      identity: id.key,
      executable: id.executable,
      signer: id.signer,
      sha256: id.sha256,
      firstSeen: start,
      lastSeen: Number.isFinite(f.endMicros) ? Math.max(start, Math.round(f.endMicros)) : start,
      flows: 1,
      tlsFlows: view.isTls ? 1 : 0,
      bytesOut: bytes(f.payloadOut),
      bytesIn: bytes(f.payloadIn),
      destinations: [view.destination],
      snis: view.sni ? [view.sni] : [],
      ja4s: input.tls?.ja4 ? [input.tls.ja4] : [],
    };
    this.cache.add(d);
    const key = baselineKey(d.host, d.identity);
    const p = this.pending.get(key);
    if (p) mergeInto(p, d, this.store.maxDistinct);
    else {
      const e = emptyEntry(d);
      mergeInto(e, d, this.store.maxDistinct);
      this.pending.set(key, e);
    }
    if (this.pending.size >= this.config.baseline.flush_batch && !this.closed) this.background(this.flush());
  }

  // ------------------------------------------------------------ alerts

  private buildAlert(input: DetectionInput, view: FlowView, r: Omit<Scoring, 'learning'>): Alert {
    const { flow, tls, verdict, enrichment } = input;
    const p = view.process;
    const id = view.identity;
    const key = `${view.host}|${id?.key ?? '-'}|${view.destination}`;
    return {
      id: createHash('sha256').update(`${key}|${flow.id}`).digest('hex').slice(0, 32),
      phase: 'first',
      score: r.score,
      threshold: r.threshold,
      rules: r.hits,
      suppressed: r.suppressed,
      summary: `score ${r.score} ≥ ${r.threshold}: ${r.hits.map((h) => `${h.name} (${h.weight}): ${h.summary}`).join('; ')}`,
      flowIds: [flow.id],
      communityId: flow.communityId,
      host: { name: view.host, ip: view.hostIp, sensor: input.sensorHost ?? null },
      process:
        p && id
          ? {
              identity: id.key,
              identityBasis: id.basis,
              normalizedExecutable: id.executable,
              executable: p.executable,
              name: p.name,
              pid: p.pid,
              entityId: p.uid,
              startTime: p.start_time,
              commandLine: p.command_line,
              user: p.user,
              parent: p.parent,
              hash: p.hash,
              codeSignature: p.code_signature,
            }
          : null,
      source: { ip: flow.srcIp, port: flow.srcPort },
      destination: { ip: flow.dstIp, port: flow.dstPort, sni: view.sni },
      tls: tls
        ? {
            version: tls.versionName,
            cipher: tls.cipherName,
            ja4: tls.ja4,
            ja3: tls.ja3,
            established: tls.established,
            validationStatus: verdict?.validation_status ?? null,
          }
        : null,
      flow: { startMicros: flow.startMicros, endMicros: flow.endMicros, payloadOut: flow.payloadOut, payloadIn: flow.payloadIn, pcr: flow.pcr },
      enrichment: { status: enrichment.status, method: enrichment.result?.method ?? null, confidence: enrichment.result?.confidence ?? null },
      count: 1,
      firstSeen: flow.startMicros,
      lastSeen: flow.endMicros,
      dedupWindowSeconds: this.config.dedup.window,
      threat: THREAT,
    };
  }

  private dedupKey(a: Alert): string {
    return `${a.host.name}\u0000${a.process?.identity ?? '-'}\u0000${a.destination.ip}\u0000${a.destination.port}`;
  }

  private dedup(a: Alert): Alert | null {
    const key = this.dedupKey(a);
    const w = this.windows.get(key);
    const t = a.firstSeen;
    if (w && t >= w.opened && t < w.opened + this.config.dedup.window * 1e6) {
      w.count++;
      w.lastSeen = Math.max(w.lastSeen, a.lastSeen);
      if (w.flowIds.length < this.config.dedup.max_flow_ids) w.flowIds.push(...a.flowIds);
      if (a.score > w.best.score) w.best = a;
      this.s.deduplicated++;
      return null;
    }
    if (w) this.closeWindow(key, w);
    this.windows.set(key, { opened: t, first: a, best: a, count: 1, lastSeen: a.lastSeen, flowIds: [...a.flowIds] });
    while (this.windows.size > this.config.dedup.max_open) {
      const [k, oldest] = this.windows.entries().next().value as [string, DedupWindow];
      this.closeWindow(k, oldest);
    }
    this.s.alerts++;
    return a;
  }

  private closeWindow(key: string, w: DedupWindow): void {
    this.windows.delete(key);
    if (w.count <= 1) return;
    const b = w.best;
    this.closedSummaries.push({
      ...b,
      id: w.first.id,
      phase: 'summary',
      flowIds: w.flowIds,
      communityId: w.first.communityId,
      count: w.count,
      firstSeen: w.first.firstSeen,
      lastSeen: w.lastSeen,
      summary: `${w.count} flows over the threshold in ${this.config.dedup.window} s; highest ${b.summary}`,
    });
  }

  /**
   * Summaries of dedup windows that absorbed repeats (`count` > 1): those
   * that ended before `nowMicros` (packet time), or all open ones when
   * `nowMicros` is omitted (end of a run). Windows with a single flow end
   * silently: their `first` alert said everything.
   */
  drainAlerts(nowMicros?: number): Alert[] {
    const span = this.config.dedup.window * 1e6;
    for (const [k, w] of [...this.windows]) if (nowMicros === undefined || nowMicros >= w.opened + span) this.closeWindow(k, w);
    return this.closedSummaries.splice(0);
  }

  // ------------------------------------------------------------ baseline I/O

  /** Write pending baseline updates (one transaction). On failure they stay pending and the error is thrown. */
  flush(): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.store.apply([...batch.values()].map(entryToRecord));
        this.s.flushes++;
      } catch (e) {
        for (const [k, newer] of this.pending) {
          const older = batch.get(k);
          if (older) mergeInto(older, newer, this.store.maxDistinct);
          else batch.set(k, newer);
        }
        this.pending = batch;
        this.s.flushErrors++;
        this.counters?.inc(FLUSH_FAILED);
        this.lastError = e as Error;
        throw e;
      }
    };
    const p = this.io.then(run, run);
    this.io = p.catch(() => {});
    return p;
  }

  /** Reload the baseline from the store (other sensors' updates), keeping what is still pending. */
  refresh(): Promise<void> {
    const run = async (): Promise<void> => {
      const records = await this.store.load();
      const cache = new BaselineCache(this.store.maxDistinct);
      for (const r of records) cache.add(r);
      for (const e of this.pending.values()) cache.add(e);
      this.cache = cache;
      this.loaded = true;
    };
    const p = this.io.then(run, run);
    this.io = p.catch(() => {});
    return p;
  }

  /** The baseline as this detector sees it (store + pending). */
  baseline(): BaselineRecord[] {
    return this.cache.records();
  }

  stats(): DetectorStats {
    return { ...this.s, baselineEntries: this.cache.size, pending: this.pending.size };
  }

  /** Stop the timers, write what is pending, close the store. Drain alerts first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    try {
      await this.flush();
    } finally {
      await this.store.close();
    }
  }
}
