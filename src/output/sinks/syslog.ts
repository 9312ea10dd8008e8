/**
 * Syslog over TCP or TLS: RFC 5424 messages in RFC 6587 octet-counted frames
 * (RFC 5425 for TLS uses the same `MSG-LEN SP SYSLOG-MSG` framing).
 *
 *   <134>1 2025-06-01T12:00:00.310454Z sensor01 tlsentry 4242 tlsentry.flow [tlsentry@32473 id="ChjpcyxtVbI8"] {"ecs":…}
 *
 * PRI: facility local0 (16, configurable), severity informational (6).
 * TIMESTAMP: the event's `@timestamp` (capture time, µs), else now.
 * MSGID: the event's `event.dataset`. Structured data carries `event.id` under
 * the SD-ID `tlsentry@32473`: 32473 is the private enterprise number RFC 5612
 * reserves for documentation, to be replaced by a registered one. MSG is the
 * event's JSON line, UTF-8 without a BOM (RFC 5424 allows MSG-ANY), so a
 * collector's `%msg%` is byte for byte the line of the file sink.
 *
 * At-least-once without acknowledgements: syslog has none, and a TCP
 * write only means the bytes reached our own kernel. A batch is therefore
 * reported delivered only after its bytes have been written AND the
 * connection has then stayed up for `confirmMs` (default 1 s). A collector
 * that dies (killed, restarted, its host rebooted with a RST) closes the
 * connection; every batch written on it and not yet confirmed is reported
 * for retry and goes out again, in order, on the next connection. The SIEM
 * drops the duplicates by `event.id`. Several batches are in flight at once
 * (`maxInFlight`), so the confirmation delay costs latency, not throughput.
 * Not covered: a collector that accepts bytes and then loses them while its
 * connection stays open (use RELP or HEC for that).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { hostname as osHostname } from 'node:os';
import { TlsentryError } from '../../shared/errors.js';
import type { DeliveryOutcome, EventRecord, Transport } from './types.js';

/** RFC 5612: the enterprise number for documentation examples. */
export const SD_ID = 'tlsentry@32473';

export interface SyslogOptions {
  /** `tcp://host:port` or `tls://host:port` (default port 514 / 6514). */
  url: string;
  /** PEM CA certificates that sign the collector's certificate (TLS; without it, Node's bundled roots). */
  ca?: Buffer;
  /** Client certificate and key (PEM) when the collector asks for one. */
  cert?: Buffer;
  key?: Buffer;
  /** Name to verify in the collector's certificate (default: the URL's host). */
  servername?: string;
  /** HOSTNAME field (default: this machine's name). */
  hostname?: string;
  /** Syslog facility number (default 16, local0). */
  facility?: number;
  /** How long a connection must stay up after a batch is written before the batch counts as delivered (default 1000 ms). */
  confirmMs?: number;
  /** Connect and write timeout (default 10 s). */
  timeoutMs?: number;
  /** Batches written but not yet confirmed (default 64). */
  maxInFlight?: number;
}

export interface SyslogTarget {
  tls: boolean;
  host: string;
  port: number;
}

