/**
 * The glue between layers: table dispatch and the few outcomes every layer
 * shares (not IP, not decoded, other IP, entering a tunnel). A layer never
 * names the next one; it looks the next one up in a table the Decoder built
 * at configuration time (`registry.ts`).
 */
import { defineAnomaly } from '../shared/anomalies.js';
import type { DecodeContext } from './context.js';
import { DECODE_NOT_IP, DECODE_OTHER_IP } from './results.js';
import { ND_ETHERTYPE, ND_LLC, countKey } from './stats.js';

const A_TUNNEL_TOO_DEEP = defineAnomaly(
  'decode.tunnel.too_deep',
  'more nested encapsulations (GRE, VXLAN, MPLS, IP-in-IP, …) than the configured maximum',
);

/** Big-endian 16-bit read. Callers have checked bounds. */
export function u16(b: Buffer, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** Big-endian unsigned 32-bit read. Callers have checked bounds. */
export function u32(b: Buffer, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Ethertypes that are known not to carry IP: counted as not IP, not as "not decoded". */
const KNOWN_NOT_IP = new Uint8Array(0x10000);
for (const t of [
  0x0806, 0x0842, 0x22f0, 0x8035, 0x8137, 0x8808, 0x8809, 0x8863, 0x887b, 0x888e, 0x8892, 0x88a4, 0x88cc,
  0x88cd, 0x88e1, 0x88e3, 0x88f7, 0x8902, 0x8906, 0x8914, 0x893a, 0x9000,
]) {
  KNOWN_NOT_IP[t] = 1;
}

/** Hands the bytes after an ethertype field to the decoder registered for it. */
export function dispatchEtherType(c: DecodeContext, type: number, buf: Buffer, off: number, end: number): number {
  const fn = c.ether[type];
  if (fn !== null) return fn(c, buf, off, end);
  if (type < 0x0600) return notIp(c, ND_LLC, 0); // 802.3 length field: LLC/SNAP (STP, CDP, …)
  if (KNOWN_NOT_IP[type] === 1) return notIp(c, ND_ETHERTYPE, type);
  return notDecoded(c, ND_ETHERTYPE, type);
}

/** Hands an IP payload to the decoder of its protocol; `c.l4Wire` and `view.protocol` are set. */
export function dispatchIpProto(c: DecodeContext, proto: number, buf: Buffer, off: number, end: number): number {
  const fn = c.ipProto[proto];
  if (fn !== null) return fn(c, buf, off, end);
  c.stats.otherIpProtocols[proto]++;
  return otherIp(c, buf, off, end);
}

/** IP decoded, payload not: the view's payload is the L4 bytes. */
export function otherIp(c: DecodeContext, buf: Buffer, off: number, end: number): number {
  const v = c.view;
  v.payload = buf;
  v.payloadOffset = off;
  v.payloadLength = end - off;
  v.payloadWireLength = c.l4Wire;
  return DECODE_OTHER_IP;
}

/** A frame of a known non-IP kind (ARP, LLDP, …). */
export function notIp(c: DecodeContext, kind: number, value: number): number {
  c.stats.notIp++;
  countKey(c.stats.notIpTypes, kind, value);
  return DECODE_NOT_IP;
}

/** An encapsulation this decoder does not know (yet): listed in `stats.notDecoded`. */
export function notDecoded(c: DecodeContext, kind: number, value: number): number {
  c.stats.notIp++;
  countKey(c.stats.notDecoded, kind, value);
  return DECODE_NOT_IP;
}

/** Counts one more encapsulation level; false (anomaly counted) when too deep. */
export function enterTunnel(c: DecodeContext): boolean {
  if (++c.tunnelDepth > c.opts.maxTunnelDepth) {
    c.counters.inc(A_TUNNEL_TOO_DEEP);
    return false;
  }
  return true;
}
