/**
 * Micro-benchmark of the flow-event writer (src/output/flow-json.ts): the
 * flows of a capture are read once through the whole pipeline, then their
 * events are written again and again into one reused line.
 *
 *   npx tsx bench/flow-json-micro.ts [capture] [rounds]
 *
 * Default capture: the first 53,000 packets of the handshake benchmark capture
 * (bench/.cache/tls-handshakes.pcap, from bench/gen-captures.sh), cut with
 * tcpdump into a temporary file. Prints ns per event (best and median round)
 * for the whole event and for its flow part alone (no TLS fields), and the
 * event size.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRead } from '../src/cli/pipeline.js';
import { FlowTable, type Flow } from '../src/flow/index.js';
import { EventWriter } from '../src/output/writer.js';
import { FlowEventJson, JsonLine } from '../src/output/flow-json.js';
import type { FlowExtras } from '../src/output/schema.js';

const rounds = Number(process.argv[3] ?? 15);
let input = process.argv[2];
let cleanup = (): void => {};
if (input === undefined) {
  const full = 'bench/.cache/tls-handshakes.pcap';
  if (!existsSync(full)) {
    process.stderr.write(`${full} missing: run npm run bench once (or give a capture)\n`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-json-'));
  input = join(dir, 'head.pcap');
  execFileSync('tcpdump', ['-r', full, '-c', '53000', '-w', input], { stdio: 'ignore' });
  cleanup = () => rmSync(dir, { recursive: true, force: true });
}

// Keep every flow with its extras, as the writer received them; the table must
// not reuse the flows and their parsers' facts (FlowTable.release) meanwhile.
const flows: [Flow, FlowExtras][] = [];
const release = FlowTable.prototype.release;
FlowTable.prototype.release = () => false;
const writeFlow = EventWriter.prototype.writeFlow;
EventWriter.prototype.writeFlow = function (this: EventWriter, f: Flow, x: FlowExtras = {}) {
  flows.push([f, { ...x }]);
  writeFlow.call(this, f, x);
};
await runRead({ inputs: [input], output: '/dev/null' });
EventWriter.prototype.writeFlow = writeFlow;
FlowTable.prototype.release = release;
cleanup();

const json = new FlowEventJson();
const line = new JsonLine();
function measure(name: string, extras: (x: FlowExtras) => FlowExtras): void {
  const perEvent: number[] = [];
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    bytes = 0;
    const t0 = process.hrtime.bigint();
    for (const [f, x] of flows) {
      line.reset();
      json.write(f, extras(x), line);
      bytes += line.pos;
    }
    perEvent.push(Number(process.hrtime.bigint() - t0) / flows.length);
  }
  perEvent.sort((a, b) => a - b);
  const best = perEvent[0], median = perEvent[perEvent.length >> 1];
  process.stdout.write(`${name.padEnd(28)} best ${best.toFixed(0).padStart(5)} ns/event, median ${median.toFixed(0).padStart(5)}, ${(bytes / flows.length).toFixed(0)} bytes/event\n`);
}
const NO_TLS: FlowExtras = {};
process.stdout.write(`${flows.length} flow events\n`);
measure('whole event', (x) => x);
measure('flow fields only (no TLS)', () => NO_TLS);
