/**
 * /proc/net/{tcp,tcp6,udp,udp6}: one socket per line,
 * `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …`.
 * Addresses are hex words in host byte order; ports are big hex.
 */
import { endianness } from 'node:os';
import { v6Text } from '../ip.js';

export interface ProcSocket {
  proto: 'tcp' | 'udp';
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** Kernel state number (TCP: 01 ESTABLISHED … 0A LISTEN). */
  state: number;
  uid: number;
  inode: number;
}

export const TCP_LISTEN = 0x0a;
export const TCP_ESTABLISHED = 0x01;
export const TCP_TIME_WAIT = 0x06;

const LE = endianness() === 'LE';

function word(hex: string, at: number): number {
  const v = parseInt(hex.slice(at, at + 8), 16) >>> 0;
  // host byte order: on little-endian hosts the first byte of the address is the low byte
  return LE ? (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0 : v;
}

const v4cache = new Map<string, string>();
const v6cache = new Map<string, string>();

export function hexAddress(hex: string): string | null {
  if (hex.length === 8) {
    let s = v4cache.get(hex);
    if (s === undefined) {
      const w = word(hex, 0);
      if (Number.isNaN(w)) return null;
      s = `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
      if (v4cache.size > 65536) v4cache.clear();
      v4cache.set(hex, s);
    }
    return s;
  }
  if (hex.length === 32) {
    let s = v6cache.get(hex);
    if (s === undefined) {
      const g: number[] = [];
      for (let i = 0; i < 32; i += 8) {
        const w = word(hex, i);
        if (Number.isNaN(w)) return null;
        g.push(w >>> 16, w & 0xffff);
      }
      s = v6Text(g);
      if (v6cache.size > 65536) v6cache.clear();
      v6cache.set(hex, s);
    }
    return s;
  }
  return null;
}

/** Parse one /proc/net table. Malformed lines are skipped. */
export function parseProcNet(text: string, proto: 'tcp' | 'udp', out: ProcSocket[] = []): ProcSocket[] {
  let pos = text.indexOf('\n') + 1; // header
  const n = text.length;
  while (pos > 0 && pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    const line = text.slice(pos, end);
    pos = end + 1;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [la, lp] = f[1].split(':');
    const [ra, rp] = f[2].split(':');
    if (!lp || !rp) continue;
    const localIp = hexAddress(la);
    const remoteIp = hexAddress(ra);
    if (!localIp || !remoteIp) continue;
    const inode = Number(f[9]);
    out.push({
      proto,
      localIp,
      localPort: parseInt(lp, 16),
      remoteIp,
      remotePort: parseInt(rp, 16),
      state: parseInt(f[3], 16),
      uid: Number(f[7]),
      inode: Number.isFinite(inode) ? inode : 0,
    });
  }
  return out;
}
