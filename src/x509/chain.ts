/**
 * Chain building and judging, in OpenSSL's order.
 *
 * Zeek's `validation_status` is the *first* error OpenSSL's
 * `X509_verify_cert` reports (`crypto/x509/x509_vfy.c`): `build_chain`
 * (trusted-first issuer search), then `check_extensions` (critical
 * extensions, CA flags, path length), then `internal_verify` from the anchor
 * down (signature, then validity of each certificate), then name constraints.
 * This module reproduces that order on pkijs-parsed certificates, so a status
 * means what it means in Zeek. The anomaly list is independent of that
 * order: every problem found on the built path is named.
 *
 * pkijs's `CertificateChainValidationEngine` then validates the same path
 * (RFC 5280: dates, CA flags, name constraints, policies); its numeric result
 * is wrapped in `PathValidation`, and a name-constraint violation it finds on
 * an otherwise good chain becomes the status.
 */
import type * as pkijs from 'pkijs';
import { ownerOf, pkijsCertificate, type ParsedCertificate } from './certificate.js';
import { libs, signatureMatchesKey, verifyWithKey } from './crypto.js';
import type { IntermediateCache } from './intermediates.js';
import { EKU_ANY, EKU_SERVER_AUTH } from './oids.js';
import type { StoredCertificate, TrustStore } from './trust.js';
import type { ChainAnomaly, PathEngineOutcome, PathValidation, ValidationStatus } from './types.js';

/** OpenSSL 3 `X509_V_ERR_*` numbers → Zeek/OpenSSL status strings. */
export const STATUS_BY_CODE: ReadonlyMap<number, ValidationStatus> = new Map<number, ValidationStatus>([
  [0, 'ok'],
  [1, 'unspecified certificate verification error'],
  [2, 'unable to get issuer certificate'],
  [6, 'unable to decode issuer public key'],
  [7, 'certificate signature failure'],
  [9, 'certificate is not yet valid'],
  [10, 'certificate has expired'],
  [13, "format error in certificate's notBefore field"],
  [14, "format error in certificate's notAfter field"],
  [18, 'self signed certificate'],
  [19, 'self-signed certificate in certificate chain'],
  [20, 'unable to get local issuer certificate'],
  [21, 'unable to verify the first certificate'],
  [22, 'certificate chain too long'],
  [25, 'path length constraint exceeded'],
  [34, 'unhandled critical extension'],
  [47, 'permitted subtree violation'],
  [48, 'excluded subtree violation'],
  [79, 'invalid CA certificate'],
  [94, 'Certificate public key has explicit ECC parameters'],
]);

/** RFC 5280: 99991231235959Z means "no well-defined expiration". */
const NO_EXPIRY = 253402300799;
/** CA/Browser Forum ballot SC31: leaves issued from 2020-09-01 may not exceed 398 days. */
const VALIDITY_CUTOFF = Date.UTC(2020, 8, 1) / 1000;
const MAX_VALIDITY = 398 * 86400;
/** OpenSSL's default verify depth is 100; chains are built to one more. */
const MAX_DEPTH = 101;

export type LinkOrigin = 'presented' | 'cache' | 'store';
export interface Link {
  readonly cert: ParsedCertificate;
  readonly origin: LinkOrigin;
  readonly stored?: StoredCertificate;
}

export interface BuiltChain {
  readonly links: Link[];
  readonly trusted: boolean;
  /** OpenSSL error from chain building (0 when trusted). */
  readonly code: number;
  readonly depth: number;
  readonly consultedCache: boolean;
}

export interface Evaluation {
  readonly built: BuiltChain;
  readonly code: number;
  readonly depth: number | null;
  /** Anomalies that do not depend on the SNI. */
  readonly anomalies: Set<ChainAnomaly>;
}

// ---------------------------------------------------------------------------
// Certificate relations

function timeValid(c: ParsedCertificate, t: number): boolean {
  return (
    c.notBefore !== null && c.notAfter !== null && t >= c.notBefore && (c.notAfter === NO_EXPIRY || t <= c.notAfter)
  );
}

