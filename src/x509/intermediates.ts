/**
 * Intermediate CA certificates learnt from chains that validated, so a later
 * connection whose server forgot an intermediate can still be judged — the
 * way Firefox and Zeek do it. Unlike Zeek (issue 875), a verdict completed
 * from this cache says so (`completed_from_cache`) and keeps `incomplete_chain`:
 * the server's own chain is still broken.
 *
 * Only certificates that sat between a leaf and a trust anchor in an `ok`
 * chain are learnt; bounded LRU.
 */
import type { ParsedCertificate } from './certificate.js';
import { LruMap } from './lru.js';

export class IntermediateCache {
  private readonly lru: LruMap<string, ParsedCertificate>;
  private readonly bySubject = new Map<string, Set<string>>();
  /** Bumped whenever the content changes; verdicts that consulted the cache are keyed by it. */
  generation = 0;

  constructor(capacity = 2048) {
    this.lru = new LruMap(capacity);
  }

  get size(): number {
    return this.lru.size;
  }

  /** @internal Learn the intermediates of a validated path (leaf and anchor excluded by the caller). */
  learn(certs: readonly ParsedCertificate[]): void {
    for (const c of certs) {
      const sha = c.summary.sha256;
      if (this.lru.has(sha)) {
        this.lru.get(sha);
        continue;
      }
      const evicted = this.lru.set(sha, c);
      let set = this.bySubject.get(c.subjectCanon);
      if (!set) this.bySubject.set(c.subjectCanon, (set = new Set()));
      set.add(sha);
      if (evicted !== undefined) this.forget(evicted);
      this.generation++;
    }
  }

  private forget(sha: string): void {
    for (const [subject, set] of this.bySubject) {
      if (set.delete(sha)) {
        if (set.size === 0) this.bySubject.delete(subject);
        return;
      }
    }
  }

  /** @internal Cached certificates whose subject is `issuerCanon`. */
  candidates(issuerCanon: string): ParsedCertificate[] {
    const set = this.bySubject.get(issuerCanon);
    if (!set) return [];
    const out: ParsedCertificate[] = [];
    for (const sha of set) {
      const c = this.lru.peek(sha);
      if (c) out.push(c);
    }
    return out;
  }
}
