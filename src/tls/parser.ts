/**
 * TlsParser: the per-flow TLS session, driven by TCP reassembly through the
 * `StreamParser` contract (src/flow/stream-parser.ts).
 *
 * Each side moves through modes: START (first bytes decide: TLS, a plaintext
 * prefix, or nothing), LINES / SOCKS (a plaintext prefix, then TLS), TLS
 * (records), DONE. In TLS mode, plaintext handshake record bodies are fed to
 * the handshake assembler as they arrive (so a hello cut anywhere is still
 * seen in part); once a side is encrypted only 5-byte record headers are
 * read and bodies are skipped through the "consumed > given" return.
 *
 * Behaviour (Zeek's `ssl.log` semantics) lives here; wire formats live in
 * record.ts, handshake.ts, client-hello.ts, server-hello.ts, certificate.ts
 * and prefix.ts; fingerprints in fingerprints.ts.
 */
import type { Direction, FlowFacts, StreamParser } from '../flow/stream-parser.js';
import { anomalyName, defineAnomaly, type AnomalyCounters } from '../shared/anomalies.js';
import { A } from './anomalies.js';
import { parseCertificateList } from './certificate.js';
import { cipherSuiteName } from './cipher-names.js';
import { newClientHello, parseClientHello, parseSslv2ClientHello, resetHello, type ClientHello } from './client-hello.js';
import {
  alertName,
  CT_ALERT,
  CT_APPLICATION_DATA,
  CT_CHANGE_CIPHER_SPEC,
  CT_HANDSHAKE,
  CT_HEARTBEAT,
  HS_CERTIFICATE,
  HS_CLIENT_HELLO,
  HS_CLIENT_KEY_EXCHANGE,
  HS_SERVER_HELLO,
  isTls13,
  RECORD_HEADER_LEN,
  SSLV2,
  versionName,
} from './constants.js';
import { makeSessionFacts, resetSessionFacts, type TlsAlert, type TlsSessionFacts, type TlsSideFacts } from './facts.js';
import { HelloMemo } from './hello-memo.js';
import { HandshakeAssembler, pushWholeMessages, type HandshakeSink } from './handshake.js';
import {
  berSequenceLength,
  isUpgradeCommand,
  ldapStartTlsRequest,
  lineEnd,
  matchConnect,
  matchXmppOpen,
  postgresSslRequest,
  xmlChunkEnd,
  matchHttpSuccess,
  matchMailBanner,
  NEED_MORE,
  NOT_THIS,
  socks4Reply,
  socks4Request,
  socks5AuthReply,
  socks5AuthRequest,
  socks5Greeting,
  socks5Message,
  socks5MethodReply,
  type PlaintextPrefix,
} from './prefix.js';
import {
  checkTlsStart,
  newRecordHeader,
  plausibleRecordAt,
  readRecordHeader,
  readSslv2Header,
  REC_BAD_CONTENT_TYPE,
  REC_BAD_VERSION,
  REC_INCOMPLETE,
  REC_OK,
  START_HANDSHAKE,
  START_MORE,
  START_NO,
  START_OTHER_RECORD,
  START_SSLV2_CLIENT_HELLO,
  START_SSLV2_SERVER_HELLO,
  type RecordHeader,
} from './record.js';
import type { ParseResult } from './result.js';
import { newServerHello, parseServerHello, parseSslv2ServerHello, resetServerHello, type ServerHello } from './server-hello.js';

const INTERNAL_ERROR = defineAnomaly(
  'tls.parser.internal_error',
  'The TLS parser hit an unexpected condition on this flow and stopped analysing it (a bug: please report)',
);

export interface TlsParserOptions {
  /** Look for TLS after HTTP CONNECT, SOCKS and STARTTLS prefixes (default true). */
  readonly plaintextPrefixes?: boolean;
  /** Compute JA3, JA3S and JA4 (default true). */
  readonly fingerprints?: boolean;
  /**
   * Compute JA4S. JA4S is licensed under the FoxIO License 1.1 (internal use
   * and evaluation; commercial use needs a licence from FoxIO): default false.
   */
  readonly ja4sFoxioLicense?: boolean;
  /** Also compute `ja4_o`, JA4 hashed in wire order (default false: two more SHA-256 per session). */
  readonly ja4Original?: boolean;
  /** Keep copies of the raw ClientHello/ServerHello bodies in the facts (default false). */
  readonly keepRawHellos?: boolean;
  /** Largest handshake message reassembled, in bytes (default 1 MiB; Zeek's fragmented-handshake trace has a 332 KB Certificate). */
  readonly maxHandshakeMessage?: number;
  /** Certificates kept per side (default 16). */
  readonly maxCertificates?: number;
  /** Stop reading once the session is established, instead of counting records to the end (default false). */
  readonly stopAfterHandshake?: boolean;
  /** Plaintext prefix budget per side, in bytes (default 16 KiB). */
  readonly maxPrefixBytes?: number;
}

interface ResolvedOptions {
  plaintextPrefixes: boolean;
  fingerprints: boolean;
  ja4s: boolean;
  ja4Original: boolean;
  keepRawHellos: boolean;
  maxHandshakeMessage: number;
  maxCertificates: number;
  stopAfterHandshake: boolean;
  maxPrefixBytes: number;
  /** Hello shapes and their fingerprints, shared by the parsers made with these options. */
  memo: HelloMemo;
}

export function resolveOptions(o: TlsParserOptions = {}): ResolvedOptions {
  return {
    plaintextPrefixes: o.plaintextPrefixes ?? true,
    fingerprints: o.fingerprints ?? true,
    ja4s: o.ja4sFoxioLicense ?? false,
    ja4Original: o.ja4Original ?? false,
    keepRawHellos: o.keepRawHellos ?? false,
    maxHandshakeMessage: o.maxHandshakeMessage ?? 1024 * 1024,
    maxCertificates: o.maxCertificates ?? 16,
    stopAfterHandshake: o.stopAfterHandshake ?? false,
    maxPrefixBytes: o.maxPrefixBytes ?? 16 * 1024,
    memo: new HelloMemo(),
  };
}

// Side modes.
const M_START = 0;
const M_LINES = 1;
const M_SOCKS = 2;
const M_TLS = 3;
const M_DONE = 4;

const FRAME_LINE = 0;
const FRAME_XML = 1;
const FRAME_BER = 2;

/** What follows a client's opening message. */
const THEN_TLS = 0; // the message was the whole prefix on this side: consume it, TLS follows
const THEN_LINES = 1;
const THEN_XML = 2;
const THEN_SOCKS = 3;

