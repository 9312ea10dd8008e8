/**
 * ClientHello, wire format (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2):
 *
 *     struct {
 *         ProtocolVersion legacy_version;          // 2
 *         Random random;                           // 32
 *         opaque legacy_session_id<0..32>;         // 1 + n
 *         CipherSuite cipher_suites<2..2^16-2>;    // 2 + 2n
 *         opaque legacy_compression_methods<1..2^8-1>;
 *         Extension extensions<8..2^16-1>;         // absent in old clients
 *     } ClientHello;
 *
 * and the SSL 2.0-framed CLIENT-HELLO that SSLv3/TLS 1.0 clients once sent
 * for compatibility (RFC 6101 appendix E.1, RFC 5246 appendix E.2).
 *
 * The parser reads in place and copies only the small values it keeps
 * (session id, names). A hello cut short still yields every field read.
 */
import { A } from './anomalies.js';
import { copyOf, u16 } from './bytes.js';
import {
  EXT_ALPN,
  EXT_EARLY_DATA,
  EXT_EC_POINT_FORMATS,
  EXT_ENCRYPTED_CLIENT_HELLO,
  EXT_KEY_SHARE,
  EXT_PRE_SHARED_KEY,
  EXT_PSK_KEY_EXCHANGE_MODES,
  EXT_QUIC_TRANSPORT_PARAMETERS,
  EXT_SERVER_NAME,
  EXT_SESSION_TICKET,
  EXT_SIGNATURE_ALGORITHMS,
  EXT_SUPPORTED_GROUPS,
  EXT_SUPPORTED_VERSIONS,
} from './constants.js';
import { internAlpn, internNumbers, internRefs, internU16, internU8, NumberScratch, RefScratch } from './intern.js';
import type { ExtensionRef, ParseResult } from './result.js';

/** What an encrypted_client_hello (0xfe0d) extension shows (draft-ietf-tls-esni §5). */
export interface EchOffer {
  /** 0 = outer (the visible hello), 1 = inner; -1 when unreadable. */
  readonly type: number;
  readonly kdfId: number;
  readonly aeadId: number;
  readonly configId: number;
  /** Length of the encapsulated key and of the encrypted payload. */
  readonly encLength: number;
  readonly payloadLength: number;
}

export interface ClientHello {
  /** The hello came in an SSL 2.0 record (ciphers are then 24-bit CIPHER-KINDs). */
  readonly sslv2: boolean;
  /** The message ended before its fields did. */
  readonly truncated: boolean;
  /** Body length the handshake header declared. */
  readonly declaredLength: number;
  /** `legacy_version` (771 for TLS 1.3 clients); -1 if not read. */
  readonly legacyVersion: number;
  /** `legacy_session_id` (a copy); null if not read. */
  readonly sessionId: Buffer | null;
  /** Cipher suites in wire order, GREASE included. */
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: readonly number[];
  /** Every extension in wire order, GREASE included. */
  readonly extensions: readonly ExtensionRef[];
  /** `extensions[i].type`, for fingerprints. */
  readonly extensionTypes: readonly number[];
  /** First host_name of server_name (latin1, bytes kept as they were); with ECH, the outer name. */
  readonly serverName: string | null;
  readonly serverNameCount: number;
  /** ALPN protocol names in order (latin1: one char per byte). */
  readonly alpn: readonly string[];
  readonly supportedVersions: readonly number[];
  readonly supportedGroups: readonly number[];
  readonly ecPointFormats: readonly number[];
  readonly signatureAlgorithms: readonly number[];
  readonly keyShareGroups: readonly number[];
  readonly pskKeyExchangeModes: readonly number[];
  /** Identities offered in pre_shared_key; -1 when the extension is absent. */
  readonly pskIdentities: number;
  readonly earlyData: boolean;
  /** SessionTicket extension: -1 absent, 0 empty (asks for a ticket), n (presents an n-byte ticket). */
  readonly sessionTicketLength: number;
  /** encrypted_client_hello; null when absent. */
  readonly ech: EchOffer | null;
  readonly quicTransportParameters: boolean;
}

export type MutableClientHello = {
  -readonly [K in keyof ClientHello]: ClientHello[K];
};

