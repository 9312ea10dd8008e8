/**
 * The flow event as NDJSON text, written without building the event object.
 *
 * `schema.ts` defines the event (`buildFlowEvent`); this module writes the
 * very same JSON — same fields, same order, same number and string forms —
 * straight from the flow and its facts, the way pino serialises: work that
 * does not depend on the flow is done once and kept as text.
 *
 *  - Constant runs of the event are literals below.
 *  - What a TLS client or server stack sends the same way every time (the
 *    cipher-suite names, offered ALPN, JA3/JA4 strings) is kept as JSON
 *    bytes, by the identity of the (frozen) list the TLS stage shares between
 *    hellos with the same content (src/tls/intern.ts, hello-memo.ts), and by
 *    value for the fingerprint strings.
 *  - Certificate and verdict fields are kept as JSON text per certificate
 *    summary and per verdict (both are cached, frozen objects).
 *  - Only per-flow values are formatted per event.
 *
 * The line is written as bytes into one reused buffer (`JsonLine`): literals
 * and kept parts are copied, numbers and plain ASCII strings are written
 * digit by digit — an event allocates next to nothing.
 *
 * Identity with `buildFlowEvent` is checked, not assumed:
 * test/output/flow-json.test.ts compares every flow event of the golden
 * captures, the TLS fixtures and generated hellos, byte for byte, with
 * `JSON.stringify(buildFlowEvent(...))`. At run time the writer compares the
 * first events of every run (all of them with `TLSENTRY_CHECK_FLOW_JSON=1`)
 * and falls back to `buildFlowEvent` on a difference (writer.ts). A field
 * added to `buildFlowEvent` must be added here too: the test says where.
 */
import { addressText, type Flow, type TcpStream } from '../flow/index.js';
import { HISTORY_BYTES } from '../flow/flow.js';
import { flowCommunityId } from '../flow/community-id.js';
import { flowIdCodes } from '../flow/flow-id.js';
import { cipherSuiteName, ecsVersion, type TlsSessionFacts, type TlsSideFacts } from '../tls/index.js';
import { Table } from '../tls/intern.js';
import type { CertificateSummary, ChainVerdict } from '../x509/index.js';
import { isoTime, SCHEMA_VERSION, type FlowExtras } from './schema.js';

const q = JSON.stringify;
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

const MAX_FOUR_DIGIT_YEAR_MS = Date.UTC(10000, 0, 1);

