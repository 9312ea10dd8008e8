import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { TlsentryError } from '../../src/shared/errors.js';
import { ChainJudge, parseCaBundleArg, pemCertificates, TrustStore } from '../../src/x509/index.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { indexKeys } from '../../src/x509/trust.js';
import { pki, T } from './fixtures.js';
import { toPem } from './support.js';

function withDir<R>(fn: (dir: string) => R): R {
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-trust-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('TrustStore', () => {
  it("loads Node's bundled Mozilla roots by default, none with --no-default-trust", () => {
    const def = TrustStore.fromOptions();
    assert.equal(def.size, new Set(tls.rootCertificates).size);
    assert.ok(def.anchors().every((a) => a.kind === 'public'));
    assert.equal(TrustStore.fromOptions({ defaultTrust: false }).size, 0);
  });

  it('loads the system store on request', () => {
    const s = TrustStore.fromOptions({ defaultTrust: false, systemTrust: true });
    assert.ok(s.size > 0);
    assert.ok(s.anchors().every((a) => a.kind === 'system'));
  });

  it('tags organisation bundles, and the most specific tag wins for a shared root', async () => {
    const { c } = pki();
    await withDir(async (dir) => {
      const corp = join(dir, 'corp.pem');
      const proxy = join(dir, 'proxy.pem');
      writeFileSync(corp, `junk before\n${c.root.pem}\n${c.other.pem}`);
      writeFileSync(proxy, c.root.pem);
      const store = TrustStore.fromOptions({
        defaultTrust: false,
        bundles: [parseCaBundleArg(corp), parseCaBundleArg(`${proxy}=tls_inspection`)],
      });
      assert.equal(store.size, 2);
      const kinds = Object.fromEntries(store.anchors().map((a) => [a.subject, a.kind]));
      assert.equal(kinds['CN=tlsentry Test Root,O=tlsentry,C=US'], 'tls_inspection');
      assert.equal(kinds['CN=Unrelated Root'], 'enterprise_pki');
      const v = await new ChainJudge({ trust: store }).judge([c.leaf.der, c.inter.der], { atMicros: T * 1e6, sni: 'www.example.test' });
      assert.equal(v.anchor?.kind, 'tls_inspection');
    });
  });

  it('an unreadable or empty bundle is a configuration error', () => {
    assert.throws(
      () => TrustStore.fromOptions({ bundles: [{ path: '/nonexistent/ca.pem', tag: 'enterprise_pki' }] }),
      (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_CONFIG',
    );
    withDir((dir) => {
      const empty = join(dir, 'empty.pem');
      writeFileSync(empty, 'no certificates here\n');
      assert.throws(
        () => TrustStore.fromOptions({ defaultTrust: false, bundles: [{ path: empty, tag: 'tls_inspection' }] }),
        (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_CONFIG',
      );
    });
  });

  it('parses --ca-bundle FILE[=TAG]', () => {
    assert.deepEqual(parseCaBundleArg('/etc/corp.pem'), { path: '/etc/corp.pem', tag: 'enterprise_pki' });
    assert.deepEqual(parseCaBundleArg('/etc/proxy.pem=tls_inspection'), { path: '/etc/proxy.pem', tag: 'tls_inspection' });
    assert.deepEqual(parseCaBundleArg('a=b.pem'), { path: 'a=b.pem', tag: 'enterprise_pki' });
    assert.throws(() => parseCaBundleArg('/etc/x.pem=mitm'), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_USAGE');
  });

  it('reads PEM bundles with comments and several certificates', () => {
    const { c } = pki();
    const ders = pemCertificates(`# comment\n${toPem(c.root.der)}text\n${toPem(c.inter.der)}`);
    assert.deepEqual(ders, [c.root.der, c.inter.der]);
  });

  it('a stored intermediate extends a chain but is not an anchor (OpenSSL default trust)', async () => {
    const { c } = pki();
    const store = TrustStore.empty();
    store.addDer(c.inter.der, 'enterprise_pki');
    assert.deepEqual(store.anchors(), []);
    const v = await new ChainJudge({ trust: store }).judge([c.leaf.der], { atMicros: T * 1e6, sni: 'www.example.test' });
    assert.equal(v.validation_status, 'unable to get issuer certificate');
  });

  it('drops cached verdicts when anchors are added', async () => {
    const { c } = pki();
    const store = TrustStore.empty();
    const judge = new ChainJudge({ trust: store });
    const ctx = { atMicros: T * 1e6, sni: 'www.example.test' };
    assert.equal((await judge.judge([c.leaf.der, c.inter.der], ctx)).validation_status, 'unable to get local issuer certificate');
    store.addDer(c.root.der, 'enterprise_pki');
    assert.equal((await judge.judge([c.leaf.der, c.inter.der], ctx)).validation_status, 'ok');
  });

  it('files bundled and system roots under the keys their full parse gives (lazy loading is exact)', () => {
    const lists: [string, readonly string[]][] = [['bundled', tls.rootCertificates]];
    const getCA = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    if (typeof getCA === 'function') lists.push(['system', getCA('system')]);
    for (const [name, pems] of lists) {
      let checked = 0;
      for (const der of pemCertificates(pems.join('\n'))) {
        const parsed = parseCertificate(der);
        assert.ok(parsed.ok, `${name} root parses: ${parsed.summary.subject}`);
        const keys = indexKeys(der);
        assert.ok(keys, `${name} root ${parsed.summary.subject}: index keys read from DER`);
        assert.deepEqual(keys, { subjectCanon: parsed.subjectCanon, skid: parsed.skid }, parsed.summary.subject);
        checked++;
      }
      if (name === 'bundled') assert.ok(checked > 100, `${checked} bundled roots`);
    }
  });

  it('a lazily loaded store answers lookups as an eagerly parsed one does', () => {
    const lazy = TrustStore.fromOptions();
    const eager = TrustStore.empty();
    for (const der of pemCertificates(tls.rootCertificates.join('\n'))) eager.addDer(der, 'public', 'node:tls.rootCertificates');
    const ids = (l: readonly { parsed: { summary: { sha256: string } }; anchor: boolean }[]) => l.map((s) => `${s.parsed.summary.sha256}:${s.anchor}`);
    for (const der of pemCertificates(tls.rootCertificates.join('\n'))) {
      const p = parseCertificate(der);
      assert.deepEqual(ids(lazy.bySubjectName(p.subjectCanon)), ids(eager.bySubjectName(p.subjectCanon)));
      if (p.skid) assert.deepEqual(ids(lazy.byKeyId(p.skid)), ids(eager.byKeyId(p.skid)));
      assert.equal(lazy.bySha(p.summary.sha256)?.anchor, eager.bySha(p.summary.sha256)?.anchor);
    }
    assert.deepEqual(lazy.anchors(), eager.anchors());
    assert.equal(lazy.size, eager.size);
  });

  it('a lazily loaded root that does not parse leaves the store when looked up', () => {
    const store = TrustStore.empty();
    const { c } = pki();
    // A certificate whose skeleton reads but whose signature algorithm is no AlgorithmIdentifier.
    const der = Buffer.from(c.root.der);
    const keys = indexKeys(der)!;
    assert.ok(keys);
    const broken = Buffer.from(der);
    // Corrupt the outer signature BIT STRING tag (last TLV of the certificate) into an INTEGER.
    const tbsLen = (() => {
      let p = 2 + (der[1] & 0x80 ? der[1] & 0x7f : 0);
      const l = der[p + 1];
      const n = l & 0x80 ? l & 0x7f : 0;
      let len = n ? 0 : l;
      for (let i = 0; i < n; i++) len = len * 256 + der[p + 2 + i];
      return p + 2 + n + len;
    })();
    const alg = tbsLen; // AlgorithmIdentifier SEQUENCE starts right after the TBS
    broken[alg] = 0x02;
    (store as unknown as { addPemLazy(t: string, k: string, s: string): unknown }).addPemLazy(toPem(broken), 'enterprise_pki', 'test');
    assert.equal(parseCertificate(broken).ok, false);
    assert.deepEqual(store.bySubjectName(keys.subjectCanon), []);
    assert.equal(store.size, 0);
  });
});

