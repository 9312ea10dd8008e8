/**
 * Chain verdicts at capture time, cached.
 *
 * A verdict depends on the presented certificates, the SNI, the trust store,
 * and where the capture time falls relative to the validity boundaries of
 * every certificate the chain builder looked at (notBefore, notAfter, and the
 * leaf's about-to-expire point). The cache keys on the chain's fingerprints
 * and stores, per chain, the time windows it has judged: a thousand
 * connections to one server cost one validation, and a capture past
 * notAfter falls outside the `ok` window and is judged again.
 */
import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import { parseCertificate, parsedOf, type ParsedCertificate } from './certificate.js';
import { CertificateCache } from './cache.js';
import { boundariesOf, evaluate, pkijsValidate, STATUS_BY_CODE, type Evaluation } from './chain.js';
import { matchHostname, normalizeSni } from './hostname.js';
import type { IntermediateCache } from './intermediates.js';
import { LruMap } from './lru.js';
import type { TrustStore } from './trust.js';
import {
  CHAIN_ANOMALIES,
  type AnchorInfo,
  type CertificateAnomaly,
  type CertificateSummary,
  type ChainAnomaly,
  type ChainVerdict,
  type PathValidation,
  type ValidationStatus,
} from './types.js';

const CHAIN_ANOMALY_IDS = new Map<ChainAnomaly, number>(
  CHAIN_ANOMALIES.map((a) => [a, defineAnomaly(`x509.chain.${a}`, `chain verdict anomaly: ${a}`)]),
);

export type ChainInput = readonly (Buffer | CertificateSummary)[];

export interface JudgeContext {
  /** Server name from the ClientHello; absent or empty = no SNI. */
  sni?: string | null;
  /** Capture time of the Certificate message: microseconds since the epoch. */
  atMicros: number;
  /** `server` (default) checks SNI, serverAuth EKU and the 398-day rule; `client` skips them. */
  role?: 'server' | 'client';
}

export interface ChainJudgeOptions {
  trust: TrustStore;
  /** Learn intermediates from validated chains and use them to complete broken ones (flagged). */
  intermediateCache?: IntermediateCache | null;
  /** `about_to_expire` threshold (default 30 days). */
  aboutToExpireDays?: number;
  /** Distinct chains whose verdicts are kept (default 4096). */
  verdictCacheSize?: number;
  /** Parsed certificates, shared with the caller's x509 event deduplication if given. */
  certificateCache?: CertificateCache;
  /** Chain anomalies are counted here (`x509.chain.<code>`), once per judged connection. */
  counters?: AnomalyCounters;
}

interface Core {
  readonly status: ValidationStatus;
  readonly code: number | null;
  readonly depth: number | null;
  readonly anomalies: ReadonlySet<ChainAnomaly>;
  readonly anchor: AnchorInfo | null;
  readonly pathSha256: readonly string[];
  readonly completedFromCache: boolean;
  readonly pathValidation: PathValidation | null;
}

interface Window {
  readonly lo: number;
  readonly hi: number;
  /** Intermediate-cache generation the verdict depends on, or -1 if it did not consult the cache. */
  readonly cacheGen: number;
  readonly core: Core;
  readonly bySni: Map<string, ChainVerdict>;
}

interface Entry {
  readonly leaf: CertificateSummary | null;
  readonly chainSha1: readonly string[];
  readonly chainSha256: readonly string[];
  readonly certAnomalies: readonly CertificateAnomaly[];
  windows: Window[];
}

interface Resolved {
  readonly parsed: ParsedCertificate[];
  readonly key: string;
  /** `${role}|${key}` per role, made once. */
  readonly roleKeys: Map<string, string>;
}

/** The chain a Resolved was made from, when it held only summaries (frozen: safe to recognise by identity). */
interface ResolvedMemo {
  readonly items: readonly CertificateSummary[];
  readonly resolved: Resolved;
}

/** Stand-in for a summary this module did not make (judged as unparseable); made on first need. */
let foreign: ParsedCertificate | null = null;
function foreignCertificate(): ParsedCertificate {
  return (foreign ??= parseCertificate(Buffer.alloc(0)));
}

const MAX_WINDOWS = 8;
const MAX_SNI_PER_WINDOW = 64;
const NO_SNI = '\u0000';

export interface JudgeStats {
  calls: number;
  cacheHits: number;
  validations: number;
}

