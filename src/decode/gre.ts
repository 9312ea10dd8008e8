/**
 * GRE (RFC 2784/2890) and ERSPAN, the mirror encapsulation carried in it.
 *
 *   flags/version (2): C 0x8000 checksum, R 0x4000 routing (RFC 1701),
 *                      K 0x2000 key, S 0x1000 sequence; version = low 3 bits
 *   protocol (2): an ethertype
 *   then 4 bytes each, in this order, when C (checksum + reserved), K, S.
 *
 * Protocol 0x6558 is a bridged Ethernet frame. 0x88be is ERSPAN type I (no
 * S bit, the mirrored frame follows) or type II (S bit, an 8-byte ERSPAN
 * header); 0x22eb is ERSPAN type III (12 bytes, plus an 8-byte platform
 * sub-header when its O bit is set; frame type 0 = Ethernet). Anything else
 * is an ethertype. Version 1 (PPTP's enhanced GRE) and RFC 1701 routing are
 * listed as not decoded.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchEtherType, enterTunnel, notDecoded, u16 } from './dispatch.js';
import { decodeEthernet } from './ethernet.js';
import { DECODE_FAILED } from './results.js';
import { ND_ERSPAN, ND_GRE } from './stats.js';

const A_GRE_TRUNCATED = defineAnomaly('decode.gre.truncated', 'GRE header not captured whole');
const A_ERSPAN_TRUNCATED = defineAnomaly('decode.erspan.truncated', 'ERSPAN header not captured whole');
const A_ERSPAN_BAD_VERSION = defineAnomaly(
  'decode.erspan.bad_version',
  'ERSPAN header version does not match its GRE protocol type',
);

const GRE_C = 0x8000;
const GRE_R = 0x4000;
const GRE_K = 0x2000;
const GRE_S = 0x1000;
const PROTO_TEB = 0x6558;
const PROTO_ERSPAN = 0x88be;
const PROTO_ERSPAN3 = 0x22eb;

/** Registered for IP protocol 47. */
export function decodeGre(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 4) {
    c.counters.inc(A_GRE_TRUNCATED);
    return DECODE_FAILED;
  }
  const flags = u16(buf, off);
  const proto = u16(buf, off + 2);
  const version = flags & 7;
  if (version !== 0) return notDecoded(c, ND_GRE, version);
  if (flags & GRE_R) return notDecoded(c, ND_GRE, 0);
  let p = off + 4;
  if (flags & GRE_C) p += 4;
  if (flags & GRE_K) p += 4;
  if (flags & GRE_S) p += 4;
  if (p > end) {
    c.counters.inc(A_GRE_TRUNCATED);
    return DECODE_FAILED;
  }
  if (!enterTunnel(c)) return DECODE_FAILED;
  switch (proto) {
    case PROTO_TEB:
      c.stats.tunnels.gre++;
      return decodeEthernet(c, buf, p, end);
    case PROTO_ERSPAN:
      c.stats.tunnels.erspan++;
      if ((flags & GRE_S) === 0) return decodeEthernet(c, buf, p, end); // type I
      if (end - p < 8) return erspanTruncated(c);
      if (buf[p] >> 4 !== 1) return erspanBadVersion(c);
      return decodeEthernet(c, buf, p + 8, end);
    case PROTO_ERSPAN3: {
      c.stats.tunnels.erspan++;
      if (end - p < 12) return erspanTruncated(c);
      const version = buf[p] >> 4;
      if (version !== 2) return erspanBadVersion(c);
      const frameType = (buf[p + 10] >> 2) & 0x1f;
      const hl = buf[p + 11] & 1 ? 20 : 12;
      if (end - p < hl) return erspanTruncated(c);
      if (frameType !== 0) return notDecoded(c, ND_ERSPAN, (version << 8) | frameType);
      return decodeEthernet(c, buf, p + hl, end);
    }
    default:
      c.stats.tunnels.gre++;
      return dispatchEtherType(c, proto, buf, p, end);
  }
}

function erspanTruncated(c: DecodeContext): number {
  c.counters.inc(A_ERSPAN_TRUNCATED);
  return DECODE_FAILED;
}

function erspanBadVersion(c: DecodeContext): number {
  c.counters.inc(A_ERSPAN_BAD_VERSION);
  return DECODE_FAILED;
}
