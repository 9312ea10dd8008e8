/**
 * Addresses travel as four 32-bit words (see PacketView). These helpers turn
 * them into bytes and text once per flow, when an event is written.
 */
export function addressBytes(version: number, w0: number, w1: number, w2: number, w3: number): Buffer {
  if (version === 4) {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(w0 >>> 0, 0);
    return b;
  }
  const b = Buffer.allocUnsafe(16);
  b.writeUInt32BE(w0 >>> 0, 0);
  b.writeUInt32BE(w1 >>> 0, 4);
  b.writeUInt32BE(w2 >>> 0, 8);
  b.writeUInt32BE(w3 >>> 0, 12);
  return b;
}

/** RFC 5952 text form for IPv6 (longest zero run compressed), dotted quad for IPv4. */
export function addressText(version: number, w0: number, w1: number, w2: number, w3: number): string {
  if (version === 4) {
    return `${w0 >>> 24}.${(w0 >>> 16) & 255}.${(w0 >>> 8) & 255}.${w0 & 255}`;
  }
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // IPv4-mapped ::ffff:a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}
