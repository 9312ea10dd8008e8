/**
 * Plaintext that may precede TLS on the same TCP stream, recognised cheaply
 * from the first bytes of each side:
 *
 * - HTTP `CONNECT host:port HTTP/1.x` (RFC 9110 §9.3.6) and the proxy's
 *   `HTTP/1.x 2xx` answer;
 * - SOCKS 4 / 4a (CONNECT and BIND) and SOCKS 5 (RFC 1928, with RFC 1929
 *   username/password);
 * - STARTTLS: SMTP (`220` banner, `STARTTLS`, RFC 3207), IMAP (`* OK`,
 *   `tag STARTTLS`, RFC 2595), POP3 (`+OK`, `STLS`, RFC 2595), and FTP's
 *   `AUTH TLS` (RFC 4217), which shares SMTP's `220` banner;
 * - XMPP `<starttls/>` / `<proceed/>` (RFC 6120 §5), LDAP StartTLS
 *   (RFC 4511 §4.14, only when the client's first message is the StartTLS
 *   request), and PostgreSQL's SSLRequest / `S` (protocol docs §55.2.10).
 *
 * Wire format only: each function measures one message in place and says
 * how long it is, that more bytes are needed, or that it is not that message.
 */

export type PlaintextPrefix =
  | 'http_connect'
  | 'socks4'
  | 'socks5'
  | 'smtp'
  | 'imap'
  | 'pop3'
  | 'ftp'
  | 'xmpp'
  | 'ldap'
  | 'postgres';

/** Measurement results (a length >= 0 otherwise). */
export const NEED_MORE = -1;
export const NOT_THIS = -2;

function startsWithAscii(buf: Buffer, p: number, end: number, text: string, caseless: boolean): number {
  const n = Math.min(text.length, end - p);
  for (let i = 0; i < n; i++) {
    let c = buf[p + i];
    if (caseless && c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== text.charCodeAt(i)) return NOT_THIS;
  }
  return n === text.length ? text.length : NEED_MORE;
}

/** Client's first bytes: `CONNECT ` (case-sensitive, as methods are). */
export function matchConnect(buf: Buffer, p: number, end: number): number {
  return startsWithAscii(buf, p, end, 'CONNECT ', false);
}

/** Proxy's answer line: `HTTP/1.x 2`. */
export function matchHttpSuccess(buf: Buffer, p: number, end: number): number {
  const r = startsWithAscii(buf, p, end, 'HTTP/1.', false);
  if (r < 0) return r;
  if (end - p < 10) return NEED_MORE;
  return buf[p + 8] === 0x20 && buf[p + 9] === 0x32 ? 10 : NOT_THIS;
}

/** Server's banner: which STARTTLS-capable protocol, or null. Needs 4 bytes. */
export function matchMailBanner(buf: Buffer, p: number, end: number): PlaintextPrefix | null | typeof NEED_MORE {
  if (end - p < 4) {
    // Could still be one of them?
    const head = buf.toString('latin1', p, end);
    return '220 '.startsWith(head) || '220-'.startsWith(head) || '* OK'.startsWith(head) || '+OK '.startsWith(head)
      ? NEED_MORE
      : null;
  }
  const b0 = buf[p], b1 = buf[p + 1], b2 = buf[p + 2], b3 = buf[p + 3];
  if (b0 === 0x32 && b1 === 0x32 && b2 === 0x30 && (b3 === 0x20 || b3 === 0x2d)) return 'smtp'; // "220 " / "220-"
  if (b0 === 0x2a && b1 === 0x20 && (b2 === 0x4f || b2 === 0x6f) && (b3 === 0x4b || b3 === 0x6b)) return 'imap'; // "* OK"
  if (b0 === 0x2b && (b1 === 0x4f || b1 === 0x6f) && (b2 === 0x4b || b2 === 0x6b)) return 'pop3'; // "+OK"
  return null;
}

/**
 * A client command line that upgrades to TLS: `STARTTLS` (SMTP), `tag
 * STARTTLS` (IMAP), `STLS` (POP3), `AUTH TLS` / `AUTH SSL` (FTP). `p..end`
 * is one line without its line ending.
 */
