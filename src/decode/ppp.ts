/**
 * PPP: the link types LINKTYPE_PPP (9) and LINKTYPE_PPP_HDLC (50), and the
 * protocol field shared with PPPoE.
 *
 *   [address 0xff | control 0x03] (optional; RFC 1662 framing)
 *   protocol (2, or 1 when compressed: an odd first byte, RFC 1661 PFC)
 *
 * 0x0021 IPv4, 0x0057 IPv6; control protocols (LCP, IPCP, …) are not IP.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { notIp } from './dispatch.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { DECODE_FAILED } from './results.js';
import { ND_PPP_PROTOCOL } from './stats.js';

const A_TRUNCATED = defineAnomaly('decode.ppp.truncated', 'PPP frame shorter than its protocol field');

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

export function decodePpp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  let p = off;
  if (end - p >= 2 && buf[p] === 0xff && buf[p + 1] === 0x03) p += 2;
  if (end - p < 1 || ((buf[p] & 1) === 0 && end - p < 2)) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  if (buf[p] & 1) return pppProtocol(c, buf[p], buf, p + 1, end);
  return pppProtocol(c, (buf[p] << 8) | buf[p + 1], buf, p + 2, end);
}

/** Hands a PPP payload to IPv4 or IPv6 by its protocol number. */
export function pppProtocol(c: DecodeContext, proto: number, buf: Buffer, off: number, end: number): number {
  if (proto === PPP_IPV4) return decodeIpv4(c, buf, off, end);
  if (proto === PPP_IPV6) return decodeIpv6(c, buf, off, end);
  return notIp(c, ND_PPP_PROTOCOL, proto);
}