export function parseSyslogUrl(url: string): SyslogTarget {
  const m = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new TlsentryError('ERR_USAGE', `syslog URL must be tcp://host:port or tls://host:port, not ${url}`);
  const tls = m[1] === 'tls';
  const port = m[3] !== undefined ? Number(m[3]) : tls ? 6514 : 514;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TlsentryError('ERR_USAGE', `syslog URL ${url}: bad port`);
  return { tls, host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** Printable US-ASCII without spaces, as RFC 5424 header fields need; `-` when empty. */
function headerField(text: string, max: number): string {
  const s = text.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s.length > 0 ? s : '-';
}

function sdEscape(v: string): string {
  return v.replace(/["\\\]]/g, (c) => '\\' + c);
}

const DATASET = Buffer.from('"dataset":"');
const TIMESTAMP = Buffer.from('"@timestamp":"');
/** An ECS `@timestamp` as the events write it: RFC 5424 TIMESTAMP takes it as it is (≤ 6 fraction digits, Z). */
const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;

/** A short string field of the line (within its first bytes), or null. */
function fieldOf(line: Buffer, key: Buffer, within: number): string | null {
  const head = line.length > within ? line.subarray(0, within) : line;
  const at = head.indexOf(key);
  if (at < 0) return null;
  const start = at + key.length;
  const end = line.indexOf(0x22, start);
  if (end < 0 || end - start > 64) return null;
  return line.toString('latin1', start, end);
}

interface Pending {
  readonly n: number;
  /** When the bytes reached the kernel (0: not yet). */
  writtenAt: number;
  timer: NodeJS.Timeout | null;
  resolve: (o: DeliveryOutcome) => void;
}

export class SyslogTransport implements Transport {
  readonly kind = 'syslog';
  readonly maxInFlight: number;
  readonly target: SyslogTarget;
  private readonly o: SyslogOptions;
  private readonly prefix: string;
  private readonly confirmMs: number;
  private readonly timeoutMs: number;
  private socket: Socket | TLSSocket | null = null;
  private connecting: Promise<Socket | TLSSocket> | null = null;
  /** Batches written on the current connection and not yet confirmed, in order. */
  private pending: Pending[] = [];
  private closed = false;
  /** Connections made (tests and messages). */
  connections = 0;

  constructor(o: SyslogOptions) {
    this.o = o;
    this.target = parseSyslogUrl(o.url);
    this.confirmMs = o.confirmMs ?? 1000;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.maxInFlight = o.maxInFlight ?? 64;
    const pri = (o.facility ?? 16) * 8 + 6;
    const host = headerField(o.hostname ?? osHostname(), 255);
    this.prefix = `<${pri}>1 `;
    // HOSTNAME APP-NAME PROCID: constant for the process.
    this.fixed = ` ${host} tlsentry ${process.pid} `;
  }

  private readonly fixed: string;

  /** One record's frame: `LEN SP <PRI>1 TS HOST APP PROCID MSGID [SD] ` + line. */
  frameHeader(rec: EventRecord): Buffer {
    const ts = fieldOf(rec.line, TIMESTAMP, 256);
    const dataset = fieldOf(rec.line, DATASET, 512);
    const head = `${this.prefix}${ts !== null && TS_RE.test(ts) ? ts : new Date().toISOString()}${this.fixed}${headerField(dataset ?? 'tlsentry', 32)} [${SD_ID} id="${sdEscape(rec.id)}"] `;
    const headLen = Buffer.byteLength(head);
    return Buffer.from(`${headLen + rec.line.length} ${head}`);
  }

  /** The batch as one buffer of frames (one allocation per batch, not per record). */
  encode(batch: readonly EventRecord[]): Buffer {
    const heads = batch.map((r) => this.frameHeader(r));
    let total = 0;
    for (let i = 0; i < batch.length; i++) total += heads[i].length + batch[i].line.length;
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = 0; i < batch.length; i++) {
      off += heads[i].copy(out, off);
      off += batch[i].line.copy(out, off);
    }
    return out;
  }

  async deliver(batch: readonly EventRecord[]): Promise<DeliveryOutcome> {
    if (batch.length === 0) return { retry: [], rejected: [] };
    if (this.closed) return retryAll(batch.length, 'sink closed');
    let socket: Socket | TLSSocket;
    try {
      socket = await this.connect();
    } catch (err) {
      return retryAll(batch.length, (err as Error).message);
    }
    const bytes = this.encode(batch);
    return new Promise<DeliveryOutcome>((resolve) => {
      const p: Pending = { n: batch.length, writtenAt: 0, timer: null, resolve };
      this.pending.push(p);
      socket.write(bytes, (err) => {
        if (err || this.socket !== socket) return; // the close handler answers
        p.writtenAt = Date.now();
        p.timer = setTimeout(() => this.confirm(p, socket), this.confirmMs);
        p.timer.unref();
      });
    });
  }

  /** The connection stayed up for `confirmMs` after the batch was written. */
  private confirm(p: Pending, socket: Socket | TLSSocket): void {
    p.timer = null;
    if (this.socket !== socket) return;
    const i = this.pending.indexOf(p);
    if (i < 0) return;
    this.pending.splice(i, 1);
    p.resolve({ retry: [], rejected: [] });
  }

  private connect(): Promise<Socket | TLSSocket> {
    if (this.socket !== null) return Promise.resolve(this.socket);
    if (this.connecting !== null) return this.connecting;
    const t = this.target;
    this.connecting = new Promise<Socket | TLSSocket>((resolve, reject) => {
      let s: Socket | TLSSocket;
      const ready = t.tls ? 'secureConnect' : 'connect';
      if (t.tls) {
        const servername = this.o.servername ?? (isIP(t.host) === 0 ? t.host : undefined);
        s = tlsConnect({
          host: t.host,
          port: t.port,
          ca: this.o.ca,
          cert: this.o.cert,
          key: this.o.key,
          // Without a name (an IP address in the URL) Node checks the certificate's IP SANs.
          servername,
          rejectUnauthorized: true,
        });
      } else s = netConnect({ host: t.host, port: t.port });
      s.setNoDelay(true);
      s.setKeepAlive(true, 30_000);
      s.setTimeout(this.timeoutMs);
      const fail = (err: Error) => {
        s.destroy();
        this.connecting = null;
        reject(new Error(`${t.tls ? 'tls' : 'tcp'}://${t.host}:${t.port}: ${err.message}`));
      };
      s.once('error', fail);
      s.once('timeout', () => fail(new Error('connect timed out')));
      s.once(ready, () => {
        s.removeListener('error', fail);
        s.removeAllListeners('timeout');
        this.connecting = null;
        this.socket = s;
        this.connections++;
        const lost = (why: string) => this.lost(s, why);
        s.on('error', (err) => lost(err.message));
        s.on('timeout', () => {
          // Only a stuck write is a failure; an idle connection is fine.
          if (s.writableLength > 0) lost('write timed out');
        });
        s.on('end', () => lost('collector closed the connection'));
        s.on('close', () => lost('connection closed'));
        // A collector never sends anything; read and ignore so 'end' is seen.
        s.on('data', () => undefined);
        resolve(s);
      });
    });
    return this.connecting;
  }

  /** The connection failed: every unconfirmed batch on it goes back for retry. */
  private lost(s: Socket | TLSSocket, why: string): void {
    if (this.socket === s) this.socket = null;
    s.destroy();
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      if (p.timer !== null) clearTimeout(p.timer);
      p.resolve(retryAll(p.n, why));
    }
  }

  /**
   * Unconfirmed batches are answered "retry" (the queue keeps them for the
   * next start); with none, the connection is ended gracefully.
   */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.socket;
    if (s === null) return;
    if (this.pending.length > 0) {
      this.lost(s, 'sink closed');
      return;
    }
    this.socket = null;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 2000);
      t.unref();
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
  }
}

function retryAll(n: number, error: string): DeliveryOutcome {
  const retry = new Array<number>(n);
  for (let i = 0; i < n; i++) retry[i] = i;
  return { retry, rejected: [], error };
}
