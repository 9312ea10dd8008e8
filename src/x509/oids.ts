/**
 * Object identifiers and the names the peers print for them.
 *
 * Names follow OpenSSL (`OBJ_nid2sn` / `OBJ_nid2ln`), because Zeek's x509.log
 * prints OpenSSL's names; the Suricata column follows the `x509-parser` crate
 * that Suricata's EVE output uses. All tables are built once at module load.
 */

/** DN attribute type → OpenSSL short name (as in `X509_NAME_print_ex`, XN_FLAG_RFC2253). */
export const DN_SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'street'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.13', 'description'],
  ['2.5.4.14', 'searchGuide'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.16', 'postalAddress'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.18', 'postOfficeBox'],
  ['2.5.4.19', 'physicalDeliveryOfficeName'],
  ['2.5.4.20', 'telephoneNumber'],
  ['2.5.4.41', 'name'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.43', 'initials'],
  ['2.5.4.44', 'generationQualifier'],
  ['2.5.4.45', 'x500UniqueIdentifier'],
  ['2.5.4.46', 'dnQualifier'],
  ['2.5.4.51', 'houseIdentifier'],
  ['2.5.4.65', 'pseudonym'],
  ['2.5.4.72', 'role'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
  ['1.2.840.113549.1.9.2', 'unstructuredName'],
  ['1.2.840.113549.1.9.8', 'unstructuredAddress'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.3.6.1.4.1.311.60.2.1.1', 'jurisdictionL'],
  ['1.3.6.1.4.1.311.60.2.1.2', 'jurisdictionST'],
  ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionC'],
]);

/**
 * DN attribute type → the label Suricata prints (`x509-parser`'s `oid2abbrev`:
 * its abbreviations first, then the OID registry's short name).
 */
export const DN_SURICATA_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'Email'],
  ['2.5.4.4', 'surname'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.9', 'streetAddress'],
  ['2.5.4.12', 'title'],
  ['2.5.4.13', 'description'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.42', 'givenName'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['1.2.840.113549.1.9.2', 'unstructuredName'],
  ['1.3.6.1.4.1.311.60.2.1.1', 'jurisdictionLocalityName'],
  ['1.3.6.1.4.1.311.60.2.1.2', 'jurisdictionStateOrProvinceName'],
  ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionCountryName'],
]);

export type HashName = 'md2' | 'md4' | 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'none';
export type KeyFamily = 'rsa' | 'rsa-pss' | 'ec' | 'dsa' | 'ed25519' | 'ed448' | 'ml-dsa' | 'unknown';

export interface SignatureAlgorithmInfo {
  /** OpenSSL long name (`sha256WithRSAEncryption`), as in Zeek's `certificate.sig_alg`. */
  readonly name: string;
  /** Digest, or `none` for EdDSA; null when the parameters decide (RSASSA-PSS). */
  readonly hash: HashName | null;
  /** Key family that can produce this signature (OpenSSL's sig-alg/key-type match). */
  readonly key: KeyFamily;
}

