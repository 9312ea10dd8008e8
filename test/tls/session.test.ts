/** TlsParser over built conversations: behaviour, prefixes, gaps, options. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Direction } from '../../src/flow/stream-parser.js';
import { AnomalyCounters } from '../../src/shared/anomalies.js';
import { parseClientHello } from '../../src/tls/client-hello.js';
import { ja3, ja4 } from '../../src/tls/fingerprints.js';
import { createTlsParserFactory, TlsParser, type TlsParserOptions, type TlsSessionFacts } from '../../src/tls/index.js';
import { DirectionFeeder, feedConversation } from './helpers/feeder.js';
import {
  appData,
  clientHelloBody,
  echOuterExt,
  ext,
  handshake,
  records,
  sniExt,
  supportedVersionsExt,
  u16,
} from './helpers/hello-builder.js';
import { CERT_A, CERT_B, chromeLikeHello, directionBytes, tls12Session, tls13Session, type Chunk } from './helpers/sessions.js';

function run(chunks: readonly Chunk[], opts: TlsParserOptions = {}, counters = new AnomalyCounters()): { f: TlsSessionFacts; p: TlsParser } {
  const p = new TlsParser(counters, opts);
  feedConversation(p, chunks, true);
  return { f: p.finish(), p };
}

/** Feed each direction's bytes in pieces of `size`, alternating as in the original order. */
function runInPieces(chunks: readonly Chunk[], size: number): TlsSessionFacts {
  const p = new TlsParser(new AnomalyCounters());
  const feeders = [new DirectionFeeder(p, 0), new DirectionFeeder(p, 1)];
  for (const [d, b] of chunks) for (let i = 0; i < b.length; i += size) feeders[d].push(b.subarray(i, i + size));
  return p.finish();
}

const text = (s: string) => Buffer.from(s, 'latin1');

