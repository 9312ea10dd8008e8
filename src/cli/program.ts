import { Command, InvalidArgumentError } from 'commander';
import { runRead } from './pipeline.js';
import { parseCaBundleArg } from '../x509/index.js';
import { anomalyDefinitions } from '../shared/anomalies.js';
import { formatSummary } from './summary.js';
import { addAnalysisOptions, analysisFromFlags } from './analysis.js';

export { addAnalysisOptions, analysisFromFlags } from './analysis.js';

interface ReadFlags {
  output: string;
  maxFlows: number;
  idleTimeout: number;
  progress: boolean;
  quiet?: boolean;
  tls: boolean;
  x509: boolean;
  caBundle: string[];
  defaultTrust: boolean;
  systemTrust?: boolean;
  intermediateCache?: boolean;
  aboutToExpireDays: number;
  ja4sFoxioLicense?: boolean;
  endpoint?: string;
  endpointTokenFile?: string;
  endpointCa?: string;
  endpointTimeout: number;
  config?: string;
  baseline?: string;
  detect?: boolean;
  learn?: boolean;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
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
    .option('-o, --output <file>', 'write events to FILE (NDJSON) instead of standard output', '-')
    .option('--max-flows <n>', 'flows tracked at once before the least recently active is evicted', positiveInt('--max-flows'), 131072)
    .option('--idle-timeout <seconds>', 'end a flow after this many seconds without packets', positiveInt('--idle-timeout'), 300)
    .option('--no-tls', 'no TLS analysis (flows only)')
    .option('--no-x509', 'no certificate analysis')
    .option('--ca-bundle <file[=tag]>', 'also trust the CAs in this PEM file; tag enterprise_pki (default) or tls_inspection (repeatable)', collect, [])
    .option('--no-default-trust', "do not trust Node's bundled Mozilla roots")
    .option('--system-trust', "also trust the operating system's CA store")
    .option('--intermediate-cache', 'let intermediates seen on other connections complete a chain (verdicts say so)')
    .option('--about-to-expire-days <n>', 'about_to_expire anomaly threshold', positiveInt('--about-to-expire-days'), 30)
    .option('--ja4s-foxio-license', 'also compute JA4S: licensed under the FoxIO License 1.1 (internal use only; commercial use needs a licence from FoxIO)')
    .option('--no-progress', 'no progress bar')
    .option('-q, --quiet', 'no summary on standard error');
  addAnalysisOptions(read);
  read.action(async (inputs: string[], o: ReadFlags) => {
      const analysis = analysisFromFlags(o);
      const summary = await runRead({
        ...analysis,
        inputs,
        output: o.output,
        maxFlows: o.maxFlows,
        idleTimeoutSec: o.idleTimeout,
        progress: o.progress && process.stderr.isTTY === true,
        tls: o.tls ? { ja4sFoxioLicense: o.ja4sFoxioLicense === true } : false,
        x509: o.x509
          ? {
              defaultTrust: o.defaultTrust,
              systemTrust: o.systemTrust === true,
              bundles: [...analysis.caBundles, ...o.caBundle.map((a) => parseCaBundleArg(a))],
              intermediateCache: o.intermediateCache === true,
              aboutToExpireDays: o.aboutToExpireDays,
            }
          : false,
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

