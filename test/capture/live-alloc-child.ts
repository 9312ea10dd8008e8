/**
 * Child of live-capture.test.ts: capture UDP frames on lo to PORT and count
 * garbage collections while they arrive. Run with a 1 MiB young generation
 * (--max-semi-space-size=1) so that even 16 bytes per frame would force
 * dozens of scavenges over the run.
 *
 *   node --max-semi-space-size=1 --import tsx live-alloc-child.ts PORT FRAMES MODE
 *
 * MODE `inplace` reads the frame as the sensor does (header fields, a few
 * bytes of the buffer); MODE `allocate` also keeps a small object per frame
 * (the control: the measurement must be able to see allocation).
 * Prints `ready` when capturing, then one JSON line when FRAMES have arrived.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { LiveCapture } from '../../src/capture/live.js';
import type { PacketRecord } from '../../src/capture/types.js';

const [port, frames, mode] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const cap = LiveCapture.open({ iface: 'lo', filter: `udp dst port ${port}`, bufferBytes: 256 * 1024 * 1024 });
let n = 0;
let sum = 0;
let kept: { ts: number; len: number } | null = null;
let gcs = 0;
let heapStart = 0;
const obs = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});

function handler(p: PacketRecord): void {
  sum += p.data[p.offset + 23] + p.caplen + (p.tsMicros % 7);
  if (mode === 'allocate') kept = { ts: p.tsMicros, len: p.caplen };
  if (++n === 1000) {
    // Warm-up done: measure from here.
    obs.observe({ entryTypes: ['gc'] });
    heapStart = process.memoryUsage().heapUsed;
  } else if (n === frames) {
    const heapEnd = process.memoryUsage().heapUsed;
    const s = cap.stats();
    cap.close();
    setTimeout(() => {
      obs.disconnect();
      process.stdout.write(JSON.stringify({ frames: n - 1000, gcs, heapGrowth: heapEnd - heapStart, sum, kept: kept !== null, ...s }) + '\n');
      process.exit(0);
    }, 100);
  }
}

cap.start(handler, (m) => {
  process.stderr.write(m + '\n');
  process.exit(1);
});
process.stdout.write('ready\n');
