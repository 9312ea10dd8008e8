/**
 * Test support for src/x509: certificate factories (node-forge builds the
 * TBSCertificate; node:crypto signs, so any key type and digest works), an
 * `openssl verify` oracle, and certificate extraction from captures with tshark.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const asn1 = forge.asn1;

// ---------------------------------------------------------------------------
// tools

const toolCache = new Map<string, boolean>();
export function hasTool(name: string, args: string[] = ['version']): boolean {
  let ok = toolCache.get(name);
  if (ok === undefined) {
    const r = spawnSync(name, args, { stdio: 'ignore' });
    ok = r.error === undefined;
    toolCache.set(name, ok);
  }
  return ok;
}

export const SHARED = new URL('../../../shared/conformance/', import.meta.url).pathname;
export const sharedAvailable = (): boolean => existsSync(SHARED);

// ---------------------------------------------------------------------------
// keys and certificates

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spki: Buffer;
  /** RFC 5280 method-1 style key id (SHA-1 of the SPKI here: any stable value works). */
  readonly keyId: string;
}

export function keyPair(kind: 'rsa2048' | 'rsa1024' | 'p256' | 'p224'): KeyPair {
  const kp =
    kind === 'rsa2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'rsa1024'
        ? generateKeyPairSync('rsa', { modulusLength: 1024 })
        : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'prime256v1' : 'secp224r1' });
  const spki = kp.publicKey.export({ format: 'der', type: 'spki' });
  return { ...kp, spki, keyId: createHash('sha1').update(spki).digest('hex') };
}

export interface Identity {
  readonly cn: string;
  readonly key: KeyPair;
  /** Extra subject attributes (forge form), placed before the CN. */
  readonly attrs?: { shortName?: string; type?: string; value: string; valueTagClass?: number }[];
}

export interface Issued {
  readonly der: Buffer;
  readonly pem: string;
  readonly identity: Identity;
}

export interface IssueOptions {
  subject: Identity;
  /** Issuer identity and its certificate's subject; omitted = self-signed. */
  issuer?: Identity;
  notBefore: Date;
  notAfter: Date;
  serial?: string;
  /** basicConstraints: undefined = leaf (cA false), null = extension absent. */
  ca?: { pathLen?: number } | false | null;
  keyUsage?: Record<string, boolean> | null;
  eku?: string[] | null;
  dns?: string[];
  ips?: string[];
  hash?: 'sha256' | 'sha1' | 'md5';
  /** RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** Sign with this key instead of the issuer's (bad signature). */
  signWith?: KeyObject;
  extra?: object[];
  /** Omit SKID/AKID. */
  noKeyIds?: boolean;
}

const SIG_OID: Record<string, Record<string, string>> = {
  rsa: {
    sha256: '1.2.840.113549.1.1.11',
    sha1: '1.2.840.113549.1.1.5',
    md5: '1.2.840.113549.1.1.4',
  },
  ec: {
    sha256: '1.2.840.10045.4.3.2',
    sha1: '1.2.840.10045.4.1',
  },
};

function algorithmIdentifier(oid: string, withNull: boolean): forge.asn1.Asn1 {
  const v = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes())];
  if (withNull) v.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, v);
}

function pssAlgorithmIdentifier(): forge.asn1.Asn1 {
  const C = asn1.Class;
  const T = asn1.Type;
  const explicit = (n: number, v: forge.asn1.Asn1) => asn1.create(C.CONTEXT_SPECIFIC, n, true, [v]);
  const sha256 = () => algorithmIdentifier('2.16.840.1.101.3.4.2.1', true);
  const mgf1 = asn1.create(C.UNIVERSAL, T.SEQUENCE, true, [
    asn1.create(C.UNIVERSAL, T.OID, false, asn1.oidToDer('1.2.840.113549.1.1.8').getBytes()),
    sha256(),
  ]);
  const params = asn1.create(C.UNIVERSAL, T.SEQUENCE, true, [
    explicit(0, sha256()),
    explicit(1, mgf1),
    explicit(2, asn1.create(C.UNIVERSAL, T.INTEGER, false, String.fromCharCode(32))),
  ]);
  return asn1.create(C.UNIVERSAL, T.SEQUENCE, true, [
    asn1.create(C.UNIVERSAL, T.OID, false, asn1.oidToDer('1.2.840.113549.1.1.10').getBytes()),
    params,
  ]);
}

let serialCounter = 0x1000;
const dummyKey = forge.pki.publicKeyFromPem(
  generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ format: 'pem', type: 'spki' }) as string,
);

function subjectAttrs(id: Identity): forge.pki.CertificateField[] {
  return [...(id.attrs ?? []), { shortName: 'CN', value: id.cn }] as forge.pki.CertificateField[];
}

