/**
 * IP in IP: IPv4 (protocol 4, RFC 2003) and IPv6 (protocol 41, RFC 4213:
 * 6in4, 6to4, ISATAP, and IPv6 over IPv6) carried directly in an IP packet.
 * The inner packet becomes the packet.
 */
import type { DecodeContext } from './context.js';
import { enterTunnel } from './dispatch.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { DECODE_FAILED } from './results.js';

export function decodeIpInIpv4(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.ipInIp++;
  return decodeIpv4(c, buf, off, end);
}

export function decodeIpv6InIp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  if (!enterTunnel(c)) return DECODE_FAILED;
  c.stats.tunnels.ipInIp++;
  return decodeIpv6(c, buf, off, end);
}
