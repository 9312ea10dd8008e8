/**
 * Helpers for the enrichment tests: a synthetic Sysmon event directory (so a
 * real agent has something to answer), queries for it, and a fake agent
 * whose answers a test scripts (slow, malformed, failing).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import type { AttributionQuery, AttributionResult } from '../../src/shared/endpoint-api.js';
import { tempDir } from '../helpers/tools.js';

export const HOST_IP = '10.20.30.40';
export const BASE_MS = Date.parse('2024-06-01T12:00:00.000Z');

/** A directory with one Sysmon EID 1 and `n` EID 3 events (local ports 20000 + i, one every 10 ms). */
export function syntheticSysmon(n: number): string {
  const dir = tempDir('tlsentry-enrich-');
  const guid = '{bbbbbbbb-2222-665b-0000-000000000001}';
  const t = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  const lines = [
    JSON.stringify({ EventID: 1, Hostname: 'SYN01', UtcTime: t(BASE_MS - 60_000), ProcessGuid: guid, ProcessId: '4242', Image: 'C:\\beacon.exe', CommandLine: 'beacon.exe', User: 'EX\\eve', ParentProcessId: '1', ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'explorer.exe' }),
    JSON.stringify({ EventID: 7, Hostname: 'SYN01', UtcTime: t(BASE_MS - 59_000), ProcessGuid: guid, ProcessId: '4242', Image: 'C:\\beacon.exe', ImageLoaded: 'C:\\Windows\\System32\\schannel.dll', Signed: 'true', Signature: 'Microsoft Windows' }),
  ];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({ EventID: 3, Hostname: 'SYN01', UtcTime: t(BASE_MS + i * 10), ProcessGuid: guid, ProcessId: '4242', Image: 'C:\\beacon.exe', Protocol: 'tcp', Initiated: 'true', SourceIp: HOST_IP, SourcePort: String(20000 + i), DestinationIp: '198.51.100.80', DestinationPort: '443' }),
    );
  }
  writeFileSync(join(dir, 'events.jsonl'), lines.join('\n') + '\n');
  return dir;
}

/** Query `i` of the synthetic data (matched), or of an unknown host when `foreign`. */
export function query(i: number, opts: { foreign?: boolean; id?: string } = {}): AttributionQuery {
  return {
    id: opts.id ?? `q${i}`,
    proto: 'tcp',
    src_ip: opts.foreign ? '192.0.2.1' : HOST_IP,
    src_port: 20000 + (i % 40000),
    dst_ip: '198.51.100.80',
    dst_port: 443,
    ts: new Date(BASE_MS + i * 10 + 3).toISOString(),
  };
}

export interface FakeAnswer {
  status?: number;
  body?: string | Buffer;
  delayMs?: number;
  /** Destroy the socket instead of answering (after the delay). */
  destroy?: boolean;
  headers?: Record<string, string>;
}

/** An HTTP server standing in for the agent; `handler` sees each request's parsed body. */
export async function fakeAgent(handler: (body: { flows: AttributionQuery[] } | null, n: number) => FakeAnswer): Promise<{ url: string; server: Server; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { flows: AttributionQuery[] } | null = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = null;
      }
      const a = handler(body, n++);
      setTimeout(() => {
        if (a.destroy) {
          req.socket.destroy();
          return;
        }
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...(a.headers ?? {}) });
        res.end(a.body ?? '');
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    requests: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A well-formed `matched` answer for each flow. */
export function goodAnswer(flows: AttributionQuery[]): string {
  const results: AttributionResult[] = flows.map((f) => ({
    id: f.id,
    status: 'matched',
    method: 'exact_5tuple',
    confidence: 0.9,
    host: { name: 'fake', ip: f.src_ip },
    process: {
      uid: 'u1',
      pid: 1,
      start_time: null,
      executable: '/bin/fake',
      name: 'fake',
      command_line: 'fake',
      user: 'root',
      parent: null,
      hash: null,
      code_signature: null,
      tls_libraries: [],
      static_tls_stack: null,
      annotations: [],
    },
    candidates: [],
    warnings: [],
  }));
  return JSON.stringify({ results });
}
