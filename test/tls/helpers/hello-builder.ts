/**
 * Build TLS hellos, records and sessions byte by byte for tests.
 */

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}
export function u16(v: number): Buffer {
  return Buffer.from([(v >>> 8) & 0xff, v & 0xff]);
}
export function u24(v: number): Buffer {
  return Buffer.from([(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
export function vec8(b: Buffer): Buffer {
  return Buffer.concat([u8(b.length), b]);
}
export function vec16(b: Buffer): Buffer {
  return Buffer.concat([u16(b.length), b]);
}
export function list16(values: readonly number[]): Buffer {
  return Buffer.concat(values.map(u16));
}

export type Ext = readonly [number, Buffer];

export function ext(type: number, data: Buffer = Buffer.alloc(0)): Ext {
  return [type, data];
}
export function sniExt(...names: string[]): Ext {
  const entries = names.map((n) => Buffer.concat([u8(0), vec16(Buffer.from(n, 'latin1'))]));
  return [0x0000, vec16(Buffer.concat(entries))];
}
export function alpnExt(...protos: (string | Buffer)[]): Ext {
  const entries = protos.map((p) => vec8(typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
  return [0x0010, vec16(Buffer.concat(entries))];
}
export function supportedVersionsExt(...versions: number[]): Ext {
  return [0x002b, vec8(list16(versions))];
}
export function groupsExt(...groups: number[]): Ext {
  return [0x000a, vec16(list16(groups))];
}
export function sigAlgsExt(...algs: number[]): Ext {
  return [0x000d, vec16(list16(algs))];
}
export function pointFormatsExt(...formats: number[]): Ext {
  return [0x000b, vec8(Buffer.from(formats))];
}
/** key_share with `[group, keyLength]` entries (keys filled with 0x11). */
export function keyShareExt(...shares: [number, number][]): Ext {
  const entries = shares.map(([g, n]) => Buffer.concat([u16(g), vec16(Buffer.alloc(n, 0x11))]));
  return [0x0033, vec16(Buffer.concat(entries))];
}
export function pskModesExt(...modes: number[]): Ext {
  return [0x002d, vec8(Buffer.from(modes))];
}
export function preSharedKeyExt(identities: number): Ext {
  const ids: Buffer[] = [];
  for (let i = 0; i < identities; i++) ids.push(Buffer.concat([vec16(Buffer.alloc(16, 0x22)), Buffer.alloc(4)]));
  const binders: Buffer[] = [];
  for (let i = 0; i < identities; i++) binders.push(vec8(Buffer.alloc(32, 0x33)));
  return [0x0029, Buffer.concat([vec16(Buffer.concat(ids)), vec16(Buffer.concat(binders))])];
}
export function echOuterExt(kdf = 1, aead = 1, configId = 7, encLen = 32, payloadLen = 200): Ext {
  return [
    0xfe0d,
    Buffer.concat([u8(0), u16(kdf), u16(aead), u8(configId), vec16(Buffer.alloc(encLen, 5)), vec16(Buffer.alloc(payloadLen, 6))]),
  ];
}

export interface ClientHelloSpec {
  version?: number;
  random?: Buffer;
  sessionId?: Buffer;
  ciphers?: readonly number[];
  compression?: readonly number[];
  /** null: no extensions block at all (SSLv3-era hello). */
  extensions?: readonly Ext[] | null;
}

export function clientHelloBody(spec: ClientHelloSpec = {}): Buffer {
  const parts = [
    u16(spec.version ?? 0x0303),
    spec.random ?? Buffer.alloc(32, 0xab),
    vec8(spec.sessionId ?? Buffer.alloc(0)),
    vec16(list16(spec.ciphers ?? [0x1301, 0x1302, 0xc02f])),
    vec8(Buffer.from(spec.compression ?? [0])),
  ];
  if (spec.extensions !== null) {
    const exts = (spec.extensions ?? []).map(([t, d]) => Buffer.concat([u16(t), vec16(d)]));
    parts.push(vec16(Buffer.concat(exts)));
  }
  return Buffer.concat(parts);
}

export interface ServerHelloSpec {
  version?: number;
  random?: Buffer;
  sessionId?: Buffer;
  cipher?: number;
  compression?: number;
  extensions?: readonly Ext[] | null;
}

export function serverHelloBody(spec: ServerHelloSpec = {}): Buffer {
  const parts = [
    u16(spec.version ?? 0x0303),
    spec.random ?? Buffer.alloc(32, 0xcd),
    vec8(spec.sessionId ?? Buffer.alloc(0)),
    u16(spec.cipher ?? 0xc02f),
    u8(spec.compression ?? 0),
  ];
  if (spec.extensions !== null) {
    const exts = (spec.extensions ?? []).map(([t, d]) => Buffer.concat([u16(t), vec16(d)]));
    parts.push(vec16(Buffer.concat(exts)));
  }
  return Buffer.concat(parts);
}

/** A handshake message: type, uint24 length, body. */
export function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), u24(body.length), body]);
}

/** Wrap `payload` in records of `type`, at most `maxFragment` bytes each. */
export function records(type: number, payload: Buffer, version = 0x0303, maxFragment = 16384): Buffer {
  const out: Buffer[] = [];
  if (payload.length === 0) out.push(Buffer.concat([u8(type), u16(version), u16(0)]));
  for (let p = 0; p < payload.length; p += maxFragment) {
    const frag = payload.subarray(p, Math.min(payload.length, p + maxFragment));
    out.push(Buffer.concat([u8(type), u16(version), u16(frag.length), frag]));
  }
  return Buffer.concat(out);
}

export function certificateBody(ders: Buffer[]): Buffer {
  const list = Buffer.concat(ders.map((d) => Buffer.concat([u24(d.length), d])));
  return Buffer.concat([u24(list.length), list]);
}

/** An application-data record of `n` bytes. */
export function appData(n: number, version = 0x0303): Buffer {
  return records(23, Buffer.alloc(n, 0x5a), version);
}

/**
 * The JA4 example of FoxIO's technical_details/JA4.md and rust/ja4/src/tls.rs:
 * 15 ciphers, 16 extensions in that order, the 8 signature algorithms, ALPN h2,
 * supported_versions TLS 1.3. Expected JA4 `t13d1516h2_8daaf6152771_e5627efa2ab1`.
 */
export function foxioExampleHello(withGrease = false): Buffer {
  const ciphers = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
  const sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
  const exts: Ext[] = [
    ext(0x001b, Buffer.from([2, 0, 2])),
    sniExt('example.com'),
    keyShareExt([0x001d, 32]),
    alpnExt('h2', 'http/1.1'),
    ext(0x4469, Buffer.from([0, 3, 2, 0x68, 0x32])),
    ext(0x0017),
    pskModesExt(1),
    sigAlgsExt(...sigs),
    ext(0x0005, Buffer.from([1, 0, 0, 0, 0])),
    ext(0x0023),
    ext(0x0012),
    supportedVersionsExt(0x0304, 0x0303),
    ext(0xff01, Buffer.from([0])),
    pointFormatsExt(0),
    groupsExt(0x001d, 0x0017, 0x0018),
    ext(0x0015, Buffer.alloc(100)),
  ];
  if (withGrease) {
    return clientHelloBody({
      ciphers: [0x3a3a, ...ciphers],
      extensions: [ext(0xdada), ...exts.slice(0, 11), supportedVersionsExt(0x7a7a, 0x0304, 0x0303), ...exts.slice(12), ext(0x1a1a, Buffer.from([0]))],
    });
  }
  return clientHelloBody({ ciphers, extensions: exts });
}
