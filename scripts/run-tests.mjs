#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner through tsx.
// Node 20's --test takes no glob, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//
// Every event the tests produce is then held to the published JSON Schemas:
// TLSENTRY_EVENT_TAP makes each event writer (and every tlsentry process the
// tests start) append its NDJSON lines to a file in a fresh directory, and
// each line there is validated (scripts/event-schemas.mjs). An invalid event
// fails the run even when every test passed.
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { summaryLine, validateDir } from './event-schemas.mjs';

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('test', []).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const tap = mkdtempSync(join(tmpdir(), 'tlsentry-event-tap-'));
// Like /tmp: a sensor that has dropped privileges (`tlsentry live` as nobody) must still
// be able to add its own file here.
chmodSync(tap, 0o1777);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TLSENTRY_EVENT_TAP: tap },
});
let status = r.status ?? 1;

const v = await validateDir(tap);
console.log(summaryLine(v));
if (v.invalidCount > 0) {
  console.error(`invalid events (the first ${v.invalid.length} of ${v.invalidCount}); the tap is kept in ${tap}:`);
  for (const e of v.invalid) {
    console.error(`  ${e.where} (${e.kind ?? 'no schema'}):`);
    for (const p of e.problems) console.error(`    ${p}`);
    console.error(`    ${e.line}${e.line.length >= 300 ? '…' : ''}`);
  }
  if (status === 0) status = 1;
} else {
  rmSync(tap, { recursive: true, force: true });
}
process.exit(status);
