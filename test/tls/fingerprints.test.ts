import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseClientHello } from '../../src/tls/client-hello.js';
import { ja3, ja3s, ja4, ja4Alpn, ja4o, ja4s } from '../../src/tls/fingerprints.js';
import { parseServerHello } from '../../src/tls/server-hello.js';
import {
  alpnExt,
  clientHelloBody,
  ext,
  foxioExampleHello,
  groupsExt,
  pointFormatsExt,
  serverHelloBody,
  sigAlgsExt,
  sniExt,
  supportedVersionsExt,
} from './helpers/hello-builder.js';

function ok<T>(r: { status: string; value?: T }): T {
  assert.equal(r.status, 'ok');
  return r.value as T;
}

// FoxIO rust/ja4/src/tls.rs test_client_stats_into_out and technical_details/JA4.md.
const FOXIO_O = 't13d1516h2_acb858a92679_18f69afefd3d';
const FOXIO = {
  ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
  ja4_r:
    't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601',
  ja4_ro:
    't13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601',
};

describe('JA4 (FoxIO vectors)', () => {
  it('matches the public vector from plain fields', () => {
    const input = {
      legacyVersion: 0x0303,
      cipherSuites: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
      extensionTypes: [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015],
      supportedVersions: [0x0304, 0x0303],
      signatureAlgorithms: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
      alpn: ['h2', 'http/1.1'],
    };
    assert.deepEqual(ja4(input), FOXIO);
    assert.equal(ja4o(input), FOXIO_O);
  });

  it('matches the public vector from a parsed ClientHello, with and without GREASE', () => {
    for (const grease of [false, true]) {
      const body = foxioExampleHello(grease);
      const ch = ok(parseClientHello(body, 0, body.length));
      assert.deepEqual(ja4(ch), FOXIO);
      assert.equal(ja4o(ch), FOXIO_O);
    }
  });

  it('ja4_r of the description in JA4.md hashes to the documented parts', () => {
    // "0005,...,ff01 = 6d807ffa2a79" when there are no signature algorithms.
    const fp = ja4({
      legacyVersion: 0x0303,
      cipherSuites: [0x1301],
      extensionTypes: [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x000d],
      supportedVersions: [],
      signatureAlgorithms: [],
      alpn: [],
    });
    assert.equal(fp.ja4.split('_')[2], '6d807ffa2a79');
    assert.ok(!fp.ja4_r.endsWith('_'), 'no trailing underscore without signature algorithms');
    assert.equal(fp.ja4_r.split('_').length, 3);
  });

  it('uses zeros for empty cipher and extension lists', () => {
    const fp = ja4({ legacyVersion: 0x0301, cipherSuites: [0x0a0a], extensionTypes: [], supportedVersions: [], signatureAlgorithms: [], alpn: [] });
    assert.equal(fp.ja4, 't10i000000_000000000000_000000000000');
    assert.equal(fp.ja4_r, 't10i000000__');
  });

  it('counts SNI and ALPN but leaves them out of the hashed list', () => {
    const a = ja4({ legacyVersion: 0x0303, cipherSuites: [0x002f], extensionTypes: [0x0000, 0x0010, 0x000b], supportedVersions: [], signatureAlgorithms: [], alpn: ['h2'] });
    assert.equal(a.ja4_r, 't12d0103h2_002f_000b');
    assert.equal(a.ja4_ro, 't12d0103h2_002f_0000,0010,000b');
    const b = ja4({ legacyVersion: 0x0303, cipherSuites: [0x002f], extensionTypes: [0x000b], supportedVersions: [], signatureAlgorithms: [], alpn: [] });
    assert.equal(a.ja4.split('_')[2], b.ja4.split('_')[2]);
    assert.equal(b.ja4.slice(0, 10), 't12i010100');
  });

  it('takes the version from the highest non-GREASE supported_versions value', () => {
    const base = { legacyVersion: 0x0303, cipherSuites: [0x1301], extensionTypes: [0x002b], signatureAlgorithms: [], alpn: [] };
    assert.equal(ja4({ ...base, supportedVersions: [0x7a7a, 0x0303, 0x0304] }).ja4.slice(0, 3), 't13');
    assert.equal(ja4({ ...base, supportedVersions: [0x0302, 0x0301] }).ja4.slice(0, 3), 't11');
    assert.equal(ja4({ ...base, supportedVersions: [0xfafa] }).ja4.slice(0, 3), 't12', 'only GREASE: legacy version');
    assert.equal(ja4({ ...base, supportedVersions: [0x7f1c] }).ja4.slice(0, 3), 't00', 'a draft is unknown');
    assert.equal(ja4({ ...base, supportedVersions: [] , legacyVersion: 0x0300 }).ja4.slice(0, 3), 'ts3');
    assert.equal(ja4({ ...base, supportedVersions: [] }, 'q').ja4.slice(0, 3), 'q12');
  });

  it('caps counts at 99', () => {
    const many = Array.from({ length: 150 }, (_, i) => 0x0100 + i);
    const fp = ja4({ legacyVersion: 0x0303, cipherSuites: many, extensionTypes: many, supportedVersions: [], signatureAlgorithms: [], alpn: [] });
    assert.equal(fp.ja4.slice(0, 10), 't12i999900');
  });

  it('follows the ALPN rules of JA4.md', () => {
    assert.equal(ja4Alpn('h2'), 'h2');
    assert.equal(ja4Alpn('http/1.1'), 'h1');
    assert.equal(ja4Alpn('h'), 'hh', 'a single character is both first and last');
    assert.equal(ja4Alpn(''), '00');
    assert.equal(ja4Alpn(undefined), '00');
    // The documented byte examples.
    const s = (...b: number[]) => Buffer.from(b).toString('latin1');
    assert.equal(ja4Alpn(s(0xab)), 'ab');
    assert.equal(ja4Alpn(s(0xab, 0xcd)), 'ad');
    assert.equal(ja4Alpn(s(0x30, 0xab)), '3b');
    assert.equal(ja4Alpn(s(0x30, 0x31, 0xab, 0xcd)), '3d');
    assert.equal(ja4Alpn(s(0x30, 0xab, 0xcd, 0x31)), '01');
    assert.equal(ja4Alpn('h2/'), '6f', 'a trailing "/" (0x2f) is not alphanumeric: hex 68..2f');
  });

  it('uses ALPN from a parsed hello with an empty first value', () => {
    const body = clientHelloBody({ extensions: [alpnExt('', 'h2')] });
    const ch = ok(parseClientHello(body, 0, body.length));
    assert.equal(ja4(ch).ja4.slice(8, 10), '00');
  });

  it('ignores GREASE in signature algorithms', () => {
    const a = ja4({ legacyVersion: 0x0303, cipherSuites: [0x1301], extensionTypes: [0x000d], supportedVersions: [], signatureAlgorithms: [0x0403, 0x1a1a], alpn: [] });
    assert.ok(a.ja4_r.endsWith('_000d_0403'));
  });
});

