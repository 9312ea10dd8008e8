/**
 * The offline pipeline: capture → decode → flow (+ TLS parser) → x509 →
 * output. One synchronous loop per buffered chunk of input; the only awaits
 * are between chunks. Work that is asynchronous by nature (an uncached chain
 * verdict) never blocks the packet loop: the flow's event waits for it
 * instead, and every such wait is settled before the run ends.
 */
import { openCaptures, forEachPacket } from '../capture/index.js';
import { PacketRecord } from '../capture/types.js';
import { Decoder, DECODE_TCP, type DecodeStatsSnapshot } from '../decode/index.js';
import { PacketView } from '../decode/packet-view.js';
import { FlowTable, flowId, type Flow, type FlowEndReason, type FlowTableStats, type StreamParserFactory } from '../flow/index.js';
import { createTlsParserFactory, TlsParser, type TlsParserOptions, type TlsSessionFacts } from '../tls/index.js';
import {
  CertificateCache,
  ChainJudge,
  IntermediateCache,
  TrustStore,
  certificateNotVisibleVerdict,
  type CaBundleSpec,
  type CertificateSummary,
  type ChainVerdict,
} from '../x509/index.js';
import { buildFlowEvent, buildX509Event, EventWriter } from '../output/index.js';
import { AnomalyCounters } from '../shared/anomalies.js';

export interface X509Options {
  /** Node's bundled Mozilla roots (default true). */
  defaultTrust?: boolean;
  systemTrust?: boolean;
  bundles?: CaBundleSpec[];
  /** Let intermediates seen on other connections complete a chain (the verdict says so). */
  intermediateCache?: boolean;
  aboutToExpireDays?: number;
}

export interface ReadOptions {
  inputs: string[];
  /** Events destination: a path, or '-' for standard output. */
  output: string;
  maxFlows?: number;
  idleTimeoutSec?: number;
  /** Show a progress bar on standard error (a terminal and a large input). */
  progress?: boolean;
  /** TLS analysis (default on); `false` turns it off. */
  tls?: TlsParserOptions | false;
  /** Certificate analysis (default on); `false` turns it off. */
  x509?: X509Options | false;
  /** A parser factory other than TLS (tests). */
  parserFactory?: StreamParserFactory | null;
}

export interface RunSummary {
  inputs: string[];
  skippedInputs: string[];
  packets: number;
  /** Captured bytes (sum of caplen). */
  bytes: number;
  tcpPackets: number;
  decodeStats: DecodeStatsSnapshot;
  flows: FlowTableStats;
  tlsFlows: number;
  certificates: number;
  verdicts: Record<string, number>;
  eventsWritten: number;
  output: string;
  anomalies: Record<string, number>;
  elapsedSec: number;
  packetsPerSec: number;
  megabytesPerSec: number;
  firstPacketMicros: number;
  lastPacketMicros: number;
}

const TLS13 = 0x0304;

export async function runRead(opts: ReadOptions): Promise<RunSummary> {
  const t0 = process.hrtime.bigint();
  const counters = new AnomalyCounters();
  const reader = await openCaptures(opts.inputs, counters);
  const sensor = new Sensor(opts, counters);
  const pkt = new PacketRecord();
  const progress = opts.progress && reader.totalBytes > 64 * 1024 * 1024 ? new ProgressBar(reader.totalBytes) : null;
  let n = 0;
  await forEachPacket(
    reader,
    pkt,
    progress === null
      ? (p) => sensor.handle(p)
      : (p) => {
          sensor.handle(p);
          if ((++n & 0xffff) === 0) progress.update(reader.bytesRead);
        },
  );
  reader.close();
  await sensor.finish('end_of_input');
  progress?.done();
  const elapsedSec = Number(process.hrtime.bigint() - t0) / 1e9;
  return sensor.summary(opts.inputs, reader.skipped.map((k) => `${k.path} (${k.reason})`), elapsedSec);
}

/**
 * Everything after capture: decode, flows with TLS, certificates, events.
 * `handle()` is the synchronous hot path; `finish()` ends every flow and
 * settles what was still asynchronous. Offline reading and live capture share it.
 */
export class Sensor {
  readonly counters: AnomalyCounters;
  readonly writer: EventWriter;
  readonly decoder: Decoder;
  readonly table: FlowTable;
  private readonly view = new PacketView();
  private readonly x509: CertificateStage | null;
  private readonly pending = new Set<Promise<void>>();
  private readonly output: string;
  packets = 0;
  bytes = 0;
  firstMicros = 0;
  lastMicros = 0;
  tlsFlows = 0;
  readonly verdicts: Record<string, number> = {};

  constructor(opts: Omit<ReadOptions, 'inputs'>, counters: AnomalyCounters) {
    this.counters = counters;
    this.output = opts.output;
    this.writer = new EventWriter(opts.output);
    this.decoder = new Decoder(counters);
    const parserFactory =
      opts.parserFactory !== undefined ? opts.parserFactory : opts.tls === false ? null : createTlsParserFactory(counters, opts.tls ?? {});
    this.x509 = opts.x509 === false ? null : new CertificateStage(opts.x509 ?? {}, counters);
    this.table = new FlowTable(counters, (f) => this.onFlowEnd(f), {
      maxFlows: opts.maxFlows,
      idleTimeoutSec: opts.idleTimeoutSec,
      parserFactory,
    });
  }

