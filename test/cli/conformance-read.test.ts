import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const SHARED = join(process.cwd(), '..', 'shared', 'conformance');

/**
 * Every public capture in ../shared/conformance is read to the end, pcap and
 * pcapng alike, with no crash and no hang. The work runs in a child process
 * (tools/read-all.ts) so a hang is caught by a timeout, not by waiting forever.
 */
test('every conformance capture is read to the end without a crash or hang', { timeout: 300_000 }, (t) => {
  if (!existsSync(join(SHARED, 'index.json'))) {
    t.skip(`../shared/conformance is absent (${SHARED})`);
    return;
  }
  const index = JSON.parse(readFileSync(join(SHARED, 'index.json'), 'utf8')) as { pcap: string; packets: number; format: string }[];
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/cli/tools/read-all.ts', SHARED, ...index.map((e) => e.pcap)], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.error, undefined, `child failed: ${r.error?.message}; stderr: ${r.stderr}`);
  assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
  const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { pcap: string; packets: number; flows: number; notDecoded: Record<string, number>; anomalies: Record<string, number> });
  assert.equal(results.length, index.length, 'one result per capture');
  const notDecoded: Record<string, string[]> = {};
  let mismatched = 0;
  for (const [i, res] of results.entries()) {
    const want = index[i];
    assert.equal(res.pcap, want.pcap);
    // tshark's packet count (index.json) equals ours: nothing dropped silently.
    if (res.packets !== want.packets) {
      mismatched++;
      t.diagnostic(`${res.pcap}: ${res.packets} packets read, index says ${want.packets}`);
    }
    for (const k of Object.keys(res.notDecoded)) (notDecoded[k] ??= []).push(res.pcap);
  }
  const lines = Object.entries(notDecoded).map(([k, v]) => `${k}: ${v.length} capture(s), e.g. ${v.slice(0, 3).join(', ')}`);
  t.diagnostic(`not decoded yet: ${lines.length === 0 ? 'nothing' : '\n  ' + lines.join('\n  ')}`);
  console.log(`# conformance read: ${results.length} captures, ${results.reduce((a, r) => a + r.packets, 0)} packets, ${results.reduce((a, r) => a + r.flows, 0)} TCP flows`);
  console.log(`# not decoded yet: ${lines.length === 0 ? 'nothing' : '\n#   ' + lines.join('\n#   ')}`);
  assert.equal(mismatched, 0, 'packet counts equal tshark\'s for every capture');
});
