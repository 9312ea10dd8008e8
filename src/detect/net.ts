/** Address helpers for rules and allow-lists (node:net's BlockList does the matching). */
import { BlockList, isIP } from 'node:net';

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

function family(ip: string): 'ipv4' | 'ipv6' | null {
  const v = isIP(ip);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null;
}

/** Private, loopback, link-local, CGNAT and unique-local addresses. Unparsable → true (not public). */
export function isPrivateIp(ip: string): boolean {
  const f = family(ip);
  if (!f) return true;
  if (f === 'ipv6' && ip.toLowerCase().startsWith('::ffff:')) return isPrivateIp(ip.slice(7));
  return PRIVATE.check(ip, f);
}

/** A set of CIDRs / addresses compiled once. Throws on a bad entry (configuration time only). */
export class AddressSet {
  private readonly list = new BlockList();
  readonly size: number;
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr, bitsText] = e.split('/');
      const f = family(addr ?? '');
      if (!f) throw new Error(`not an IP address or CIDR: ${e}`);
      const max = f === 'ipv4' ? 32 : 128;
      const bits = bitsText === undefined ? max : Number(bitsText);
      if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`bad prefix length: ${e}`);
      this.list.addSubnet(addr!, bits, f);
    }
    this.size = entries.length;
  }
  has(ip: string): boolean {
    const f = family(ip);
    return f !== null && this.list.check(ip, f);
  }
}
