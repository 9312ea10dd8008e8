/**
 * Zeek conformance (../shared/conformance/zeek/): certificate chains taken
 * from the captures with tshark, judged at the packet time, compared with
 * Zeek's ssl.log `validation_status` (and `sni_matches_cert`), and the
 * certificate summaries compared with Zeek's x509.log.
 *
 * Trust store per test script, as Zeek's btest ran it: the scripts that load
 * `_tests/external-ca-list.zeek` use that list; the others use Zeek's bundled
 * Mozilla list, for which Node's bundled Mozilla roots stand in, plus any
 * `root_certs +=` the script adds. `ssl_cache_intermediate_ca = F` turns the
 * intermediate cache off, as in Zeek.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ChainJudge, CertificateCache, IntermediateCache, TrustStore, type CertificateSummary } from '../../src/x509/index.js';
import { extractChains, hasTool, SHARED, sharedAvailable, zeekRootCerts } from './support.js';

const ZEEK = `${SHARED}zeek/`;

interface ZeekLog {
  fields: string[];
  rows: Record<string, string>[];
}

function readZeekLog(path: string): ZeekLog {
  const lines = readFileSync(path, 'utf8').split('\n');
  const fields = (lines.find((l) => l.startsWith('#fields')) ?? '').split('\t').slice(1);
  const rows = lines
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
  return { fields, rows };
}

function scriptPath(test: string): string {
  const test_ = `${ZEEK}_tests/${test}.test`;
  return existsSync(test_) ? test_ : `${ZEEK}_tests/${test}.zeek`;
}

function testScript(test: string): string {
  const p = scriptPath(test);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

function skipReason(): string | null {
  if (!sharedAvailable()) return 'conformance data absent (../shared/conformance)';
  if (!hasTool('tshark', ['-v'])) return 'tshark not installed (Debian package: tshark)';
  return null;
}

describe('Zeek conformance', () => {
  const reason = skipReason();

  it('validation_status equals Zeek ssl.log on every capture whose test validates certificates', async (t) => {
    if (reason) return t.skip(reason);
    const baselines = readdirSync(ZEEK).filter((f) => /\.expected\.ssl[^/]*\.log$/.test(f));
    let matched = 0;
    let total = 0;
    let sniMatched = 0;
    let sniTotal = 0;
    const failures: string[] = [];
    for (const file of baselines) {
      const log = readZeekLog(ZEEK + file);
      if (!log.fields.includes('validation_status')) continue;
      const capture = file.slice(0, file.indexOf('.zeek--'));
      const test = file.slice(file.indexOf('.zeek--') + 7, file.indexOf('.expected'));
      const script = testScript(test);
      const trust = script.includes('external-ca-list.zeek') ? TrustStore.empty() : TrustStore.fromOptions({ defaultTrust: true });
      if (script.includes('external-ca-list.zeek'))
        for (const r of zeekRootCerts(`${ZEEK}_tests/external-ca-list.zeek`)) trust.addDer(r.der, 'public', 'zeek');
      // Roots the test script itself adds (`redef SSL::root_certs += { … }`).
      for (const r of existsSync(scriptPath(test)) ? zeekRootCerts(scriptPath(test)) : []) trust.addDer(r.der, 'public', test);
      const cache = /ssl_cache_intermediate_ca\s*=\s*F/.test(script) ? null : new IntermediateCache();
      const judge = new ChainJudge({ trust, intermediateCache: cache });
      // Judge each server chain in capture order (the cache learns as Zeek's does).
      const results: { key: string; status: string; sni: boolean | null; used: boolean }[] = [];
      for (const ch of extractChains(`${ZEEK}${capture}.pcap`)) {
        if (!ch.fromServer) continue;
        const v = await judge.judge(ch.certs, { atMicros: ch.atMicros, sni: ch.sni });
        results.push({ key: v.chain_sha256.join(','), status: v.validation_status, sni: v.sni_matches_cert, used: false });
      }
      for (const row of log.rows) {
        if (row.validation_status === '-' || row.cert_chain_fps === '(empty)') continue;
        total++;
        const r = results.find((x) => !x.used && x.key === row.cert_chain_fps);
        if (r) r.used = true;
        if (r && r.status === row.validation_status) matched++;
        else failures.push(`${file}: ${row.uid} expected "${row.validation_status}", got "${r?.status ?? 'no chain'}"`);
        if (row.sni_matches_cert !== '-' && r) {
          sniTotal++;
          if ((row.sni_matches_cert === 'T') === r.sni) sniMatched++;
          else failures.push(`${file}: ${row.uid} sni_matches_cert ${row.sni_matches_cert}, got ${r.sni}`);
        }
      }
    }
    console.log(`Zeek validation_status matched ${matched}/${total}; sni_matches_cert matched ${sniMatched}/${sniTotal}`);
    assert.ok(total > 0);
    assert.deepEqual(failures, []);
  });

  it('certificate summaries equal Zeek x509.log', (t) => {
    if (reason) return t.skip(reason);
    const baselines = readdirSync(ZEEK).filter((f) => /\.expected\.x509[^/]*\.log$/.test(f));
    const certs = new CertificateCache();
    let fieldsMatched = 0;
    let fieldsTotal = 0;
    let rowsMatched = 0;
    let rowsTotal = 0;
    const failures: string[] = [];
    for (const file of baselines) {
      const capture = file.slice(0, file.indexOf('.zeek--'));
      const bySha = new Map<string, CertificateSummary>();
      for (const ch of extractChains(`${ZEEK}${capture}.pcap`))
        for (const der of ch.certs) {
          const s = certs.get(der).summary;
          bySha.set(s.sha256, s);
        }
      for (const row of readZeekLog(ZEEK + file).rows) {
        if (!row.fingerprint || row.fingerprint.length !== 64) continue; // base64 / other variants
        rowsTotal++;
        const s = bySha.get(row.fingerprint);
        if (!s) {
          failures.push(`${file}: no certificate ${row.fingerprint}`);
          continue;
        }
        const set = (v: readonly string[]) => (v.length ? v.join(',') : '-');
        const ours: Record<string, string> = {
          'certificate.version': String(s.version),
          'certificate.serial': s.serial,
          'certificate.subject': s.subject,
          'certificate.issuer': s.issuer,
          'certificate.not_valid_before': `${s.not_before_epoch}.000000`,
          'certificate.not_valid_after': `${s.not_after_epoch}.000000`,
          'certificate.key_alg': s.public_key.algorithm,
          'certificate.sig_alg': s.signature_algorithm.name,
          'certificate.key_type': s.public_key.type === 'ml-dsa' ? s.public_key.algorithm : s.public_key.type,
          'certificate.key_length': s.public_key.bits === null ? '-' : String(s.public_key.bits),
          'certificate.exponent': s.public_key.exponent ?? '-',
          'certificate.curve': s.public_key.curve ?? '-',
          'san.dns': set(s.san.dns),
          'san.uri': set(s.san.uri),
          'san.email': set(s.san.email),
          'san.ip': set(s.san.ip),
          'basic_constraints.ca': s.basic_constraints ? (s.basic_constraints.ca ? 'T' : 'F') : '-',
          'basic_constraints.path_len': s.basic_constraints?.path_len == null ? '-' : String(s.basic_constraints.path_len),
        };
        let rowOk = true;
        for (const [k, v] of Object.entries(ours)) {
          if (!(k in row)) continue;
          fieldsTotal++;
          if (row[k] === v) fieldsMatched++;
          else {
            rowOk = false;
            failures.push(`${file}: ${k} expected "${row[k]}", got "${v}"`);
          }
        }
        if (rowOk) rowsMatched++;
      }
    }
    console.log(`Zeek x509.log rows matched ${rowsMatched}/${rowsTotal}, fields ${fieldsMatched}/${fieldsTotal}`);
    assert.ok(rowsTotal > 0);
    assert.deepEqual(failures, []);
  });

  it('formats every root of Zeek external-ca-list.zeek as Zeek keys it (RFC 2253)', (t) => {
    if (!sharedAvailable()) return t.skip('conformance data absent (../shared/conformance)');
    const certs = new CertificateCache();
    const roots = zeekRootCerts(`${ZEEK}_tests/external-ca-list.zeek`);
    const mismatches = roots
      .map((r) => ({ key: r.name.replace(/\\\\/g, '\\'), subject: certs.get(r.der).summary.subject }))
      .filter((x) => x.key !== x.subject);
    console.log(`Zeek root-list subjects matched ${roots.length - mismatches.length}/${roots.length}`);
    assert.deepEqual(mismatches, []);
  });
});