// Lists are frozen and shared between hellos with the same content (intern.ts).
const NONE: readonly number[] = Object.freeze([]);
const NO_REFS: readonly ExtensionRef[] = Object.freeze([]);
const NO_NAMES: readonly string[] = Object.freeze([]);

function emptyHello(sslv2: boolean, declaredLength: number): MutableClientHello {
  return {
    sslv2,
    truncated: false,
    declaredLength,
    legacyVersion: -1,
    sessionId: null,
    cipherSuites: NONE,
    compressionMethods: NONE,
    extensions: NO_REFS,
    extensionTypes: NONE,
    serverName: null,
    serverNameCount: 0,
    alpn: NO_NAMES,
    supportedVersions: NONE,
    supportedGroups: NONE,
    ecPointFormats: NONE,
    signatureAlgorithms: NONE,
    keyShareGroups: NONE,
    pskKeyExchangeModes: NONE,
    pskIdentities: -1,
    earlyData: false,
    sessionTicketLength: -1,
    ech: null,
    quicTransportParameters: false,
  };
}

/** A ClientHello for `parseClientHello` to parse into (a parser's own, reused from session to session). */
export function newClientHello(): MutableClientHello {
  return emptyHello(false, 0);
}

/**
 * `ch` as `emptyHello(false, declaredLength)` makes it (the same fields, in the
 * same order; only TLS-framed hellos are parsed into a target): a parser's
 * own hello before each parse and when the parser is released, so that it pins
 * nothing of its last session. test/tls/parser-pool.test.ts dirties every field.
 */
export function resetHello(ch: MutableClientHello, declaredLength: number): MutableClientHello {
  ch.sslv2 = false;
  ch.truncated = false;
  ch.declaredLength = declaredLength;
  ch.legacyVersion = -1;
  ch.sessionId = null;
  ch.cipherSuites = NONE;
  ch.compressionMethods = NONE;
  ch.extensions = NO_REFS;
  ch.extensionTypes = NONE;
  ch.serverName = null;
  ch.serverNameCount = 0;
  ch.alpn = NO_NAMES;
  ch.supportedVersions = NONE;
  ch.supportedGroups = NONE;
  ch.ecPointFormats = NONE;
  ch.signatureAlgorithms = NONE;
  ch.keyShareGroups = NONE;
  ch.pskKeyExchangeModes = NONE;
  ch.pskIdentities = -1;
  ch.earlyData = false;
  ch.sessionTicketLength = -1;
  ch.ech = null;
  ch.quicTransportParameters = false;
  return ch;
}

function incompleteCh(ch: MutableClientHello, issues: number[], need: number): ParseResult<ClientHello> {
  ch.truncated = true;
  return { status: 'incomplete', needed: need, partial: ch, issues };
}

function errorCh(ch: MutableClientHello, issues: number[], reason: string): ParseResult<ClientHello> {
  issues.push(A.clientHelloMalformed);
  return { status: 'error', reason, partial: ch, issues };
}

/**
 * Parse a ClientHello body `buf[start, end)`. `declaredLength` is the length
 * the handshake header gave; when `end - start` is shorter, the hello was cut
 * and the result is `incomplete` with the fields read so far.
 */
