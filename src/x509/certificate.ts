/**
 * One certificate through pkijs: the plain `CertificateSummary` the rest of
 * tlsentry sees, and the internal `ParsedCertificate` (pkijs object plus the
 * facts chain validation needs) that never leaves `src/x509/`.
 *
 * Hostile input is normal: nothing here throws on malformed DER. A certificate
 * pkijs cannot decode still gets a summary (fingerprints, length) with the
 * `x509.parse_error` anomaly.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import { keyObjectOf, libs, signatureMatchesKey } from './crypto.js';
import { LruMap } from './lru.js';
import { readName } from './names.js';
import {
  CURVE_BITS,
  CURVE_OIDS,
  EKU_NAMES,
  EXT,
  HASH_OIDS,
  KEY_ALGORITHMS,
  KEY_USAGE_NAMES,
  SIGNATURE_ALGORITHMS,
  SUPPORTED_CRITICAL_EXTENSIONS,
} from './oids.js';
import type {
  CertificateAnomaly,
  CertificateSummary,
  KeyType,
  PublicKeySummary,
  SubjectAltNames,
} from './types.js';

const ANOMALY_IDS: Record<CertificateAnomaly, number> = {
  'x509.parse_error': defineAnomaly('x509.parse_error', 'certificate DER could not be decoded'),
  'x509.explicit_ec_parameters': defineAnomaly(
    'x509.explicit_ec_parameters',
    'EC public key with explicit curve parameters (CurveBall, CVE-2020-0601)',
  ),
  'x509.nul_in_name': defineAnomaly('x509.nul_in_name', 'NUL byte inside a subject or issuer attribute'),
  'x509.nul_in_san': defineAnomaly('x509.nul_in_san', 'NUL byte inside a subjectAltName entry'),
  'x509.bad_time': defineAnomaly('x509.bad_time', 'notBefore/notAfter not in RFC 5280 form'),
  'x509.negative_serial': defineAnomaly('x509.negative_serial', 'negative certificate serial number'),
  'x509.unknown_public_key': defineAnomaly('x509.unknown_public_key', 'public key that OpenSSL cannot decode'),
  'x509.bad_extension': defineAnomaly('x509.bad_extension', 'a known extension whose value cannot be decoded'),
  'x509.signature_algorithm_mismatch': defineAnomaly(
    'x509.signature_algorithm_mismatch',
    'outer signatureAlgorithm differs from the TBS signature field',
  ),
};

/** Count a summary's anomalies (once per distinct certificate, by the cache). */
export function countCertificateAnomalies(summary: CertificateSummary, counters: AnomalyCounters): void {
  for (const a of summary.anomalies) counters.inc(ANOMALY_IDS[a]);
}

/** Everything chain validation needs about one certificate. Internal to src/x509. */
export interface ParsedCertificate {
  readonly der: Buffer;
  readonly summary: CertificateSummary;
  /** False when pkijs could not decode the certificate (nothing below is meaningful). */
  readonly ok: boolean;
  /** TBSCertificate DER, signature bits and algorithm: what signature checks need. */
  readonly tbs: Uint8Array;
  readonly signatureValue: Uint8Array;
  readonly signatureUnusedBits: number;
  readonly signatureAlgorithm: pkijs.AlgorithmIdentifier | null;
  readonly subjectCanon: string;
  readonly issuerCanon: string;
  /** Epoch seconds; null when the time field is not in RFC 5280 form. */
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly key: KeyObject | null;
  readonly skid: string | null;
  readonly akidKeyId: string | null;
  readonly akidSerial: string | null;
  readonly akidIssuerCanon: string | null;
  /** Serial content octets, lower-case hex (for AKID serial matching). */
  readonly serialHex: string;
  /** basicConstraints present? */
  readonly hasBasicConstraints: boolean;
  readonly isCA: boolean;
  readonly pathLen: number | null;
  /** keyUsage bits as OpenSSL's `ex_kusage` (first byte | second byte << 8); null when absent. */
  readonly keyUsage: number | null;
  readonly nsCertType: number | null;
  readonly ekuOids: readonly string[] | null;
  readonly unhandledCritical: boolean;
  readonly v1: boolean;
  /** OpenSSL's EXFLAG_SS: self-issued, AKID matches own SKID, signature algorithm fits own key. */
  readonly selfSignedByName: boolean;
  /** Outer and TBS signature algorithms differ (X509_verify fails in OpenSSL). */
  readonly sigAlgMismatch: boolean;
}

