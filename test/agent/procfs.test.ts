/**
 * The procfs backend for real: the agent runs in-process on loopback, a Node
 * TLS server listens, and real clients (openssl s_client, curl, python3, a
 * node client) each connect once and exit. Every flow is then looked up by
 * its 5-tuple, after the client has gone: executable, pid, command line,
 * parent, user, hash, and TLS libraries that really were mapped in it
 * (captured from /proc/<pid>/maps while it ran).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';

import { runAgent, type RunningAgent } from '../../src/agent/index.js';
import type { AttributionResponse, AttributionResult, HealthResponse, ProcessResponse } from '../../src/shared/endpoint-api.js';
import { makeCert, missingTools, tempDir } from '../helpers/tools.js';
import { call, OPENAPI, REPO, spawnAgent, stopChild, tokenFile, tracefsUsable, TOKEN } from './helpers.js';
import { OpenApi } from './openapi-validator.js';

const HOLD_MS = 300;
const skip = process.platform !== 'linux' ? 'needs Linux /proc' : missingTools('openssl', 'curl', 'python3');

interface Seen {
  port: number;
  ts: string;
}

/** A TLS server that answers each connection after HOLD_MS and closes. */
async function tlsServer(): Promise<{ server: TlsServer; port: number; seen: Seen[]; onConnect: (cb: (port: number) => void) => void }> {
  const dir = tempDir();
  const { keyPem, certPem } = makeCert(dir, 'agent.test');
  const seen: Seen[] = [];
  const cbs: ((port: number) => void)[] = [];
  const server = createTlsServer({ key: keyPem, cert: certPem }, (s: TLSSocket) => {
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    setTimeout(() => s.end('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n'), HOLD_MS);
  });
  server.on('connection', (sock) => {
    seen.push({ port: sock.remotePort!, ts: new Date().toISOString() });
    for (const cb of cbs) cb(sock.remotePort!);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, seen, onConnect: (cb) => cbs.push(cb) };
}

/** Run a client; while it is connected, snapshot its /proc/<pid>/maps. */
async function runClient(cmd: string, args: string[], srv: Awaited<ReturnType<typeof tlsServer>>): Promise<{ pid: number; conn: Seen; maps: string }> {
  const before = srv.seen.length;
  let maps = '';
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const pid = child.pid!;
  srv.onConnect(() => {
    if (maps) return;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch {
      /* already gone */
    }
  });
  await new Promise<void>((res) => child.on('exit', () => res()));
  assert.equal(srv.seen.length, before + 1, `${cmd} connected once`);
  return { pid, conn: srv.seen[before], maps };
}

async function lookup(agent: RunningAgent, port: number, serverPort: number, ts: string): Promise<AttributionResult> {
  const r = await call(`${agent.url}/v1/attribution`, { body: { flows: [{ id: `c${port}`, proto: 'tcp', src_ip: '127.0.0.1', src_port: port, dst_ip: '127.0.0.1', dst_port: serverPort, ts }] } });
  assert.equal(r.status, 200, r.text);
  return (r.json as AttributionResponse).results[0];
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('procfs agent on this host: real TLS clients', { skip: skip ?? false }, () => {
  let agent: RunningAgent;
  let srv: Awaited<ReturnType<typeof tlsServer>>;
  const api = new OpenApi(OPENAPI);
  const results: AttributionResult[] = [];

  before(async () => {
    agent = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', tokenFile: tokenFile(), pollMs: 10 });
    srv = await tlsServer();
  });
  after(async () => {
    srv?.server.close();
    await agent?.close();
    const used = results.map((r) => `${r.process?.name}:${r.status}`).join(' ');
    console.log(`# procfs clients: ${results.filter((r) => r.status === 'matched').length}/${results.length} attributed after they exited (${used})`);
  });

  const common = (r: AttributionResult, pid: number, maps: string): void => {
    results.push(r);
    assert.equal(r.status, 'matched', JSON.stringify(r));
    assert.equal(r.method, 'exact_5tuple');
    assert.deepEqual(api.validate({ results: [r] }, 'AttributionResponse'), []);
    const p = r.process!;
    assert.equal(p.pid, pid);
    assert.equal(p.parent?.pid, process.pid, 'spawned by this test');
    assert.equal(p.parent?.executable, process.execPath);
    assert.equal(p.user, userInfo().username);
    assert.ok(p.start_time && Math.abs(Date.parse(p.start_time) - Date.now()) < 60_000, `start_time ${p.start_time}`);
    assert.ok(p.uid.endsWith(`-${pid}-${p.uid.split('-').pop()}`));
    assert.equal(p.hash?.sha256, sha256File(realpathSync(p.executable!)), 'sha256 of the executable');
    if (maps) {
      for (const lib of p.tls_libraries) assert.ok(maps.includes(lib.path), `${lib.path} was mapped in ${p.name}`);
    }
  };

  it('openssl s_client → /usr/bin/openssl with libssl and libcrypto mapped at exec', async () => {
    const { pid, conn, maps } = await runClient('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-quiet'], srv);
    const r = await lookup(agent, conn.port, srv.port, conn.ts);
    common(r, pid, maps);
    const p = r.process!;
    assert.equal(realpathSync(p.executable!), realpathSync('/usr/bin/openssl'));
    assert.match(p.command_line!, /^openssl s_client -connect 127\.0\.0\.1:\d+ -quiet$/);
    const ssl = p.tls_libraries.find((l) => /\/libssl\.so/.test(l.path));
    assert.ok(ssl, JSON.stringify(p.tls_libraries));
    assert.equal(ssl.category, 'tls_stack');
    assert.equal(ssl.load_time_source, 'exec', 'DT_NEEDED of /usr/bin/openssl: mapped by ld.so at exec');
    assert.equal(ssl.load_time, p.start_time);
    assert.equal(ssl.loaded_before_flow, true);
    assert.ok(p.tls_libraries.some((l) => /\/libcrypto\.so/.test(l.path) && l.category === 'crypto'));
    assert.equal(p.static_tls_stack, null);
  });

  it('curl -k → curl with libcurl and its TLS library', async () => {
    const { pid, conn, maps } = await runClient('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/`], srv);
    const r = await lookup(agent, conn.port, srv.port, conn.ts);
    common(r, pid, maps);
    const p = r.process!;
    assert.equal(p.name, 'curl');
    assert.ok(p.command_line!.includes(`https://127.0.0.1:${srv.port}/`));
    const curl = p.tls_libraries.find((l) => /libcurl/.test(l.path));
    assert.ok(curl && curl.category === 'http_stack');
    assert.equal(curl.load_time_source, 'exec', 'libcurl.so.4 (soname) ↔ libcurl.so.4.x.y (file)');
    assert.ok(p.tls_libraries.some((l) => l.category === 'tls_stack' && l.load_time_source === 'exec'), 'libssl or libgnutls through libcurl');
  });

  it('python3 ssl → the interpreter, with _ssl and libssl (loaded by import, not at exec)', async () => {
    const code = `import ssl,socket\nc=ssl._create_unverified_context()\ns=c.wrap_socket(socket.create_connection(("127.0.0.1",${srv.port})))\ns.recv(64)\ns.close()`;
    const { pid, conn, maps } = await runClient('python3', ['-c', code], srv);
    const r = await lookup(agent, conn.port, srv.port, conn.ts);
    common(r, pid, maps);
    const p = r.process!;
    assert.match(p.name!, /^python3/);
    assert.ok(p.command_line!.includes('import ssl,socket'));
    const mod = p.tls_libraries.find((l) => /_ssl\..*\.so$/.test(l.path));
    assert.ok(mod && mod.category === 'tls_stack', JSON.stringify(p.tls_libraries));
    assert.notEqual(mod.load_time_source, 'exec', 'the ssl module is dlopen()ed by import');
    assert.ok(p.tls_libraries.some((l) => /\/libssl\.so/.test(l.path)));
  });

  it('node tls client → node, no TLS library mapped, static OpenSSL recognised', async () => {
    const code = `const t=require('tls');const s=t.connect(${srv.port},'127.0.0.1',{rejectUnauthorized:false});s.on('data',()=>s.end());s.on('error',()=>{})`;
    const { pid, conn, maps } = await runClient(process.execPath, ['-e', code], srv);
    const r = await lookup(agent, conn.port, srv.port, conn.ts);
    common(r, pid, maps);
    const p = r.process!;
    assert.equal(p.executable, process.execPath);
    assert.deepEqual(p.tls_libraries.filter((l) => l.category === 'tls_stack'), [], 'node links OpenSSL statically');
    assert.equal(p.static_tls_stack, 'openssl-static');
  });

  it('GET /v1/processes/{uid} pages through every mapped file; responses conform to the OpenAPI schemas', async () => {
    const r = results.find((x) => x.process?.name === 'openssl');
    assert.ok(r);
    const uid = r.process!.uid;
    const page = await call(`${agent.url}/v1/processes/${encodeURIComponent(uid)}?limit=2`);
    assert.equal(page.status, 200);
    assert.deepEqual(api.validate(page.json, 'ProcessResponse'), []);
    const j = page.json as ProcessResponse;
    assert.equal(j.modules.length, 2);
    assert.ok(j.page.total > 4, 'the executable, ld.so, libc, libssl, libcrypto, …');
    assert.ok(j.page.next_cursor);
    const health = await call(`${agent.url}/v1/health`);
    assert.deepEqual(api.validate(health.json, 'HealthResponse'), []);
    const h = health.json as HealthResponse;
    assert.equal(h.backends[0].name, 'procfs');
    assert.ok(h.backends[0].lag_seconds! < 5);
  });

  it('a 5-tuple never seen is not_found; foreign addresses are host_unknown', async () => {
    const ts = new Date().toISOString();
    const r = await call(`${agent.url}/v1/attribution`, {
      body: {
        flows: [
          { id: 'nf', proto: 'tcp', src_ip: '127.0.0.1', src_port: 1, dst_ip: '127.0.0.1', dst_port: 2, ts },
          { id: 'hu', proto: 'tcp', src_ip: '198.51.100.1', src_port: 1000, dst_ip: '203.0.113.2', dst_port: 443, ts },
        ],
      },
    });
    const [nf, hu] = (r.json as AttributionResponse).results;
    assert.equal(nf.status, 'not_found');
    assert.equal(hu.status, 'host_unknown');
    assert.deepEqual(api.validate(r.json, 'AttributionResponse'), []);
  });

  it('a Go server with a static crypto/tls (esbuild serve over HTTPS) → static_tls_stack go, on an inbound flow to its listener', async () => {
    const esbuild = join(REPO, 'node_modules/@esbuild/linux-x64/bin/esbuild');
    if (spawnSync(esbuild, ['--version']).status !== 0) return;
    const dir = tempDir();
    const { key, cert } = makeCert(dir, 'esbuild.test');
    mkdirSync(join(dir, 'www'));
    writeFileSync(join(dir, 'www/index.html'), 'hi');
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const child = spawn(esbuild, [`--serve=127.0.0.1:${port}`, `--servedir=${join(dir, 'www')}`, `--keyfile=${key}`, `--certfile=${cert}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      // wait until it serves HTTPS
      for (let i = 0; i < 100; i++) {
        if (spawnSync('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/`]).status === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 50));
      const ts = new Date().toISOString();
      const resp = await call(`${agent.url}/v1/attribution`, { body: { flows: [{ id: 'go', proto: 'tcp', src_ip: '198.51.100.20', src_port: 40000, dst_ip: '127.0.0.1', dst_port: port, ts }] } });
      const r = (resp.json as AttributionResponse).results[0];
      assert.equal(r.status, 'matched', JSON.stringify(r));
      assert.equal(r.method, 'socket_table');
      assert.equal(r.process!.pid, child.pid);
      assert.equal(r.process!.name, 'esbuild');
      assert.equal(r.process!.static_tls_stack, 'go');
      assert.deepEqual(r.process!.tls_libraries, [], 'Go loads no TLS library');
    } finally {
      await stopChild(child);
    }
  });
});

