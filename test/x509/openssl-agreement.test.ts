/**
 * Every chain anomaly on a generated chain, and tlsentry's status against
 * `openssl verify -attime <capture time>` on the same chain (OpenSSL's first
 * error number and depth; the strings differ between OpenSSL 1.1 — Zeek's —
 * and 3.x only in hyphenation, so numbers are compared).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChainJudge, CHAIN_ANOMALIES, IntermediateCache, TrustStore, type ChainAnomaly, type ChainVerdict } from '../../src/x509/index.js';
import { STATUS_BY_CODE } from '../../src/x509/chain.js';
import { hasTool, opensslVerify } from './support.js';
import { pki, T } from './fixtures.js';

interface Scenario {
  name: string;
  presented: () => Buffer[];
  trusted: () => Buffer[];
  at?: number;
  sni?: string | null;
  /** tlsentry's expected OpenSSL status number. */
  status: number;
  depth?: number | null;
  /** Anomalies that must be present. */
  anomalies: ChainAnomaly[];
  /** When set, the anomaly list must be exactly `anomalies`. */
  exact?: boolean;
}

const DAY = 86400;
const { c } = pki();
const SNI = 'www.example.test';

const scenarios: Scenario[] = [
  { name: 'good chain', presented: () => [c.leaf.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: [], exact: true },
  { name: 'expired leaf', presented: () => [c.expired.der, c.inter.der], trusted: () => [c.root.der], status: 10, depth: 0, anomalies: ['expired'] },
  { name: 'leaf not yet valid', presented: () => [c.future.der, c.inter.der], trusted: () => [c.root.der], status: 9, depth: 0, anomalies: ['not_yet_valid'] },
  { name: 'self-signed leaf', presented: () => [c.selfSigned.der], trusted: () => [c.root.der], status: 18, depth: 0, anomalies: ['self_signed', 'untrusted_root'] },
  {
    name: 'untrusted root sent in the chain',
    presented: () => [c.leaf.der, c.inter.der, c.root.der],
    trusted: () => [c.other.der],
    status: 19,
    depth: 2,
    anomalies: ['self_signed_in_chain', 'untrusted_root'],
  },
  { name: 'intermediate missing', presented: () => [c.leaf.der], trusted: () => [c.root.der], status: 20, depth: 0, anomalies: ['incomplete_chain'] },
  { name: 'signature by the wrong key', presented: () => [c.badSig.der, c.inter.der], trusted: () => [c.root.der], status: 7, depth: 0, anomalies: ['bad_signature'] },
  { name: 'SNI not in the SANs', presented: () => [c.leaf.der, c.inter.der], trusted: () => [c.root.der], sni: 'mail.example.test', status: 0, anomalies: ['hostname_mismatch'], exact: true },
  { name: 'no SNI', presented: () => [c.leaf.der, c.inter.der], trusted: () => [c.root.der], sni: null, status: 0, anomalies: ['missing_sni'], exact: true },
  { name: 'SHA-1 signed leaf', presented: () => [c.sha1.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['weak_signature_algorithm'], exact: true },
  { name: 'RSASSA-PSS signed leaf', presented: () => [c.pss.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: [], exact: true },
  { name: 'MD5 signed leaf', presented: () => [c.md5.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['weak_signature_algorithm'], exact: true },
  { name: 'RSA-1024 leaf', presented: () => [c.weakRsa.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['weak_key'], exact: true },
  { name: 'EC secp224r1 leaf', presented: () => [c.weakEc.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['weak_key'], exact: true },
  { name: '730-day leaf issued in 2024', presented: () => [c.long.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['validity_too_long'], exact: true },
  {
    name: 'leaf expiring in 12 days',
    presented: () => [c.leaf.der, c.inter.der],
    trusted: () => [c.root.der],
    at: Date.parse('2024-08-20T00:00:00Z') / 1000,
    status: 0,
    anomalies: ['about_to_expire'],
    exact: true,
  },
  { name: 'root before intermediate', presented: () => [c.leaf.der, c.root.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['chain_out_of_order'], exact: true },
  { name: 'CA certificate as leaf', presented: () => [c.caLeaf.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['ca_as_leaf'], exact: true },
  { name: 'clientAuth-only leaf', presented: () => [c.clientOnly.der, c.inter.der], trusted: () => [c.root.der], status: 0, anomalies: ['not_for_server_auth'], exact: true },
  {
    name: 'unknown critical extension',
    presented: () => [c.critical.der, c.inter.der],
    trusted: () => [c.root.der],
    status: 34,
    depth: 0,
    anomalies: ['unknown_critical_extension'],
  },
  // OpenSSL's other statuses and its precedence between them
  { name: 'intermediate that is not a CA', presented: () => [c.underNotCa.der, c.notCa.der], trusted: () => [c.root.der], status: 79, depth: 1, anomalies: [] },
  { name: 'pathLenConstraint 0 exceeded', presented: () => [c.leafUnder0.der, c.interUnder0.der], trusted: () => [c.rootP0.der], status: 25, depth: 2, anomalies: [] },
  {
    name: 'expired self-signed: chain building fails first',
    presented: () => [c.selfSignedExpired.der],
    trusted: () => [c.root.der],
    status: 18,
    depth: 0,
    anomalies: ['self_signed', 'untrusted_root', 'expired'],
  },
  {
    name: 'bad signature on an expired leaf: signature first',
    presented: () => [c.badSigExpired.der, c.inter.der],
    trusted: () => [c.root.der],
    status: 7,
    depth: 0,
    anomalies: ['bad_signature', 'expired'],
  },
  {
    name: 'expired intermediate and leaf: top-down',
    presented: () => [c.leafUnderOld.der, c.interOld.der],
    trusted: () => [c.root.der],
    status: 10,
    depth: 1,
    anomalies: ['expired'],
  },
  { name: 'inside the name constraints', presented: () => [c.leafNcOk.der, c.interNc.der], trusted: () => [c.root.der], status: 0, anomalies: [], exact: true },
  {
    name: 'outside the name constraints (pkijs finds it)',
    presented: () => [c.leafNcBad.der, c.interNc.der],
    trusted: () => [c.root.der],
    sni: 'www.evil.test',
    status: 47,
    depth: 0,
    anomalies: [],
    exact: true,
  },
  { name: 'only the intermediate is trusted', presented: () => [c.leaf.der], trusted: () => [c.inter.der], status: 2, depth: 1, anomalies: ['incomplete_chain'] },
  { name: 'trusted self-signed leaf', presented: () => [c.selfSigned.der], trusted: () => [c.selfSigned.der], status: 0, anomalies: ['self_signed'], exact: true },
  { name: 'ECDSA P-256 chain', presented: () => [c.ecLeaf.der], trusted: () => [c.ecRoot.der], sni: 'ec.example.test', status: 0, anomalies: [], exact: true },
  {
    name: 'validity in 2050 (GeneralizedTime)',
    presented: () => [c.leaf2051.der],
    trusted: () => [c.root2060.der],
    at: Date.parse('2050-06-01T00:00:00Z') / 1000,
    status: 0,
    anomalies: [],
    exact: true,
  },
  {
    name: 'expired in 1969 (pre-epoch notAfter)',
    presented: () => [c.leaf1969.der],
    trusted: () => [c.root2060.der],
    status: 10,
    depth: 0,
    anomalies: ['expired'],
  },
];

const haveOpenssl = hasTool('openssl');

async function judge(s: Scenario, trustKind: 'enterprise_pki' | 'tls_inspection' = 'enterprise_pki'): Promise<ChainVerdict> {
  const trust = TrustStore.empty();
  for (const der of s.trusted()) assert.ok(trust.addDer(der, trustKind));
  const judge = new ChainJudge({ trust });
  return judge.judge(s.presented(), { atMicros: (s.at ?? T) * 1e6, sni: s.sni === undefined ? SNI : s.sni });
}

describe('x509 verdicts on generated chains agree with openssl verify', () => {
  for (const s of scenarios) {
    it(s.name, async (t) => {
      const v = await judge(s);
      assert.equal(v.status_code, s.status, `status ${v.validation_status}`);
      assert.equal(v.validation_status, STATUS_BY_CODE.get(s.status));
      if (s.depth !== undefined) assert.equal(v.error_depth, s.depth);
      for (const a of s.anomalies) assert.ok(v.anomalies.includes(a), `expected ${a} in ${v.anomalies.join(',')}`);
      if (s.exact) assert.deepEqual([...v.anomalies], s.anomalies);
      if (!haveOpenssl) {
        t.skip('openssl not installed (Debian package: openssl)');
        return;
      }
      const presented = s.presented();
      const o = opensslVerify({ trusted: s.trusted(), untrusted: presented.slice(1), leaf: presented[0], atSeconds: s.at ?? T });
      assert.equal(v.status_code, o.code, `openssl said ${o.code} (${o.message}); tlsentry ${v.validation_status}\n${o.output}`);
      if (o.code !== 0) assert.equal(v.error_depth, o.depth, `error depth vs openssl\n${o.output}`);
    });
  }

  it('covers every anomaly code of the vocabulary', async () => {
    const seen = new Set<ChainAnomaly>();
    for (const s of scenarios) for (const a of (await judge(s)).anomalies) seen.add(a);
    assert.deepEqual(CHAIN_ANOMALIES.filter((a) => !seen.has(a)), []);
  });

  it('names the anchor kind it chained to', async () => {
    const v = await judge(scenarios[0], 'tls_inspection');
    assert.equal(v.anchor?.kind, 'tls_inspection');
    assert.equal(v.anchor?.subject, 'CN=tlsentry Test Root,O=tlsentry,C=US');
    assert.equal(v.anchor?.sha256, (await import('node:crypto')).createHash('sha256').update(c.root.der).digest('hex'));
    assert.equal(v.path_validation?.outcome, 'valid');
    assert.deepEqual(v.path_sha256.length, 3);
  });

  it('completes a gap from the intermediate cache, and says so (Zeek issue 875)', async (t) => {
    const trust = TrustStore.empty();
    trust.addDer(c.root.der, 'public');
    const judge = new ChainJudge({ trust, intermediateCache: new IntermediateCache() });
    const first = await judge.judge([c.leaf.der], { atMicros: T * 1e6, sni: SNI });
    assert.equal(first.validation_status, 'unable to get local issuer certificate');
    assert.equal(first.completed_from_cache, false);
    // Another connection presents the full chain: the intermediate is learnt.
    assert.equal((await judge.judge([c.sha1.der, c.inter.der], { atMicros: T * 1e6, sni: SNI })).validation_status, 'ok');
    const again = await judge.judge([c.leaf.der], { atMicros: T * 1e6 + 1, sni: SNI });
    assert.equal(again.validation_status, 'ok');
    assert.equal(again.completed_from_cache, true);
    assert.ok(again.anomalies.includes('incomplete_chain'));
    // The server's own chain is what openssl judges: still incomplete.
    if (!haveOpenssl) return t.skip('openssl not installed (Debian package: openssl)');
    assert.equal(opensslVerify({ trusted: [c.root.der], untrusted: [], leaf: c.leaf.der, atSeconds: T }).code, first.status_code);
  });
});
