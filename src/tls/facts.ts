/**
 * What one TCP flow showed of TLS: plain data the output stage reads after
 * the flow ends (Suricata's `output-json-tls.c` reads parser state the same
 * way). Filled in place by `TlsParser`; nothing here has behaviour.
 */
import type { Direction } from '../flow/stream-parser.js';
import type { ClientHello } from './client-hello.js';
import type { PlaintextPrefix } from './prefix.js';
import type { ServerHello } from './server-hello.js';

/** Counts for the bytes one side sent. */
export interface TlsSideFacts {
  /** Plaintext handshake records (hellos, certificates, key exchange, ...). */
  handshakeRecords: number;
  changeCipherSpecRecords: number;
  /** Alert records, plaintext or encrypted. */
  alertRecords: number;
  /**
   * Encrypted records carrying application data. TLS 1.3 hides the record
   * type, so there a side's first encrypted flight (the server's before the
   * client's Finished, the client's first record) is counted as
   * `encryptedHandshakeRecords` instead: a heuristic, exact for ordinary
   * handshakes without client certificates or 0.5-RTT data.
   */
  applicationDataRecords: number;
  /** Ciphertext bytes (record bodies, headers excluded) of `applicationDataRecords`. */
  applicationDataBytes: number;
  /** Encrypted handshake records: TLS 1.2 Finished after change_cipher_spec, TLS 1.3 flights (see above). */
  encryptedHandshakeRecords: number;
  heartbeatRecords: number;
  /** SSL 2.0 records after the hellos. */
  sslv2Records: number;
  /** Certificate DER from the side's Certificate message (TLS 1.0–1.2 and SSLv2; TLS 1.3 encrypts them). */
  certificates: Buffer[];
  /**
   * Capture time (µs) of the packet that completed that Certificate message: the
   * time the chain is judged at (Zeek's network_time). Null without one, or
   * for a parser fed without a flow.
   */
  certificatesMicros: number | null;
  /** Zeek's view: the side switched to encrypted records (change_cipher_spec, or TLS 1.3 application_data). */
  encrypted: boolean;
}

export interface TlsAlert {
  /** Flow direction that sent it (0 = originator). */
  readonly direction: Direction;
  /** True when the alert came from the TLS client. */
  readonly fromClient: boolean;
  /** 1 warning, 2 fatal; -1 when the alert was encrypted. */
  readonly level: number;
  /** Alert description; -1 when encrypted. */
  readonly description: number;
  /** Zeek's name (`handshake_failure`), or `encrypted`. */
  readonly name: string;
}

export interface TlsSessionFacts {
  /** TLS (or SSL 2.0) records were seen on at least one side. */
  detected: boolean;
  /**
   * A plaintext protocol recognised at the start of the stream (CONNECT,
   * SOCKS, STARTTLS-capable mail, ...): set even when no TLS followed (then
   * `detected` stays false).
   */
  prefix: PlaintextPrefix | null;
  /** TLS was first seen mid-session (no hello at the start). */
  midstream: boolean;
  /** Flow direction of the TLS client: 0, or 1 when the ClientHello came from the flow's responder. */
  clientDirection: Direction;

  /** The first ClientHello (partial when `truncated`). */
  clientHello: ClientHello | null;
  /** The last ServerHello (after a HelloRetryRequest, the real one). */
  serverHello: ServerHello | null;
  /** The HelloRetryRequest, when the server sent one. */
  retryRequest: ServerHello | null;
  clientHelloCount: number;
  serverHelloCount: number;
  helloRetryRequest: boolean;
  /** Raw ClientHello body (after the 4-byte header), only with `keepRawHellos`. */
  rawClientHello: Buffer | null;
  rawServerHello: Buffer | null;

  /** Negotiated version (supported_versions for TLS 1.3); null without a ServerHello. */
  version: number | null;
  /** Zeek's name of `version` (`TLSv12`). */
  versionName: string | null;
  cipher: number | null;
  cipherName: string | null;
  /** Server name the client asked for (the outer one with ECH). */
  sni: string | null;
  alpnOffered: readonly string[];
  alpnSelected: string | null;
  /** The ClientHello carried encrypted_client_hello (0xfe0d): the real name is hidden. */
  ech: boolean;

  ja3: string | null;
  ja3String: string | null;
  ja3s: string | null;
  ja3sString: string | null;
  ja4: string | null;
  ja4_r: string | null;
  /** Only with the `ja4Original` option. */
  ja4_o: string | null;
  ja4_ro: string | null;
  /** Only with the `ja4s` option (FoxIO License 1.1). */
  ja4s: string | null;
  ja4s_r: string | null;

  /** Per TLS role. */
  client: TlsSideFacts;
  server: TlsSideFacts;

