/**
 * Distinguished names: the two printed forms the peers use, and OpenSSL's
 * canonical form for comparisons (`X509_NAME_cmp`).
 *
 * Name        ::= SEQUENCE OF RelativeDistinguishedName
 * RDN         ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * ATV         ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 *
 * pkijs's `RelativeDistinguishedNames` flattens the RDN sets; multi-valued
 * RDNs (`+`) need the set boundaries, so the name's own ASN.1 (kept by pkijs)
 * is walked set by set and each element read with pkijs's
 * `AttributeTypeAndValue`.
 */
import type * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { libs } from './crypto.js';
import { DN_SHORT_NAMES, DN_SURICATA_NAMES } from './oids.js';

export interface NameInfo {
  /** RFC 4514 / OpenSSL XN_FLAG_RFC2253 form (most specific first). */
  readonly rfc4514: string;
  /** Suricata form (DER order, `, `). */
  readonly suricata: string;
  /** OpenSSL canonical form, for equality only. */
  readonly canon: string;
  readonly commonNames: string[];
  readonly hasNul: boolean;
  readonly ok: boolean;
}

interface Ava {
  type: string;
  tag: number; // universal tag number, -1 when not a universal primitive
  bytes: Uint8Array; // content octets
  der: Uint8Array; // full TLV
}

const UTF8 = 12;
const NUMERIC = 18;
const PRINTABLE = 19;
const T61 = 20;
const IA5 = 22;
const VISIBLE = 26;
const GENERAL = 27;
const UNIVERSAL = 28;
const BMP = 30;

/** OpenSSL's `tag2nbyte`: bytes per character for string types it prints. */
function charWidth(tag: number): number {
  switch (tag) {
    case UTF8:
      return 0;
    case NUMERIC:
    case PRINTABLE:
    case T61:
    case IA5:
    case VISIBLE:
    case GENERAL:
      return 1;
    case UNIVERSAL:
      return 4;
    case BMP:
      return 2;
    default:
      return -1;
  }
}

const HEX = '0123456789ABCDEF';
function hexUpper(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
}

/** Characters of a string value as OpenSSL's `do_buf` walks them. */
function codePoints(bytes: Uint8Array, width: number): number[] {
  const out: number[] = [];
  const step = width === 0 ? 1 : width;
  for (let i = 0; i + step <= bytes.length; i += step) {
    let c = 0;
    for (let k = 0; k < step; k++) c = c * 256 + bytes[i + k];
    out.push(c);
  }
  return out;
}

