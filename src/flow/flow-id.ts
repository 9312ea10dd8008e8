import { createHash } from 'node:crypto';
import type { Flow } from './flow.js';

/**
 * A flow id that is the same every time the same capture is read (so a SIEM
 * can drop duplicates when a capture is re-ingested), and unique in practice:
 * it hashes the first packet's time and the oriented 5-tuple. Zeek-like shape:
 * 'C' + 20 base62-ish characters.
 */
export function flowId(f: Flow): string {
  const h = createHash('sha1');
  const b = Buffer.allocUnsafe(8 + 4 * 8 + 4 + 1);
  b.writeDoubleBE(f.firstTs, 0);
  const words = [f.c0, f.c1, f.c2, f.c3, f.s0, f.s1, f.s2, f.s3];
  for (let i = 0; i < 8; i++) b.writeUInt32BE(words[i] >>> 0, 8 + 4 * i);
  b.writeUInt16BE(f.cPort, 40);
  b.writeUInt16BE(f.sPort, 42);
  b.writeUInt8(f.ipVersion, 44);
  h.update(b);
  const digest = h.digest();
  let out = 'C';
  for (let i = 0; i < 20; i++) out += ALPHABET[digest[i] % 62];
  return out;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