/**
 * Client openings that announce a plaintext prefix, by first byte. `measure`
 * says NEED_MORE, NOT_THIS, or a length (consumed only with THEN_TLS).
 */
const CLIENT_OPENERS: readonly {
  readonly first: number;
  readonly measure: (buf: Buffer, p: number, end: number) => number;
  readonly prefix: PlaintextPrefix;
  readonly then: number;
}[] = [
  { first: 0x00, measure: postgresSslRequest, prefix: 'postgres', then: THEN_TLS },
  { first: 0x30, measure: ldapStartTlsRequest, prefix: 'ldap', then: THEN_TLS },
  { first: 0x3c, measure: matchXmppOpen, prefix: 'xmpp', then: THEN_XML },
  { first: 0x43, measure: matchConnect, prefix: 'http_connect', then: THEN_LINES },
  { first: 0x04, measure: socks4Request, prefix: 'socks4', then: THEN_SOCKS },
  { first: 0x05, measure: socks5Greeting, prefix: 'socks5', then: THEN_SOCKS },
];

const MAX_LINE = 4096;
const MAX_PREFIX_LINES = 100;
/** A client that speaks text first, before any banner, gets this much benefit of the doubt. */
const TENTATIVE_LINES = 2;
const MAX_RESYNC_SCAN = 64 * 1024;
const MAX_HISTORY = 100;
const MAX_SESSION_ANOMALIES = 32;
/** Released parsers a factory keeps for reuse (~1.5 KB each with their facts). */
const MAX_POOLED = 16384;

/** Zeek's ssl_history letters per handshake type (lower case; client's upper-cased). */
function historyLetter(type: number): string {
  switch (type) {
    case 0: return 'h';
    case 1: return 'c';
    case 2: return 's';
    case 3: return 'v';
    case 4: return 't';
    case 5: return 'e';
    case 6: return 'j';
    case 8: return 'o';
    case 11: return 'x';
    case 12: return 'k';
    case 13: return 'r';
    case 14: return 'n';
    case 15: return 'y';
    case 16: return 'g';
    case 20: return 'f';
    case 21: return 'w';
    case 22: return 'u';
    case 23: return 'a';
    case 24: return 'p';
    case 254: return 'm';
    default: return 'z';
  }
}

/** Upper-case one-letter strings by the lower-case letter's code. */
const UPPER_LETTERS: readonly string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c).toUpperCase());

/** `letter.toUpperCase()` for the history's one-letter strings, without a new string each time. */
function upperLetter(letter: string): string {
  const c = letter.charCodeAt(0);
  return letter.length === 1 && c < 128 ? UPPER_LETTERS[c] : letter.toUpperCase();
}

/** One direction's parsing state (an object literal: V8 can allocate these, which live as long as the flow, straight in the old generation). */
interface Side {
  mode: number;
  needed: number;
  /** Bytes left unconsumed at the last return (a partial header or small record). */
  pending: number;
  /** START after a gap: the beginning was lost, prefixes no longer apply. */
  afterGap: boolean;
  /** START after a plaintext prefix: only TLS may follow. */
  afterPrefix: boolean;

  // --- TLS records
  hs: HandshakeAssembler | null;
  /** Bytes of the current plaintext handshake record still to come. */
  recRemaining: number;
  /** Discard handshake bytes until the current record ends (a gap broke the message). */
  hsBroken: boolean;
  recordVersion: number;
  resync: boolean;
  resyncScanned: number;
  /** The side started with a handshake record. */
  startedWithHandshake: boolean;
  /** SSL 2.0 CLIENT-HELLO seen on this side: later records with the high bit set are SSLv2. */
  v2: boolean;
  /** SSL 2.0 session: every record is SSLv2-framed. */
  v2Session: boolean;
  /** Encrypted record body bytes passed over inside delivered buffers (`opaqueBytes`). */
  opaque: number;

  // --- plaintext prefix
  /** How the prefix is cut into units: text lines, XML tags, BER messages. */
  framing: number;
  prefixBytes: number;
  lines: number;
  stage: number;
  tentative: boolean;
}

/** `s` back to `newSide()`'s values (a pooled parser). */
function resetSide(s: Side): void {
  s.mode = M_START;
  s.needed = 1;
  s.pending = 0;
  s.afterGap = false;
  s.afterPrefix = false;
  s.hs = null;
  s.recRemaining = 0;
  s.hsBroken = false;
  s.recordVersion = 0;
  s.resync = false;
  s.resyncScanned = 0;
  s.startedWithHandshake = false;
  s.v2 = false;
  s.v2Session = false;
  s.opaque = 0;
  s.framing = FRAME_LINE;
  s.prefixBytes = 0;
  s.lines = 0;
  s.stage = 0;
  s.tentative = false;
}

function newSide(): Side {
  return {
    mode: M_START,
    needed: 1,
    pending: 0,
    afterGap: false,
    afterPrefix: false,
    hs: null,
    recRemaining: 0,
    hsBroken: false,
    recordVersion: 0,
    resync: false,
    resyncScanned: 0,
    startedWithHandshake: false,
    v2: false,
    v2Session: false,
    opaque: 0,
    framing: FRAME_LINE,
    prefixBytes: 0,
    lines: 0,
    stage: 0,
    tentative: false,
  };
}

/**
 * One TLS session over one TCP flow. `facts` is updated as bytes arrive;
 * call `finish()` when the flow ends so that a hello cut short is reported.
 */
export class TlsParser implements StreamParser, HandshakeSink {
  /** What the flow showed, for reading (after `finish()`); the parser alone writes it. */
  readonly facts: Readonly<TlsSessionFacts>;
  private readonly f: TlsSessionFacts = sessionFacts();

  private readonly opts: ResolvedOptions;
  private readonly sides: [Side, Side] = [newSide(), newSide()];
  /** Side facts by flow direction (facts.client/server point at them by role). */
  private readonly dirFacts: [TlsSideFacts, TlsSideFacts];
  /** The direction whose handshake bytes are being fed (the parser is its own HandshakeSink: no object per direction). */
  private hsDir: Direction = 0;
  private readonly hdr: RecordHeader = RECORD_HEADER;
  private finished = false;

  // Session state behind Zeek's established/resumed.
  private helloSeen = false;
  private serverHelloSeen = false;
  private tls13 = false;
  private clientFinishedSeen = false;
  private clientKeyExchangeSeen = false;
  private ticketWithEmptySession = false;
  private v2Encrypted = false;
  private midstreamNoted = false;
  /** The client asked for TLS in a plaintext prefix (STARTTLS, CONNECT, ...). */
  private upgradeRequested = false;

