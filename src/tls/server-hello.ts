/**
 * ServerHello and HelloRetryRequest, wire format (RFC 8446 §4.1.3–4.1.4,
 * RFC 5246 §7.4.1.3):
 *
 *     struct {
 *         ProtocolVersion legacy_version;       // 2
 *         Random random;                        // 32; HRR_RANDOM marks a HelloRetryRequest
 *         opaque legacy_session_id_echo<0..32>;
 *         CipherSuite cipher_suite;             // 2
 *         uint8 legacy_compression_method;
 *         Extension extensions<6..2^16-1>;      // absent in old servers
 *     } ServerHello;
 *
 * and the SSL 2.0 SERVER-HELLO.
 */
import { A } from './anomalies.js';
import { copyOf, u16 } from './bytes.js';
import {
  EXT_ALPN,
  EXT_EXTENDED_MASTER_SECRET,
  EXT_KEY_SHARE,
  EXT_PRE_SHARED_KEY,
  EXT_SESSION_TICKET,
  EXT_SUPPORTED_VERSIONS,
  HRR_RANDOM,
  SSLV2,
} from './constants.js';
import { internNumbers, internRefs, NumberScratch, RefScratch } from './intern.js';
import type { ExtensionRef, ParseResult } from './result.js';

export interface ServerHello {
  readonly sslv2: boolean;
  readonly truncated: boolean;
  readonly declaredLength: number;
  /** `legacy_version` (771 for TLS 1.3); -1 if not read. */
  readonly legacyVersion: number;
  /** The random was the HelloRetryRequest value. */
  readonly helloRetryRequest: boolean;
  /** `legacy_session_id_echo` (a copy); null if not read. */
  readonly sessionId: Buffer | null;
  /** Selected suite; -1 if not read (SSLv2: the first CIPHER-KIND offered, 24-bit). */
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: readonly ExtensionRef[];
  readonly extensionTypes: readonly number[];
  /** supported_versions' selected_version; -1 when absent. */
  readonly selectedVersion: number;
  /** The version in force: `selectedVersion` when present, else `legacyVersion`. */
  readonly version: number;
  /** The ALPN protocol selected; null when absent. */
  readonly alpn: string | null;
  /** key_share group (HRR: the group asked for); -1 when absent. */
  readonly keyShareGroup: number;
  /** pre_shared_key selected_identity; -1 when absent (no PSK accepted). */
  readonly pskSelectedIdentity: number;
  /** An (empty) SessionTicket extension: the server will send a ticket. */
  readonly sessionTicket: boolean;
  readonly extendedMasterSecret: boolean;
  /** SSLv2 only: the server's certificate (a copy). */
  readonly sslv2Certificate: Buffer | null;
  /** SSLv2 only: SESSION-ID-HIT. */
  readonly sslv2SessionIdHit: boolean;
}

export type MutableServerHello = {
  -readonly [K in keyof ServerHello]: ServerHello[K];
};

// Lists are frozen and shared between hellos with the same content (intern.ts).
const NONE: readonly number[] = Object.freeze([]);
const NO_REFS: readonly ExtensionRef[] = Object.freeze([]);
const REFS = new RefScratch();
const TYPES = new NumberScratch();

function emptyServerHello(sslv2: boolean, declaredLength: number): MutableServerHello {
  return {
    sslv2,
    truncated: false,
    declaredLength,
    legacyVersion: -1,
    helloRetryRequest: false,
    sessionId: null,
    cipherSuite: -1,
    compressionMethod: -1,
    extensions: NO_REFS,
    extensionTypes: NONE,
    selectedVersion: -1,
    version: -1,
    alpn: null,
    keyShareGroup: -1,
    pskSelectedIdentity: -1,
    sessionTicket: false,
    extendedMasterSecret: false,
    sslv2Certificate: null,
    sslv2SessionIdHit: false,
  };
}

/** A ServerHello for `parseServerHello` to parse into (a parser's own, reused from session to session). */
export function newServerHello(): MutableServerHello {
  return emptyServerHello(false, 0);
}

/** `sh` as `emptyServerHello(false, declaredLength)` makes it (the same fields, in the same order); see `resetHello`. */
export function resetServerHello(sh: MutableServerHello, declaredLength: number): MutableServerHello {
  sh.sslv2 = false;
  sh.truncated = false;
  sh.declaredLength = declaredLength;
  sh.legacyVersion = -1;
  sh.helloRetryRequest = false;
  sh.sessionId = null;
  sh.cipherSuite = -1;
  sh.compressionMethod = -1;
  sh.extensions = NO_REFS;
  sh.extensionTypes = NONE;
  sh.selectedVersion = -1;
  sh.version = -1;
  sh.alpn = null;
  sh.keyShareGroup = -1;
  sh.pskSelectedIdentity = -1;
  sh.sessionTicket = false;
  sh.extendedMasterSecret = false;
  sh.sslv2Certificate = null;
  sh.sslv2SessionIdHit = false;
  return sh;
}

