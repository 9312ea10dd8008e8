/**
 * Geneve (RFC 8926), UDP port 6081:
 *   version 2 | option length 6 (4-byte words) | O 1 | C 1 | reserved 6 |
 *   protocol type (2, an ethertype; 0x6558 = Ethernet) | VNI (3) | reserved (1)
 *   then the options, then the inner packet.
 * A version other than 0 leaves the datagram plain UDP.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { dispatchEtherType, enterTunnel, u16 } from './dispatch.js';
import { decodeEthernet } from './ethernet.js';
import { DECODE_FAILED, NOT_THIS_TUNNEL } from './results.js';

const A_TRUNCATED = defineAnomaly('decode.geneve.truncated', 'Geneve options run past the captured datagram');

export const GENEVE_PORT = 6081;

export function decodeGeneve(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 8 || buf[off] >> 6 !== 0) return NOT_THIS_TUNNEL;
  const hl = 8 + ((buf[off] & 0x3f) << 2);
  if (end - off < hl) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.geneve++;
  const proto = u16(buf, off + 2);
  if (proto === 0x6558) return decodeEthernet(c, buf, off + hl, end);
  return dispatchEtherType(c, proto, buf, off + hl, end);
}
