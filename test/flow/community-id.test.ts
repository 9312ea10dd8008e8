import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { communityIdV1, addressText } from '../../src/flow/index.js';

function bytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // expand IPv6
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

// Reference vectors of the Community ID spec (corelight/community-id-spec baseline).
const VECTORS: [string, number, string, number, string][] = [
  ['128.232.110.120', 34855, '66.35.250.204', 80, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
  ['2001:470:e5bf:dead:4957:2174:e82c:4887', 63943, '2607:f8b0:400c:c03::1a', 25, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='],
];

test('Community ID v1 matches the spec vectors in both directions', () => {
  for (const [a, ap, b, bp, want] of VECTORS) {
    assert.equal(communityIdV1(6, bytes(a), ap, bytes(b), bp), want);
    assert.equal(communityIdV1(6, bytes(b), bp, bytes(a), ap), want);
  }
});

test('addresses print in RFC 5952 form', () => {
  assert.equal(addressText(4, 0xc0a80101, 0, 0, 0), '192.168.1.1');
  assert.equal(addressText(6, 0x20010db8, 0, 0, 1), '2001:db8::1');
  assert.equal(addressText(6, 0, 0, 0, 1), '::1');
  assert.equal(addressText(6, 0x20010db8, 0x00010000, 0, 1), '2001:db8:1::1');
  assert.equal(addressText(6, 0x20010000, 0x00010000, 0x00010000, 0x00010001), '2001:0:1:0:1:0:1:1');
  assert.equal(addressText(6, 0, 0, 0xffff, 0x7f000001), '::ffff:127.0.0.1');
  assert.equal(addressText(6, 0xfe800000, 0, 0x02000000, 0), 'fe80::200:0:0:0'); // equal zero runs: the first is compressed
});

test('flow ids are stable for the same flow and differ for others', async () => {
  const { Flow, flowId } = await import('../../src/flow/index.js');
  const ids = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const f = new Flow(i, 1_700_000_000_000_000 + (i >> 4), 4);
    f.c0 = 0x0a000001; f.s0 = 0x0a000002; f.cPort = 40000 + (i & 15); f.sPort = 443;
    const id = flowId(f);
    assert.match(id, /^C[0-9A-Za-z]{11}$/);
    assert.equal(flowId(f), id);
    ids.add(id);
  }
  assert.equal(ids.size, 20000);
});
