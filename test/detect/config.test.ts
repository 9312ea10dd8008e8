import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultDetectConfig, loadDetectConfig, parseDetectConfig, parseDuration } from '../../src/detect/config.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/tools.js';

function configError(section: unknown): string {
  try {
    parseDetectConfig(section, 'test.yaml');
  } catch (e) {
    assert.ok(e instanceof TlsentryError);
    assert.equal(e.code, 'ERR_CONFIG');
    return e.message;
  }
  assert.fail('expected a configuration error');
}

describe('detect configuration', () => {
  it('has documented defaults', () => {
    const c = defaultDetectConfig;
    assert.equal(c.threshold, 50);
    assert.equal(c.learning.duration, 0);
    assert.equal(c.dedup.window, 3600);
    assert.equal(c.rules.new_tls_process.weight, 30);
    assert.equal(c.rules.asymmetric_egress.min_pcr, 0.4);
    assert.equal(c.rules.unexpected_tls_library.late_load_after, 300);
    assert.equal(c.baseline.path, 'tlsentry-baseline.db');
    assert.ok(Object.isFrozen(c.rules));
  });

  it('names the bad key and what it expected', () => {
    const m = configError({ rules: { asymmetric_egress: { min_bytes_out: 'lots' } } });
    assert.match(m, /detect\.rules\.asymmetric_egress\.min_bytes_out: expected number, got string "lots"/);
  });

  it('names unknown keys with a suggestion', () => {
    const m = configError({ rules: { asymetric_egress: { weight: 3 } }, treshold: 4 });
    assert.match(m, /detect\.rules\.asymetric_egress: unknown key \(did you mean asymmetric_egress\?\)/);
    assert.match(m, /detect\.treshold: unknown key \(did you mean threshold\?\)/);
  });

  it('names keys inside lists, enums and durations', () => {
    const m = configError({
      allow: { processes: [{ executable: 'C:\\x.exe', reason: 'ok' }, { executable: 'y', rules: ['no_such_rule'], reason: 'r' }], destinations: [{ address: '10.0.0.0/33', reason: 'r' }, { reason: 'r' }] },
      learning: { duration: 'a week' },
      rules: { nonstandard_chain: { allow_anchor_kinds: ['corp'] } },
    });
    assert.match(m, /detect\.allow\.processes\[1\]\.rules\[0\]: expected one of "new_tls_process"/);
    assert.match(m, /detect\.allow\.destinations\[0\]\.address: bad prefix length: 10\.0\.0\.0\/33/);
    assert.match(m, /detect\.allow\.destinations\[1\]: needs at least one of address, sni, port/);
    assert.match(m, /detect\.learning\.duration: expected a duration .*got string "a week"/);
    assert.match(m, /detect\.rules\.nonstandard_chain\.allow_anchor_kinds\[0\]: expected one of "public", "system", "enterprise_pki", "tls_inspection", got string "corp"/);
  });

  it('reads durations', () => {
    assert.equal(parseDuration(90), 90);
    assert.equal(parseDuration('500ms'), 0.5);
    assert.equal(parseDuration('5m'), 300);
    assert.equal(parseDuration('7d'), 604800);
    assert.ok(Number.isNaN(parseDuration('-1s')));
    assert.equal(parseDetectConfig({ dedup: { window: '10m' } }).dedup.window, 600);
  });

  it('loads YAML and JSON files, the detect: section only', () => {
    const dir = tempDir();
    const yaml = join(dir, 'tlsentry.yaml');
    writeFileSync(
      yaml,
      [
        'capture: { snaplen: 65535 }   # another stage',
        'detect:',
        '  threshold: 60',
        '  learning: { duration: 7d }',
        '  rules:',
        '    tls_nonstandard_port: { weight: 20, standard_ports: [443, 8443] }',
        '    listed_unexpected_process: { lists: lists.json }',
        '  allow:',
        '    processes:',
        '      - executable: C:\\Users\\*\\AppData\\Local\\Microsoft\\OneDrive\\*.exe',
        '        signer: Microsoft Corporation',
        '        reason: OneDrive update agent',
        '    ca_anchors:',
        '      - { subject: "CN=Corp Inspection CA", reason: TLS inspection proxy }',
      ].join('\n'),
    );
    const c = loadDetectConfig(yaml);
    assert.equal(c.threshold, 60);
    assert.equal(c.learning.duration, 604800);
    assert.deepEqual(c.rules.tls_nonstandard_port.standard_ports, [443, 8443]);
    assert.equal(c.rules.listed_unexpected_process.lists, join(dir, 'lists.json'));
    assert.equal(c.allow.processes[0]!.signer, 'Microsoft Corporation');
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ detect: { threshold: 70 } }));
    assert.equal(loadDetectConfig(json).threshold, 70);
    writeFileSync(json, JSON.stringify({ other: 1 }));
    assert.equal(loadDetectConfig(json).threshold, 50);
    writeFileSync(json, 'detect: [1, 2');
    assert.throws(() => loadDetectConfig(json), (e: TlsentryError) => e.code === 'ERR_CONFIG' && /not YAML or JSON/.test(e.message));
    writeFileSync(json, 'detect:\n  threshold: high\n');
    assert.throws(() => loadDetectConfig(json), /c\.json: invalid detection configuration:\n  detect\.threshold: expected number, got string "high"/);
    assert.throws(() => loadDetectConfig(join(dir, 'missing.yaml')), /cannot read/);
  });
});

describe('src/detect/README.md', () => {
  it('its configuration example is valid', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'detect', 'README.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const file = join(tempDir(), 'example.yaml');
    writeFileSync(file, yaml);
    const c = loadDetectConfig(file);
    assert.equal(c.learning.duration, 7 * 86400);
    assert.equal(c.allow.processes.length, 2);
    assert.deepEqual(c.rules.nonstandard_chain.allow_anchor_kinds, ['enterprise_pki']);
  });
});
