/**
 * IPv4 (RFC 791).
 *
 *   0: version 4 | IHL 4     1: DSCP/ECN      2: total length (16)
 *   4: identification (16)   6: flags 3 | fragment offset 13 (× 8 bytes)
 *   8: TTL   9: protocol    10: header checksum (not checked: offloads)
 *  12: source   16: destination   20: options (IHL > 5)
 *
 * The total length says where the packet ends: bytes after it (Ethernet
 * padding) are not payload. A total length past the captured bytes is a snap
 * length cut when the wire frame was long enough (`stats.snapTruncated`), a
 * lie otherwise (`decode.ipv4.truncated`); either way the payload is delivered
 * with `payloadWireLength` from the header and `payloadLength` as captured.
 * A total length of 0 is what a capture taken before TCP segmentation
 * offload shows: as Wireshark does, the packet is then taken to run to the
 * end of the frame (`stats.zeroLengthTso`).
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchIpProto, u16, u32 } from './dispatch.js';
import { FRAG_DONE, FRAG_HELD, type FragmentAnomalies } from './ip-fragments.js';
import { DECODE_FAILED, DECODE_HELD } from './results.js';

const A_TRUNCATED = defineAnomaly(
  'decode.ipv4.truncated',
  'packet shorter than its IPv4 header, or than its total length while the frame was not cut by the snap length',
);
const A_BAD_VERSION = defineAnomaly('decode.ipv4.bad_version', 'IPv4 ethertype or family but the version is not 4');
const A_BAD_HLEN = defineAnomaly('decode.ipv4.bad_header_length', 'IPv4 header length (IHL) below 5 words');
const A_BAD_TOTAL = defineAnomaly('decode.ipv4.bad_total_length', 'IPv4 total length smaller than the header');
const A_OPTION = defineAnomaly('decode.ipv4.option_malformed', 'IPv4 option with a length that is too small or runs past the header');
const A_FRAG_TRUNCATED = defineAnomaly(
  'decode.ipv4.frag_truncated',
  'IPv4 fragment not captured whole: it cannot be reassembled',
);
const FRAG_IDS: FragmentAnomalies = {
  overlap: defineAnomaly('decode.ipv4.frag_overlap', 'IPv4 fragments overlap (the bytes that came first are kept)'),
  tooLarge: defineAnomaly('decode.ipv4.frag_pkt_too_large', 'IPv4 fragment would make the datagram exceed 65,535 bytes'),
  invalidLength: defineAnomaly(
    'decode.ipv4.frag_invalid_length',
    'IPv4 fragment of an impossible length: a non-final one not a multiple of 8, or disagreeing with the datagram end',
  ),
};

export function decodeIpv4(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  const avail = end - off;
  if (avail < 20) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const b0 = buf[off];
  if (b0 >> 4 !== 4) {
    c.counters.inc(A_BAD_VERSION);
    return DECODE_FAILED;
  }
  const hlen = (b0 & 0x0f) << 2;
  if (hlen < 20) {
    c.counters.inc(A_BAD_HLEN);
    return DECODE_FAILED;
  }
  let total = u16(buf, off + 2);
  if (total === 0) {
    total = c.wireEnd - off;
    c.stats.zeroLengthTso++;
  }
  if (total < hlen) {
    c.counters.inc(A_BAD_TOTAL);
    return DECODE_FAILED;
  }
  if (hlen > avail) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  c.stats.ipv4++;
  const v = c.view;
  v.ipVersion = 4;
  v.src0 = u32(buf, off + 12);
  v.dst0 = u32(buf, off + 16);
  v.src1 = v.src2 = v.src3 = 0;
  v.dst1 = v.dst2 = v.dst3 = 0;
  const proto = buf[off + 9];
  v.protocol = proto;
  v.ttl = buf[off + 8];
  v.ipBytes = total;
  if (hlen > 20) checkOptions(c, buf, off + 20, off + hlen);

  const wireEnd = off + total;
  let ipEnd = wireEnd;
  if (wireEnd > end) {
    if (wireEnd > c.wireEnd) c.counters.inc(A_TRUNCATED);
    else c.stats.snapTruncated++;
    ipEnd = end;
  }
  if (wireEnd < c.wireEnd) c.wireEnd = wireEnd;

  const frag = u16(buf, off + 6);
  if ((frag & 0x3fff) !== 0) return fragment(c, buf, off, hlen, frag, proto, ipEnd, wireEnd);
  c.l4Wire = total - hlen;
  return dispatchIpProto(c, proto, buf, off + hlen, ipEnd);
}

/** Options are skipped; their lengths are checked so a malformed one is counted. */
function checkOptions(c: DecodeContext, buf: Buffer, i: number, end: number): void {
  while (i < end) {
    const kind = buf[i];
    if (kind === 0) return; // end of options
    if (kind === 1) {
      i++; // no-op
      continue;
    }
    if (i + 1 >= end || buf[i + 1] < 2 || i + buf[i + 1] > end) {
      c.counters.inc(A_OPTION);
      return;
    }
    i += buf[i + 1];
  }
}

function fragment(
  c: DecodeContext,
  buf: Buffer,
  off: number,
  hlen: number,
  frag: number,
  proto: number,
  ipEnd: number,
  wireEnd: number,
): number {
  c.stats.fragments.received++;
  if (ipEnd < wireEnd) {
    c.counters.inc(A_FRAG_TRUNCATED);
    return DECODE_FAILED;
  }
  const v = c.view;
  const key = `4 ${v.src0} ${v.dst0} ${u16(buf, off + 4)} ${proto}`;
  const start = (frag & 0x1fff) << 3;
  const more = (frag & 0x2000) !== 0;
  const r = c.frags.add(FRAG_IDS, key, c.now, start, more, buf, off + hlen, ipEnd, 65535 - hlen, proto, hlen);
  if (r === FRAG_HELD) {
    c.stats.fragments.held++;
    return DECODE_HELD;
  }
  if (r !== FRAG_DONE) return DECODE_FAILED;
  const data = c.frags.out;
  v.ipBytes = c.frags.outHeaderLen + data.length;
  c.l4Wire = data.length;
  c.wireEnd = data.length;
  return dispatchIpProto(c, proto, data, 0, data.length);
}
