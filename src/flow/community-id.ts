import type { Flow } from './flow.js';
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

/**
 * Community ID v1 (Corelight spec, https://github.com/corelight/community-id-spec):
 * base64(SHA-1(seed:u16be, saddr, daddr, proto:u8, 0:u8, sport:u16be, dport:u16be)),
 * with the endpoints ordered so the smaller (address, port) comes first.
 * Addresses are given as raw network-order bytes (4 or 16).
 */
export function communityIdV1(
  proto: number,
  srcAddr: Uint8Array,
  srcPort: number,
  dstAddr: Uint8Array,
  dstPort: number,
  seed = 0,
): string {
  let aAddr = srcAddr, aPort = srcPort, bAddr = dstAddr, bPort = dstPort;
  const c = Buffer.compare(srcAddr, dstAddr);
  if (c > 0 || (c === 0 && srcPort > dstPort)) {
    aAddr = dstAddr; aPort = dstPort; bAddr = srcAddr; bPort = srcPort;
  }
  const buf = Buffer.alloc(2 + aAddr.length + bAddr.length + 2 + 4);
  let o = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(aAddr, o); o += aAddr.length;
  buf.set(bAddr, o); o += bAddr.length;
  o = buf.writeUInt8(proto & 0xff, o);
  o = buf.writeUInt8(0, o);
  o = buf.writeUInt16BE(aPort, o);
  buf.writeUInt16BE(bPort, o);
  return '1:' + createHash('sha1').update(buf).digest('base64');
}

// Scratch input for communityIdTcp: seed, two addresses, proto, pad, two ports.
const SCRATCH4 = Buffer.alloc(2 + 4 + 4 + 2 + 4);
const SCRATCH6 = Buffer.alloc(2 + 16 + 16 + 2 + 4);
const sha1Base64: (data: Buffer) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha1', data, 'base64')
    : (data) => crypto.createHash('sha1').update(data).digest('base64');

/**
 * `communityIdV1` for a TCP flow given as address words (see PacketView):
 * the same value, without per-flow buffers (the flow event computes one per flow).
 * Words compare as their big-endian bytes do.
 */
export function communityIdTcp(
  ipVersion: number,
  c0: number, c1: number, c2: number, c3: number, cPort: number,
  s0: number, s1: number, s2: number, s3: number, sPort: number,
  seed = 0,
): string {
  let c = cmpWord(c0, s0);
  if (ipVersion !== 4 && c === 0) c = cmpWord(c1, s1) || cmpWord(c2, s2) || cmpWord(c3, s3);
  const swap = c > 0 || (c === 0 && cPort > sPort);
  let a0 = c0, a1 = c1, a2 = c2, a3 = c3, ap = cPort, b0 = s0, b1 = s1, b2 = s2, b3 = s3, bp = sPort;
  if (swap) {
    a0 = s0; a1 = s1; a2 = s2; a3 = s3; ap = sPort;
    b0 = c0; b1 = c1; b2 = c2; b3 = c3; bp = cPort;
  }
  let buf: Buffer;
  let o: number;
  if (ipVersion === 4) {
    buf = SCRATCH4;
    buf.writeUInt16BE(seed & 0xffff, 0);
    buf.writeUInt32BE(a0 >>> 0, 2);
    buf.writeUInt32BE(b0 >>> 0, 6);
    o = 10;
  } else {
    buf = SCRATCH6;
    buf.writeUInt16BE(seed & 0xffff, 0);
    buf.writeUInt32BE(a0 >>> 0, 2);
    buf.writeUInt32BE(a1 >>> 0, 6);
    buf.writeUInt32BE(a2 >>> 0, 10);
    buf.writeUInt32BE(a3 >>> 0, 14);
    buf.writeUInt32BE(b0 >>> 0, 18);
    buf.writeUInt32BE(b1 >>> 0, 22);
    buf.writeUInt32BE(b2 >>> 0, 26);
    buf.writeUInt32BE(b3 >>> 0, 30);
    o = 34;
  }
  buf[o] = 6;
  buf[o + 1] = 0;
  buf.writeUInt16BE(ap, o + 2);
  buf.writeUInt16BE(bp, o + 4);
  return '1:' + sha1Base64(buf);
}

function cmpWord(x: number, y: number): number {
  const a = x >>> 0, b = y >>> 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A flow's Community ID (client and server as the flow table oriented them; the value is symmetric). */
export function flowCommunityId(f: Flow): string {
  return communityIdTcp(f.ipVersion, f.c0, f.c1, f.c2, f.c3, f.cPort, f.s0, f.s1, f.s2, f.s3, f.sPort);
}
