/**
 * Hostile certificates: each gives a summary with an anomaly and a verdict,
 * never an exception. Captures from ../shared/conformance when present;
 * generated and random input always.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import {
  CertificateCache,
  ChainJudge,
  certificateNotVisibleVerdict,
  matchHostname,
  summarizeCertificate,
  TrustStore,
} from '../../src/x509/index.js';
import { extractChains, hasTool, opensslVerify, SHARED, sharedAvailable, zeekRootCerts } from './support.js';
import { pki, T } from './fixtures.js';

const needCaptures = (): string | null =>
  !sharedAvailable()
    ? 'conformance data absent (../shared/conformance)'
    : !hasTool('tshark', ['-v'])
      ? 'tshark not installed (Debian package: tshark)'
      : null;

const publicTrust = TrustStore.fromOptions();

describe('malformed and hostile certificates', () => {
  it('CVE-2015-3194: RSA-PSS without MGF1 parameters is a signature failure, not a crash', async (t) => {
    const skip = needCaptures();
    if (skip) return t.skip(skip);
    const [chain] = extractChains(`${SHARED}zeek/CVE-2015-3194.pcap`);
    const s = summarizeCertificate(chain.certs[0]);
    assert.equal(s.parse_ok, true);
    assert.equal(s.signature_algorithm.name, 'rsassaPss');
    const trust = TrustStore.fromOptions();
    for (const r of zeekRootCerts(`${SHARED}zeek/_tests/ssl.cve-2015-3194.test`)) trust.addDer(r.der, 'public');
    const v = await new ChainJudge({ trust }).judge(chain.certs, { atMicros: chain.atMicros, sni: chain.sni });
    assert.equal(v.validation_status, 'certificate signature failure');
    assert.ok(v.anomalies.includes('bad_signature'));
    assert.equal(v.path_validation?.outcome, 'no_path');
  });

  it('NUL bytes in subject, issuer and SAN are escaped, flagged and never match a host name', async (t) => {
    const skip = needCaptures();
    if (skip) return t.skip(skip);
    const leafOf = (pcap: string) => extractChains(`${SHARED}suricata-verify/${pcap}`)[0].certs;
    const subjectZero = summarizeCertificate(leafOf('tls-subject-zero.pcap')[0]);
    assert.match(subjectZero.subject, /O=Microsoft Corporat\\00on/);
    assert.ok(subjectZero.anomalies.includes('x509.nul_in_name'));
    const issuerZero = summarizeCertificate(leafOf('tls-issuer-zero.pcap')[0]);
    assert.match(issuerZero.issuer, /CN=Microsoft RSA TL\\00 CA 01/);
    assert.ok(issuerZero.anomalies.includes('x509.nul_in_name'));
    const altChain = leafOf('tls-altname-zero.pcap');
    const alt = summarizeCertificate(altChain[0]);
    assert.ok(alt.anomalies.includes('x509.nul_in_san'));
    // The classic NUL-prefix attack: the name before the NUL must not match.
    assert.equal(matchHostname('server15.xn--j1ahhq.xn', alt), false);
    assert.equal(matchHostname('server1.xn--j1ahhq.xn--p1ai', alt), true);
    const [ch] = extractChains(`${SHARED}suricata-verify/tls-issuer-zero.pcap`);
    const v = await new ChainJudge({ trust: publicTrust }).judge(ch.certs, { atMicros: ch.atMicros, sni: ch.sni });
    assert.ok(v.certificate_anomalies.includes('x509.nul_in_name'));
    // The leaf names an issuer that does not exist: the presented intermediate is not its issuer.
    assert.equal(v.validation_status, 'unable to get local issuer certificate');
  });

  it('pre-1970 notBefore (UTCTime 69…) reads as 1969, as Suricata prints it', async (t) => {
    const skip = needCaptures();
    if (skip) return t.skip(skip);
    const [ch] = extractChains(`${SHARED}suricata-verify/tls-pre-1970.pcap`);
    const s = summarizeCertificate(ch.certs[0]);
    assert.equal(s.not_before, '1969-12-31T00:00:00Z');
    assert.ok((s.not_before_epoch ?? 0) < 0);
    const v = await new ChainJudge({ trust: publicTrust }).judge(ch.certs, { atMicros: ch.atMicros, sni: ch.sni });
    assert.equal(v.validation_status, 'unable to get local issuer certificate');
  });

  it('explicit EC parameters (CurveBall capture) are flagged, and refused as OpenSSL 3 does', async (t) => {
    const skip = needCaptures();
    if (skip) return t.skip(skip);
    const [ch] = extractChains(`${SHARED}ja4/badcurveball.pcap`);
    const root = summarizeCertificate(ch.certs[1]);
    assert.equal(root.public_key.explicit_curve, true);
    assert.equal(root.public_key.curve, null);
    assert.ok(root.anomalies.includes('x509.explicit_ec_parameters'));
    const untrusted = await new ChainJudge({ trust: publicTrust }).judge(ch.certs, { atMicros: ch.atMicros, sni: ch.sni });
    assert.equal(untrusted.validation_status, 'self-signed certificate in certificate chain');
    assert.ok(untrusted.anomalies.includes('untrusted_root'));
    assert.ok(untrusted.certificate_anomalies.includes('x509.explicit_ec_parameters'));
    // Even when the look-alike root is trusted, the explicit parameters stop validation.
    const trust = TrustStore.empty();
    trust.addDer(ch.certs[1], 'tls_inspection');
    const trusted = await new ChainJudge({ trust }).judge(ch.certs, { atMicros: ch.atMicros, sni: ch.sni });
    assert.equal(trusted.validation_status, 'Certificate public key has explicit ECC parameters');
    if (hasTool('openssl'))
      assert.equal(
        opensslVerify({ trusted: [ch.certs[1]], untrusted: ch.certs.slice(1), leaf: ch.certs[0], atSeconds: ch.atMicros / 1e6 }).code,
        trusted.status_code,
      );
  });

  it('ML-DSA (a key this OpenSSL cannot decode) is summarised, not thrown on', async (t) => {
    const skip = needCaptures();
    if (skip) return t.skip(skip);
    const [ch] = extractChains(`${SHARED}zeek/ml-dsa-44-cert.pcap`);
    const s = summarizeCertificate(ch.certs[0]);
    assert.equal(s.public_key.algorithm, 'ML-DSA-44');
    assert.ok(s.anomalies.includes('x509.unknown_public_key'));
    const v = await new ChainJudge({ trust: publicTrust }).judge(ch.certs, { atMicros: ch.atMicros });
    assert.ok(v.validation_status.length > 0);
  });

  it('garbage, truncated and empty input give parse anomalies', async () => {
    const counters = new AnomalyCounters();
    const cache = new CertificateCache({ counters });
    for (const der of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.from('not a certificate'), pki().c.leaf.der.subarray(0, 200)]) {
      const s = cache.get(der).summary;
      assert.equal(s.parse_ok, false);
      assert.deepEqual(s.anomalies, ['x509.parse_error']);
      assert.equal(s.sha256.length, 64);
    }
    assert.equal(counters.get('x509.parse_error'), 4);
    const judge = new ChainJudge({ trust: publicTrust });
    const v = await judge.judge([Buffer.from('junk')], { atMicros: T * 1e6, sni: 'x.test' });
    assert.equal(v.validation_status, 'unable to parse certificate');
    assert.deepEqual(v.certificate_anomalies, ['x509.parse_error']);
    assert.equal((await judge.judge([], { atMicros: T * 1e6 })).validation_status, 'no certificate');
    // A junk intermediate is skipped, as Zeek skips certificates it cannot parse.
    const { c } = pki();
    const trust = TrustStore.empty();
    trust.addDer(c.root.der, 'public');
    const mixed = await new ChainJudge({ trust }).judge([c.leaf.der, Buffer.from('junk'), c.inter.der], {
      atMicros: T * 1e6,
      sni: 'www.example.test',
    });
    assert.equal(mixed.validation_status, 'ok');
    assert.ok(mixed.certificate_anomalies.includes('x509.parse_error'));
    assert.ok(mixed.anomalies.includes('chain_out_of_order'));
  });

  it('TLS 1.3: certificate not visible', () => {
    const v = certificateNotVisibleVerdict({ sni: 'example.com' });
    assert.equal(v.validation_status, 'certificate not visible');
    assert.deepEqual(v.anomalies, []);
    assert.deepEqual(certificateNotVisibleVerdict({}).anomalies, ['missing_sni']);
  });

  it('random bytes never throw (fast-check)', async () => {
    const judge = new ChainJudge({ trust: publicTrust });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: -2e15, max: 4e15 }), async (blobs, at) => {
        const ders = blobs.map((b) => Buffer.from(b));
        for (const d of ders) summarizeCertificate(d);
        const v = await judge.judge(ders, { atMicros: at, sni: 'fuzz.test' });
        assert.equal(typeof v.validation_status, 'string');
      }),
      { numRuns: 300 },
    );
  });

  it('mutated real certificates never throw (fast-check)', async () => {
    const { c } = pki();
    const trust = TrustStore.empty();
    trust.addDer(c.root.der, 'public');
    const judge = new ChainJudge({ trust });
    const base = [c.leaf.der, c.inter.der];
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (which, edits, cut) => {
          const der = Buffer.from(base[which]);
          for (const [pos, val] of edits) der[pos % der.length] = val;
          const mutated = cut === undefined ? der : der.subarray(0, cut % der.length);
          const chain = which === 0 ? [mutated, c.inter.der] : [c.leaf.der, mutated];
          summarizeCertificate(mutated);
          const v = await judge.judge(chain, { atMicros: T * 1e6, sni: 'www.example.test' });
          assert.equal(typeof v.validation_status, 'string');
        },
      ),
      { numRuns: 400 },
    );
  });
});