export function isUpgradeCommand(buf: Buffer, p: number, end: number): boolean {
  while (end > p && (buf[end - 1] === 0x0d || buf[end - 1] === 0x20)) end--;
  const line = buf.toString('latin1', p, Math.min(end, p + 64)).toUpperCase();
  return (
    line === 'STARTTLS' ||
    line === 'STLS' ||
    line === 'AUTH TLS' ||
    line === 'AUTH SSL' ||
    line === 'AUTH TLS-C' ||
    /^[A-Z0-9.]+ STARTTLS$/.test(line)
  );
}

/**
 * Index just past the next `\n` in `buf[p, end)`, NEED_MORE when there is
 * none yet (and fewer than `maxLine` bytes), NOT_THIS when the line is longer
 * than `maxLine` or holds a byte no text protocol sends (NUL, or 0x16 — a TLS
 * record at the start of a line is handled by the caller).
 */
export function lineEnd(buf: Buffer, p: number, end: number, maxLine: number): number {
  const stop = Math.min(end, p + maxLine);
  for (let i = p; i < stop; i++) {
    const c = buf[i];
    if (c === 0x0a) return i + 1;
    if (c === 0x00) return NOT_THIS;
  }
  return end - p >= maxLine ? NOT_THIS : NEED_MORE;
}

// --- SOCKS ------------------------------------------------------------------

/** SOCKS 4/4a request: VN=4, CD=1|2, DSTPORT(2), DSTIP(4), USERID, NUL [, DOMAIN, NUL if DSTIP=0.0.0.x]. */
export function socks4Request(buf: Buffer, p: number, end: number): number {
  if (end - p < 1) return NEED_MORE;
  if (buf[p] !== 4) return NOT_THIS;
  if (end - p < 2) return NEED_MORE;
  if (buf[p + 1] !== 1 && buf[p + 1] !== 2) return NOT_THIS;
  if (end - p < 9) return NEED_MORE;
  const is4a = buf[p + 4] === 0 && buf[p + 5] === 0 && buf[p + 6] === 0 && buf[p + 7] !== 0;
  let q = p + 8;
  const limit = Math.min(end, p + 8 + 512);
  while (q < limit && buf[q] !== 0) q++;
  if (q >= limit) return end - p >= 8 + 512 ? NOT_THIS : NEED_MORE;
  q++;
  if (is4a) {
    const domain = q;
    const limit2 = Math.min(end, domain + 256);
    while (q < limit2 && buf[q] !== 0) q++;
    if (q >= limit2) return end - domain >= 256 ? NOT_THIS : NEED_MORE;
    q++;
  }
  return q - p;
}

/** SOCKS 4 reply: VN=0, CD=90 (granted), DSTPORT, DSTIP. NOT_THIS when refused. */
export function socks4Reply(buf: Buffer, p: number, end: number): number {
  if (end - p < 2) return NEED_MORE;
  if (buf[p] !== 0 || buf[p + 1] !== 90) return NOT_THIS;
  return end - p < 8 ? NEED_MORE : 8;
}

/** SOCKS 5 greeting: VER=5, NMETHODS >= 1, METHODS. */
export function socks5Greeting(buf: Buffer, p: number, end: number): number {
  if (end - p < 1) return NEED_MORE;
  if (buf[p] !== 5) return NOT_THIS;
  if (end - p < 2) return NEED_MORE;
  const n = buf[p + 1];
  if (n === 0) return NOT_THIS;
  return end - p < 2 + n ? NEED_MORE : 2 + n;
}

/** SOCKS 5 method selection: VER=5, METHOD (0 none or 2 username/password accepted). */
export function socks5MethodReply(buf: Buffer, p: number, end: number): number {
  if (end - p < 2) return NEED_MORE;
  if (buf[p] !== 5 || (buf[p + 1] !== 0 && buf[p + 1] !== 2)) return NOT_THIS;
  return 2;
}

/** RFC 1929 request: VER=1, ULEN, UNAME, PLEN, PASSWD. */
export function socks5AuthRequest(buf: Buffer, p: number, end: number): number {
  if (end - p < 2) return NEED_MORE;
  if (buf[p] !== 1) return NOT_THIS;
  const ulen = buf[p + 1];
  if (end - p < 3 + ulen) return NEED_MORE;
  const plen = buf[p + 2 + ulen];
  return end - p < 3 + ulen + plen ? NEED_MORE : 3 + ulen + plen;
}