/** OpenSSL `ossl_x509_likely_issued(issuer, x)`: names, AKID, key type. No signature check. */
function checkIssued(x: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (!x.ok || !issuer.ok || !x.signatureAlgorithm) return false;
  if (issuer.subjectCanon !== x.issuerCanon) return false;
  if (x.akidKeyId !== null && issuer.skid !== null && x.akidKeyId !== issuer.skid) return false;
  if (x.akidSerial !== null && x.akidSerial !== issuer.serialHex) return false;
  if (x.akidIssuerCanon !== null && x.akidIssuerCanon !== issuer.issuerCanon) return false;
  return signatureMatchesKey(x.signatureAlgorithm, issuer.key);
}

const sigCache = new WeakMap<ParsedCertificate, Map<string, boolean>>();

/** Does `issuer`'s key verify `child`'s signature? (memoised per pair) */
export function signedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  let m = sigCache.get(child);
  const k = issuer.summary.sha256;
  const known = m?.get(k);
  if (known !== undefined) return known;
  let ok = false;
  if (child.signatureAlgorithm && issuer.key && !child.sigAlgMismatch && child.signatureUnusedBits === 0) {
    ok = verifyWithKey(child.tbs, child.signatureValue, child.signatureAlgorithm, issuer.key) === 'ok';
  }
  if (!m) sigCache.set(child, (m = new Map()));
  m.set(k, ok);
  return ok;
}

/** OpenSSL `check_ca` (v3_purp.c): 0 = not a CA, 1 = CA by basicConstraints, 3/4/5 = tolerated legacy forms. */
function checkCA(x: ParsedCertificate): number {
  if (x.keyUsage !== null && (x.keyUsage & 0x0004) === 0) return 0;
  if (x.hasBasicConstraints) return x.isCA ? 1 : 0;
  if (x.v1 && x.selfSignedByName) return 3;
  if (x.keyUsage !== null) return 4;
  if (x.nsCertType !== null && (x.nsCertType & 0x07) !== 0) return 5;
  return 0;
}

// ---------------------------------------------------------------------------
// build_chain

type Touch = (c: ParsedCertificate) => void;

function bestIssuer(
  candidates: readonly ParsedCertificate[],
  x: ParsedCertificate,
  links: readonly Link[] | null,
  t: number,
  touch: Touch,
): ParsedCertificate | null {
  let fallback: ParsedCertificate | null = null;
  for (const c of candidates) {
    touch(c);
    if (links && !(x.summary.self_issued && links.length === 1)) {
      if (links.some((l) => l.cert.summary.sha256 === c.summary.sha256)) continue;
    }
    if (!checkIssued(x, c)) continue;
    if (timeValid(c, t)) return c;
    if (fallback === null || (c.notAfter ?? -Infinity) > (fallback.notAfter ?? -Infinity)) fallback = c;
  }
  return fallback;
}

function bestStored(x: ParsedCertificate, trust: TrustStore, t: number, touch: Touch): StoredCertificate | null {
  // With an authority key id, the key-id index narrows the candidates to what
  // OpenSSL's check_issued would accept (same key id, or no SKID to compare).
  const stored =
    x.akidKeyId !== null
      ? trust
          .byKeyId(x.akidKeyId)
          .filter((s) => s.parsed.subjectCanon === x.issuerCanon)
          .concat(trust.bySubjectName(x.issuerCanon).filter((s) => s.parsed.skid === null))
      : trust.bySubjectName(x.issuerCanon);
  if (stored.length === 0) return null;
  const pick = bestIssuer(
    stored.map((s) => s.parsed),
    x,
    null,
    t,
    touch,
  );
  return pick ? stored.find((s) => s.parsed === pick) ?? null : null;
}

const DO_UNTRUSTED = 1;
const DO_TRUSTED = 2;

/**
 * OpenSSL `build_chain` with the default flags (trusted-first, no partial
 * chains, no alternate chains): the presented certificates are the untrusted
 * pool; the trust store is searched first at every step; a stored certificate
 * ends the chain only if it is self-signed. `cache`, when given, is searched
 * after the pool (for the second, cache-assisted attempt).
 */
