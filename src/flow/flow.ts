import type { StreamParser } from './stream-parser.js';
import { TcpStream } from './tcp-stream.js';

/** Why a flow's event was written. */
export type FlowEndReason =
  | 'fin' // both sides sent FIN
  | 'rst' // a RST
  | 'idle_timeout'
  | 'tuple_reuse' // a new SYN on the same 4-tuple before the old flow closed
  | 'evicted' // the table was full
  | 'end_of_input'
  | 'interrupted'; // the sensor was stopped (SIGINT/SIGTERM)

/** How the client (originator) side was decided. */
export type ClientBy = 'syn' | 'syn_ack' | 'tls_client_hello' | 'tls_server_hello' | 'port';

export const FLOW_OPEN = 0;
export const FLOW_CLOSED = 1;

/**
 * One TCP connection. "Client" is the originator (Zeek's orig, ECS source),
 * "server" the responder. Stream 0 carries client → server bytes.
 */
export class Flow {
  /** Sequence number within the run, for stable ordering and ids (set again when the table reuses the object). */
  serial: number;
  ipVersion: number;
  c0: number; c1: number; c2: number; c3: number;
  s0: number; s1: number; s2: number; s3: number;
  cPort: number;
  sPort: number;
  vlanId: number;
  clientBy: ClientBy = 'port';

  firstTs: number;
  lastTs: number;
  state = FLOW_OPEN;
  endReason: FlowEndReason = 'end_of_input';

  /** toServer = client's bytes, toClient = server's bytes. */
  toServer: TcpStream;
  toClient: TcpStream;
  parser: StreamParser | null = null;
  /** Payload seen in either direction (fixes the orientation for good). */
  sawPayload = false;
  /** The id under which a later stage asked about this flow (the endpoint API), if any. */
  externalId: string | null = null;

  /**
   * Zeek-style history, letters in order of first occurrence (`history`),
   * kept as letter codes (indexes into HISTORY_TEXT, 5 bits each): the first
   * six in `hist0`, the next six in `hist1`, any further ones as text in
   * `histTail`. No string is made per letter; the flow event writes the codes.
   */
  hist0 = 0;
  hist1 = 0;
  histLen = 0;
  histTail = '';
  private historyMask = 0;

  // table links (owned by FlowTable)
  hash = 0;
  bucketNext: Flow | null = null;
  lruPrev: Flow | null = null;
  lruNext: Flow | null = null;
  inClosedList = false;
  /** The table ended the flow (its event may still be pending); only then may it be released for reuse. */
  ended = false;

  constructor(serial: number, ts: number, ipVersion: number) {
    this.serial = serial;
    this.firstTs = ts;
    this.lastTs = ts;
    this.ipVersion = ipVersion;
    this.c0 = this.c1 = this.c2 = this.c3 = 0;
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.cPort = this.sPort = 0;
    this.vlanId = 0;
    this.toServer = new TcpStream(0);
    this.toClient = new TcpStream(1);
  }

  /**
   * Back to the state of `new Flow(serial, ts, ipVersion)`, its streams
   * included: the FlowTable reuses ended flows (see `FlowTable.release`).
   * test/flow/flow-pool.test.ts checks a reset flow against a new one, so a
   * field added without a line here fails it.
   *
   * Why the initialisers are not replaced by calling this from the
   * constructor (nor, in the TLS stage, the literals of `newSide` and
   * `makeSessionFacts` by their reset functions): V8 sizes an object's
   * in-object fields from what its constructor and initialisers assign.
   * Fields first assigned in a called method land out of object from the
   * eleventh on (checked with %DebugPrint on Node 20), an extra load on every
   * hot-path access.
   */
  reset(serial: number, ts: number, ipVersion: number): void {
    this.serial = serial;
    this.ipVersion = ipVersion;
    this.c0 = this.c1 = this.c2 = this.c3 = 0;
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.cPort = this.sPort = 0;
    this.vlanId = 0;
    this.clientBy = 'port';
    this.firstTs = ts;
    this.lastTs = ts;
    this.state = FLOW_OPEN;
    this.endReason = 'end_of_input';
    this.toServer.reset(0);
    this.toClient.reset(1);
    this.parser = null;
    this.sawPayload = false;
    this.externalId = null;
    this.hist0 = 0;
    this.hist1 = 0;
    this.histLen = 0;
    this.histTail = '';
    this.historyMask = 0;
    this.hash = 0;
    this.bucketNext = null;
    this.lruPrev = null;
    this.lruNext = null;
    this.inClosedList = false;
    this.ended = false;
  }

