/**
 * `format: ocsf` on a sink: the same run writes ECS to one file and OCSF
 * Network Activity to another; every flow event has its OCSF twin (same id),
 * equal to the mapping of the ECS event, and the other events are skipped
 * and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRead } from '../../../src/cli/pipeline.js';
import { outputConfig } from '../../../src/output/sinks/config.js';
import { toOcsfNetworkActivity } from '../../../src/output/ocsf.js';
import { OCSF_CLASS_UID } from '../../../src/output/ocsf.js';
import type { FlowEvent } from '../../../src/output/schema.js';

const lines = (p: string) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

test('an OCSF file sink beside an ECS one: one Network Activity event per flow event, same ids, x509 skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-ocsf-'));
  try {
    const ecsPath = join(dir, 'ecs.ndjson');
    const ocsfPath = join(dir, 'ocsf.ndjson');
    const sinks = outputConfig({ output: ecsPath, sink: [`file:${ocsfPath}?format=ocsf`] });
    const summary = await runRead({ inputs: ['pcaps/tls12-openssl.pcap', 'pcaps/tls13-upload.pcap'], output: ecsPath, sinks });
    const ecs = lines(ecsPath);
    const ocsf = lines(ocsfPath);
    const flows = ecs.filter((e) => e.event.dataset === 'tlsentry.flow');
    const others = ecs.length - flows.length;
    assert.ok(flows.length >= 2 && others >= 1, `flows ${flows.length}, others ${others}`);
    assert.equal(ocsf.length, flows.length);
    assert.deepEqual(
      ocsf.map((o) => o.metadata.uid),
      flows.map((f) => f.event.id),
    );
    for (let i = 0; i < flows.length; i++) {
      assert.equal(ocsf[i]!.class_uid, OCSF_CLASS_UID);
      // The ECS line carries pino's `ecs` field first; the mapping reads the rest.
      assert.deepEqual(ocsf[i], JSON.parse(JSON.stringify(toOcsfNetworkActivity(flows[i] as FlowEvent))));
    }
    const counters = Object.values(summary.sinks).find((c) => c.skipped !== undefined);
    assert.ok(counters, JSON.stringify(summary.sinks));
    assert.equal(counters.skipped, others);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sink format other than ecs or ocsf is a configuration error naming the key', () => {
  assert.throws(
    () => outputConfig({ sink: ['file:/tmp/x.ndjson?format=cef'] }),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /format: expected ecs or ocsf/.test(e.message),
  );
});