export function parseClientHello(
  buf: Buffer,
  start: number,
  end: number,
  declaredLength: number = end - start,
  /** A hello to parse into instead of a new one (`newClientHello`): it is reset first. */
  into: MutableClientHello | null = null,
): ParseResult<ClientHello> {
  const ch = into === null ? emptyHello(false, declaredLength) : resetHello(into, declaredLength);
  const issues: number[] = [];
  const cut = end - start < declaredLength;
  if (!cut) end = start + declaredLength;
  let p = start;
  if (end - p < 2) return incompleteCh(ch, issues, 2 - (end - p));
  ch.legacyVersion = u16(buf, p);
  p += 2;
  if (end - p < 32) return incompleteCh(ch, issues, 32 - (end - p));
  p += 32;
  if (end - p < 1) return incompleteCh(ch, issues, 1);
  const sidLen = buf[p];
  p += 1;
  if (sidLen > 32) return errorCh(ch, issues, 'session id longer than 32');
  if (end - p < sidLen) return incompleteCh(ch, issues, sidLen - (end - p));
  ch.sessionId = copyOf(buf, p, p + sidLen);
  p += sidLen;

  if (end - p < 2) return incompleteCh(ch, issues, 2 - (end - p));
  const csLen = u16(buf, p);
  p += 2;
  if (csLen % 2 !== 0 || csLen < 2) return errorCh(ch, issues, 'cipher_suites length odd or zero');
  const csEnd = p + csLen;
  const csStop = Math.min(csEnd, end);
  const csWhole = p + ((csStop - p) & ~1);
  ch.cipherSuites = internU16(buf, p, csWhole);
  p = csWhole;
  if (csEnd > end) return incompleteCh(ch, issues, csEnd - end);

  if (end - p < 1) return incompleteCh(ch, issues, 1);
  const cmLen = buf[p];
  p += 1;
  if (cmLen < 1) return errorCh(ch, issues, 'no compression methods');
  const cmEnd = p + cmLen;
  const cmStop = Math.min(cmEnd, end);
  ch.compressionMethods = internU8(buf, p, cmStop);
  p = cmStop;
  if (cmEnd > end) return incompleteCh(ch, issues, cmEnd - end);

  if (p === end) {
    if (cut) return incompleteCh(ch, issues, declaredLength - (end - start));
    return { status: 'ok', value: ch, issues };
  }
  if (end - p < 2) return incompleteCh(ch, issues, 2 - (end - p));
  const extLen = u16(buf, p);
  p += 2;
  const extEnd = p + extLen;
  if (!cut && extEnd > end) return errorCh(ch, issues, 'extensions length beyond the message');
  const r = parseExtensions(buf, start, p, Math.min(extEnd, end), ch, issues);
  if (r > 0) return extEnd <= end ? errorCh(ch, issues, 'extension overruns the extensions block') : incompleteCh(ch, issues, r);
  if (cut) return incompleteCh(ch, issues, declaredLength - (end - start));
  if (extEnd < end) issues.push(A.clientHelloMalformed);
  return { status: 'ok', value: ch, issues };
}

/**
 * Walk the extensions in `buf[p, end)`; `base` is the body start (offsets are
 * relative to it). Returns 0 when done, n > 0 when the last extension was cut
 * at `end` (n more bytes needed).
 */
// Scratch for one parse at a time (parsing is synchronous).
const REFS = new RefScratch();
const TYPES = new NumberScratch();
const GROUPS = new NumberScratch();
/**
 * Duplicate detection for extension types from 32 up: the parse number at which each
 * type was last seen. A parse stamps, it never clears (a Set's clear() allocates a
 * new table per hello) and costs O(1) per extension, however many a hostile hello has.
 */
const SEEN_AT = new Uint32Array(65536);
let parseStamp = 0; // wraps below 2^30: a small integer, never a heap number

function parseExtensions(
  buf: Buffer,
  base: number,
  p: number,
  end: number,
  ch: MutableClientHello,
  issues: number[],
): number {
  REFS.n = 0;
  TYPES.n = 0;
  const r = walkExtensions(buf, base, p, end, ch, issues, REFS, TYPES);
  ch.extensions = internRefs(REFS);
  ch.extensionTypes = internNumbers(TYPES.values, TYPES.n);
  return r;
}

function walkExtensions(
  buf: Buffer,
  base: number,
  p: number,
  end: number,
  ch: MutableClientHello,
  issues: number[],
  exts: RefScratch,
  types: NumberScratch,
): number {
  let seen = 0; // bitmap of a few types for duplicate detection
  if (++parseStamp > 0x3fffffff) {
    SEEN_AT.fill(0);
    parseStamp = 1;
  }
  const stamp = parseStamp;
  while (p < end) {
    if (end - p < 4) return 4 - (end - p);
    const type = u16(buf, p);
    const len = u16(buf, p + 2);
    p += 4;
    exts.push(type, p - base, len);
    types.push(type);
    // Duplicate detection (RFC 8446 §4.2: at most one of each type).
    if (type < 32) {
      const bit = 1 << type;
      if ((seen & bit) !== 0) issues.push(A.clientHelloDuplicateExtension);
      seen |= bit;
    } else {
      if (SEEN_AT[type] === stamp) issues.push(A.clientHelloDuplicateExtension);
      SEEN_AT[type] = stamp;
    }
    if (end - p < len) {
      // Cut inside this extension's value: keep its type, skip its value.
      return len - (end - p);
    }
    if (!parseExtensionValue(buf, p, p + len, type, ch)) issues.push(A.clientHelloBadExtension);
    if (type === EXT_SERVER_NAME && ch.serverNameCount > 1) issues.push(A.clientHelloManyServerNames);
    p += len;
  }
  return 0;
}

