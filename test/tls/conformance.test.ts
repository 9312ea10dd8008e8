/**
 * Conformance against ../shared/conformance (FoxIO JA4 outputs, Zeek ssl.log
 * baselines, Suricata-verify checks, tshark's JA3/JA3S): every capture goes
 * through the real stages — capture, decode, flow table with TCP reassembly,
 * TLS parser — and the sessions' facts are compared with each source.
 *
 * Each test prints matched/total. Every known difference is listed in
 * EXPLAINED with its reason, and the test fails on any other.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { before, describe, it, type TestContext } from 'node:test';

import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { ja3s, type TlsSessionFacts } from '../../src/tls/index.js';
import { pipelineFlows, type PipelineFlow } from '../helpers/pipeline-flows.js';

const ROOT = new URL('../../../shared/conformance/', import.meta.url).pathname;
const present = existsSync(ROOT);
const skip = present ? false : `no conformance data at ${ROOT}`;
const hasTshark = spawnSync('tshark', ['--version']).status === 0;

/** Differences we understand, by `<capture> <what>`: the reason is the value. */
const EXPLAINED: Record<string, string> = {
  'ja4/tls-non-ascii-alpn.pcapng ja4':
    'ALPN bytes 0xbd..: JA4.md says a non-alphanumeric first/last byte prints hex digits ("bd"); FoxIO python/rust/wireshark at the pinned commit print "99".',
  'suricata-verify/tls13-draft14.pcap ja3s':
    'A ServerHello with version 0x0304 in the pre-draft-22 layout (no session id, no compression): tshark 4.0 reads it with the TLS 1.2 layout and gets cipher 0xacad.',
  'zeek/tls1.2-late-protocol-error.pcap ssl_history':
    'Zeek stops the analyzer at the protocol error in the client stream; tlsentry resynchronises and still records the server change_cipher_spec (one more "i").',
  'zeek/dtls1_2.pcap *': 'DTLS over UDP: out of scope for the TCP stream parser.',
  'suricata-verify/bug-5713-01.pcap tls.version':
    'Only a ClientHello was seen: Suricata logs the version the client offered; tlsentry\'s `version` is the negotiated one (Zeek\'s semantics) and stays unset — the offered one is clientHello.legacyVersion.',
  'suricata-verify/bug-5713-01.pcap tls.version+tls.ja4':
    'Besides the version (above): the hello has no signature algorithms; Suricata hashes "<extensions>_" with a trailing "_", FoxIO\'s spec and rust implementation hash without it (c39ab67fec8e, not ce66f3b797c1).',
};

/** Flows of every conformance capture, read once through the pipeline before the tests. */
const runs = new Map<string, PipelineFlow[]>();
function flowsOf(rel: string): PipelineFlow[] {
  const r = runs.get(rel);
  if (r === undefined) throw new Error(`${rel} was not read in before()`);
  return r;
}

/**
 * The session on these ports (a 4-tuple reused after a RST gives several
 * flows: take the TLS one). The sources name the TLS client's port first;
 * the flow table's orientation (SYN sender) normally agrees, and a flow whose
 * TLS client turned out to be the responder is matched the other way round.
 */
function session(rel: string, clientPort: string | number, serverPort: string | number): TlsSessionFacts | null {
  const cp = String(clientPort), sp = String(serverPort);
  const c = flowsOf(rel).filter(
    (f) => (String(f.clientPort) === cp && String(f.serverPort) === sp) || (String(f.clientPort) === sp && String(f.serverPort) === cp),
  );
  const hit = c.find((f) => f.parser.facts.detected) ?? c[0];
  return hit ? hit.parser.facts : null;
}

function captures(sub: string): string[] {
  return readdirSync(ROOT + sub)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort()
    .map((f) => `${sub}/${f}`);
}

class Tally {
  matched = 0;
  total = 0;
  readonly unexplained: string[] = [];
  readonly explained: string[] = [];
  check(key: string, ok: boolean, detail: string): void {
    this.total++;
    if (ok) this.matched++;
    else if (EXPLAINED[key] !== undefined || EXPLAINED[`${key.split(' ')[0]} *`] !== undefined) this.explained.push(`${key}: ${detail}`);
    else this.unexplained.push(`${key}: ${detail}`);
  }
  report(t: TestContext, what: string): void {
    t.diagnostic(`${what}: ${this.matched}/${this.total} matched, ${this.explained.length} explained differences`);
    for (const e of this.explained) t.diagnostic(`  explained: ${e}`);
    assert.deepEqual(this.unexplained, [], `${what}: unexplained differences`);
  }
}

