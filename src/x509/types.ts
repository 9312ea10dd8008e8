/**
 * The plain, typed data that leaves `src/x509/`. No pkijs object ever appears
 * here: later stages (detect, output) only see these shapes.
 */

/** Certificate-level anomalies, also counted with `defineAnomaly` (dotted names). */
export type CertificateAnomaly =
  | 'x509.parse_error'
  | 'x509.explicit_ec_parameters'
  | 'x509.nul_in_name'
  | 'x509.nul_in_san'
  | 'x509.bad_time'
  | 'x509.negative_serial'
  | 'x509.unknown_public_key'
  | 'x509.bad_extension'
  | 'x509.signature_algorithm_mismatch';

export type KeyType = 'rsa' | 'rsa-pss' | 'dsa' | 'ecdsa' | 'ed25519' | 'ed448' | 'ml-dsa' | 'unknown';

export interface PublicKeySummary {
  /** Family, as Zeek's `certificate.key_type` (`rsa`, `dsa`, `ecdsa`, …). */
  readonly type: KeyType;
  /** OpenSSL long name of the SPKI algorithm (`rsaEncryption`, `id-ecPublicKey`), or the OID. */
  readonly algorithm: string;
  readonly algorithm_oid: string;
  /** RSA/DSA modulus bits, EC group-order bits (Zeek's `key_length`); null if unknown. */
  readonly bits: number | null;
  /** OpenSSL curve name (`prime256v1`, `secp384r1`) for named curves. */
  readonly curve: string | null;
  /** True when the EC parameters are spelled out instead of named (CurveBall). */
  readonly explicit_curve: boolean;
  /** RSA public exponent in decimal (Zeek's `certificate.exponent`). */
  readonly exponent: string | null;
}

export interface SignatureAlgorithmSummary {
  /** OpenSSL long name (`sha256WithRSAEncryption`), or the OID when unknown. */
  readonly name: string;
  readonly oid: string;
  /** Digest used (`sha1`, `sha256`, …; `none` for EdDSA; null if unknown). */
  readonly hash: string | null;
}

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly email: readonly string[];
  readonly uri: readonly string[];
  /** Count of other name forms (otherName, directoryName, …). */
  readonly other: number;
}

export interface CertificateSummary {
  /** Lower-case hex. The identity of the certificate everywhere in tlsentry. */
  readonly sha256: string;
  readonly sha1: string;
  readonly der_length: number;
  /** False when pkijs could not decode the DER; most fields are then empty. */
  readonly parse_ok: boolean;
  readonly version: number | null;
  /** Serial as Zeek prints it: upper-case hex of the magnitude, `-` if negative. */
  readonly serial: string;
  /** Serial as Suricata prints it: upper-case colon hex of the DER content bytes. */
  readonly serial_colon: string;
  /**
   * RFC 4514 distinguished names, most specific RDN first, exactly as OpenSSL's
   * `X509_NAME_print_ex(…, XN_FLAG_RFC2253)` prints them — the form Zeek logs
   * (`CN=…,O=…,C=US`). Bytes outside printable ASCII are escaped `\XX`.
   */
  readonly subject: string;
  readonly issuer: string;
  /** Suricata's `tls.subject` / `tls.issuerdn` form: DER order, `, ` separated (`C=US, O=…, CN=…`). */
  readonly subject_suricata: string;
  readonly issuer_suricata: string;
  /** All commonName values of the subject, in DER order. */
  readonly common_names: readonly string[];
  /** ISO 8601 UTC (`2015-02-12T18:07:27Z`); null when the field cannot be read. */
  readonly not_before: string | null;
  readonly not_after: string | null;
  /** Seconds since the epoch (negative before 1970), as Zeek's `not_valid_before`. */
  readonly not_before_epoch: number | null;
  readonly not_after_epoch: number | null;
  readonly san: SubjectAltNames;
  readonly public_key: PublicKeySummary;
  readonly signature_algorithm: SignatureAlgorithmSummary;
  readonly basic_constraints: { readonly ca: boolean; readonly path_len: number | null } | null;
  /** keyUsage names (`digitalSignature`, `keyCertSign`, …); null when absent. */
  readonly key_usage: readonly string[] | null;
  /** extendedKeyUsage names (`serverAuth`, …) or dotted OIDs; null when absent. */
  readonly extended_key_usage: readonly string[] | null;
  /** OIDs of critical extensions OpenSSL's verifier does not handle. */
  readonly unknown_critical_extensions: readonly string[];
  readonly subject_key_id: string | null;
  readonly authority_key_id: string | null;
  /** Subject and issuer names are equal (OpenSSL's canonical comparison). */
  readonly self_issued: boolean;
  readonly anomalies: readonly CertificateAnomaly[];
}

