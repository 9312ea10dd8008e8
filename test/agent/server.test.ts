/**
 * The agent's HTTP surface under hostile input: no token or a wrong one,
 * bodies that are not JSON, too big, too many flows, wrong types, and a
 * fast-check fuzz of request bodies. The agent answers each with a JSON
 * error and keeps serving.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { Command } from 'commander';
import fc from 'fast-check';

import { agentCommand } from '../../src/agent/cli.js';
import { parseListen, runAgent, type RunningAgent } from '../../src/agent/index.js';
import { validateAttributionRequest } from '../../src/agent/validate.js';
import type { AttributionResponse, ErrorResponse } from '../../src/shared/endpoint-api.js';
import { TlsentryError } from '../../src/shared/errors.js';
import { call, OPENAPI, tokenFile, TOKEN } from './helpers.js';
import { OpenApi } from './openapi-validator.js';

const linux = process.platform === 'linux';
const api = new OpenApi(OPENAPI);

const flow = (i: number): Record<string, unknown> => ({ id: `f${i}`, proto: 'tcp', src_ip: '127.0.0.1', src_port: 40000 + (i % 20000), dst_ip: '127.0.0.1', dst_port: 443, ts: new Date().toISOString() });

/** A raw HTTP request (fetch cannot send a lying Content-Length or a body on GET). */
function rawRequest(url: string, opts: { method: string; path: string; headers: Record<string, string | number>; body?: Buffer }): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: opts.method, path: opts.path, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