  /**
   * What a session's first ClientHello and first ServerHello are parsed into:
   * the parser's own, reused with it, instead of two objects per session that a
   * lingering flow keeps long enough for the scavenger to promote them.
   */
  private readonly ownClientHello = newClientHello();
  private readonly ownServerHello = newServerHello();

  /** Released parsers of the factory that made this one (`release`), or null: not pooled. */
  private readonly pool: TlsParser[] | null;
  /** Released and not yet reused: its facts were cleared (nothing may read them). */
  private released = false;

  constructor(
    private readonly counters: AnomalyCounters,
    options: TlsParserOptions | ResolvedOptions = {},
    /** The flow served, for the capture time of certificates (none: no times). */
    private flow: FlowFacts | null = null,
    pool: TlsParser[] | null = null,
  ) {
    this.opts = 'ja4s' in options ? (options as ResolvedOptions) : resolveOptions(options as TlsParserOptions);
    this.facts = this.f;
    this.dirFacts = [this.f.client, this.f.server];
    this.pool = pool;
  }

  /**
   * For `flow`, a parser `release` put back in its factory's pool
   * (`createTlsParserFactory` reuses released parsers: a handshake-only
   * flow's parser, sides and facts otherwise live just long enough to be
   * copied by the scavenger and die in the old generation).
   */
  reuse(flow: FlowFacts | null): void {
    this.flow = flow;
    this.released = false;
  }

  /**
   * StreamParser: the facts have been read. The parser goes back to the
   * state of a new one at once — so a pooled parser pins no certificates,
   * hellos or buffers of its last flow — and into its factory's pool (at
   * most MAX_POOLED are kept). test/tls/parser-pool.test.ts checks a reused
   * parser against a new one, field by field, and that it analyses the next
   * session as a new parser does.
   */
  release(): void {
    const pool = this.pool;
    if (pool === null || this.released) return;
    this.released = true;
    this.flow = null;
    resetSide(this.sides[0]);
    resetSide(this.sides[1]);
    resetSessionFacts(this.f, this.dirFacts[0], this.dirFacts[1], NO_ANOMALIES, NO_NAMES, NO_CERTIFICATES, NO_CERTIFICATES);
    resetHello(this.ownClientHello, 0);
    resetServerHello(this.ownServerHello, 0);
    this.hsDir = 0;
    this.finished = false;
    this.helloSeen = false;
    this.serverHelloSeen = false;
    this.tls13 = false;
    this.clientFinishedSeen = false;
    this.clientKeyExchangeSeen = false;
    this.ticketWithEmptySession = false;
    this.v2Encrypted = false;
    this.midstreamNoted = false;
    this.upgradeRequested = false;
    if (pool.length < MAX_POOLED) pool.push(this);
  }

  // --- StreamParser ----------------------------------------------------------

  onData(dir: Direction, buf: Buffer, start: number, end: number): number {
    const s = this.sides[dir];
    let p: number;
    try {
      p = this.step(dir, s, buf, start, end);
    } catch {
      this.anomaly(INTERNAL_ERROR);
      this.stopAll();
      return end - start;
    }
    if (p < end) {
      s.pending = end - p;
      if (s.needed <= s.pending) s.needed = s.pending + 1; // the contract: never ask again for what we hold
    } else {
      s.pending = 0;
      s.needed = 1;
    }
    if (s.mode === M_DONE && p < end) {
      s.pending = 0;
      return end - start;
    }
    return p - start;
  }

  needed(dir: Direction): number {
    return this.sides[dir].needed;
  }

  opaqueBytes(dir: Direction): number {
    return this.sides[dir].opaque;
  }

  onGap(dir: Direction, length: number): void {
    try {
      this.gap(dir, length);
    } catch {
      this.anomaly(INTERNAL_ERROR);
      this.stopAll();
    }
  }

  wantsData(): boolean {
    return this.sides[0].mode !== M_DONE || this.sides[1].mode !== M_DONE;
  }

  /**
   * The flow ended: report what was cut short (a partial hello becomes the
   * session's hello, with `tls.client_hello.truncated`). Idempotent.
   */
  finish(): Readonly<TlsSessionFacts> {
    if (this.finished) return this.f;
    this.finished = true;
    try {
      for (let d = 0; d < 2; d++) {
        const dir = d as Direction;
        const s = this.sides[dir];
        if (s.mode !== M_TLS) continue;
        if (s.recRemaining > 0 || s.pending > 0) this.anomaly(A.recordTruncated);
        if (s.hs !== null && s.hs.inMessage) {
          this.anomaly(A.handshakeTruncated);
          this.flushPartial(dir);
        }
        if (
          s.startedWithHandshake &&
          (s.pending > 0 || s.recRemaining > 0) &&
          this.f.clientHello === null &&
          this.f.serverHello === null &&
          dir === this.f.clientDirection
        ) {
          // Cut before the first handshake message header: a hello was coming.
          this.f.clientHello = partialOf(parseClientHello(Buffer.alloc(0), 0, 0, 1));
          this.anomaly(A.clientHelloTruncated);
        }
      }
    } catch {
      this.anomaly(INTERNAL_ERROR);
    }
    return this.f;
  }

  /** Alias of `finish()` for reassembly that signals the end of a flow. */
  onEnd(): void {
    this.finish();
  }

  // --- dispatch --------------------------------------------------------------

  private step(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    for (;;) {
      const mode = s.mode;
      const before = p;
      switch (mode) {
        case M_START:
          p = this.start(dir, s, buf, p, end);
          break;
        case M_LINES:
          p = this.lines(dir, s, buf, p, end);
          break;
        case M_SOCKS:
          p = this.socks(dir, s, buf, p, end);
          break;
        case M_TLS:
          p = this.records(dir, s, buf, p, end);
          break;
        default:
          return end;
      }
      // Go round again while bytes remain and the last step made progress
      // (consumed bytes or changed mode); otherwise it is waiting for more.
      if (p >= end || (s.mode === mode && p === before)) return p;
    }
  }

  // --- first bytes -----------------------------------------------------------

