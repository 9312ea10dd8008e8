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
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { TlsentryError } from '../shared/errors.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { ANCHOR_KINDS, type AnchorInfo, type AnchorKind } from './types.js';

/** A certificate held by a TrustStore. Internal to src/x509. */
export interface StoredCertificate {
  readonly parsed: ParsedCertificate;
  kind: AnchorKind;
  source: string;
  /** OpenSSL's notion: self-signed certificates in the store are trust anchors. */
  readonly anchor: boolean;
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

  get size(): number {
    return this.bySha256.size;
  }

  /** Node's bundled Mozilla roots, tagged `public`. */
  addBundledRoots(): LoadReport {
    return this.addPemList(tls.rootCertificates, 'public', 'node:tls.rootCertificates');
  }

  /** The operating system's store, tagged `system`. */
  addSystemRoots(): LoadReport {
    const getCA = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    if (typeof getCA === 'function') return this.addPemList(getCA('system'), 'system', "tls.getCACertificates('system')");
    for (const path of SYSTEM_BUNDLES) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      return this.addPem(text, 'system', path);
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

  private addPemList(list: readonly string[], kind: AnchorKind, source: string): LoadReport {
    return this.addPem(list.join('\n'), kind, source);
  }

  /** Add one DER certificate; false if it does not parse. Re-adding keeps the most specific tag. */
  addDer(der: Buffer, kind: AnchorKind, source = 'der'): boolean {
    if (!ANCHOR_KINDS.includes(kind)) throw new TlsentryError('ERR_CONFIG', `unknown anchor kind ${kind}`);
    const parsed = parseCertificate(Buffer.from(der));
    if (!parsed.ok) return false;
    const known = this.bySha256.get(parsed.summary.sha256);
    if (known) {
      if (KIND_RANK[kind] > KIND_RANK[known.kind]) {
        known.kind = kind;
        known.source = source;
        this.generation++;
      }
      return true;
    }
    const stored: StoredCertificate = { parsed, kind, source, anchor: parsed.selfSignedByName };
    this.bySha256.set(parsed.summary.sha256, stored);
    push(this.bySubject, parsed.subjectCanon, stored);
    if (parsed.skid) push(this.bySkid, parsed.skid, stored);
    this.generation++;
    return true;
  }

  /** @internal Stored certificates whose subject equals `issuerCanon`. */
  bySubjectName(issuerCanon: string): readonly StoredCertificate[] {
    return this.bySubject.get(issuerCanon) ?? EMPTY;
  }

  /** @internal Stored certificates with this subject key identifier. */
  byKeyId(skid: string): readonly StoredCertificate[] {
    return this.bySkid.get(skid) ?? EMPTY;
  }

  /** @internal Exact stored copy of a certificate. */
  bySha(sha256: string): StoredCertificate | undefined {
    return this.bySha256.get(sha256);
  }

  /** Plain descriptions of every anchor (for `tlsentry` diagnostics). */
  anchors(): AnchorInfo[] {
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