export class ChainJudge {
  readonly trust: TrustStore;
  readonly intermediateCache: IntermediateCache | null;
  readonly aboutToExpireDays: number;
  readonly certificates: CertificateCache;
  readonly stats: JudgeStats = { calls: 0, cacheHits: 0, validations: 0 };
  private readonly verdicts: LruMap<string, Entry>;
  private readonly resolvedByLeaf = new WeakMap<CertificateSummary, ResolvedMemo>();
  /** Validations under way, by chain: a burst of connections to one server shares one. */
  private readonly inflight = new Map<string, Promise<Window>>();
  private readonly counters: AnomalyCounters | undefined;
  private trustGeneration: number;

  constructor(options: ChainJudgeOptions) {
    this.trust = options.trust;
    this.intermediateCache = options.intermediateCache ?? null;
    this.aboutToExpireDays = options.aboutToExpireDays ?? 30;
    this.certificates = options.certificateCache ?? new CertificateCache();
    this.verdicts = new LruMap(options.verdictCacheSize ?? 4096);
    this.counters = options.counters;
    this.trustGeneration = this.trust.generation;
  }

  /**
   * Judge the chain one connection presented (leaf first, as sent) at its
   * capture time. Never throws on certificate content: malformed input gives
   * a verdict.
   */
  async judge(chain: ChainInput, ctx: JudgeContext): Promise<ChainVerdict> {
    const resolved = this.resolve(chain);
    const hit = this.cached(resolved, ctx);
    if (hit) return hit;
    const role = ctx.role ?? 'server';
    const key = roleKey(resolved, role);
    const running = this.inflight.get(key);
    if (running !== undefined) {
      await running;
      const shared = this.cached(resolved, ctx);
      if (shared) return shared;
    }
    const entry = this.entryFor(resolved, role, true)!;
    const computing = this.compute(resolved.parsed, entry, ctx.atMicros, role === 'server');
    this.inflight.set(key, computing);
    let window: Window;
    try {
      window = await computing;
    } finally {
      if (this.inflight.get(key) === computing) this.inflight.delete(key);
    }
    this.stats.validations++;
    const verdict = this.finish(entry, window, ctx.sni, role);
    this.count(verdict);
    return verdict;
  }

  /** The cached verdict, if this chain was already judged for this capture time (synchronous). */
  lookup(chain: ChainInput, ctx: JudgeContext): ChainVerdict | undefined {
    return this.cached(this.resolve(chain), ctx);
  }

  private cached(resolved: Resolved, ctx: JudgeContext): ChainVerdict | undefined {
    this.stats.calls++;
    if (this.trust.generation !== this.trustGeneration) {
      this.verdicts.clear();
      this.trustGeneration = this.trust.generation;
    }
    const role = ctx.role ?? 'server';
    const entry = this.entryFor(resolved, role, false);
    if (!entry) return undefined;
    const t = ctx.atMicros;
    const gen = this.intermediateCache?.generation ?? -1;
    for (const w of entry.windows) {
      if (t >= w.lo && t < w.hi && (w.cacheGen === -1 || w.cacheGen === gen)) {
        this.stats.cacheHits++;
        const verdict = this.finish(entry, w, ctx.sni, role);
        this.count(verdict);
        return verdict;
      }
    }
    return undefined;
  }

  private resolve(chain: ChainInput): Resolved {
    // A server presents the same chain on every connection: the same summaries, resolved once.
    const first = chain.length > 0 ? chain[0] : null;
    const memo = first !== null && !Buffer.isBuffer(first) ? this.resolvedByLeaf.get(first) : undefined;
    if (memo !== undefined && memo.items.length === chain.length && memo.items.every((c, i) => c === chain[i])) return memo.resolved;
    const parsed: ParsedCertificate[] = [];
    let summariesOnly = true;
    for (const item of chain) {
      if (Buffer.isBuffer(item)) {
        summariesOnly = false;
        parsed.push(this.certificates.lookup(item).parsed);
      } else parsed.push(parsedOf(item) ?? foreignCertificate()); // a summary not made here: nothing to validate
    }
    const resolved: Resolved = { parsed, key: parsed.map((p) => p.summary.sha256).join(','), roleKeys: new Map() };
    if (first !== null && summariesOnly && Object.isFrozen(first)) {
      this.resolvedByLeaf.set(first as CertificateSummary, { items: (chain as readonly CertificateSummary[]).slice(), resolved });
    }
    return resolved;
  }