  private start(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    const c = checkTlsStart(buf, p, end);
    switch (c) {
      case START_MORE:
        s.needed = end - p + 1;
        return p;
      case START_HANDSHAKE:
        this.beginTls(s);
        s.startedWithHandshake = true;
        return p;
      case START_OTHER_RECORD:
        // Mid-session start: ask a little more of it (a sane length, and a
        // plausible next header when it is in view) before taking the flow.
        if (!s.afterPrefix && end - p >= RECORD_HEADER_LEN && !plausibleRecordAt(buf, p, end, 0)) break;
        this.beginTls(s);
        if (!this.helloSeen && !s.afterPrefix) this.noteMidstream();
        return p;
      case START_SSLV2_CLIENT_HELLO:
        this.beginTls(s);
        s.startedWithHandshake = true;
        s.v2 = true;
        return p;
      case START_SSLV2_SERVER_HELLO:
        this.beginTls(s);
        s.v2Session = true;
        return p;
      default:
        break;
    }
    const prefixAllowed =
      this.opts.plaintextPrefixes && !s.afterPrefix && !s.afterGap && (this.f.prefix !== null || !this.f.detected);
    if (!prefixAllowed) {
      this.giveUp(dir, this.f.detected ? A.otherSideNotTls : -1);
      return p;
    }
    return dir === 0 ? this.clientPrefixStart(s, buf, p, end) : this.serverPrefixStart(s, buf, p, end);
  }

  private clientPrefixStart(s: Side, buf: Buffer, p: number, end: number): number {
    const f = this.f;
    if (f.prefix === 'smtp' || f.prefix === 'imap' || f.prefix === 'pop3' || f.prefix === 'ftp') {
      s.mode = M_LINES;
      return p;
    }
    if (f.prefix !== null) {
      this.giveUp(0, -1);
      return p;
    }
    const b0 = buf[p];
    const opener = CLIENT_OPENERS.find((o) => o.first === b0);
    if (opener !== undefined) {
      const r = opener.measure(buf, p, end);
      if (r === NEED_MORE) {
        s.needed = end - p + 1;
        return p;
      }
      if (r > 0) {
        f.prefix = opener.prefix;
        switch (opener.then) {
          case THEN_TLS:
            s.afterPrefix = true;
            return p + r;
          case THEN_SOCKS:
            s.mode = M_SOCKS;
            return p;
          default:
            s.mode = M_LINES;
            s.framing = opener.then === THEN_XML ? FRAME_XML : FRAME_LINE;
            return p;
        }
      }
    }
    // Text before any banner: perhaps a mail client whose server's banner is
    // still on its way; a couple of lines' benefit of the doubt.
    if (b0 >= 0x20 && b0 < 0x7f && this.sides[1].mode === M_START) {
      s.mode = M_LINES;
      s.tentative = true;
      return p;
    }
    this.giveUp(0, -1);
    return p;
  }

  private serverPrefixStart(s: Side, buf: Buffer, p: number, end: number): number {
    const f = this.f;
    if (f.prefix === 'http_connect') {
      const r = matchHttpSuccess(buf, p, end);
      if (r === NEED_MORE) {
        s.needed = end - p + 1;
        return p;
      }
      if (r > 0) {
        s.mode = M_LINES;
        return p;
      }
      this.giveUp(1, -1);
      return p;
    }
    if (f.prefix === 'socks4' || f.prefix === 'socks5') {
      s.mode = M_SOCKS;
      return p;
    }
    if (f.prefix === 'postgres') {
      // 'S': the server agrees; TLS follows.
      if (buf[p] !== 0x53) {
        this.giveUp(1, -1);
        return p;
      }
      s.afterPrefix = true;
      return p + 1;
    }
    if (f.prefix === 'ldap') {
      s.mode = M_LINES;
      s.framing = FRAME_BER;
      return p;
    }
    if (f.prefix === 'xmpp' || buf[p] === 0x3c) {
      const r = f.prefix === 'xmpp' ? 1 : matchXmppOpen(buf, p, end);
      if (r === NEED_MORE) {
        s.needed = end - p + 1;
        return p;
      }
      if (r > 0) {
        f.prefix = 'xmpp';
        s.mode = M_LINES;
        s.framing = FRAME_XML;
        return p;
      }
    }
    const banner = matchMailBanner(buf, p, end);
    if (banner === NEED_MORE) {
      s.needed = end - p + 1;
      return p;
    }
    if (banner !== null) {
      f.prefix = banner;
      s.mode = M_LINES;
      this.sides[0].tentative = false;
      return p;
    }
    this.giveUp(1, -1);
    return p;
  }

  // --- plaintext prefixes ----------------------------------------------------

  private lines(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    while (p < end) {
      const c = checkTlsStart(buf, p, end);
      if (c === START_MORE) {
        s.needed = end - p + 1;
        return p;
      }
      if (c !== START_NO) {
        s.mode = M_START;
        s.afterPrefix = true;
        return p;
      }
      const le =
        s.framing === FRAME_LINE
          ? lineEnd(buf, p, end, MAX_LINE)
          : s.framing === FRAME_XML
            ? xmlChunkEnd(buf, p, end, MAX_LINE)
            : berSequenceLength(buf, p, end, MAX_LINE);
      if (le === NOT_THIS) {
        this.prefixTooLong(dir, s);
        return p;
      }
      if (le === NEED_MORE) {
        if (s.prefixBytes + (end - p) > this.opts.maxPrefixBytes) {
          this.prefixTooLong(dir, s);
          return p;
        }
        s.needed = end - p + 1;
        return p;
      }
      if (dir === 0 && s.framing === FRAME_XML && buf.indexOf('<starttls', p, 'latin1') === p) this.upgradeRequested = true;
      if (dir === 0 && s.framing === FRAME_LINE) {
        let lineStop = le - 1;
        if (lineStop > p && buf[lineStop - 1] === 0x0d) lineStop--;
        if (isUpgradeCommand(buf, p, lineStop)) {
          this.upgradeRequested = true;
          const f = this.f;
          const word = buf.toString('latin1', p, Math.min(lineStop, p + 8)).toUpperCase();
          if (word.startsWith('AUTH')) f.prefix = 'ftp';
          else if (f.prefix === null) f.prefix = word.startsWith('STLS') ? 'pop3' : word.startsWith('STARTTLS') ? 'smtp' : 'imap';
        }
      }
      const next = s.framing === FRAME_BER ? p + le : le;
      s.prefixBytes += next - p;
      s.lines++;
      p = next;
      if (s.tentative && this.f.prefix === null && s.lines >= TENTATIVE_LINES) {
        this.giveUp(dir, -1);
        return p;
      }
      if (s.lines > (s.framing === FRAME_LINE ? MAX_PREFIX_LINES : 4 * MAX_PREFIX_LINES) || s.prefixBytes > this.opts.maxPrefixBytes) {
        this.prefixTooLong(dir, s);
        return p;
      }
    }
    return p;
  }

