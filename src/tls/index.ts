/**
 * The TLS stage's public face: a parser factory for TCP reassembly, the
 * session facts the output stage reads, and the pure pieces (hello parsers,
 * fingerprints) for anyone who has hello bytes in hand.
 */
import type { FlowFacts, StreamParserFactory } from '../flow/stream-parser.js';
import type { AnomalyCounters } from '../shared/anomalies.js';
import { resolveOptions, TlsParser, type TlsParserOptions } from './parser.js';

export { TlsParser, type TlsParserOptions } from './parser.js';
export type { TlsAlert, TlsSessionFacts, TlsSideFacts } from './facts.js';
export type { ClientHello, EchOffer } from './client-hello.js';
export { parseClientHello, parseSslv2ClientHello } from './client-hello.js';
export type { ServerHello } from './server-hello.js';
export { parseServerHello, parseSslv2ServerHello } from './server-hello.js';
export { parseCertificateList } from './certificate.js';
export type { ExtensionRef, ParseResult } from './result.js';
export type { PlaintextPrefix } from './prefix.js';
export { ja3, ja3s, ja4, ja4o, ja4s, type Fingerprint, type Ja4 } from './fingerprints.js';
export { alertName, ecsVersion, isGrease, versionName } from './constants.js';
export { cipherSuiteName } from './cipher-names.js';

/**
 * A factory that gives every TCP flow a `TlsParser`: TLS is found by content,
 * on any port; a flow whose first bytes are neither TLS nor a known plaintext
 * prefix stops costing anything at once (`wantsData()` turns false).
 *
 * `counters` are the run's anomaly counters; each session also lists the
 * anomaly names it saw in `facts.anomalies`. Call `parser.finish()` (or
 * `onEnd()`) when the flow ends, then read `parser.facts`; `release()` once
 * done with them lets the factory reuse the parser and its facts.
 */
export function createTlsParserFactory(counters: AnomalyCounters, options: TlsParserOptions = {}): StreamParserFactory {
  const resolved = resolveOptions(options);
  // Parsers released by the flow table (StreamParser.release), reused for new flows.
  const pool: TlsParser[] = [];
  return (flow: FlowFacts) => {
    const p = pool.pop();
    if (p === undefined) return new TlsParser(counters, resolved, flow, pool);
    p.reuse(flow);
    return p;
  };
}
