/**
 * Trust anchors: Node's bundled Mozilla roots by default, the system store on
 * request, and organisation bundles (PEM) tagged `enterprise_pki` or
 * `tls_inspection`, so a verdict says which kind of anchor a chain reached.
 *
 * Indexed by canonical subject DN (OpenSSL's `X509_NAME_cmp` form) and by
 * subject key identifier, so issuer lookup is a map access, not a scan.
 * As in OpenSSL's default trust model, a stored certificate is an anchor only
 * if it is self-signed; a stored intermediate extends a chain but does not end it.
 */
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { TlsentryError } from '../shared/errors.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { canonFromDer, derTlv } from './names.js';
import { ANCHOR_KINDS, type AnchorInfo, type AnchorKind } from './types.js';

/** A certificate held by a TrustStore. Internal to src/x509. */
export interface StoredCertificate {
  readonly parsed: ParsedCertificate;
  kind: AnchorKind;
  source: string;
  /** OpenSSL's notion: self-signed certificates in the store are trust anchors. */
  readonly anchor: boolean;
}

/**
 * A bulk-loaded certificate (bundled or system roots) indexed from its DER
 * alone: subject and key id are read by `indexKeys` (a few hundred bytes of
 * DER walking), and the full pkijs parse happens on the first lookup that
 * returns it. A run that meets two roots parses two, not 150 (0.25 s).
 */
class LazyStored implements StoredCertificate {
  private p: ParsedCertificate | null = null;
  constructor(
    private readonly der: Buffer,
    readonly sha256: string,
    /** The keys it is indexed under (checked against the full parse on first use). */
    readonly subjectCanon: string,
    readonly skid: string | null,
    public kind: AnchorKind,
    public source: string,
  ) {}

  get materialized(): boolean {
    return this.p !== null;
  }

  get parsed(): ParsedCertificate {
    if (this.p === null) this.p = parseCertificate(this.der, this.sha256);
    return this.p;
  }

  get anchor(): boolean {
    return this.parsed.selfSignedByName;
  }
}

export interface CaBundleSpec {
  path: string;
  tag: 'enterprise_pki' | 'tls_inspection';
}

export interface TrustStoreOptions {
  /** Node's bundled Mozilla roots (`tls.rootCertificates`); default true (`--no-default-trust` sets false). */
  defaultTrust?: boolean;
  /** The operating system's store; default false. */
  systemTrust?: boolean;
  /** Organisation bundles (`--ca-bundle FILE[=TAG]`). */
  bundles?: readonly CaBundleSpec[];
}

export interface LoadReport {
  readonly added: number;
  /** PEM blocks that did not decode as certificates. */
  readonly rejected: number;
}

const KIND_RANK: Record<AnchorKind, number> = { public: 0, system: 1, enterprise_pki: 2, tls_inspection: 3 };

const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

const PEM_RE = /-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----([\s\S]*?)-----END (?:TRUSTED |X509 )?CERTIFICATE-----/g;