  private prefixTooLong(dir: Direction, s: Side): void {
    // Over budget after the client asked for TLS is odd; a session that never
    // asked (or was refused and went on in plaintext) is simply not ours.
    const f = this.f.prefix;
    const asked = this.upgradeRequested || f === 'http_connect' || f === 'socks4' || f === 'socks5' || f === 'ldap';
    this.giveUp(dir, asked && !s.tentative ? A.prefixTooLong : -1);
  }

  private socks(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    const v5 = this.f.prefix === 'socks5';
    while (p < end) {
      let r: number;
      let last = false;
      if (!v5) {
        r = dir === 0 ? socks4Request(buf, p, end) : socks4Reply(buf, p, end);
        last = true;
      } else if (s.stage === 0) {
        r = dir === 0 ? socks5Greeting(buf, p, end) : socks5MethodReply(buf, p, end);
      } else if (buf[p] === 1) {
        r = dir === 0 ? socks5AuthRequest(buf, p, end) : socks5AuthReply(buf, p, end);
      } else {
        r = socks5Message(buf, p, end, dir === 1);
        last = true;
      }
      if (r === NEED_MORE) {
        s.needed = end - p + 1;
        return p;
      }
      if (r === NOT_THIS) {
        this.giveUp(dir, -1);
        return p;
      }
      p += r;
      s.stage++;
      if (last) {
        s.mode = M_START;
        s.afterPrefix = true;
        return p;
      }
    }
    return p;
  }

  // --- TLS records -----------------------------------------------------------

  private beginTls(s: Side): void {
    s.mode = M_TLS;
    this.f.detected = true;
  }

  /**
   * Handshake bytes of a record body. Whole messages go to the sink in place;
   * a side gets its assembler only when a message spans pieces (a side that
   * never has one keeps no assembler at all).
   */
  private handshakeBytes(dir: Direction, s: Side, buf: Buffer, p: number, end: number): void {
    this.hsDir = dir;
    if (s.hs === null) {
      p = pushWholeMessages(buf, p, end, this);
      if (p === end) return;
      s.hs = new HandshakeAssembler(this.opts.maxHandshakeMessage);
    }
    s.hs.push(buf, p, end, this);
  }

  private noteMidstream(): void {
    this.f.midstream = true;
    if (!this.midstreamNoted) {
      this.midstreamNoted = true;
      this.anomaly(A.midstream);
    }
  }

  private records(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    const hdr = this.hdr;
    const sf = this.dirFacts[dir];
    while (s.mode === M_TLS) {
      if (s.recRemaining > 0) {
        const n = Math.min(s.recRemaining, end - p);
        if (n === 0) return p;
        if (!s.hsBroken) this.handshakeBytes(dir, s, buf, p, p + n);
        s.recRemaining -= n;
        p += n;
        if (s.recRemaining === 0) {
          if (s.hsBroken) {
            s.hsBroken = false;
            if (s.hs !== null) s.hs.reset();
          }
          this.maybeStop();
        }
        continue;
      }
      if (s.resync) {
        p = this.resync(dir, s, buf, p, end);
        if (s.resync) return p;
        continue;
      }
      if (p >= end) return p;
      if (s.v2Session || (s.v2 && (buf[p] & 0x80) !== 0)) {
        const np = this.sslv2Record(dir, s, buf, p, end);
        if (np < 0) return p; // needs more
        p = np;
        continue;
      }
      const chk = readRecordHeader(buf, p, end, hdr);
      if (chk === REC_INCOMPLETE) {
        s.needed = RECORD_HEADER_LEN;
        return p;
      }
      if (chk !== REC_OK) {
        this.anomaly(chk === REC_BAD_CONTENT_TYPE ? A.recordBadContentType : chk === REC_BAD_VERSION ? A.recordBadVersion : A.recordTooLong);
        this.loseSync(s);
        p++;
        continue;
      }
      s.recordVersion = hdr.version;
      const type = hdr.contentType;
      const len = hdr.length;

      if (this.isCiphertext(sf, type)) {
        this.ciphertextRecord(dir, sf, type, len);
        // Only the part inside this buffer: the rest is skipped, never offered.
        const body = end - p - RECORD_HEADER_LEN;
        s.opaque += body < len ? (body > 0 ? body : 0) : len;
        p += RECORD_HEADER_LEN + len;
        if (s.mode !== M_TLS) return p;
        continue;
      }

      switch (type) {
        case CT_HANDSHAKE:
          sf.handshakeRecords++;
          if (len === 0) this.anomaly(A.recordEmpty);
          p += RECORD_HEADER_LEN;
          s.recRemaining = len;
          continue;
        case CT_CHANGE_CIPHER_SPEC:
        case CT_ALERT: {
          if (len > 64) {
            // Not a plaintext CCS/alert: count it, skip it.
            if (type === CT_ALERT) this.alert(dir, sf, buf, -1);
            else sf.changeCipherSpecRecords++;
            this.anomaly(type === CT_ALERT ? A.alertMalformed : A.ccsMalformed);
            p += RECORD_HEADER_LEN + len;
            continue;
          }
          if (end - p < RECORD_HEADER_LEN + len) {
            s.needed = RECORD_HEADER_LEN + len;
            return p;
          }
          if (len === 0) this.anomaly(A.recordEmpty);
          if (s.hs !== null && s.hs.inMessage) {
            this.anomaly(A.handshakeInterleaved);
            s.hs.reset();
          }
          if (type === CT_ALERT) {
            this.alert(dir, sf, buf, len === 2 ? p + RECORD_HEADER_LEN : -1);
          } else {
            this.changeCipherSpec(dir, sf, buf, p + RECORD_HEADER_LEN, len);
          }
          p += RECORD_HEADER_LEN + len;
          continue;
        }
        case CT_APPLICATION_DATA: {
          // Plaintext-state application data: TLS 1.3 early data, or a
          // protocol violation in TLS 1.2 and older.
          const ch = this.f.clientHello;
          const early = dir === this.f.clientDirection && !this.serverHelloSeen && ch !== null && ch.earlyData;
          if (!early) this.anomaly(A.recordEarlyAppData);
          sf.applicationDataRecords++;
          sf.applicationDataBytes += len;
          p += RECORD_HEADER_LEN + len;
          continue;
        }
        case CT_HEARTBEAT:
        default:
          sf.heartbeatRecords++;
          this.history(dir, 'b');
          p += RECORD_HEADER_LEN + len;
          continue;
      }
    }
    return p;
  }

