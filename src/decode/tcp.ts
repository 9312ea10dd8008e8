/**
 * TCP (RFC 9293) and the options a passive sensor needs.
 *
 *   0: source port   2: destination port   4: sequence   8: acknowledgment
 *  12: data offset 4 | reserved 3 | NS 1    13: flags (CWR ECE URG ACK PSH RST SYN FIN)
 *  14: window   16: checksum (not checked)   18: urgent pointer   20: options
 *
 * Options: EOL (0) ends the list, NOP (1) is one byte, the rest are
 * kind/length/value: MSS (2, len 4), window scale (3, len 3), SACK-permitted
 * (4, len 2), SACK (5, len 2 + 8n), timestamps (8, len 10), others skipped by
 * length. A known option of the wrong length is counted and skipped; a length
 * under 2 or past the header stops the walk (counted). In both cases the
 * segment is still delivered, as a receiving stack (Linux `tcp_parse_options`)
 * would accept it: dropping it here would let a crafted option hide data from
 * the sensor.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { u16, u32 } from './dispatch.js';
import { DECODE_FAILED, DECODE_TCP } from './results.js';

const A_TRUNCATED = defineAnomaly('decode.tcp.truncated', 'TCP header not captured whole');
const A_BAD_DATA_OFFSET = defineAnomaly(
  'decode.tcp.bad_data_offset',
  'TCP data offset below 5 words or past the end of the segment',
);
const A_OPT_TRUNCATED = defineAnomaly(
  'decode.tcp.option_truncated',
  'TCP option whose length byte is missing or runs past the header',
);
const A_OPT_BAD_LENGTH = defineAnomaly(
  'decode.tcp.option_invalid_length',
  'TCP option with a length below 2, or a known option (MSS, window scale, SACK, timestamps) of the wrong length',
);

const TCP_HEADER = 20;

export function decodeTcp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < TCP_HEADER) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const hlen = (buf[off + 12] >> 4) << 2;
  if (hlen < TCP_HEADER || hlen > c.l4Wire) {
    c.counters.inc(A_BAD_DATA_OFFSET);
    return DECODE_FAILED;
  }
  if (hlen > end - off) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const v = c.view;
  v.srcPort = u16(buf, off);
  v.dstPort = u16(buf, off + 2);
  v.seq = u32(buf, off + 4);
  v.ack = u32(buf, off + 8);
  v.tcpFlags = buf[off + 13];
  v.window = u16(buf, off + 14);
  if (hlen > TCP_HEADER) options(c, buf, off + TCP_HEADER, off + hlen);
  c.stats.tcp++;
  v.payload = buf;
  v.payloadOffset = off + hlen;
  v.payloadLength = end - off - hlen;
  v.payloadWireLength = c.l4Wire - hlen;
  return DECODE_TCP;
}

function options(c: DecodeContext, buf: Buffer, i: number, end: number): void {
  const v = c.view;
  while (i < end) {
    const kind = buf[i];
    if (kind === 0) return; // EOL
    if (kind === 1) {
      i++; // NOP
      continue;
    }
    if (i + 1 >= end) {
      c.counters.inc(A_OPT_TRUNCATED);
      return;
    }
    const len = buf[i + 1];
    if (len < 2) {
      c.counters.inc(A_OPT_BAD_LENGTH);
      return;
    }
    if (i + len > end) {
      c.counters.inc(A_OPT_TRUNCATED);
      return;
    }
    switch (kind) {
      case 2: // MSS
        if (len === 4) v.mss = u16(buf, i + 2);
        else c.counters.inc(A_OPT_BAD_LENGTH);
        break;
      case 3: // window scale
        if (len === 3) v.windowScale = buf[i + 2];
        else c.counters.inc(A_OPT_BAD_LENGTH);
        break;
      case 4: // SACK permitted
        if (len === 2) v.sackPermitted = true;
        else c.counters.inc(A_OPT_BAD_LENGTH);
        break;
      case 5: // SACK blocks: not kept, but their length is checked
        if (len < 10 || ((len - 2) & 7) !== 0) c.counters.inc(A_OPT_BAD_LENGTH);
        break;
      case 8: // timestamps
        if (len === 10) {
          v.tsVal = u32(buf, i + 2);
          v.tsEcr = u32(buf, i + 6);
        } else {
          c.counters.inc(A_OPT_BAD_LENGTH);
        }
        break;
    }
    i += len;
  }
}
