/**
 * BSD loopback: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108).
 *
 * A 4-byte address family, then the IP packet. NULL stores the family in the
 * byte order of the capturing host (unknown to the reader: as libpcap does, a
 * value with any of its upper 16 bits set is taken as byte-swapped); LOOP
 * (OpenBSD) stores it in network order. AF_INET is 2 everywhere; AF_INET6 is
 * 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly) or 30 (Darwin).
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { notDecoded, notIp, u32 } from './dispatch.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { DECODE_FAILED } from './results.js';
import { ND_NULL_FAMILY } from './stats.js';

const A_NULL_TRUNCATED = defineAnomaly('decode.null.truncated', 'frame shorter than the 4-byte BSD loopback header');
const A_LOOP_TRUNCATED = defineAnomaly('decode.loop.truncated', 'frame shorter than the 4-byte OpenBSD loopback header');

const AF_INET = 2;
const AF_OSI = 7;
const AF_IPX = 23;
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;

export function decodeNull(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 4) {
    c.counters.inc(A_NULL_TRUNCATED);
    return DECODE_FAILED;
  }
  let family = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  if (family > 0xffff) family = u32(buf, off);
  return byFamily(c, family, buf, off + 4, end);
}

export function decodeLoop(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 4) {
    c.counters.inc(A_LOOP_TRUNCATED);
    return DECODE_FAILED;
  }
  return byFamily(c, u32(buf, off), buf, off + 4, end);
}

function byFamily(c: DecodeContext, family: number, buf: Buffer, off: number, end: number): number {
  switch (family) {
    case AF_INET:
      return decodeIpv4(c, buf, off, end);
    case AF_INET6_BSD:
    case AF_INET6_FREEBSD:
    case AF_INET6_DARWIN:
      return decodeIpv6(c, buf, off, end);
    case AF_OSI:
    case AF_IPX:
      return notIp(c, ND_NULL_FAMILY, family);
    default:
      return notDecoded(c, ND_NULL_FAMILY, family);
  }
}
