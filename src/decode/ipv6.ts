/**
 * IPv6 (RFC 8200) and its extension headers.
 *
 *   0: version 4 | traffic class 8 | flow label 20
 *   4: payload length (16)   6: next header   7: hop limit
 *   8: source (16)   24: destination (16)   40: extension headers, then L4
 *
 * Extension headers walked: hop-by-hop (0), routing (43), destination
 * options (60), mobility (135), HIP (139), shim6 (140), experimental (253,
 * 254) — all `(len + 1) × 8` bytes — and AH (51, `(len + 2) × 4` bytes).
 * Fragment (44) goes to the shared reassembler; the reassembled payload is
 * walked on from the fragment header's next header. ESP (50) and no-next-
 * header (59) end the walk: the packet is "other IP".
 *
 * A payload length of 0 with a hop-by-hop Jumbo Payload option (RFC 2675) is
 * a jumbogram: counted (`decode.ipv6.jumbogram`) and decoded with the
 * option's length. A payload length of 0 without it is what Linux BIG TCP
 * and segmentation offload show to a capture: the packet runs to the end of
 * the frame (`stats.zeroLengthTso`, as tcpdump reads it).
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchIpProto, u16, u32 } from './dispatch.js';
import { FRAG_DONE, FRAG_HELD, type FragmentAnomalies } from './ip-fragments.js';
import { DECODE_FAILED, DECODE_HELD } from './results.js';

const A_TRUNCATED = defineAnomaly(
  'decode.ipv6.truncated',
  'packet shorter than the IPv6 header, or than its payload length while the frame was not cut by the snap length',
);
const A_BAD_VERSION = defineAnomaly('decode.ipv6.bad_version', 'IPv6 ethertype or family but the version is not 6');
const A_EXT_TRUNCATED = defineAnomaly(
  'decode.ipv6.ext_header_truncated',
  'an IPv6 extension header runs past the packet or the capture',
);
const A_JUMBOGRAM = defineAnomaly('decode.ipv6.jumbogram', 'IPv6 jumbogram (payload length 0 with a Jumbo Payload option)');
const A_FRAG_TRUNCATED = defineAnomaly(
  'decode.ipv6.frag_truncated',
  'IPv6 fragment not captured whole: it cannot be reassembled',
);
const A_FRAG_NESTED = defineAnomaly(
  'decode.ipv6.frag_nested',
  'a second fragment header inside a reassembled IPv6 datagram',
);
const FRAG_IDS: FragmentAnomalies = {
  overlap: defineAnomaly('decode.ipv6.frag_overlap', 'IPv6 fragments overlap (the bytes that came first are kept)'),
  tooLarge: defineAnomaly('decode.ipv6.frag_pkt_too_large', 'IPv6 fragment would make the payload exceed 65,535 bytes'),
  invalidLength: defineAnomaly(
    'decode.ipv6.frag_invalid_length',
    'IPv6 fragment of an impossible length: a non-final one not a multiple of 8, or disagreeing with the datagram end',
  ),
};

const IPV6_HEADER = 40;
const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_AH = 51;
const NH_DEST_OPTS = 60;
const NH_MOBILITY = 135;
const NH_HIP = 139;
const NH_SHIM6 = 140;
const NH_NO_NEXT = 59;
const NH_EXPERIMENT1 = 253;
const NH_EXPERIMENT2 = 254;
const OPT_JUMBO = 0xc2;

export function decodeIpv6(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < IPV6_HEADER) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  if (buf[off] >> 4 !== 6) {
    c.counters.inc(A_BAD_VERSION);
    return DECODE_FAILED;
  }
  c.stats.ipv6++;
  const v = c.view;
  v.ipVersion = 6;
  v.src0 = u32(buf, off + 8);
  v.src1 = u32(buf, off + 12);
  v.src2 = u32(buf, off + 16);
  v.src3 = u32(buf, off + 20);
  v.dst0 = u32(buf, off + 24);
  v.dst1 = u32(buf, off + 28);
  v.dst2 = u32(buf, off + 32);
  v.dst3 = u32(buf, off + 36);
  v.ttl = buf[off + 7];
  let nh = buf[off + 6];
  let payloadLen = u16(buf, off + 4);
  if (payloadLen === 0) {
    const jumbo = nh === NH_HOP_BY_HOP ? jumboLength(buf, off + IPV6_HEADER, end) : -1;
    if (jumbo >= 0) {
      c.counters.inc(A_JUMBOGRAM);
      payloadLen = jumbo;
    } else if (nh !== NH_NO_NEXT && c.wireEnd - off > IPV6_HEADER) {
      payloadLen = c.wireEnd - off - IPV6_HEADER;
      c.stats.zeroLengthTso++;
    }
  }
  v.ipBytes = IPV6_HEADER + payloadLen;

  const wireEnd = off + IPV6_HEADER + payloadLen;
  let ipEnd = wireEnd;
  if (wireEnd > end) {
    if (wireEnd > c.wireEnd) c.counters.inc(A_TRUNCATED);
    else c.stats.snapTruncated++;
    ipEnd = end;
  }
  if (wireEnd < c.wireEnd) c.wireEnd = wireEnd;

  let p = off + IPV6_HEADER;
  let reassembled = false;
  /** Where the packet ends on the wire, in `buf` (the frame, then the reassembled payload). */
  let l4WireEnd = wireEnd;
  for (;;) {
    let len = -1;
    switch (nh) {
      case NH_HOP_BY_HOP:
      case NH_ROUTING:
      case NH_DEST_OPTS:
      case NH_MOBILITY:
      case NH_HIP:
      case NH_SHIM6:
      case NH_EXPERIMENT1:
      case NH_EXPERIMENT2:
        if (ipEnd - p < 8) break;
        len = (buf[p + 1] + 1) << 3;
        break;
      case NH_AH:
        if (ipEnd - p < 8) break;
        len = (buf[p + 1] + 2) << 2;
        break;
      case NH_FRAGMENT: {
        if (ipEnd - p < 8) {
          c.counters.inc(A_EXT_TRUNCATED);
          return DECODE_FAILED;
        }
        const fragField = u16(buf, p + 2);
        if ((fragField & 0xfff9) === 0) {
          // Atomic fragment (RFC 6946): offset 0, no more fragments; just a header to skip.
          nh = buf[p];
          p += 8;
          continue;
        }
        if (reassembled) {
          c.counters.inc(A_FRAG_NESTED);
          return DECODE_FAILED;
        }
        const r = fragment(c, buf, off, p, fragField, ipEnd, wireEnd);
        if (r >= 0) return r;
        // Reassembled: walk on inside the datagram's payload.
        buf = c.frags.out;
        nh = c.frags.outNext;
        v.ipBytes = c.frags.outHeaderLen + buf.length;
        p = 0;
        ipEnd = l4WireEnd = c.wireEnd = buf.length;
        reassembled = true;
        continue;
      }
      default:
        v.protocol = nh;
        c.l4Wire = l4WireEnd - p;
        return dispatchIpProto(c, nh, buf, p, ipEnd);
    }
    if (len < 0 || p + len > ipEnd) {
      c.counters.inc(A_EXT_TRUNCATED);
      return DECODE_FAILED;
    }
    nh = buf[p];
    p += len;
  }
}

