import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { matchHostname, summarizeCertificate } from '../../src/x509/index.js';
import { pki } from './fixtures.js';
import { spawnSync } from 'node:child_process';
import { hasTool, issue, keyPair, toPem } from './support.js';

const life = { notBefore: new Date('2024-06-01T00:00:00Z'), notAfter: new Date('2024-09-01T00:00:00Z') };

describe('summarizeCertificate', () => {
  it('reports names, serial, validity, key, algorithm, constraints, usages and fingerprints', () => {
    const { c } = pki();
    const s = summarizeCertificate(c.leaf.der);
    assert.equal(s.parse_ok, true);
    assert.equal(s.version, 3);
    assert.equal(s.subject, 'CN=www.example.test');
    assert.equal(s.issuer, 'CN=tlsentry Test Intermediate,O=tlsentry');
    assert.equal(s.issuer_suricata, 'O=tlsentry, CN=tlsentry Test Intermediate');
    assert.equal(s.not_before, '2024-06-01T00:00:00Z');
    assert.equal(s.not_after_epoch, Date.parse('2024-09-01T00:00:00Z') / 1000);
    assert.deepEqual(s.san.dns, ['www.example.test', 'example.test']);
    assert.deepEqual(
      [s.public_key.type, s.public_key.algorithm, s.public_key.bits, s.public_key.exponent],
      ['rsa', 'rsaEncryption', 2048, '65537'],
    );
    assert.deepEqual(s.signature_algorithm, { name: 'sha256WithRSAEncryption', oid: '1.2.840.113549.1.1.11', hash: 'sha256' });
    assert.deepEqual(s.basic_constraints, { ca: false, path_len: null });
    assert.deepEqual(s.key_usage, ['digitalSignature', 'keyEncipherment']);
    assert.deepEqual(s.extended_key_usage, ['serverAuth']);
    assert.equal(s.sha256, createHash('sha256').update(c.leaf.der).digest('hex'));
    assert.equal(s.sha1, createHash('sha1').update(c.leaf.der).digest('hex'));
    assert.equal(s.self_issued, false);
    assert.deepEqual(s.anomalies, []);
    const inter = summarizeCertificate(c.inter.der);
    assert.deepEqual(inter.basic_constraints, { ca: true, path_len: 0 });
    assert.equal(inter.authority_key_id, summarizeCertificate(c.root.der).subject_key_id);
    assert.equal(summarizeCertificate(c.root.der).self_issued, true);
  });

  it('EC keys: curve and order size; SAN IPs in Zeek form', () => {
    const { c, id } = pki();
    const s = summarizeCertificate(c.ecLeaf.der);
    assert.deepEqual([s.public_key.type, s.public_key.curve, s.public_key.bits], ['ecdsa', 'prime256v1', 256]);
    assert.equal(s.signature_algorithm.name, 'ecdsa-with-SHA256');
    const ips = summarizeCertificate(
      issue({ subject: id.leaf, issuer: id.inter, ...life, ips: ['192.0.2.7', '2001:db8::1'], dns: [] }).der,
    );
    assert.deepEqual(ips.san.ip, ['192.0.2.7', '2001:db8::1']);
    assert.equal(matchHostname('192.0.2.7', ips), true);
    assert.equal(matchHostname('2001:DB8:0::1', ips), true);
    assert.equal(matchHostname('www.example.test', ips), false);
  });

  it('serials: Zeek hex without the sign byte, Suricata colon form with it', () => {
    const { id } = pki();
    const s = summarizeCertificate(issue({ subject: id.leaf, issuer: id.inter, ...life, serial: '00e2bcd57bda0ec56f' }).der);
    assert.equal(s.serial, 'E2BCD57BDA0EC56F');
    assert.equal(s.serial_colon, '00:E2:BC:D5:7B:DA:0E:C5:6F');
  });

  it('escapes RFC 4514 specials the way OpenSSL does', () => {
    const k = keyPair('p256');
    const s = summarizeCertificate(
      issue({
        subject: {
          cn: ' #lead, "q" + <a>;b\\ ',
          key: k,
          attrs: [
            { shortName: 'O', value: 'Caf\u00e9 Ltd' },
            { type: '2.5.4.97', value: 'VATDE-123' },
          ],
        },
        ...life,
      }).der,
    );
    assert.equal(s.subject, 'CN=\\ #lead\\, \\"q\\" \\+ \\<a\\>\\;b\\\\\\ ,organizationIdentifier=VATDE-123,O=Caf\\C3\\A9 Ltd');
    assert.equal(s.subject_suricata, 'O=Caf\u00e9 Ltd, organizationIdentifier=VATDE-123, CN= #lead, "q" + <a>;b\\ ');
  });

  it('subject strings equal `openssl x509 -subject -nameopt RFC2253` (Zeek\'s form)', (t) => {
    if (!hasTool('openssl')) return t.skip('openssl not installed (Debian package: openssl)');
    const k = keyPair('p256');
    const names: { cn: string; attrs: { shortName?: string; type?: string; value: string; valueTagClass?: number }[] }[] = [
      { cn: '#hash=first, +plus', attrs: [{ shortName: 'O', value: ' lead and trail ' }] },
      { cn: 'ctrl\u0001\u007f', attrs: [{ type: '1.2.3.4.5', value: 'unknown type' }] },
      { cn: 'utf8 \u00e9\u4e2d', attrs: [{ shortName: 'OU', value: 'bmp \u00e9\u4e2d', valueTagClass: 30 }] },
      { cn: 't61 caf\u00e9', attrs: [{ shortName: 'L', value: 'latin \u00e9', valueTagClass: 20 }, { shortName: 'E', value: 'a@b.test' }] },
      { cn: 'x', attrs: [{ type: '0.9.2342.19200300.100.1.25', value: 'dc' }, { type: '2.5.4.5', value: '42' }, { type: '1.3.6.1.4.1.311.60.2.1.3', value: 'DE' }] },
    ];
    for (const n of names) {
      const der = issue({ subject: { cn: n.cn, key: k, attrs: n.attrs }, ...life }).der;
      const r = spawnSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: toPem(der), encoding: 'utf8' });
      assert.equal(`subject=${summarizeCertificate(der).subject}`, r.stdout.replace(/\n$/, ''));
    }
  });
});

describe('host name matching (RFC 6125)', () => {
  const { id } = pki();
  const withNames = (dns: string[], cn = 'cn.example.test') =>
    summarizeCertificate(issue({ subject: { ...id.leaf, cn }, issuer: id.inter, ...life, dns }).der);

  it('wildcards: one whole left-most label, never a bare public suffix', () => {
    const s = withNames(['*.example.test', 'exact.test', '*.com', 'f*.other.test']);
    assert.equal(matchHostname('www.example.test', s), true);
    assert.equal(matchHostname('a.b.example.test', s), false);
    assert.equal(matchHostname('example.test', s), false);
    assert.equal(matchHostname('EXACT.test.', s), true);
    assert.equal(matchHostname('google.com', s), false);
    assert.equal(matchHostname('foo.other.test', s), false);
  });

  it('the CN counts only when there is no SAN', () => {
    assert.equal(matchHostname('cn.example.test', withNames(['san.example.test'])), false);
    assert.equal(matchHostname('cn.example.test', withNames([])), true);
  });
});
