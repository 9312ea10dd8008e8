/**
 * Hello shapes: what a client (or server) TLS stack sends the same way on
 * every connection — cipher list, extension order, groups, point formats,
 * signature algorithms, versions, ALPN — and everything derived from it
 * (JA3, JA4, JA3S, JA4S strings and hashes).
 *
 * A sensor sees thousands of connections from a handful of stacks. The hello
 * parsers already return shared lists for equal content (intern.ts), so the
 * memo finds a shape by the identity of its cipher list (server: extension
 * list) and confirms it with an exact comparison of every field — by
 * identity first, by content when the lists were not shared. Then:
 *  - the hello's lists are replaced by the shape's frozen copies, so a
 *    flow's facts hold no lists of their own;
 *  - fingerprints are computed once per shape, and the very same strings
 *    are handed to every session (the output stage caches their JSON by
 *    identity).
 * Results are identical to parsing and fingerprinting each hello on its own:
 * a shape is only reused when every field it covers is equal.
 */
import type { ClientHello } from './client-hello.js';
import { ja3, ja3s, ja4, ja4o, ja4s, type Fingerprint, type Ja4 } from './fingerprints.js';
import { Table } from './intern.js';
import type { ServerHello } from './server-hello.js';

/** The fields of a ClientHello a shape covers (all fingerprint inputs, and the lists interned). */
export class ClientHelloShape {
  private j3: Fingerprint | null = null;
  private j4: Ja4 | null = null;
  private j4o: string | null = null;

  constructor(
    readonly sslv2: boolean,
    readonly legacyVersion: number,
    readonly cipherSuites: readonly number[],
    readonly compressionMethods: readonly number[],
    readonly extensionTypes: readonly number[],
    readonly alpn: readonly string[],
    readonly supportedVersions: readonly number[],
    readonly supportedGroups: readonly number[],
    readonly ecPointFormats: readonly number[],
    readonly signatureAlgorithms: readonly number[],
    readonly keyShareGroups: readonly number[],
    readonly pskKeyExchangeModes: readonly number[],
  ) {}

  get ja3(): Fingerprint {
    return (this.j3 ??= ja3(this));
  }

  get ja4(): Ja4 {
    return (this.j4 ??= ja4(this, 't'));
  }

  get ja4o(): string {
    return (this.j4o ??= ja4o(this, 't'));
  }
}

/** The fields of a ServerHello a shape covers. */
export class ServerHelloShape {
  private j3s: Fingerprint | null = null;
  private j4s: { readonly ja4s: string; readonly ja4s_r: string } | null = null;

  constructor(
    readonly legacyVersion: number,
    readonly cipherSuite: number,
    readonly extensionTypes: readonly number[],
    readonly selectedVersion: number,
    readonly alpn: string | null,
  ) {}

  get ja3s(): Fingerprint {
    return (this.j3s ??= ja3s(this));
  }

