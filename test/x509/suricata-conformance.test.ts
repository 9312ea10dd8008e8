/**
 * Suricata-verify conformance (../shared/conformance/suricata-verify/): each
 * `checks:` filter on a `tls` event that names certificate fields
 * (`tls.subject`, `tls.issuerdn`, `tls.serial`, `tls.fingerprint`,
 * `tls.notbefore`, `tls.notafter`, `tls.subjectaltname[i]`, `tls.client.*`)
 * must be satisfied by the leaf of some Certificate message of the capture
 * (server leaf for `tls.*`, client leaf for `tls.client.*`). Event counts are
 * the pipeline's business and are not checked here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { CertificateCache, type CertificateSummary } from '../../src/x509/index.js';
import { extractChains, hasTool, SHARED, sharedAvailable, suricataChecks } from './support.js';

const SV = `${SHARED}suricata-verify/`;
const CERT_FIELD = /^(subject|issuerdn|serial|fingerprint|notbefore|notafter|subjectaltname\[\d+\])$/;

/** The EVE value Suricata would print for `field` of this certificate; undefined if not a certificate field. */
function eveValue(s: CertificateSummary, field: string): string {
  const san = /^subjectaltname\[(\d+)\]$/.exec(field);
  if (san) return s.san.dns[Number(san[1])] ?? '<none>';
  switch (field) {
    case 'subject':
      return s.subject_suricata;
    case 'issuerdn':
      return s.issuer_suricata;
    case 'serial':
      return s.serial_colon;
    case 'fingerprint':
      return s.sha1.replace(/(..)(?!$)/g, '$1:');
    case 'notbefore':
      return s.not_before?.replace(/Z$/, '') ?? '<none>';
    case 'notafter':
      return s.not_after?.replace(/Z$/, '') ?? '<none>';
    default:
      throw new Error(`not a certificate field: ${field}`);
  }
}

describe('Suricata-verify conformance', () => {
  it('subject, issuer, serial, validity, SHA-1 and SANs equal the EVE expectations', (t) => {
    if (!sharedAvailable()) return t.skip('conformance data absent (../shared/conformance)');
    if (!hasTool('tshark', ['-v'])) return t.skip('tshark not installed (Debian package: tshark)');
    const certs = new CertificateCache();
    let checksMatched = 0;
    let checksTotal = 0;
    let fieldsMatched = 0;
    let fieldsTotal = 0;
    const failures: string[] = [];
    for (const file of readdirSync(SV).filter((f) => /\.expected\.yaml$/.test(f))) {
      const capture = file.slice(0, file.indexOf('.suricata-verify--'));
      for (const check of suricataChecks(readFileSync(SV + file, 'utf8'))) {
        if (check.match.event_type !== 'tls') continue;
        const server: [string, string][] = [];
        const client: [string, string][] = [];
        for (const [k, v] of Object.entries(check.match)) {
          const m = /^tls\.(client\.)?(.+)$/.exec(k);
          if (!m) continue;
          if (!CERT_FIELD.test(m[2])) continue;
          (m[1] ? client : server).push([m[2], v]);
        }
        if (server.length + client.length === 0) continue;
        checksTotal++;
        const chains = extractChains(`${SV}${capture}.pcap`);
        const leaves = (fromServer: boolean) =>
          chains.filter((c) => c.fromServer === fromServer).map((c) => certs.get(c.certs[0]).summary);
        let ok = true;
        for (const [want, leafSet] of [
          [server, leaves(true)],
          [client, leaves(false)],
        ] as const) {
          if (want.length === 0) continue;
          // The best leaf: the one agreeing on most fields.
          let best: CertificateSummary | undefined;
          let bestScore = -1;
          for (const s of leafSet) {
            const score = want.filter(([f, v]) => eveValue(s, f) === v).length;
            if (score > bestScore) [best, bestScore] = [s, score];
          }
          fieldsTotal += want.length;
          fieldsMatched += Math.max(bestScore, 0);
          if (bestScore !== want.length) {
            ok = false;
            for (const [f, v] of want)
              if (!best || eveValue(best, f) !== v) failures.push(`${file}: ${f} expected "${v}", got "${best ? eveValue(best, f) : 'no certificate'}"`);
          }
        }
        if (ok) checksMatched++;
      }
    }
    console.log(`Suricata certificate checks matched ${checksMatched}/${checksTotal}, fields ${fieldsMatched}/${fieldsTotal}`);
    assert.ok(checksTotal > 0);
    assert.deepEqual(failures, []);
  });
});
