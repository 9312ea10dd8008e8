/**
 * UDP (RFC 768): ports and payload. The payload ends where the UDP length
 * says (never past the IP packet). A UDP-port tunnel (VXLAN, Geneve) is
 * looked up by destination port in the Decoder's table; when its header does
 * not match, the datagram stays plain UDP.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { u16 } from './dispatch.js';
import { DECODE_FAILED, DECODE_OTHER_IP, NOT_THIS_TUNNEL } from './results.js';

const A_TRUNCATED = defineAnomaly('decode.udp.truncated', 'UDP header not captured whole');
const A_BAD_LENGTH = defineAnomaly(
  'decode.udp.bad_length',
  'UDP length below 8 or past the end of the IP packet',
);

const UDP_HEADER = 8;

export function decodeUdp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < UDP_HEADER) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const ulen = u16(buf, off + 4);
  if (ulen < UDP_HEADER || ulen > c.l4Wire) {
    c.counters.inc(A_BAD_LENGTH);
    return DECODE_FAILED;
  }
  c.stats.udp++;
  const v = c.view;
  const dstPort = u16(buf, off + 2);
  v.srcPort = u16(buf, off);
  v.dstPort = dstPort;
  const pOff = off + UDP_HEADER;
  const pEnd = off + ulen < end ? off + ulen : end;
  v.payload = buf;
  v.payloadOffset = pOff;
  v.payloadLength = pEnd - pOff;
  v.payloadWireLength = ulen - UDP_HEADER;
  const tunnel = c.udpPort[dstPort];
  if (tunnel !== null) {
    const r = tunnel(c, buf, pOff, pEnd);
    if (r !== NOT_THIS_TUNNEL) return r;
  }
  return DECODE_OTHER_IP;
}
