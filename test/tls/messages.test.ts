/** Wire-format parsers: records, handshake reassembly, hellos, certificates, prefixes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseCertificateList } from '../../src/tls/certificate.js';
import { parseClientHello, parseSslv2ClientHello } from '../../src/tls/client-hello.js';
import { isGrease } from '../../src/tls/constants.js';
import { HandshakeAssembler, type HandshakeSink } from '../../src/tls/handshake.js';
import {
  berSequenceLength,
  isUpgradeCommand,
  ldapStartTlsRequest,
  matchMailBanner,
  NEED_MORE,
  NOT_THIS,
  socks4Request,
  socks5Message,
} from '../../src/tls/prefix.js';
import {
  checkTlsStart,
  newRecordHeader,
  plausibleRecordAt,
  readRecordHeader,
  REC_BAD_CONTENT_TYPE,
  REC_BAD_VERSION,
  REC_INCOMPLETE,
  REC_OK,
  REC_TOO_LONG,
  START_HANDSHAKE,
  START_MORE,
  START_NO,
  START_OTHER_RECORD,
  START_SSLV2_CLIENT_HELLO,
} from '../../src/tls/record.js';
import { parseServerHello } from '../../src/tls/server-hello.js';
import { A } from '../../src/tls/anomalies.js';
import {
  alpnExt,
  certificateBody,
  clientHelloBody,
  echOuterExt,
  ext,
  groupsExt,
  handshake,
  keyShareExt,
  pointFormatsExt,
  preSharedKeyExt,
  pskModesExt,
  serverHelloBody,
  sigAlgsExt,
  sniExt,
  supportedVersionsExt,
  u16,
  vec16,
} from './helpers/hello-builder.js';

describe('record layer', () => {
  it('reads and checks headers', () => {
    const h = newRecordHeader();
    assert.equal(readRecordHeader(Buffer.from([22, 3, 1, 0, 10]), 0, 5, h), REC_OK);
    assert.deepEqual(h, { contentType: 22, version: 0x0301, length: 10 });
    assert.equal(readRecordHeader(Buffer.from([22, 3, 1, 0]), 0, 4, h), REC_INCOMPLETE);
    assert.equal(readRecordHeader(Buffer.from([25, 3, 1, 0, 1]), 0, 5, h), REC_BAD_CONTENT_TYPE);
    assert.equal(readRecordHeader(Buffer.from([23, 2, 0, 0, 1]), 0, 5, h), REC_BAD_VERSION);
    assert.equal(readRecordHeader(Buffer.from([23, 3, 3, 0x48, 0x01]), 0, 5, h), REC_TOO_LONG);
  });

  it('recognises the start of TLS, SSLv2 hellos and non-TLS', () => {
    const t = (...b: number[]) => checkTlsStart(Buffer.from(b), 0, b.length);
    assert.equal(t(22, 3, 1, 2, 0), START_HANDSHAKE);
    assert.equal(t(22, 3), START_MORE);
    assert.equal(t(23, 3, 3, 0, 40), START_OTHER_RECORD);
    assert.equal(t(0x80, 0x2e, 1, 3, 1), START_SSLV2_CLIENT_HELLO);
    assert.equal(t(0x80, 0x2e, 1), START_MORE);
    assert.equal(t(0x47, 0x45, 0x54, 0x20), START_NO, 'GET ');
    assert.equal(t(0x53, 0x53, 0x48), START_NO, 'SSH');
    assert.equal(t(22, 4, 1), START_NO);
  });

  it('finds plausible record headers after a gap', () => {
    const data = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from([23, 3, 3, 0, 2, 9, 9, 23, 3, 3, 0, 1, 7])]);
    assert.equal(plausibleRecordAt(data, 0, data.length, 0x0303), false);
    assert.equal(plausibleRecordAt(data, 3, data.length, 0x0303), true);
    assert.equal(plausibleRecordAt(data, 3, data.length, 0x0301), false, 'the version must match when known');
    const bad = Buffer.from([23, 3, 3, 0, 2, 9, 9, 99, 3, 3]);
    assert.equal(plausibleRecordAt(bad, 0, bad.length, 0), false, 'the next header must be plausible too');
  });
});

describe('handshake reassembly', () => {
  function collect(): { sink: HandshakeSink; msgs: { type: number; body: Buffer; owned: boolean }[]; anomalies: number[] } {
    const msgs: { type: number; body: Buffer; owned: boolean }[] = [];
    const anomalies: number[] = [];
    return {
      msgs,
      anomalies,
      sink: {
        onMessage: (type, buf, s, e, owned) => msgs.push({ type, body: Buffer.from(buf.subarray(s, e)), owned }),
        anomaly: (id) => anomalies.push(id),
      },
    };
  }

  it('hands whole messages on in place and several per piece', () => {
    const a = new HandshakeAssembler(1 << 20);
    const c = collect();
    const data = Buffer.concat([handshake(2, Buffer.alloc(10, 1)), handshake(11, Buffer.alloc(5, 2)), handshake(14, Buffer.alloc(0))]);
    a.push(data, 0, data.length, c.sink);
    assert.deepEqual(c.msgs.map((m) => [m.type, m.body.length, m.owned]), [[2, 10, false], [11, 5, false], [14, 0, false]]);
    assert.equal(a.inMessage, false);
  });

  it('joins a message spanning pieces at every split point', () => {
    const msg = handshake(1, Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)));
    for (let cut = 1; cut < msg.length; cut++) {
      const a = new HandshakeAssembler(1 << 20);
      const c = collect();
      a.push(msg, 0, cut, c.sink);
      assert.equal(c.msgs.length, 0);
      assert.equal(a.inMessage, true);
      const part = a.partial();
      assert.ok(part !== null);
      assert.equal(part.type, 1);
      a.push(msg, cut, msg.length, c.sink);
      assert.equal(c.msgs.length, 1);
      assert.ok(c.msgs[0].body.equals(msg.subarray(4)));
    }
  });

  it('skips oversized messages with an anomaly and keeps going', () => {
    const a = new HandshakeAssembler(100);
    const c = collect();
    const data = Buffer.concat([handshake(11, Buffer.alloc(500)), handshake(14, Buffer.alloc(0))]);
    a.push(data, 0, 200, c.sink);
    a.push(data, 200, data.length, c.sink);
    assert.deepEqual(c.anomalies, [A.handshakeTooLarge]);
    assert.deepEqual(c.msgs.map((m) => m.type), [14]);
  });
});

describe('ClientHello', () => {
  it('reads every field, every extension in order with its position, GREASE kept', () => {
    const exts = [
      ext(0x0a0a),
      sniExt('www.example.org'),
      alpnExt('h2', 'http/1.1'),
      supportedVersionsExt(0x5a5a, 0x0304, 0x0303),
      groupsExt(0x2a2a, 0x11ec, 0x001d, 0x0017),
      pointFormatsExt(0),
      sigAlgsExt(0x0403, 0x0804),
      keyShareExt([0x2a2a, 1], [0x11ec, 1216], [0x001d, 32]),
      pskModesExt(1),
      ext(0x002a),
      ext(0x0023, Buffer.alloc(64, 7)),
      echOuterExt(1, 1, 0x42, 32, 239),
      preSharedKeyExt(2),
    ];
    const body = clientHelloBody({ sessionId: Buffer.alloc(32, 9), ciphers: [0x1a1a, 0x1301, 0xc02b], extensions: exts });
    assert.ok(body.length > 1500, 'a post-quantum key share makes a hello of over 1.5 KB');
    const r = parseClientHello(body, 0, body.length);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.issues, []);
    const ch = r.status === 'ok' ? r.value : assert.fail();
    assert.equal(ch.legacyVersion, 0x0303);
    assert.ok(ch.sessionId?.equals(Buffer.alloc(32, 9)));
    assert.deepEqual(ch.cipherSuites, [0x1a1a, 0x1301, 0xc02b]);
    assert.deepEqual(ch.compressionMethods, [0]);
    assert.deepEqual(ch.extensionTypes, [0x0a0a, 0, 0x10, 0x2b, 0x0a, 0x0b, 0x0d, 0x33, 0x2d, 0x2a, 0x23, 0xfe0d, 0x29]);
    for (const e of ch.extensions) {
      const hdr = body.subarray(e.offset - 4, e.offset);
      assert.equal(hdr.readUInt16BE(0), e.type);
      assert.equal(hdr.readUInt16BE(2), e.length);
    }
    assert.equal(ch.serverName, 'www.example.org');
    assert.deepEqual(ch.alpn, ['h2', 'http/1.1']);
    assert.deepEqual(ch.supportedVersions, [0x5a5a, 0x0304, 0x0303]);
    assert.deepEqual(ch.supportedGroups, [0x2a2a, 0x11ec, 0x001d, 0x0017]);
    assert.deepEqual(ch.ecPointFormats, [0]);
    assert.deepEqual(ch.signatureAlgorithms, [0x0403, 0x0804]);
    assert.deepEqual(ch.keyShareGroups, [0x2a2a, 0x11ec, 0x001d]);
    assert.deepEqual(ch.pskKeyExchangeModes, [1]);
    assert.equal(ch.earlyData, true);
    assert.equal(ch.sessionTicketLength, 64);
    assert.equal(ch.pskIdentities, 2);
    assert.deepEqual(ch.ech, { type: 0, kdfId: 1, aeadId: 1, configId: 0x42, encLength: 32, payloadLength: 239 });
    assert.ok(isGrease(ch.cipherSuites[0]) && !isGrease(ch.cipherSuites[1]));
  });

  it('reads an extension-less SSLv3-era hello', () => {
    const body = clientHelloBody({ version: 0x0300, ciphers: [4, 5, 0xff], extensions: null });
    const r = parseClientHello(body, 0, body.length);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.status === 'ok' && r.value.extensions, []);
  });

  it('cut at any byte: incomplete, with the fields read so far', () => {
    const body = clientHelloBody({ ciphers: [0x1301, 0x1302], extensions: [sniExt('cut.example'), alpnExt('h2'), supportedVersionsExt(0x0304)] });
    let sawSni = false;
    for (let n = 0; n < body.length; n++) {
      const r = parseClientHello(body.subarray(0, n), 0, n, body.length);
      assert.equal(r.status, 'incomplete', `cut at ${n}`);
      if (r.status !== 'incomplete') continue;
      assert.equal(r.partial.truncated, true);
      assert.ok(r.needed > 0);
      if (n >= 2) assert.equal(r.partial.legacyVersion, 0x0303);
      if (r.partial.serverName === 'cut.example') sawSni = true;
      assert.ok(r.partial.cipherSuites.length <= 2);
    }
    assert.ok(sawSni, 'the SNI is visible once its extension has arrived');
  });

  it('names malformed hellos and bad extensions', () => {
    const sid = Buffer.concat([u16(0x0303), Buffer.alloc(32), Buffer.from([40])]);
    const r1 = parseClientHello(Buffer.concat([sid, Buffer.alloc(60)]), 0, sid.length + 60);
    assert.equal(r1.status, 'error');
    assert.deepEqual(r1.issues, [A.clientHelloMalformed]);

    const body = clientHelloBody({ extensions: [ext(0x0000, Buffer.from([0, 9, 0, 0, 5, 0x61])), ext(0x0010, vec16(Buffer.from([5, 0x68])))] });
    const r2 = parseClientHello(body, 0, body.length);
    assert.equal(r2.status, 'ok');
    assert.deepEqual(r2.issues, [A.clientHelloBadExtension, A.clientHelloBadExtension]);

    const dup = clientHelloBody({ extensions: [ext(0x0017), ext(0x0017), ext(0xff01, Buffer.from([0])), ext(0xff01, Buffer.from([0]))] });
    const r3 = parseClientHello(dup, 0, dup.length);
    assert.deepEqual(r3.issues, [A.clientHelloDuplicateExtension, A.clientHelloDuplicateExtension]);
    // Types seen by one parse are not duplicates in the next (types from 32 up are stamped per parse).
    const again = parseClientHello(dup, 0, dup.length);
    assert.deepEqual(again.issues, [A.clientHelloDuplicateExtension, A.clientHelloDuplicateExtension]);
    const once = clientHelloBody({ extensions: [ext(0xff01, Buffer.from([0])), ext(0x0017)] });
    assert.deepEqual(parseClientHello(once, 0, once.length).issues, []);

    const two = clientHelloBody({ extensions: [sniExt('a.example', 'b.example')] });
    const r4 = parseClientHello(two, 0, two.length);
    assert.equal(r4.status === 'ok' && r4.value.serverName, 'a.example');
    assert.deepEqual(r4.issues, [A.clientHelloManyServerNames]);
  });

  it('reads an SSLv2-framed CLIENT-HELLO', () => {
    const specs = Buffer.from([0x00, 0x00, 0x2f, 0x01, 0x00, 0x80, 0x00, 0x00, 0x0a]);
    const challenge = Buffer.alloc(16, 3);
    const body = Buffer.concat([Buffer.from([1, 3, 1]), u16(specs.length), u16(0), u16(challenge.length), specs, challenge]);
    const r = parseSslv2ClientHello(body, 0, body.length);
    assert.equal(r.status, 'ok');
    const ch = r.status === 'ok' ? r.value : assert.fail();
    assert.equal(ch.sslv2, true);
    assert.equal(ch.legacyVersion, 0x0301);
    assert.deepEqual(ch.cipherSuites, [0x00002f, 0x010080, 0x00000a]);
  });
});

describe('ServerHello', () => {
  it('reads selected version, cipher, extensions, ALPN, key share, PSK and ticket', () => {
    const body = serverHelloBody({
      sessionId: Buffer.alloc(32, 1),
      cipher: 0x1302,
      extensions: [supportedVersionsExt(0x0304).map((x, i) => (i === 1 ? u16(0x0304) : x)) as unknown as [number, Buffer], keyShareExt([0x001d, 32]).map((x, i) => (i === 1 ? Buffer.concat([u16(0x001d), vec16(Buffer.alloc(32))]) : x)) as unknown as [number, Buffer], ext(0x0029, u16(0))],
    });
    const r = parseServerHello(body, 0, body.length);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.issues, []);
    const sh = r.status === 'ok' ? r.value : assert.fail();
    assert.equal(sh.legacyVersion, 0x0303);
    assert.equal(sh.selectedVersion, 0x0304);
    assert.equal(sh.version, 0x0304);
    assert.equal(sh.cipherSuite, 0x1302);
    assert.equal(sh.keyShareGroup, 0x001d);
    assert.equal(sh.pskSelectedIdentity, 0);
    assert.equal(sh.helloRetryRequest, false);
    assert.deepEqual(sh.extensionTypes, [0x2b, 0x33, 0x29]);

    const b2 = serverHelloBody({ extensions: [alpnExt('h2'), ext(0x0023), ext(0x0017)] });
    const r2 = parseServerHello(b2, 0, b2.length);
    const sh2 = r2.status === 'ok' ? r2.value : assert.fail();
    assert.equal(sh2.alpn, 'h2');
    assert.equal(sh2.sessionTicket, true);
    assert.equal(sh2.extendedMasterSecret, true);
    assert.equal(sh2.selectedVersion, -1);
    assert.equal(sh2.version, 0x0303);
  });

  it('recognises a HelloRetryRequest by its random', () => {
    const random = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
    const body = serverHelloBody({ random, cipher: 0x1301, extensions: [[0x002b, u16(0x0304)], [0x0033, u16(0x0017)]] });
    const r = parseServerHello(body, 0, body.length);
    const sh = r.status === 'ok' ? r.value : assert.fail();
    assert.equal(sh.helloRetryRequest, true);
    assert.equal(sh.keyShareGroup, 0x0017);
  });

  it('reads the TLS 1.3 draft layout (no session id, no compression)', () => {
    const body = Buffer.concat([u16(0x7f12), Buffer.alloc(32, 2), u16(0x1301), vec16(Buffer.concat([u16(40), vec16(Buffer.concat([u16(0x1d), vec16(Buffer.alloc(32))]))]))]);
    const r = parseServerHello(body, 0, body.length);
    const sh = r.status === 'ok' ? r.value : assert.fail(`status ${r.status}`);
    assert.equal(sh.cipherSuite, 0x1301);
    assert.deepEqual(sh.extensionTypes, [40]);
    assert.equal(sh.sessionId, null);
  });

  it('cut at any byte: incomplete, never an exception', () => {
    const body = serverHelloBody({ extensions: [alpnExt('h2'), ext(0xff01, Buffer.from([0]))] });
    for (let n = 0; n < body.length; n++) {
      const r = parseServerHello(body.subarray(0, n), 0, n, body.length);
      assert.equal(r.status, 'incomplete', `cut at ${n}`);
    }
  });
});

describe('Certificate', () => {
  it('splits the list into DER copies, or views of an owned buffer', () => {
    const a = Buffer.alloc(300, 1);
    const b = Buffer.alloc(20, 2);
    const body = certificateBody([a, b]);
    const lent = parseCertificateList(body, 0, body.length, false);
    assert.deepEqual(lent.issues, []);
    assert.equal(lent.certificates.length, 2);
    assert.ok(lent.certificates[0].equals(a) && lent.certificates[1].equals(b));
    const owned = parseCertificateList(body, 0, body.length, true);
    body.fill(0xff);
    assert.ok(lent.certificates[0].equals(a), 'lent: copied, so unchanged');
    assert.equal(owned.certificates[0][0], 0xff, 'owned: a view of the message');
  });

  it('names a list that does not add up, and caps the count', () => {
    const body = certificateBody([Buffer.alloc(10)]);
    const r = parseCertificateList(body, 0, body.length - 1, false);
    assert.deepEqual(r.issues, [A.certificateMalformed, A.certificateMalformed]);
    const many = certificateBody(Array.from({ length: 5 }, () => Buffer.alloc(3)));
    const r2 = parseCertificateList(many, 0, many.length, false, 3);
    assert.equal(r2.certificates.length, 3);
    assert.deepEqual(r2.issues, [A.certificateTooMany]);
  });
});

describe('plaintext prefixes', () => {
  it('measures SOCKS messages', () => {
    const s4a = Buffer.concat([Buffer.from([4, 1, 1, 0xbb, 0, 0, 0, 1]), Buffer.from('user\0host.example\0')]);
    assert.equal(socks4Request(s4a, 0, s4a.length), s4a.length);
    assert.equal(socks4Request(s4a, 0, s4a.length - 1), NEED_MORE);
    const req = Buffer.from([5, 1, 0, 3, 11, ...Buffer.from('example.com'), 1, 0xbb]);
    assert.equal(socks5Message(req, 0, req.length, false), req.length);
    const refused = Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal(socks5Message(refused, 0, refused.length, true), NOT_THIS);
  });

  it('recognises mail banners and upgrade commands', () => {
    const m = (s: string) => matchMailBanner(Buffer.from(s), 0, s.length);
    assert.equal(m('220 mx ESMTP'), 'smtp');
    assert.equal(m('* OK IMAP4rev1'), 'imap');
    assert.equal(m('+OK POP3'), 'pop3');
    assert.equal(m('22'), NEED_MORE);
    assert.equal(m('SSH-2.0'), null);
    const u = (s: string) => isUpgradeCommand(Buffer.from(s), 0, s.length);
    assert.ok(u('STARTTLS') && u('starttls\r') && u('a001 STARTTLS') && u('STLS') && u('AUTH TLS'));
    assert.ok(!u('EHLO mx') && !u('a001 LOGIN x y'));
  });

  it('measures BER messages and finds the LDAP StartTLS request', () => {
    const req = Buffer.from('301d02010177188016312e332e362e312e342e312e313436362e3230303337', 'hex');
    assert.equal(berSequenceLength(req, 0, req.length, 1000), req.length);
    assert.equal(ldapStartTlsRequest(req, 0, req.length), req.length);
    const bind = Buffer.from('300c020101600702010304008000', 'hex');
    assert.equal(ldapStartTlsRequest(bind, 0, bind.length), NOT_THIS);
  });
});
