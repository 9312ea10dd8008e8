/**
 * Interned hello lists: the hello parsers return frozen lists shared by every
 * hello with the same content (cipher suites, extension types, groups, ...),
 * instead of fresh arrays per connection. A sensor sees the same few client
 * and server stacks over and over; their lists then cost neither allocation
 * nor memory per session. Content is always compared in full (the hash only
 * picks a bucket), so a parse returns exactly what it did before, frozen.
 *
 * The tables are module-wide and bounded: when one is full it starts afresh.
 */
import type { ExtensionRef } from './result.js';

const MAX_ENTRIES = 4096;

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  return (h << 13) | (h >>> 19);
}

/**
 * Values filed in lists under a key (a hash, or a list's identity), at most
 * `capacity` in all: when full it starts afresh, so a flood of one-off values
 * costs no memory. With `perKey`, a list that long files nothing more (`add`
 * still returns the value), so no lookup walks a longer one. The interning
 * tables here, the hello memo and the flow-event writer's kept runs use it.
 */
export class Table<T, K = number> {
  private readonly map = new Map<K, T[]>();
  private count = 0;

  constructor(
    private readonly capacity = MAX_ENTRIES,
    private readonly perKey = Infinity,
  ) {}

  bucket(h: K): T[] | undefined {
    return this.map.get(h);
  }

  add(h: K, v: T): T {
    if (this.count >= this.capacity) {
      this.map.clear();
      this.count = 0;
    }
    const b = this.map.get(h);
    if (b === undefined) this.map.set(h, [v]);
    else if (b.length < this.perKey) b.push(v);
    else return v;
    this.count++;
    return v;
  }
}

const EMPTY: readonly number[] = Object.freeze([]);
const numberLists = new Table<readonly number[]>();

/** Scratch for lists gathered value by value (parsers are synchronous: one at a time). */
export class NumberScratch {
  values = new Array<number>(64);
  n = 0;

  push(v: number): void {
    this.values[this.n++] = v;
  }
}

/** The frozen shared list of `values[0, n)`. */
export function internNumbers(values: readonly number[], n: number): readonly number[] {
  if (n === 0) return EMPTY;
  let h = mix(0x1b873593, n);
  for (let i = 0; i < n; i++) h = mix(h, values[i]);
  const b = numberLists.bucket(h);
  if (b !== undefined) {
    outer: for (const l of b) {
      if (l.length !== n) continue;
      for (let i = 0; i < n; i++) if (l[i] !== values[i]) continue outer;
      return l;
    }
  }
  return numberLists.add(h, Object.freeze(values.slice(0, n)));
}

/** The frozen shared list of the big-endian 16-bit values in `buf[p, end)` (`end - p` even). */
export function internU16(buf: Buffer, p: number, end: number): readonly number[] {
  const n = (end - p) >>> 1;
  if (n === 0) return EMPTY;
  // The bucket from the length and up to 16 values spread over the list; the comparison below is complete.
  let h = mix(0x1b873593, n);
  const step = n > 16 ? 2 * (n >>> 4) : 2;
  for (let i = p; i < end; i += step) h = mix(h, (buf[i] << 8) | buf[i + 1]);
  const b = numberLists.bucket(h);
  if (b !== undefined) {
    outer: for (const l of b) {
      if (l.length !== n) continue;
      for (let i = 0, q = p; i < n; i++, q += 2) if (l[i] !== ((buf[q] << 8) | buf[q + 1])) continue outer;
      return l;
    }
  }
  const out = new Array<number>(n);
  for (let i = 0, q = p; i < n; i++, q += 2) out[i] = (buf[q] << 8) | buf[q + 1];
  return numberLists.add(h, Object.freeze(out));
}

/** The frozen shared list of the bytes in `buf[p, end)`. */
export function internU8(buf: Buffer, p: number, end: number): readonly number[] {
  const n = end - p;
  if (n <= 0) return EMPTY;
  let h = mix(0x1b873593, n);
  for (let i = p; i < end; i++) h = mix(h, buf[i]);
  const b = numberLists.bucket(h);
  if (b !== undefined) {
    outer: for (const l of b) {
      if (l.length !== n) continue;
      for (let i = 0; i < n; i++) if (l[i] !== buf[p + i]) continue outer;
      return l;
    }
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = buf[p + i];
  return numberLists.add(h, Object.freeze(out));
}

const EMPTY_REFS: readonly ExtensionRef[] = Object.freeze([]);
const refLists = new Table<readonly ExtensionRef[]>();

/** Extension (type, offset, length) triples gathered during a parse. */
export class RefScratch {
  values = new Array<number>(3 * 32);
  n = 0;

  push(type: number, offset: number, length: number): void {
    const i = 3 * this.n++;
    this.values[i] = type;
    this.values[i + 1] = offset;
    this.values[i + 2] = length;
  }
}

/** The frozen shared list of frozen `ExtensionRef`s of `s`. */
export function internRefs(s: RefScratch): readonly ExtensionRef[] {
  const n = s.n;
  if (n === 0) return EMPTY_REFS;
  const v = s.values;
  let h = mix(0x2545f491, n);
  for (let i = 0; i < 3 * n; i++) h = mix(h, v[i]);
  const b = refLists.bucket(h);
  if (b !== undefined) {
    outer: for (const l of b) {
      if (l.length !== n) continue;
      for (let i = 0; i < n; i++) {
        const r = l[i];
        if (r.type !== v[3 * i] || r.offset !== v[3 * i + 1] || r.length !== v[3 * i + 2]) continue outer;
      }
      return l;
    }
  }
  const out = new Array<ExtensionRef>(n);
  for (let i = 0; i < n; i++) out[i] = Object.freeze({ type: v[3 * i], offset: v[3 * i + 1], length: v[3 * i + 2] });
  return refLists.add(h, Object.freeze(out));
}

const stringLists = new Table<{ readonly bytes: Buffer; readonly names: readonly string[] }>();

/**
 * ALPN protocol names (latin1) of a well-formed ProtocolNameList body
 * `buf[p, end)` (after its 2-byte length), shared by equal lists.
 */
export function internAlpn(buf: Buffer, p: number, end: number): readonly string[] {
  const n = end - p;
  let h = mix(0x6a09e667, n);
  for (let i = p; i < end; i++) h = mix(h, buf[i]);
  const b = stringLists.bucket(h);
  if (b !== undefined) {
    for (const e of b) if (e.bytes.length === n && buf.compare(e.bytes, 0, n, p, end) === 0) return e.names;
  }
  const names: string[] = [];
  for (let q = p; q < end; ) {
    const len = buf[q];
    names.push(buf.toString('latin1', q + 1, q + 1 + len));
    q += 1 + len;
  }
  const bytes = Buffer.allocUnsafeSlow(n);
  buf.copy(bytes, 0, p, end);
  return stringLists.add(h, { bytes, names: Object.freeze(names) }).names;
}