  private entryFor(resolved: Resolved, role: string, create: boolean): Entry | undefined {
    const key = roleKey(resolved, role);
    let entry = this.verdicts.get(key);
    if (!entry && create) {
      const certAnomalies = new Set<CertificateAnomaly>();
      for (const p of resolved.parsed) for (const a of p.summary.anomalies) certAnomalies.add(a);
      entry = {
        leaf: resolved.parsed[0]?.summary ?? null,
        chainSha1: Object.freeze(resolved.parsed.map((p) => p.summary.sha1)),
        chainSha256: Object.freeze(resolved.parsed.map((p) => p.summary.sha256)),
        certAnomalies: Object.freeze([...certAnomalies].sort()),
        windows: [],
      };
      this.verdicts.set(key, entry);
    }
    return entry;
  }

  private async compute(parsed: ParsedCertificate[], entry: Entry, atMicros: number, serverRole: boolean): Promise<Window> {
    const boundaries: number[] = [];
    const touched = new Set<ParsedCertificate>();
    const touch = (c: ParsedCertificate) => touched.add(c);
    let core: Core;
    let cacheGen = -1;
    if (parsed.length === 0) {
      core = plainCore('no certificate', null);
    } else if (!parsed[0].ok) {
      core = plainCore('unable to parse certificate', null);
    } else {
      const atSeconds = atMicros / 1e6;
      const base = {
        presented: parsed,
        trust: this.trust,
        atSeconds,
        aboutToExpireDays: this.aboutToExpireDays,
        serverRole,
        touch,
      };
      let ev = evaluate({ ...base, cache: null });
      let fromCache = false;
      if (ev.code === 20 && this.intermediateCache) {
        cacheGen = this.intermediateCache.generation;
        const retry = evaluate({ ...base, cache: this.intermediateCache });
        if (retry.code === 0) {
          // The server's chain is incomplete; a remembered intermediate completed it.
          for (const a of ev.anomalies) if (a === 'incomplete_chain') retry.anomalies.add(a);
          ev = retry;
          fromCache = true;
        }
      }
      core = await this.finishCore(ev, atSeconds, fromCache);
      if (core.code === 0 && this.intermediateCache && !fromCache) {
        const mids = ev.built.links.slice(1, -1).filter((l) => l.origin === 'presented').map((l) => l.cert);
        if (mids.length > 0) this.intermediateCache.learn(mids);
      }
      for (const p of parsed) touched.add(p);
    }
    for (const c of touched) boundariesOf(c, boundaries, this.aboutToExpireDays, c === parsed[0]);
    let lo = -Infinity;
    let hi = Infinity;
    for (const b of boundaries) {
      if (b <= atMicros) {
        if (b > lo) lo = b;
      } else if (b < hi) hi = b;
    }
    const window: Window = { lo, hi, cacheGen, core, bySni: new Map() };
    entry.windows.push(window);
    if (entry.windows.length > MAX_WINDOWS) entry.windows.shift();
    return window;
  }

  private async finishCore(ev: Evaluation, atSeconds: number, fromCache: boolean): Promise<Core> {
    const links = ev.built.links;
    let code = ev.code;
    let depth = ev.depth;
    let pathValidation: PathValidation | null = null;
    if (ev.built.trusted && links.length > 1) {
      pathValidation = await pkijsValidate(links, atSeconds);
      if (code === 0 && pathValidation.outcome === 'name_constraints') {
        code = pathValidation.code === 42 ? 48 : 47;
        depth = 0;
      }
    }
    const top = links[links.length - 1];
    const anchor: AnchorInfo | null =
      ev.built.trusted && top.stored
        ? Object.freeze({ kind: top.stored.kind, subject: top.cert.summary.subject, sha256: top.cert.summary.sha256 })
        : null;
    return {
      status: STATUS_BY_CODE.get(code) ?? 'unable to get local issuer certificate',
      code,
      depth: code === 0 ? null : depth,
      anomalies: ev.anomalies,
      anchor,
      pathSha256: Object.freeze(links.map((l) => l.cert.summary.sha256)),
      completedFromCache: fromCache,
      pathValidation: pathValidation ? Object.freeze(pathValidation) : null,
    };
  }

