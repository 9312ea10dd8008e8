/**
 * PPPoE session stage (ethertype 0x8864, RFC 2516):
 *   version 4 = 1 | type 4 = 1 | code (1) = 0 | session id (2) | length (2)
 * then the PPP protocol (2), handed on as for a PPP link (`ppp.ts`). The length (PPP protocol + payload) bounds the
 * packet, so Ethernet padding is not taken as payload.
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { enterTunnel, u16 } from './dispatch.js';
import { pppProtocol } from './ppp.js';
import { DECODE_FAILED } from './results.js';

const A_TRUNCATED = defineAnomaly('decode.pppoe.truncated', 'PPPoE session header not captured whole');
const A_BAD_HEADER = defineAnomaly(
  'decode.pppoe.bad_header',
  'PPPoE session header with a version/type other than 1/1, a non-zero code, or a length below 2',
);

export function decodePppoeSession(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 8) {
    c.counters.inc(A_TRUNCATED);
    return DECODE_FAILED;
  }
  const len = u16(buf, off + 4);
  if (buf[off] !== 0x11 || buf[off + 1] !== 0 || len < 2) {
    c.counters.inc(A_BAD_HEADER);
    return DECODE_FAILED;
  }
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.pppoe++;
  const pend = off + 6 + len < end ? off + 6 + len : end;
  return pppProtocol(c, u16(buf, off + 6), buf, off + 8, pend);
}