export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithmInfo> = new Map([
  ['1.2.840.113549.1.1.2', { name: 'md2WithRSAEncryption', hash: 'md2', key: 'rsa' }],
  ['1.2.840.113549.1.1.3', { name: 'md4WithRSAEncryption', hash: 'md4', key: 'rsa' }],
  ['1.2.840.113549.1.1.4', { name: 'md5WithRSAEncryption', hash: 'md5', key: 'rsa' }],
  ['1.2.840.113549.1.1.5', { name: 'sha1WithRSAEncryption', hash: 'sha1', key: 'rsa' }],
  ['1.3.14.3.2.29', { name: 'sha1WithRSA', hash: 'sha1', key: 'rsa' }],
  ['1.2.840.113549.1.1.10', { name: 'rsassaPss', hash: null, key: 'rsa' }],
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256', key: 'rsa' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384', key: 'rsa' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512', key: 'rsa' }],
  ['1.2.840.113549.1.1.14', { name: 'sha224WithRSAEncryption', hash: 'sha224', key: 'rsa' }],
  ['1.2.840.10045.4.1', { name: 'ecdsa-with-SHA1', hash: 'sha1', key: 'ec' }],
  ['1.2.840.10045.4.3.1', { name: 'ecdsa-with-SHA224', hash: 'sha224', key: 'ec' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256', key: 'ec' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384', key: 'ec' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512', key: 'ec' }],
  ['1.2.840.10040.4.3', { name: 'dsaWithSHA1', hash: 'sha1', key: 'dsa' }],
  ['2.16.840.1.101.3.4.3.1', { name: 'dsa_with_SHA224', hash: 'sha224', key: 'dsa' }],
  ['2.16.840.1.101.3.4.3.2', { name: 'dsa_with_SHA256', hash: 'sha256', key: 'dsa' }],
  ['1.3.101.112', { name: 'ED25519', hash: 'none', key: 'ed25519' }],
  ['1.3.101.113', { name: 'ED448', hash: 'none', key: 'ed448' }],
  ['2.16.840.1.101.3.4.3.17', { name: 'ML-DSA-44', hash: 'none', key: 'ml-dsa' }],
  ['2.16.840.1.101.3.4.3.18', { name: 'ML-DSA-65', hash: 'none', key: 'ml-dsa' }],
  ['2.16.840.1.101.3.4.3.19', { name: 'ML-DSA-87', hash: 'none', key: 'ml-dsa' }],
]);

/** Digest OIDs (RSASSA-PSS parameters). */
export const HASH_OIDS: ReadonlyMap<string, HashName> = new Map([
  ['1.2.840.113549.2.2', 'md2'],
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

export const OID_MGF1 = '1.2.840.113549.1.1.8';

/** Public-key algorithm OID → OpenSSL long name (Zeek's `certificate.key_alg`). */
export const KEY_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.1', 'rsaEncryption'],
  ['1.2.840.113549.1.1.10', 'rsassaPss'],
  ['1.2.840.10045.2.1', 'id-ecPublicKey'],
  ['1.2.840.10040.4.1', 'dsaEncryption'],
  ['1.3.101.112', 'ED25519'],
  ['1.3.101.113', 'ED448'],
  ['1.3.101.110', 'X25519'],
  ['1.3.101.111', 'X448'],
  ['2.16.840.1.101.3.4.3.17', 'ML-DSA-44'],
  ['2.16.840.1.101.3.4.3.18', 'ML-DSA-65'],
  ['2.16.840.1.101.3.4.3.19', 'ML-DSA-87'],
]);

/** Named-curve OID → OpenSSL short name (Zeek's `certificate.curve`). */
export const CURVE_OIDS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10045.3.1.1', 'prime192v1'],
  ['1.3.132.0.33', 'secp224r1'],
  ['1.2.840.10045.3.1.7', 'prime256v1'],
  ['1.3.132.0.34', 'secp384r1'],
  ['1.3.132.0.35', 'secp521r1'],
  ['1.3.132.0.10', 'secp256k1'],
  ['1.3.36.3.3.2.8.1.1.7', 'brainpoolP256r1'],
  ['1.3.36.3.3.2.8.1.1.11', 'brainpoolP384r1'],
  ['1.3.36.3.3.2.8.1.1.13', 'brainpoolP512r1'],
]);

/** Curve (OpenSSL short name) → size of the group order in bits (Zeek's `key_length`). */
export const CURVE_BITS: ReadonlyMap<string, number> = new Map([
  ['prime192v1', 192],
  ['secp224r1', 224],
  ['prime256v1', 256],
  ['secp384r1', 384],
  ['secp521r1', 521],
  ['secp256k1', 256],
  ['brainpoolP256r1', 256],
  ['brainpoolP384r1', 384],
  ['brainpoolP512r1', 512],
]);

export const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  netscapeCertType: '2.16.840.1.113730.1.1',
} as const;

/**
 * Extensions OpenSSL's verifier understands (`X509_supported_extension` in
 * `crypto/x509/v3_purp.c`). A critical extension outside this list makes
 * OpenSSL fail with "unhandled critical extension"; tlsentry reports it as
 * `unknown_critical_extension` under the same rule, so the two agree.
 */
export const SUPPORTED_CRITICAL_EXTENSIONS: ReadonlySet<string> = new Set([
  '2.16.840.1.113730.1.1', // netscape cert type
  '2.5.29.15', // key usage
  '2.5.29.17', // subject alt name
  '2.5.29.19', // basic constraints
  '2.5.29.32', // certificate policies
  '2.5.29.31', // CRL distribution points
  '2.5.29.37', // extended key usage
  '1.3.6.1.5.5.7.1.7', // RFC 3779 IP address blocks
  '1.3.6.1.5.5.7.1.8', // RFC 3779 AS identifiers
  '1.3.6.1.5.5.7.48.1.5', // OCSP no-check
  '2.5.29.36', // policy constraints
  '1.3.6.1.5.5.7.1.14', // proxy cert info
  '2.5.29.30', // name constraints
  '2.5.29.33', // policy mappings
  '2.5.29.54', // inhibit any-policy
]);

/** keyUsage bit number → RFC 5280 name. */
export const KEY_USAGE_NAMES: readonly string[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_ANY = '2.5.29.37.0';

export const EKU_NAMES: ReadonlyMap<string, string> = new Map([
  ['1.3.6.1.5.5.7.3.1', 'serverAuth'],
  ['1.3.6.1.5.5.7.3.2', 'clientAuth'],
  ['1.3.6.1.5.5.7.3.3', 'codeSigning'],
  ['1.3.6.1.5.5.7.3.4', 'emailProtection'],
  ['1.3.6.1.5.5.7.3.8', 'timeStamping'],
  ['1.3.6.1.5.5.7.3.9', 'OCSPSigning'],
  ['2.5.29.37.0', 'anyExtendedKeyUsage'],
  ['1.3.6.1.4.1.311.10.3.3', 'msSGC'],
  ['2.16.840.1.113730.4.1', 'nsSGC'],
]);
