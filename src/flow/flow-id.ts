import type { Flow } from './flow.js';

/**
 * A flow id that is the same every time the same capture is read (so a SIEM
 * can drop duplicates when a capture is re-ingested), and unique in practice:
 * a 64-bit hash of the first packet's time and the oriented 5-tuple. Zeek-like
 * shape: 'C' + 11 base62 characters. Not cryptographic (Community ID is the
 * cross-tool key); computed from numbers, no buffers or digests per flow.
 */
export function flowId(f: Flow): string {
  const c = flowIdCodes(f);
  return String.fromCharCode(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]);
}

const CODES = new Uint8Array(12);

/** The 12 ASCII codes of `flowId(f)`, in a scratch array valid until the next call (writers copy it). */
export function flowIdCodes(f: Flow): Uint8Array {
  const tsHi = Math.floor(f.firstTs / 0x100000000) >>> 0;
  const tsLo = f.firstTs >>> 0;
  const ports = ((f.cPort << 16) | f.sPort) >>> 0;
  let h1 = 0x9e3779b9 ^ f.ipVersion, h2 = 0x85ebca6b;
  h1 = mix(h1 ^ tsLo, 0xcc9e2d51); h2 = mix(h2 ^ tsLo ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ tsHi, 0xcc9e2d51); h2 = mix(h2 ^ tsHi ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.c0, 0xcc9e2d51); h2 = mix(h2 ^ f.c0 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.c1, 0xcc9e2d51); h2 = mix(h2 ^ f.c1 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.c2, 0xcc9e2d51); h2 = mix(h2 ^ f.c2 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.c3, 0xcc9e2d51); h2 = mix(h2 ^ f.c3 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.s0, 0xcc9e2d51); h2 = mix(h2 ^ f.s0 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.s1, 0xcc9e2d51); h2 = mix(h2 ^ f.s1 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.s2, 0xcc9e2d51); h2 = mix(h2 ^ f.s2 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ f.s3, 0xcc9e2d51); h2 = mix(h2 ^ f.s3 ^ (h1 >>> 7), 0x1b873593);
  h1 = mix(h1 ^ ports, 0xcc9e2d51); h2 = mix(h2 ^ ports ^ (h1 >>> 7), 0x1b873593);
  h1 = fmix(h1 ^ h2);
  h2 = fmix(h2 ^ h1);
  const out = CODES;
  out[0] = 0x43; // 'C'
  // 11 base62 digits from 64 bits (62^11 > 2^64).
  let hi = h1 >>> 0, lo = h2 >>> 0;
  for (let i = 1; i <= 11; i++) {
    // divide the 64-bit value (hi, lo) by 62 (exact in doubles: every value stays below 2^38)
    const qHi = Math.floor(hi / 62);
    const rHi = hi - qHi * 62;
    hi = qHi;
    const cur = rHi * 0x100000000 + lo;
    const q = Math.floor(cur / 62);
    lo = q >>> 0;
    out[i] = ALPHABET_CODES[cur - q * 62];
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
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
