/**
 * new_tls_process: this process identity has never (or at most
 * `max_prior_tls_flows` times) initiated TLS on this host. The evidence says
 * whether it is new everywhere in the baseline (`all_hosts`), new here but
 * known on other hosts (`host`), or a new hash of an unsigned image whose
 * path this host knows for TLS under another hash (`changed_binary`: an
 * update in place). A new or dropped signer on a known path is no update:
 * it counts as new, and the evidence says the path was known.
 */
import type { Rule } from './context.js';
import { isoMicros } from './context.js';

export const newTlsProcess: Rule = {
  name: 'new_tls_process',
  evaluate({ view, history, config }) {
    const cfg = config.rules.new_tls_process;
    if (!view.isTls || !view.identity || !history) return null;
    const max = cfg.max_prior_tls_flows;
    const onHost = history.host?.tlsFlows ?? 0;
    if (onHost > max) return null;
    const otherTls = history.fleet.tlsFlows - onHost;
    const otherHosts = history.fleet.hostsWithTls - (onHost > 0 ? 1 : 0);
    const id = view.identity;
    const evidence = {
      identity: id.key,
      identity_basis: id.basis,
      executable: id.executable,
      prior_tls_flows_on_host: onHost,
      prior_flows_on_host: history.host?.flows ?? 0,
      first_seen_on_host: isoMicros(history.host?.firstSeen ?? null),
      prior_tls_flows_other_hosts: otherTls,
      other_hosts_with_tls: otherHosts,
      same_path_other_identities_tls_flows: history.samePathOnHost.tlsFlows,
      max_prior_tls_flows: max,
    };
    const times = onHost === 0 ? 'never initiated TLS' : `initiated TLS only ${onHost} time${onHost === 1 ? '' : 's'} (≤ ${max})`;
    if (otherTls > max) {
      return {
        name: 'new_tls_process',
        weight: cfg.weight_host_only,
        summary: `${id.executable} ${times} on ${view.host}, but is known for TLS on ${otherHosts} other host${otherHosts === 1 ? '' : 's'}`,
        evidence: { scope: 'host', ...evidence },
      };
    }
    if (id.basis !== 'signer' && history.samePathOnHost.unsignedTlsFlows > max) {
      return {
        name: 'new_tls_process',
        weight: cfg.weight_changed_binary,
        summary: `${id.executable} with this hash ${times} on ${view.host}; the same unsigned path with another hash did (${history.samePathOnHost.unsignedTlsFlows} TLS flows)`,
        evidence: { scope: 'changed_binary', ...evidence },
      };
    }
    return {
      name: 'new_tls_process',
      weight: cfg.weight,
      summary: `${id.executable} ${times} on ${view.host} nor on any other host in the baseline${history.samePathOnHost.tlsFlows > 0 ? ` (the path is known here under another signer or hash: ${history.samePathOnHost.tlsFlows} TLS flows)` : ''}`,
      evidence: { scope: 'all_hosts', ...evidence },
    };
  },
};