  /**
   * Zeek's rule (ssl-protocol.pac `determine_state`): a side is encrypted
   * after its change_cipher_spec; in a TLS 1.3 session, from its first
   * application_data record. Without any hello (mid-session capture),
   * application_data is taken as encrypted at once.
   */
  private isCiphertext(sf: TlsSideFacts, type: number): boolean {
    if (sf.encrypted) return true;
    if (type !== CT_APPLICATION_DATA) return false;
    if (this.tls13 || !this.helloSeen) {
      sf.encrypted = true;
      return true;
    }
    return false;
  }

  private ciphertextRecord(dir: Direction, sf: TlsSideFacts, type: number, len: number): void {
    const fromClient = dir === this.f.clientDirection;
    switch (type) {
      case CT_APPLICATION_DATA:
        if (this.tls13 && this.serverHelloSeen) {
          if (fromClient) {
            if (!this.clientFinishedSeen) {
              this.clientFinishedSeen = true;
              sf.encryptedHandshakeRecords++;
              break;
            }
          } else if (!this.clientFinishedSeen) {
            sf.encryptedHandshakeRecords++;
            break;
          }
        }
        sf.applicationDataRecords++;
        sf.applicationDataBytes += len;
        break;
      case CT_HANDSHAKE:
        sf.encryptedHandshakeRecords++;
        break;
      case CT_ALERT:
        this.alert(dir, sf, null, -1);
        break;
      case CT_CHANGE_CIPHER_SPEC:
        sf.changeCipherSpecRecords++;
        break;
      default:
        sf.heartbeatRecords++;
        break;
    }
    if (!this.f.established && this.helloSeen && this.dirFacts[0].encrypted && this.dirFacts[1].encrypted) {
      this.f.established = true;
    }
    this.maybeStop();
  }

  private maybeStop(): void {
    if (this.opts.stopAfterHandshake && this.f.established) this.stopAll();
  }

  private alert(dir: Direction, sf: TlsSideFacts, buf: Buffer | null, at: number): void {
    sf.alertRecords++;
    const fromClient = dir === this.f.clientDirection;
    if (buf !== null && at >= 0) {
      const level = buf[at];
      const description = buf[at + 1];
      this.f.lastAlert = { direction: dir, fromClient, level, description, name: alertName(description) };
      this.history(dir, 'l');
    } else {
      this.f.lastAlert = ENCRYPTED_ALERTS[dir * 2 + (fromClient ? 1 : 0)];
    }
  }

  private changeCipherSpec(dir: Direction, sf: TlsSideFacts, buf: Buffer, at: number, len: number): void {
    sf.changeCipherSpecRecords++;
    this.history(dir, 'i');
    if (len !== 1 || buf[at] !== 1) this.anomaly(A.ccsMalformed);
    const fromClient = dir === this.f.clientDirection;
    // Zeek main.zeek: a ticket presented with an empty session id, then the
    // client's CCS without a key exchange: the session was resumed.
    if (fromClient && this.ticketWithEmptySession && !this.clientKeyExchangeSeen) this.f.resumed = true;
    // In TLS 1.3 the CCS is a middlebox-compatibility no-op.
    if (!this.tls13) sf.encrypted = true;
  }

  /** SSL 2.0 record; returns the new position, or -1 when more bytes are needed. */
  private sslv2Record(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    const hdr = this.hdr;
    const hl = readSslv2Header(buf, p, end, hdr);
    if (hl === 0) {
      s.needed = 3;
      return -1;
    }
    const len = hdr.length;
    const sf = this.dirFacts[dir];
    if (this.v2Encrypted) {
      sf.sslv2Records++;
      sf.applicationDataRecords++;
      sf.applicationDataBytes += len;
      return p + hl + len;
    }
    if (end - p < hl + len) {
      s.needed = hl + len;
      return -1;
    }
    const bs = p + hl;
    const be = bs + len;
    const msg = len > 0 ? buf[bs] : -1;
    if (msg === 1 && hl === 2) {
      sf.handshakeRecords++;
      this.sslv2ClientHello(dir, buf, bs, be);
    } else if (msg === 4 && hl === 2) {
      sf.handshakeRecords++;
      this.sslv2ServerHello(dir, buf, bs, be);
    } else if (msg === 2 && hl === 2) {
      // CLIENT-MASTER-KEY: both sides encrypt from here (Zeek: established).
      sf.handshakeRecords++;
      this.v2Encrypted = true;
      this.dirFacts[0].encrypted = true;
      this.dirFacts[1].encrypted = true;
      this.f.established = true;
      this.history(dir, 'g');
      this.maybeStop();
    } else {
      sf.sslv2Records++;
    }
    return be;
  }

  private sslv2ClientHello(dir: Direction, buf: Buffer, s: number, e: number): void {
    this.f.clientHelloCount++;
    if (this.f.clientHello === null && dir === 1 && !this.serverHelloSeen) this.flip();
    this.history(dir, 'c');
    if (this.f.clientHello !== null) return;
    const r = parseSslv2ClientHello(buf, s, e);
    this.issues(r.issues);
    const ch = r.status === 'ok' ? r.value : r.partial;
    this.applyClientHello(ch, false, buf, s, e);
  }

  private sslv2ServerHello(dir: Direction, buf: Buffer, s: number, e: number): void {
    this.history(dir, 's');
    this.f.serverHelloCount++;
    const r = parseSslv2ServerHello(buf, s, e);
    this.issues(r.issues);
    const sh = r.status === 'ok' ? r.value : r.partial;
    this.sides[0].v2Session = true;
    this.sides[1].v2Session = true;
    this.serverHelloSeen = true;
    this.helloSeen = true;
    const f = this.f;
    f.serverHello = sh;
    f.version = SSLV2;
    f.versionName = versionName(SSLV2);
    if (sh.cipherSuite >= 0) {
      f.cipher = sh.cipherSuite;
      f.cipherName = sslv2CipherName(sh.cipherSuite);
    }
    if (sh.sslv2Certificate !== null && this.dirFacts[dir].certificates.length === 0) {
      this.dirFacts[dir].certificates = [sh.sslv2Certificate];
      this.dirFacts[dir].certificatesMicros = this.flow !== null ? this.flow.lastTs : null;
    }
  }

  // --- gaps and resynchronisation --------------------------------------------

