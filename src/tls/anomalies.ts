/**
 * Every anomaly the TLS stage can name, declared once at module load. The
 * parsers report these ids; the session keeps the names that occurred in it
 * and bumps the run's counters.
 */
import { defineAnomaly } from '../shared/anomalies.js';

export const A = {
  recordBadVersion: defineAnomaly('tls.record.bad_version', 'A TLS record header carried a version other than 3.x after TLS was detected'),
  recordBadContentType: defineAnomaly('tls.record.bad_content_type', 'A TLS record header carried an unknown content type'),
  recordTooLong: defineAnomaly('tls.record.too_long', 'A TLS record announced more than 2^14 + 2048 bytes'),
  recordEmpty: defineAnomaly('tls.record.empty', 'A plaintext handshake, alert or change_cipher_spec record had no content'),
  recordTruncated: defineAnomaly('tls.record.truncated', 'The stream ended inside a TLS record'),
  recordEarlyAppData: defineAnomaly('tls.record.plaintext_app_data', 'An application_data record arrived before encryption started (TLS 1.2 and older)'),
  ccsMalformed: defineAnomaly('tls.ccs.malformed', 'A plaintext change_cipher_spec record was not the single byte 1'),
  alertMalformed: defineAnomaly('tls.alert.malformed', 'A plaintext alert record was not two bytes'),
  handshakeTruncated: defineAnomaly('tls.handshake.truncated', 'The stream ended, or a gap came, inside a handshake message'),
  handshakeTooLarge: defineAnomaly('tls.handshake.too_large', 'A handshake message exceeded the size limit and was skipped'),
  handshakeInterleaved: defineAnomaly('tls.handshake.interleaved', 'Another record type arrived in the middle of a fragmented handshake message'),
  handshakeUnexpected: defineAnomaly('tls.handshake.unexpected', 'A hello message came from the wrong side or more often than the protocol allows'),
  clientHelloTruncated: defineAnomaly('tls.client_hello.truncated', 'The ClientHello ended before its fields did; the fields read so far are kept'),
  clientHelloMalformed: defineAnomaly('tls.client_hello.malformed', 'A ClientHello length field disagreed with the message'),
  clientHelloBadExtension: defineAnomaly('tls.client_hello.bad_extension', 'A ClientHello extension body did not match its format'),
  clientHelloDuplicateExtension: defineAnomaly('tls.client_hello.duplicate_extension', 'A ClientHello carried the same extension type twice'),
  clientHelloManyServerNames: defineAnomaly('tls.client_hello.many_server_names', 'The server_name extension listed more than one host name'),
  serverHelloTruncated: defineAnomaly('tls.server_hello.truncated', 'The ServerHello ended before its fields did'),
  serverHelloMalformed: defineAnomaly('tls.server_hello.malformed', 'A ServerHello length field disagreed with the message'),
  serverHelloBadExtension: defineAnomaly('tls.server_hello.bad_extension', 'A ServerHello extension body did not match its format'),
  certificateMalformed: defineAnomaly('tls.certificate.malformed', 'A Certificate message list did not add up'),
  certificateTooMany: defineAnomaly('tls.certificate.too_many', 'A Certificate message listed more certificates than are kept'),
  sslv2Malformed: defineAnomaly('tls.sslv2.malformed', 'An SSLv2 ClientHello did not add up'),
  gapInHandshake: defineAnomaly('tls.gap.handshake', 'Bytes were lost before the handshake was over'),
  gapResynced: defineAnomaly('tls.gap.resynced', 'Bytes were lost; record parsing resumed at the next plausible record header'),
  gapLost: defineAnomaly('tls.gap.lost', 'Bytes were lost and no plausible record header followed; the direction was given up'),
  midstream: defineAnomaly('tls.stream.midstream', 'TLS was first seen in the middle of a session (no hello)'),
  otherSideNotTls: defineAnomaly('tls.stream.other_side_not_tls', 'One side spoke TLS, the other did not'),
  prefixTooLong: defineAnomaly('tls.prefix.too_long', 'A plaintext prefix (STARTTLS, CONNECT, SOCKS) went on too long; analysis stopped'),
} as const;

export type TlsAnomalyId = (typeof A)[keyof typeof A];
