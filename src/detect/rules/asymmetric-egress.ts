/**
 * asymmetric_egress: the client sent much more than it received.
 * PCR = (out − in) / (out + in) (−1 pure download … +1 pure upload;
 * browsing sits near −0.5, uploads and exfiltration above +0.4). Counted on
 * TLS application-data records when the TLS stage saw them (handshakes and
 * certificates do not count), else on TCP payload bytes.
 */
import type { Rule } from './context.js';

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const asymmetricEgress: Rule = {
  name: 'asymmetric_egress',
  evaluate({ input, history, config }) {
    const cfg = config.rules.asymmetric_egress;
    const { flow, tls } = input;
    let out: number, inn: number, basis: 'tls_application_data' | 'tcp_payload';
    if (tls && tls.detected && tls.client.applicationDataBytes + tls.server.applicationDataBytes > 0) {
      // `client`/`server` are TLS roles; the flow's originator is normally the TLS client.
      const originatorIsClient = tls.clientDirection === 0;
      out = originatorIsClient ? tls.client.applicationDataBytes : tls.server.applicationDataBytes;
      inn = originatorIsClient ? tls.server.applicationDataBytes : tls.client.applicationDataBytes;
      basis = 'tls_application_data';
    } else {
      out = flow.payloadOut;
      inn = flow.payloadIn;
      basis = 'tcp_payload';
    }
    if (!(out + inn > 0)) return null;
    const pcr = (out - inn) / (out + inn);
    if (pcr < cfg.min_pcr || out < cfg.min_bytes_out) return null;
    const h = history?.host;
    const identityPcr = h && h.bytesOut + h.bytesIn > 0 ? round((h.bytesOut - h.bytesIn) / (h.bytesOut + h.bytesIn)) : null;
    return {
      name: 'asymmetric_egress',
      weight: cfg.weight,
      summary: `sent ${out} bytes and received ${inn} (${basis === 'tls_application_data' ? 'TLS application data' : 'TCP payload'}): PCR ${round(pcr, 2)} ≥ ${cfg.min_pcr} with ≥ ${cfg.min_bytes_out} bytes out`,
      evidence: {
        basis,
        bytes_out: out,
        bytes_in: inn,
        pcr: round(pcr),
        min_pcr: cfg.min_pcr,
        min_bytes_out: cfg.min_bytes_out,
        payload_bytes_out: flow.payloadOut,
        payload_bytes_in: flow.payloadIn,
        payload_pcr: round(flow.pcr),
        tls_application_data_records_out: tls ? (tls.clientDirection === 0 ? tls.client : tls.server).applicationDataRecords : null,
        process_baseline_pcr: identityPcr,
        process_baseline_bytes_out: h?.bytesOut ?? null,
        process_baseline_bytes_in: h?.bytesIn ?? null,
      },
    };
  },
};