function utf8Bytes(c: number): number[] {
  if (c < 0x80) return [c];
  if (c < 0x800) return [0xc0 | (c >> 6), 0x80 | (c & 63)];
  if (c < 0x10000) return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
  return [0xf0 | ((c >> 18) & 7), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
}

/** One value the way `do_print_ex` prints it with ASN1_STRFLGS_RFC2253. */
function rfc2253Value(ava: Ava, knownType: boolean): string {
  const width = knownType ? charWidth(ava.tag) : -1;
  if (width < 0) return '#' + hexUpper(ava.der); // DUMP_UNKNOWN / DUMP_DER
  const bytes: number[] = [];
  for (const c of codePoints(ava.bytes, width)) {
    if (width === 0) bytes.push(c); // UTF8String: one byte per "character"
    else for (const b of utf8Bytes(c)) bytes.push(b);
  }
  let s = '';
  const last = bytes.length - 1;
  for (let i = 0; i <= last; i++) {
    const b = bytes[i];
    if (b > 0x7f || b < 0x20 || b === 0x7f) s += '\\' + HEX[b >> 4] + HEX[b & 15];
    else if (b === 0x2c || b === 0x2b || b === 0x22 || b === 0x5c || b === 0x3c || b === 0x3e || b === 0x3b)
      s += '\\' + String.fromCharCode(b);
    else if (b === 0x20 && (i === 0 || i === last)) s += '\\ ';
    else if (b === 0x23 && i === 0) s += '\\#';
    else s += String.fromCharCode(b);
  }
  return s;
}

/** Decoded text of a string value (for CN matching and Suricata's form). */
function decodeText(ava: Ava): string | null {
  switch (ava.tag) {
    case UTF8:
      return Buffer.from(ava.bytes).toString('utf8');
    case NUMERIC:
    case PRINTABLE:
    case IA5:
    case VISIBLE:
    case GENERAL:
    case T61:
      return Buffer.from(ava.bytes).toString('latin1');
    case BMP: {
      let s = '';
      for (let i = 0; i + 1 < ava.bytes.length; i += 2) s += String.fromCharCode((ava.bytes[i] << 8) | ava.bytes[i + 1]);
      return s;
    }
    case UNIVERSAL: {
      let s = '';
      for (let i = 0; i + 3 < ava.bytes.length; i += 4) {
        const c = ((ava.bytes[i] << 24) | (ava.bytes[i + 1] << 16) | (ava.bytes[i + 2] << 8) | ava.bytes[i + 3]) >>> 0;
        s += c <= 0x10ffff ? String.fromCodePoint(c) : '\ufffd';
      }
      return s;
    }
    default:
      return null;
  }
}

/** OpenSSL `asn1_string_canon`: UTF-8, trimmed, inner whitespace collapsed, ASCII lower-cased. */
function canonValue(ava: Ava): string {
  const text = decodeText(ava);
  if (text === null) return `#${ava.tag}:${hexUpper(ava.der)}`;
  const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  const b = Buffer.from(text, 'utf8');
  let start = 0;
  let end = b.length;
  while (start < end && isSpace(b[start])) start++;
  while (end > start && isSpace(b[end - 1])) end--;
  const out: number[] = [];
  for (let i = start; i < end; i++) {
    let c = b[i];
    if (isSpace(c)) {
      while (i + 1 < end && isSpace(b[i + 1])) i++;
      c = 0x20;
    } else if (c >= 0x41 && c <= 0x5a) c += 0x20;
    out.push(c);
  }
  return hexUpper(Uint8Array.from(out));
}

function readAvas(name: pkijs.RelativeDistinguishedNames | asn1js.Sequence): Ava[][] {
  const { pkijs, asn1js } = libs();
  // The decoded Name itself when the caller kept it; else pkijs re-reads it from its DER.
  const seq = name instanceof asn1js.Sequence ? name : name.toSchema();
  const rdns: Ava[][] = [];
  for (const set of seq.valueBlock.value) {
    if (!(set instanceof asn1js.Set)) throw new Error('RDN is not a SET');
    const rdn: Ava[] = [];
    for (const el of set.valueBlock.value) {
      const atv = new pkijs.AttributeTypeAndValue({ schema: el });
      const v = atv.value as asn1js.BaseBlock;
      const universalPrimitive = v.idBlock.tagClass === 1 && !v.idBlock.isConstructed;
      const der = new Uint8Array(v.valueBeforeDecodeView);
      const header = v.lenBlock.blockLength + v.idBlock.blockLength;
      rdn.push({
        type: atv.type,
        tag: universalPrimitive ? v.idBlock.tagNumber : -1,
        bytes: der.subarray(header),
        der,
      });
    }
    rdns.push(rdn);
  }
  return rdns;
}

/**
 * The AVAs of a DER-encoded Name read without asn1js/pkijs (for indexing
 * many certificates cheaply). Null for anything but plain DER (definite
 * lengths, low tag numbers, OID arcs below 2^53, two-element
 * AttributeTypeAndValue): the caller then takes the full path.
 */
function readAvasDer(b: Uint8Array, start: number, end: number): Ava[][] | null {
  const name = derTlv(b, start, end);
  if (name === null || name.tag !== 0x30 || name.end !== end) return null;
  const rdns: Ava[][] = [];
  for (let p = name.content; p < name.end; ) {
    const set = derTlv(b, p, name.end);
    if (set === null || set.tag !== 0x31) return null;
    p = set.end;
    const rdn: Ava[] = [];
    for (let q = set.content; q < set.end; ) {
      const atv = derTlv(b, q, set.end);
      if (atv === null || atv.tag !== 0x30) return null;
      q = atv.end;
      const oid = derTlv(b, atv.content, atv.end);
      if (oid === null || oid.tag !== 0x06) return null;
      const value = derTlv(b, oid.end, atv.end);
      if (value === null || value.end !== atv.end) return null;
      const type = oidText(b, oid.content, oid.end);
      if (type === null) return null;
      const der = b.subarray(oid.end, value.end);
      const universalPrimitive = (value.tag & 0xe0) === 0;
      rdn.push({ type, tag: universalPrimitive ? value.tag : -1, bytes: der.subarray(value.content - oid.end), der });
    }
    if (rdn.length === 0) return null;
    rdns.push(rdn);
  }
  return rdns;
}

/**
 * A DER TLV at `p`: its tag, where its content starts and where it ends; null
 * for high tag numbers, indefinite or over-long lengths and overruns (shapes a
 * certificate's skeleton never has).
 */
export function derTlv(b: Uint8Array, p: number, end: number): { tag: number; content: number; end: number } | null {
  if (end - p < 2) return null;
  const tag = b[p];
  if ((tag & 0x1f) === 0x1f) return null;
  let len = b[p + 1];
  let q = p + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || end - q < n) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[q + i];
    q += n;
  }
  if (end - q < len) return null;
  return { tag, content: q, end: q + len };
}

