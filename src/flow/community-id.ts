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
