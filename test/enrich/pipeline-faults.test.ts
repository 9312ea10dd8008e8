/**
 * Faults seen from the whole sensor: whatever the agent does, the run
 * finishes, every flow event is written, and each says its enrichment status.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

import { runAgent } from '../../src/agent/index.js';
import { runRead } from '../../src/cli/pipeline.js';
import type { FlowEvent } from '../../src/output/schema.js';
import { tempDir } from '../helpers/tools.js';

const CAPTURES = ['pcaps/reused-tuple.pcap', 'pcaps/node-tls-nonstandard-port.pcap'];

async function statuses(endpoint: { url: string; token: string; timeoutMs?: number; retries?: number }): Promise<string[]> {
  const out = join(tempDir(), 'events.ndjson');
  const t0 = Date.now();
  await runRead({ inputs: CAPTURES, output: out, endpoint: { backoffMs: 20, ...endpoint }, enrichmentDrainMs: 5000 });
  assert.ok(Date.now() - t0 < 30_000, 'the run finishes in bounded time');
  const flows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FlowEvent).filter((e) => e.event.dataset === 'tlsentry.flow');
  assert.equal(flows.length, 7, 'every flow event is written');
  return flows.map((f) => f.tlsentry.enrichment?.status ?? 'missing');
}

async function httpServer(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('no agent listening: every flow says agent_unavailable or circuit_open', async () => {
  const { server, url } = await httpServer(() => undefined);
  server.close(); // the port is now refused
  for (const s of await statuses({ url, token: 't', retries: 1 })) assert.match(s, /^(agent_unavailable|circuit_open)$/);
});

test('an agent slower than the timeout: every flow says timeout (or circuit_open once the breaker trips)', async () => {
  const { server, url } = await httpServer(() => undefined); // accepts, never answers
  try {
    for (const s of await statuses({ url, token: 't', timeoutMs: 200, retries: 0 })) assert.match(s, /^(timeout|circuit_open)$/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a malformed answer: every flow says bad_response', async () => {
  const { server, url } = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"results": "not a list"');
  });
  try {
    for (const s of await statuses({ url, token: 't', retries: 0 })) assert.match(s, /^(bad_response|circuit_open)$/);
  } finally {
    server.close();
  }
});

test('a wrong token against the real agent: every flow says auth_failed', async () => {
  const agent = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', token: 'right-token-123' });
  try {
    for (const s of await statuses({ url: agent.url, token: 'wrong-token-123', retries: 0 })) assert.match(s, /^(auth_failed|circuit_open)$/);
  } finally {
    await agent.close();
  }
});

test('the real agent that knows none of these old flows: every flow says not_found or host_unknown', async () => {
  const agent = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', token: 'right-token-123' });
  try {
    for (const s of await statuses({ url: agent.url, token: 'right-token-123' })) assert.match(s, /^(not_found|host_unknown)$/);
  } finally {
    await agent.close();
  }
});