function incompleteSh(sh: MutableServerHello, issues: number[], need: number): ParseResult<ServerHello> {
  sh.truncated = true;
  return { status: 'incomplete', needed: need, partial: sh, issues };
}

function errorSh(sh: MutableServerHello, issues: number[], reason: string): ParseResult<ServerHello> {
  issues.push(A.serverHelloMalformed);
  return { status: 'error', reason, partial: sh, issues };
}

/** Parse a ServerHello body `buf[start, end)`; see `parseClientHello` for `declaredLength`. */
export function parseServerHello(
  buf: Buffer,
  start: number,
  end: number,
  declaredLength: number = end - start,
  /** The ClientHello's session id: an echo of it is returned as that same buffer instead of a copy. */
  echoOf: Buffer | null = null,
  /** A hello to parse into instead of a new one (`newServerHello`): it is reset first. */
  into: MutableServerHello | null = null,
): ParseResult<ServerHello> {
  const sh = into === null ? emptyServerHello(false, declaredLength) : resetServerHello(into, declaredLength);
  const issues: number[] = [];
  const cut = end - start < declaredLength;
  if (!cut) end = start + declaredLength;

  let p = start;
  if (end - p < 2) return incompleteSh(sh, issues, 2 - (end - p));
  sh.legacyVersion = u16(buf, p);
  sh.version = sh.legacyVersion;
  p += 2;
  if (end - p < 32) return incompleteSh(sh, issues, 32 - (end - p));
  sh.helloRetryRequest = buf[p] === HRR_RANDOM[0] && buf.compare(HRR_RANDOM, 0, 32, p, p + 32) === 0;
  p += 32;
  if (isDraftLayout(sh.legacyVersion)) {
    // TLS 1.3 drafts before 22: no session id echo, no compression method.
    if (end - p < 2) return incompleteSh(sh, issues, 2 - (end - p));
    sh.cipherSuite = u16(buf, p);
    p += 2;
    return serverExtensions(buf, start, p, end, declaredLength, cut, sh, issues);
  }
  if (end - p < 1) return incompleteSh(sh, issues, 1);
  const sidLen = buf[p];
  p += 1;
  if (sidLen > 32) return errorSh(sh, issues, 'session id longer than 32');
  if (end - p < sidLen) return incompleteSh(sh, issues, sidLen - (end - p));
  sh.sessionId =
    echoOf !== null && echoOf.length === sidLen && buf.compare(echoOf, 0, sidLen, p, p + sidLen) === 0 ? echoOf : copyOf(buf, p, p + sidLen);
  p += sidLen;
  if (end - p < 2) return incompleteSh(sh, issues, 2 - (end - p));
  sh.cipherSuite = u16(buf, p);
  p += 2;
  if (end - p < 1) return incompleteSh(sh, issues, 1);
  sh.compressionMethod = buf[p];
  p += 1;
  return serverExtensions(buf, start, p, end, declaredLength, cut, sh, issues);
}

function serverExtensions(
  buf: Buffer,
  start: number,
  p: number,
  end: number,
  declaredLength: number,
  cut: boolean,
  sh: MutableServerHello,
  issues: number[],
): ParseResult<ServerHello> {
  if (p === end) return cut ? incompleteSh(sh, issues, declaredLength - (end - start)) : { status: 'ok', value: sh, issues };
  if (end - p < 2) return incompleteSh(sh, issues, 2 - (end - p));
  const extEnd = p + 2 + u16(buf, p);
  p += 2;
  if (!cut && extEnd > end) return errorSh(sh, issues, 'extensions length beyond the message');
  const stop = Math.min(extEnd, end);
  REFS.n = 0;
  TYPES.n = 0;
  const r = walkServerExtensions(buf, start, p, stop, extEnd, end, declaredLength, cut, sh, issues);
  sh.extensions = internRefs(REFS);
  sh.extensionTypes = internNumbers(TYPES.values, TYPES.n);
  return r;
}

