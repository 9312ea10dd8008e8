/**
 * Helpers for the sink tests: a transport that fails on command, an RFC 6587
 * octet-counting parser, a CA + server certificate, and a real rsyslogd
 * started as a foreground child with its own config, work dir and ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import type { DeliveryOutcome, EventRecord, Transport } from '../../../src/output/sinks/types.js';
import { have } from '../../helpers/tools.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function rec(i: number, size = 0): EventRecord {
  const pad = size > 0 ? ',"pad":"' + 'p'.repeat(size) + '"' : '';
  return { id: `id-${i}`, line: Buffer.from(`{"event":{"id":"id-${i}","dataset":"tlsentry.test"},"n":${i}${pad}}`) };
}

/**
 * A transport in this process whose behaviour the test sets: `up` (deliver),
 * `down` (retry everything), or a function per batch. Records what it got.
 */
export class TestTransport implements Transport {
  readonly kind = 'test';
  mode: 'up' | 'down' | ((batch: readonly EventRecord[]) => DeliveryOutcome) = 'up';
  delayMs = 0;
  /** Per-call delay (1-based call number), overriding `delayMs`. */
  delayFor: ((call: number) => number) | null = null;
  maxInFlight?: number;
  readonly delivered: string[] = [];
  readonly batches: number[] = [];
  calls = 0;
  callTimes: number[] = [];
  closed = false;

  async deliver(batch: readonly EventRecord[]): Promise<DeliveryOutcome> {
    const call = ++this.calls;
    this.callTimes.push(Date.now());
    this.batches.push(batch.length);
    const delay = this.delayFor !== null ? this.delayFor(call) : this.delayMs;
    if (delay > 0) await sleep(delay);
    const m = this.mode;
    if (m === 'down') return { retry: batch.map((_, i) => i), rejected: [], error: 'test: down' };
    const o = m === 'up' ? { retry: [], rejected: [] } : m(batch);
    const skip = new Set([...o.retry, ...o.rejected.map((r) => r.index)]);
    batch.forEach((r, i) => {
      if (!skip.has(i)) this.delivered.push(r.id);
    });
    return o;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** RFC 6587 §3.4.1 octet-counted frames → the messages (throws on a bad frame). */
export function parseOctetCounted(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw new Error(`no SP after MSG-LEN at ${off}`);
    const lenText = buf.toString('latin1', off, sp);
    if (!/^[1-9]\d*$/.test(lenText)) throw new Error(`bad MSG-LEN ${JSON.stringify(lenText)} at ${off}`);
    const len = Number(lenText);
    if (sp + 1 + len > buf.length) throw new Error(`frame at ${off} runs past the end`);
    out.push(buf.subarray(sp + 1, sp + 1 + len));
    off = sp + 1 + len;
  }
  return out;
}

/** RFC 5424: `<PRI>1 TS HOST APP PROCID MSGID SD SP MSG` → its parts (SD parsed for our one element). */
export function parse5424(msg: Buffer): { pri: number; ts: string; host: string; app: string; procid: string; msgid: string; id: string; body: Buffer } {
  const text = msg.toString('utf8');
  const m = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[tlsentry@32473 id="((?:[^"\\\]]|\\["\\\]])*)"\] /.exec(text);
  if (!m) throw new Error(`not an RFC 5424 message of ours: ${text.slice(0, 200)}`);
  const headLen = Buffer.byteLength(m[0]);
  return { pri: Number(m[1]), ts: m[2], host: m[3], app: m[4], procid: m[5], msgid: m[6], id: m[7].replace(/\\(.)/g, '$1'), body: msg.subarray(headLen) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A test CA and a server certificate for 127.0.0.1 / localhost it signed. */
export function makeCa(dir: string): { ca: string; cert: string; key: string; otherCa: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=tlsentry test syslog CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '30', '-extfile', 'ext.cnf']);
  run(['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other-ca.pem', '-days', '30', '-subj', '/CN=some other CA']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), otherCa: join(dir, 'other-ca.pem') };
}

export function missingRsyslog(tls: boolean): string | null {
  if (!have('rsyslogd')) return 'needs rsyslogd (Debian package rsyslog)';
  if (!have('openssl')) return 'needs openssl (Debian package openssl)';
  if (tls && !existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so') && !spawnSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_ossl.so']).stdout?.length) {
    return 'needs rsyslog TLS (Debian package rsyslog-openssl)';
  }
  return null;
}

/**
 * rsyslogd in the foreground with its own config: a plain TCP and a TLS
 * input on 127.0.0.1, `%msg%` of every message to `out` (one per line) and
 * `%structured-data%` to `sd`. Octet-counted frames, messages up to 256 KiB,
 * control characters kept as they are.
 */
export class Rsyslog {
  readonly out: string;
  readonly sd: string;
  private proc: ChildProcess | null = null;
  private readonly conf: string;
  private readonly pidFile: string;
  stderr = '';

  constructor(
    readonly dir: string,
    readonly tcpPort: number,
    readonly tlsPort: number,
    tls: { ca: string; cert: string; key: string } | null,
  ) {
    mkdirSync(join(dir, 'work'), { recursive: true });
    this.out = join(dir, 'msg.ndjson');
    this.sd = join(dir, 'sd.txt');
    this.conf = join(dir, 'rsyslog.conf');
    this.pidFile = join(dir, 'rsyslogd.pid');
    const g = [`workDirectory="${join(dir, 'work')}"`, 'maxMessageSize="256k"', 'parser.escapeControlCharactersOnReceive="off"'];
    if (tls) g.push(`defaultNetstreamDriverCAFile="${tls.ca}"`, `defaultNetstreamDriverCertFile="${tls.cert}"`, `defaultNetstreamDriverKeyFile="${tls.key}"`);
    writeFileSync(
      this.conf,
      [
        `global(${g.join(' ')})`,
        'module(load="imtcp" maxSessions="200")',
        'template(name="msgonly" type="string" string="%msg%\\n")',
        'template(name="sdonly" type="string" string="%structured-data%\\n")',
        'ruleset(name="in") {',
        `  action(type="omfile" file="${this.out}" template="msgonly")`,
        `  action(type="omfile" file="${this.sd}" template="sdonly")`,
        '}',
        `input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="in")`,
        tls ? `input(type="imtcp" address="127.0.0.1" port="${tlsPort}" ruleset="in" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")` : '',
        '',
      ].join('\n'),
    );
  }

  async start(): Promise<void> {
    this.proc = spawn('rsyslogd', ['-n', '-f', this.conf, '-i', this.pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) throw new Error(`rsyslogd exited ${this.proc.exitCode}: ${this.stderr}`);
      if (await canConnect(this.tcpPort)) return;
      await sleep(50);
    }
    throw new Error(`rsyslogd did not listen on ${this.tcpPort}: ${this.stderr}`);
  }

  /** SIGKILL (a crash) or SIGTERM; resolves when it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await exited;
    this.proc = null;
  }

  lines(): string[] {
    if (!existsSync(this.out)) return [];
    const t = readFileSync(this.out, 'utf8');
    return t === '' ? [] : t.slice(0, t.endsWith('\n') ? -1 : undefined).split('\n');
  }

  /** Wait until `n` lines arrived (or the time is up); returns them. */
  async waitLines(n: number, ms = 15_000): Promise<string[]> {
    const until = Date.now() + ms;
    let l = this.lines();
    while (l.length < n && Date.now() < until) {
      await sleep(50);
      l = this.lines();
    }
    return l;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