function oidText(b: Uint8Array, p: number, end: number): string | null {
  const arcs: number[] = [];
  let v = 0;
  for (; p < end; p++) {
    v = v * 128 + (b[p] & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) return null;
    if ((b[p] & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  if (arcs.length === 0 || (b[end - 1] & 0x80) !== 0) return null;
  const first = arcs[0];
  const head = first < 40 ? `0.${first}` : first < 80 ? `1.${first - 40}` : `2.${first - 80}`;
  return arcs.length === 1 ? head : `${head}.${arcs.slice(1).join('.')}`;
}

/**
 * OpenSSL's canonical form of a DER Name (`NameInfo.canon`), read directly
 * from the bytes; null when the DER is anything but plain (see `readAvasDer`).
 */
export function canonFromDer(b: Uint8Array, start = 0, end = b.length): string | null {
  const rdns = readAvasDer(b, start, end);
  if (rdns === null) return null;
  return rdns.map((rdn) => rdn.map((ava) => `${ava.type}=${canonValue(ava)}`).join('+')).join('/');
}

const EMPTY_NAME: NameInfo = { rfc4514: '', suricata: '', canon: '', commonNames: [], hasNul: false, ok: false };

export function readName(name: pkijs.RelativeDistinguishedNames | asn1js.Sequence): NameInfo {
  let rdns: Ava[][];
  try {
    rdns = readAvas(name);
  } catch {
    return EMPTY_NAME;
  }
  const rfc: string[] = [];
  const sur: string[] = [];
  const canon: string[] = [];
  const commonNames: string[] = [];
  let hasNul = false;
  for (const rdn of rdns) {
    const r: string[] = [];
    const s: string[] = [];
    const c: string[] = [];
    for (const ava of rdn) {
      const sn = DN_SHORT_NAMES.get(ava.type);
      r.push(`${sn ?? ava.type}=${rfc2253Value(ava, sn !== undefined)}`);
      const text = decodeText(ava);
      s.push(`${DN_SURICATA_NAMES.get(ava.type) ?? ava.type}=${text ?? hexUpper(ava.bytes)}`);
      c.push(`${ava.type}=${canonValue(ava)}`);
      if (ava.bytes.includes(0)) hasNul = true;
      if (ava.type === '2.5.4.3' && text !== null) commonNames.push(text);
    }
    rfc.push(r.join('+'));
    sur.push(s.join(' + '));
    canon.push(c.join('+'));
  }
  return {
    rfc4514: rfc.reverse().join(','),
    suricata: sur.join(', '),
    canon: canon.join('/'),
    commonNames,
    hasNul,
    ok: true,
  };
}
