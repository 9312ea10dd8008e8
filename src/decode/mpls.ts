/**
 * MPLS unicast (ethertype 0x8847, RFC 3032): 4-byte label stack entries
 *   label 20 | traffic class 3 | bottom of stack 1 | TTL 8
 * until the bottom-of-stack bit. MPLS does not say what it carries: explicit
 * null labels do (0 = IPv4, 2 = IPv6); otherwise the first nibble is guessed
 * as peers do — 4 IPv4, 6 IPv6, 0 a pseudowire control word (RFC 4385)
 * followed by an Ethernet frame.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { enterTunnel, notDecoded, u32 } from './dispatch.js';
import { decodeEthernet } from './ethernet.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { DECODE_FAILED } from './results.js';
import { ND_MPLS_PAYLOAD } from './stats.js';

const A_TRUNCATED = defineAnomaly('decode.mpls.truncated', 'MPLS label stack or payload not captured whole');

const LABEL_IPV4_NULL = 0;
const LABEL_IPV6_NULL = 2;

export function decodeMpls(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.mpls++;
  let p = off;
  let entry = 0;
  do {
    if (end - p < 4) {
      c.counters.inc(A_TRUNCATED);
      return DECODE_FAILED;
    }
    entry = u32(buf, p);
    p += 4;
  } while ((entry & 0x100) === 0);
  const label = entry >>> 12;
  if (label === LABEL_IPV4_NULL) return decodeIpv4(c, buf, p, end);
  if (label === LABEL_IPV6_NULL) return decodeIpv6(c, buf, p, end);
  if (p >= end) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const nibble = buf[p] >> 4;
  if (nibble === 4) return decodeIpv4(c, buf, p, end);
  if (nibble === 6) return decodeIpv6(c, buf, p, end);
  if (nibble === 0) return decodeEthernet(c, buf, p + 4, end);
  return notDecoded(c, ND_MPLS_PAYLOAD, nibble);
}
