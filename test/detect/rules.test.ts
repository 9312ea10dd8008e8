import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BaselineCache, type BaselineDelta } from '../../src/detect/baseline.js';
import { compileProcessLists } from '../../src/detect/process-lists.js';
import {
  asymmetricEgress,
  listedUnexpectedProcess,
  newTlsProcess,
  noSni,
  nonstandardChain,
  tlsNonstandardPort,
  unexpectedTlsLibrary,
  userWritableImagePath,
  RULES,
} from '../../src/detect/rules/index.js';
import { RULE_NAMES } from '../../src/detect/types.js';
import { config, context, input, lib, proc, S, T0, tls, verdict } from './helpers.js';

const CURL_ID = `/usr/bin/curl|sha256:${'d'.repeat(64)}`;

function seed(cache: BaselineCache, over: Partial<BaselineDelta> = {}): BaselineCache {
  cache.add({
    host: 'ws1.example.net',
    identity: CURL_ID,
    executable: '/usr/bin/curl',
    signer: null,
    sha256: 'd'.repeat(64),
    firstSeen: T0 - 3600 * S,
    lastSeen: T0 - 60 * S,
    flows: 10,
    tlsFlows: 8,
    bytesOut: 20_000,
    bytesIn: 400_000,
    destinations: ['93.184.215.14:443'],
    snis: ['www.example.com'],
    ja4s: [],
    ...over,
  });
  return cache;
}