export function buildChain(
  leaf: ParsedCertificate,
  pool: readonly ParsedCertificate[],
  trust: TrustStore,
  t: number,
  cache: IntermediateCache | null,
  touch: Touch,
): BuiltChain {
  const links: Link[] = [{ cert: leaf, origin: 'presented' }];
  const untrusted = pool.slice();
  let numUntrusted = 1;
  let search = DO_UNTRUSTED | DO_TRUSTED;
  let trusted = false;
  let consultedCache = false;

  while (search !== 0) {
    const num = links.length;
    const curr = links[num - 1].cert;
    if (search & DO_TRUSTED) {
      const issuer = num > MAX_DEPTH ? null : bestStored(curr, trust, t, touch);
      let ok = issuer !== null;
      if (issuer) {
        if (!curr.selfSignedByName) {
          links.push({ cert: issuer.parsed, origin: 'store', stored: issuer });
        } else if (issuer.parsed.summary.sha256 !== curr.summary.sha256) {
          ok = false; // a self-signed look-alike of an anchor: needs an exact match
        } else {
          links[num - 1] = { cert: issuer.parsed, origin: 'store', stored: issuer };
          numUntrusted = num - 1;
        }
        if (ok) {
          search &= ~DO_UNTRUSTED;
          if (links[links.length - 1].stored?.anchor) {
            trusted = true;
            break;
          }
          continue; // a stored intermediate: keep looking in the store only
        }
      }
      if (!(search & DO_UNTRUSTED)) break;
    }
    if (search & DO_UNTRUSTED) {
      let issuer: ParsedCertificate | null = null;
      let origin: LinkOrigin = 'presented';
      if (!curr.selfSignedByName && num <= MAX_DEPTH) {
        issuer = bestIssuer(untrusted, curr, links, t, touch);
        if (!issuer && cache) {
          consultedCache = true;
          issuer = bestIssuer(cache.candidates(curr.issuerCanon), curr, links, t, touch);
          origin = 'cache';
        }
      }
      if (!issuer) {
        search = (search & ~DO_UNTRUSTED) | DO_TRUSTED;
        continue;
      }
      if (origin === 'presented') untrusted.splice(untrusted.indexOf(issuer), 1);
      links.push({ cert: issuer, origin });
      numUntrusted++;
    }
  }

  if (trusted) return { links, trusted, code: 0, depth: 0, consultedCache };
  const num = links.length;
  const depth = num - 1;
  let code: number;
  if (num > MAX_DEPTH) code = 22;
  else if (links[num - 1].cert.selfSignedByName) code = num === 1 ? 18 : 19;
  else code = numUntrusted < num ? 2 : 20;
  return { links, trusted, code, depth, consultedCache };
}

// ---------------------------------------------------------------------------
// check_extensions + internal_verify

function opensslChecks(links: readonly Link[], t: number): { code: number; depth: number } | null {
  const num = links.length;
  let plen = 0;
  for (let i = 0; i < num; i++) {
    const x = links[i].cert;
    if (x.unhandledCritical) return { code: 34, depth: i };
    if (i > 0) {
      const ca = checkCA(x);
      if (ca === 0 || (i + 1 < num && ca !== 1)) return { code: 79, depth: i };
    }
    if (num > 1) {
      // OpenSSL 3 check_curve: undecodable key → unspecified error; explicit EC parameters refused.
      if (!x.key) return { code: 1, depth: i };
      if (x.summary.public_key.explicit_curve) return { code: 94, depth: i };
    }
    if (i > 1 && x.pathLen !== null && plen > x.pathLen) return { code: 25, depth: i };
    if (i > 0 && !x.summary.self_issued) plen++;
  }
  let n = num - 1;
  let xi = links[n].cert;
  let xs = xi;
  if (!checkIssued(xi, xi)) {
    if (n === 0) return { code: 21, depth: 0 };
    n--;
    xs = links[n].cert;
  }
  for (;;) {
    if (xs !== xi) {
      if (!xi.key) return { code: 6, depth: n + 1 };
      if (!signedBy(xs, xi)) return { code: 7, depth: n };
    }
    if (xs.notBefore === null) return { code: 13, depth: n };
    if (t < xs.notBefore) return { code: 9, depth: n };
    if (xs.notAfter === null) return { code: 14, depth: n };
    if (xs.notAfter !== NO_EXPIRY && t > xs.notAfter) return { code: 10, depth: n };
    if (--n < 0) return null;
    xi = xs;
    xs = links[n].cert;
  }
}

