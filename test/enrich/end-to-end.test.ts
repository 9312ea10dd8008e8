/**
 * Issue 5 end to end on this machine: the procfs agent runs, a TLS server
 * listens on loopback, openssl s_client, curl, python3 and a Node client each
 * connect once while tcpdump captures; then `read capture --endpoint …`
 * (the real pipeline) attributes every flow to the right executable, pid and
 * command line, with the TLS libraries the client really had mapped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServer } from 'node:tls';

import { runAgent } from '../../src/agent/index.js';
import { runRead } from '../../src/cli/pipeline.js';
import type { FlowEvent } from '../../src/output/schema.js';
import { makeCert, missingTools, startTcpdump, stopTcpdump, tempDir } from '../helpers/tools.js';

const skip = process.platform !== 'linux' ? 'needs Linux /proc' : process.getuid?.() !== 0 ? 'capturing on lo needs root' : missingTools('tcpdump', 'openssl', 'curl', 'python3');

test('read --endpoint attributes each captured TLS flow to its client process', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const dir = tempDir();
  const { keyPem, certPem } = makeCert(dir, 'e2e.tlsentry.test');
  // Hold each connection 300 ms: long enough for the agent's socket table to see it.
  const server = createServer({ key: keyPem, cert: certPem }, (s) => {
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    setTimeout(() => s.end('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n'), 300);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const agent = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', token: 'e2e-token', pollMs: 10 });
  const file = join(dir, 'e2e.pcap');
  const dump = await startTcpdump('lo', file, `tcp port ${port}`);

  const clients: { label: string; cmd: string; args: string[]; exe: string; lib: RegExp | null }[] = [
    { label: 'openssl', cmd: 'openssl', args: ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'e2e.tlsentry.test', '-quiet'], exe: 'openssl', lib: /libssl/ },
    { label: 'curl', cmd: 'curl', args: ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/`], exe: 'curl', lib: /libssl|libgnutls|libnss3/ },
    {
      label: 'python3',
      cmd: 'python3',
      args: ['-c', `import socket,ssl;c=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE;s=c.wrap_socket(socket.create_connection(("127.0.0.1",${port})),server_hostname="e2e.tlsentry.test");s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n");s.recv(100);s.close()`],
      exe: 'python3',
      lib: /libssl/,
    },
    {
      label: 'node',
      cmd: process.execPath,
      args: ['-e', `const t=require('tls');const s=t.connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false,servername:'e2e.tlsentry.test'},()=>s.write('GET / HTTP/1.0\\r\\n\\r\\n'));s.on('data',()=>{});s.on('end',()=>s.end());`],
      exe: 'node',
      lib: null, // Node links OpenSSL statically: no TLS library is mapped
    },
  ];
  const pids = new Map<string, number>();
  try {
    for (const c of clients) {
      const child = spawn(c.cmd, c.args, { stdio: ['pipe', 'ignore', 'ignore'] });
      pids.set(c.label, child.pid!);
      // openssl s_client waits on stdin: close it after the answer arrives
      setTimeout(() => child.stdin?.end(), 600);
      await new Promise((r) => child.on('exit', r));
    }
  } finally {
    await stopTcpdump(dump, file);
    server.close();
  }

  const out = join(dir, 'events.ndjson');
  const summary = await runRead({ inputs: [file], output: out, endpoint: { url: agent.url, token: 'e2e-token' } });
  await agent.close();
  const flows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FlowEvent).filter((e) => e.event.dataset === 'tlsentry.flow');
  assert.equal(flows.length, clients.length, 'one flow per client');
  assert.deepEqual(summary.enrichment, { enriched: clients.length });
  for (const c of clients) {
    const pid = pids.get(c.label)!;
    const ev = flows.find((f) => f.process?.pid === pid);
    assert.ok(ev, `${c.label} (pid ${pid}) attributed: got pids ${flows.map((f) => f.process?.pid).join(',')}`);
    assert.equal(ev.tlsentry.enrichment?.status, 'enriched');
    assert.ok(ev.process?.executable && realpathSync(ev.process.executable).includes(c.exe), `${c.label} executable ${ev.process?.executable}`);
    assert.ok(ev.process?.command_line?.includes(c.args[0]), `${c.label} command line ${ev.process?.command_line}`);
    const libs = ev.tlsentry.process?.tls_libraries.map((l) => l.path) ?? [];
    if (c.lib) assert.ok(libs.some((p) => c.lib!.test(p)), `${c.label} maps a TLS library: ${libs.join(', ')}`);
    assert.ok(ev.tls?.established !== undefined, `${c.label} flow has TLS fields`);
  }
});
