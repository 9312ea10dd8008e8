/**
 * IP address text normalisation, so the sensor's addresses (RFC 5952, as
 * written by src/flow/address.ts), /proc/net hex words and Sysmon's
 * uncompressed IPv6 (`fe80:0:0:0:5d91:ea18:e2b5:9755`) compare equal.
 */
import { isIP } from 'node:net';

/** Canonical text (dotted quad; RFC 5952 lower-case IPv6; IPv4-mapped IPv6 → IPv4), or null. */
export function normalizeIp(text: unknown): string | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const v = isIP(s);
  if (v === 4) return s.split('.').map((p) => String(Number(p))).join('.');
  if (v !== 6) return null;
  const words = parseV6(s);
  if (!words) return null;
  return v6Text(words);
}

/** Eight 16-bit words of an IPv6 address that `isIP` accepted. */
function parseV6(s: string): number[] | null {
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    const q = s.slice(lastColon + 1).split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const parseList = (p: string): number[] => (p === '' ? [] : p.split(':').map((h) => parseInt(h, 16)));
  const dbl = s.indexOf('::');
  let words: number[];
  if (dbl >= 0) {
    const head = parseList(s.slice(0, dbl));
    const rest = parseList(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 0) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    words = parseList(s);
  }
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  return words;
}

/** RFC 5952 text of eight words; IPv4-mapped addresses become dotted quads. */
export function v6Text(g: number[]): string {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Multicast, broadcast-looking or unspecified: never a host's own address. */
export function isNonUnicast(ip: string): boolean {
  if (ip === '0.0.0.0' || ip === '::' || ip === '255.255.255.255') return true;
  if (ip.includes(':')) return /^ff/i.test(ip);
  const first = Number(ip.split('.')[0]);
  if (first >= 224) return true;
  return ip.endsWith('.255');
}