  private finish(entry: Entry, w: Window, rawSni: string | null | undefined, role: string): ChainVerdict {
    const sni = normalizeSni(rawSni);
    const memo = sni ?? NO_SNI;
    const known = w.bySni.get(memo);
    if (known) return known;
    const anomalies = new Set(w.core.anomalies);
    let matches: boolean | null = null;
    const leaf = entry.leaf;
    if (role === 'server') {
      if (sni === null) anomalies.add('missing_sni');
      else if (leaf && leaf.parse_ok) {
        matches = matchHostname(sni, leaf);
        if (!matches) anomalies.add('hostname_mismatch');
      }
    }
    const verdict: ChainVerdict = Object.freeze({
      validation_status: w.core.status,
      status_code: w.core.code,
      error_depth: w.core.depth,
      anomalies: Object.freeze(CHAIN_ANOMALIES.filter((a) => anomalies.has(a))),
      anchor: w.core.anchor,
      chain_sha1: entry.chainSha1,
      chain_sha256: entry.chainSha256,
      path_sha256: w.core.pathSha256,
      completed_from_cache: w.core.completedFromCache,
      sni_matches_cert: matches,
      path_validation: w.core.pathValidation,
      certificate_anomalies: entry.certAnomalies,
    });
    if (w.bySni.size < MAX_SNI_PER_WINDOW) w.bySni.set(memo, verdict);
    return verdict;
  }

  private count(v: ChainVerdict): void {
    if (!this.counters) return;
    for (const a of v.anomalies) this.counters.inc(CHAIN_ANOMALY_IDS.get(a)!);
  }
}

function roleKey(resolved: Resolved, role: string): string {
  let k = resolved.roleKeys.get(role);
  if (k === undefined) {
    k = `${role}|${resolved.key}`;
    resolved.roleKeys.set(role, k);
  }
  return k;
}

function plainCore(status: ValidationStatus, code: number | null): Core {
  return {
    status,
    code,
    depth: null,
    anomalies: new Set(),
    anchor: null,
    pathSha256: [],
    completedFromCache: false,
    pathValidation: null,
  };
}

/** Verdict for a TLS 1.3 connection: the certificates are encrypted. */
export function certificateNotVisibleVerdict(ctx: { sni?: string | null; role?: 'server' | 'client' } = {}): ChainVerdict {
  const missing = (ctx.role ?? 'server') === 'server' && normalizeSni(ctx.sni) === null;
  return missing ? NOT_VISIBLE_NO_SNI : NOT_VISIBLE;
}

function notVisible(anomalies: readonly ChainAnomaly[]): ChainVerdict {
  return Object.freeze({
    validation_status: 'certificate not visible',
    status_code: null,
    error_depth: null,
    anomalies: Object.freeze(anomalies),
    anchor: null,
    chain_sha1: Object.freeze([]),
    chain_sha256: Object.freeze([]),
    path_sha256: Object.freeze([]),
    completed_from_cache: false,
    sni_matches_cert: null,
    path_validation: null,
    certificate_anomalies: Object.freeze([]),
  });
}
const NOT_VISIBLE = notVisible([]);
const NOT_VISIBLE_NO_SNI = notVisible(['missing_sni']);

// ---------------------------------------------------------------------------
// judgeChain: the functional entry point, with a shared judge per configuration

export interface JudgeChainOptions extends JudgeContext {
  trust: TrustStore;
  intermediateCache?: IntermediateCache | null;
  aboutToExpireDays?: number;
}

const judges = new WeakMap<TrustStore, Map<string, ChainJudge>>();
const cacheIds = new WeakMap<IntermediateCache, number>();
let nextCacheId = 1;

function sharedJudge(opts: JudgeChainOptions): ChainJudge {
  let perTrust = judges.get(opts.trust);
  if (!perTrust) judges.set(opts.trust, (perTrust = new Map()));
  const ic = opts.intermediateCache ?? null;
  let icId = 0;
  if (ic) {
    icId = cacheIds.get(ic) ?? 0;
    if (!icId) cacheIds.set(ic, (icId = nextCacheId++));
  }
  const key = `${opts.aboutToExpireDays ?? 30}|${icId}`;
  let judge = perTrust.get(key);
  if (!judge) {
    judge = new ChainJudge({ trust: opts.trust, intermediateCache: ic, aboutToExpireDays: opts.aboutToExpireDays });
    perTrust.set(key, judge);
  }
  return judge;
}

/**
 * Judge one connection's chain (DER buffers or summaries from this module,
 * leaf first as sent) at its capture time. Verdicts are cached per trust
 * store and options; use a `ChainJudge` directly to control the caches.
 */
export function judgeChain(chain: ChainInput, opts: JudgeChainOptions): Promise<ChainVerdict> {
  return sharedJudge(opts).judge(chain, opts);
}