/** RFC 1929 reply: VER=1, STATUS=0 (success). */
export function socks5AuthReply(buf: Buffer, p: number, end: number): number {
  if (end - p < 2) return NEED_MORE;
  return buf[p] === 1 && buf[p + 1] === 0 ? 2 : NOT_THIS;
}

/**
 * SOCKS 5 request (VER=5, CMD, RSV=0, ATYP, DST.ADDR, DST.PORT) or reply
 * (VER=5, REP, RSV=0, ATYP, BND.ADDR, BND.PORT). For a reply, `rep0` asks
 * that REP be 0 (succeeded).
 */
export function socks5Message(buf: Buffer, p: number, end: number, rep0: boolean): number {
  if (end - p < 1) return NEED_MORE;
  if (buf[p] !== 5) return NOT_THIS;
  if (end - p < 5) return NEED_MORE;
  if (rep0 ? buf[p + 1] !== 0 : buf[p + 1] < 1 || buf[p + 1] > 3) return NOT_THIS;
  if (buf[p + 2] !== 0) return NOT_THIS;
  let addr: number;
  switch (buf[p + 3]) {
    case 1: addr = 4; break;
    case 3: addr = 1 + buf[p + 4]; break;
    case 4: addr = 16; break;
    default: return NOT_THIS;
  }
  const total = 4 + addr + 2;
  return end - p < total ? NEED_MORE : total;
}

// --- XMPP, LDAP, PostgreSQL ----------------------------------------------------

/** An XMPP stream opening: `<?xml` or `<stream:stream`. Returns 1 on a match. */
export function matchXmppOpen(buf: Buffer, p: number, end: number): number {
  const a = startsWithAscii(buf, p, end, '<?xml', false);
  if (a > 0) return 1;
  const b = startsWithAscii(buf, p, end, '<stream:stream', false);
  if (b > 0) return 1;
  return a === NEED_MORE || b === NEED_MORE ? NEED_MORE : NOT_THIS;
}

/** Index just past the next `>` (XML is cut at tag ends), NEED_MORE, or NOT_THIS past `max`. */
export function xmlChunkEnd(buf: Buffer, p: number, end: number, max: number): number {
  const stop = Math.min(end, p + max);
  for (let i = p; i < stop; i++) {
    const c = buf[i];
    if (c === 0x3e) return i + 1;
    if (c === 0x00) return NOT_THIS;
  }
  return end - p >= max ? NOT_THIS : NEED_MORE;
}

/** Length of one BER-encoded SEQUENCE (an LDAPMessage) at `p`, at most `max` bytes. */
export function berSequenceLength(buf: Buffer, p: number, end: number, max: number): number {
  if (end - p < 1) return NEED_MORE;
  if (buf[p] !== 0x30) return NOT_THIS;
  if (end - p < 2) return NEED_MORE;
  const l0 = buf[p + 1];
  let len: number;
  let hdr: number;
  if (l0 < 0x80) {
    len = l0;
    hdr = 2;
  } else {
    const n = l0 & 0x7f;
    if (n === 0 || n > 3) return NOT_THIS;
    if (end - p < 2 + n) return NEED_MORE;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + 2 + i];
    hdr = 2 + n;
  }
  const total = hdr + len;
  if (total > max) return NOT_THIS;
  return end - p < total ? NEED_MORE : total;
}

const LDAP_STARTTLS_OID = Buffer.from('1.3.6.1.4.1.1466.20037', 'latin1');

/** The client's LDAP StartTLS ExtendedRequest: its length, NEED_MORE, or NOT_THIS. */
export function ldapStartTlsRequest(buf: Buffer, p: number, end: number): number {
  const n = berSequenceLength(buf, p, end, 256);
  if (n < 0) return n;
  return buf.subarray(p, p + n).includes(LDAP_STARTTLS_OID) ? n : NOT_THIS;
}

/** PostgreSQL SSLRequest: Int32 length 8, Int32 code 80877103. */
export function postgresSslRequest(buf: Buffer, p: number, end: number): number {
  const want = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
  const n = Math.min(8, end - p);
  for (let i = 0; i < n; i++) if (buf[p + i] !== want[i]) return NOT_THIS;
  return n === 8 ? 8 : NEED_MORE;
}
