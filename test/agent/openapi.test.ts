/**
 * api/openapi.yaml parses, describes the three routes with bearer auth, and
 * real agent answers (every status, every route, errors) conform to its
 * schemas, strictly: a field the agent sends that the document does not
 * declare fails.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { runAgent, type RunningAgent } from '../../src/agent/index.js';
import type { AttributionResponse } from '../../src/shared/endpoint-api.js';
import { call, OPENAPI, sharedPath, tokenFile } from './helpers.js';
import { OpenApi } from './openapi-validator.js';
import { tempDir } from '../helpers/tools.js';

const api = new OpenApi(OPENAPI);

describe('api/openapi.yaml', () => {
  it('is OpenAPI 3.1 with the three routes, bearer auth on all of them, and the 500-flow cap', () => {
    const d = api.doc as { openapi: string; paths: Record<string, Record<string, unknown>>; security: unknown[]; components: { securitySchemes: Record<string, { type: string; scheme: string }> } };
    assert.match(d.openapi, /^3\.1\./);
    assert.ok(d.paths['/v1/attribution'].post);
    assert.ok(d.paths['/v1/processes/{uid}'].get);
    assert.ok(d.paths['/v1/health'].get);
    assert.deepEqual(d.security, [{ bearerAuth: [] }]);
    assert.equal(d.components.securitySchemes.bearerAuth.scheme, 'bearer');
    const req = api.schema('AttributionRequest') as { properties: { flows: { maxItems: number } } };
    assert.equal(req.properties.flows.maxItems, 500);
    for (const code of ['200', '400', '401', '413']) assert.ok(api.responseSchema('/v1/attribution', 'post', code), code);
    // every schema uses only keywords the validator checks
    const known = new Set(['$ref', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'format', 'oneOf', 'description', 'example', 'default', 'title']);
    const walk = (s: unknown, at: string): void => {
      if (!s || typeof s !== 'object') return;
      const o = s as Record<string, unknown>;
      for (const k of Object.keys(o)) assert.ok(known.has(k), `${at}: ${k}`);
      for (const sub of Object.values((o.properties ?? {}) as object)) walk(sub, at);
      if (o.items) walk(o.items, at);
      if (o.additionalProperties && typeof o.additionalProperties === 'object') walk(o.additionalProperties, at);
      for (const x of (o.oneOf ?? []) as unknown[]) walk(x, at);
    };
    for (const [name, s] of Object.entries((d.components as unknown as { schemas: object }).schemas)) walk(s, name);
  });

  it('the validator rejects what the document forbids', () => {
    assert.notDeepEqual(api.validate({ results: [{ id: 'x', status: 'maybe' }] }, 'AttributionResponse'), []);
    assert.notDeepEqual(api.validate({ results: [], extra: 1 }, 'AttributionResponse'), []);
    assert.notDeepEqual(api.validate({ id: 'x', proto: 'tcp', src_ip: '1.2.3.4', src_port: 70000, dst_ip: '1.2.3.4', dst_port: 1, ts: 'now' }, 'AttributionQuery'), []);
    assert.deepEqual(api.validate({ id: 'x', proto: 'tcp', src_ip: '1.2.3.4', src_port: 7, dst_ip: '1.2.3.4', dst_port: 1, ts: '2024-01-01T00:00:00Z' }, 'AttributionQuery'), []);
  });
});

describe('agent answers conform to api/openapi.yaml', () => {
  let agent: RunningAgent;
  const dir = tempDir('tlsentry-openapi-');
  before(async () => {
    // two processes with the same 5-tuple at the same time (ambiguous), one with modules and an EID 8
    const host = 'H1.example.test';
    const ev = (o: Record<string, unknown>): string => JSON.stringify({ Hostname: host, TimeCreated: '2024-05-01T10:00:09.000Z', ...o });
    const conn = (guid: string, pid: string, port: string): string =>
      ev({ EventID: 3, UtcTime: '2024-05-01 10:00:10.000', ProcessGuid: guid, ProcessId: pid, Image: `C:\\p${pid}.exe`, Protocol: 'tcp', Initiated: 'true', SourceIp: '10.9.9.9', SourcePort: port, DestinationIp: '203.0.113.1', DestinationPort: '443' });
    const lines = [
      ev({ EventID: 1, UtcTime: '2024-05-01 10:00:00.000', ProcessGuid: '{aaaaaaaa-1111-6632-0000-000000000001}', ProcessId: '10', Image: 'C:\\p10.exe', CommandLine: 'p10.exe -x', User: 'EX\\u', ParentProcessId: '4', ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'explorer', Hashes: 'MD5=' + 'A'.repeat(32) + ',SHA256=' + 'B'.repeat(64) + ',IMPHASH=' + 'C'.repeat(32), IntegrityLevel: 'Medium' }),
      ev({ EventID: 7, UtcTime: '2024-05-01 10:00:01.000', ProcessGuid: '{aaaaaaaa-1111-6632-0000-000000000001}', ProcessId: '10', Image: 'C:\\p10.exe', ImageLoaded: 'C:\\Windows\\System32\\schannel.dll', Signed: 'true', Signature: 'Microsoft Windows', Hashes: 'SHA256=' + 'D'.repeat(64) }),
      ev({ EventID: 7, UtcTime: '2024-05-01 10:00:01.000', ProcessGuid: '{aaaaaaaa-1111-6632-0000-000000000001}', ProcessId: '10', Image: 'C:\\p10.exe', ImageLoaded: 'C:\\p10.exe', Signed: 'false', Signature: '-' }),
      ev({ EventID: 8, UtcTime: '2024-05-01 10:00:02.000', SourceProcessGuid: '{aaaaaaaa-1111-6632-0000-000000000002}', SourceProcessId: '11', SourceImage: 'C:\\p11.exe', TargetProcessGuid: '{aaaaaaaa-1111-6632-0000-000000000001}', TargetProcessId: '10', TargetImage: 'C:\\p10.exe', StartAddress: '0x1', StartModule: '-', StartFunction: '-' }),
      conn('{aaaaaaaa-1111-6632-0000-000000000001}', '10', '50000'),
      conn('{aaaaaaaa-1111-6632-0000-000000000001}', '10', '50001'),
      conn('{aaaaaaaa-1111-6632-0000-000000000002}', '11', '50001'),
      conn('{aaaaaaaa-1111-6632-0000-000000000002}', '11', '50002'),
    ];
    writeFileSync(join(dir, 'events.jsonl'), lines.join('\n') + '\n');
    const events = [dir];
    const c02 = sharedPath('otrf_lsass_campaign_02');
    if (c02) events.push(c02);
    agent = await runAgent({ backend: 'sysmon', listen: '127.0.0.1:0', tokenFile: tokenFile(), events });
  });
  after(async () => agent?.close());

  it('POST /v1/attribution: matched, ambiguous, not_found, host_unknown', async () => {
    const f = (id: string, port: number, ip = '10.9.9.9'): object => ({ id, proto: 'tcp', src_ip: ip, src_port: port, dst_ip: '203.0.113.1', dst_port: 443, ts: '2024-05-01T10:00:10.010Z' });
    const r = await call(`${agent.url}/v1/attribution`, { body: { flows: [f('m', 50000), f('a', 50001), f('n', 50009), f('h', 50000, '198.51.100.1'), f('m2', 50002)] } });
    assert.equal(r.status, 200);
    assert.deepEqual(api.validate(r.json, api.responseSchema('/v1/attribution', 'post', '200')), []);
    const res = (r.json as AttributionResponse).results;
    assert.deepEqual(res.map((x) => x.status), ['matched', 'ambiguous', 'not_found', 'host_unknown', 'matched']);
    assert.equal(res[1].candidates.length, 2);
    assert.equal(res[0].process!.annotations[0].kind, 'remote_thread_created');
    assert.equal(res[0].process!.code_signature?.signed, false);
    assert.equal(res[0].process!.hash?.md5, 'a'.repeat(32));
  });

  it('GET /v1/processes/{uid}, GET /v1/health, and the error answers', async () => {
    const p = await call(`${agent.url}/v1/processes/${encodeURIComponent('{aaaaaaaa-1111-6632-0000-000000000001}')}?limit=1`);
    assert.equal(p.status, 200);
    assert.deepEqual(api.validate(p.json, api.responseSchema('/v1/processes/{uid}', 'get', '200')), []);
    const h = await call(`${agent.url}/v1/health`);
    assert.deepEqual(api.validate(h.json, api.responseSchema('/v1/health', 'get', '200')), []);
    const checks: [Promise<{ status: number; json: unknown }>, string, string, string][] = [
      [call(`${agent.url}/v1/attribution`, { raw: 'nope' }), '/v1/attribution', 'post', '400'],
      [call(`${agent.url}/v1/attribution`, { body: { flows: [] }, token: null }), '/v1/attribution', 'post', '401'],
      [call(`${agent.url}/v1/attribution`, { body: { flows: new Array(501).fill({}) } }), '/v1/attribution', 'post', '413'],
      [call(`${agent.url}/v1/processes/nope`), '/v1/processes/{uid}', 'get', '404'],
      [call(`${agent.url}/v1/processes/nope?limit=5000`), '/v1/processes/{uid}', 'get', '400'],
    ];
    for (const [pr, path, method, code] of checks) {
      const r = await pr;
      assert.equal(String(r.status), code, `${method} ${path}`);
      assert.deepEqual(api.validate(r.json, api.responseSchema(path, method, code)), [], `${method} ${path} ${code}`);
    }
  });

  it('real Sysmon answers conform too (campaign 02 DNS flows)', { skip: !sharedPath('otrf_lsass_campaign_02') && 'shared data absent' }, async () => {
    const r = await call(`${agent.url}/v1/attribution`, {
      body: { flows: [{ id: 'dns', proto: 'udp', src_ip: '192.168.1.43', src_port: 52320, dst_ip: '192.168.1.1', dst_port: 53, ts: new Date(1692146034092).toISOString() }] },
    });
    assert.deepEqual(api.validate(r.json, 'AttributionResponse'), []);
    assert.equal((r.json as AttributionResponse).results[0].status, 'matched');
  });
});