/** Issue a certificate: forge builds the TBS, node:crypto signs it. */
export function issue(o: IssueOptions): Issued {
  const issuer = o.issuer ?? o.subject;
  const cert = forge.pki.createCertificate();
  cert.serialNumber = o.serial ?? (serialCounter++).toString(16).padStart(4, '0');
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  cert.setSubject(subjectAttrs(o.subject));
  cert.setIssuer(subjectAttrs(issuer));
  cert.publicKey = dummyKey;
  const exts: object[] = [];
  if (o.ca !== null) {
    exts.push(
      o.ca
        ? { name: 'basicConstraints', cA: true, critical: true, ...(o.ca.pathLen !== undefined ? { pathLenConstraint: o.ca.pathLen } : {}) }
        : { name: 'basicConstraints', cA: false },
    );
  }
  const ku = o.keyUsage === undefined ? (o.ca ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, keyEncipherment: true }) : o.keyUsage;
  if (ku) exts.push({ name: 'keyUsage', critical: true, ...ku });
  const eku = o.eku === undefined ? (o.ca ? null : ['serverAuth']) : o.eku;
  if (eku) exts.push({ name: 'extKeyUsage', ...Object.fromEntries(eku.map((e) => [e, true])) });
  const alt = [...(o.dns ?? []).map((d) => ({ type: 2, value: d })), ...(o.ips ?? []).map((ip) => ({ type: 7, ip }))];
  if (alt.length) exts.push({ name: 'subjectAltName', altNames: alt });
  if (!o.noKeyIds) {
    // Given as raw values: forge would derive them from its own (dummy) key.
    const octets = (hex: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, forge.util.hexToBytes(hex));
    exts.push({ id: '2.5.29.14', value: octets(o.subject.key.keyId) });
    if (o.issuer)
      exts.push({
        id: '2.5.29.35',
        value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, forge.util.hexToBytes(issuer.key.keyId)),
        ]),
      });
  }
  exts.push(...(o.extra ?? []));
  cert.setExtensions(exts);

  const signer = o.signWith ?? issuer.key.privateKey;
  const family = issuer.key.privateKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa';
  const hash = o.hash ?? 'sha256';
  const algId = () => (o.pss ? pssAlgorithmIdentifier() : algorithmIdentifier(SIG_OID[family][hash], family === 'rsa'));
  (cert as unknown as { siginfo: { algorithmOid: string } }).siginfo.algorithmOid = '1.2.840.113549.1.1.11';
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  fields[2] = algId();
  fields[6] = asn1.fromDer(forge.util.createBuffer(o.subject.key.spki.toString('latin1')));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'latin1');
  const sig = o.pss
    ? sign('sha256', tbsDer, { key: signer, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    : sign(hash, tbsDer, signer);
  const full = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algId(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\u0000' + sig.toString('latin1')),
  ]);
  const der = Buffer.from(asn1.toDer(full).getBytes(), 'latin1');
  return { der, pem: toPem(der), identity: o.subject };
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** A critical extension no verifier knows (private OID, NULL value). */
export function unknownCriticalExtension(): object {
  return {
    id: '1.3.6.1.4.1.55555.1.1',
    critical: true,
    value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')).getBytes(),
  };
}

/** nameConstraints permitting only DNS names under `domain`. */
export function permittedDnsSubtree(domain: string): object {
  const C = asn1.Class;
  return {
    id: '2.5.29.30',
    critical: true,
    value: asn1.create(C.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(C.CONTEXT_SPECIFIC, 0, true, [
        asn1.create(C.UNIVERSAL, asn1.Type.SEQUENCE, true, [asn1.create(C.CONTEXT_SPECIFIC, 2, false, domain)]),
      ]),
    ]),
  };
}

// ---------------------------------------------------------------------------
// openssl verify oracle

export interface OpensslResult {
  /** First `X509_V_ERR_*` number reported (0 when OK). */
  readonly code: number;
  readonly depth: number | null;
  readonly message: string;
  readonly output: string;
}

/**
 * `openssl verify -attime <t> -CAfile trusted.pem -untrusted rest.pem leaf.pem`,
 * with the system store disabled. Returns OpenSSL's first error.
 */