describe('conformance through the pipeline', { skip }, () => {
  before(async () => {
    for (const sub of ['ja4', 'zeek', 'suricata-verify']) {
      for (const rel of captures(sub)) runs.set(rel, await pipelineFlows(ROOT + rel));
    }
  });

  it('JA4, ja4_r, ja4_ro and SNI equal FoxIO python output', (t) => {
    const tally = new Tally();
    for (const rel of captures('ja4')) {
      const exp = ROOT + rel.replace(/\.(pcap|pcapng|cap)$/, '.ja4-python.expected.json');
      if (!existsSync(exp)) continue;
      for (const r of JSON.parse(readFileSync(exp, 'utf8')) as Record<string, string>[]) {
        const want = r['JA4.1'];
        if (want === undefined || !want.startsWith('t')) continue; // QUIC is not a TCP stream
        const f = session(rel, r.srcport, r.dstport);
        const got = f === null ? 'no session' : [f.ja4, f.ja4_r, f.ja4_ro, f.sni ?? ''].join(' ');
        const expected = [want, r['JA4_r.1'], r['JA4_ro.1'], r.domain ?? ''].join(' ');
        tally.check(`${rel} ja4`, got === expected, `expected ${expected}, got ${got}`);
      }
    }
    tally.report(t, 'JA4 vs FoxIO python');
    assert.ok(tally.total >= 100);
  });

  it('JA4 equals the FoxIO rust snapshots', (t) => {
    const tally = new Tally();
    for (const rel of captures('ja4')) {
      const snap = ROOT + rel.replace(/\.(pcap|pcapng|cap)$/, '.ja4-rust.expected.snap');
      if (!existsSync(snap)) continue;
      let cur: Record<string, string> = {};
      const blocks: Record<string, string>[] = [];
      for (const line of readFileSync(snap, 'utf8').split('\n')) {
        const m = /^(- |  )(stream|transport|src_port|dst_port|ja4|tls_server_name): (.*)$/.exec(line);
        if (line.startsWith('- stream:')) blocks.push((cur = {}));
        if (m) cur[m[2]] = m[3];
      }
      for (const b of blocks) {
        if (b.transport !== 'tcp' || b.ja4 === undefined) continue;
        const f = session(rel, b.src_port, b.dst_port);
        const got = `${f?.ja4} ${f?.sni ?? ''}`;
        const want = `${b.ja4} ${b.tls_server_name ?? ''}`;
        tally.check(`${rel} ja4`, got === want, `expected ${want}, got ${got}`);
      }
    }
    tally.report(t, 'JA4 vs FoxIO rust');
  });

  it('JA3 and JA3S equal tshark on every TLS-over-TCP session', { skip: hasTshark ? false : 'tshark not installed' }, (t) => {
    const tally = new Tally();
    for (const sub of ['ja4', 'zeek', 'suricata-verify']) {
      for (const rel of captures(sub)) {
        const out = execFileSync(
          'tshark',
          ['-r', ROOT + rel, '-Y', 'tcp && (tls.handshake.type==1 || tls.handshake.type==2)', '-T', 'fields', '-E', 'separator=|',
            '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tls.handshake.type', '-e', 'tls.handshake.ja3_full', '-e', 'tls.handshake.ja3s_full', '-e', 'tls.handshake.random'],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
        );
        const lines = out.split('\n').filter(Boolean).map((l) => l.split('|'));
        if (lines.length === 0) continue;
        const firstHello = new Map<string, string>();
        const lastServer = new Map<string, [string, boolean]>();
        for (const [sp, dp, types, j3, j3s, random] of lines) {
          const ts = types.split(',');
          if (ts.includes('1') && !firstHello.has(`${sp}|${dp}`)) firstHello.set(`${sp}|${dp}`, j3);
          if (ts.includes('2')) lastServer.set(`${dp}|${sp}`, [j3s, random.split(',').some((x) => x.startsWith('cf21ad74e59a6111'))]);
        }
        for (const [ports, want] of firstHello) {
          const [cp, sp] = ports.split('|');
          const f = session(rel, cp, sp);
          const got = f?.ja3String ?? '';
          tally.check(`${rel} ja3`, got === want, `${ports}: expected "${want}", got "${got}"`);
        }
        for (const [ports, [want, hrr]] of lastServer) {
          const [cp, sp] = ports.split('|');
          const f = session(rel, cp, sp);
          // tshark's last ServerHello may be the HelloRetryRequest when it did not decode the real one.
          const sh = hrr && f?.retryRequest ? ja3s(f.retryRequest).string : f?.ja3sString ?? '';
          tally.check(`${rel} ja3s`, sh === want, `${ports}: expected "${want}", got "${sh}"`);
        }
      }
    }
    tally.report(t, 'JA3/JA3S vs tshark');
    assert.ok(tally.total >= 400);
  });

  it('version, cipher, server_name, resumed, last_alert, next_protocol, established, ssl_history equal Zeek ssl.log', (t) => {
    const fields = ['version', 'cipher', 'server_name', 'resumed', 'last_alert', 'next_protocol', 'established', 'ssl_history'];
    const tally = new Tally();
    for (const log of readdirSync(ROOT + 'zeek').filter((f) => /\.zeek--ssl\.[^/]*\.log$/.test(f) || /\.zeek--(imap|smtp|x509)\.[^/]*ssl[^/]*\.log$/.test(f))) {
      const rel = `zeek/${log.split('.zeek--')[0]}.pcap`;
      let cols: string[] = [];
      for (const line of readFileSync(ROOT + 'zeek/' + log, 'utf8').split('\n')) {
        if (line.startsWith('#fields')) cols = line.split('\t').slice(1);
        if (line === '' || line.startsWith('#')) continue;
        const v = line.split('\t');
        const r: Record<string, string> = {};
        cols.forEach((c, i) => (r[c] = v[i]));
        const f = session(rel, r['id.orig_p'], r['id.resp_p']);
        const got: Record<string, string> = {
          version: f?.versionName ?? '-',
          cipher: f?.cipherName ?? '-',
          server_name: f?.sni ?? '-',
          resumed: f?.resumed ? 'T' : 'F',
          last_alert: f?.lastAlert && f.lastAlert.level >= 0 ? f.lastAlert.name : '-',
          next_protocol: f?.alpnSelected ?? '-',
          established: f?.established ? 'T' : 'F',
          ssl_history: f?.history || '(empty)',
        };
        for (const k of fields) {
          if (!(k in r)) continue;
          tally.check(`${rel} ${k}`, r[k] === got[k], `${log} ${r['id.orig_p']}: expected ${r[k]}, got ${got[k]}`);
        }
      }
    }
    tally.report(t, 'Zeek ssl.log');
    assert.ok(tally.total >= 500);
  });

  it('raw hello lists equal Zeek ssl-log-ext (ciphers, extensions, groups, formats, ALPN, versions, key shares, sigalgs)', (t) => {
    const tally = new Tally();
    const list = (a: readonly number[] | undefined) => (a === undefined || a.length === 0 ? '-' : a.join(','));
    for (const log of readdirSync(ROOT + 'zeek').filter((f) => f.includes('ssl.ssl-log-ext'))) {
      const rel = `zeek/${log.split('.zeek--')[0]}.pcap`;
      let cols: string[] = [];
      for (const line of readFileSync(ROOT + 'zeek/' + log, 'utf8').split('\n')) {
        if (line.startsWith('#fields')) cols = line.split('\t').slice(1);
        if (line === '' || line.startsWith('#')) continue;
        const v = line.split('\t');
        const r: Record<string, string> = {};
        cols.forEach((c, i) => (r[c] = v[i]));
        const f = session(rel, r['id.orig_p'], r['id.resp_p']);
        const ch = f?.clientHello;
        const sh = f?.serverHello;
        const sig = ch?.signatureAlgorithms ?? [];
        const got: Record<string, string> = {
          client_version: String(ch?.legacyVersion ?? '-'),
          server_version: String(sh?.legacyVersion ?? '-'),
          client_ciphers: list(ch?.cipherSuites),
          ssl_client_exts: list(ch?.extensionTypes),
          ssl_server_exts: list(sh?.extensionTypes),
          point_formats: list(ch?.ecPointFormats),
          client_curves: list(ch?.supportedGroups),
          orig_alpn: ch && ch.alpn.length > 0 ? ch.alpn.join(',') : '-',
          client_supported_versions: list(ch?.supportedVersions),
          server_supported_version: sh && sh.selectedVersion >= 0 ? String(sh.selectedVersion) : '-',
          psk_key_exchange_modes: list(ch?.pskKeyExchangeModes),
          client_key_share_groups: list(ch?.keyShareGroups),
          server_key_share_group: sh && sh.keyShareGroup >= 0 ? String(sh.keyShareGroup) : '-',
          client_comp_methods: list(ch?.compressionMethods),
          sigalgs: list(sig.map((s) => s & 0xff)),
          hashalgs: list(sig.map((s) => s >>> 8)),
        };
        for (const [k, v] of Object.entries(r)) {
          if (!(k in got)) continue;
          const want = v === '(empty)' ? '-' : v; // an empty vector: nothing to list either way
          tally.check(`${rel} ${k}`, want === got[k], `${r['id.orig_p']}: ${k} expected ${want}, got ${got[k]}`);
        }
      }
    }
    tally.report(t, 'Zeek ssl-log-ext');
  });

  it('SNI, version, JA3, JA3S, JA4 and ALPN checks of Suricata-verify', (t) => {
    const tally = new Tally();
    const suricataVersion = (f: TlsSessionFacts): string => {
      const v = f.version;
      if (v === null) return 'UNDETERMINED';
      if ((v & 0xff00) === 0x7f00) return (v & 0xff) < 16 ? 'TLS 1.3 draft-<16' : `TLS 1.3 draft-${v & 0xff}`;
      return ({ 0x0002: 'SSLv2', 0x0300: 'SSLv3', 0x0301: 'TLSv1', 0x0302: 'TLS 1.1', 0x0303: 'TLS 1.2', 0x0304: f.serverHello?.selectedVersion === -1 ? 'TLS 1.3 draft-<16' : 'TLS 1.3' } as Record<number, string>)[v] ?? 'UNDETERMINED';
    };
    const value = (f: TlsSessionFacts, key: string): string | undefined => {
      switch (key) {
        case 'tls.sni': return f.sni ?? undefined;
        case 'tls.version': return suricataVersion(f);
        case 'tls.ja3.hash': return f.ja3 ?? undefined;
        case 'tls.ja3.string': return f.ja3String ?? undefined;
        case 'tls.ja3s.hash': return f.ja3s ?? undefined;
        case 'tls.ja3s.string': return f.ja3sString ?? undefined;
        case 'tls.ja4': return f.ja4 ?? undefined;
        default: {
          const m = /^tls\.(client|server)_alpns\[(\d+)\]$/.exec(key);
          if (m === null) return undefined;
          return m[1] === 'client' ? f.alpnOffered[Number(m[2])] : Number(m[2]) === 0 ? f.alpnSelected ?? undefined : undefined;
        }
      }
    };
    const known = /^tls\.(sni|version|ja3\.(hash|string)|ja3s\.(hash|string)|ja4|(client|server)_alpns\[\d+\])$/;
    for (const file of readdirSync(ROOT + 'suricata-verify').filter((f) => f.endsWith('.expected.yaml'))) {
      const cap = readdirSync(ROOT + 'suricata-verify').find((c) => c.startsWith(file.split('.suricata-verify--')[0] + '.') && /\.(pcap|pcapng|cap)$/.test(c));
      if (cap === undefined) continue;
      const rel = `suricata-verify/${cap}`;
      // Filters: `- filter:` blocks with count, requires and match lines.
      const filters: { count: number; lt: boolean; match: Record<string, string> }[] = [];
      let cur: (typeof filters)[number] | null = null;
      for (const line of readFileSync(ROOT + 'suricata-verify/' + file, 'utf8').split('\n')) {
        if (/^\s*- filter:/.test(line)) filters.push((cur = { count: -1, lt: false, match: {} }));
        else if (/^\s*- /.test(line)) cur = null;
        if (cur === null) continue;
        let m = /^\s+count:\s*(\d+)/.exec(line);
        if (m) cur.count = Number(m[1]);
        if (/^\s+lt-version:/.test(line)) cur.lt = true;
        m = /^\s+([a-z_.\[\]0-9]+):\s*"?(.*?)"?\s*$/.exec(line);
        if (m && m[1] !== 'count' && (m[1].startsWith('tls.') || m[1] === 'event_type')) cur.match[m[1]] = m[2];
      }
      const sessions = flowsOf(rel).map((f) => f.parser.facts).filter((f) => f.detected && (f.clientHello !== null || f.serverHello !== null));
      for (const flt of filters) {
        if (flt.lt || flt.match.event_type !== 'tls' || flt.count < 0) continue;
        const keys = Object.keys(flt.match).filter((k) => k !== 'event_type');
        if (keys.length === 0 || !keys.every((k) => known.test(k))) continue;
        const n = sessions.filter((f) => keys.every((k) => value(f, k) === flt.match[k])).length;
        const ok = flt.count === 0 ? n === 0 : n >= 1;
        tally.check(`${rel} ${keys.join('+')}`, ok, `${file}: ${JSON.stringify(flt.match)} count ${flt.count}, tlsentry sessions matching: ${n}`);
      }
    }
    tally.report(t, 'Suricata-verify');
  });
});