  get ja4s(): { readonly ja4s: string; readonly ja4s_r: string } {
    return (this.j4s ??= ja4s(this, 't'));
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function mixInt(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  return (h << 13) | (h >>> 19);
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function frozen<T>(list: readonly T[]): readonly T[] {
  return Object.isFrozen(list) ? list : Object.freeze(list.slice());
}

/** A bounded memo of hello shapes and certificates (one per TLS parser factory). */
export class HelloMemo {
  private readonly clients: Table<ClientHelloShape, readonly number[]>;
  private readonly servers: Table<ServerHelloShape, readonly number[]>;
  private readonly ders: Table<Buffer>;
  hits = 0;
  misses = 0;

  /** @param capacity shapes (and certificates) kept per kind. */
  constructor(capacity = 2048) {
    this.clients = new Table(capacity);
    this.servers = new Table(capacity);
    this.ders = new Table(capacity);
  }

  /**
   * The shape of `ch`, and `ch` made to share its lists. `ch` must be a
   * hello this module's caller owns (fresh from `parseClientHello`).
   */
  client(ch: ClientHello): ClientHelloShape {
    const bucket = this.clients.bucket(ch.cipherSuites);
    let shape: ClientHelloShape | undefined;
    if (bucket !== undefined) {
      for (const s of bucket) {
        if (
          s.sslv2 === ch.sslv2 &&
          s.legacyVersion === ch.legacyVersion &&
          sameList(s.cipherSuites, ch.cipherSuites) &&
          sameList(s.compressionMethods, ch.compressionMethods) &&
          sameList(s.extensionTypes, ch.extensionTypes) &&
          sameList(s.alpn, ch.alpn) &&
          sameList(s.supportedVersions, ch.supportedVersions) &&
          sameList(s.supportedGroups, ch.supportedGroups) &&
          sameList(s.ecPointFormats, ch.ecPointFormats) &&
          sameList(s.signatureAlgorithms, ch.signatureAlgorithms) &&
          sameList(s.keyShareGroups, ch.keyShareGroups) &&
          sameList(s.pskKeyExchangeModes, ch.pskKeyExchangeModes)
        ) {
          shape = s;
          break;
        }
      }
    }
    if (shape === undefined) {
      this.misses++;
      shape = new ClientHelloShape(
        ch.sslv2,
        ch.legacyVersion,
        frozen(ch.cipherSuites),
        frozen(ch.compressionMethods),
        frozen(ch.extensionTypes),
        frozen(ch.alpn),
        frozen(ch.supportedVersions),
        frozen(ch.supportedGroups),
        frozen(ch.ecPointFormats),
        frozen(ch.signatureAlgorithms),
        frozen(ch.keyShareGroups),
        frozen(ch.pskKeyExchangeModes),
      );
      // Filed under the list it keeps (a non-shared list is replaced by its frozen copy).
      this.clients.add(shape.cipherSuites, shape);
    } else {
      this.hits++;
    }
    const m = ch as Mutable<ClientHello>;
    m.cipherSuites = shape.cipherSuites;
    m.compressionMethods = shape.compressionMethods;
    m.extensionTypes = shape.extensionTypes;
    m.alpn = shape.alpn;
    m.supportedVersions = shape.supportedVersions;
    m.supportedGroups = shape.supportedGroups;
    m.ecPointFormats = shape.ecPointFormats;
    m.signatureAlgorithms = shape.signatureAlgorithms;
    m.keyShareGroups = shape.keyShareGroups;
    m.pskKeyExchangeModes = shape.pskKeyExchangeModes;
    return shape;
  }

  /**
   * A certificate's DER `buf[start, end)` as a buffer of its own, the same
   * buffer for the same bytes (a server sends its chain on every
   * connection): a session keeps no copy of its own, and the x509 stage
   * recognises the buffer without hashing it again. Equality is checked
   * byte for byte; the hash only picks the bucket.
   */
  der(buf: Buffer, start: number, end: number): Buffer {
    const len = end - start;
    let h = mixInt(0x3c6ef372, len);
    // Certificates end with their signature: the last bytes and a sample of the rest tell them apart.
    const step = len > 128 ? len >>> 6 : 1;
    for (let i = start; i < end; i += step) h = mixInt(h, buf[i]);
    for (let i = Math.max(start, end - 16); i < end; i++) h = mixInt(h, buf[i]);
    h >>>= 0;
    const bucket = this.ders.bucket(h);
    if (bucket !== undefined) {
      for (const c of bucket) if (c.length === len && buf.compare(c, 0, len, start, end) === 0) return c;
    }
    // Its own backing store: a pooled slice would keep a shared 8 KB slab alive.
    const copy = Buffer.allocUnsafeSlow(len);
    buf.copy(copy, 0, start, end);
    this.ders.add(h, copy);
    return copy;
  }

  /** The shape of `sh`, and `sh` made to share its extension list. */
  server(sh: ServerHello): ServerHelloShape {
    const bucket = this.servers.bucket(sh.extensionTypes);
    let shape: ServerHelloShape | undefined;
    if (bucket !== undefined) {
      for (const s of bucket) {
        if (
          s.legacyVersion === sh.legacyVersion &&
          s.cipherSuite === sh.cipherSuite &&
          s.selectedVersion === sh.selectedVersion &&
          s.alpn === sh.alpn &&
          sameList(s.extensionTypes, sh.extensionTypes)
        ) {
          shape = s;
          break;
        }
      }
    }
    if (shape === undefined) {
      this.misses++;
      shape = new ServerHelloShape(sh.legacyVersion, sh.cipherSuite, frozen(sh.extensionTypes), sh.selectedVersion, sh.alpn);
      this.servers.add(shape.extensionTypes, shape);
    } else {
      this.hits++;
    }
    (sh as Mutable<ServerHello>).extensionTypes = shape.extensionTypes;
    return shape;
  }
}