describe('TLS 1.2 session', () => {
  it('collects versions, cipher, names, fingerprints, certificates and record counts', () => {
    const chunks = tls12Session();
    const { f } = run(chunks);
    assert.equal(f.detected, true);
    assert.equal(f.version, 0x0303);
    assert.equal(f.versionName, 'TLSv12');
    assert.equal(f.cipher, 0xc02f);
    assert.equal(f.cipherName, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    assert.equal(f.sni, 'tls12.example');
    assert.deepEqual(f.alpnOffered, ['h2', 'http/1.1']);
    assert.equal(f.alpnSelected, 'h2');
    assert.equal(f.established, true);
    assert.equal(f.resumed, false);
    assert.equal(f.history, 'CsxknGIi');
    assert.deepEqual(f.server.certificates, [CERT_A, CERT_B]);
    assert.deepEqual(f.client.certificates, []);
    assert.equal(f.client.handshakeRecords, 2);
    assert.equal(f.client.changeCipherSpecRecords, 1);
    assert.equal(f.client.encryptedHandshakeRecords, 1);
    assert.equal(f.server.encryptedHandshakeRecords, 1);
    assert.equal(f.client.applicationDataRecords, 1);
    assert.equal(f.client.applicationDataBytes, 100);
    assert.equal(f.server.applicationDataRecords, 3, 'records of 5000, 16384 and 2048 bytes');
    assert.equal(f.server.applicationDataBytes, 5000 + 16384 + 2048);
    assert.deepEqual(f.anomalies, []);
    const ch = f.clientHello!;
    assert.equal(f.ja3, ja3(ch).hash);
    assert.equal(f.ja3String, ja3(ch).string);
    assert.equal(f.ja4, ja4(ch).ja4);
    assert.equal(f.ja4_r, ja4(ch).ja4_r);
    assert.equal(f.ja4_ro, ja4(ch).ja4_ro);
    assert.equal(f.ja3sString, '771,49199,65281-11-16');
    assert.equal(f.ja4s, null, 'JA4S only when asked for');
  });

  it('follows Zeek: established only once both sides encrypted and another record came', () => {
    const chunks = tls12Session();
    const p = new TlsParser(new AnomalyCounters());
    const feeders = [new DirectionFeeder(p, 0), new DirectionFeeder(p, 1)];
    feeders[0].push(chunks[0][1]);
    feeders[1].push(chunks[1][1]);
    feeders[0].push(chunks[2][1]); // client CKE, CCS, Finished
    assert.equal(p.facts.client.encrypted, true);
    assert.equal(p.facts.established, false);
    feeders[1].push(records(20, Buffer.from([1]))); // server CCS only
    assert.equal(p.facts.established, false);
    feeders[1].push(records(22, Buffer.alloc(40))); // server Finished
    assert.equal(p.facts.established, true);
  });

  it('skips encrypted bodies: only record headers are delivered', () => {
    const chunks = tls12Session({ clientData: [16000, 16000, 16000], serverData: [16000, 16000, 16000, 16000] });
    const p = new TlsParser(new AnomalyCounters());
    const feeders = [new DirectionFeeder(p, 0), new DirectionFeeder(p, 1)];
    const handshakeBytes = [0, 0];
    chunks.forEach(([d, b], i) => {
      for (let o = 0; o < b.length; o += 1448) feeders[d].push(b.subarray(o, o + 1448));
      if (i < 4) handshakeBytes[d] += b.length;
    });
    const f = p.finish();
    assert.equal(f.client.applicationDataBytes, 48000);
    assert.equal(f.server.applicationDataBytes, 64000);
    // Each encrypted record costs its 5-byte header (plus what shares the segment).
    assert.ok(feeders[1].delivered <= handshakeBytes[1] + 4 * 1448, `server bytes delivered: ${feeders[1].delivered}`);
  });

  it('resumption: echoed session id; ticket without key exchange', () => {
    const sid = Buffer.alloc(32, 0x42);
    const hello = clientHelloBody({ sessionId: sid, extensions: [sniExt('r.example')] });
    const echo = Buffer.concat([u16(0x0303), Buffer.alloc(32, 1), Buffer.from([32]), sid, u16(0xc02f), Buffer.from([0])]);
    const resumed: Chunk[] = [
      [0, records(22, handshake(1, hello))],
      [1, Buffer.concat([records(22, handshake(2, echo)), records(20, Buffer.from([1])), records(22, Buffer.alloc(40))])],
      [0, Buffer.concat([records(20, Buffer.from([1])), records(22, Buffer.alloc(40))])],
    ];
    const r = run(resumed).f;
    assert.equal(r.resumed, true);
    assert.equal(r.established, true);
    assert.equal(r.history, 'CsiI');

    const ticketHello = clientHelloBody({ extensions: [ext(0x0023, Buffer.alloc(100, 9))] });
    const t = tls12Session({ clientHello: ticketHello, serverSessionId: Buffer.alloc(0) });
    // Abbreviated: server SH + CCS + Finished, client CCS + Finished (no key exchange).
    const sh = Buffer.concat([u16(0x0303), Buffer.alloc(32, 1), Buffer.from([0]), u16(0xc02f), Buffer.from([0])]);
    const abbreviated: Chunk[] = [
      t[0],
      [1, Buffer.concat([records(22, handshake(2, sh)), records(22, handshake(4, Buffer.alloc(50))), records(20, Buffer.from([1])), records(22, Buffer.alloc(40))])],
      [0, Buffer.concat([records(20, Buffer.from([1])), records(22, Buffer.alloc(40))])],
    ];
    assert.equal(run(abbreviated).f.resumed, true);
    assert.equal(run(t).f.resumed, false, 'a full handshake with a ticket offered is not resumed');
  });

  it('names a plaintext alert and counts encrypted ones', () => {
    const chunks: Chunk[] = [tls12Session()[0], [1, records(21, Buffer.from([2, 40]))]];
    const f = run(chunks).f;
    assert.deepEqual(f.lastAlert, { direction: 1, fromClient: false, level: 2, description: 40, name: 'handshake_failure' });
    assert.equal(f.server.alertRecords, 1);
    assert.equal(f.history, 'Cl');
    const g = run([...tls12Session(), [0, records(21, Buffer.alloc(26))]]).f;
    assert.equal(g.lastAlert?.name, 'encrypted');
    assert.equal(g.client.alertRecords, 1);
  });

  it('notes plaintext application data before encryption, and heartbeats', () => {
    const chunks: Chunk[] = [tls12Session()[0], [0, appData(10)], [0, records(24, Buffer.from([1, 0, 16, ...Buffer.alloc(16)]))]];
    const f = run(chunks).f;
    assert.deepEqual(f.anomalies, ['tls.record.plaintext_app_data']);
    assert.equal(f.client.heartbeatRecords, 1);
    assert.equal(f.history, 'CB');
  });
});

describe('TLS 1.3 session', () => {
  it('is established when the client sends its first encrypted record; flights are not app data', () => {
    const chunks = tls13Session();
    const p = new TlsParser(new AnomalyCounters());
    const feeders = [new DirectionFeeder(p, 0), new DirectionFeeder(p, 1)];
    feeders[0].push(chunks[0][1]);
    feeders[1].push(chunks[1][1]);
    assert.equal(p.facts.established, false);
    assert.equal(p.facts.server.encrypted, true);
    feeders[0].push(chunks[2][1]);
    assert.equal(p.facts.established, true);
    for (const [d, b] of chunks.slice(3)) feeders[d].push(b);
    const f = p.finish();
    assert.equal(f.versionName, 'TLSv13');
    assert.equal(f.cipherName, 'TLS_AES_128_GCM_SHA256');
    assert.equal(f.server.encryptedHandshakeRecords, 4);
    assert.equal(f.client.encryptedHandshakeRecords, 1);
    assert.equal(f.client.applicationDataBytes, 200);
    assert.equal(f.server.applicationDataBytes, 1000);
    assert.equal(f.resumed, false, 'TLS 1.3 echoes the session id without resuming');
    assert.equal(f.history, 'CsiI');
    assert.deepEqual(f.anomalies, []);
  });

  it('without compatibility CCS as well', () => {
    const f = run(tls13Session({ ccs: false })).f;
    assert.equal(f.established, true);
    assert.equal(f.history, 'Cs');
  });

  it('splits of the ClientHello over records and segments change nothing', () => {
    const hello = chromeLikeHello('pq.example', true);
    assert.ok(hello.length > 1500);
    const base = run(tls13Session({ clientHello: hello })).f;
    assert.equal(base.sni, 'pq.example');
    assert.deepEqual(base.clientHello?.keyShareGroups, [0x2a2a, 0x11ec, 0x001d]);
    for (const frag of [1, 7, 100, 512, 1400]) {
      const chunks = tls13Session({ clientHello: hello });
      chunks[0] = [0, records(22, handshake(1, hello), 0x0301, frag)];
      for (const seg of [1, 3, 536, 1448]) {
        const f = runInPieces(chunks, seg);
        assert.equal(f.ja4, base.ja4, `fragment ${frag}, segment ${seg}`);
        assert.equal(f.ja3, base.ja3);
        assert.equal(f.established, true);
        assert.deepEqual(f.anomalies, []);
      }
    }
  });

  it('flags ECH; the visible name is the outer SNI', () => {
    const hello = clientHelloBody({ extensions: [sniExt('public.example'), supportedVersionsExt(0x0304), echOuterExt()] });
    const f = run(tls13Session({ clientHello: hello })).f;
    assert.equal(f.ech, true);
    assert.equal(f.sni, 'public.example');
    assert.equal(f.clientHello?.ech?.configId, 7);
  });

  it('early data before the ServerHello is application data, not an anomaly', () => {
    const hello = clientHelloBody({ extensions: [supportedVersionsExt(0x0304), ext(0x002a)] });
    const chunks = tls13Session({ clientHello: hello });
    chunks.splice(1, 0, [0, appData(300)]);
    const f = run(chunks).f;
    assert.deepEqual(f.anomalies, []);
    assert.equal(f.client.applicationDataBytes, 500);
  });
});

describe('detection by content', () => {
  it('stops at once on flows that are not TLS', () => {
    for (const [dir, first] of [
      [1, text('SSH-2.0-OpenSSH_9.6\r\n')],
      [0, Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05])],
      [1, text('HTTP/1.1 200 OK\r\n')],
    ] as [Direction, Buffer][]) {
      const p = new TlsParser(new AnomalyCounters());
      new DirectionFeeder(p, dir).push(first);
      assert.equal(p.wantsData(), false, first.toString('latin1'));
      assert.equal(p.finish().detected, false);
    }
  });

  it('gives a text-first client two lines, then stops unless a banner came', () => {
    const p = new TlsParser(new AnomalyCounters());
    const c = new DirectionFeeder(p, 0);
    c.push(text('GET / HTTP/1.1\r\n'));
    assert.equal(p.wantsData(), true);
    c.push(text('Host: example.com\r\n\r\n'));
    assert.equal(p.wantsData(), false);
    assert.deepEqual(p.finish().anomalies, []);
  });

  it('sees TLS on any port, mid-session too', () => {
    const f = run([[0, appData(100)], [1, appData(300)], [0, appData(50)]]).f;
    assert.equal(f.detected, true);
    assert.equal(f.midstream, true);
    assert.equal(f.established, false);
    assert.equal(f.client.applicationDataBytes, 150);
    assert.equal(f.server.applicationDataBytes, 300);
    assert.deepEqual(f.anomalies, ['tls.stream.midstream']);
  });

  it('takes the side that sent the ClientHello as the client', () => {
    const chunks = tls12Session().map(([d, b]) => [(1 - d) as Direction, b] as const);
    const f = run(chunks).f;
    assert.equal(f.clientDirection, 1);
    assert.equal(f.sni, 'tls12.example');
    assert.equal(f.client.applicationDataBytes, 100);
    assert.deepEqual(f.server.certificates, [CERT_A, CERT_B]);
    assert.equal(f.history, 'CsxknGIi');
  });

  it('reads an SSLv2-compatible ClientHello followed by TLS 1.0', () => {
    const specs = Buffer.from([0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80]);
    const body = Buffer.concat([Buffer.from([1, 3, 1]), u16(specs.length), u16(0), u16(16), specs, Buffer.alloc(16, 1)]);
    const v2 = Buffer.concat([Buffer.from([0x80 | (body.length >> 8), body.length & 0xff]), body]);
    const t = tls12Session();
    const sh = Buffer.concat([u16(0x0301), Buffer.alloc(32, 1), Buffer.from([0]), u16(0x002f), Buffer.from([0])]);
    const chunks: Chunk[] = [
      [0, v2],
      [1, records(22, Buffer.concat([handshake(2, sh), handshake(14, Buffer.alloc(0))]), 0x0301)],
      t[2], t[3], t[4],
    ];
    const f = run(chunks).f;
    assert.equal(f.clientHello?.sslv2, true);
    assert.deepEqual(f.clientHello?.cipherSuites, [0x2f, 0x35, 0x010080]);
    assert.equal(f.versionName, 'TLSv10');
    assert.equal(f.cipherName, 'TLS_RSA_WITH_AES_128_CBC_SHA');
    assert.equal(f.ja3, null, 'no fingerprint of an SSLv2 hello (tshark computes none either)');
    assert.equal(f.established, true);
    assert.equal(f.history, 'CsnGIi');
  });
});

