/**
 * Generated PKI for the x509 tests: one key set per test process (RSA key
 * generation is the slow part), and a catalogue of certificates that each
 * exercise one verdict anomaly or one OpenSSL status.
 */
import { issue, keyPair, permittedDnsSubtree, unknownCriticalExtension, type Identity, type Issued, type KeyPair } from './support.js';

export const T = Date.parse('2024-07-01T00:00:00Z') / 1000;
const d = (iso: string) => new Date(iso);

let cached: Pki | undefined;

export interface Pki {
  keys: Record<'root' | 'inter' | 'leaf' | 'other' | 'weak' | 'ecRoot' | 'ecLeaf' | 'ec224', KeyPair>;
  id: Record<string, Identity>;
  c: Record<string, Issued>;
}

export function pki(): Pki {
  if (cached) return cached;
  const keys = {
    root: keyPair('rsa2048'),
    inter: keyPair('rsa2048'),
    leaf: keyPair('rsa2048'),
    other: keyPair('rsa2048'),
    weak: keyPair('rsa1024'),
    ecRoot: keyPair('p256'),
    ecLeaf: keyPair('p256'),
    ec224: keyPair('p224'),
  };
  const id: Record<string, Identity> = {
    root: { cn: 'tlsentry Test Root', key: keys.root, attrs: [{ shortName: 'C', value: 'US' }, { shortName: 'O', value: 'tlsentry' }] },
    inter: { cn: 'tlsentry Test Intermediate', key: keys.inter, attrs: [{ shortName: 'O', value: 'tlsentry' }] },
    leaf: { cn: 'www.example.test', key: keys.leaf },
    other: { cn: 'Unrelated Root', key: keys.other },
    weak: { cn: 'www.example.test', key: keys.weak },
    ecRoot: { cn: 'tlsentry EC Root', key: keys.ecRoot },
    ecLeaf: { cn: 'ec.example.test', key: keys.ecLeaf },
    ec224: { cn: 'www.example.test', key: keys.ec224 },
    rootP0: { cn: 'tlsentry PathLen0 Root', key: keys.root },
    interUnder0: { cn: 'tlsentry Under PathLen0', key: keys.inter },
    notCa: { cn: 'tlsentry Not A CA', key: keys.inter },
    interOld: { cn: 'tlsentry Old Intermediate', key: keys.inter },
    interNc: { cn: 'tlsentry Constrained Intermediate', key: keys.inter },
  };
  const caLife = { notBefore: d('2024-01-01T00:00:00Z'), notAfter: d('2034-01-01T00:00:00Z') };
  const leafLife = { notBefore: d('2024-06-01T00:00:00Z'), notAfter: d('2024-09-01T00:00:00Z') };
  const dns = ['www.example.test', 'example.test'];
  const leafUnder = (issuer: Identity, extra: Partial<Parameters<typeof issue>[0]> = {}) =>
    issue({ subject: id.leaf, issuer, ...leafLife, dns, ...extra });

  const c: Record<string, Issued> = {};
  c.root = issue({ subject: id.root, ...caLife, ca: {} });
  c.inter = issue({ subject: id.inter, issuer: id.root, ...caLife, ca: { pathLen: 0 } });
  c.leaf = leafUnder(id.inter);
  c.other = issue({ subject: id.other, ...caLife, ca: {} });
  c.expired = leafUnder(id.inter, { notBefore: d('2024-01-01T00:00:00Z'), notAfter: d('2024-03-01T00:00:00Z') });
  c.future = leafUnder(id.inter, { notBefore: d('2024-08-01T00:00:00Z'), notAfter: d('2024-10-01T00:00:00Z') });
  c.selfSigned = issue({ subject: id.leaf, ...leafLife, dns });
  c.selfSignedExpired = issue({ subject: id.leaf, notBefore: d('2023-01-01T00:00:00Z'), notAfter: d('2023-06-01T00:00:00Z'), dns });
  c.badSig = leafUnder(id.inter, { signWith: keys.other.privateKey });
  c.badSigExpired = leafUnder(id.inter, { signWith: keys.other.privateKey, notBefore: d('2024-01-01T00:00:00Z'), notAfter: d('2024-03-01T00:00:00Z') });
  c.sha1 = leafUnder(id.inter, { hash: 'sha1' });
  c.pss = leafUnder(id.inter, { pss: true });
  c.md5 = leafUnder(id.inter, { hash: 'md5' });
  c.weakRsa = issue({ subject: id.weak, issuer: id.inter, ...leafLife, dns });
  c.weakEc = issue({ subject: id.ec224, issuer: id.inter, ...leafLife, dns });
  c.long = leafUnder(id.inter, { notBefore: d('2024-06-01T00:00:00Z'), notAfter: d('2026-06-01T00:00:00Z') });
  c.caLeaf = leafUnder(id.inter, { ca: {}, eku: ['serverAuth'], keyUsage: { digitalSignature: true, keyCertSign: true } });
  c.clientOnly = leafUnder(id.inter, { eku: ['clientAuth'] });
  c.critical = leafUnder(id.inter, { extra: [unknownCriticalExtension()] });
  // An intermediate whose basicConstraints says "not a CA".
  c.notCa = issue({ subject: id.notCa, issuer: id.root, ...caLife, ca: false, keyUsage: { keyCertSign: true, digitalSignature: true }, eku: null });
  c.underNotCa = leafUnder(id.notCa);
  // pathLenConstraint 0 on the root, one intermediate below it.
  c.rootP0 = issue({ subject: id.rootP0, ...caLife, ca: { pathLen: 0 } });
  c.interUnder0 = issue({ subject: id.interUnder0, issuer: id.rootP0, ...caLife, ca: {} });
  c.leafUnder0 = leafUnder(id.interUnder0);
  // An expired intermediate above an expired leaf: OpenSSL reports the intermediate (top-down).
  c.interOld = issue({ subject: id.interOld, issuer: id.root, notBefore: d('2020-01-01T00:00:00Z'), notAfter: d('2021-01-01T00:00:00Z'), ca: {} });
  c.leafUnderOld = issue({ subject: id.leaf, issuer: id.interOld, notBefore: d('2020-02-01T00:00:00Z'), notAfter: d('2020-12-01T00:00:00Z'), dns });
  // Name constraints: the intermediate may only issue under example.test.
  c.interNc = issue({ subject: id.interNc, issuer: id.root, ...caLife, ca: {}, extra: [permittedDnsSubtree('example.test')] });
  c.leafNcOk = leafUnder(id.interNc);
  c.leafNcBad = leafUnder(id.interNc, { dns: ['www.evil.test'] });
  // EC (P-256, ECDSA signatures) chain.
  c.ecRoot = issue({ subject: id.ecRoot, ...caLife, ca: {} });
  c.ecLeaf = issue({ subject: id.ecLeaf, issuer: id.ecRoot, ...leafLife, dns: ['ec.example.test'] });
  // Beyond 2049 (GeneralizedTime) and before 1970 (negative epoch).
  c.root2060 = issue({ subject: id.root, notBefore: d('1960-01-01T00:00:00Z'), notAfter: d('2060-01-01T00:00:00Z'), ca: {} });
  c.leaf2051 = issue({ subject: id.leaf, issuer: id.root, notBefore: d('2050-01-01T00:00:00Z'), notAfter: d('2051-01-01T00:00:00Z'), dns });
  c.leaf1969 = issue({ subject: id.leaf, issuer: id.root, notBefore: d('1965-01-01T00:00:00Z'), notAfter: d('1969-12-31T00:00:00Z'), dns });
  cached = { keys, id, c };
  return cached;
}