// ---------------------------------------------------------------------------
// anomalies that do not depend on the SNI

const WEAK_HASHES = new Set(['md2', 'md4', 'md5', 'sha1']);

function weakKey(c: ParsedCertificate): boolean {
  const k = c.summary.public_key;
  if (k.bits === null) return false;
  switch (k.type) {
    case 'rsa':
    case 'rsa-pss':
    case 'dsa':
      return k.bits < 2048;
    case 'ecdsa':
      return k.bits < 256;
    default:
      return false;
  }
}

export interface EvaluateOptions {
  readonly presented: readonly ParsedCertificate[];
  readonly trust: TrustStore;
  readonly atSeconds: number;
  readonly cache: IntermediateCache | null;
  readonly aboutToExpireDays: number;
  readonly serverRole: boolean;
  readonly touch: Touch;
}

/** Build the path from the presented certificates and judge it (everything but the SNI). */
export function evaluate(opts: EvaluateOptions): Evaluation {
  const t = opts.atSeconds;
  const presented = opts.presented;
  const leaf = presented[0];
  const pool = presented.slice(1).filter((c) => c.ok);
  const built = buildChain(leaf, pool, opts.trust, t, opts.cache, opts.touch);
  let code = built.code;
  let depth: number | null = built.trusted ? null : built.depth;
  if (built.trusted) {
    const err = opensslChecks(built.links, t);
    if (err) {
      code = err.code;
      depth = err.depth;
    }
  }

  const a = new Set<ChainAnomaly>();
  const links = built.links;
  const last = links.length - 1;
  const top = links[last];
  const topIsSelfSigned = top.cert.selfSignedByName;
  for (let i = 0; i <= last; i++) {
    const c = links[i].cert;
    if (c.notAfter !== null && c.notAfter !== NO_EXPIRY && t > c.notAfter) a.add('expired');
    if (c.notBefore !== null && t < c.notBefore) a.add('not_yet_valid');
    if (c.unhandledCritical) a.add('unknown_critical_extension');
    if (weakKey(c)) a.add('weak_key');
    const isRoot = i === last && topIsSelfSigned;
    const hash = c.summary.signature_algorithm.hash;
    if (!isRoot && hash !== null && WEAK_HASHES.has(hash)) a.add('weak_signature_algorithm');
    // A link whose issuer key cannot be decoded is not a bad signature (status: unable to decode).
    if (i < last && links[i + 1].cert.key && !signedBy(c, links[i + 1].cert)) a.add('bad_signature');
  }
  // A self-signed certificate that is not a trust anchor: its own signature is all it has.
  if (topIsSelfSigned && !top.stored?.anchor && top.cert.key && !signedBy(top.cert, top.cert)) a.add('bad_signature');
  if (leaf.selfSignedByName) a.add('self_signed');
  if (code === 18 || code === 19) a.add('untrusted_root');
  if (code === 19) a.add('self_signed_in_chain');
  if (code === 20 || code === 2 || built.links.some((l) => l.origin === 'cache')) a.add('incomplete_chain');
  if (leaf.isCA && !leaf.selfSignedByName) a.add('ca_as_leaf');
  if (opts.serverRole) {
    const eku = leaf.ekuOids;
    if (eku !== null && !eku.includes(EKU_SERVER_AUTH) && !eku.includes(EKU_ANY)) a.add('not_for_server_auth');
    if (
      leaf.notBefore !== null &&
      leaf.notAfter !== null &&
      leaf.notBefore >= VALIDITY_CUTOFF &&
      leaf.notAfter - leaf.notBefore > MAX_VALIDITY
    )
      a.add('validity_too_long');
  }
  if (
    leaf.notAfter !== null &&
    leaf.notAfter !== NO_EXPIRY &&
    t <= leaf.notAfter &&
    t >= leaf.notAfter - opts.aboutToExpireDays * 86400
  )
    a.add('about_to_expire');
  if (outOfOrder(presented, links)) a.add('chain_out_of_order');

  return { built, code, depth, anomalies: a };
}