describe('agent HTTP surface', { skip: linux ? false : 'procfs backend needs Linux' }, () => {
  let agent: RunningAgent;
  before(async () => {
    agent = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', tokenFile: tokenFile(), pollMs: 50 });
  });
  after(async () => agent?.close());

  const errorShape = (j: unknown): void => assert.deepEqual(api.validate(j, 'ErrorResponse'), [], JSON.stringify(j));

  it('every route refuses requests without a valid bearer token (401 + WWW-Authenticate)', async () => {
    for (const path of ['/v1/health', '/v1/attribution', '/v1/processes/x', '/nope']) {
      for (const token of [null, 'wrong-token-wrong-token', `${TOKEN}x`, '']) {
        const r = await call(`${agent.url}${path}`, { token, method: path === '/v1/attribution' ? 'POST' : 'GET', body: path === '/v1/attribution' ? { flows: [flow(1)] } : undefined });
        assert.equal(r.status, 401, `${path} with ${token}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
        errorShape(r.json);
      }
    }
    const basic = await call(`${agent.url}/v1/health`, { token: null, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    const ok = await call(`${agent.url}/v1/health`);
    assert.equal(ok.status, 200);
    assert.equal(agent.stats.unauthorized, 17);
  });

  it('malformed requests get 400 with details; the agent keeps serving', async () => {
    const cases: [string | Buffer, number, string][] = [
      ['{not json', 400, 'bad_json'],
      ['', 400, 'bad_json'],
      ['[]', 400, 'bad_request'],
      ['{"flows": 3}', 400, 'bad_request'],
      ['{"flows": []}', 400, 'bad_request'],
      [JSON.stringify({ flows: [{ ...flow(1), src_port: 70000 }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [{ ...flow(1), src_port: '443' }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [{ ...flow(1), proto: 'icmp' }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [{ ...flow(1), src_ip: '999.1.1.1' }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [{ ...flow(1), ts: 'yesterday' }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [{ ...flow(1), id: 'x'.repeat(300) }] }), 400, 'invalid_flows'],
      [JSON.stringify({ flows: [null] }), 400, 'invalid_flows'],
      [Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 400, 'bad_json'],
    ];
    for (const [body, status, code] of cases) {
      const r = await call(`${agent.url}/v1/attribution`, { raw: body, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, status, `${String(body).slice(0, 60)} → ${r.text}`);
      errorShape(r.json);
      assert.equal((r.json as ErrorResponse).error.code, code);
    }
    const bad = await call(`${agent.url}/v1/attribution`, { body: { flows: [{ ...flow(1), src_port: -1, dst_ip: 7 }] } });
    const details = (bad.json as ErrorResponse).error.details!;
    assert.deepEqual(details.map((d) => d.field).sort(), ['dst_ip', 'src_port']);
    assert.equal(details[0].index, 0);
    assert.equal((await call(`${agent.url}/v1/health`)).status, 200);
  });

  it('more than 500 flows → 413; 10 000 flows or a 5 MiB body → 413 without reading it all', async () => {
    const big = await call(`${agent.url}/v1/attribution`, { body: { flows: Array.from({ length: 501 }, (_, i) => flow(i)) } });
    assert.equal(big.status, 413);
    assert.equal((big.json as ErrorResponse).error.code, 'too_many_flows');
    const huge = await call(`${agent.url}/v1/attribution`, { body: { flows: Array.from({ length: 10_000 }, (_, i) => flow(i)) } });
    assert.equal(huge.status, 413);
    errorShape(huge.json);
    const blob = await call(`${agent.url}/v1/attribution`, { raw: Buffer.alloc(5 * 1024 * 1024, 0x20), headers: { 'content-type': 'application/json' } });
    assert.equal(blob.status, 413);
    // a lying Content-Length (small) with a big chunked body is still capped
    const chunked = await rawRequest(agent.url, { method: 'POST', path: '/v1/attribution', headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' }, body: Buffer.alloc(3 * 1024 * 1024, 0x20) });
    assert.equal(chunked.status, 413);
    const ok = await call(`${agent.url}/v1/attribution`, { body: { flows: Array.from({ length: 500 }, (_, i) => flow(i)) } });
    assert.equal(ok.status, 200);
    assert.equal((ok.json as AttributionResponse).results.length, 500);
  });

  it('wrong methods, unknown routes, bad pagination', async () => {
    assert.equal((await call(`${agent.url}/v1/attribution`)).status, 405);
    assert.equal((await call(`${agent.url}/v1/health`, { method: 'POST', raw: '{}' })).status, 405);
    assert.equal((await call(`${agent.url}/v2/attribution`, { method: 'POST', raw: '{}' })).status, 404);
    assert.equal((await call(`${agent.url}/v1/processes/x?limit=0`)).status, 400);
    assert.equal((await call(`${agent.url}/v1/processes/x?limit=abc`)).status, 400);
    assert.equal((await call(`${agent.url}/v1/processes/x?cursor=zzzz`)).status, 400);
    assert.equal((await call(`${agent.url}/v1/processes/%E0%A4%A`)).status, 400);
    assert.equal((await call(`${agent.url}/v1/processes/no-such-uid`)).status, 404);
  });

  it('fuzz: arbitrary bodies never crash the agent; every answer is a valid response or a JSON error', async () => {
    const nearFlow = fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null)),
        proto: fc.oneof(fc.constantFrom('tcp', 'udp', 'icmp', 'TCP'), fc.integer()),
        src_ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 }), fc.constant(null)),
        src_port: fc.oneof(fc.integer({ min: -10, max: 70000 }), fc.double(), fc.string({ maxLength: 6 })),
        dst_ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 })),
        dst_port: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(null)),
        ts: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string({ maxLength: 40 }), fc.integer()),
      },
      { requiredKeys: [] },
    );
    const validFlow = fc.record({
      id: fc.string({ minLength: 1, maxLength: 40 }),
      proto: fc.constantFrom('tcp', 'udp'),
      src_ip: fc.oneof(fc.ipV4(), fc.ipV6()),
      src_port: fc.integer({ min: 0, max: 65535 }),
      dst_ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('127.0.0.1')),
      dst_port: fc.integer({ min: 0, max: 65535 }),
      ts: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    });
    const body = fc.oneof(
      fc.array(validFlow, { minLength: 1, maxLength: 40 }).map((flows) => JSON.stringify({ flows })),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.record({ flows: fc.array(nearFlow, { maxLength: 30 }) }).map((o) => JSON.stringify(o)),
      fc.record({ flows: fc.oneof(fc.anything({ maxDepth: 3 }), fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 10 })) }).map((o) => JSON.stringify(o)),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    );
    let statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await call(`${agent.url}/v1/attribution`, { raw: b, headers: { 'content-type': 'application/json' } });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        assert.ok([200, 400, 413].includes(r.status), `status ${r.status}: ${r.text.slice(0, 200)}`);
        if (r.status === 200) {
          const flows = (JSON.parse(String(b)) as { flows: unknown[] }).flows;
          assert.equal((r.json as AttributionResponse).results.length, flows.length);
          assert.deepEqual(api.validate(r.json, 'AttributionResponse'), []);
        } else errorShape(r.json);
      }),
      { numRuns: 300 },
    );
    console.log(`# agent fuzz: 300 bodies, statuses ${JSON.stringify(statuses)}`);
    statuses = {};
    assert.equal((await call(`${agent.url}/v1/health`)).status, 200);
  });

  it('request validation is total: any JSON value gives queries or problems, never an exception', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withNullPrototype: true, withBigInt: true }), (v) => {
        const r = validateAttributionRequest(v);
        assert.ok(r.ok === true || r.ok === false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('agent start-up options', { skip: linux ? false : 'procfs backend needs Linux' }, () => {
  it('needs a token file unless --insecure-no-auth is explicit; bad options are TlsentryErrors', async () => {
    await assert.rejects(runAgent({ backend: 'procfs', listen: '127.0.0.1:0' }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_USAGE');
    await assert.rejects(runAgent({ backend: 'procfs', listen: 'nowhere', tokenFile: tokenFile() }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_USAGE');
    await assert.rejects(runAgent({ backend: 'procfs', listen: '127.0.0.1:0', tokenFile: '/nonexistent/token' }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_AGENT');
    await assert.rejects(runAgent({ backend: 'procfs', listen: '127.0.0.1:0', tokenFile: tokenFile('short') }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_AGENT');
    await assert.rejects(runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile() }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_USAGE');
    await assert.rejects(runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile(), events: ['/nonexistent/events'] }), (e: unknown) => e instanceof TlsentryError && e.code === 'ERR_AGENT');
    const open = await runAgent({ backend: 'procfs', listen: '127.0.0.1:0', insecureNoAuth: true });
    try {
      assert.equal((await call(`${open.url}/v1/health`, { token: null })).status, 200);
    } finally {
      await open.close();
    }
    assert.deepEqual(parseListen('[::1]:8443'), { host: '::1', port: 8443 });
    assert.deepEqual(parseListen(':7443'), { host: '0.0.0.0', port: 7443 });
  });

  it('agentCommand registers `agent` on a commander program', async () => {
    const program = new Command().name('tlsentry').exitOverride();
    let started: RunningAgent | null = null;
    agentCommand(program, (a) => (started = a));
    const help = program.commands.find((c) => c.name() === 'agent')!.helpInformation();
    for (const flag of ['--backend', '--listen', '--token-file', '--events', '--insecure-no-auth', '--poll-ms', '--tls-cert', '--tls-key', '--ftrace', '--watchlist']) assert.ok(help.includes(flag), flag);
    const run = program.parseAsync(['node', 'tlsentry', 'agent', '--backend', 'procfs', '--listen', '127.0.0.1:0', '--token-file', tokenFile(), '--poll-ms', '100']);
    for (let i = 0; i < 100 && !started; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(started, 'agent started');
    const a = started as RunningAgent;
    assert.equal((await call(`${a.url}/v1/health`)).status, 200);
    await a.close();
    await run;
  });
});
