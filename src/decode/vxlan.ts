/**
 * VXLAN (RFC 7348), UDP port 4789:
 *   flags (1, I = 0x08 for a valid VNI) | reserved (3) | VNI (3) | reserved (1)
 * then an Ethernet frame. Without the I flag the datagram stays plain UDP.
 *
 * VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe), UDP port 4790: the same 8 bytes,
 * with a version (2 bits, 0) and a P flag (0x04) saying that byte 3 is the
 * next protocol: 1 IPv4, 2 IPv6, 3 Ethernet, 5 MPLS (NSH, 4, is not decoded).
 */
import type { DecodeContext } from './context.js';
import { enterTunnel, notDecoded } from './dispatch.js';
import { decodeEthernet } from './ethernet.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeMpls } from './mpls.js';
import { DECODE_FAILED, NOT_THIS_TUNNEL } from './results.js';
import { ND_VXLAN_GPE } from './stats.js';

export const VXLAN_PORT = 4789;
export const VXLAN_GPE_PORT = 4790;

export function decodeVxlan(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 8 || (buf[off] & 0x08) === 0) return NOT_THIS_TUNNEL;
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.vxlan++;
  return decodeEthernet(c, buf, off + 8, end);
}

export function decodeVxlanGpe(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (end - off < 8 || (buf[off] & 0x30) !== 0) return NOT_THIS_TUNNEL;
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.vxlan++;
  const next = buf[off] & 0x04 ? buf[off + 3] : 3;
  const p = off + 8;
  switch (next) {
    case 1:
      return decodeIpv4(c, buf, p, end);
    case 2:
      return decodeIpv6(c, buf, p, end);
    case 3:
      return decodeEthernet(c, buf, p, end);
    case 5:
      return decodeMpls(c, buf, p, end);
    default:
      return notDecoded(c, ND_VXLAN_GPE, next);
  }
}
