/**
 * Client and server hello fingerprints: pure functions of parsed fields.
 *
 * - JA3 / JA3S (Salesforce, BSD-3-Clause): decimal fields in wire order,
 *   GREASE removed, MD5 of the string.
 * - JA4 (FoxIO, BSD-3-Clause), following `technical_details/JA4.md` and
 *   `rust/ja4/src/tls.rs` of FoxIO-LLC/ja4:
 *   `a_b_c` with
 *   a = transport (`t` TCP, `q` QUIC, `d` DTLS), version (highest non-GREASE
 *       supported_versions value, else legacy_version), `d`/`i` (SNI
 *       extension present or not), cipher count and extension count (two
 *       digits each, GREASE not counted, capped at 99; SNI and ALPN counted),
 *       and the first and last characters of the first ALPN value (`00` when
 *       none or empty; when either is not ASCII alphanumeric, the first and
 *       last hex digits of the value's bytes);
 *   b = first 12 hex of SHA-256 of the sorted 4-hex-digit cipher list, comma
 *       joined (`000000000000` when empty);
 *   c = first 12 hex of SHA-256 of the sorted extension list without SNI
 *       (0000) and ALPN (0010), then `_` and the signature algorithms in wire
 *       order — no `_` when there are none (`000000000000` when the extension
 *       list is empty).
 *   `ja4_r` is the same unhashed; `ja4_ro` (and its hash `ja4_o`, on
 *   request) keeps wire order and keeps SNI and ALPN in the extension list.
 * - JA4S (FoxIO License 1.1 — internal use and evaluation only without a
 *   licence from FoxIO) is offered only when explicitly asked for.
 */
import * as crypto from 'node:crypto';

import { isGrease } from './constants.js';

export interface Fingerprint {
  /** The fingerprint string before hashing. */
  readonly string: string;
  /** MD5 of `string`, lower-case hex. */
  readonly hash: string;
}

/** The ClientHello fields JA3 reads. */
export interface Ja3Input {
  readonly legacyVersion: number;
  readonly cipherSuites: readonly number[];
  readonly extensionTypes: readonly number[];
  readonly supportedGroups: readonly number[];
  readonly ecPointFormats: readonly number[];
}

/** The ServerHello fields JA3S reads. */
export interface Ja3sInput {
  readonly legacyVersion: number;
  readonly cipherSuite: number;
  readonly extensionTypes: readonly number[];
}

/** The ClientHello fields JA4 reads. */
export interface Ja4Input {
  readonly legacyVersion: number;
  readonly cipherSuites: readonly number[];
  readonly extensionTypes: readonly number[];
  readonly supportedVersions: readonly number[];
  readonly signatureAlgorithms: readonly number[];
  /** ALPN names as latin1 strings (one char per byte). */
  readonly alpn: readonly string[];
}

/** The ServerHello fields JA4S reads. */
export interface Ja4sInput {
  readonly legacyVersion: number;
  readonly cipherSuite: number;
  readonly extensionTypes: readonly number[];
  readonly selectedVersion: number;
  readonly alpn: string | null;
}

export interface Ja4 {
  readonly ja4: string;
  readonly ja4_r: string;
  readonly ja4_ro: string;
}

export type Ja4Transport = 't' | 'q' | 'd';

/** One-shot hashing (`crypto.hash`, Node >= 20.12) is three times cheaper than createHash(). */
const hashHex: (algorithm: string, s: string) => string =
  typeof crypto.hash === 'function'
    ? (algorithm, s) => crypto.hash(algorithm, s, 'hex')
    : (algorithm, s) => crypto.createHash(algorithm).update(s, 'latin1').digest('hex');

// The strings hashed here are ASCII, so UTF-8 and latin1 encode them alike.
function md5(s: string): string {
  return hashHex('md5', s);
}

function sha256_12(s: string): string {
  return hashHex('sha256', s).slice(0, 12);
}

// Strings are built with Array.join: `+=` in a loop leaves a rope of small
// pieces that a session's facts would keep alive (several KB per session).
function joinDecimal(values: readonly number[]): string {
  const parts: number[] = [];
  for (const v of values) if (!isGrease(v)) parts.push(v);
  return parts.join('-');
}

/** JA3 of a ClientHello: `SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats`. */
export function ja3(ch: Ja3Input): Fingerprint {
  const s = [
    ch.legacyVersion,
    joinDecimal(ch.cipherSuites),
    joinDecimal(ch.extensionTypes),
    joinDecimal(ch.supportedGroups),
    joinDecimal(ch.ecPointFormats),
  ].join(',');
  return { string: s, hash: md5(s) };
}

/** JA3S of a ServerHello: `SSLVersion,Cipher,Extensions`. */
export function ja3s(sh: Ja3sInput): Fingerprint {
  const s = [sh.legacyVersion, sh.cipherSuite, joinDecimal(sh.extensionTypes)].join(',');
  return { string: s, hash: md5(s) };
}

/** JA4's two-character version code. */
export function ja4Version(version: number): string {
  switch (version) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0002: return 's2';
    case 0xfeff: return 'd1';
    case 0xfefd: return 'd2';
    case 0xfefc: return 'd3';
    default: return '00';
  }
}

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex4(v: number): string {
  return HEX2[(v >>> 8) & 0xff] + HEX2[v & 0xff];
}