/** One NDJSON line being written: a reused byte buffer and a position. */
export class JsonLine {
  buf: Buffer;
  pos = 0;
  /** `isoTime`'s date and time up to the second, as bytes, for the last second written. */
  private isoSecond = NaN;
  private readonly isoPrefix = Buffer.alloc(20);

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.pos = 0;
  }

  /** The line so far (checks and tests). */
  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** A string already in JSON form (or plain ASCII that needs no escaping). */
  raw(s: string): void {
    const n = s.length;
    this.ensure(n * 3);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos += buf.write(s, this.pos, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** A JSON string, as JSON.stringify writes it. */
  str(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    buf[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) {
        // Escapes or non-ASCII: JSON.stringify's text, UTF-8 encoded.
        this.pos = start;
        this.raw(q(s));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** A number as JSON.stringify writes it. */
  num(n: number): void {
    if ((n | 0) === n) {
      // int32 (and -0, which JSON writes as 0)
      this.ensure(11);
      const buf = this.buf;
      let p = this.pos;
      let v = n;
      if (v < 0) {
        buf[p++] = 0x2d;
        v = -v; // up to 2^31: exact, and (v / 10) >>> 0 below stays exact
      }
      if (v < 10) {
        buf[p++] = 0x30 + v;
        this.pos = p;
        return;
      }
      const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
      let e = p + digits;
      this.pos = e;
      while (v >= 10) {
        const d = (v / 10) >>> 0;
        buf[--e] = 0x30 + (v - d * 10);
        v = d;
      }
      buf[--e] = 0x30 + v;
      return;
    }
    // A fraction with at most six decimals (durations in seconds, ratios): its
    // shortest form — what JSON.stringify writes — is that decimal, trailing
    // zeros dropped (below 1e6 no other decimal as short reads back as the
    // same double). `m / 1e6 === n` proves n is that decimal's double.
    if (n > -1e6 && n < 1e6) {
      const m = Math.round(n * 1e6);
      if (m / 1e6 === n && m !== 0) {
        this.fraction(m);
        return;
      }
    }
    this.raw(Number.isFinite(n) ? '' + n : 'null');
  }

  /** `m / 1e6` in decimal (`m` a non-zero integer below 1e12 in magnitude, not a multiple of 1e6). */
  private fraction(m: number): void {
    this.ensure(24);
    const buf = this.buf;
    let p = this.pos;
    if (m < 0) {
      buf[p++] = 0x2d;
      m = -m;
    }
    const int = Math.floor(m / 1e6);
    let frac = m - int * 1e6;
    this.pos = p;
    this.num(int);
    p = this.pos;
    buf[p++] = 0x2e;
    let digits = 6;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    for (let i = digits - 1; i >= 0; i--) {
      buf[p + i] = 0x30 + (frac % 10);
      frac = Math.floor(frac / 10);
    }
    this.pos = p + digits;
  }

  bool(b: boolean): void {
    if (b) this.bytes(TRUE);
    else this.bytes(FALSE);
  }

  /** `isoTime(micros)` as a JSON string. */
  time(micros: number): void {
    const ms = Math.floor(micros / 1000);
    const us = Math.floor(micros - ms * 1000);
    const sec = Math.floor(ms / 1000);
    if (sec !== this.isoSecond) {
      if (!(ms >= 0 && ms < MAX_FOUR_DIGIT_YEAR_MS)) {
        this.str(isoTime(micros));
        return;
      }
      this.isoPrefix.write(new Date(sec * 1000).toISOString().slice(0, 20), 0, 'latin1'); // 2024-01-02T03:04:05.
      this.isoSecond = sec;
    }
    if (!(us >= 0 && us < 1000 && us === (us | 0))) {
      this.str(isoTime(micros));
      return;
    }
    const msPart = ms - sec * 1000;
    this.ensure(29);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    buf.set(this.isoPrefix, p);
    p += 20;
    buf[p++] = 0x30 + Math.floor(msPart / 100);
    buf[p++] = 0x30 + (Math.floor(msPart / 10) % 10);
    buf[p++] = 0x30 + (msPart % 10);
    buf[p++] = 0x30 + Math.floor(us / 100);
    buf[p++] = 0x30 + (Math.floor(us / 10) % 10);
    buf[p++] = 0x30 + (us % 10);
    buf[p++] = 0x5a; // Z
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** `addressText(...)` as a JSON string. */
  address(version: number, w0: number, w1: number, w2: number, w3: number): void {
    if (version !== 4) {
      this.str(addressText(version, w0, w1, w2, w3));
      return;
    }
    this.ensure(17);
    this.buf[this.pos++] = 0x22;
    this.octet(w0 >>> 24);
    this.buf[this.pos++] = 0x2e;
    this.octet((w0 >>> 16) & 255);
    this.buf[this.pos++] = 0x2e;
    this.octet((w0 >>> 8) & 255);
    this.buf[this.pos++] = 0x2e;
    this.octet(w0 & 255);
    this.buf[this.pos++] = 0x22;
  }

  private octet(v: number): void {
    const buf = this.buf;
    if (v >= 100) buf[this.pos++] = 0x30 + Math.floor(v / 100);
    if (v >= 10) buf[this.pos++] = 0x30 + (Math.floor(v / 10) % 10);
    buf[this.pos++] = 0x30 + (v % 10);
  }
}

const TRUE = utf8('true');
const FALSE = utf8('false');

/** Literal runs of the event, as bytes. */
const L = {
  timestamp: utf8('"@timestamp":'),
  eventHead: utf8(',"event":{"kind":"event","category":["network"],"type":["connection","end"],"dataset":"tlsentry.flow","module":"tlsentry","id":"'),
  eventStart: utf8('","start":'),
  end: utf8(',"end":'),
  duration: utf8(',"duration":'),
  source: utf8('},"source":{"ip":'),
  port: utf8(',"port":'),
  bytes: utf8(',"bytes":'),
  packets: utf8(',"packets":'),
  destination: utf8('},"destination":{"ip":'),
  network4: utf8('},"network":{"transport":"tcp","type":"ipv4","iana_number":"6","community_id":"'),
  network6: utf8('},"network":{"transport":"tcp","type":"ipv6","iana_number":"6","community_id":"'),
  cidBytes: utf8('","bytes":'),
  vlan: utf8(',"vlan":{"id":'),
  tlsentry: utf8(`},"tlsentry":{"schema_version":${q(SCHEMA_VERSION)},"flow":{"id":"`),
  sourcePayload: utf8('","source_payload_bytes":'),
  destinationPayload: utf8(',"destination_payload_bytes":'),
  missed: utf8(',"missed_bytes":'),
  history: utf8(',"history":'),
  pcr: utf8(',"pcr":'),
  flowDuration: utf8(',"duration":'),
  endReason: utf8(',"end_reason":'),
  clientBy: utf8(',"client_by":'),
  sourceRetransmits: utf8(',"source_retransmits":'),
  destinationRetransmits: utf8(',"destination_retransmits":'),
  endNoTls: utf8('}}}'),
  tlsFields: utf8('},"tls":{"alpn":'),
  ech: utf8(',"ech":'),
  midstream: utf8(',"midstream":'),
  hrr: utf8(',"hello_retry_request":'),
  clientRecords: utf8(',"client_records":{"handshake":'),
  serverRecords: utf8('},"server_records":{"handshake":'),
  ccs: utf8(',"change_cipher_spec":'),
  alert: utf8(',"alert":'),
  appData: utf8(',"application_data":'),
  encHs: utf8(',"encrypted_handshake":'),
  heartbeat: utf8(',"heartbeat":'),
  clientApp: utf8('},"client_app_bytes":'),
  serverApp: utf8(',"server_app_bytes":'),
  appPcr: utf8(',"app_pcr":'),
  anomalies: utf8(',"anomalies":'),
  versionName: utf8(',"version_name":'),
  ja3String: utf8(',"ja3_string":'),
  ja3sString: utf8(',"ja3s_string":'),
  ja4: utf8(',"ja4":'),
  ja4r: utf8(',"ja4_r":'),
  ja4ro: utf8(',"ja4_ro":'),
  ja4s: utf8(',"ja4s":'),
  prefix: utf8(',"prefix":'),
  lastAlert: utf8(',"last_alert":'),
  x509: utf8(',"x509":'),
  clientChain: utf8(',"client_chain_sha1":'),
  closeX509: utf8('}}'),
  ecsHead: utf8('},"tls":{"established":'),
  resumed: utf8(',"resumed":'),
  client: utf8(',"client":{'),
  serverName: utf8('"server_name":'),
  ja3: utf8('"ja3":'),
  ciphers: utf8('"supported_ciphers":'),
  server: utf8('},"server":{'),
  ja3s: utf8('"ja3s":'),
  version: utf8('},"version":'),
  versionProtocol: utf8(',"version_protocol":'),
  cipher: utf8(',"cipher":'),
  nextProtocol: utf8(',"next_protocol":'),
  close2: utf8('}}'),
  emptyList: utf8('[]'),
};

/** A kept run of event bytes and the values it was written from, in order. */
interface KeptRun {
  readonly values: readonly unknown[];
  readonly bytes: Buffer;
}

/** Runs kept per table before it starts afresh. */
const MAX_RUNS = 512;
/**
 * Runs kept under one key (one client stack): a stream of sessions that vary
 * what a run covers (hostile servers) makes the rest be written field by
 * field instead of lengthening the list every event walks.
 */
const MAX_RUNS_PER_KEY = 8;

/** The bytes of the run under `key` made from `values[0, n)`, or null. */
function keptRun(table: Table<KeptRun, string>, key: string, values: readonly unknown[], n: number): Buffer | null {
  const list = table.bucket(key);
  if (list === undefined) return null;
  next: for (const r of list) {
    for (let i = 0; i < n; i++) if (r.values[i] !== values[i]) continue next;
    return r.bytes;
  }
  return null;
}

export class FlowEventJson {
  private readonly ciphers = new WeakMap<readonly number[], Buffer>();
  private readonly stringLists = new WeakMap<readonly string[], Buffer>();
  private readonly leaves = new WeakMap<CertificateSummary, Buffer>();
  private readonly verdicts = new WeakMap<ChainVerdict, Buffer>();
  /** Quoted strings the TLS stage hands to many sessions (fingerprints), by value; cleared when full. */
  private readonly quoted = new Map<string, Buffer>();
  private readonly scratch = new JsonLine(8192);
  /** `stackRun` and `ecsStackRun`: runs by JA3 string and by JA3 hash. */
  private readonly stackRuns = new Table<KeptRun, string>(MAX_RUNS, MAX_RUNS_PER_KEY);
  private readonly ecsRuns = new Table<KeptRun, string>(MAX_RUNS, MAX_RUNS_PER_KEY);
  /** The values a run is looked up by (filled per event, copied only into a new run). */
  private readonly runValues: unknown[] = new Array<unknown>(8).fill(null);
  private readonly runScratch = new JsonLine(8192);

  /** The run `write` just wrote into `runScratch`, as bytes; filed under `key` with `runValues[0, n)` when `keep`. */
  private newRun(table: Table<KeptRun, string>, key: string, n: number, keep: boolean): Buffer {
    const s = this.runScratch;
    const bytes = Buffer.from(s.buf.subarray(0, s.pos));
    if (keep) table.add(key, { values: this.runValues.slice(0, n), bytes });
    return bytes;
  }

  /** The event's JSON object text without its opening brace (the writer puts its `ecs` field first, as pino does). */
  body(f: Flow, x: FlowExtras = {}): string {
    const line = this.scratch;
    line.reset();
    this.write(f, x, line);
    return line.toString();
  }

  /** Append the event's JSON from `"@timestamp"` to its closing brace to `out`. */
  write(f: Flow, x: FlowExtras, out: JsonLine): void {
    const up = f.toServer, down = f.toClient;
    const durationMicros = f.lastTs - f.firstTs;
    // flowIdCodes' scratch array stays valid until its next call: both copies of the id come from one call.
    const id = flowIdCodes(f);
    out.bytes(L.timestamp);
    out.time(f.firstTs);
    out.bytes(L.eventHead);
    out.bytes(id);
    out.bytes(L.eventStart);
    out.time(f.firstTs);
    out.bytes(L.end);
    out.time(f.lastTs);
    out.bytes(L.duration);
    out.num(durationMicros * 1000);
    endpoint(out, L.source, f.ipVersion, f.c0, f.c1, f.c2, f.c3, f.cPort, up);
    endpoint(out, L.destination, f.ipVersion, f.s0, f.s1, f.s2, f.s3, f.sPort, down);
    out.bytes(f.ipVersion === 6 ? L.network6 : L.network4);
    // '1:' and base64: nothing to escape.
    out.raw(flowCommunityId(f));
    out.bytes(L.cidBytes);
    out.num(up.ipBytes + down.ipBytes);
    out.bytes(L.packets);
    out.num(up.packets + down.packets);
    if (f.vlanId !== 0) {
      out.bytes(L.vlan);
      out.str(String(f.vlanId));
      out.byte(0x7d);
    }
    out.bytes(L.tlsentry);
    out.bytes(id);
    out.bytes(L.sourcePayload);
    out.num(up.maxRel);
    out.bytes(L.destinationPayload);
    out.num(down.maxRel);
    out.bytes(L.missed);
    out.num(up.missed + down.missed);
    out.bytes(L.history);
    flowHistory(f, out);
    out.bytes(L.pcr);
    out.num(f.pcr());
    out.bytes(L.flowDuration);
    out.num(durationMicros / 1e6);
    out.bytes(L.endReason);
    out.str(f.endReason);
    out.bytes(L.clientBy);
    out.str(f.clientBy);
    out.bytes(L.sourceRetransmits);
    out.num(up.retransmits);
    out.bytes(L.destinationRetransmits);
    out.num(down.retransmits);
    const t = x.tls;
    if (!t || !(t.detected || t.clientHello !== null)) {
      out.bytes(L.endNoTls);
      return;
    }
    // buildFlowEvent adds `tlsentry.tls`, `tlsentry.x509` and then the top-level `tls`.
    this.tlsFields(t, out);
    out.byte(0x7d);
    const v = x.verdict;
    if (v) {
      out.bytes(L.x509);
      out.bytes(this.verdictBytes(v));
      const cc = x.clientChainSha1;
      if (cc && cc.length > 0) {
        out.bytes(L.clientChain);
        out.raw(q(cc));
      }
      out.byte(0x7d);
    }
    this.ecsTls(t, x.leaf ?? null, out);
    out.bytes(L.close2);
  }

  /** `tlsentry.tls` (addTls's `fields`), without its closing brace. */
  private tlsFields(t: Readonly<TlsSessionFacts>, out: JsonLine): void {
    const o = t.client.applicationDataBytes, i = t.server.applicationDataBytes;
    out.bytes(L.tlsFields);
    out.bytes(this.stringList(t.alpnOffered));
    out.bytes(L.ech);
    out.bool(t.ech);
    out.bytes(L.midstream);
    out.bool(t.midstream || t.clientDirection !== 0);
    out.bytes(L.hrr);
    out.bool(t.helloRetryRequest);
    out.bytes(L.history);
    out.str(t.history);
    out.bytes(L.clientRecords);
    recordCounts(t.client, out);
    out.bytes(L.serverRecords);
    recordCounts(t.server, out);
    out.bytes(L.clientApp);
    out.num(o);
    out.bytes(L.serverApp);
    out.num(i);
    out.bytes(L.appPcr);
    out.num(o + i === 0 ? 0 : Math.round(((o - i) / (o + i)) * 10000) / 10000);
    out.bytes(L.anomalies);
    if (t.anomalies.length === 0) out.bytes(L.emptyList);
    else out.raw(q(t.anomalies));
    this.stackRun(t, out);
    if (t.prefix !== null) {
      out.bytes(L.prefix);
      out.str(t.prefix);
    }
    if (t.lastAlert !== null) {
      out.bytes(L.lastAlert);
      out.str(t.lastAlert.name);
    }
  }

  /**
   * `version_name` to `ja4s` of `tlsentry.tls`: what the client and server
   * stacks decide (the TLS stage hands every session of a stack the same
   * strings), kept as one run of bytes per combination. A run is reused only
   * when every value it was made from is equal; else it is written field by
   * field and kept. Bounded: the table starts afresh when full.
   */
  private stackRun(t: Readonly<TlsSessionFacts>, out: JsonLine): void {
    const key = t.ja3String;
    if (key === null) {
      this.stackFields(t, out);
      return;
    }
    const v = this.runValues;
    v[0] = t.versionName;
    v[1] = t.ja3sString;
    v[2] = t.ja4;
    v[3] = t.ja4_r;
    v[4] = t.ja4_ro;
    v[5] = t.ja4s;
    let bytes = keptRun(this.stackRuns, key, v, 6);
    if (bytes === null) {
      this.runScratch.reset();
      this.stackFields(t, this.runScratch);
      bytes = this.newRun(this.stackRuns, key, 6, true);
    }
    out.bytes(bytes);
  }

  private stackFields(t: Readonly<TlsSessionFacts>, out: JsonLine): void {
    if (t.versionName !== null) {
      out.bytes(L.versionName);
      out.str(t.versionName);
    }
    this.field(L.ja3String, t.ja3String, out);
    this.field(L.ja3sString, t.ja3sString, out);
    this.field(L.ja4, t.ja4, out);
    this.field(L.ja4r, t.ja4_r, out);
    this.field(L.ja4ro, t.ja4_ro, out);
    if (t.ja4s !== null) {
      out.bytes(L.ja4s);
      out.str(t.ja4s);
    }
  }

  /** ECS `tls.*` (addTls's `ecs`), without its closing brace. */
  private ecsTls(t: Readonly<TlsSessionFacts>, leaf: CertificateSummary | null, out: JsonLine): void {
    out.bytes(L.ecsHead);
    out.bool(t.established);
    out.bytes(L.resumed);
    out.bool(t.resumed);
    out.bytes(L.client);
    let sep = false;
    if (t.sni !== null) {
      out.bytes(L.serverName);
      out.str(t.sni);
      sep = true;
    }
    this.ecsStackRun(t, leaf, sep, out);
  }

  /**
   * ECS `tls.client.ja3` to `tls.next_protocol`, after the server name (`sep`:
   * one was written): the stacks' values and the server's leaf certificate,
   * kept as one run of bytes per combination, as `stackRun`.
   */
  private ecsStackRun(t: Readonly<TlsSessionFacts>, leaf: CertificateSummary | null, sep: boolean, out: JsonLine): void {
    const key = t.ja3;
    if (key === null) {
      this.ecsStackFields(t, leaf, sep, out);
      return;
    }
    const suites = t.clientHello === null ? null : t.clientHello.cipherSuites;
    const v = this.runValues;
    v[0] = sep;
    v[1] = suites;
    v[2] = t.ja3s;
    v[3] = leaf;
    v[4] = t.version;
    v[5] = t.cipherName;
    v[6] = t.alpnSelected;
    let bytes = keptRun(this.ecsRuns, key, v, 7);
    if (bytes === null) {
      this.runScratch.reset();
      this.ecsStackFields(t, leaf, sep, this.runScratch);
      // Only lists and summaries that cannot change may be kept by identity (as byIdentity).
      bytes = this.newRun(this.ecsRuns, key, 7, (suites === null || Object.isFrozen(suites)) && (leaf === null || Object.isFrozen(leaf)));
    }
    out.bytes(bytes);
  }

  private ecsStackFields(t: Readonly<TlsSessionFacts>, leaf: CertificateSummary | null, sep: boolean, out: JsonLine): void {
    if (t.ja3 !== null) {
      if (sep) out.byte(0x2c);
      this.field(L.ja3, t.ja3, out);
      sep = true;
    }
    const ch = t.clientHello;
    if (ch !== null && ch.cipherSuites.length > 0) {
      if (sep) out.byte(0x2c);
      out.bytes(L.ciphers);
      out.bytes(this.cipherNames(ch.cipherSuites));
    }
    out.bytes(L.server);
    sep = false;
    if (t.ja3s !== null) {
      this.field(L.ja3s, t.ja3s, out);
      sep = true;
    }
    if (leaf) {
      if (sep) out.byte(0x2c);
      out.bytes(this.leafBytes(leaf));
    }
    const v = t.version === null ? null : ecsVersion(t.version);
    if (v) {
      out.bytes(L.version);
      out.str(v.version);
      out.bytes(L.versionProtocol);
      out.str(v.protocol);
    } else {
      out.byte(0x7d);
    }
    if (t.cipherName !== null) {
      out.bytes(L.cipher);
      out.str(t.cipherName);
    }
    if (t.alpnSelected !== null) {
      out.bytes(L.nextProtocol);
      out.str(t.alpnSelected);
    }
  }

  /** `key` and the quoted value, kept as bytes by value (the TLS stage shares these strings between sessions). Null: left out. */
  private field(key: Uint8Array, value: string | null, out: JsonLine): void {
    if (value === null) return;
    let b = this.quoted.get(value);
    if (b === undefined) {
      if (this.quoted.size >= 4096) this.quoted.clear();
      b = utf8(q(value));
      this.quoted.set(value, b);
    }
    out.bytes(key);
    out.bytes(b);
  }

  private cipherNames(suites: readonly number[]): Buffer {
    return byIdentity(this.ciphers, suites, cipherNamesJson);
  }

  private stringList(list: readonly string[]): Buffer {
    return list.length === 0 ? L.emptyList : byIdentity(this.stringLists, list, q);
  }

  /** `tls.server.hash` … `not_after` of the leaf (without braces). */
  private leafBytes(leaf: CertificateSummary): Buffer {
    return byIdentity(this.leaves, leaf, leafJson);
  }

  /** `tlsentry.x509` without `client_chain_sha1` and the closing brace. */
  private verdictBytes(v: ChainVerdict): Buffer {
    return byIdentity(this.verdicts, v, verdictJson);
  }
}

/**
 * The UTF-8 of `json(key)`, kept per object while the object cannot change:
 * the TLS and x509 stages share frozen lists, summaries and verdicts between
 * flows, so each is serialised once.
 */
function byIdentity<K extends object>(cache: WeakMap<K, Buffer>, key: K, json: (k: K) => string): Buffer {
  let b = cache.get(key);
  if (b === undefined) {
    b = utf8(json(key));
    if (Object.isFrozen(key)) cache.set(key, b);
  }
  return b;
}

function cipherNamesJson(suites: readonly number[]): string {
  return q(suites.map((c) => cipherSuiteName(c) ?? `0x${c.toString(16).padStart(4, '0')}`));
}

function leafJson(leaf: CertificateSummary): string {
  let j =
    '"hash":{"sha1":' + q(leaf.sha1.toUpperCase()) + ',"sha256":' + q(leaf.sha256.toUpperCase()) + '},"subject":' + q(leaf.subject) +
    ',"issuer":' + q(leaf.issuer);
  if (leaf.not_before !== null) j += ',"not_before":' + q(leaf.not_before);
  if (leaf.not_after !== null) j += ',"not_after":' + q(leaf.not_after);
  return j;
}

function verdictJson(v: ChainVerdict): string {
  let j =
    '{"validation_status":' + q(v.validation_status) + ',"anomalies":' + q(v.anomalies) + ',"chain_sha1":' + q(v.chain_sha1) +
    ',"completed_from_cache":' + v.completed_from_cache;
  if (v.anchor) j += ',"anchor":' + q({ kind: v.anchor.kind, subject: v.anchor.subject, sha256: v.anchor.sha256 });
  if (v.sni_matches_cert !== null && v.sni_matches_cert !== undefined) j += ',"sni_matches_cert":' + v.sni_matches_cert;
  return j;
}

/** `f.history` as a JSON string, from the flow's letter codes (letters need no escaping). */
function flowHistory(f: Flow, out: JsonLine): void {
  const n = f.histLen;
  if (n > 12) {
    out.str(f.history);
    return;
  }
  out.ensure(n + 2);
  const buf = out.buf;
  let p = out.pos;
  buf[p++] = 0x22;
  for (let i = 0; i < n; i++) buf[p++] = HISTORY_BYTES[f.historyCode(i)];
  buf[p++] = 0x22;
  out.pos = p;
}

/** ECS `source` or `destination` (after `lead`, which opens it): ip, port, and what that side sent. */
function endpoint(out: JsonLine, lead: Uint8Array, ipVersion: number, w0: number, w1: number, w2: number, w3: number, port: number, sent: TcpStream): void {
  out.bytes(lead);
  out.address(ipVersion, w0, w1, w2, w3);
  out.bytes(L.port);
  out.num(port);
  out.bytes(L.bytes);
  out.num(sent.ipBytes);
  out.bytes(L.packets);
  out.num(sent.packets);
}

function recordCounts(side: TlsSideFacts, out: JsonLine): void {
  out.num(side.handshakeRecords);
  out.bytes(L.ccs);
  out.num(side.changeCipherSpecRecords);
  out.bytes(L.alert);
  out.num(side.alertRecords);
  out.bytes(L.appData);
  out.num(side.applicationDataRecords);
  out.bytes(L.encHs);
  out.num(side.encryptedHandshakeRecords);
  out.bytes(L.heartbeat);
  out.num(side.heartbeatRecords);
}