  /** One captured frame (synchronous; the frame is not kept). */
  handle(p: PacketRecord): void {
    this.packets++;
    this.bytes += p.caplen;
    if (this.firstMicros === 0) this.firstMicros = p.tsMicros;
    if (p.tsMicros > this.lastMicros) this.lastMicros = p.tsMicros;
    if (this.decoder.decode(p, this.view) === DECODE_TCP) this.table.process(this.view);
  }

  /** End every flow (`reason` for those still open), settle pending work, close the output. */
  async finish(reason: FlowEndReason): Promise<void> {
    this.decoder.flushFragments();
    this.table.flush(reason);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await this.writer.close();
  }

  summary(inputs: string[], skippedInputs: string[], elapsedSec: number): RunSummary {
    return {
      inputs,
      skippedInputs,
      packets: this.packets,
      bytes: this.bytes,
      tcpPackets: this.table.stats.tcpPackets,
      decodeStats: this.decoder.stats.snapshot(),
      flows: this.table.stats,
      tlsFlows: this.tlsFlows,
      certificates: this.x509?.distinct ?? 0,
      verdicts: this.verdicts,
      eventsWritten: this.writer.written,
      output: this.output,
      anomalies: this.counters.toObject(),
      elapsedSec,
      packetsPerSec: this.packets / elapsedSec,
      megabytesPerSec: this.bytes / 1e6 / elapsedSec,
      firstPacketMicros: this.firstMicros,
      lastPacketMicros: this.lastMicros,
    };
  }

  /** A flow ended: its event now, or once its chain verdict is ready. */
  private onFlowEnd(f: Flow): void {
    const writer = this.writer;
    const tls = f.parser instanceof TlsParser ? f.parser.facts : null;
    if (tls === null || !tls.detected || this.x509 === null) {
      if (tls !== null && tls.detected) this.tlsFlows++;
      writer.write(buildFlowEvent(f, { tls }));
      return;
    }
    this.tlsFlows++;
    const x509 = this.x509;
    const id = flowId(f);
    const client = tls.client.certificates.length > 0 ? x509.summaries(tls.client.certificates, f.firstTs, id, writer) : null;
    const server = tls.server.certificates.length > 0 ? x509.summaries(tls.server.certificates, f.firstTs, id, writer) : null;
    const extras = { tls, leaf: server?.[0] ?? null, clientChainSha1: client?.map((c) => c.sha1) };
    const verdict = x509.verdict(tls, server, f.firstTs);
    if (verdict === null || !(verdict instanceof Promise)) {
      if (verdict) this.countVerdict(verdict);
      writer.write(buildFlowEvent(f, { ...extras, verdict }));
      return;
    }
    const p = verdict.then((v) => {
      this.countVerdict(v);
      writer.write(buildFlowEvent(f, { ...extras, verdict: v }));
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private countVerdict(v: ChainVerdict): void {
    this.verdicts[v.validation_status] = (this.verdicts[v.validation_status] ?? 0) + 1;
  }
}

/** Certificates: one x509 event per distinct certificate, one verdict per chain (cached). */
class CertificateStage {
  private readonly certs: CertificateCache;
  private readonly options: X509Options;
  private readonly counters: AnomalyCounters;
  private judgeInstance: ChainJudge | null = null;
  distinct = 0;

  constructor(o: X509Options, counters: AnomalyCounters) {
    this.options = o;
    this.counters = counters;
    this.certs = new CertificateCache({ counters });
  }

  /** The trust store is parsed on the first chain to judge (a run without one pays nothing). */
  private get judge(): ChainJudge {
    if (this.judgeInstance === null) {
      const o = this.options;
      const trust = TrustStore.fromOptions({ defaultTrust: o.defaultTrust, systemTrust: o.systemTrust, bundles: o.bundles });
      this.judgeInstance = new ChainJudge({
        trust,
        certificateCache: this.certs,
        intermediateCache: o.intermediateCache ? new IntermediateCache(1024) : null,
        aboutToExpireDays: o.aboutToExpireDays,
        counters: this.counters,
      });
    }
    return this.judgeInstance;
  }

  summaries(ders: Buffer[], seenMicros: number, flow: string, writer: EventWriter): CertificateSummary[] {
    return ders.map((der) => {
      const { summary, firstSeen } = this.certs.get(der);
      if (firstSeen) {
        this.distinct++;
        writer.write(buildX509Event(summary, seenMicros, flow));
      }
      return summary;
    });
  }

  /** The server chain's verdict: at once when cached, else a promise. */
  verdict(tls: Readonly<TlsSessionFacts>, chain: CertificateSummary[] | null, atMicros: number): ChainVerdict | Promise<ChainVerdict> | null {
    if (chain === null) {
      // TLS 1.3 encrypts the Certificate message: say so rather than leave the fields empty.
      return tls.version === TLS13 ? certificateNotVisibleVerdict({ sni: tls.sni }) : null;
    }
    const ctx = { sni: tls.sni ?? undefined, atMicros };
    const judge = this.judge;
    return judge.lookup(chain, ctx) ?? judge.judge(chain, ctx);
  }
}

class ProgressBar {
  private readonly total: number;
  private lastDraw = 0;
  constructor(total: number) {
    this.total = total;
  }
  update(done: number): void {
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const frac = Math.min(1, done / this.total);
    const width = 30;
    const fill = Math.round(frac * width);
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(1)}%`);
  }
  done(): void {
    process.stderr.write('\r' + ' '.repeat(45) + '\r');
  }
}
