import type { Flow } from './flow.js';

/**
 * A flow id that is the same every time the same capture is read (so a SIEM
 * can drop duplicates when a capture is re-ingested), and unique in practice:
 * a 64-bit hash of the first packet's time and the oriented 5-tuple. Zeek-like
 * shape: 'C' + 11 base62 characters. Not cryptographic (Community ID is the
 * cross-tool key); computed from numbers, no buffers or digests per flow.
 */
export function flowId(f: Flow): string {
  const tsHi = Math.floor(f.firstTs / 0x100000000) >>> 0;
  const tsLo = f.firstTs >>> 0;
  const ports = ((f.cPort << 16) | f.sPort) >>> 0;
  let h1 = 0x9e3779b9 ^ f.ipVersion, h2 = 0x85ebca6b;
  for (const w of [tsLo, tsHi, f.c0, f.c1, f.c2, f.c3, f.s0, f.s1, f.s2, f.s3, ports]) {
    h1 = mix(h1 ^ w, 0xcc9e2d51);
    h2 = mix(h2 ^ w ^ (h1 >>> 7), 0x1b873593);
  }
  h1 = fmix(h1 ^ h2);
  h2 = fmix(h2 ^ h1);
  let out = 'C';
  // 11 base62 digits from 64 bits (62^11 > 2^64).
  let hi = h1 >>> 0, lo = h2 >>> 0;
  for (let i = 0; i < 11; i++) {
    // divide the 64-bit value (hi, lo) by 62
    const rHi = hi % 62;
    hi = Math.floor(hi / 62);
    const cur = rHi * 0x100000000 + lo;
    lo = Math.floor(cur / 62) >>> 0;
    out += ALPHABET[cur % 62];
  }
  return out;
}

function mix(h: number, k: number): number {
  h = Math.imul(h, k);
  return (h << 13) | (h >>> 19);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