/** DER certificates found in PEM text (base64 bodies between BEGIN/END CERTIFICATE lines). */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_RE)) out.push(Buffer.from(m[1].replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'));
  return out;
}

/**
 * Parse one `--ca-bundle` argument: `FILE` or `FILE=TAG` with TAG
 * `enterprise_pki` (the default) or `tls_inspection`.
 */
export function parseCaBundleArg(arg: string): CaBundleSpec {
  const eq = arg.lastIndexOf('=');
  if (eq > 0) {
    const tag = arg.slice(eq + 1);
    if (tag === 'enterprise_pki' || tag === 'tls_inspection') return { path: arg.slice(0, eq), tag };
    if (/^[a-z_]+$/.test(tag))
      throw new TlsentryError('ERR_USAGE', `--ca-bundle ${arg}: unknown tag "${tag}" (enterprise_pki or tls_inspection)`);
  }
  if (arg.length === 0) throw new TlsentryError('ERR_USAGE', '--ca-bundle needs a file name');
  return { path: arg, tag: 'enterprise_pki' };
}

let nextStoreId = 1;

export class TrustStore {
  /** Distinguishes stores in verdict caches. */
  readonly id = nextStoreId++;
  /** Bumped on every change, so cached verdicts made with fewer anchors are dropped. */
  generation = 0;
  private readonly bySha256 = new Map<string, StoredCertificate>();
  private readonly bySubject = new Map<string, StoredCertificate[]>();
  private readonly bySkid = new Map<string, StoredCertificate[]>();

  /** Build a store from options; unreadable files are configuration errors (ERR_CONFIG). */
  static fromOptions(options: TrustStoreOptions = {}): TrustStore {
    const store = new TrustStore();
    if (options.defaultTrust !== false) store.addBundledRoots();
    if (options.systemTrust) store.addSystemRoots();
    for (const b of options.bundles ?? []) store.addPemFile(b.path, b.tag);
    return store;
  }

  /** An empty store (tests, or a deployment that trusts only its own bundles). */
  static empty(): TrustStore {
    return new TrustStore();
  }

  /** Certificates held (lazily loaded ones are parsed first, so the count is exact). */
  get size(): number {
    this.materializeAll();
    return this.bySha256.size;
  }

  /** Node's bundled Mozilla roots, tagged `public` (indexed now, parsed when first looked up). */
  addBundledRoots(): LoadReport {
    return this.addPemLazy(tls.rootCertificates.join('\n'), 'public', 'node:tls.rootCertificates');
  }

  /** The operating system's store, tagged `system` (indexed now, parsed when first looked up). */
  addSystemRoots(): LoadReport {
    const getCA = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    if (typeof getCA === 'function') return this.addPemLazy(getCA('system').join('\n'), 'system', "tls.getCACertificates('system')");
    for (const path of SYSTEM_BUNDLES) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      return this.addPemLazy(text, 'system', path);
    }
    throw new TlsentryError('ERR_CONFIG', `no system CA store found (tried ${SYSTEM_BUNDLES.join(', ')})`);
  }

  /** A PEM bundle file. Unreadable or certificate-free files are ERR_CONFIG. */
  addPemFile(path: string, kind: AnchorKind): LoadReport {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new TlsentryError('ERR_CONFIG', `cannot read CA bundle ${path}: ${(cause as Error).message}`, { cause });
    }
    const report = this.addPem(text, kind, path);
    if (report.added === 0)
      throw new TlsentryError('ERR_CONFIG', `CA bundle ${path} holds no usable certificate (${report.rejected} rejected)`);
    return report;
  }

  addPem(text: string, kind: AnchorKind, source = 'pem'): LoadReport {
    let added = 0;
    let rejected = 0;
    for (const der of pemCertificates(text)) {
      if (this.addDer(der, kind, source)) added++;
      else rejected++;
    }
    return { added, rejected };
  }

  /**
   * Bulk roots: each certificate is indexed by the subject and key id read
   * straight from its DER and parsed on first lookup (`LazyStored`). One whose
   * DER the index reader does not follow is parsed at once, as `addDer` does.
   */
  private addPemLazy(text: string, kind: AnchorKind, source: string): LoadReport {
    if (!ANCHOR_KINDS.includes(kind)) throw new TlsentryError('ERR_CONFIG', `unknown anchor kind ${kind}`);
    let added = 0;
    let rejected = 0;
    for (const der of pemCertificates(text)) {
      const sha256 = crypto.hash('sha256', der, 'hex');
      const known = this.bySha256.get(sha256);
      if (known) {
        this.retag(known, kind, source);
        added++;
        continue;
      }
      const keys = indexKeys(der);
      if (keys === null) {
        if (this.addDer(der, kind, source)) added++;
        else rejected++;
        continue;
      }
      const stored = new LazyStored(der, sha256, keys.subjectCanon, keys.skid, kind, source);
      this.index(sha256, keys.subjectCanon, keys.skid, stored);
      added++;
    }
    return { added, rejected };
  }

  /** Add one DER certificate; false if it does not parse. Re-adding keeps the most specific tag. */
  addDer(der: Buffer, kind: AnchorKind, source = 'der'): boolean {
    if (!ANCHOR_KINDS.includes(kind)) throw new TlsentryError('ERR_CONFIG', `unknown anchor kind ${kind}`);
    const parsed = parseCertificate(Buffer.from(der));
    if (!parsed.ok) return false;
    const known = this.bySha256.get(parsed.summary.sha256);
    if (known) {
      this.retag(known, kind, source);
      return true;
    }
    const stored: StoredCertificate = { parsed, kind, source, anchor: parsed.selfSignedByName };
    this.index(parsed.summary.sha256, parsed.subjectCanon, parsed.skid, stored);
    return true;
  }

  private retag(known: StoredCertificate, kind: AnchorKind, source: string): void {
    if (KIND_RANK[kind] > KIND_RANK[known.kind]) {
      known.kind = kind;
      known.source = source;
      this.generation++;
    }
  }

  private index(sha256: string, subjectCanon: string, skid: string | null, stored: StoredCertificate): void {
    this.bySha256.set(sha256, stored);
    push(this.bySubject, subjectCanon, stored);
    if (skid) push(this.bySkid, skid, stored);
    this.generation++;
  }

  /**
   * Parse the lazily loaded certificates of a lookup result. One that does
   * not parse leaves the store (as `addDer` would have refused it); one whose
   * parsed subject or key id differs from its index keys is moved under the
   * parsed ones. Returns the list as it now stands.
   */
  private materialize(list: StoredCertificate[] | undefined, map: Map<string, StoredCertificate[]>, key: string): readonly StoredCertificate[] {
    if (list === undefined) return EMPTY;
    let changed = false;
    for (const s of list) {
      if (!(s instanceof LazyStored) || s.materialized) continue;
      const p = s.parsed;
      if (!p.ok || p.subjectCanon !== s.subjectCanon || p.skid !== s.skid) changed = true;
    }
    if (!changed) return list;
    for (const s of list.slice()) if (s instanceof LazyStored) this.settle(s);
    return map.get(key) ?? EMPTY;
  }

  /** Bring a parsed lazy entry's index in line with its parse (see `materialize`). */
  private settle(s: LazyStored): void {
    const p = s.parsed;
    if (p.ok && p.subjectCanon === s.subjectCanon && p.skid === s.skid) return;
    this.bySha256.delete(s.sha256);
    remove(this.bySubject, s.subjectCanon, s);
    if (s.skid) remove(this.bySkid, s.skid, s);
    if (!p.ok) return;
    // Filed under other keys than its parse says (not seen with Node's bundled
    // roots: test/x509/trust.test.ts checks them all): re-file it, and drop
    // verdicts made while it was misfiled.
    this.index(s.sha256, p.subjectCanon, p.skid, { parsed: p, kind: s.kind, source: s.source, anchor: p.selfSignedByName });
  }

  /** Parse every lazily loaded certificate (for whole-store questions). */
  private materializeAll(): void {
    for (const s of [...this.bySha256.values()]) if (s instanceof LazyStored && !s.materialized) this.settle(s);
  }

  /** @internal Stored certificates whose subject equals `issuerCanon`. */
  bySubjectName(issuerCanon: string): readonly StoredCertificate[] {
    return this.materialize(this.bySubject.get(issuerCanon), this.bySubject, issuerCanon);
  }

  /** @internal Stored certificates with this subject key identifier. */
  byKeyId(skid: string): readonly StoredCertificate[] {
    return this.materialize(this.bySkid.get(skid), this.bySkid, skid);
  }

  /** @internal Exact stored copy of a certificate. */
  bySha(sha256: string): StoredCertificate | undefined {
    const s = this.bySha256.get(sha256);
    if (s instanceof LazyStored && !s.materialized) {
      this.settle(s);
      return this.bySha256.get(sha256);
    }
    return s;
  }

  /** Plain descriptions of every anchor (for `tlsentry` diagnostics). */
  anchors(): AnchorInfo[] {
    this.materializeAll();
    const out: AnchorInfo[] = [];
    for (const s of this.bySha256.values())
      if (s.anchor) out.push({ kind: s.kind, subject: s.parsed.summary.subject, sha256: s.parsed.summary.sha256 });
    return out;
  }
}

