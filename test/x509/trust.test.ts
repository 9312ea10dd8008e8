import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { TlsentryError } from '../../src/shared/errors.js';
import { ChainJudge, parseCaBundleArg, pemCertificates, TrustStore } from '../../src/x509/index.js';
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
});