function walkServerExtensions(
  buf: Buffer,
  start: number,
  p: number,
  stop: number,
  extEnd: number,
  end: number,
  declaredLength: number,
  cut: boolean,
  sh: MutableServerHello,
  issues: number[],
): ParseResult<ServerHello> {
  while (p < stop) {
    if (stop - p < 4) return extEnd <= end ? errorSh(sh, issues, 'extension overruns the block') : incompleteSh(sh, issues, 4 - (stop - p));
    const type = u16(buf, p);
    const len = u16(buf, p + 2);
    p += 4;
    REFS.push(type, p - start, len);
    TYPES.push(type);
    if (stop - p < len) return extEnd <= end ? errorSh(sh, issues, 'extension overruns the block') : incompleteSh(sh, issues, len - (stop - p));
    if (!parseExtensionValue(buf, p, p + len, type, sh)) issues.push(A.serverHelloBadExtension);
    p += len;
  }
  if (cut) return incompleteSh(sh, issues, declaredLength - (end - start));
  return { status: 'ok', value: sh, issues };
}

/**
 * TLS 1.3 drafts before -22 (and implementations that put 0x0304 itself in
 * the ServerHello) used the layout `version, random, cipher_suite,
 * extensions`; draft-22 restored the TLS 1.2 layout for middleboxes.
 */
function isDraftLayout(version: number): boolean {
  return version === 0x0304 || ((version & 0xff00) === 0x7f00 && (version & 0xff) < 22);
}

function parseExtensionValue(buf: Buffer, p: number, end: number, type: number, sh: MutableServerHello): boolean {
  const len = end - p;
  switch (type) {
    case EXT_SUPPORTED_VERSIONS:
      if (len !== 2) return false;
      sh.selectedVersion = u16(buf, p);
      sh.version = sh.selectedVersion;
      return true;
    case EXT_KEY_SHARE:
      // HRR: NamedGroup selected_group; ServerHello: KeyShareEntry { group; key<1..> }.
      if (len < 2) return false;
      sh.keyShareGroup = u16(buf, p);
      return sh.helloRetryRequest ? len === 2 : len >= 4 && 4 + u16(buf, p + 2) === len;
    case EXT_PRE_SHARED_KEY:
      if (len !== 2) return false;
      sh.pskSelectedIdentity = u16(buf, p);
      return true;
    case EXT_ALPN: {
      if (len < 3 || 2 + u16(buf, p) !== len) return false;
      const n = buf[p + 2];
      if (3 + n > len) return false;
      sh.alpn = buf.toString('latin1', p + 3, p + 3 + n);
      return 3 + n === len;
    }
    case EXT_SESSION_TICKET:
      sh.sessionTicket = true;
      return true;
    case EXT_EXTENDED_MASTER_SECRET:
      sh.extendedMasterSecret = true;
      return len === 0;
    default:
      return true;
  }
}

/**
 * SSL 2.0 SERVER-HELLO (after the 2-byte record header):
 *
 *     char MSG-SERVER-HELLO            // 4
 *     char SESSION-ID-HIT
 *     char CERTIFICATE-TYPE
 *     char SERVER-VERSION-MSB, -LSB    // 0x0002
 *     char CERTIFICATE-LENGTH-MSB, -LSB
 *     char CIPHER-SPECS-LENGTH-MSB, -LSB
 *     char CONNECTION-ID-LENGTH-MSB, -LSB
 *     char CERTIFICATE-DATA[]
 *     char CIPHER-SPECS-DATA[]
 *     char CONNECTION-ID-DATA[]
 */
export function parseSslv2ServerHello(buf: Buffer, start: number, end: number): ParseResult<ServerHello> {
  const sh = emptyServerHello(true, end - start);
  const issues: number[] = [];
  const error = (reason: string): ParseResult<ServerHello> => {
    issues.push(A.sslv2Malformed);
    return { status: 'error', reason, partial: sh, issues };
  };
  if (end - start < 11) {
    sh.truncated = true;
    return { status: 'incomplete', needed: 11 - (end - start), partial: sh, issues };
  }
  if (buf[start] !== 4) return error('not a SERVER-HELLO');
  sh.sslv2SessionIdHit = buf[start + 1] !== 0;
  sh.legacyVersion = u16(buf, start + 3);
  sh.version = sh.legacyVersion === SSLV2 ? SSLV2 : sh.legacyVersion;
  const certLen = u16(buf, start + 5);
  const csLen = u16(buf, start + 7);
  const cidLen = u16(buf, start + 9);
  let p = start + 11;
  if (p + certLen + csLen + cidLen !== end || csLen % 3 !== 0) return error('lengths do not add up');
  if (certLen > 0) sh.sslv2Certificate = Buffer.from(buf.subarray(p, p + certLen));
  p += certLen;
  if (csLen >= 3) sh.cipherSuite = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
  p += csLen;
  sh.sessionId = Buffer.from(buf.subarray(p, p + cidLen));
  sh.compressionMethod = 0;
  return { status: 'ok', value: sh, issues };
}
