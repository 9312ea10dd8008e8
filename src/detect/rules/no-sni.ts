/**
 * no_sni: the ClientHello named no server (browsers and most libraries send
 * SNI; raw-IP C2 stagers often do not). With ECH the outer SNI is still
 * present, so this is about its absence only. With `skip_known_destination`,
 * a destination the process has used before (baseline) does not count.
 */
import type { Rule } from './context.js';

export const noSni: Rule = {
  name: 'no_sni',
  evaluate({ input, view, history, config }) {
    const cfg = config.rules.no_sni;
    const tls = input.tls;
    if (!view.isTls || !tls || tls.clientHelloCount === 0 || tls.midstream) return null;
    if (tls.sni !== null && tls.sni !== '') return null;
    const known = history?.host?.destinationKnown ?? false;
    if (known && cfg.skip_known_destination) return null;
    return {
      name: 'no_sni',
      weight: cfg.weight,
      summary: `ClientHello to ${view.destination} carried no server name (SNI)`,
      evidence: {
        destination: view.destination,
        tls_version: tls.versionName,
        alpn_offered: [...tls.alpnOffered],
        ja4: tls.ja4,
        destination_known_for_process: known,
      },
    };
  },
};
