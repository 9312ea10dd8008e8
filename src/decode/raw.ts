/**
 * Raw IP link types: LINKTYPE_RAW (101, and 12 / 14, the DLT_RAW values some
 * systems write into files) carries IPv4 or IPv6, told apart by the version
 * nibble; LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229) carry one family, and
 * go straight to its decoder (registered in `registry.ts`).
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { DECODE_FAILED } from './results.js';

const A_RAW_TRUNCATED = defineAnomaly('decode.raw.truncated', 'empty raw IP frame');
const A_RAW_BAD_VERSION = defineAnomaly('decode.raw.bad_ip_version', 'raw IP frame whose version is neither 4 nor 6');

export function decodeRawIp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 1) {
    c.counters.inc(A_RAW_TRUNCATED);
    return DECODE_FAILED;
  }
  const version = buf[off] >> 4;
  if (version === 4) return decodeIpv4(c, buf, off, end);
  if (version === 6) return decodeIpv6(c, buf, off, end);
  c.counters.inc(A_RAW_BAD_VERSION);
  return DECODE_FAILED;
}