describe('plaintext prefixes', () => {
  const tls = tls12Session();
  const clientTls = directionBytes(tls, 0);
  const serverTls = directionBytes(tls, 1);

  function check(chunks: Chunk[], prefix: string): void {
    const f = run(chunks).f;
    assert.equal(f.prefix, prefix);
    assert.equal(f.sni, 'tls12.example', prefix);
    assert.equal(f.versionName, 'TLSv12', prefix);
    assert.equal(f.established, true, prefix);
    assert.deepEqual(f.anomalies, [], prefix);
  }

  it('HTTP CONNECT, with the ClientHello sent before the proxy answers too', () => {
    const req = text('CONNECT tls12.example:443 HTTP/1.1\r\nHost: tls12.example:443\r\nProxy-Authorization: Basic eDp5\r\n\r\n');
    const resp = text('HTTP/1.1 200 Connection established\r\nVia: proxy\r\n\r\n');
    check([[0, req], [1, resp], [0, clientTls], [1, serverTls]], 'http_connect');
    check([[0, Buffer.concat([req, clientTls])], [1, Buffer.concat([resp, serverTls])]], 'http_connect');
    const refused = run([[0, req], [1, text('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n')]]);
    assert.equal(refused.f.detected, false);
  });

  it('SOCKS 4, 4a and 5 (with and without username/password)', () => {
    check([[0, Buffer.from([4, 1, 1, 0xbb, 93, 184, 216, 34, 0])], [1, Buffer.from([0, 0x5a, 0, 0, 0, 0, 0, 0])], [0, clientTls], [1, serverTls]], 'socks4');
    check([[0, Buffer.concat([Buffer.from([4, 1, 1, 0xbb, 0, 0, 0, 1]), text('u\0tls12.example\0')])], [1, Buffer.from([0, 0x5a, 0, 0, 0, 0, 0, 0])], [0, clientTls], [1, serverTls]], 'socks4');
    const req5 = Buffer.from([5, 1, 0, 3, 13, ...text('tls12.example'), 1, 0xbb]);
    const rep5 = Buffer.from([5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]);
    check([[0, Buffer.from([5, 1, 0])], [1, Buffer.from([5, 0])], [0, req5], [1, rep5], [0, clientTls], [1, serverTls]], 'socks5');
    check(
      [[0, Buffer.from([5, 2, 0, 2])], [1, Buffer.from([5, 2])], [0, Buffer.from([1, 1, 0x75, 1, 0x70])], [1, Buffer.from([1, 0])], [0, req5], [1, rep5], [0, clientTls], [1, serverTls]],
      'socks5',
    );
  });

  it('STARTTLS for SMTP, IMAP, POP3 and FTP', () => {
    check(
      [
        [1, text('220 mx.example ESMTP\r\n')],
        [0, text('EHLO client.example\r\n')],
        [1, text('250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n')],
        [0, text('STARTTLS\r\n')],
        [1, text('220 2.0.0 Ready to start TLS\r\n')],
        [0, clientTls],
        [1, serverTls],
      ],
      'smtp',
    );
    check([[1, text('* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n')], [0, text('a001 STARTTLS\r\n')], [1, text('a001 OK Begin TLS negotiation now\r\n')], [0, clientTls], [1, serverTls]], 'imap');
    check([[1, text('+OK POP3 ready\r\n')], [0, text('STLS\r\n')], [1, text('+OK Begin TLS\r\n')], [0, clientTls], [1, serverTls]], 'pop3');
    check([[1, text('220 FTP ready\r\n')], [0, text('AUTH TLS\r\n')], [1, text('234 Proceed\r\n')], [0, clientTls], [1, serverTls]], 'ftp');
  });

  it('XMPP, LDAP and PostgreSQL upgrades', () => {
    check(
      [
        [0, text("<?xml version='1.0'?><stream:stream to='x' xmlns='jabber:client' version='1.0'>")],
        [1, text("<?xml version='1.0'?><stream:stream from='x' id='1' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>")],
        [0, text("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")],
        [1, text("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")],
        [0, clientTls],
        [1, serverTls],
      ],
      'xmpp',
    );
    check([[0, Buffer.from('301d02010177188016312e332e362e312e342e312e313436362e3230303337', 'hex')], [1, Buffer.from('300c02010178070a010004000400', 'hex')], [0, clientTls], [1, serverTls]], 'ldap');
    check([[0, Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f])], [1, text('S')], [0, clientTls], [1, serverTls]], 'postgres');
  });

  it('a refused STARTTLS gives up quietly within the budget', () => {
    const p = new TlsParser(new AnomalyCounters());
    const s = new DirectionFeeder(p, 1);
    const c = new DirectionFeeder(p, 0);
    s.push(text('220 mx ESMTP\r\n'));
    c.push(text('STARTTLS\r\n'));
    s.push(text('454 TLS not available\r\n'));
    for (let i = 0; i < 200 && p.wantsData(); i++) c.push(text(`RCPT TO:<user${i}@example.com>\r\n`));
    assert.equal(p.finish().detected, false);
  });
});

