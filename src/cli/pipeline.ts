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
import { FlowTable, flowId, flowCommunityId, addressText, FLOW_CLOSED, type Flow, type FlowEndReason, type FlowTableStats, type StreamParserFactory } from '../flow/index.js';
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
import { addEnrichment, buildAlertEvent, buildFlowEvent, buildX509Event, EventWriter, isoTime, type FlowExtras } from '../output/index.js';
import { Enricher, type EnricherOptions, type EnricherStats, type Outcome } from '../enrich/index.js';
// Detection pulls in zod, yaml, SQLite and PostgreSQL clients (~140 ms to load): only when asked for.
import type { Alert, Detector, DetectConfig } from '../detect/index.js';
import type { AttributionQuery } from '../shared/endpoint-api.js';
import { buildInterimEvent } from '../output/interim.js';
import type { OutputConfig } from '../output/sinks/config.js';
import type { SinkCounters } from '../output/sinks/types.js';
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
  /** Events destination: a path, or '-' for standard output (when `sinks` is not given). */
  output: string;
  /** Every sink (files, standard output, syslog, HEC, Elasticsearch) with spool and queue settings; wins over `output`. */
  sinks?: OutputConfig;
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
  /** Append to the output file instead of truncating it (live capture). */
  appendOutput?: boolean;
  /** Output files are written in the background while packets are read (`runRead` turns it on). */
  writeBehind?: boolean;
  /** Ask an endpoint agent which process opened each flow (issue 5). */
  endpoint?: EnricherOptions | null;
  /** AN0759 detection (issue 6): configuration, baseline store, learn mode. */
  detect?: { config: DetectConfig; baseline?: string; learn?: boolean } | null;
  /** An enricher built by the caller (tests); otherwise one is made from `endpoint`. */
  enricher?: Enricher | null;
  /** How long, at the end of input, to wait for the agent's last answers. */
  enrichmentDrainMs?: number;
  /** AN0759 detection against the per-process baseline (issue 6). */
  detector?: Detector | null;
  /** This sensor's host name (the fallback host key for a local agent). */
  sensorHost?: string;
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
  alerts: number;
  enrichment: Record<string, number> | null;
  verdicts: Record<string, number>;
  eventsWritten: number;
  output: string;
  /** Counters of each sink (files: lines written; network sinks: queued, delivered, spooled, …). */
  sinks: Record<string, SinkCounters>;
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
  const detect = opts.detect;
  const detector =
    opts.detector ??
    (detect ? await (await import('../detect/index.js')).Detector.open(detect.config, { baseline: detect.baseline, learn: detect.learn, counters }) : null);
  const sensor = new Sensor({ writeBehind: true, ...opts, detector }, counters);
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
  private readonly enricher: Enricher | null;
  private readonly enrichmentDrainMs: number;
  private readonly detector: Detector | null;
  private readonly sensorHost: string | undefined;
  alerts = 0;
  private readonly enrichStatuses: Record<string, number> = {};
  /** Live capture: the last interim interval reported per open flow. */
  private readonly interimDone = new WeakMap<Flow, number>();
  interimEvents = 0;
  packets = 0;
  bytes = 0;
  firstMicros = 0;
  lastMicros = 0;
  tlsFlows = 0;
  readonly verdicts: Record<string, number> = {};

  constructor(opts: Omit<ReadOptions, 'inputs'>, counters: AnomalyCounters) {
    this.counters = counters;
    this.writer = new EventWriter(opts.sinks ?? opts.output, { append: opts.appendOutput === true, writeBehind: opts.writeBehind === true, counters });
    this.output = this.writer.target;
    this.decoder = new Decoder(counters);
    const parserFactory =
      opts.parserFactory !== undefined ? opts.parserFactory : opts.tls === false ? null : createTlsParserFactory(counters, opts.tls ?? {});
    this.x509 = opts.x509 === false ? null : new CertificateStage(opts.x509 ?? {}, counters);
    this.enricher = opts.enricher ?? (opts.endpoint ? new Enricher(opts.endpoint, counters) : null);
    this.enrichmentDrainMs = opts.enrichmentDrainMs ?? 10_000;
    this.detector = opts.detector ?? null;
    this.sensorHost = opts.sensorHost;
    const enricher = this.enricher;
    this.table = new FlowTable(counters, (f) => this.onFlowEnd(f), {
      maxFlows: opts.maxFlows,
      idleTimeoutSec: opts.idleTimeoutSec,
      parserFactory,
      // Ask the agent at the flow's first packet: short connections vanish from socket tables.
      onStart: enricher === null ? null : (f) => enricher.request(attributionQuery(f)),
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

  /**
   * End every flow (`reason` for those still open), settle pending work, close
   * the output. `beforeClose` may write last events (live capture: final stats).
   */
  async finish(reason: FlowEndReason, beforeClose?: () => void): Promise<void> {
    this.decoder.flushFragments();
    this.table.flush(reason);
    if (this.enricher !== null) await this.enricher.drain(this.enrichmentDrainMs);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.detector !== null) {
      for (const a of this.detector.drainAlerts()) this.writeAlert(a);
      await this.detector.close();
    }
    this.enricher?.close();
    beforeClose?.();
    await this.writer.close();
  }

  /**
   * Live capture: an interim event (`output/interim.ts`) for every open flow
   * whose age has reached (reports so far + 1) × `intervalMicros`: about 1×,
   * 2×, … the interval after its start. Returns how many were written.
   */
  interim(nowMicros: number, intervalMicros: number): number {
    let n = 0;
    for (const f of this.table.activeFlows()) {
      if (f.state === FLOW_CLOSED) continue;
      const done = this.interimDone.get(f) ?? 0;
      if (nowMicros - f.firstTs < (done + 1) * intervalMicros) continue;
      this.interimDone.set(f, done + 1);
      this.writer.write(buildInterimEvent(f, this.interimExtras(f), nowMicros, done + 1));
      n++;
    }
    this.interimEvents += n;
    return n;
  }

  /** Reopen the output file (SIGHUP after logrotate). */
  reopenOutput(): void {
    this.writer.reopen();
  }

  /** The endpoint enricher's counters and latency (live metrics), or null without one. */
  enrichmentStats(): EnricherStats | null {
    return this.enricher?.stats ?? null;
  }

  /**
   * TLS facts and the server's leaf certificate so far. A certificate seen for
   * the first time gets its x509 event now. No chain verdict: judging is
   * asynchronous and counts anomalies per call; the flow's final event has it.
   */
  private interimExtras(f: Flow): FlowExtras {
    const tls = f.parser instanceof TlsParser ? f.parser.facts : null;
    if (tls === null || !tls.detected || this.x509 === null || tls.server.certificates.length === 0) return { tls };
    const server = this.x509.summaries(tls.server.certificates, f.firstTs, f, this.writer, 'server');
    return { tls, leaf: server[0] ?? null };
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
      alerts: this.alerts,
      enrichment: this.enricher === null ? null : this.enrichStatuses,
      verdicts: this.verdicts,
      eventsWritten: this.writer.written,
      output: this.output,
      sinks: this.writer.sinkCounters(),
      anomalies: this.counters.toObject(),
      elapsedSec,
      packetsPerSec: this.packets / elapsedSec,
      megabytesPerSec: this.bytes / 1e6 / elapsedSec,
      firstPacketMicros: this.firstMicros,
      lastPacketMicros: this.lastMicros,
    };
  }

  /** A flow ended: its event now, or once its chain verdict is ready. */
  /**
   * A flow ended. Its event (and any alert) is written now, or once what is
   * still asynchronous — an uncached chain verdict, the agent's answer — has
   * settled; the packet loop never waits for either.
   */
  private onFlowEnd(f: Flow): void {
    const tls = f.parser instanceof TlsParser ? f.parser.facts : null;
    const tlsSeen = tls !== null && tls.detected;
    if (tlsSeen) this.tlsFlows++;
    // One extras object per flow, of one shape; `complete` puts the verdict in it.
    const extras: FlowExtras = { tls, verdict: null, leaf: null, clientChainSha1: undefined };
    let verdict: ChainVerdict | Promise<ChainVerdict> | null = null;
    if (tlsSeen && this.x509 !== null) {
      const x509 = this.x509;
      // Certificates are seen, and judged, at the time of the packet that carried them.
      const cAt = tls.client.certificatesMicros ?? f.firstTs, sAt = tls.server.certificatesMicros ?? f.firstTs;
      const client = tls.client.certificates.length > 0 ? x509.summaries(tls.client.certificates, cAt, f, this.writer, 'client') : null;
      const server = tls.server.certificates.length > 0 ? x509.summaries(tls.server.certificates, sAt, f, this.writer, 'server') : null;
      if (server !== null && server.length > 0) extras.leaf = server[0];
      if (client !== null) extras.clientChainSha1 = client.map(sha1Of);
      verdict = x509.verdict(tls, server, sAt);
    }
    const qid = this.enricher !== null ? f.externalId : null;
    const outcome = qid !== null ? this.enricher!.outcome(qid) : undefined;
    const waitEnrich = qid !== null && outcome === undefined;
    if (!(verdict instanceof Promise) && !waitEnrich) {
      this.complete(f, extras, verdict, qid, outcome);
      return;
    }
    const p = Promise.all([verdict, waitEnrich ? this.enricher!.whenSettled(qid!) : null]).then(([v]) =>
      this.complete(f, extras, v, qid, qid !== null ? this.enricher!.outcome(qid) : undefined),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * Write the flow's event and, when detection is on, judge it. `extras` is
   * the flow's own (the verdict is put in it). Then nothing refers to the
   * flow any more (events are serialised when written; the detector copies
   * what it keeps): the table may reuse it.
   */
  private complete(f: Flow, extras: FlowExtras, verdict: ChainVerdict | null, qid: string | null, outcome: Outcome | undefined): void {
    try {
      this.report(f, extras, verdict, qid, outcome);
    } finally {
      this.interimDone.delete(f);
      this.table.release(f);
    }
  }

  private report(f: Flow, extras: FlowExtras, verdict: ChainVerdict | null, qid: string | null, outcome: Outcome | undefined): void {
    if (verdict !== null) {
      this.countVerdict(verdict);
      extras.verdict = verdict;
    }
    let enrichment: Outcome | null = null;
    if (qid !== null) {
      enrichment = outcome ?? { status: 'timeout', result: null };
      this.enricher!.forget(qid);
      this.enrichStatuses[enrichment.status] = (this.enrichStatuses[enrichment.status] ?? 0) + 1;
      const ev = buildFlowEvent(f, extras);
      addEnrichment(ev, enrichment.status, enrichment.result);
      this.writer.write(ev);
    } else {
      this.writer.writeFlow(f, extras);
    }
    if (this.detector === null) return;
    const alert = this.detector.observe({
      sensorHost: this.sensorHost,
      flow: {
        id: flowId(f),
        communityId: flowCommunityId(f),
        startMicros: f.firstTs,
        endMicros: f.lastTs,
        srcIp: addressText(f.ipVersion, f.c0, f.c1, f.c2, f.c3),
        srcPort: f.cPort,
        dstIp: addressText(f.ipVersion, f.s0, f.s1, f.s2, f.s3),
        dstPort: f.sPort,
        payloadOut: f.toServer.maxRel,
        payloadIn: f.toClient.maxRel,
        pcr: f.pcr(),
      },
      tls: extras.tls && extras.tls.detected ? extras.tls : null,
      verdict,
      enrichment: enrichment ?? { status: 'disabled', result: null },
    });
    if (alert !== null) this.writeAlert(alert);
  }

  private writeAlert(a: Alert): void {
    this.alerts++;
    this.writer.write(buildAlertEvent(a));
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

  /**
   * `side`: who presented the chain (the x509 event puts a new certificate under `tls.server` or `tls.client`).
   * `flow`'s id is made only for a certificate seen for the first time.
   */
  summaries(ders: Buffer[], seenMicros: number, flow: Flow, writer: EventWriter, side: 'server' | 'client'): CertificateSummary[] {
    const out: CertificateSummary[] = new Array(ders.length);
    for (let i = 0; i < ders.length; i++) {
      const { summary, firstSeen } = this.certs.get(ders[i]);
      if (firstSeen) {
        this.distinct++;
        writer.write(buildX509Event(summary, seenMicros, flowId(flow), side));
      }
      out[i] = summary;
    }
    return out;
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

function sha1Of(c: CertificateSummary): string {
  return c.sha1;
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

/** The endpoint API query for a flow, keyed by its id (kept on the flow: a later flip must not change it). */
function attributionQuery(f: Flow): AttributionQuery {
  const id = flowId(f);
  f.externalId = id;
  return {
    id,
    proto: 'tcp',
    src_ip: addressText(f.ipVersion, f.c0, f.c1, f.c2, f.c3),
    src_port: f.cPort,
    dst_ip: addressText(f.ipVersion, f.s0, f.s1, f.s2, f.s3),
    dst_port: f.sPort,
    ts: isoTime(f.firstTs),
  };
}