/** The Jumbo Payload option's length in a hop-by-hop header at `p`, or -1. */
function jumboLength(buf: Buffer, p: number, end: number): number {
  if (end - p < 8) return -1;
  const hend = p + ((buf[p + 1] + 1) << 3);
  if (hend > end) return -1;
  let i = p + 2;
  while (i < hend) {
    const type = buf[i];
    if (type === 0) {
      i++; // Pad1
      continue;
    }
    if (i + 1 >= hend) return -1;
    const olen = buf[i + 1];
    if (type === OPT_JUMBO && olen === 4 && i + 6 <= hend) return u32(buf, i + 2);
    i += 2 + olen;
  }
  return -1;
}

/**
 * A fragment header at `p`: returns DECODE_HELD / DECODE_FAILED, or -1 when
 * the datagram is complete (payload in `c.frags.out`).
 */
function fragment(c: DecodeContext, buf: Buffer, off: number, p: number, fragField: number, ipEnd: number, wireEnd: number): number {
  c.stats.fragments.received++;
  if (ipEnd < wireEnd) {
    c.counters.inc(A_FRAG_TRUNCATED);
    return DECODE_FAILED;
  }
  const v = c.view;
  const id = u32(buf, p + 4);
  const key = `6 ${v.src0} ${v.src1} ${v.src2} ${v.src3} ${v.dst0} ${v.dst1} ${v.dst2} ${v.dst3} ${id}`;
  // Bytes between the fixed header and the fragment header stay in the reassembled packet.
  const unfragmentable = p - off - IPV6_HEADER;
  const r = c.frags.add(
    FRAG_IDS,
    key,
    c.now,
    fragField & 0xfff8,
    (fragField & 1) !== 0,
    buf,
    p + 8,
    ipEnd,
    65535 - unfragmentable,
    buf[p],
    IPV6_HEADER + unfragmentable,
  );
  if (r === FRAG_HELD) {
    c.stats.fragments.held++;
    return DECODE_HELD;
  }
  if (r !== FRAG_DONE) return DECODE_FAILED;
  return -1;
}