describe('gaps', () => {
  it('a gap in encrypted data: resynchronise on the next record header', () => {
    const chunks = tls12Session({ serverData: [] });
    const p = new TlsParser(new AnomalyCounters());
    const feeders = [new DirectionFeeder(p, 0), new DirectionFeeder(p, 1)];
    for (const [d, b] of chunks) feeders[d].push(b);
    const records3 = Buffer.concat([appData(1000), appData(2000), appData(3000)]);
    feeders[1].push(records3.subarray(0, 700)); // header + part of the first body: skip pending
    feeders[1].gap(1500); // through the second header
    feeders[1].push(records3.subarray(2200)); // rest of record 2, record 3
    const f = p.finish();
    assert.ok(f.anomalies.includes('tls.gap.resynced'), JSON.stringify(f.anomalies));
    assert.equal(f.server.applicationDataRecords, 2, 'records 1 and 3');
    assert.equal(f.server.applicationDataBytes, 4000);
  });

  it('a gap inside the ClientHello: the fields seen so far, and named anomalies', () => {
    const hello = chromeLikeHello('gap.example');
    const rec = records(22, handshake(1, hello));
    const p = new TlsParser(new AnomalyCounters());
    const c = new DirectionFeeder(p, 0);
    c.push(rec.subarray(0, 200));
    c.gap(100);
    c.push(rec.subarray(300));
    c.push(appData(10));
    const f = p.finish();
    assert.equal(f.sni, 'gap.example');
    assert.equal(f.clientHello?.truncated, true);
    assert.equal(f.ja4, null, 'no fingerprint of a partial hello');
    assert.ok(f.anomalies.includes('tls.gap.handshake'));
    assert.ok(f.anomalies.includes('tls.client_hello.truncated'));
    assert.equal(f.client.applicationDataRecords, 1, 'back in step after the hello record');
  });

  it('gives a direction up when no header follows', () => {
    const p = new TlsParser(new AnomalyCounters());
    const c = new DirectionFeeder(p, 0);
    c.push(tls12Session()[0][1]);
    c.gap(10);
    for (let i = 0; i < 80; i++) c.push(Buffer.alloc(1024, 0x99));
    assert.ok(p.finish().anomalies.includes('tls.gap.lost'));
  });
});