/** Read a `uint16 list<..>` of 16-bit values; null when the lengths disagree. */
function u16List(buf: Buffer, p: number, end: number): readonly number[] | null {
  if (end - p < 2) return null;
  const len = u16(buf, p);
  p += 2;
  if (len % 2 !== 0 || p + len !== end) return null;
  return internU16(buf, p, end);
}

function parseExtensionValue(buf: Buffer, p: number, end: number, type: number, ch: MutableClientHello): boolean {
  switch (type) {
    case EXT_SERVER_NAME: {
      // ServerNameList: uint16 len, { uint8 type; uint16 len; name }.
      if (end === p) return true; // allowed in a ServerHello; tolerated here
      if (end - p < 2) return false;
      const listEnd = p + 2 + u16(buf, p);
      if (listEnd !== end) return false;
      p += 2;
      let count = 0;
      while (p < end) {
        if (end - p < 3) return false;
        const nameType = buf[p];
        const nameLen = u16(buf, p + 1);
        p += 3;
        if (end - p < nameLen) return false;
        if (nameType === 0) {
          if (count === 0) ch.serverName = buf.toString('latin1', p, p + nameLen);
          count++;
        }
        p += nameLen;
      }
      ch.serverNameCount = count;
      return true;
    }
    case EXT_ALPN: {
      if (end - p < 2) return false;
      if (p + 2 + u16(buf, p) !== end) return false;
      p += 2;
      let q = p;
      while (q < end && 1 + buf[q] <= end - q) q += 1 + buf[q];
      if (q === end) {
        // Well formed: the shared list of these names.
        ch.alpn = internAlpn(buf, p, end);
        return true;
      }
      const names: string[] = [];
      ch.alpn = names;
      while (p < end) {
        const n = buf[p];
        p += 1;
        if (end - p < n) return false;
        names.push(buf.toString('latin1', p, p + n));
        p += n;
      }
      return true;
    }
    case EXT_SUPPORTED_VERSIONS: {
      if (end - p < 1) return false;
      const len = buf[p];
      p += 1;
      if (len % 2 !== 0 || p + len !== end) return false;
      ch.supportedVersions = internU16(buf, p, end);
      return true;
    }
    case EXT_SUPPORTED_GROUPS: {
      const l = u16List(buf, p, end);
      if (l === null) return false;
      ch.supportedGroups = l;
      return true;
    }
    case EXT_SIGNATURE_ALGORITHMS: {
      const l = u16List(buf, p, end);
      if (l === null) return false;
      ch.signatureAlgorithms = l;
      return true;
    }
    case EXT_EC_POINT_FORMATS: {
      const l = u8List(buf, p, end);
      if (l === null) return false;
      ch.ecPointFormats = l;
      return true;
    }
    case EXT_KEY_SHARE: {
      // KeyShareClientHello: uint16 len, { NamedGroup group; opaque key<1..2^16-1> }.
      if (end - p < 2) return false;
      if (p + 2 + u16(buf, p) !== end) return false;
      p += 2;
      GROUPS.n = 0;
      let ok = true;
      while (p < end) {
        if (end - p < 4) {
          ok = false;
          break;
        }
        GROUPS.push(u16(buf, p));
        const klen = u16(buf, p + 2);
        p += 4 + klen;
        if (p > end) {
          ok = false;
          break;
        }
      }
      ch.keyShareGroups = internNumbers(GROUPS.values, GROUPS.n);
      return ok;
    }
    case EXT_PSK_KEY_EXCHANGE_MODES: {
      const l = u8List(buf, p, end);
      if (l === null) return false;
      ch.pskKeyExchangeModes = l;
      return true;
    }
    case EXT_PRE_SHARED_KEY: {
      // OfferedPsks: identities<7..2^16-1> { identity<1..2^16-1>; uint32 age }, binders<33..2^16-1>.
      ch.pskIdentities = 0;
      if (end - p < 2) return false;
      const idEnd = p + 2 + u16(buf, p);
      if (idEnd > end) return false;
      p += 2;
      let n = 0;
      while (p < idEnd) {
        if (idEnd - p < 2) return false;
        p += 2 + u16(buf, p) + 4;
        if (p > idEnd) return false;
        n++;
      }
      ch.pskIdentities = n;
      if (end - p < 2 || p + 2 + u16(buf, p) !== end) return false;
      return true;
    }
    case EXT_EARLY_DATA:
      ch.earlyData = true;
      return end === p;
    case EXT_SESSION_TICKET:
      ch.sessionTicketLength = end - p;
      return true;
    case EXT_QUIC_TRANSPORT_PARAMETERS:
      ch.quicTransportParameters = true;
      return true;
    case EXT_ENCRYPTED_CLIENT_HELLO: {
      // ECHClientHello: uint8 type; outer: HpkeSymmetricCipherSuite (kdf, aead), uint8 config_id,
      // opaque enc<0..2^16-1>, opaque payload<1..2^16-1>; inner: nothing more.
      if (end - p < 1) {
        ch.ech = { type: -1, kdfId: -1, aeadId: -1, configId: -1, encLength: -1, payloadLength: -1 };
        return false;
      }
      const echType = buf[p];
      if (echType !== 0 || end - p < 8) {
        ch.ech = { type: echType, kdfId: -1, aeadId: -1, configId: -1, encLength: -1, payloadLength: -1 };
        return echType === 1 ? end - p === 1 : false;
      }
      const kdfId = u16(buf, p + 1);
      const aeadId = u16(buf, p + 3);
      const configId = buf[p + 5];
      const encLength = u16(buf, p + 6);
      let q = p + 8 + encLength;
      let payloadLength = -1;
      if (end - q >= 2) {
        payloadLength = u16(buf, q);
        q += 2 + payloadLength;
      }
      ch.ech = { type: 0, kdfId, aeadId, configId, encLength, payloadLength };
      return q === end;
    }
    default:
      return true;
  }
}

