/**
 * nonstandard_chain: the certificate verdict is not `ok` (self-signed,
 * untrusted root, expired, hostname mismatch, …) unless the chain reached
 * an allow-listed anchor: an anchor kind in `allow_anchor_kinds` (the x509
 * trust store's enterprise_pki / tls_inspection bundles) or an anchor in
 * `allow.ca_anchors`. TLS 1.3 hides certificates: `certificate not visible`
 * is no anomaly by itself, nor is `no certificate` on a resumed session.
 */
import type { Rule } from './context.js';

export const nonstandardChain: Rule = {
  name: 'nonstandard_chain',
  evaluate({ input, view, config }) {
    const cfg = config.rules.nonstandard_chain;
    const v = input.verdict;
    if (!v || v.validation_status === 'ok' || v.validation_status === 'certificate not visible') return null;
    if (v.validation_status === 'no certificate' && input.tls?.resumed) return null;
    const a = v.anchor;
    if (a) {
      if (cfg.allow_anchor_kinds.includes(a.kind)) return null;
      const sha = a.sha256.toLowerCase();
      for (const x of config.allow.ca_anchors) {
        if (x.sha256 !== undefined && x.sha256.toLowerCase() !== sha) continue;
        if (x.subject !== undefined && x.subject !== a.subject) continue;
        return null;
      }
    }
    const detail = v.anomalies.length ? ` (${v.anomalies.join(', ')})` : '';
    return {
      name: 'nonstandard_chain',
      weight: cfg.weight,
      summary: `certificate chain for ${view.sni ?? view.destination}: ${v.validation_status}${detail}${a ? `, anchor ${a.kind} "${a.subject}" not allow-listed` : ''}`,
      evidence: {
        validation_status: v.validation_status,
        status_code: v.status_code,
        error_depth: v.error_depth,
        anomalies: [...v.anomalies],
        certificate_anomalies: [...v.certificate_anomalies],
        anchor: a ? { kind: a.kind, subject: a.subject, sha256: a.sha256 } : null,
        leaf_sha256: v.chain_sha256[0] ?? null,
        chain_length: v.chain_sha256.length,
        sni: view.sni,
        sni_matches_cert: v.sni_matches_cert,
        allow_anchor_kinds: [...cfg.allow_anchor_kinds],
      },
    };
  },
};