describe('options, counters and the factory', () => {
  it('stopAfterHandshake ends the flow once established', () => {
    const p = new TlsParser(new AnomalyCounters(), { stopAfterHandshake: true });
    const chunks = tls12Session();
    feedConversation(p, chunks.slice(0, 4));
    assert.equal(p.facts.established, true);
    assert.equal(p.wantsData(), false);
  });

  it('keeps raw hellos and JA4S only when asked', () => {
    const chunks = tls12Session();
    const f = run(chunks, { keepRawHellos: true, ja4sFoxioLicense: true }).f;
    const r = parseClientHello(f.rawClientHello!, 0, f.rawClientHello!.length);
    assert.equal(r.status, 'ok');
    assert.ok(f.rawServerHello !== null);
    assert.match(f.ja4s ?? '', /^t1203h2_c02f_[0-9a-f]{12}$/);
  });

  it('bumps the run counters and lists names per session', () => {
    const counters = new AnomalyCounters();
    run([[0, appData(10)]], {}, counters);
    run([[0, appData(10)]], {}, counters);
    assert.equal(counters.get('tls.stream.midstream'), 2);
  });

  it('the factory gives each flow its own parser', () => {
    const make = createTlsParserFactory(new AnomalyCounters());
    const a = make({ clientPort: 50000, serverPort: 8443, lastTs: 0 });
    const b = make({ clientPort: 50001, serverPort: 25, lastTs: 0 });
    assert.ok(a instanceof TlsParser && b instanceof TlsParser && a !== b);
  });
});