/**
 * SSL 2.0 CLIENT-HELLO (the bytes after the 2-byte record header):
 *
 *     char MSG-CLIENT-HELLO            // 1
 *     char CLIENT-VERSION-MSB, -LSB    // 0x0002, or 0x0300/0x0301.. for v3-capable clients
 *     char CIPHER-SPECS-LENGTH-MSB, -LSB
 *     char SESSION-ID-LENGTH-MSB, -LSB
 *     char CHALLENGE-LENGTH-MSB, -LSB
 *     char CIPHER-SPECS-DATA[]         // 3 bytes each; 0x00XXYY is TLS suite XXYY
 *     char SESSION-ID-DATA[]
 *     char CHALLENGE-DATA[]
 *
 * Cipher kinds are kept as 24-bit values in `cipherSuites`.
 */
export function parseSslv2ClientHello(buf: Buffer, start: number, end: number): ParseResult<ClientHello> {
  const ch = emptyHello(true, end - start);
  const issues: number[] = [];
  const error = (reason: string): ParseResult<ClientHello> => {
    issues.push(A.sslv2Malformed);
    return { status: 'error', reason, partial: ch, issues };
  };
  if (end - start < 9) {
    ch.truncated = true;
    return { status: 'incomplete', needed: 9 - (end - start), partial: ch, issues };
  }
  if (buf[start] !== 1) return error('not a CLIENT-HELLO');
  ch.legacyVersion = u16(buf, start + 1);
  const csLen = u16(buf, start + 3);
  const sidLen = u16(buf, start + 5);
  const chalLen = u16(buf, start + 7);
  let p = start + 9;
  if (csLen % 3 !== 0) return error('cipher specs length not a multiple of 3');
  if (p + csLen + sidLen + chalLen !== end) return error('lengths do not add up');
  const suites: number[] = [];
  for (const stop = p + csLen; p < stop; p += 3) suites.push((buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2]);
  ch.cipherSuites = internNumbers(suites, suites.length);
  ch.sessionId = Buffer.from(buf.subarray(p, p + sidLen));
  return { status: 'ok', value: ch, issues };
}

/** A list of bytes behind a one-byte length that fills the extension exactly; null when malformed. */
function u8List(buf: Buffer, p: number, end: number): ReturnType<typeof internU8> | null {
  if (end - p < 1 || p + 1 + buf[p] !== end) return null;
  return internU8(buf, p + 1, end);
}
