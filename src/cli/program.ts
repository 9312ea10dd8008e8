import { Command } from 'commander';
import { runRead } from './pipeline.js';
import { anomalyDefinitions } from '../shared/anomalies.js';
import { formatSummary } from './summary.js';
import { addSensorOptions, analysisFromFlags, sensorOptionsFromFlags, sinksFromFlags, type SensorFlags } from './analysis.js';

interface ReadFlags extends SensorFlags {
  output?: string;
  progress: boolean;
  quiet?: boolean;
}

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command();
  program
    .name('tlsentry')
    .description('Passive TLS sensor: flows, TLS handshakes and certificate verdicts as ECS events (MITRE AN0759)')
    .version('0.1.0');

  const read = program
    .command('read')
    .description('analyse capture files (pcap, pcapng, gzip; a directory; - for standard input), merged in time order')
    .argument('<inputs...>', 'capture files, directories, or - for standard input')
    .option('-o, --output <file>', 'write events to FILE (NDJSON) instead of standard output (- for standard output)')
    .option('--no-progress', 'no progress bar')
    .option('-q, --quiet', 'no summary on standard error');
  addSensorOptions(read);
  read.action(async (inputs: string[], o: ReadFlags) => {
      const summary = await runRead({
        ...sensorOptionsFromFlags(o),
        ...sinksFromFlags(o),
        inputs,
        progress: o.progress && process.stderr.isTTY === true,
      });
      if (!o.quiet) process.stderr.write(formatSummary(summary) + '\n');
    });
  program
    .command('anomalies')
    .description('list every named anomaly counter the sensor can report, with what it means')
    .action(() => {
      for (const d of [...anomalyDefinitions()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        process.stdout.write(`${d.name.padEnd(46)} ${d.description}\n`);
      }
    });
  // The other commands load heavy modules (libpcap worker, metrics, the agent, SQLite and
  // PostgreSQL clients): register only the one asked for, or all of them for help.
  const sub = argv[2];
  const all = sub === undefined || sub === 'help' || sub.startsWith('-');
  if (all || sub === 'live') (await import('./live.js')).liveCommand(program);
  if (all || sub === 'agent') (await import('../agent/cli.js')).agentCommand(program);
  if (all || sub === 'baseline') {
    (await import('../detect/index.js')).baselineCommand(program, {
      // `baseline build FILES…`: the captures through the whole pipeline in learn mode.
      build: async (req) => {
        const analysis = analysisFromFlags({
          endpoint: req.flags.endpoint as string | undefined,
          endpointTokenFile: req.flags.endpointTokenFile as string | undefined,
        });
        const summary = await runRead({
          inputs: req.inputs,
          output: '/dev/null',
          endpoint: analysis.endpoint,
          detect: { config: req.config, baseline: req.baseline, learn: true },
        });
        process.stderr.write(formatSummary(summary) + '\n');
      },
    });
  }
  return program;
}