  private gap(dir: Direction, length: number): void {
    const s = this.sides[dir];
    switch (s.mode) {
      case M_START:
        s.afterGap = true;
        return;
      case M_LINES:
      case M_SOCKS:
        this.giveUp(dir, -1);
        return;
      case M_TLS:
        break;
      default:
        return;
    }
    const sf = this.dirFacts[dir];
    if (s.recRemaining > 0) {
      if (!s.hsBroken) {
        this.anomaly(A.gapInHandshake);
        if (s.hs !== null && s.hs.inMessage) this.flushPartial(dir);
      }
      if (s.hs !== null) s.hs.reset();
      if (length < s.recRemaining) {
        s.recRemaining -= length;
        s.hsBroken = true;
        return;
      }
      s.recRemaining = 0;
      s.hsBroken = false;
    } else if (s.hs !== null && s.hs.inMessage) {
      this.anomaly(A.gapInHandshake);
      this.flushPartial(dir);
      s.hs.reset();
    } else if (!sf.encrypted && !s.v2Session) {
      this.anomaly(A.gapInHandshake);
    }
    s.resync = true;
    s.resyncScanned = 0;
    s.pending = 0;
  }

  private loseSync(s: Side): void {
    if (s.hs !== null) s.hs.reset();
    s.recRemaining = 0;
    s.hsBroken = false;
    s.resync = true;
    s.resyncScanned = 0;
  }

  /** Look for the next plausible record header; returns where to go on from. */
  private resync(dir: Direction, s: Side, buf: Buffer, p: number, end: number): number {
    if (s.v2Session) {
      this.anomaly(A.gapLost);
      this.giveUp(dir, -1);
      return end;
    }
    const v = s.recordVersion;
    let q = p;
    for (; end - q >= RECORD_HEADER_LEN; q++) {
      if (plausibleRecordAt(buf, q, end, v)) {
        s.resyncScanned += q - p;
        if (s.resyncScanned > 0) this.anomaly(A.gapResynced);
        s.resync = false;
        return q;
      }
    }
    s.resyncScanned += q - p;
    if (s.resyncScanned > MAX_RESYNC_SCAN) {
      this.anomaly(A.gapLost);
      this.giveUp(dir, -1);
      return end;
    }
    s.needed = RECORD_HEADER_LEN;
    return q;
  }

  // --- handshake messages ----------------------------------------------------

  /** @internal HandshakeSink: one whole message of the direction being fed (`hsDir`). */
  onMessage(type: number, buf: Buffer, start: number, end: number, owned: boolean): void {
    this.onHandshake(this.hsDir, type, buf, start, end, owned);
  }

  /** @internal */
  onHandshake(dir: Direction, type: number, buf: Buffer, start: number, end: number, owned: boolean): void {
    const f = this.f;
    switch (type) {
      case HS_CLIENT_HELLO: {
        f.clientHelloCount++;
        if (f.clientHello === null) {
          if (dir === 1 && !this.serverHelloSeen) this.flip();
          this.history(dir, 'c');
          const r = parseClientHello(buf, start, end, end - start, this.ownClientHello);
          this.issues(r.issues);
          if (r.status === 'ok') {
            this.applyClientHello(r.value, true, buf, start, end);
          } else {
            if (r.status === 'incomplete') this.anomaly(A.clientHelloMalformed);
            this.applyClientHello(r.partial, false, buf, start, end);
          }
        } else {
          this.history(dir, 'c');
          if (dir !== f.clientDirection || !f.helloRetryRequest || f.clientHelloCount > 2) this.anomaly(A.handshakeUnexpected);
        }
        return;
      }
      case HS_SERVER_HELLO: {
        if (dir === f.clientDirection && f.clientHello !== null) {
          this.history(dir, 's');
          this.anomaly(A.handshakeUnexpected);
          return;
        }
        f.serverHelloCount++;
        // The parser's own ServerHello for the first one only: after a HelloRetryRequest both are kept.
        const r = parseServerHello(
          buf,
          start,
          end,
          end - start,
          f.clientHello !== null ? f.clientHello.sessionId : null,
          f.serverHello === null ? this.ownServerHello : null,
        );
        this.issues(r.issues);
        let sh: ServerHello;
        if (r.status === 'ok') sh = r.value;
        else {
          if (r.status === 'incomplete') this.anomaly(A.serverHelloMalformed);
          sh = r.partial;
        }
        this.history(dir, sh.helloRetryRequest ? 'j' : 's');
        this.applyServerHello(sh, r.status === 'ok', buf, start, end);
        return;
      }
      case HS_CERTIFICATE: {
        this.history(dir, 'x');
        const sf = this.dirFacts[dir];
        if (this.tls13 || sf.certificates.length > 0) return;
        const r = parseCertificateList(buf, start, end, owned, this.opts.maxCertificates, this.opts.memo);
        this.issues(r.issues);
        sf.certificates = r.certificates;
        sf.certificatesMicros = this.flow !== null ? this.flow.lastTs : null;
        return;
      }
      case HS_CLIENT_KEY_EXCHANGE:
        if (dir === f.clientDirection) this.clientKeyExchangeSeen = true;
        this.history(dir, 'g');
        return;
      default:
        this.history(dir, historyLetter(type));
        return;
    }
  }

  private applyClientHello(ch: ClientHello, complete: boolean, buf: Buffer, start: number, end: number): void {
    const f = this.f;
    this.helloSeen = true;
    // The hello's lists become its shape's (shared by every hello alike); fingerprints are the shape's.
    const shape = this.opts.memo.client(ch);
    f.clientHello = ch;
    f.sni = ch.serverName;
    f.alpnOffered = ch.alpn;
    f.ech = ch.ech !== null;
    if (this.opts.keepRawHellos) f.rawClientHello = Buffer.from(buf.subarray(start, end));
    const sid = ch.sessionId;
    const sidSet = sid !== null && sid.length > 0 && !allZero(sid);
    this.ticketWithEmptySession = ch.sessionTicketLength > 0 && !sidSet;
    if (complete && this.opts.fingerprints && !ch.sslv2) {
      const j3 = shape.ja3;
      f.ja3 = j3.hash;
      f.ja3String = j3.string;
      const j4 = shape.ja4;
      f.ja4 = j4.ja4;
      f.ja4_r = j4.ja4_r;
      f.ja4_ro = j4.ja4_ro;
      if (this.opts.ja4Original) f.ja4_o = shape.ja4o;
    }
  }