const registry = new WeakMap<CertificateSummary, ParsedCertificate>();

const USED_EXTENSIONS: ReadonlySet<string> = new Set([
  EXT.subjectKeyIdentifier,
  EXT.authorityKeyIdentifier,
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.netscapeCertType,
  EXT.extKeyUsage,
  EXT.subjectAltName,
]);

/**
 * The pkijs object, for pkijs's path validation. Not kept with the parsed
 * certificate (a decoded pkijs tree costs tens of kilobytes): re-decoded on
 * demand, with a small LRU for the intermediates and roots that recur.
 */
const pkijsCache = new LruMap<string, pkijs.Certificate>(256);
const pkijsOwner = new WeakMap<pkijs.Certificate, ParsedCertificate>();

export function pkijsCertificate(p: ParsedCertificate): pkijs.Certificate | null {
  const { pkijs } = libs();
  if (!p.ok) return null;
  let c = pkijsCache.get(p.summary.sha256);
  if (!c) {
    try {
      c = pkijs.Certificate.fromBER(new Uint8Array(p.der.buffer, p.der.byteOffset, p.der.byteLength));
    } catch {
      return null;
    }
    pkijsCache.set(p.summary.sha256, c);
    pkijsOwner.set(c, p);
  }
  return c;
}

/** The parsed certificate a pkijs object was decoded from (see `pkijsCertificate`). */
export function ownerOf(c: pkijs.Certificate): ParsedCertificate | undefined {
  return pkijsOwner.get(c);
}

/** The parsed form behind a summary made by this module (undefined for foreign objects). */
export function parsedOf(summary: CertificateSummary): ParsedCertificate | undefined {
  return registry.get(summary);
}

const HEX_UPPER = '0123456789ABCDEF';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
function hex(b: Uint8Array, upper = false): string {
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return upper ? s.toUpperCase() : s;
}

/** RFC 5280 time (UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSS[.f]Z) → epoch seconds. */
export function parseAsn1Time(block: unknown): number | null {
  const { asn1js } = libs();
  if (!(block instanceof asn1js.UTCTime) && !(block instanceof asn1js.GeneralizedTime)) return null;
  const raw = String.fromCharCode(...block.valueBlock.valueHexView);
  let m: RegExpExecArray | null;
  let year: number;
  if (block instanceof asn1js.GeneralizedTime) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(raw);
    if (!m) return null;
    year = Number(m[1]);
  } else {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(raw);
    if (!m) return null;
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  }
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  if (d.getUTCMonth() !== month - 1) return null; // 31 February
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() / 1000;
}

export function isoTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const y = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, '0');
  return (
    `${String(y).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}Z`
  );
}

function formatIp(b: Uint8Array): string | null {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return null;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  // IPv4-mapped ::ffff:a.b.c.d
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff)
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  // RFC 5952: compress the longest run (>= 2) of zero words, first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const parts = words.map((w) => w.toString(16));
  if (bestStart < 0) return parts.join(':');
  return `${parts.slice(0, bestStart).join(':')}::${parts.slice(bestStart + bestLen).join(':')}`;
}

function serialForms(block: asn1js.Integer): { zeek: string; colon: string; negative: boolean } {
  const bytes = block.valueBlock.valueHexView;
  if (bytes.length === 0) return { zeek: '00', colon: '', negative: false };
  const colon = Array.from(bytes, (b) => HEX_UPPER[b >> 4] + HEX_UPPER[b & 15]).join(':');
  const negative = (bytes[0] & 0x80) !== 0;
  let mag = BigInt('0x' + hex(bytes));
  if (negative) mag = (1n << BigInt(bytes.length * 8)) - mag;
  let h = mag.toString(16).toUpperCase();
  if (h.length % 2) h = '0' + h;
  return { zeek: (negative ? '-' : '') + h, colon, negative };
}

