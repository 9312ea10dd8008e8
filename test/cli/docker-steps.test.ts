/**
 * The container build, as far as this machine allows (no Docker engine): the
 * commands the Dockerfile runs, in a clean directory, must succeed — build
 * with npm ci and tsc, production dependencies with the libpcap binding, and
 * the image's command run as an unprivileged user (scripts/docker-steps.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { missingTools } from '../helpers/tools.js';

test('the Dockerfile steps succeed in a clean directory', { timeout: 600_000 }, (t) => {
  const missing = missingTools('git');
  if (missing) return t.skip(missing);
  const r = spawnSync('bash', ['scripts/docker-steps.sh'], { encoding: 'utf8', timeout: 540_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `docker-steps.sh failed:\n${(r.stdout + r.stderr).slice(-4000)}`);
  assert.match(r.stdout + r.stderr, /== runtime/);
});
