import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runRead } from '../../src/cli/pipeline.js';
import type { FlowEvent } from '../../src/output/schema.js';
import { goldenCaptures, goldenReadOptions } from './golden-list.js';
import { isoToMicros, missingTools, tempDir, tsharkStreams } from '../helpers/tools.js';

function readEvents(path: string): FlowEvent[] {
  const text = readFileSync(path, 'utf8').trim();
  return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as FlowEvent);
}

const captures = goldenCaptures();

test('pcaps/ has golden captures', () => {
  assert.ok(captures.length >= 5, `found ${captures.length}`);
});

for (const name of captures) {
  const expectedPath = join('pcaps', `${name}.expected.ndjson`);

  test(`golden: ${name} gives its expected events`, async () => {
    assert.ok(existsSync(expectedPath), `${expectedPath} exists (npx tsx scripts/update-golden.ts)`);
    const out = join(tempDir(), 'events.ndjson');
    await runRead({ ...goldenReadOptions([join('pcaps', name)]), output: out });
    assert.deepEqual(readEvents(out), readEvents(expectedPath));
  });

  test(`golden: ${name} expected flows agree with tshark`, (t) => {
    const missing = missingTools('tshark');
    if (missing) return t.skip(missing);
    if (!existsSync(expectedPath)) return t.skip('no expected file');
    const flows = readEvents(expectedPath).filter((e) => e.event.dataset === 'tlsentry.flow');
    const streams = tsharkStreams(join('pcaps', name));
    assert.equal(flows.length, streams.length, 'one flow per tshark TCP stream');
    for (const s of streams) {
      const e = flows.find(
        (f) => f.source.ip === s.clientIp && f.source.port === s.clientPort && f.destination.port === s.serverPort &&
          isoToMicros(f['@timestamp']) === s.firstMicros,
      );
      assert.ok(e, `flow for tshark stream ${s.stream}`);
      assert.equal(e.tlsentry.flow.source_payload_bytes, s.clientPayload, `stream ${s.stream} client payload`);
      assert.equal(e.tlsentry.flow.destination_payload_bytes, s.serverPayload, `stream ${s.stream} server payload`);
      assert.equal(e.source.packets, s.clientPackets, `stream ${s.stream} client packets`);
      assert.equal(e.destination.packets, s.serverPackets, `stream ${s.stream} server packets`);
    }
  });
}

const isX509 = (e: FlowEvent) => (e.event.dataset as string) === 'tlsentry.x509';
const withCertificates = captures.filter((n) => {
  const p = join('pcaps', `${n}.expected.ndjson`);
  return existsSync(p) && readEvents(p).some(isX509);
});

test('golden captures with certificate events', () => {
  assert.ok(withCertificates.length >= 4, withCertificates.join(', '));
});

for (const name of withCertificates) {
  const expectedPath = join('pcaps', `${name}.expected.ndjson`);
  test(`golden: ${name} certificate events are stamped with the Certificate message's packet time (tshark)`, (t) => {
    const missing = missingTools('tshark');
    if (missing) return t.skip(missing);
    const x509 = readEvents(expectedPath).filter(isX509);
    const out = execFileSync('tshark', ['-n', '-r', join('pcaps', name), '-Y', 'tls.handshake.type == 11', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
    const frames = new Set(
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [sec, frac = ''] = l.trim().split('.');
          return Number(sec) * 1e6 + Number((frac + '000000').slice(0, 6));
        }),
    );
    for (const e of x509) assert.ok(frames.has(isoToMicros(e['@timestamp'])), `${e['@timestamp']} is the time of a Certificate frame (${[...frames].join(', ')})`);
  });
}
