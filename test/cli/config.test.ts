import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analysisFromFlags } from '../../src/cli/analysis.js';
import { tempDir } from '../helpers/tools.js';

test('the configuration file gives the endpoint, trust bundles and detection; flags win', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'token'), 'secret-token-123\n');
  const cfg = join(dir, 'tlsentry.yaml');
  writeFileSync(
    cfg,
    ['endpoint:', '  url: http://127.0.0.1:7400', '  token_file: token', '  timeout_ms: 500', 'x509:', '  ca_bundles:', '    - corp.pem', '    - { path: proxy.pem, tag: tls_inspection }', 'detect:', '  threshold: 60', ''].join('\n'),
  );
  const a = analysisFromFlags({ config: cfg });
  assert.equal(a.endpoint?.url, 'http://127.0.0.1:7400');
  assert.equal(a.endpoint?.token, 'secret-token-123');
  assert.equal(a.endpoint?.timeoutMs, 500);
  assert.deepEqual(a.caBundles, [
    { path: join(dir, 'corp.pem'), tag: 'enterprise_pki' },
    { path: join(dir, 'proxy.pem'), tag: 'tls_inspection' },
  ]);
  assert.equal(a.detect?.config.threshold, 60);
  const b = analysisFromFlags({ config: cfg, endpoint: 'http://127.0.0.1:9999' });
  assert.equal(b.endpoint?.url, 'http://127.0.0.1:9999');
});

test('a configuration without a detect section does not turn detection on', () => {
  const dir = tempDir();
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, 'x509:\n  ca_bundles: [a.pem=tls_inspection]\n');
  const a = analysisFromFlags({ config: cfg });
  assert.equal(a.detect, null);
  assert.equal(a.endpoint, null);
  assert.deepEqual(a.caBundles, [{ path: join(dir, 'a.pem'), tag: 'tls_inspection' }]);
});

test('configuration errors name the bad key', () => {
  const dir = tempDir();
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'endpoint:\n  url: http://127.0.0.1:7400\n  tokn_file: x\n');
  assert.throws(() => analysisFromFlags({ config: cfg }), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /endpoint/.test(e.message) && /tokn_file/.test(e.message));
  writeFileSync(cfg, 'x509:\n  ca_bundles:\n    - { path: a.pem, tag: corporate }\n');
  assert.throws(() => analysisFromFlags({ config: cfg }), (e: Error) => /x509\.ca_bundles\.0/.test(e.message));
});