  private applyServerHello(sh: ServerHello, complete: boolean, buf: Buffer, start: number, end: number): void {
    const f = this.f;
    this.helloSeen = true;
    this.serverHelloSeen = true;
    f.serverHello = sh;
    if (sh.helloRetryRequest) {
      f.helloRetryRequest = true;
      f.retryRequest = sh;
    }
    if (sh.version >= 0) {
      f.version = sh.version;
      f.versionName = versionName(sh.version);
      this.tls13 = isTls13(sh.version);
    }
    if (sh.cipherSuite >= 0) {
      f.cipher = sh.cipherSuite;
      f.cipherName = cipherSuiteName(sh.cipherSuite);
    }
    if (sh.alpn !== null) f.alpnSelected = sh.alpn;
    if (this.opts.keepRawHellos) f.rawServerHello = Buffer.from(buf.subarray(start, end));
    if (complete && this.opts.fingerprints) {
      const shape = this.opts.memo.server(sh);
      const j = shape.ja3s;
      f.ja3s = j.hash;
      f.ja3sString = j.string;
      if (this.opts.ja4s) {
        const j4 = shape.ja4s;
        f.ja4s = j4.ja4s;
        f.ja4s_r = j4.ja4s_r;
      }
    }
    // Resumption (Zeek main.zeek): an echoed session id before TLS 1.3, or a
    // PSK the server selected.
    const ch = f.clientHello;
    if (ch !== null) {
      const cs = ch.sessionId;
      const ss = sh.sessionId;
      if (cs !== null && ss !== null && cs.length > 0 && !allZero(cs) && cs.equals(ss) && !isTls13(sh.version)) {
        f.resumed = true;
      }
      // The echoed session id (TLS 1.3 compatibility mode, resumption): one buffer for both hellos.
      if (cs !== null && ss !== null && cs !== ss && cs.length === ss.length && cs.equals(ss)) {
        (sh as { -readonly [K in keyof ServerHello]: ServerHello[K] }).sessionId = cs;
      }
      if (ch.pskIdentities >= 0 && sh.pskSelectedIdentity >= 0) f.resumed = true;
    }
  }

  /** Make a message cut short by the end of the stream (or a gap) the session's hello. */
  private flushPartial(dir: Direction): void {
    const s = this.sides[dir];
    const part = s.hs === null ? null : s.hs.partial();
    if (part === null) return;
    const declared = part.declaredLength >= 0 ? part.declaredLength : part.body.length + 1;
    if (part.type === HS_CLIENT_HELLO && this.f.clientHello === null) {
      if (dir === 1 && !this.serverHelloSeen) this.flip();
      this.history(dir, 'c');
      const r = parseClientHello(part.body, 0, part.body.length, Math.max(declared, part.body.length + 1));
      this.issues(r.issues);
      this.anomaly(A.clientHelloTruncated);
      this.applyClientHello(partialOf(r), false, part.body, 0, part.body.length);
    } else if (part.type === HS_SERVER_HELLO && this.f.serverHello === null) {
      this.history(dir, 's');
      const r = parseServerHello(part.body, 0, part.body.length, Math.max(declared, part.body.length + 1));
      this.issues(r.issues);
      this.anomaly(A.serverHelloTruncated);
      this.applyServerHello(partialOf(r), false, part.body, 0, part.body.length);
    }
  }

  // --- bookkeeping -----------------------------------------------------------

  /** The ClientHello came from the flow's responder: swap roles. */
  private flip(): void {
    const f = this.f;
    if (f.clientDirection === 1) return;
    f.clientDirection = 1;
    f.client = this.dirFacts[1];
    f.server = this.dirFacts[0];
  }

  private history(dir: Direction, letter: string, fromClient = dir === this.f.clientDirection): void {
    const f = this.f;
    if (f.history.length >= MAX_HISTORY) return;
    f.history += fromClient ? upperLetter(letter) : letter;
  }

  /** @internal (also HandshakeSink's) */
  anomaly(id: number): void {
    this.counters.inc(id);
    let list = this.f.anomalies;
    if (list.length >= MAX_SESSION_ANOMALIES) return;
    const name = anomalyName(id);
    if (list.includes(name)) return;
    if (list === NO_ANOMALIES) list = this.f.anomalies = [];
    list.push(name);
  }

  private issues(ids: readonly number[]): void {
    for (const id of ids) this.anomaly(id);
  }

  private giveUp(dir: Direction, anomaly: number): void {
    const s = this.sides[dir];
    s.mode = M_DONE;
    s.needed = 1;
    if (anomaly >= 0) this.anomaly(anomaly);
    const other = this.sides[dir === 0 ? 1 : 0];
    // Nothing TLS-like and no plaintext prefix under way: the flow is not ours.
    if (!this.f.detected && (this.f.prefix === null || other.mode === M_START)) other.mode = M_DONE;
  }

  private stopAll(): void {
    this.sides[0].mode = M_DONE;
    this.sides[1].mode = M_DONE;
    this.sides[0].needed = 1;
    this.sides[1].needed = 1;
  }
}

/** One header for every parser: records are read and used at once, one parser at a time. */
const RECORD_HEADER: RecordHeader = newRecordHeader();

// Facts start with shared empty lists; the parser gives a session its own list when it has something to put in it.
const NO_ANOMALIES: string[] = Object.freeze([]) as unknown as string[];
const NO_CERTIFICATES: Buffer[] = Object.freeze([]) as unknown as Buffer[];
const NO_NAMES: readonly string[] = Object.freeze([]);

function sessionFacts(): TlsSessionFacts {
  return makeSessionFacts(NO_ANOMALIES, NO_NAMES, NO_CERTIFICATES, NO_CERTIFICATES);
}

/** An encrypted alert by direction and sender (shared, frozen: one of four, not an object per alert). */
const ENCRYPTED_ALERTS: readonly TlsAlert[] = [0, 1].flatMap((direction) =>
  [false, true].map((fromClient) => Object.freeze({ direction: direction as Direction, fromClient, level: -1, description: -1, name: 'encrypted' })),
);

function allZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function partialOf<T>(r: ParseResult<T>): T {
  return r.status === 'ok' ? r.value : r.partial;
}

const SSLV2_CIPHERS: Record<number, string> = {
  0x010080: 'SSLv20_CK_RC4_128_WITH_MD5',
  0x020080: 'SSLv20_CK_RC4_128_EXPORT40_WITH_MD5',
  0x030080: 'SSLv20_CK_RC2_128_CBC_WITH_MD5',
  0x040080: 'SSLv20_CK_RC2_128_CBC_EXPORT40_WITH_MD5',
  0x050080: 'SSLv20_CK_IDEA_128_CBC_WITH_MD5',
  0x060040: 'SSLv20_CK_DES_64_CBC_WITH_MD5',
  0x0700c0: 'SSLv20_CK_DES_192_EDE3_CBC_WITH_MD5',
};

function sslv2CipherName(kind: number): string | null {
  if (kind <= 0xffff) return cipherSuiteName(kind);
  return SSLV2_CIPHERS[kind] ?? null;
}