  /** Zeek's `established`: both sides switched to encrypted records and one more arrived. */
  established: boolean;
  /** Zeek's `resumed`: session id echoed (TLS < 1.3), ticket accepted, or PSK selected. */
  resumed: boolean;
  lastAlert: TlsAlert | null;
  /** Zeek's `ssl_history` letters (client upper case), at most 100. */
  history: string;
  /** Names of the anomalies that occurred in this session, in first-seen order. */
  anomalies: string[];
}

export function newSideFacts(certificates: Buffer[] = []): TlsSideFacts {
  return {
    handshakeRecords: 0,
    changeCipherSpecRecords: 0,
    alertRecords: 0,
    applicationDataRecords: 0,
    applicationDataBytes: 0,
    encryptedHandshakeRecords: 0,
    heartbeatRecords: 0,
    sslv2Records: 0,
    certificates,
    certificatesMicros: null,
    encrypted: false,
  };
}

/** `sf` back to `newSideFacts(certificates)`'s values, in place (a pooled parser). */
export function resetSideFacts(sf: TlsSideFacts, certificates: Buffer[]): void {
  sf.handshakeRecords = 0;
  sf.changeCipherSpecRecords = 0;
  sf.alertRecords = 0;
  sf.applicationDataRecords = 0;
  sf.applicationDataBytes = 0;
  sf.encryptedHandshakeRecords = 0;
  sf.heartbeatRecords = 0;
  sf.sslv2Records = 0;
  sf.certificates = certificates;
  sf.certificatesMicros = null;
  sf.encrypted = false;
}

export function newSessionFacts(): TlsSessionFacts {
  return makeSessionFacts([], [], [], []);
}

/** @internal The parser's facts start with lists it shares between sessions until it writes them. */
export function makeSessionFacts(
  anomalies: string[],
  alpnOffered: readonly string[],
  clientCertificates: Buffer[],
  serverCertificates: Buffer[],
): TlsSessionFacts {
  return {
    detected: false,
    prefix: null,
    midstream: false,
    clientDirection: 0,
    clientHello: null,
    serverHello: null,
    retryRequest: null,
    clientHelloCount: 0,
    serverHelloCount: 0,
    helloRetryRequest: false,
    rawClientHello: null,
    rawServerHello: null,
    version: null,
    versionName: null,
    cipher: null,
    cipherName: null,
    sni: null,
    alpnOffered,
    alpnSelected: null,
    ech: false,
    ja3: null,
    ja3String: null,
    ja3s: null,
    ja3sString: null,
    ja4: null,
    ja4_r: null,
    ja4_o: null,
    ja4_ro: null,
    ja4s: null,
    ja4s_r: null,
    client: newSideFacts(clientCertificates),
    server: newSideFacts(serverCertificates),
    established: false,
    resumed: false,
    lastAlert: null,
    history: '',
    anomalies,
  };
}

/**
 * @internal `f` back to `makeSessionFacts`'s values, in place, with `client`
 * and `server` its two side facts in their original roles (a pooled parser:
 * nothing else refers to `f` any more). test/tls/parser-pool.test.ts checks
 * the result against new facts, so a field added to `makeSessionFacts`
 * without a line here fails it (`Flow.reset` says why the literal stays).
 */
export function resetSessionFacts(
  f: TlsSessionFacts,
  client: TlsSideFacts,
  server: TlsSideFacts,
  anomalies: string[],
  alpnOffered: readonly string[],
  clientCertificates: Buffer[],
  serverCertificates: Buffer[],
): void {
  f.detected = false;
  f.prefix = null;
  f.midstream = false;
  f.clientDirection = 0;
  f.clientHello = null;
  f.serverHello = null;
  f.retryRequest = null;
  f.clientHelloCount = 0;
  f.serverHelloCount = 0;
  f.helloRetryRequest = false;
  f.rawClientHello = null;
  f.rawServerHello = null;
  f.version = null;
  f.versionName = null;
  f.cipher = null;
  f.cipherName = null;
  f.sni = null;
  f.alpnOffered = alpnOffered;
  f.alpnSelected = null;
  f.ech = false;
  f.ja3 = null;
  f.ja3String = null;
  f.ja3s = null;
  f.ja3sString = null;
  f.ja4 = null;
  f.ja4_r = null;
  f.ja4_o = null;
  f.ja4_ro = null;
  f.ja4s = null;
  f.ja4s_r = null;
  resetSideFacts(client, clientCertificates);
  resetSideFacts(server, serverCertificates);
  f.client = client;
  f.server = server;
  f.established = false;
  f.resumed = false;
  f.lastAlert = null;
  f.history = '';
  f.anomalies = anomalies;
}