function bitStringBytes(v: unknown): Uint8Array | null {
  const { asn1js } = libs();
  return v instanceof asn1js.BitString ? v.valueBlock.valueHexView : null;
}

function keyUsageNames(bits: Uint8Array, unused: number): string[] {
  const out: string[] = [];
  const total = bits.length * 8 - unused;
  for (let i = 0; i < total && i < KEY_USAGE_NAMES.length; i++) {
    if (bits[i >> 3] & (0x80 >> (i & 7))) out.push(KEY_USAGE_NAMES[i]);
  }
  return out;
}

function integerBits(block: unknown): number | null {
  const { asn1js } = libs();
  if (!(block instanceof asn1js.Integer)) return null;
  const b = block.valueBlock.valueHexView;
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

function publicKeySummary(
  spki: pkijs.PublicKeyInfo,
  key: KeyObject | null,
  anomalies: Set<CertificateAnomaly>,
): PublicKeySummary {
  const { asn1js } = libs();
  const oid = spki.algorithm.algorithmId;
  const algorithm = KEY_ALGORITHMS.get(oid) ?? oid;
  let type: KeyType = 'unknown';
  let bits: number | null = null;
  let curve: string | null = null;
  let exponent: string | null = null;
  let explicit = false;
  if (oid === '1.2.840.10045.2.1') {
    const params: unknown = spki.algorithm.algorithmParams;
    if (params instanceof asn1js.ObjectIdentifier) {
      curve = CURVE_OIDS.get(params.valueBlock.toString()) ?? params.valueBlock.toString();
      bits = CURVE_BITS.get(curve) ?? null;
    } else if (params instanceof asn1js.Sequence) {
      // SpecifiedECDomain: version, fieldID, curve, base, order, cofactor
      explicit = true;
      anomalies.add('x509.explicit_ec_parameters');
      bits = integerBits(params.valueBlock.value[4]);
    }
  }
  if (key) {
    const details = key.asymmetricKeyDetails ?? {};
    switch (key.asymmetricKeyType) {
      case 'rsa':
      case 'rsa-pss':
        type = key.asymmetricKeyType;
        bits = details.modulusLength ?? null;
        exponent = details.publicExponent !== undefined ? details.publicExponent.toString() : null;
        break;
      case 'ec':
        type = 'ecdsa';
        if (!explicit && details.namedCurve) {
          curve = details.namedCurve;
          bits = CURVE_BITS.get(curve) ?? bits;
        }
        break;
      case 'dsa':
        type = 'dsa';
        bits = details.modulusLength ?? null;
        break;
      case 'ed25519':
        type = 'ed25519';
        bits = 256;
        break;
      case 'ed448':
        type = 'ed448';
        bits = 456;
        break;
      default:
        break;
    }
  } else {
    anomalies.add('x509.unknown_public_key');
    if (algorithm.startsWith('ML-DSA-')) {
      // Post-quantum (FIPS 204): beyond this Node's OpenSSL; the size is the raw key's.
      type = 'ml-dsa';
      bits = spki.subjectPublicKey.valueBlock.valueHexView.length * 8;
    }
  }
  return { type, algorithm, algorithm_oid: oid, bits, curve, explicit_curve: explicit, exponent };
}

const EMPTY_SAN: SubjectAltNames = Object.freeze({ dns: [], ip: [], email: [], uri: [], other: 0 });

function unparsed(der: Buffer, sha1: string, sha256: string): ParsedCertificate {
  const summary: CertificateSummary = Object.freeze<CertificateSummary>({
    sha256,
    sha1,
    der_length: der.length,
    parse_ok: false,
    version: null,
    serial: '',
    serial_colon: '',
    subject: '',
    issuer: '',
    subject_suricata: '',
    issuer_suricata: '',
    common_names: [],
    not_before: null,
    not_after: null,
    not_before_epoch: null,
    not_after_epoch: null,
    san: EMPTY_SAN,
    public_key: {
      type: 'unknown',
      algorithm: '',
      algorithm_oid: '',
      bits: null,
      curve: null,
      explicit_curve: false,
      exponent: null,
    },
    signature_algorithm: { name: '', oid: '', hash: null },
    basic_constraints: null,
    key_usage: null,
    extended_key_usage: null,
    unknown_critical_extensions: [],
    subject_key_id: null,
    authority_key_id: null,
    self_issued: false,
    anomalies: ['x509.parse_error'] as CertificateAnomaly[],
  });
  const parsed: ParsedCertificate = {
    der,
    summary,
    ok: false,
    tbs: new Uint8Array(0),
    signatureValue: new Uint8Array(0),
    signatureUnusedBits: 0,
    signatureAlgorithm: null,
    subjectCanon: '',
    issuerCanon: '',
    notBefore: null,
    notAfter: null,
    key: null,
    skid: null,
    akidKeyId: null,
    akidSerial: null,
    akidIssuerCanon: null,
    serialHex: '',
    hasBasicConstraints: false,
    isCA: false,
    pathLen: null,
    keyUsage: null,
    nsCertType: null,
    ekuOids: null,
    unhandledCritical: false,
    v1: false,
    selfSignedByName: false,
    sigAlgMismatch: false,
  };
  registry.set(summary, parsed);
  return parsed;
}

/** Parse and summarise one DER certificate. Never throws. */
export function parseCertificate(der: Buffer, sha256?: string): ParsedCertificate {
  const { pkijs, asn1js } = libs();
  const sha1 = createHash('sha1').update(der).digest('hex');
  const sha256hex = sha256 ?? createHash('sha256').update(der).digest('hex');
  let cert: pkijs.Certificate;
  let root: Record<string, unknown>;
  try {
    const asn1 = asn1js.fromBER(new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
    if (asn1.offset === -1) return unparsed(der, sha1, sha256hex);
    root = asn1.result as unknown as Record<string, unknown>;
    cert = new pkijs.Certificate({ schema: asn1.result });
  } catch {
    return unparsed(der, sha1, sha256hex);
  }
  try {
    return build(der, sha1, sha256hex, cert, root);
  } catch {
    return unparsed(der, sha1, sha256hex);
  }
}

function build(
  der: Buffer,
  sha1: string,
  sha256: string,
  cert: pkijs.Certificate,
  root: Record<string, unknown>,
): ParsedCertificate {
  const { pkijs, asn1js } = libs();
  const anomalies = new Set<CertificateAnomaly>();
  const rawName = (k: string, fallback: pkijs.RelativeDistinguishedNames) =>
    root[k] instanceof asn1js.Sequence ? (root[k] as asn1js.Sequence) : fallback;
  const subject = readName(rawName('tbsCertificate.subject', cert.subject));
  const issuer = readName(rawName('tbsCertificate.issuer', cert.issuer));
  if (!subject.ok || !issuer.ok) anomalies.add('x509.parse_error');
  if (subject.hasNul || issuer.hasNul) anomalies.add('x509.nul_in_name');

  const serial = serialForms(cert.serialNumber);
  if (serial.negative) anomalies.add('x509.negative_serial');

  const notBefore = parseAsn1Time(root['tbsCertificate.notBefore']);
  const notAfter = parseAsn1Time(root['tbsCertificate.notAfter']);
  if (notBefore === null || notAfter === null) anomalies.add('x509.bad_time');

  const spkiBlock = root['tbsCertificate.subjectPublicKeyInfo'] as asn1js.BaseBlock | undefined;
  const key = keyObjectOf(cert.subjectPublicKeyInfo, spkiBlock?.valueBeforeDecodeView);
  const publicKey = publicKeySummary(cert.subjectPublicKeyInfo, key, anomalies);

  const sigOid = cert.signatureAlgorithm.algorithmId;
  const sigInfo = SIGNATURE_ALGORITHMS.get(sigOid);
  let sigHash: string | null = sigInfo?.hash ?? null;
  if (sigInfo && sigInfo.hash === null) {
    // RSASSA-PSS: the digest is in the parameters.
    try {
      const p =
        cert.signatureAlgorithm.algorithmParams instanceof asn1js.Sequence
          ? new pkijs.RSASSAPSSParams({ schema: cert.signatureAlgorithm.algorithmParams })
          : new pkijs.RSASSAPSSParams();
      sigHash = HASH_OIDS.get(p.hashAlgorithm.algorithmId) ?? null;
    } catch {
      sigHash = null;
    }
  }
  const outerAlg = root['signatureAlgorithm'] as asn1js.BaseBlock | undefined;
  const innerAlg = root['tbsCertificate.signature'] as asn1js.BaseBlock | undefined;
  const sigAlgMismatch = !outerAlg || !innerAlg || !sameBytes(outerAlg.valueBeforeDecodeView, innerAlg.valueBeforeDecodeView);
  if (sigAlgMismatch) anomalies.add('x509.signature_algorithm_mismatch');

  // Extensions
  let skid: string | null = null;
  let akidKeyId: string | null = null;
  let akidSerial: string | null = null;
  let akidIssuerCanon: string | null = null;
  let hasBC = false;
  let isCA = false;
  let pathLen: number | null = null;
  let keyUsage: number | null = null;
  let keyUsageList: string[] | null = null;
  let nsCertType: number | null = null;
  let ekuOids: string[] | null = null;
  const san = { dns: [] as string[], ip: [] as string[], email: [] as string[], uri: [] as string[], other: 0 };
  const unknownCritical: string[] = [];
  for (const ext of cert.extensions ?? []) {
    if (ext.critical && !SUPPORTED_CRITICAL_EXTENSIONS.has(ext.extnID)) unknownCritical.push(ext.extnID);
    if (!USED_EXTENSIONS.has(ext.extnID)) continue; // decode only what is reported (SCT lists are costly)
    let value: unknown;
    try {
      value = ext.parsedValue;
    } catch {
      value = undefined;
    }
    const bad = value === undefined || (typeof value === 'object' && value !== null && 'parsingError' in value);
    switch (ext.extnID) {
      case EXT.subjectKeyIdentifier:
        if (value instanceof asn1js.OctetString) skid = hex(value.valueBlock.valueHexView);
        else anomalies.add('x509.bad_extension');
        break;
      case EXT.authorityKeyIdentifier:
        if (bad || !(value instanceof pkijs.AuthorityKeyIdentifier)) {
          anomalies.add('x509.bad_extension');
          break;
        }
        if (value.keyIdentifier) akidKeyId = hex(value.keyIdentifier.valueBlock.valueHexView);
        if (value.authorityCertSerialNumber) akidSerial = hex(value.authorityCertSerialNumber.valueBlock.valueHexView);
        if (value.authorityCertIssuer) {
          for (const gn of value.authorityCertIssuer) {
            if (gn.type === 4 && gn.value instanceof pkijs.RelativeDistinguishedNames) {
              akidIssuerCanon = readName(gn.value).canon;
              break;
            }
          }
        }
        break;
      case EXT.basicConstraints:
        if (bad || !(value instanceof pkijs.BasicConstraints)) {
          anomalies.add('x509.bad_extension');
          break;
        }
        hasBC = true;
        isCA = value.cA === true;
        if (value.pathLenConstraint !== undefined) {
          const pl = value.pathLenConstraint;
          pathLen = typeof pl === 'number' ? pl : Number.MAX_SAFE_INTEGER;
          if (pathLen < 0) pathLen = 0;
        }
        break;
      case EXT.keyUsage: {
        const bytes = bitStringBytes(value);
        if (!bytes || !(value instanceof asn1js.BitString)) {
          anomalies.add('x509.bad_extension');
          break;
        }
        keyUsage = (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
        keyUsageList = keyUsageNames(bytes, value.valueBlock.unusedBits);
        break;
      }
      case EXT.netscapeCertType: {
        const bytes = bitStringBytes(value);
        nsCertType = bytes ? bytes[0] ?? 0 : null;
        break;
      }
      case EXT.extKeyUsage:
        if (bad || !(value instanceof pkijs.ExtKeyUsage)) {
          anomalies.add('x509.bad_extension');
          break;
        }
        ekuOids = value.keyPurposes.slice();
        break;
      case EXT.subjectAltName:
        if (bad || !(value instanceof pkijs.AltName)) {
          anomalies.add('x509.bad_extension');
          break;
        }
        for (const gn of value.altNames) {
          switch (gn.type) {
            case 1:
            case 2:
            case 6: {
              const s = String(gn.value);
              if (s.includes('\u0000')) anomalies.add('x509.nul_in_san');
              (gn.type === 1 ? san.email : gn.type === 2 ? san.dns : san.uri).push(s);
              break;
            }
            case 7: {
              const ip = gn.value instanceof asn1js.OctetString ? formatIp(gn.value.valueBlock.valueHexView) : null;
              if (ip) san.ip.push(ip);
              else san.other++;
              break;
            }
            default:
              san.other++;
          }
        }
        break;
      default:
        break;
    }
  }

  const selfIssued = subject.ok && subject.canon === issuer.canon;
  // OpenSSL X509_check_akid(x, x->akid) and check_sig_alg_match(own key, x)
  const serialHex = hex(cert.serialNumber.valueBlock.valueHexView);
  let akidOk = true;
  if (akidKeyId !== null && skid !== null && akidKeyId !== skid) akidOk = false;
  if (akidSerial !== null && akidSerial !== serialHex) akidOk = false;
  if (akidIssuerCanon !== null && akidIssuerCanon !== issuer.canon) akidOk = false;
  const selfSignedByName = selfIssued && akidOk && signatureMatchesKey(cert.signatureAlgorithm, key);

  const summary: CertificateSummary = Object.freeze({
    sha256,
    sha1,
    der_length: der.length,
    parse_ok: true,
    version: (cert.version ?? 0) + 1,
    serial: serial.zeek,
    serial_colon: serial.colon,
    subject: subject.rfc4514,
    issuer: issuer.rfc4514,
    subject_suricata: subject.suricata,
    issuer_suricata: issuer.suricata,
    common_names: Object.freeze(subject.commonNames),
    not_before: notBefore === null ? null : isoTime(notBefore),
    not_after: notAfter === null ? null : isoTime(notAfter),
    not_before_epoch: notBefore,
    not_after_epoch: notAfter,
    san: Object.freeze(san),
    public_key: Object.freeze(publicKey),
    signature_algorithm: Object.freeze({ name: sigInfo?.name ?? sigOid, oid: sigOid, hash: sigHash }),
    basic_constraints: hasBC ? Object.freeze({ ca: isCA, path_len: pathLen }) : null,
    key_usage: keyUsageList,
    extended_key_usage: ekuOids ? ekuOids.map((o) => EKU_NAMES.get(o) ?? o) : null,
    unknown_critical_extensions: unknownCritical,
    subject_key_id: skid,
    authority_key_id: akidKeyId,
    self_issued: selfIssued,
    anomalies: [...anomalies].sort(),
  });
  const parsed: ParsedCertificate = {
    der,
    summary,
    ok: true,
    tbs: cert.tbsView,
    signatureValue: cert.signatureValue.valueBlock.valueHexView,
    signatureUnusedBits: cert.signatureValue.valueBlock.unusedBits,
    signatureAlgorithm: cert.signatureAlgorithm,
    subjectCanon: subject.canon,
    issuerCanon: issuer.canon,
    notBefore,
    notAfter,
    key,
    skid,
    akidKeyId,
    akidSerial,
    akidIssuerCanon,
    serialHex,
    hasBasicConstraints: hasBC,
    isCA,
    pathLen,
    keyUsage,
    nsCertType,
    ekuOids,
    unhandledCritical: unknownCritical.length > 0,
    v1: (cert.version ?? 0) === 0,
    selfSignedByName,
    sigAlgMismatch,
  };
  registry.set(summary, parsed);
  // A certificate just seen is likely to be validated next: keep its pkijs form at hand.
  pkijsCache.set(sha256, cert);
  pkijsOwner.set(cert, parsed);
  return parsed;
}

/**
 * Summarise one DER certificate: subject/issuer (RFC 4514 and Suricata forms),
 * serial, validity, SANs, key, signature algorithm, constraints, usages,
 * fingerprints. Malformed DER gives a summary with `x509.parse_error`.
 */
export function summarizeCertificate(der: Buffer, counters?: AnomalyCounters): CertificateSummary {
  const summary = parseCertificate(der).summary;
  if (counters) countCertificateAnomalies(summary, counters);
  return summary;
}
