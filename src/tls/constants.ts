/**
 * TLS wire constants (RFC 8446, RFC 5246, the IANA TLS registries) and the
 * small pure helpers that name them. No behaviour lives here.
 */

// --- record layer (RFC 8446 §5.1) -------------------------------------------
export const CT_CHANGE_CIPHER_SPEC = 20;
export const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
export const CT_APPLICATION_DATA = 23;
export const CT_HEARTBEAT = 24;

export const RECORD_HEADER_LEN = 5;
/** Largest plaintext fragment (2^14) plus the largest expansion TLS 1.2 allows (2048). */
export const MAX_RECORD_LEN = 16384 + 2048;

// --- handshake message types (IANA "TLS HandshakeType") ---------------------
export const HS_HELLO_REQUEST = 0;
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_HELLO_VERIFY_REQUEST = 3;
export const HS_NEW_SESSION_TICKET = 4;
export const HS_END_OF_EARLY_DATA = 5;
export const HS_HELLO_RETRY_REQUEST = 6;
export const HS_ENCRYPTED_EXTENSIONS = 8;
export const HS_CERTIFICATE = 11;
export const HS_SERVER_KEY_EXCHANGE = 12;
export const HS_CERTIFICATE_REQUEST = 13;
export const HS_SERVER_HELLO_DONE = 14;
export const HS_CERTIFICATE_VERIFY = 15;
export const HS_CLIENT_KEY_EXCHANGE = 16;
export const HS_FINISHED = 20;
export const HS_CERTIFICATE_URL = 21;
export const HS_CERTIFICATE_STATUS = 22;
export const HS_SUPPLEMENTAL_DATA = 23;
export const HS_KEY_UPDATE = 24;
export const HS_MESSAGE_HASH = 254;

// --- extension types (IANA "TLS ExtensionType Values") -----------------------
export const EXT_SERVER_NAME = 0x0000;
export const EXT_STATUS_REQUEST = 0x0005;
export const EXT_SUPPORTED_GROUPS = 0x000a;
export const EXT_EC_POINT_FORMATS = 0x000b;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_EXTENDED_MASTER_SECRET = 0x0017;
export const EXT_SESSION_TICKET = 0x0023;
export const EXT_PRE_SHARED_KEY = 0x0029;
export const EXT_EARLY_DATA = 0x002a;
export const EXT_SUPPORTED_VERSIONS = 0x002b;
export const EXT_PSK_KEY_EXCHANGE_MODES = 0x002d;
export const EXT_KEY_SHARE = 0x0033;
export const EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039;
export const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
export const EXT_RENEGOTIATION_INFO = 0xff01;

// --- protocol versions -------------------------------------------------------
export const SSLV2 = 0x0002;
export const SSLV3 = 0x0300;
export const TLSV10 = 0x0301;
export const TLSV11 = 0x0302;
export const TLSV12 = 0x0303;
export const TLSV13 = 0x0304;
export const DTLSV10 = 0xfeff;
export const DTLSV12 = 0xfefd;
export const DTLSV13 = 0xfefc;

/**
 * ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest")
 * (RFC 8446 §4.1.3).
 */
export const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

/** GREASE (RFC 8701): 0x?a?a with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v & 0xff) === v >>> 8;
}

/** True for TLS 1.3 and its drafts (0x7fXX) and Facebook's experimental 0xfb1X. */
export function isTls13(version: number): boolean {
  return version === TLSV13 || (version & 0xff00) === 0x7f00 || version === 0xfb17 || version === 0xfb1a;
}

/** Zeek's version names (`ssl.log` `version`): `TLSv12`, `SSLv3`, `TLSv13-draft23`, `DTLSv12`. */
export function versionName(version: number): string {
  switch (version) {
    case SSLV2: return 'SSLv2';
    case SSLV3: return 'SSLv3';
    case TLSV10: return 'TLSv10';
    case TLSV11: return 'TLSv11';
    case TLSV12: return 'TLSv12';
    case TLSV13: return 'TLSv13';
    case DTLSV10: return 'DTLSv10';
    case DTLSV12: return 'DTLSv12';
    case DTLSV13: return 'DTLSv13';
    default:
      if ((version & 0xff00) === 0x7f00) return `TLSv13-draft${version & 0xff}`;
      return `unknown-${version}`;
  }
}

/** ECS `tls.version_protocol` and `tls.version` (`tls`, `1.2`; `ssl`, `3.0`). */
export function ecsVersion(version: number): { protocol: string; version: string } | null {
  switch (version) {
    case SSLV2: return { protocol: 'ssl', version: '2.0' };
    case SSLV3: return { protocol: 'ssl', version: '3.0' };
    case TLSV10: return { protocol: 'tls', version: '1.0' };
    case TLSV11: return { protocol: 'tls', version: '1.1' };
    case TLSV12: return { protocol: 'tls', version: '1.2' };
    case TLSV13: return { protocol: 'tls', version: '1.3' };
    case DTLSV10: return { protocol: 'dtls', version: '1.0' };
    case DTLSV12: return { protocol: 'dtls', version: '1.2' };
    case DTLSV13: return { protocol: 'dtls', version: '1.3' };
    default:
      if ((version & 0xff00) === 0x7f00) return { protocol: 'tls', version: '1.3' };
      return null;
  }
}

const ALERTS: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed',
  22: 'record_overflow', 30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked',
  45: 'certificate_expired', 46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca',
  49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error', 60: 'export_restriction',
  70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation',
  109: 'missing_extension', 110: 'unsupported_extension', 111: 'certificate_unobtainable',
  112: 'unrecognized_name', 113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value', 115: 'unknown_psk_identity', 116: 'certificate_required',
  120: 'no_application_protocol', 121: 'ech_required',
};

/** Alert description name as in Zeek's `last_alert` (`handshake_failure`), or `unknown-N`. */
export function alertName(description: number): string {
  return ALERTS[description] ?? `unknown-${description}`;
}