/** Comma-joined 4-digit hex of `values[0, n)`. */
function hexList(values: Uint16Array, n: number): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = hex4(values[i]);
  return parts.join(',');
}

/** Non-GREASE values into a scratch array; returns the count. */
function withoutGrease(values: readonly number[], out: Uint16Array): number {
  let n = 0;
  for (const v of values) if (!isGrease(v)) out[n++] = v;
  return n;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** JA4's ALPN pair from the first ALPN value (latin1 string: char codes are the bytes). */
export function ja4Alpn(first: string | undefined | null): string {
  if (first === undefined || first === null || first.length === 0) return '00';
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  if (isAlnum(a) && isAlnum(z)) return String.fromCharCode(a) + String.fromCharCode(z);
  const hexFirst = (a >>> 4).toString(16);
  const hexLast = (z & 0x0f).toString(16);
  return hexFirst + hexLast;
}

function twoDigits(n: number): string {
  const c = Math.min(n, 99);
  return c < 10 ? `0${c}` : String(c);
}

/** The highest non-GREASE supported_versions value, else the legacy version. */
function ja4HelloVersion(ch: Ja4Input): number {
  let best = -1;
  for (const v of ch.supportedVersions) if (!isGrease(v) && v > best) best = v;
  return best >= 0 ? best : ch.legacyVersion;
}

/** JA4's first part (`t13d1516h2`), and the lists behind the other two. */
function ja4Parts(ch: Ja4Input, transport: Ja4Transport) {
  const ciphers = new Uint16Array(ch.cipherSuites.length);
  const nc = withoutGrease(ch.cipherSuites, ciphers);
  const exts = new Uint16Array(ch.extensionTypes.length);
  const ne = withoutGrease(ch.extensionTypes, exts);
  const sigs = new Uint16Array(ch.signatureAlgorithms.length);
  const ns = withoutGrease(ch.signatureAlgorithms, sigs);
  let sni = false;
  for (let i = 0; i < ne; i++) if (exts[i] === 0x0000) sni = true;
  const a = [transport, ja4Version(ja4HelloVersion(ch)), sni ? 'd' : 'i', twoDigits(nc), twoDigits(ne), ja4Alpn(ch.alpn[0])].join('');
  const sigPart = ns > 0 ? `_${hexList(sigs, ns)}` : '';
  return { a, ciphers, nc, exts, ne, sigPart };
}

/** JA4 of a ClientHello, with its raw sorted (`ja4_r`) and raw original-order (`ja4_ro`) forms. */
export function ja4(ch: Ja4Input, transport: Ja4Transport = 't'): Ja4 {
  const { a, ciphers, nc, exts, ne, sigPart } = ja4Parts(ch, transport);
  const origCiphers = hexList(ciphers, nc);
  const origExts = hexList(exts, ne);
  // Fixed-width lower-case hex sorts as the numbers do.
  const sortedCiphers = hexList(ciphers.subarray(0, nc).sort(), nc);
  const kept = new Uint16Array(ne);
  let nk = 0;
  for (let i = 0; i < ne; i++) if (exts[i] !== 0x0000 && exts[i] !== 0x0010) kept[nk++] = exts[i];
  const sortedExts = hexList(kept.subarray(0, nk).sort(), nk);
  const b = nc === 0 ? '000000000000' : sha256_12(sortedCiphers);
  const c = nk === 0 ? '000000000000' : sha256_12(sortedExts + sigPart);
  return {
    ja4: [a, b, c].join('_'),
    ja4_r: [a, sortedCiphers, sortedExts + sigPart].join('_'),
    ja4_ro: [a, origCiphers, origExts + sigPart].join('_'),
  };
}

/**
 * `ja4_o`: JA4 hashed in original order, SNI and ALPN kept in the extension
 * list (FoxIO rust's rendering; FoxIO python zeroes the last part when only
 * SNI/ALPN are present).
 */
export function ja4o(ch: Ja4Input, transport: Ja4Transport = 't'): string {
  const { a, ciphers, nc, exts, ne, sigPart } = ja4Parts(ch, transport);
  const b = nc === 0 ? '000000000000' : sha256_12(hexList(ciphers, nc));
  const c = ne === 0 ? '000000000000' : sha256_12(hexList(exts, ne) + sigPart);
  return `${a}_${b}_${c}`;
}

/**
 * JA4S of a ServerHello and its raw form. FoxIO License 1.1: call only when
 * the user enabled it explicitly.
 */
export function ja4s(sh: Ja4sInput, transport: Ja4Transport = 't'): { readonly ja4s: string; readonly ja4s_r: string } {
  const version = sh.selectedVersion >= 0 ? sh.selectedVersion : sh.legacyVersion;
  const exts = sh.extensionTypes.map((v) => hex4(v));
  const head = `${transport}${ja4Version(version)}${twoDigits(exts.length)}${ja4Alpn(sh.alpn)}_${hex4(sh.cipherSuite)}`;
  const list = exts.join(',');
  return { ja4s: `${head}_${list === '' ? '000000000000' : sha256_12(list)}`, ja4s_r: `${head}_${list}` };
}
