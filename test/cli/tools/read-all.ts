// Child process for conformance-read.test.ts: reads each capture through the
// whole offline pipeline and prints one JSON line per capture.
import { join } from 'node:path';
import { runRead } from '../../../src/cli/pipeline.js';

const [root, ...pcaps] = process.argv.slice(2);
for (const pcap of pcaps) {
  const s = await runRead({ inputs: [join(root, pcap)], output: '/dev/null' });
  const ds = s.decodeStats as { notDecoded?: Record<string, number> };
  process.stdout.write(
    JSON.stringify({ pcap, packets: s.packets, flows: s.flows.flowsCreated, notDecoded: ds.notDecoded ?? {}, anomalies: s.anomalies }) + '\n',
  );
}