/**
 * The presented certificates used by the path must come in path order right
 * after the leaf; unused extras (cross-signed roots, duplicates) may follow
 * but not sit in between.
 */
function outOfOrder(presented: readonly ParsedCertificate[], links: readonly Link[]): boolean {
  const pos = new Map<string, number>();
  links.forEach((l, i) => pos.set(l.cert.summary.sha256, i));
  const seen = new Set<string>();
  let lastPos = -1;
  let sawUnused = false;
  for (const c of presented) {
    const sha = c.summary.sha256;
    const p = seen.has(sha) ? undefined : pos.get(sha);
    seen.add(sha);
    if (p === undefined) {
      sawUnused = true;
      continue;
    }
    if (sawUnused || p <= lastPos) return true;
    lastPos = p;
  }
  return false;
}

/** Validity boundaries (µs) of a certificate: where a verdict may change. */
export function boundariesOf(c: ParsedCertificate, out: number[], aboutToExpireDays: number, isLeaf: boolean): void {
  if (c.notBefore !== null) out.push(c.notBefore * 1e6);
  if (c.notAfter !== null && c.notAfter !== NO_EXPIRY) {
    out.push(c.notAfter * 1e6 + 1);
    if (isLeaf) out.push((c.notAfter - aboutToExpireDays * 86400) * 1e6);
  }
}

// ---------------------------------------------------------------------------
// pkijs CertificateChainValidationEngine, wrapped

function outcomeOf(code: number, message: string, result: boolean): PathEngineOutcome {
  if (result) return 'valid';
  switch (code) {
    case 8:
      return 'date_invalid';
    case 14:
      return 'not_ca';
    case 10:
      return 'name_chaining';
    case 60:
    case 97:
      return 'no_path';
    case 41:
    case 42:
      return 'name_constraints';
    case 0:
    case 21:
    case 98:
    case 99:
      return 'policy';
    default:
      return /certificate path/i.test(message) ? 'no_path' : 'error';
  }
}

/**
 * Run pkijs's RFC 5280 validation on the path tlsentry built (leaf → anchor),
 * at the capture time. Issuers are looked up along that path only, and each
 * link's signature is checked (through `libs().engine`).
 */
export async function pkijsValidate(links: readonly Link[], atSeconds: number): Promise<PathValidation> {
  const { pkijs } = libs();
  const certs: pkijs.Certificate[] = [];
  for (const l of links) {
    const c = pkijsCertificate(l.cert);
    if (!c) return { engine: 'pkijs', outcome: 'error', code: -1, message: 'certificate not decodable' };
    certs.push(c);
  }
  const next = new Map<pkijs.Certificate, pkijs.Certificate>();
  for (let i = 0; i + 1 < certs.length; i++) next.set(certs[i], certs[i + 1]);
  const anchor = certs[certs.length - 1];
  try {
    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: [anchor],
      certs: certs.slice(0, -1).reverse(), // pkijs takes the end-entity last
      checkDate: new Date(atSeconds * 1000),
      // Issuers along tlsentry's path only; each link's signature checked (memoised, node:crypto).
      findIssuer: async (cert) => {
        const issuer = cert === anchor ? anchor : next.get(cert);
        if (!issuer) return [];
        if (issuer === cert) return [cert];
        const child = ownerOf(cert);
        const parent = ownerOf(issuer);
        return child && parent && signedBy(child, parent) ? [issuer] : [];
      },
    });
    const r = await engine.verify({}, libs().engine);
    return {
      engine: 'pkijs',
      outcome: outcomeOf(r.resultCode, r.resultMessage, r.result),
      code: r.resultCode,
      message: r.resultMessage,
    };
  } catch (e) {
    return { engine: 'pkijs', outcome: 'error', code: -1, message: (e as Error).message };
  }
}
