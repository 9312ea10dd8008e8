/**
 * The normal path allocates nothing: decoding every crafted frame that is not
 * a fragment, a million times over, triggers no garbage collection and does
 * not grow the heap. (Fragment reassembly copies by design and is left out.)
 */
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { test } from 'node:test';
import { craftCaptures, frameMicros } from '../../scripts/craft-pcaps.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { Decoder, PacketView } from '../../src/decode/index.js';
import { recordIn } from './helpers.js';

test('decoding non-fragment frames allocates nothing', async () => {
  const recs = craftCaptures().flatMap((c) =>
    c.frames
      .filter((f) => !/fragment/.test(f.note))
      .map((f, i) => recordIn(c.linkType, f.data, f.wirelen ?? f.data.length, frameMicros(i))),
  );
  assert.ok(recs.length > 50);
  const dec = new Decoder(new AnomalyCounters());
  const view = new PacketView();
  for (let i = 0; i < 300_000; i++) dec.decode(recs[i % recs.length], view); // JIT warm-up

  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const heapBefore = process.memoryUsage().heapUsed;
  const n = 1_000_000;
  for (let i = 0; i < n; i++) dec.decode(recs[i % recs.length], view);
  const heapAfter = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
  obs.disconnect();
  // One byte per packet would be 1 MB; 16 bytes (a boxed number) would force scavenges.
  assert.equal(gcs, 0, `${gcs} garbage collections during ${n} decodes`);
  assert.ok(heapAfter - heapBefore < 256 * 1024, `heap grew by ${heapAfter - heapBefore} bytes`);
});