describe('procfs agent with the ftrace event source (tracefs in a private mount namespace)', { skip: skip ?? (tracefsUsable() ? false : 'tracefs cannot be mounted here (needs root and unshare)') }, () => {
  it('connections that open and close at once are all attributed, with polling at 1 s', async () => {
    const { child, url } = await spawnAgent(['--backend', 'procfs', '--listen', '127.0.0.1:0', '--token-file', tokenFile(), '--ftrace', 'on', '--poll-ms', '1000'], {
      wrap: ['unshare', '-m', 'sh', '-c', 'mount -t tracefs nodev /sys/kernel/tracing && exec "$0" "$@"'],
    });
    const seen: Seen[] = [];
    const server = createNetServer((s) => {
      seen.push({ port: s.remotePort!, ts: new Date().toISOString() });
      s.on('error', () => undefined);
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const N = 20;
      const code = `import socket\nfor i in range(${N}):\n    socket.create_connection(("127.0.0.1",${port})).close()`;
      const py = spawn('python3', ['-c', code], { stdio: 'ignore' });
      await new Promise<void>((r) => py.on('exit', () => r()));
      // The accepts reach this event loop late on a loaded machine: wait for them (5 s at most).
      for (let waited = 0; seen.length < N && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      assert.equal(seen.length, N);
      const flows = seen.map((s, i) => ({ id: `f${i}`, proto: 'tcp', src_ip: '127.0.0.1', src_port: s.port, dst_ip: '127.0.0.1', dst_port: port, ts: s.ts }));
      const r = await call(`${url}/v1/attribution`, { body: { flows }, token: TOKEN });
      const res = (r.json as AttributionResponse).results;
      const ok = res.filter((x) => x.status === 'matched' && x.process!.pid === py.pid && /^python3/.test(x.process!.name ?? ''));
      console.log(`# ftrace: ${ok.length}/${N} connect+close flows (lifetime < 1 ms) attributed with 1 s polling`);
      assert.equal(ok.length, N, JSON.stringify(res.filter((x) => x.status !== 'matched')));
      const h = await call(`${url}/v1/health`);
      assert.match((h.json as HealthResponse).backends[0].event_source!, /ftrace/);
    } finally {
      server.close();
      await stopChild(child);
    }
  });
});
