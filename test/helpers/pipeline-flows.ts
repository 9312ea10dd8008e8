/**
 * Runs a capture through the real stages (capture → decode → flow with TCP
 * reassembly → TLS parser) and returns every flow with its parser, for tests
 * that compare parser facts with independent tools.
 */
import { openCaptures, forEachPacket, PacketRecord } from '../../src/capture/index.js';
import { Decoder, DECODE_TCP, PacketView } from '../../src/decode/index.js';
import { FlowTable } from '../../src/flow/index.js';
import { createTlsParserFactory, TlsParser } from '../../src/tls/index.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import type { TlsParserOptions } from '../../src/tls/index.js';

export interface PipelineFlow {
  clientPort: number;
  serverPort: number;
  firstMicros: number;
  parser: TlsParser;
}

export async function pipelineFlows(path: string, tls: TlsParserOptions = {}): Promise<PipelineFlow[]> {
  const counters = new AnomalyCounters();
  const reader = await openCaptures([path], counters);
  const decoder = new Decoder(counters);
  const view = new PacketView();
  const pkt = new PacketRecord();
  const out: PipelineFlow[] = [];
  const table = new FlowTable(
    counters,
    (f) => out.push({ clientPort: f.cPort, serverPort: f.sPort, firstMicros: f.firstTs, parser: f.parser as TlsParser }),
    { parserFactory: createTlsParserFactory(counters, tls) },
  );
  await forEachPacket(reader, pkt, (p) => {
    if (decoder.decode(p, view) === DECODE_TCP) table.process(view);
  });
  reader.close();
  decoder.flushFragments();
  table.flush();
  return out.sort((a, b) => a.firstMicros - b.firstMicros);
}
