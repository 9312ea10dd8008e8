/**
 * Helpers for the AN0759 scenario suite on this machine (scenarios.test.ts):
 * a small PKI made with openssl, HTTPS servers on loopback aliases, real
 * client processes, `tlsentry read` run as the CLI, and the NDJSON events it
 * writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

const REPO = join(import.meta.dirname, '..', '..');
const MAIN_TS = join(REPO, 'src/cli/main.ts');

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const serial = (): string => `0x${Buffer.from(Array.from({ length: 8 }, () => Math.floor(Math.random() * 256))).toString('hex')}`;

export interface Issued {
  key: string;
  cert: string;
  /** PEM of the certificate (for a CA: the bundle to trust). */
  pem: string;
}

/** A self-signed CA (`subj` like `/O=Example/CN=Root`). */
export function makeCa(dir: string, name: string, subj: string): Issued {
  const key = join(dir, `${name}.key`), cert = join(dir, `${name}.pem`);
  openssl(['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '3650', '-subj', subj, '-set_serial', serial(),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
  return { key, cert, pem: readFileSync(cert, 'utf8') };
}

/** A certificate signed by `issuer`: an intermediate CA (`ca: true`) or a server leaf for `dns`. */
export function issue(dir: string, name: string, issuer: Issued, o: { subj: string; dns?: string; ca?: boolean }): Issued {
  const key = join(dir, `${name}.key`), csr = join(dir, `${name}.csr`), cert = join(dir, `${name}.pem`), ext = join(dir, `${name}.ext`);
  openssl(['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', o.subj]);
  const lines = o.ca
    ? ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign']
    : ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=DNS:${o.dns}`];
  writeFileSync(ext, ['[v3]', ...lines, 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid', ''].join('\n'));
  openssl(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', serial(), '-days', o.ca ? '1825' : '365', '-out', cert, '-extfile', ext, '-extensions', 'v3']);
  return { key, cert, pem: readFileSync(cert, 'utf8') };
}

/** A self-signed server certificate for `dns` (what `openssl req -x509` gives an attacker's server). */
export function selfSigned(dir: string, name: string, dns: string): Issued {
  const key = join(dir, `${name}.key`), cert = join(dir, `${name}.pem`);
  openssl(['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '365', '-subj', `/CN=${dns}`, '-set_serial', serial(), '-addext', `subjectAltName=DNS:${dns}`]);
  return { key, cert, pem: readFileSync(cert, 'utf8') };
}

export interface SiteStats {
  /** Requests served: method, path, request body bytes, response body bytes, SNI. */
  requests: { method: string; path: string; bytesIn: number; bytesOut: number; sni: string | null }[];
}

/**
 * An HTTPS server on `ip:port` (TLS 1.2 at most: a passive sensor sees the
 * certificate chain only before TLS 1.3). `GET /file?bytes=N` answers N
 * bytes; `POST` reads the body and answers a short line. Every answer waits
 * until the request is `holdMs` old, so each connection lives across several
 * of the agent's socket-table polls, and closes the connection.
 */
export async function startSite(o: { ip: string; port: number; key: string; certChain: string; holdMs: number }): Promise<{ server: Server; stats: SiteStats; close(): Promise<void> }> {
  const stats: SiteStats = { requests: [] };
  const server = createServer({ key: readFileSync(o.key), cert: o.certChain, maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' }, (req, res) => {
    const t0 = Date.now();
    let bytesIn = 0;
    req.on('data', (d: Buffer) => (bytesIn += d.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://x');
      const n = req.method === 'GET' ? Math.min(Number(url.searchParams.get('bytes') ?? 0) || 0, 64 << 20) : 0;
      const body = req.method === 'GET' ? Buffer.alloc(n, 0x61) : Buffer.from(`stored ${bytesIn}\n`);
      stats.requests.push({ method: req.method ?? '', path: url.pathname, bytesIn, bytesOut: body.length, sni: (req.socket as TLSSocket).servername || null });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, connection: 'close' });
        res.end(body);
      }, Math.max(0, o.holdMs - (Date.now() - t0)));
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`${o.ip}:${o.port} is in use: the scenario suite needs it free`) : e),
    );
    server.listen(o.port, o.ip, () => resolve());
  });
  return {
    server,
    stats,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

export interface ClientRun {
  pid: number;
  code: number | null;
  stderr: string;
}

/** Run a client to completion (input on its standard input, if any); fails on a non-zero exit. */
export async function runClient(cmd: string, args: string[], o: { stdin?: string; timeoutMs?: number } = {}): Promise<ClientRun> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(o.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`);
  return { pid: child.pid!, code, stderr };
}

/** The fields of the events the suite reads (the output schema has more). */
export interface Ev {
  event: { dataset: string; id: string };
  source?: { ip?: string; port?: number };
  destination: { ip: string; port: number; domain?: string };
  process?: { pid: number; executable?: string; name?: string; command_line?: string };
  tls?: { version?: string; client?: { server_name?: string } };
  tlsentry: {
    enrichment?: { status: string };
    x509?: { validation_status: string; anchor?: { kind: string; subject: string } };
    alert?: {
      id: string;
      phase: 'first' | 'summary';
      score: number;
      threshold: number;
      rules: string[];
      evidence: { rule: string; weight: number; summary: string; evidence: Record<string, unknown> }[];
      count: number;
    };
  };
}

export interface ReadResult {
  flows: Ev[];
  alerts: Ev[];
  stderr: string;
}

/** `tlsentry read` as the CLI (through tsx), NDJSON to `out`. */
export async function tlsentryRead(args: string[], out: string): Promise<ReadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN_TS, 'read', ...args, '-o', out], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  if (code !== 0) throw new Error(`tlsentry read ${args.join(' ')} exited ${code}: ${stderr}`);
  const events = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
  return {
    flows: events.filter((e) => e.event.dataset === 'tlsentry.flow'),
    alerts: events.filter((e) => e.event.dataset === 'tlsentry.alert'),
    stderr,
  };
}

/** A Markdown table. */
export function markdownTable(head: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}
