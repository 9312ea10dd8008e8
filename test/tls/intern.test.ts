/**
 * Shared hello lists and certificate buffers (src/tls/intern.ts,
 * src/tls/hello-memo.ts): equal content gives the very same frozen object,
 * different content never does — whatever the hash buckets say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { HelloMemo } from '../../src/tls/hello-memo.js';
import { internAlpn, internNumbers, internU16, internU8 } from '../../src/tls/intern.js';
import { parseClientHello } from '../../src/tls/index.js';
import { chromeLikeHello } from './helpers/sessions.js';

const u16Bytes = (values: readonly number[]): Buffer => {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
};

describe('interned hello lists', () => {
  it('equal content: the same frozen list; other content: another list with that content', () => {
    const lists = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 80 });
    fc.assert(
      fc.property(lists, lists, (a, b) => {
        const la = internU16(u16Bytes(a), 0, a.length * 2);
        const lb = internU16(u16Bytes(b), 0, b.length * 2);
        assert.deepEqual([...la], a);
        assert.deepEqual([...lb], b);
        assert.ok(Object.isFrozen(la));
        assert.equal(la === lb, a.length === b.length && a.every((v, i) => v === b[i]));
        assert.equal(internNumbers(a, a.length), la);
        const bytes = a.map((v) => v & 0xff);
        assert.deepEqual([...internU8(Buffer.from(bytes), 0, bytes.length)], bytes);
      }),
      // Few enough runs that the bounded table (4096 lists) is not started afresh mid-property.
      { numRuns: 600 },
    );
  });

  it('lists differing only where the bucket hash does not look are told apart', () => {
    // internU16 hashes up to 16 values of a long list: change one it skips.
    const a = Array.from({ length: 64 }, (_, i) => i);
    const b = a.slice();
    b[1] = 999;
    const la = internU16(u16Bytes(a), 0, 128);
    const lb = internU16(u16Bytes(b), 0, 128);
    assert.notEqual(la, lb);
    assert.deepEqual([...lb], b);
  });

  it('ALPN lists by their bytes', () => {
    const body = Buffer.from([2, 0x68, 0x32, 8, ...Buffer.from('http/1.1')]);
    const x = internAlpn(body, 0, body.length);
    assert.deepEqual(x, ['h2', 'http/1.1']);
    assert.equal(internAlpn(Buffer.concat([Buffer.alloc(3), body]), 3, 3 + body.length), x);
    const other = Buffer.from([2, 0x68, 0x33]);
    assert.deepEqual(internAlpn(other, 0, other.length), ['h3']);
  });

  it('two parses of one hello share every list', () => {
    const body = chromeLikeHello('a.example');
    const a = parseClientHello(body, 0, body.length);
    const b = parseClientHello(Buffer.from(body), 0, body.length);
    assert.ok(a.status === 'ok' && b.status === 'ok');
    for (const k of ['cipherSuites', 'extensionTypes', 'extensions', 'supportedGroups', 'signatureAlgorithms', 'alpn', 'keyShareGroups'] as const) {
      assert.equal(a.value[k], b.value[k], k);
    }
    assert.notEqual(a.value.sessionId, b.value.sessionId, 'session ids stay per connection');
  });
});

describe('HelloMemo', () => {
  it('one buffer per distinct certificate, compared byte for byte', () => {
    const memo = new HelloMemo(8);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 0, max: 2999 }), (bytes, at) => {
        const der = Buffer.from(bytes);
        const wrapped = Buffer.concat([Buffer.alloc(5), der, Buffer.alloc(3)]);
        const a = memo.der(wrapped, 5, 5 + der.length);
        const b = memo.der(der, 0, der.length);
        assert.ok(a.equals(der));
        assert.equal(a, b);
        const changed = Buffer.from(der);
        changed[at % der.length] ^= 0x01;
        const c = memo.der(changed, 0, changed.length);
        assert.ok(c.equals(changed));
        assert.notEqual(c, a);
      }),
      { numRuns: 500 },
    );
  });

  it('the same shape for hellos alike; fingerprints computed once per shape', () => {
    const memo = new HelloMemo();
    const one = parseClientHello(chromeLikeHello('one.example'), 0, chromeLikeHello('one.example').length);
    const two = parseClientHello(chromeLikeHello('two.example'), 0, chromeLikeHello('two.example').length);
    const pq = parseClientHello(chromeLikeHello('pq.example', true), 0, chromeLikeHello('pq.example', true).length);
    assert.ok(one.status === 'ok' && two.status === 'ok' && pq.status === 'ok');
    const s1 = memo.client(one.value);
    const s2 = memo.client(two.value);
    const s3 = memo.client(pq.value);
    assert.equal(s1, s2);
    assert.notEqual(s1, s3);
    assert.equal(s1.ja4, s2.ja4);
    // The post-quantum group changes JA3 (groups are in it), not JA4.
    assert.notEqual(s1.ja3.hash, s3.ja3.hash);
    assert.equal(s1.ja4.ja4, s3.ja4.ja4);
  });
});
