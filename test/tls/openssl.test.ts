/**
 * Real handshakes recorded from OpenSSL (test/tls/fixtures/capture-openssl.mjs):
 * the facts the parser draws from them, and JA3/JA3S against tshark's on a
 * pcap built from the same bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { TlsParser, type TlsSessionFacts } from '../../src/tls/index.js';
import { feedConversation } from './helpers/feeder.js';
import { FIXTURES, fixtureChunks } from './helpers/fixtures.js';
import { conversationPcap } from './helpers/pcap-writer.js';
import { tempDir } from '../helpers/tools.js';


function run(name: string): TlsSessionFacts {
  const p = new TlsParser(new AnomalyCounters());
  feedConversation(p, fixtureChunks(name), true);
  return p.finish();
}

const serverDer = readFileSync(join(FIXTURES, 'server-cert.der'));
const clientDer = readFileSync(join(FIXTURES, 'client-cert.der'));

describe('OpenSSL handshakes', () => {
  it('TLS 1.3 with ALPN: version, cipher, SNI, ALPN offered, established, encrypted flights', () => {
    const f = run('tls13-alpn');
    assert.equal(f.versionName, 'TLSv13');
    assert.equal(f.cipherName, 'TLS_AES_256_GCM_SHA384');
    assert.equal(f.sni, 'tlsentry.test');
    assert.deepEqual(f.alpnOffered, ['h2', 'http/1.1']);
    assert.equal(f.alpnSelected, null, 'TLS 1.3 sends the selected ALPN encrypted');
    assert.equal(f.established, true);
    assert.equal(f.resumed, false);
    assert.equal(f.history, 'CsiI');
    assert.equal(f.server.certificates.length, 0, 'TLS 1.3 certificates are encrypted');
    assert.equal(f.client.encryptedHandshakeRecords, 1, "the client's Finished");
    assert.ok(f.server.encryptedHandshakeRecords >= 1);
    assert.ok(f.client.applicationDataBytes > 0, 'the request');
    assert.deepEqual(f.anomalies, []);
    assert.match(f.ja4 ?? '', /^t13d\d{4}h2_/);
  });

  it('TLS 1.2 with ALPN: selected protocol, certificate DER, established after both Finished', () => {
    const f = run('tls12-alpn');
    assert.equal(f.versionName, 'TLSv12');
    assert.equal(f.alpnSelected, 'http/1.1');
    assert.equal(f.established, true);
    assert.equal(f.history, 'CsxknGIti');
    assert.equal(f.server.certificates.length, 1);
    assert.ok(f.server.certificates[0].equals(serverDer));
    assert.equal(f.client.changeCipherSpecRecords, 1);
    assert.equal(f.server.changeCipherSpecRecords, 1);
    assert.equal(f.client.encryptedHandshakeRecords, 1);
    assert.equal(f.client.applicationDataRecords, 1);
    assert.equal(f.client.applicationDataBytes, 43, '19 bytes of text + AES-GCM explicit nonce and tag');
    assert.deepEqual(f.anomalies, []);
  });

  it('TLS 1.2 resumption by ticket and by session id; a first handshake is not resumed', () => {
    assert.equal(run('tls12-ticket-first').resumed, false);
    const t = run('tls12-ticket-resumed');
    assert.equal(t.resumed, true);
    assert.equal(t.established, true);
    assert.equal(t.server.certificates.length, 0);
    assert.equal(run('tls12-sessionid-first').resumed, false);
    const s = run('tls12-sessionid-resumed');
    assert.equal(s.resumed, true);
    assert.equal(s.history, 'CsiI');
  });

  it('TLS 1.3 resumption by PSK', () => {
    assert.equal(run('tls13-psk-first').resumed, false);
    const f = run('tls13-psk-resumed');
    assert.equal(f.resumed, true);
    assert.ok(f.clientHello !== null && f.clientHello.pskIdentities === 1);
    assert.equal(f.serverHello?.pskSelectedIdentity, 0);
    assert.equal(f.established, true);
  });

  it('TLS 1.3 HelloRetryRequest', () => {
    const f = run('tls13-hrr');
    assert.equal(f.helloRetryRequest, true);
    assert.equal(f.retryRequest?.keyShareGroup, 0x001d, 'the server asks for X25519');
    assert.equal(f.clientHelloCount, 2);
    assert.equal(f.serverHelloCount, 2);
    assert.equal(f.history, 'CjiICs');
    assert.equal(f.versionName, 'TLSv13');
    assert.equal(f.established, true);
    assert.deepEqual(f.clientHello?.keyShareGroups, [0x0018], 'the first hello offered P-384 only');
    assert.deepEqual(f.anomalies, []);
  });

  it('TLS 1.2 client certificate', () => {
    const f = run('tls12-client-cert');
    assert.equal(f.client.certificates.length, 1);
    assert.ok(f.client.certificates[0].equals(clientDer));
    assert.ok(f.server.certificates[0].equals(serverDer));
    assert.equal(f.history, 'CsxkrnXGYIti');
  });

  it('no SNI, no ALPN', () => {
    const f = run('tls12-no-sni-no-ext-alpn');
    assert.equal(f.sni, null);
    assert.equal(f.cipherName, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA');
    assert.match(f.ja4 ?? '', /^t12i\d{4}00_/);
  });

  it('a refused handshake: the alert is named, nothing established', () => {
    const f = run('tls13-refused');
    assert.equal(f.established, false);
    assert.equal(f.serverHello, null);
    assert.deepEqual(
      { level: f.lastAlert?.level, name: f.lastAlert?.name, fromClient: f.lastAlert?.fromClient },
      { level: 2, name: 'protocol_version', fromClient: false },
    );
  });

  const tshark = spawnSync('tshark', ['--version']).status === 0;
  it('JA3 and JA3S equal tshark on every fixture', { skip: tshark ? false : 'tshark not installed' }, () => {
    const dir = tempDir('tlsentry-ja3-');
    let compared = 0;
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
      const name = file.replace(/\.json$/, '');
      const pcap = join(dir, `${name}.pcap`);
      writeFileSync(pcap, conversationPcap(fixtureChunks(name)));
      const out = execFileSync(
        'tshark',
        ['-r', pcap, '-Y', 'tls.handshake.type==1 || tls.handshake.type==2', '-T', 'fields', '-E', 'separator=|',
          '-e', 'tls.handshake.type', '-e', 'tls.handshake.ja3_full', '-e', 'tls.handshake.ja3', '-e', 'tls.handshake.ja3s_full', '-e', 'tls.handshake.ja3s'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const f = run(name);
      const lines = out.split('\n').filter(Boolean).map((l) => l.split('|'));
      const ch = lines.find((l) => l[0].split(',').includes('1'));
      assert.ok(ch, `${name}: tshark saw a ClientHello`);
      assert.equal(f.ja3String, ch[1], `${name} JA3 string`);
      assert.equal(f.ja3, ch[2], `${name} JA3`);
      const shs = lines.filter((l) => l[0].split(',').includes('2'));
      if (shs.length > 0) {
        const last = shs[shs.length - 1];
        assert.equal(f.ja3sString, last[3], `${name} JA3S string`);
        assert.equal(f.ja3s, last[4], `${name} JA3S`);
      }
      compared++;
    }
    assert.ok(compared >= 10);
  });
});
