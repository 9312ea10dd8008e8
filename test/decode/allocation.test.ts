/**
 * The normal path allocates nothing: decoding every crafted frame that is not
 * a fragment, a million times over, triggers no garbage collection and does
 * not grow the heap. (Fragment reassembly copies by design and is left out.)
 */
import assert from 'node:assert/strict';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
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

  // Only collections that started inside the loop count: the runner's own work
  // during the wait below may collect too.
  let gcs = 0;
  let t0 = Infinity, t1 = Infinity;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.startTime >= t0 && e.startTime <= t1) gcs++;
  });
  obs.observe({ entryTypes: ['gc'] });
  // New-space bytes, not the whole heap: an optimised function the concurrent compiler
  // finishes during the loop (late under a loaded machine) is installed in code and old
  // space, which is not the decoder allocating; what the loop allocates lands in new space.
  const heapBefore = newSpaceUsed();
  const n = 1_000_000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) dec.decode(recs[i % recs.length], view);
  t1 = performance.now();
  const heapAfter = newSpaceUsed();
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
  obs.disconnect();
  // One byte per packet would be 1 MB; 16 bytes (a boxed number) would force scavenges.
  assert.equal(gcs, 0, `${gcs} garbage collections during ${n} decodes`);
  assert.ok(heapAfter - heapBefore < 256 * 1024, `new space grew by ${heapAfter - heapBefore} bytes`);
});

function newSpaceUsed(): number {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  assert.ok(s, 'V8 reports a new space');
  return s.space_used_size;
}
