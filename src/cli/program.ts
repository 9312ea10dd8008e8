import { Command, InvalidArgumentError } from 'commander';
import { runRead } from './pipeline.js';
import { formatSummary } from './summary.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('tlsentry')
    .description('Passive TLS sensor: flows, TLS handshakes and certificate verdicts as ECS events (MITRE AN0759)')
    .version('0.1.0');

  program
    .command('read')
    .description('analyse capture files (pcap, pcapng, gzip; a directory; - for standard input), merged in time order')
    .argument('<inputs...>', 'capture files, directories, or - for standard input')
    .option('-o, --output <file>', 'write events to FILE (NDJSON) instead of standard output', '-')
    .option('--max-flows <n>', 'flows tracked at once before the least recently active is evicted', positiveInt('--max-flows'), 131072)
    .option('--idle-timeout <seconds>', 'end a flow after this many seconds without packets', positiveInt('--idle-timeout'), 300)
    .option('--no-progress', 'no progress bar')
    .option('-q, --quiet', 'no summary on standard error')
    .action(async (inputs: string[], o: { output: string; maxFlows: number; idleTimeout: number; progress: boolean; quiet?: boolean }) => {
      const summary = await runRead({
        inputs,
        output: o.output,
        maxFlows: o.maxFlows,
        idleTimeoutSec: o.idleTimeout,
        progress: o.progress && process.stderr.isTTY === true,
      });
      if (!o.quiet) process.stderr.write(formatSummary(summary) + '\n');
    });
  return program;
}