/** Zeek/OpenSSL-compatible `validation_status` strings. */
export type ValidationStatus =
  | 'ok'
  | 'self signed certificate'
  | 'self-signed certificate in certificate chain'
  | 'unable to get local issuer certificate'
  | 'unable to get issuer certificate'
  | 'unable to verify the first certificate'
  | 'certificate has expired'
  | 'certificate is not yet valid'
  | 'certificate signature failure'
  | 'unable to decode issuer public key'
  | 'invalid CA certificate'
  | 'path length constraint exceeded'
  | 'unhandled critical extension'
  | "format error in certificate's notBefore field"
  | "format error in certificate's notAfter field"
  | 'permitted subtree violation'
  | 'excluded subtree violation'
  | 'certificate chain too long'
  | 'Certificate public key has explicit ECC parameters'
  | 'unspecified certificate verification error'
  | 'certificate not visible'
  | 'no certificate'
  | 'unable to parse certificate';

/** The chain-level anomaly vocabulary, in the order verdicts list them. */
export const CHAIN_ANOMALIES = [
  'expired',
  'not_yet_valid',
  'self_signed',
  'self_signed_in_chain',
  'untrusted_root',
  'incomplete_chain',
  'bad_signature',
  'hostname_mismatch',
  'missing_sni',
  'weak_signature_algorithm',
  'weak_key',
  'validity_too_long',
  'about_to_expire',
  'chain_out_of_order',
  'ca_as_leaf',
  'not_for_server_auth',
  'unknown_critical_extension',
] as const;
export type ChainAnomaly = (typeof CHAIN_ANOMALIES)[number];

export type AnchorKind = 'public' | 'system' | 'enterprise_pki' | 'tls_inspection';
export const ANCHOR_KINDS: readonly AnchorKind[] = ['public', 'system', 'enterprise_pki', 'tls_inspection'];

export interface AnchorInfo {
  readonly kind: AnchorKind;
  readonly subject: string;
  readonly sha256: string;
}

/** What pkijs's `CertificateChainValidationEngine` said about the built path. */
export type PathEngineOutcome =
  | 'valid'
  | 'date_invalid'
  | 'not_ca'
  | 'name_chaining'
  | 'no_path'
  | 'name_constraints'
  | 'policy'
  | 'error';

export interface PathValidation {
  readonly engine: 'pkijs';
  readonly outcome: PathEngineOutcome;
  /** pkijs's numeric result code and message, kept for debugging. */
  readonly code: number;
  readonly message: string;
}

export interface ChainVerdict {
  readonly validation_status: ValidationStatus;
  /** OpenSSL 3 `X509_V_ERR_*` number of the status (0 for ok); null for tlsentry-only statuses. */
  readonly status_code: number | null;
  /** Chain depth (0 = leaf) at which the reported error was found. */
  readonly error_depth: number | null;
  readonly anomalies: readonly ChainAnomaly[];
  readonly anchor: AnchorInfo | null;
  /** SHA-1 of the presented certificates, leaf first, as sent. */
  readonly chain_sha1: readonly string[];
  readonly chain_sha256: readonly string[];
  /** SHA-256 of the built path, leaf → anchor (or the last certificate reached). */
  readonly path_sha256: readonly string[];
  /** An intermediate from the cache (not from this connection) completed the path. */
  readonly completed_from_cache: boolean;
  /** SNI compared with the leaf (SAN DNS/IP; CN only without SAN); null without SNI. */
  readonly sni_matches_cert: boolean | null;
  /** RFC 5280 path validation by pkijs, when a path to an anchor was built. */
  readonly path_validation: PathValidation | null;
  /** Certificate-level anomalies of the presented certificates (union). */
  readonly certificate_anomalies: readonly CertificateAnomaly[];
}