describe('JA3', () => {
  it('matches the example of the JA3 README', () => {
    const fp = ja3({
      legacyVersion: 769,
      cipherSuites: [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
      extensionTypes: [0, 10, 11],
      supportedGroups: [23, 24, 25],
      ecPointFormats: [0],
    });
    assert.equal(fp.string, '769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0');
    assert.equal(fp.hash, 'ada70206e40642a3e4461f35503241d5');
  });

  it('matches a suricata-verify tls13-draft28 expectation, GREASE removed everywhere', () => {
    const ciphers = [4866, 4867, 4865, 4868, 49196, 52393, 49325, 49162, 49195, 49324, 49161, 49200, 52392, 49172, 49199, 49171, 157, 49309, 53, 156, 49308, 47, 159, 52394, 49311, 57, 158, 49310, 51];
    const body = clientHelloBody({
      ciphers: [0x2a2a, ...ciphers],
      extensions: [
        ext(5, Buffer.from([1, 0, 0, 0, 0])),
        groupsExt(0x4a4a, 23),
        pointFormatsExt(0),
        sigAlgsExt(0x0403),
        ext(22),
        ext(0x9a9a),
        ext(23),
        ext(35),
        ext(51, Buffer.from([0, 0])),
        supportedVersionsExt(0x7f1c, 0x0303),
        ext(65281, Buffer.from([0])),
        sniExt('localhost'),
        ext(45, Buffer.from([1, 1])),
        ext(41, Buffer.alloc(0)),
      ],
    });
    const ch = parseClientHello(body, 0, body.length);
    const hello = ch.status === 'ok' ? ch.value : ch.partial;
    const fp = ja3(hello);
    assert.equal(
      fp.string,
      '771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45-41,23,0',
    );
    assert.equal(fp.hash, 'd00857e0c8e7a7f35e446508c6233460');
  });

  it('keeps empty fields empty', () => {
    const body = clientHelloBody({ version: 0x0300, ciphers: [4, 5], extensions: null });
    const ch = ok(parseClientHello(body, 0, body.length));
    assert.equal(ja3(ch).string, '768,4-5,,,');
  });
});

describe('JA3S and JA4S', () => {
  it('builds JA3S from version, cipher and extensions', () => {
    const body = serverHelloBody({ cipher: 0xc02b, extensions: [ext(0), ext(0xff01, Buffer.from([0])), pointFormatsExt(0), ext(35), alpnExt('h2')] });
    const sh = ok(parseServerHello(body, 0, body.length));
    const fp = ja3s(sh);
    // tshark 4.0 on ja4/badcurveball.pcap, the same ServerHello shape.
    assert.equal(fp.string, '771,49195,0-65281-11-35-16');
    assert.equal(fp.hash, '2d1eb5817ece335c24904f516ad5da12');
  });

  it('JA4S matches the FoxIO rust vector', () => {
    const fp = ja4s({ legacyVersion: 0x0303, cipherSuite: 0xc030, extensionTypes: [0x0005, 0x0017, 0xff01, 0x0000], selectedVersion: -1, alpn: null });
    assert.equal(fp.ja4s, 't120400_c030_4e8089b08790');
    assert.equal(fp.ja4s_r, 't120400_c030_0005,0017,ff01,0000');
  });
});
