/**
 * TLS record layer, wire format only (RFC 8446 §5.1, RFC 5246 §6.2, and the
 * SSL 2.0 record header of draft-hickman-netscape-ssl-00 §1.2).
 *
 *     struct {
 *         ContentType type;                 // 1 byte: 20..24
 *         ProtocolVersion legacy_record_version;  // 2 bytes: 3.0 .. 3.4
 *         uint16 length;                    // <= 2^14 + 2048
 *         opaque fragment[length];
 *     } TLSPlaintext / TLSCiphertext;
 *
 * Functions read the caller's buffer in place and fill a reusable header
 * object: nothing here allocates per record.
 */
import {
  CT_CHANGE_CIPHER_SPEC,
  CT_HEARTBEAT,
  CT_HANDSHAKE,
  MAX_RECORD_LEN,
  RECORD_HEADER_LEN,
} from './constants.js';

export interface RecordHeader {
  contentType: number;
  version: number;
  length: number;
}

export function newRecordHeader(): RecordHeader {
  return { contentType: 0, version: 0, length: 0 };
}

/** `readRecordHeader` results. */
export const REC_OK = 0;
export const REC_INCOMPLETE = 1;
export const REC_BAD_CONTENT_TYPE = 2;
export const REC_BAD_VERSION = 3;
export const REC_TOO_LONG = 4;
export type RecordCheck =
  | typeof REC_OK
  | typeof REC_INCOMPLETE
  | typeof REC_BAD_CONTENT_TYPE
  | typeof REC_BAD_VERSION
  | typeof REC_TOO_LONG;

/**
 * Read the 5-byte header at `buf[off]` into `out` and check it: content type
 * 20..24, version 3.0..3.4, length at most 2^14 + 2048. `out` is filled even
 * when a check fails (so the caller can name what was wrong).
 */
export function readRecordHeader(buf: Buffer, off: number, end: number, out: RecordHeader): RecordCheck {
  if (end - off < RECORD_HEADER_LEN) return REC_INCOMPLETE;
  const type = buf[off];
  const major = buf[off + 1];
  const minor = buf[off + 2];
  out.contentType = type;
  out.version = (major << 8) | minor;
  out.length = (buf[off + 3] << 8) | buf[off + 4];
  if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT) return REC_BAD_CONTENT_TYPE;
  if (major !== 3 || minor > 4) return REC_BAD_VERSION;
  if (out.length > MAX_RECORD_LEN) return REC_TOO_LONG;
  return REC_OK;
}

/** What the first bytes of a direction say. */
export const START_NO = 0;
export const START_MORE = 1;
/** A TLS handshake record header. */
export const START_HANDSHAKE = 2;
/** Another plausible TLS record header (change_cipher_spec, alert, application_data, heartbeat): mid-session. */
export const START_OTHER_RECORD = 3;
/** An SSL 2.0-framed ClientHello (msg type 1 after a 2-byte header with the high bit set). */
export const START_SSLV2_CLIENT_HELLO = 4;
/** An SSL 2.0 ServerHello (msg type 4). */
export const START_SSLV2_SERVER_HELLO = 5;
export type StartCheck =
  | typeof START_NO
  | typeof START_MORE
  | typeof START_HANDSHAKE
  | typeof START_OTHER_RECORD
  | typeof START_SSLV2_CLIENT_HELLO
  | typeof START_SSLV2_SERVER_HELLO;

/**
 * Does the stream start with TLS? Three bytes (type, version) decide a TLS
 * header; an SSLv2 hello needs five (header, msg type, version).
 */
export function checkTlsStart(buf: Buffer, off: number, end: number): StartCheck {
  const n = end - off;
  if (n < 1) return START_MORE;
  const b0 = buf[off];
  if (b0 >= CT_CHANGE_CIPHER_SPEC && b0 <= CT_HEARTBEAT) {
    if (n < 2) return START_MORE;
    if (buf[off + 1] !== 3) return START_NO;
    if (n < 3) return START_MORE;
    if (buf[off + 2] > 4) return START_NO;
    if (n >= 5) {
      const len = (buf[off + 3] << 8) | buf[off + 4];
      if (len > MAX_RECORD_LEN) return START_NO;
      if (len === 0 && b0 !== 23) return START_NO;
    }
    return b0 === CT_HANDSHAKE ? START_HANDSHAKE : START_OTHER_RECORD;
  }
  if ((b0 & 0x80) !== 0) {
    if (n < 3) return START_MORE;
    const len = ((b0 & 0x7f) << 8) | buf[off + 1];
    const msg = buf[off + 2];
    if (msg === 1) {
      // CLIENT-HELLO: version, then three 2-byte lengths.
      if (len < 9) return START_NO;
      if (n < 5) return START_MORE;
      const version = (buf[off + 3] << 8) | buf[off + 4];
      if (version === 0x0002 || (version >= 0x0300 && version <= 0x0304)) return START_SSLV2_CLIENT_HELLO;
      return START_NO;
    }
    if (msg === 4) {
      // SERVER-HELLO: session-id-hit, certificate type, version 0x0002.
      if (len < 11) return START_NO;
      if (n < 7) return START_MORE;
      if (buf[off + 3] > 1) return START_NO;
      const version = (buf[off + 5] << 8) | buf[off + 6];
      return version === 0x0002 ? START_SSLV2_SERVER_HELLO : START_NO;
    }
    return START_NO;
  }
  return START_NO;
}

/**
 * SSL 2.0 record header: two bytes with the high bit set (length in the low
 * 15 bits), or three bytes (length in the low 14 bits, then a padding count).
 * Returns the header length (2 or 3) and fills `out.length`, or 0 when more
 * bytes are needed.
 */
export function readSslv2Header(buf: Buffer, off: number, end: number, out: RecordHeader): number {
  const n = end - off;
  if (n < 2) return 0;
  const b0 = buf[off];
  if ((b0 & 0x80) !== 0) {
    out.length = ((b0 & 0x7f) << 8) | buf[off + 1];
    out.contentType = 0;
    out.version = 0x0002;
    return 2;
  }
  if (n < 3) return 0;
  out.length = ((b0 & 0x3f) << 8) | buf[off + 1];
  out.contentType = 0;
  out.version = 0x0002;
  return 3;
}

/**
 * Is there a plausible record header at `off`? Used to resynchronise after a
 * gap: the type, the version (exactly `version` when known, else 3.x), the
 * length, and — when the buffer reaches that far — the header that follows.
 */
export function plausibleRecordAt(buf: Buffer, off: number, end: number, version: number): boolean {
  if (end - off < RECORD_HEADER_LEN) return false;
  const type = buf[off];
  if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT) return false;
  const v = (buf[off + 1] << 8) | buf[off + 2];
  if (version > 0 ? v !== version : (v >>> 8) !== 3 || (v & 0xff) > 4) return false;
  const len = (buf[off + 3] << 8) | buf[off + 4];
  if (len === 0 || len > MAX_RECORD_LEN) return false;
  const next = off + RECORD_HEADER_LEN + len;
  if (next + 3 <= end) {
    const t2 = buf[next];
    if (t2 < CT_CHANGE_CIPHER_SPEC || t2 > CT_HEARTBEAT) return false;
    if (buf[next + 1] !== 3 || buf[next + 2] > 4) return false;
  }
  return true;
}
