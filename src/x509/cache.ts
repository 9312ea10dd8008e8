/**
 * `CertificateCache`: each distinct certificate (by SHA-256) is parsed and
 * summarised once; the caller learns whether this is the first sighting, to
 * emit one `tlsentry.x509` event per distinct certificate. Bounded LRU: a
 * certificate evicted and seen again counts as new again.
 */
import * as crypto from 'node:crypto';
import type { AnomalyCounters } from '../shared/anomalies.js';
import { countCertificateAnomalies, parseCertificate, type ParsedCertificate } from './certificate.js';
import { LruMap } from './lru.js';
import type { CertificateSummary } from './types.js';

export interface CertificateLookup {
  readonly summary: CertificateSummary;
  /** True the first time this certificate is seen (since it last left the cache). */
  readonly firstSeen: boolean;
}

export interface CertificateCacheOptions {
  /** Maximum distinct certificates kept (default 4096; about 6 KB of heap each). */
  capacity?: number;
  /** Certificate anomalies are counted here, once per distinct certificate. */
  counters?: AnomalyCounters;
}

export class CertificateCache {
  private readonly lru: LruMap<string, ParsedCertificate>;
  private readonly byBuffer = new WeakMap<Buffer, ParsedCertificate>();
  private readonly counters: AnomalyCounters | undefined;
  hits = 0;
  misses = 0;

  constructor(options: CertificateCacheOptions = {}) {
    this.lru = new LruMap(options.capacity ?? 4096);
    this.counters = options.counters;
  }

  get size(): number {
    return this.lru.size;
  }

  get evictions(): number {
    return this.lru.evictions;
  }

  /** Summary of `der`, parsed only the first time. */
  get(der: Buffer): CertificateLookup {
    const { parsed, firstSeen } = this.lookup(der);
    return { summary: parsed.summary, firstSeen };
  }

  /** Summary by SHA-256 (lower-case hex), if cached. */
  peek(sha256: string): CertificateSummary | undefined {
    return this.lru.peek(sha256)?.summary;
  }

  /** @internal parsed form, for chain validation inside src/x509. */
  lookup(der: Buffer): { parsed: ParsedCertificate; firstSeen: boolean } {
    // The TLS stage hands out one buffer per distinct certificate (src/tls/hello-memo.ts):
    // a buffer seen before, still holding the same bytes, needs no hashing.
    const known = this.byBuffer.get(der);
    if (known !== undefined && known.der.equals(der) && this.lru.get(known.summary.sha256) === known) {
      this.hits++;
      return { parsed: known, firstSeen: false };
    }
    const sha256 = crypto.hash('sha256', der, 'hex');
    const hit = this.lru.get(sha256);
    if (hit) {
      this.hits++;
      this.byBuffer.set(der, hit);
      return { parsed: hit, firstSeen: false };
    }
    this.misses++;
    // The DER may be a view into a reused capture buffer: keep our own copy.
    const parsed = parseCertificate(Buffer.from(der), sha256);
    this.lru.set(sha256, parsed);
    this.byBuffer.set(der, parsed);
    if (this.counters) countCertificateAnomalies(parsed.summary, this.counters);
    return { parsed, firstSeen: true };
  }
}