  /** Swap client and server (only before any payload was delivered). */
  flip(): void {
    let t = this.c0; this.c0 = this.s0; this.s0 = t;
    t = this.c1; this.c1 = this.s1; this.s1 = t;
    t = this.c2; this.c2 = this.s2; this.s2 = t;
    t = this.c3; this.c3 = this.s3; this.s3 = t;
    t = this.cPort; this.cPort = this.sPort; this.sPort = t;
    const s = this.toServer;
    this.toServer = this.toClient;
    this.toClient = s;
    this.toServer.dir = 0;
    this.toClient.dir = 1;
    // History letters were recorded with the old roles: swap their case.
    const codes: number[] = [];
    for (let i = 0; i < this.histLen; i++) codes.push(swapCase(this.historyCode(i)));
    this.hist0 = this.hist1 = this.histLen = 0;
    this.histTail = '';
    for (const c of codes) this.pushHistory(c);
    this.historyMask = ((this.historyMask & 0xffff) << 16) | (this.historyMask >>> 16);
    this.addHistory(0, HIST_FLIPPED);
  }

  /**
   * Record a history letter for a direction once (Zeek semantics: upper case
   * for the originator). Repeating letters (t, g, w) use `addRepeat`.
   */
  addHistory(dir: number, letter: number): void {
    const bit = 1 << (letter + (dir === 0 ? 0 : 16));
    if ((this.historyMask & bit) !== 0) return;
    this.historyMask |= bit;
    this.pushHistory(letter === HIST_FLIPPED || dir !== 0 ? letter : letter + UPPER);
  }

  /** Zeek logs t, g, w at the 1st, 10th, 100th … occurrence. */
  addRepeat(dir: number, letter: number, count: number): void {
    if (count === 1 || count === 10 || count === 100 || count === 1000 || count === 10000 || count === 100000) {
      this.pushHistory(dir === 0 ? letter + UPPER : letter);
    }
  }

  private pushHistory(code: number): void {
    const n = this.histLen++;
    if (n < 6) this.hist0 |= code << (5 * n);
    else if (n < 12) this.hist1 |= code << (5 * (n - 6));
    else this.histTail += HISTORY_TEXT[code];
  }

  /** The code of history letter `i` (below `histLen`): an index into HISTORY_TEXT / HISTORY_BYTES. */
  historyCode(i: number): number {
    if (i < 6) return (this.hist0 >>> (5 * i)) & 31;
    if (i < 12) return (this.hist1 >>> (5 * (i - 6))) & 31;
    return HISTORY_TEXT.indexOf(this.histTail[i - 12]);
  }

  /** Zeek-style history: letters in order of first occurrence (upper case for the originator). */
  get history(): string {
    let h = '';
    for (let i = 0; i < this.histLen && i < 12; i++) h += HISTORY_TEXT[this.historyCode(i)];
    return h + this.histTail;
  }

  get clientPort(): number {
    return this.cPort;
  }

  get serverPort(): number {
    return this.sPort;
  }

  get packets(): number {
    return this.toServer.packets + this.toClient.packets;
  }

  /** Producer-consumer ratio on payload bytes: +1 pure upload, -1 pure download. */
  pcr(): number {
    const out = this.toServer.maxRel, inn = this.toClient.maxRel;
    const total = out + inn;
    return total === 0 ? 0 : Math.round(((out - inn) / total) * 10000) / 10000;
  }
}

// History letter indexes (bits 0..15 per direction).
export const HIST_SYN = 0;
export const HIST_SYNACK = 1;
export const HIST_ACK = 2;
export const HIST_DATA = 3;
export const HIST_FIN = 4;
export const HIST_RST = 5;
export const HIST_RETRANS = 6;
export const HIST_GAP = 7;
export const HIST_ZEROWIN = 8;
export const HIST_FLIPPED = 9;
/** History letters by code: the letter indexes above in lower case, then (from UPPER) in upper case. */
export const HISTORY_TEXT = 'shadfrtgw^SHADFRTGW';
/** HISTORY_TEXT as ASCII codes (the flow event writes these). */
export const HISTORY_BYTES: Uint8Array = Uint8Array.from(HISTORY_TEXT, (c) => c.charCodeAt(0));
const UPPER = 10;

function swapCase(code: number): number {
  return code === HIST_FLIPPED ? code : code < UPPER ? code + UPPER : code - UPPER;
}
