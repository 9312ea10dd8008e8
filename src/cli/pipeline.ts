/**
 * The offline pipeline: capture → decode → flow → output. One synchronous
 * loop per buffered chunk of input; the only awaits are between chunks.
 */
import { openCaptures, forEachPacket } from '../capture/index.js';
import { PacketRecord } from '../capture/types.js';
import { Decoder, DECODE_TCP, type DecodeStatsSnapshot } from '../decode/index.js';
import { PacketView } from '../decode/packet-view.js';
import { FlowTable, type Flow, type FlowTableStats, type StreamParserFactory } from '../flow/index.js';
import { buildFlowEvent, EventWriter } from '../output/index.js';
import { AnomalyCounters } from '../shared/anomalies.js';

export interface ReadOptions {
  inputs: string[];
  /** Events destination: a path, or '-' for standard output. */
  output: string;
  maxFlows?: number;
  idleTimeoutSec?: number;
  /** Show a progress bar on standard error (a terminal and a large input). */
  progress?: boolean;
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
  eventsWritten: number;
  output: string;
  anomalies: Record<string, number>;
  elapsedSec: number;
  packetsPerSec: number;
  megabytesPerSec: number;
  firstPacketMicros: number;
  lastPacketMicros: number;
}

export async function runRead(opts: ReadOptions): Promise<RunSummary> {
  const t0 = process.hrtime.bigint();
  const counters = new AnomalyCounters();
  const reader = await openCaptures(opts.inputs, counters);
  const writer = new EventWriter(opts.output);
  const decoder = new Decoder(counters);
  const view = new PacketView();
  const pkt = new PacketRecord();
  const onEnd = (f: Flow): void => {
    writer.write(buildFlowEvent(f));
  };
  const table = new FlowTable(counters, onEnd, {
    maxFlows: opts.maxFlows,
    idleTimeoutSec: opts.idleTimeoutSec,
    parserFactory: opts.parserFactory ?? null,
  });

  let packets = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  const progress = opts.progress && reader.totalBytes > 64 * 1024 * 1024 ? new ProgressBar(reader.totalBytes) : null;

  await forEachPacket(reader, pkt, (p) => {
    packets++;
    bytes += p.caplen;
    if (first === 0) first = p.tsMicros;
    if (p.tsMicros > last) last = p.tsMicros;
    if (decoder.decode(p, view) === DECODE_TCP) table.process(view);
    if (progress !== null && (packets & 0xffff) === 0) progress.update(reader.bytesRead);
  });
  reader.close();
  decoder.flushFragments();
  table.flush('end_of_input');
  progress?.done();
  await writer.close();

  const elapsedSec = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    inputs: opts.inputs,
    skippedInputs: reader.skipped.map((k) => `${k.path} (${k.reason})`),
    packets,
    bytes,
    tcpPackets: table.stats.tcpPackets,
    decodeStats: decoder.stats.snapshot(),
    flows: table.stats,
    eventsWritten: writer.written,
    output: opts.output,
    anomalies: counters.toObject(),
    elapsedSec,
    packetsPerSec: packets / elapsedSec,
    megabytesPerSec: bytes / 1e6 / elapsedSec,
    firstPacketMicros: first,
    lastPacketMicros: last,
  };
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
