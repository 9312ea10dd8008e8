/**
 * Helpers for tests that drive real system tools (tcpdump, tshark, openssl).
 * A test that needs a tool skips, naming the Debian package, only when the
 * tool is absent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

/** Debian package that provides each tool. */
const PACKAGES: Record<string, string> = {
  tshark: 'tshark',
  tcpdump: 'tcpdump',
  openssl: 'openssl',
  curl: 'curl',
  editcap: 'wireshark-common',
  ip: 'iproute2',
  git: 'git',
  ndpiReader: 'libndpi-bin',
};

/** A reason to skip, or null when every tool is present. */
export function missingTools(...tools: string[]): string | null {
  const missing = tools.filter((t) => !have(t));
  if (missing.length === 0) return null;
  return `needs ${missing.map((t) => `${t} (Debian package ${PACKAGES[t] ?? t})`).join(', ')}`;
}

/** Directories made by `tempDir` in this process: removed when it exits (each test file is a process). */
const made: string[] = [];

/** A fresh directory under the system's temporary directory, removed with everything in it when the test process exits. */
export function tempDir(prefix = 'tlsentry-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.on('exit', removeMade);
  made.push(dir);
  return dir;
}

function removeMade(): void {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // still a mount point (a test that mounted a tmpfs there and failed): leave it
    }
  }
}

/** A throwaway self-signed EC certificate made with openssl. */
export function makeCert(dir: string, cn = 'test.tlsentry.local'): { key: string; cert: string; keyPem: Buffer; certPem: Buffer } {
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { key, cert, keyPem: readFileSync(key), certPem: readFileSync(cert) };
}

/** Start tcpdump and resolve once it is listening. */
export async function startTcpdump(iface: string, file: string, filter: string): Promise<ChildProcess> {
  const p = spawn('tcpdump', ['-Z', 'root', '--immediate-mode', '-B', '32768', '-i', iface, '-s', '0', '-U', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    (p as ChildProcess & { stderrText?: string }).stderrText = err;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    p.stderr!.on('data', () => {
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited ${code}: ${err}`));
    });
  });
  return p;
}

/**
 * Stop tcpdump cleanly (it flushes on SIGINT) after letting the last packets
 * arrive. Returns the packets the kernel dropped (a capture with drops cannot
 * be compared byte for byte: callers retry).
 */
export async function stopTcpdump(p: ChildProcess, file?: string): Promise<number> {
  // Under load tcpdump lags: wait until the file stops growing before stopping it.
  let last = -1;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const size = file ? statSync(file, { throwIfNoEntry: false })?.size ?? 0 : 0;
    if (size === last) break;
    last = size;
  }
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGINT');
  await exited;
  const text = (p as ChildProcess & { stderrText?: string }).stderrText ?? '';
  const m = /(\d+) packets? dropped by kernel/.exec(text);
  return m ? Number(m[1]) : 0;
}

export function writeTemp(dir: string, name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

export interface TsharkStream {
  stream: number;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** First packet time, microseconds since the epoch (exact: tshark prints nanoseconds). */
  firstMicros: number;
  clientPayload: number;
  serverPayload: number;
  clientPackets: number;
  serverPackets: number;
}

/**
 * Per-TCP-stream payload bytes and packets in each direction, as tshark
 * counts them (tcp.len summed; the client is the SYN sender, else the first sender).
 */
export function tsharkStreams(file: string, extraArgs: string[] = []): TsharkStream[] {
  const r = spawnSync(
    'tshark',
    ['-n', '-r', file, ...extraArgs, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=,', '-e', 'tcp.stream', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport', '-e', 'tcp.len', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'frame.time_epoch'],
    { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  const streams = new Map<number, TsharkStream>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [st, s4, s6, sp, d4, d6, dp, len, syn, ack, time] = line.split(',');
    const id = Number(st);
    const src = s4 || s6, dst = d4 || d6;
    let s = streams.get(id);
    if (!s) {
      const synOnly = syn === '1' && ack === '0';
      const synAck = syn === '1' && ack === '1';
      const senderIsClient = synOnly || !synAck;
      s = {
        stream: id,
        clientIp: senderIsClient ? src : dst,
        clientPort: Number(senderIsClient ? sp : dp),
        serverIp: senderIsClient ? dst : src,
        serverPort: Number(senderIsClient ? dp : sp),
        firstMicros: epochToMicros(time),
        clientPayload: 0,
        serverPayload: 0,
        clientPackets: 0,
        serverPackets: 0,
      };
      streams.set(id, s);
    }
    const fromClient = src === s.clientIp && Number(sp) === s.clientPort;
    if (fromClient) {
      s.clientPayload += Number(len);
      s.clientPackets++;
    } else {
      s.serverPayload += Number(len);
      s.serverPackets++;
    }
  }
  return [...streams.values()].sort((a, b) => a.stream - b.stream);
}

/** "1748781000.310454000" → 1748781000310454 without floating-point loss. */
export function epochToMicros(text: string): number {
  const [sec, frac = ''] = text.split('.');
  return Number(sec) * 1e6 + Number((frac + '000000').slice(0, 6));
}

/** An ECS timestamp with microseconds ("2025-06-01T12:30:00.310454Z") → microseconds. */
export function isoToMicros(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (!m) throw new Error(`not an ISO timestamp: ${text}`);
  return Date.parse(m[1] + 'Z') * 1000 + Number(((m[2] ?? '') + '000000').slice(0, 6));
}
