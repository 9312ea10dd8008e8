/**
 * ICMP (1) and ICMPv6 (58): counted, and the whole message is the payload.
 * Type and code are left to a later stage that needs them.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { otherIp } from './dispatch.js';
import { DECODE_FAILED } from './results.js';

const A_ICMP_TRUNCATED = defineAnomaly('decode.icmpv4.truncated', 'ICMP message shorter than its 4-byte header');
const A_ICMPV6_TRUNCATED = defineAnomaly('decode.icmpv6.truncated', 'ICMPv6 message shorter than its 4-byte header');

export function decodeIcmp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 4) {
    c.counters.inc(A_ICMP_TRUNCATED);
    return DECODE_FAILED;
  }
  c.stats.icmp++;
  return otherIp(c, buf, off, end);
}

export function decodeIcmpv6(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 4) {
    c.counters.inc(A_ICMPV6_TRUNCATED);
    return DECODE_FAILED;
  }
  c.stats.icmpv6++;
  return otherIp(c, buf, off, end);
}
