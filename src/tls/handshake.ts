/**
 * Handshake message reassembly across records and segments (RFC 8446 §4,
 * RFC 5246 §7.4):
 *
 *     struct {
 *         HandshakeType msg_type;    // 1 byte
 *         uint24 length;             // bytes in message
 *         opaque body[length];
 *     } Handshake;
 *
 * A record may hold several messages and a message may span many records (a
 * 1.5–2 KB post-quantum ClientHello, a certificate chain, or a client that
 * splits its ClientHello over records on purpose). Record bodies arrive here
 * in pieces of any size. A message that lies whole inside one piece is handed
 * on in place, without a copy; only a message that spans pieces is copied,
 * into a buffer of its own that the sink may keep.
 */
import { A } from './anomalies.js';

export interface HandshakeSink {
  /**
   * One complete message: `body` is `buf[start, end)`, without the 4-byte
   * header. `owned` says the buffer belongs to the sink (it may keep views of
   * it); otherwise it is only valid during the call.
   */
  onMessage(type: number, buf: Buffer, start: number, end: number, owned: boolean): void;
  anomaly(id: number): void;
}

/** The part of a message received when the stream stopped. */
export interface PartialMessage {
  /** Message type, or -1 when not even the type byte arrived. */
  readonly type: number;
  /** Declared body length, or -1 when the 4-byte header is incomplete. */
  readonly declaredLength: number;
  /** The body bytes received (a copy of them). */
  readonly body: Buffer;
}

const EMPTY = Buffer.alloc(0);

/**
 * What an assembler with nothing pending does with `buf[start, end)`: hand
 * every whole message to the sink in place. Returns where the first message
 * that is not whole in this piece starts (`end` when there is none); from
 * there on an assembler takes over.
 */
export function pushWholeMessages(buf: Buffer, start: number, end: number, sink: HandshakeSink): number {
  let p = start;
  while (end - p >= 4) {
    const len = (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
    if (end - p - 4 < len) break;
    sink.onMessage(buf[p], buf, p + 4, p + 4 + len, false);
    p += 4 + len;
  }
  return p;
}

export class HandshakeAssembler {
  // The 4-byte message header while it arrives in pieces (plain numbers: no buffer per assembler).
  private h0 = 0;
  private h1 = 0;
  private h2 = 0;
  private hdrHave = 0;
  private body: Buffer | null = null;
  private bodyHave = 0;
  private bodyLen = 0;
  private type = -1;
  /** Bytes of an oversized message still to be skipped. */
  private discard = 0;

  /** @param maxMessage bodies longer than this are skipped with `tls.handshake.too_large`. */
  constructor(private readonly maxMessage: number) {}

  /** True while a message is partly received. */
  get inMessage(): boolean {
    return this.hdrHave > 0 || this.body !== null || this.discard > 0;
  }

  /** Feed `buf[start, end)`, a piece of one or more handshake record bodies. */
  push(buf: Buffer, start: number, end: number, sink: HandshakeSink): void {
    let p = start;
    while (p < end) {
      if (this.discard > 0) {
        const n = Math.min(this.discard, end - p);
        this.discard -= n;
        p += n;
        continue;
      }
      if (this.body !== null) {
        const n = Math.min(this.bodyLen - this.bodyHave, end - p);
        this.ensure(this.bodyHave + n);
        buf.copy(this.body, this.bodyHave, p, p + n);
        this.bodyHave += n;
        p += n;
        if (this.bodyHave === this.bodyLen) {
          const b = this.body.length === this.bodyLen ? this.body : this.body.subarray(0, this.bodyLen);
          const t = this.type;
          this.body = null;
          this.type = -1;
          sink.onMessage(t, b, 0, b.length, true);
        }
        continue;
      }
      if (this.hdrHave > 0) {
        while (this.hdrHave < 4 && p < end) this.headerByte(buf[p++]);
        if (this.hdrHave === 4) {
          this.hdrHave = 0;
          this.begin(this.h0, (this.h1 << 16) | (this.h2 << 8) | this.h3, sink);
        }
        continue;
      }
      // At a message boundary.
      if (end - p >= 4) {
        const t = buf[p];
        const len = (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
        if (end - p - 4 >= len) {
          sink.onMessage(t, buf, p + 4, p + 4 + len, false);
          p += 4 + len;
          continue;
        }
        p += 4;
        this.begin(t, len, sink);
        continue;
      }
      while (p < end) this.headerByte(buf[p++]);
    }
  }

  /** What was received of an unfinished message (a copy), or null. */
  partial(): PartialMessage | null {
    if (this.body !== null) {
      return { type: this.type, declaredLength: this.bodyLen, body: Buffer.from(this.body.subarray(0, this.bodyHave)) };
    }
    if (this.hdrHave > 0) {
      return { type: this.h0, declaredLength: -1, body: EMPTY };
    }
    return null;
  }

  /** Forget any unfinished message (after a gap, or when the record type changed mid-message). */
  reset(): void {
    this.hdrHave = 0;
    this.body = null;
    this.bodyHave = 0;
    this.bodyLen = 0;
    this.type = -1;
    this.discard = 0;
  }

  private h3 = 0;

  private headerByte(b: number): void {
    switch (this.hdrHave++) {
      case 0: this.h0 = b; break;
      case 1: this.h1 = b; break;
      case 2: this.h2 = b; break;
      default: this.h3 = b; break;
    }
  }

  private begin(type: number, len: number, sink: HandshakeSink): void {
    if (len > this.maxMessage) {
      sink.anomaly(A.handshakeTooLarge);
      this.discard = len;
      return;
    }
    if (len === 0) {
      sink.onMessage(type, EMPTY, 0, 0, true);
      return;
    }
    this.type = type;
    // Grow as bytes come rather than trusting a 24-bit length up front.
    this.body = Buffer.allocUnsafe(Math.min(len, 4096));
    this.bodyHave = 0;
    this.bodyLen = len;
  }

  private ensure(size: number): void {
    const b = this.body!;
    if (size <= b.length) return;
    const grown = Buffer.allocUnsafe(Math.min(this.bodyLen, Math.max(size, b.length * 2)));
    b.copy(grown, 0, 0, this.bodyHave);
    this.body = grown;
  }
}
