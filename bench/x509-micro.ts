/**
 * Micro-benchmark of the x509 stage on generated RSA-2048 chains
 * (leaf → intermediate → root, the root trusted):
 *
 *   npx tsx bench/x509-micro.ts [iterations] [rounds]
 *
 * - summary: `summarizeCertificate` of one DER (pkijs decode, names, key, hashes)
 * - uncached verdict: a never-seen leaf under a known intermediate, leaf already
 *   summarised (chain building, OpenSSL-order checks, the leaf's signature,
 *   pkijs path validation)
 * - uncached verdict + parse: the same, the leaf summarised too (a new server)
 * - cached verdict: one more connection to a known server, DER buffers in
 *   (SHA-256 of each certificate + cache lookup)
 * - cached verdict, summaries in: the TLS stage already holds the summaries
 *
 * Prints ms per operation: the best and the median round.
 */
import { performance } from 'node:perf_hooks';
import { CertificateCache, ChainJudge, summarizeCertificate, TrustStore, type CertificateSummary } from '../src/x509/index.js';
import { pki, T } from '../test/x509/fixtures.js';
import { issue } from '../test/x509/support.js';

const iterations = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 5);

const { c, id } = pki();
const chain = [c.leaf.der, c.inter.der];
const trust = TrustStore.empty();
trust.addDer(c.root.der, 'public');
const ctx = { atMicros: T * 1e6, sni: 'www.example.test' };

async function measure(
  name: string,
  n: number,
  op: (i: number, prepared: unknown) => unknown,
  prepare?: (i: number) => unknown,
): Promise<void> {
  const perOp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let spent = 0;
    if (prepare) {
      // Untimed set-up per operation; only `op` is timed.
      for (let i = 0; i < n; i++) {
        const p = prepare(i);
        const t0 = performance.now();
        await op(i, p);
        spent += performance.now() - t0;
      }
    } else {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await op(i, undefined);
      spent = performance.now() - t0;
    }
    perOp.push(spent / n);
  }
  perOp.sort((a, b) => a - b);
  const fmt = (v: number) => (v < 0.01 ? v.toFixed(5) : v.toFixed(3));
  console.log(`${name.padEnd(36)} best ${fmt(perOp[0])} ms   median ${fmt(perOp[Math.floor(perOp.length / 2)])} ms`);
}

const sharedCerts = new CertificateCache();
for (const d of chain) sharedCerts.get(d);
const warm = new ChainJudge({ trust, certificateCache: sharedCerts });
await warm.judge(chain, ctx);
const summaries = chain.map((d) => sharedCerts.get(d).summary);

// Distinct leaves (new serial each) under the same intermediate: each verdict is a real one.
const life = { notBefore: new Date('2024-06-01T00:00:00Z'), notAfter: new Date('2024-09-01T00:00:00Z') };
let next = 0;
const fresh = Array.from({ length: 2 * iterations * rounds }, () =>
  issue({ subject: id.leaf, issuer: id.inter, ...life, dns: ['www.example.test'] }).der,
);
const judge = new ChainJudge({ trust, certificateCache: new CertificateCache({ capacity: 100_000 }) });

console.log(`x509 micro-benchmark: RSA-2048 chain of 3, ${iterations} iterations x ${rounds} rounds`);
await measure('summary (one certificate)', iterations, () => summarizeCertificate(c.leaf.der));
await measure(
  'uncached verdict',
  iterations,
  (_i, leaf) => judge.judge([leaf as CertificateSummary, summaries[1]], ctx),
  () => judge.certificates.get(fresh[next++]).summary,
);
await measure('uncached verdict + parse', iterations, () => judge.judge([fresh[next++], c.inter.der], ctx));
await measure('cached verdict (DER in)', iterations * 20, (i) => warm.judge(chain, { ...ctx, atMicros: ctx.atMicros + i }));
await measure('cached verdict (summaries in)', iterations * 20, (i) =>
  warm.judge(summaries, { ...ctx, atMicros: ctx.atMicros + i }),
);
await measure('cached verdict, sync lookup()', iterations * 20, (i) =>
  warm.lookup(summaries, { ...ctx, atMicros: ctx.atMicros + i }),
);
