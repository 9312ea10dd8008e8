/** Whole TLS conversations built from parts, for session-level tests. */
import type { Direction } from '../../../src/flow/stream-parser.js';
import {
  alpnExt,
  appData,
  certificateBody,
  clientHelloBody,
  ext,
  groupsExt,
  handshake,
  keyShareExt,
  pointFormatsExt,
  records,
  serverHelloBody,
  sigAlgsExt,
  sniExt,
  supportedVersionsExt,
  u16,
  vec16,
  type Ext,
} from './hello-builder.js';

export type Chunk = readonly [Direction, Buffer];

export const CERT_A = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(256, 0xa1)]);
export const CERT_B = Buffer.concat([Buffer.from([0x30, 0x82, 0x00, 0x80]), Buffer.alloc(128, 0xb2)]);

export function chromeLikeExtensions(sni = 'www.example.com', pq = false): Ext[] {
  return [
    ext(0x0a0a),
    sniExt(sni),
    ext(0x0017),
    ext(0xff01, Buffer.from([0])),
    groupsExt(0x2a2a, ...(pq ? [0x11ec] : []), 0x001d, 0x0017, 0x0018),
    pointFormatsExt(0),
    ext(0x0023),
    alpnExt('h2', 'http/1.1'),
    ext(0x0005, Buffer.from([1, 0, 0, 0, 0])),
    sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
    ext(0x0012),
    keyShareExt([0x2a2a, 1], ...(pq ? ([[0x11ec, 1216]] as [number, number][]) : []), [0x001d, 32]),
    ext(0x002d, Buffer.from([1, 1])),
    supportedVersionsExt(0x1a1a, 0x0304, 0x0303),
    ext(0x001b, Buffer.from([2, 0, 2])),
    ext(0x1a1a, Buffer.from([0])),
  ];
}

export function chromeLikeHello(sni = 'www.example.com', pq = false): Buffer {
  return clientHelloBody({
    sessionId: Buffer.alloc(32, 0x77),
    ciphers: [0x4a4a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
    extensions: chromeLikeExtensions(sni, pq),
  });
}

export interface Tls12Options {
  clientHello?: Buffer;
  /** Split the ClientHello handshake message into records of this size. */
  helloFragment?: number;
  serverExtensions?: Ext[];
  cipher?: number;
  clientData?: number[];
  serverData?: number[];
  serverSessionId?: Buffer;
}

/** A full TLS 1.2 handshake and some application data, one chunk per flight. */
export function tls12Session(o: Tls12Options = {}): Chunk[] {
  const ch = o.clientHello ?? clientHelloBody({ ciphers: [0xc02f, 0xc030, 0x009c], extensions: [sniExt('tls12.example'), alpnExt('h2', 'http/1.1'), groupsExt(0x001d, 0x0017), pointFormatsExt(0), sigAlgsExt(0x0401)] });
  const sh = serverHelloBody({ cipher: o.cipher ?? 0xc02f, sessionId: o.serverSessionId ?? Buffer.alloc(32, 5), extensions: o.serverExtensions ?? [ext(0xff01, Buffer.from([0])), pointFormatsExt(0), alpnExt('h2')] });
  const serverFlight = Buffer.concat([
    records(22, Buffer.concat([handshake(2, sh), handshake(11, certificateBody([CERT_A, CERT_B])), handshake(12, Buffer.alloc(100, 0x12)), handshake(14, Buffer.alloc(0))])),
  ]);
  const clientFinish = Buffer.concat([
    records(22, handshake(16, Buffer.alloc(33, 0x16))),
    records(20, Buffer.from([1])),
    records(22, Buffer.alloc(40, 0xf1)), // encrypted Finished
  ]);
  const serverFinish = Buffer.concat([records(20, Buffer.from([1])), records(22, Buffer.alloc(40, 0xf2))]);
  const out: Chunk[] = [
    [0, records(22, handshake(1, ch), 0x0301, o.helloFragment ?? 16384)],
    [1, serverFlight],
    [0, clientFinish],
    [1, serverFinish],
  ];
  for (const n of o.clientData ?? [100]) out.push([0, appData(n)]);
  for (const n of o.serverData ?? [5000, 18432]) out.push([1, appData(n)]);
  return out;
}

/** A TLS 1.3 handshake (compatibility-mode CCS optional) and some application data. */
export function tls13Session(o: { clientHello?: Buffer; ccs?: boolean; clientData?: number[]; serverData?: number[] } = {}): Chunk[] {
  const ch = o.clientHello ?? chromeLikeHello('tls13.example');
  const sh = serverHelloBody({
    sessionId: Buffer.alloc(32, 0x77),
    cipher: 0x1301,
    extensions: [ext(0x0033, Buffer.concat([u16(0x001d), vec16(Buffer.alloc(32, 3))])), ext(0x002b, u16(0x0304))],
  });
  const ccs = o.ccs ?? true;
  const out: Chunk[] = [
    [0, records(22, handshake(1, ch), 0x0301)],
    [1, Buffer.concat([records(22, handshake(2, sh)), ccs ? records(20, Buffer.from([1])) : Buffer.alloc(0), appData(30), appData(900), appData(80), appData(60)])],
    [0, Buffer.concat([ccs ? records(20, Buffer.from([1])) : Buffer.alloc(0), appData(53)])],
  ];
  for (const n of o.clientData ?? [200]) out.push([0, appData(n)]);
  for (const n of o.serverData ?? [1000]) out.push([1, appData(n)]);
  return out;
}

/** Concatenate the bytes of one direction. */
export function directionBytes(chunks: readonly Chunk[], dir: Direction): Buffer {
  return Buffer.concat(chunks.filter(([d]) => d === dir).map(([, b]) => b));
}
