// Regenerates pcaps/<capture>.expected.ndjson from the current sensor.
// Review the diff before committing: test/output/golden.test.ts then holds the
// sensor to these files, and cross-checks them against tshark.
import { join } from 'node:path';
import { runRead } from '../src/cli/pipeline.js';
import { goldenCaptures, goldenReadOptions } from '../test/output/golden-list.js';

for (const name of goldenCaptures()) {
  const out = join('pcaps', `${name}.expected.ndjson`);
  const s = await runRead({ ...goldenReadOptions([join('pcaps', name)]), output: out });
  console.log(`${name}: ${s.packets} packets, ${s.eventsWritten} events -> ${out}`);
}
