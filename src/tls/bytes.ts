/** Byte reads the hello parsers share (in place, big-endian as on the wire). */

export function u16(b: Buffer, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** A copy of `buf[start, end)` (one allocation, never a view into the capture buffer). */
export function copyOf(buf: Buffer, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  buf.copy(b, 0, start, end);
  return b;
}