const EMPTY: readonly StoredCertificate[] = Object.freeze([]);

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function remove<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (!list) return;
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) m.delete(k);
}

// --- index keys from DER ------------------------------------------------------

const OID_SKID = [0x06, 0x03, 0x55, 0x1d, 0x0e]; // 2.5.29.14

/**
 * The keys a certificate is filed under in a TrustStore — OpenSSL's canonical
 * subject (the same `canonValue` the full parse uses) and the subject
 * key identifier (hex of the extension's OCTET STRING) — read straight from
 * the DER. Null when anything is unusual: the caller then parses in full.
 */
export function indexKeys(der: Uint8Array): { subjectCanon: string; skid: string | null } | null {
  const cert = derTlv(der, 0, der.length);
  if (cert === null || cert.tag !== 0x30 || cert.end !== der.length) return null;
  const tbs = derTlv(der, cert.content, cert.end);
  if (tbs === null || tbs.tag !== 0x30) return null;
  const fields: [number, number, number][] = [];
  for (let p = tbs.content; p < tbs.end; ) {
    const f = derTlv(der, p, tbs.end);
    if (f === null) return null;
    fields.push([f.tag, p, f.end]);
    p = f.end;
  }
  // [0] version, serial, signature, issuer, validity, subject, spki, [1], [2], [3] extensions
  const at = fields.length > 0 && fields[0][0] === 0xa0 ? 1 : 0;
  if (fields.length < at + 6) return null;
  const subject = fields[at + 4];
  if (subject[0] !== 0x30 || fields[at + 3][0] !== 0x30 || fields[at + 5][0] !== 0x30) return null;
  let skid: string | null = null;
  for (let i = at + 6; i < fields.length; i++) {
    const [tag, start, stop] = fields[i];
    if (tag === 0xa1 || tag === 0xa2 || tag === 0x81 || tag === 0x82) continue;
    if (tag !== 0xa3) return null;
    const wrap = derTlv(der, start, stop);
    const list = wrap === null ? null : derTlv(der, wrap.content, wrap.end);
    if (list === null || list.tag !== 0x30 || list.end !== wrap!.end) return null;
    for (let p = list.content; p < list.end; ) {
      const ext = derTlv(der, p, list.end);
      if (ext === null || ext.tag !== 0x30) return null;
      p = ext.end;
      const id = derTlv(der, ext.content, ext.end);
      if (id === null || id.tag !== 0x06) return null;
      let q = id.end;
      if (q < ext.end && der[q] === 0x01) {
        const crit = derTlv(der, q, ext.end);
        if (crit === null) return null;
        q = crit.end;
      }
      const value = derTlv(der, q, ext.end);
      if (value === null || value.tag !== 0x04 || value.end !== ext.end) return null;
      if (id.end - ext.content !== OID_SKID.length || !OID_SKID.every((v, k) => der[ext.content + k] === v)) continue;
      const inner = derTlv(der, value.content, value.end);
      if (inner === null || inner.tag !== 0x04 || inner.end !== value.end) return null;
      skid = Buffer.from(der.buffer, der.byteOffset + inner.content, inner.end - inner.content).toString('hex');
    }
  }
  const subjectCanon = canonFromDer(der, subject[1], subject[2]);
  if (subjectCanon === null) return null;
  return { subjectCanon, skid };
}