describe('rules', () => {
  it('every rule name has exactly one rule', () => {
    assert.deepEqual([...RULES.map((r) => r.name)].sort(), [...RULE_NAMES].sort());
  });

  describe('new_tls_process', () => {
    it('fires for an identity never seen anywhere, scope all_hosts', () => {
      const h = newTlsProcess.evaluate(context(input()));
      assert.ok(h);
      assert.equal(h.weight, 30);
      assert.equal(h.evidence.scope, 'all_hosts');
      assert.equal(h.evidence.prior_tls_flows_on_host, 0);
      assert.equal(h.evidence.identity, CURL_ID);
      assert.match(h.summary, /never initiated TLS on ws1\.example\.net nor on any other host/);
    });
    it('says "this host" when other hosts know the identity', () => {
      const cache = seed(new BaselineCache(256), { host: 'ws2.example.net' });
      const h = newTlsProcess.evaluate(context(input(), config(), cache));
      assert.ok(h);
      assert.equal(h.evidence.scope, 'host');
      assert.equal(h.weight, 15);
      assert.equal(h.evidence.other_hosts_with_tls, 1);
      assert.equal(h.evidence.prior_tls_flows_other_hosts, 8);
      assert.match(h.summary, /known for TLS on 1 other host/);
    });
    it('says changed_binary when the same path had another hash', () => {
      const cache = seed(new BaselineCache(256), { identity: `/usr/bin/curl|sha256:${'e'.repeat(64)}`, sha256: 'e'.repeat(64) });
      const h = newTlsProcess.evaluate(context(input(), config(), cache));
      assert.ok(h);
      assert.equal(h.evidence.scope, 'changed_binary');
      assert.equal(h.weight, 10);
      assert.equal(h.evidence.same_path_other_identities_tls_flows, 8);
    });
    it('does not fire for a baselined identity, nor for non-TLS flows', () => {
      assert.equal(newTlsProcess.evaluate(context(input(), config(), seed(new BaselineCache(256)))), null);
      assert.equal(newTlsProcess.evaluate(context(input({ tls: null }))), null);
    });
    it('"rarely": max_prior_tls_flows counts a few flows as new', () => {
      const cache = seed(new BaselineCache(256), { tlsFlows: 2 });
      const cfg = config({ rules: { new_tls_process: { max_prior_tls_flows: 3 } } });
      const h = newTlsProcess.evaluate(context(input(), cfg, cache));
      assert.ok(h);
      assert.match(h.summary, /only 2 times \(≤ 3\)/);
      assert.equal(newTlsProcess.evaluate(context(input(), config(), cache)), null);
    });
  });

  describe('asymmetric_egress', () => {
    const upload = () => {
      const t = tls();
      t.client.applicationDataBytes = 5_000_000;
      t.server.applicationDataBytes = 40_000;
      return t;
    };
    it('fires on TLS application data when the client sends most', () => {
      const h = asymmetricEgress.evaluate(context(input({ tls: upload(), payloadOut: 5_100_000, payloadIn: 45_000 })));
      assert.ok(h);
      assert.equal(h.weight, 25);
      assert.equal(h.evidence.basis, 'tls_application_data');
      assert.equal(h.evidence.bytes_out, 5_000_000);
      assert.equal(h.evidence.bytes_in, 40_000);
      assert.equal(h.evidence.pcr, 0.984);
      assert.match(h.summary, /PCR 0\.98 ≥ 0\.4/);
    });
    it('falls back to TCP payload without application-data counts', () => {
      const t = tls();
      t.client.applicationDataBytes = 0;
      t.server.applicationDataBytes = 0;
      const h = asymmetricEgress.evaluate(context(input({ tls: t, payloadOut: 900_000, payloadIn: 10_000 })));
      assert.ok(h);
      assert.equal(h.evidence.basis, 'tcp_payload');
      assert.equal(h.evidence.bytes_out, 900_000);
    });
    it('does not fire on downloads, nor on small uploads', () => {
      assert.equal(asymmetricEgress.evaluate(context(input())), null);
      const t = tls();
      t.client.applicationDataBytes = 50_000;
      t.server.applicationDataBytes = 1_000;
      assert.equal(asymmetricEgress.evaluate(context(input({ tls: t }))), null, 'PCR high but under min_bytes_out');
    });
    it('takes min_pcr and min_bytes_out from configuration', () => {
      const t = tls();
      t.client.applicationDataBytes = 50_000;
      t.server.applicationDataBytes = 1_000;
      const h = asymmetricEgress.evaluate(context(input({ tls: t }), config({ rules: { asymmetric_egress: { min_bytes_out: 10_000, min_pcr: 0.9 } } })));
      assert.ok(h);
      assert.equal(h.evidence.min_bytes_out, 10_000);
    });
  });

  describe('nonstandard_chain', () => {
    it('fires on a self-signed server with the verdict as evidence', () => {
      const h = nonstandardChain.evaluate(context(input({ verdict: verdict('self signed certificate') })));
      assert.ok(h);
      assert.equal(h.weight, 25);
      assert.equal(h.evidence.validation_status, 'self signed certificate');
      assert.deepEqual(h.evidence.anomalies, ['self_signed']);
      assert.equal(h.evidence.leaf_sha256, 'c'.repeat(64));
      assert.match(h.summary, /self signed certificate \(self_signed\)/);
    });
    it('does not fire on ok, TLS 1.3 hidden certificates, or resumed sessions without one', () => {
      assert.equal(nonstandardChain.evaluate(context(input())), null);
      assert.equal(nonstandardChain.evaluate(context(input({ verdict: verdict('certificate not visible') }))), null);
      assert.equal(nonstandardChain.evaluate(context(input({ verdict: verdict('no certificate'), tls: tls({ resumed: true }) }))), null);
      assert.equal(nonstandardChain.evaluate(context(input({ verdict: null }))), null);
    });
    const inspected = () =>
      verdict('unable to get local issuer certificate', {
        anomalies: ['hostname_mismatch'],
        anchor: { kind: 'tls_inspection', subject: 'CN=Corp Inspection CA', sha256: 'f'.repeat(64) },
      });
    it('an inspection anchor counts unless its kind or the anchor is allow-listed', () => {
      const h = nonstandardChain.evaluate(context(input({ verdict: inspected() })));
      assert.ok(h);
      assert.deepEqual(h.evidence.anchor, { kind: 'tls_inspection', subject: 'CN=Corp Inspection CA', sha256: 'f'.repeat(64) });
      assert.match(h.summary, /anchor tls_inspection "CN=Corp Inspection CA" not allow-listed/);
      const byKind = config({ rules: { nonstandard_chain: { allow_anchor_kinds: ['tls_inspection'] } } });
      assert.equal(nonstandardChain.evaluate(context(input({ verdict: inspected() }), byKind)), null);
      const byAnchor = config({ allow: { ca_anchors: [{ sha256: 'F'.repeat(64), reason: 'proxy' }] } });
      assert.equal(nonstandardChain.evaluate(context(input({ verdict: inspected() }), byAnchor)), null);
      const other = config({ allow: { ca_anchors: [{ sha256: '0'.repeat(64), reason: 'other' }] } });
      assert.ok(nonstandardChain.evaluate(context(input({ verdict: inspected() }), other)));
    });
  });

  describe('unexpected_tls_library', () => {
    it('late_load: a provider loaded long after start', () => {
      const p = proc({
        executable: 'C:\\Windows\\System32\\svchost.exe',
        start_time: '2024-04-25T12:00:00Z',
        tls_libraries: [lib('C:\\Windows\\System32\\schannel.dll', '2024-05-01T09:59:50Z')],
      });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: p })));
      assert.ok(h);
      assert.equal(h.weight, 40);
      const f = (h.evidence.findings as { kind: string; loaded_after_start_seconds: number }[])[0]!;
      assert.equal(f.kind, 'late_load');
      assert.equal(f.loaded_after_start_seconds, 5 * 86400 + 21 * 3600 + 59 * 60 + 50);
      assert.match(h.summary, /schannel\.dll loaded 511190 s after the process started/);
    });
    it('after_remote_thread: a provider loaded right after a remote-thread annotation', () => {
      const p = proc({
        executable: 'C:\\Windows\\System32\\svchost.exe',
        start_time: '2024-05-01T09:58:00Z',
        tls_libraries: [lib('C:\\Windows\\System32\\schannel.dll', '2024-05-01T09:59:03Z')],
        annotations: [{ kind: 'remote_thread_created', time: '2024-05-01T09:59:00Z', detail: { source_image: 'C:\\Users\\x\\payload.exe' } }],
      });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: p })));
      assert.ok(h);
      assert.equal(h.weight, 50);
      const kinds = (h.evidence.findings as { kind: string }[]).map((f) => f.kind);
      assert.deepEqual(kinds, ['after_remote_thread']);
      const f = (h.evidence.findings as { annotation: { detail: object }; seconds_after_annotation: number }[])[0]!;
      assert.equal(f.seconds_after_annotation, 3);
      assert.deepEqual(f.annotation.detail, { source_image: 'C:\\Users\\x\\payload.exe' });
    });
    it('no_library: TLS with no TLS library and no static stack; not for Go, java or HTTP stacks', () => {
      const bare = proc({ tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libc.so.6', null, true, 'other')] });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: bare })));
      assert.ok(h);
      assert.equal(h.weight, 25);
      assert.equal((h.evidence.findings as { kind: string }[])[0]!.kind, 'no_library');
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: { ...bare, static_tls_stack: 'go' } }))), null);
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: { ...bare, executable: '/usr/lib/jvm/bin/java', name: 'java' } }))), null);
      const http = proc({ executable: 'C:\\Program Files\\App\\app.exe', tls_libraries: [lib('C:\\Windows\\System32\\winhttp.dll', null, true, 'http_stack')] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: http }))), null);
      const off = config({ rules: { unexpected_tls_library: { assume_module_visibility: false } } });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: bare }), off)), null);
    });
    it('a library loaded after the flow does not count, unless within load_tolerance', () => {
      const later = proc({ start_time: '2024-05-01T09:59:00Z', tls_libraries: [lib('/usr/lib/libssl.so.3', '2024-05-01T10:00:05Z', false)] });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: later })));
      assert.ok(h);
      assert.deepEqual((h.evidence.findings as { loaded_later: string[] }[])[0]!.loaded_later, ['/usr/lib/libssl.so.3']);
      const justAfter = proc({ start_time: '2024-05-01T09:59:00Z', tls_libraries: [lib('/usr/lib/libssl.so.3', '2024-05-01T10:00:00.006Z', false)] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: justAfter }))), null);
    });
    it('fresh_process: start, provider load and connection within the window, no TLS history', () => {
      const p = proc({
        executable: '/tmp/x/curl',
        start_time: '2024-05-01T09:59:59.000Z',
        tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', '2024-05-01T09:59:59.004Z')],
      });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: p })));
      assert.ok(h);
      assert.equal(h.weight, 15);
      const f = (h.evidence.findings as Record<string, unknown>[])[0]!;
      assert.equal(f.kind, 'fresh_process');
      assert.equal(f.flow_after_start_seconds, 1);
      assert.equal(f.library_after_start_seconds, 0.004);
      // a baselined identity: the library is expected
      const cache = new BaselineCache(256);
      cache.add({ host: 'ws1.example.net', identity: `/tmp/x/curl|sha256:${'d'.repeat(64)}`, executable: '/tmp/x/curl', signer: null, sha256: 'd'.repeat(64), firstSeen: T0, lastSeen: T0, flows: 1, tlsFlows: 1, bytesOut: 0, bytesIn: 0, destinations: [], snis: [], ja4s: [] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: p }), config(), cache)), null);
      // a long-running process
      assert.equal(unexpectedTlsLibrary.evaluate(context(input())), null);
    });
    it('fresh_process with an unknown load time: first seen mapped within the window bounds it', () => {
      // python3 -c "import ssl…": _ssl and libssl are dlopen()ed between two agent polls; only when they were first seen is known.
      const mapped = (observed: string) => ({ ...lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', null, null), load_time_source: 'unknown' as const, observed_at: observed });
      const p = proc({ executable: '/usr/bin/python3.11', name: 'python3.11', start_time: '2024-05-01T09:59:59.700Z', tls_libraries: [mapped('2024-05-01T10:00:00.020Z')] });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: p })));
      assert.ok(h);
      assert.equal(h.weight, 15);
      const f = (h.evidence.findings as Record<string, unknown>[])[0]!;
      assert.equal(f.kind, 'fresh_process');
      assert.equal(f.load_time, null);
      assert.equal(f.load_time_basis, 'first_observed');
      assert.equal(f.library_after_start_seconds, 0.32);
      assert.match(h.summary, /within 0\.32 s \(first seen mapped then\)/);
      // Connected 15 s after start, but first seen mapped only 31 s after start (the agent looked late): the load may be outside the window.
      const old = proc({ ...p, start_time: '2024-05-01T09:59:45.000Z', tls_libraries: [mapped('2024-05-01T10:00:16.000Z')] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: old }))), null);
      // Neither time known: nothing to correlate.
      const unknown = proc({ ...p, tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', null, null)] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: unknown }))), null);
    });
    it('compares endpoint times in the packet clock (the agent\'s process clock offset)', () => {
      // The host's clock runs 12.1 h ahead of the packets (as in one OTRF capture).
      const ahead = (iso: string) => new Date(Date.parse(iso) + 43_560_000).toISOString();
      const p = proc({
        executable: '/tmp/x/curl',
        start_time: ahead('2024-05-01T09:59:59.000Z'),
        tls_libraries: [lib('/usr/lib/x86_64-linux-gnu/libssl.so.3', ahead('2024-05-01T09:59:59.004Z'), null)],
      });
      const inp = input({ process: p });
      // Without the offset the library seems loaded 12 h after the flow: no library in time.
      assert.equal((unexpectedTlsLibrary.evaluate(context(inp))!.evidence.findings as { kind: string }[])[0]!.kind, 'no_library');
      inp.enrichment.result!.process_clock_offset_seconds = 43_560;
      const h = unexpectedTlsLibrary.evaluate(context(inp));
      assert.ok(h);
      assert.equal((h.evidence.findings as { kind: string }[])[0]!.kind, 'fresh_process');
      assert.equal(h.evidence.clock_offset_seconds, 43_560);
      assert.equal(h.evidence.process_start, '2024-05-01T09:59:59.000Z');
    });
    it('family_mismatch only for fingerprints the operator mapped', () => {
      const p = proc({ executable: 'C:\\Tools\\agent.exe', tls_libraries: [lib('C:\\Tools\\libssl-3-x64.dll', '2024-05-01T09:00:01Z')] });
      const t = tls({ ja4: 't12d190700_aaaaaaaaaaaa_bbbbbbbbbbbb' });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: p, tls: t }))), null, 'no map: off');
      const cfg = config({ rules: { unexpected_tls_library: { fingerprint_families: { t12d190700_aaaaaaaaaaaa: 'schannel' } } } });
      const h = unexpectedTlsLibrary.evaluate(context(input({ process: p, tls: t }), cfg));
      assert.ok(h);
      const f = (h.evidence.findings as Record<string, unknown>[])[0]!;
      assert.equal(f.kind, 'family_mismatch');
      assert.equal(f.fingerprint_family, 'schannel');
      assert.deepEqual(f.loaded_families, ['openssl']);
      assert.match(h.summary, /listed as schannel, but the process loaded only openssl/);
      const both = proc({ ...p, tls_libraries: [...p.tls_libraries, lib('C:\\Windows\\System32\\schannel.dll', '2024-05-01T09:00:01Z')] });
      assert.equal(unexpectedTlsLibrary.evaluate(context(input({ process: both, tls: t }), cfg)), null);
    });
  });

  describe('tls_nonstandard_port', () => {
    it('fires on TLS to 6666 and names what the port usually carries', () => {
      const h = tlsNonstandardPort.evaluate(context(input({ dstPort: 8080 })));
      assert.ok(h);
      assert.equal(h.weight, 15);
      assert.equal(h.evidence.port, 8080);
      assert.equal(h.evidence.usual_service, 'http-alt');
      assert.match(h.summary, /port 8080 \(usually http-alt\) is not a standard TLS port/);
    });
    it('does not fire on 443, 8443, behind STARTTLS, or to a destination the process used before', () => {
      assert.equal(tlsNonstandardPort.evaluate(context(input())), null);
      assert.equal(tlsNonstandardPort.evaluate(context(input({ dstPort: 8443 }))), null);
      assert.equal(tlsNonstandardPort.evaluate(context(input({ dstPort: 25, tls: tls({ prefix: 'smtp' }) }))), null);
      const cache = seed(new BaselineCache(256), { destinations: ['93.184.215.14:6666'] });
      assert.equal(tlsNonstandardPort.evaluate(context(input({ dstPort: 6666 }), config(), cache)), null);
      const strict = config({ rules: { tls_nonstandard_port: { skip_known_destination: false } } });
      const h = tlsNonstandardPort.evaluate(context(input({ dstPort: 6666 }), strict, cache));
      assert.ok(h);
      assert.equal(h.evidence.destination_known_for_process, true);
    });
  });

  describe('no_sni', () => {
    it('fires when the ClientHello has no server name', () => {
      const h = noSni.evaluate(context(input({ tls: tls({ sni: null }) })));
      assert.ok(h);
      assert.equal(h.weight, 10);
      assert.equal(h.evidence.destination, '93.184.215.14:443');
      assert.deepEqual(h.evidence.alpn_offered, ['h2', 'http/1.1']);
    });
    it('does not fire with SNI, without a ClientHello, or mid-stream', () => {
      assert.equal(noSni.evaluate(context(input())), null);
      assert.equal(noSni.evaluate(context(input({ tls: tls({ sni: null, clientHelloCount: 0 }) }))), null);
      assert.equal(noSni.evaluate(context(input({ tls: tls({ sni: null, midstream: true }) }))), null);
    });
  });

  describe('user_writable_image_path', () => {
    it('fires on Windows \\Users\\…\\Downloads and Linux /tmp, /dev/shm, home', () => {
      for (const [exe, matched] of [
        ['C:\\Users\\stevie.marie\\Downloads\\winx64_payload.exe', '\\users\\'],
        ['C:\\ProgramData\\x\\a.exe', '\\programdata\\'],
        ['D:\\Temp\\a.exe', '\\temp\\'],
        ['/tmp/curl', '/tmp/'],
        ['/dev/shm/.x', '/dev/shm/'],
        ['/home/bob/bin/tool', '/home/'],
      ] as const) {
        const h = userWritableImagePath.evaluate(context(input({ process: proc({ executable: exe }) })));
        assert.ok(h, exe);
        assert.equal(h.evidence.matched, matched, exe);
        assert.equal(h.evidence.executable, exe);
      }
    });
    it('does not fire on system paths or without a process', () => {
      for (const exe of ['C:\\Windows\\System32\\svchost.exe', 'C:\\Program Files\\App\\a.exe', '/usr/bin/curl', '/opt/app/bin/app']) {
        assert.equal(userWritableImagePath.evaluate(context(input({ process: proc({ executable: exe }) }))), null, exe);
      }
      assert.equal(userWritableImagePath.evaluate(context(input({ process: null }))), null);
    });
  });

  describe('listed_unexpected_process', () => {
    it('fires on notepad.exe speaking TLS, citing its sources', () => {
      const h = listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: 'C:\\Windows\\System32\\notepad.exe' }) })));
      assert.ok(h);
      assert.equal(h.weight, 30);
      const e = (h.evidence.entries as { id: string; sources: string[] }[])[0]!;
      assert.equal(e.id, 'notepad');
      assert.ok(e.sources.some((s) => s.includes('net_connection_win_notepad.yml')));
      assert.match(h.summary, /notepad\.exe is listed/);
    });
    it('honours conditions: rundll32 only to public addresses, dllhost only without arguments', () => {
      const r = proc({ executable: 'C:\\Windows\\System32\\rundll32.exe' });
      assert.ok(listedUnexpectedProcess.evaluate(context(input({ process: r, dstIp: '8.8.8.8' }))));
      assert.equal(listedUnexpectedProcess.evaluate(context(input({ process: r, dstIp: '10.0.0.5' }))), null);
      const d = proc({ executable: 'C:\\Windows\\System32\\dllhost.exe', command_line: 'C:\\Windows\\system32\\DllHost.exe /Processid:{3EB3C877-1F16-487C-9050-104DBCD66683}' });
      assert.equal(listedUnexpectedProcess.evaluate(context(input({ process: d }))), null);
      const h = listedUnexpectedProcess.evaluate(context(input({ process: { ...d, command_line: 'C:\\Windows\\system32\\dllhost.exe' } })));
      assert.ok(h);
      assert.deepEqual((h.evidence.entries as { conditions: string[] }[])[0]!.conditions, ['no_arguments']);
    });
    it('low-severity entries weigh weight_low; unlisted images do not fire', () => {
      const h = listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: 'C:\\Python311\\python3.11.exe' }) })));
      assert.ok(h);
      assert.equal(h.weight, 10);
      assert.equal(listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: 'C:\\Program Files\\Mozilla Firefox\\firefox.exe' }) }))), null);
    });
    it('POSIX interpreters (low) match POSIX paths only; a Windows python matches the Windows entry alone', () => {
      const h = listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: '/usr/bin/python3.11', name: 'python3.11' }) })));
      assert.ok(h);
      assert.equal(h.weight, 10);
      assert.deepEqual((h.evidence.entries as { id: string }[]).map((e) => e.id), ['script_interpreters_posix']);
      const w = listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: 'C:\\Python311\\python3.11.exe' }) })));
      assert.deepEqual((w!.evidence.entries as { id: string }[]).map((e) => e.id), ['script_interpreters']);
      assert.equal(listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: '/usr/bin/curl' }) }))), null);
      assert.equal(listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: '/usr/bin/perl5.36.0', name: 'perl5.36.0' }), tls: null }))), null, 'not TLS');
    });
    it('path fragments: images under \\Users\\Public', () => {
      const h = listedUnexpectedProcess.evaluate(context(input({ process: proc({ executable: 'C:\\Users\\Public\\x.exe' }) })));
      assert.ok(h);
      assert.equal((h.evidence.entries as { matched: string }[])[0]!.matched, 'path contains \\users\\public\\');
    });
    it('rejects a malformed list naming the key', () => {
      assert.throws(() => compileProcessLists({ unexpected_network: [{ id: 'x', image: 'x', severity: 'huge', sources: ['s'] }] }, 'bad.json'), /process_lists\.unexpected_network\[0\]\.severity/);
    });
  });

  it('no rule throws on degenerate inputs', () => {
    const weird = [
      input({ tls: null, verdict: null, process: null }),
      input({ process: proc({ executable: null, name: null, start_time: 'garbage', tls_libraries: [lib('', 'not a time', null, '')], annotations: [{ kind: 'remote_thread_created', time: 'x', detail: {} }] }) }),
      input({ payloadOut: 0, payloadIn: 0, tls: tls({ sni: '', ja4: null }) }),
      input({ dstIp: 'not-an-ip', process: proc({ executable: 'C:\\Windows\\rundll32.exe', command_line: null }) }),
    ];
    for (const i of weird) for (const r of RULES) assert.doesNotThrow(() => r.evaluate(context(i)), r.name);
    void S;
  });
});