export function opensslVerify(o: { trusted: Buffer[]; untrusted: Buffer[]; leaf: Buffer; atSeconds: number }): OpensslResult {
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-x509-'));
  try {
    const ca = join(dir, 'ca.pem');
    const un = join(dir, 'untrusted.pem');
    const leaf = join(dir, 'leaf.pem');
    writeFileSync(ca, o.trusted.map(toPem).join(''));
    writeFileSync(leaf, toPem(o.leaf));
    const args = ['verify', '-attime', String(Math.floor(o.atSeconds)), '-no-CApath', '-no-CAstore', '-CAfile', ca];
    if (o.untrusted.length) {
      writeFileSync(un, o.untrusted.map(toPem).join(''));
      args.push('-untrusted', un);
    }
    args.push(leaf);
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    const output = `${r.stdout}${r.stderr}`;
    const m = /error (\d+) at (\d+) depth lookup: ?(.*)/.exec(output);
    if (m) return { code: Number(m[1]), depth: Number(m[2]), message: m[3].trim(), output };
    if (/: OK\s*$/m.test(output)) return { code: 0, depth: null, message: 'ok', output };
    return { code: -1, depth: null, message: 'unparsed openssl output', output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// certificates from captures (tshark)

export interface CapturedChain {
  readonly frame: number;
  /** Capture time, µs since the epoch. */
  readonly atMicros: number;
  readonly stream: number | null;
  /** Sent by the server (tcp source port = the ClientHello's destination port). */
  readonly fromServer: boolean;
  readonly sni: string | null;
  readonly certs: Buffer[];
}

function epochMicros(s: string): number {
  const [sec, frac = ''] = s.split('.');
  return Number(sec) * 1e6 + Number((frac + '000000').slice(0, 6));
}

function tshark(pcap: string, filter: string, fields: string[]): string[][] {
  const args = ['-r', pcap, '-Y', filter, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

const chainCache = new Map<string, CapturedChain[]>();

/** Certificate messages in a capture, in frame order, with the connection's SNI. */
export function extractChains(pcap: string): CapturedChain[] {
  const known = chainCache.get(pcap);
  if (known) return known;
  const hellos = new Map<number, { sni: string | null; serverPort: number }>();
  for (const [stream, dport, sni] of tshark(pcap, 'tls.handshake.type == 1', ['tcp.stream', 'tcp.dstport', 'tls.handshake.extensions_server_name'])) {
    if (!stream) continue;
    const id = Number(stream.split(',')[0]);
    if (!hellos.has(id)) hellos.set(id, { sni: sni ? sni.split(',')[0] : null, serverPort: Number(dport.split(',')[0]) });
  }
  const out: CapturedChain[] = [];
  for (const [frame, time, stream, sport, tlsCerts, dtlsCerts] of tshark(pcap, 'tls.handshake.certificate || dtls.handshake.certificate', [
    'frame.number',
    'frame.time_epoch',
    'tcp.stream',
    'tcp.srcport',
    'tls.handshake.certificate',
    'dtls.handshake.certificate',
  ])) {
    const certs = tlsCerts || dtlsCerts; // DTLS: no TCP stream, no SNI pairing here
    if (!certs) continue;
    const id = stream ? Number(stream.split(',')[0]) : null;
    const hello = id === null ? undefined : hellos.get(id);
    out.push({
      frame: Number(frame),
      atMicros: epochMicros(time),
      stream: id,
      fromServer: hello ? Number(sport.split(',')[0]) === hello.serverPort : true,
      sni: hello?.sni ?? null,
      certs: certs.split(',').map((h) => Buffer.from(h.replace(/:/g, ''), 'hex')),
    });
  }
  out.sort((a, b) => a.frame - b.frame);
  chainCache.set(pcap, out);
  return out;
}

/** DER certificates embedded in a Zeek script as `["subject"] = "\x30\x82…"`. */
export function zeekRootCerts(file: string): { name: string; der: Buffer }[] {
  const text = readFileSync(file, 'latin1');
  const out: { name: string; der: Buffer }[] = [];
  for (const m of text.matchAll(/\["((?:[^"\\]|\\.)*)"\] = "((?:\\x[0-9A-Fa-f]{2})+)"/g))
    out.push({ name: m[1], der: Buffer.from(m[2].replace(/\\x/g, ''), 'hex') });
  return out;
}

// ---------------------------------------------------------------------------
// tiny YAML reader for suricata-verify `checks:` (only what those files use)

export interface SuricataCheck {
  readonly count: number | null;
  readonly match: Record<string, string>;
}

function unquote(v: string): string {
  v = v.trim();
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
  if (v.startsWith('"') && v.endsWith('"'))
    return v.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e: string) =>
      e.length > 1 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e,
    );
  return v;
}

export function suricataChecks(text: string): SuricataCheck[] {
  const lines = text.split('\n');
  const checks: SuricataCheck[] = [];
  const indent = (l: string) => l.length - l.trimStart().length;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)match:\s*$/.exec(lines[i]);
    if (!m) continue;
    const base = m[1].length;
    const match: Record<string, string> = {};
    let count: number | null = null;
    // count: sits beside match: in the same filter
    for (let k = i - 1; k >= 0 && indent(lines[k]) >= base - 2; k--) {
      const c = /^\s*count:\s*(\d+)/.exec(lines[k]);
      if (c && indent(lines[k]) === base) count = Number(c[1]);
      if (/filter:/.test(lines[k])) break;
    }
    for (let k = i + 1; k < lines.length; k++) {
      const l = lines[k];
      if (l.trim() === '' || l.trim().startsWith('#')) continue;
      if (indent(l) <= base) {
        const c = /^\s*count:\s*(\d+)/.exec(l);
        if (c && indent(l) === base) count = Number(c[1]);
        if (indent(l) < base || !/^\s*count:/.test(l)) break;
        continue;
      }
      const kv = /^\s*([A-Za-z0-9_.\-[\]]+):\s?(.*)$/.exec(l);
      if (!kv) continue;
      const keyIndent = indent(l);
      let value = kv[2];
      while (k + 1 < lines.length && lines[k + 1].trim() !== '' && indent(lines[k + 1]) > keyIndent) {
        value += ' ' + lines[++k].trim();
      }
      match[kv[1]] = unquote(value);
    }
    checks.push({ count, match });
  }
  return checks;
}
