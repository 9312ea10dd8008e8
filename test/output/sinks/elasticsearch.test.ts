import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { ElasticsearchTransport, elasticsearchConfigSchema, elasticsearchFromConfig } from '../../../src/output/sinks/elasticsearch.js';
import type { EventRecord } from '../../../src/output/sinks/types.js';
import { missingTools, tempDir } from '../../helpers/tools.js';
import { goldenRecords, makePrivateCa, manyRecords, startEsServer, startRawServer, type EsServer } from './http-siem-servers.js';

const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx';
const KEY = 'ui2lp2axTNmsyakw9tvNnw';
const ENCODED = Buffer.from(`${KEY_ID}:${KEY}`).toString('base64');

const servers: { close(): Promise<void> }[] = [];
const transports: ElasticsearchTransport[] = [];
after(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function es(opts: Parameters<typeof startEsServer>[0] = {}): Promise<EsServer> {
  const s = await startEsServer(opts);
  servers.push(s);
  return s;
}
function transport(opts: ConstructorParameters<typeof ElasticsearchTransport>[0]): ElasticsearchTransport {
  const t = new ElasticsearchTransport({ timeoutMs: 3000, ...opts });
  transports.push(t);
  return t;
}

describe('Elasticsearch _bulk transport', () => {
  it('POSTs NDJSON create/_id pairs (doc = the line, final newline) with the API key; 201s deliver all', async () => {
    const s = await es({ authorization: `ApiKey ${ENCODED}` });
    const t = transport({ url: s.url, apiKey: ENCODED, index: 'logs-tlsentry-default', pipeline: 'tlsentry-geoip' });
    const batch = goldenRecords();
    const o = await t.deliver(batch);
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(s.requests.length, 1);
    const r = s.requests[0]!;
    assert.equal(r.path, '/_bulk');
    assert.equal(r.headers['content-type'], 'application/x-ndjson');
    assert.equal(r.query.get('pipeline'), 'tlsentry-geoip');
    assert.match(r.query.get('filter_path')!, /items\.\*\.status/);
    const text = r.raw.toString();
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, batch.length * 2);
    for (const [i, rec] of batch.entries()) {
      assert.deepEqual(JSON.parse(lines[2 * i]!), { create: { _index: 'logs-tlsentry-default', _id: rec.id } });
      assert.deepEqual(JSON.parse(lines[2 * i + 1]!), JSON.parse(rec.line.toString()));
    }
    assert.equal(s.docs.size, batch.length);
    assert.equal(s.docs.get(`logs-tlsentry-default/${batch[0]!.id}`), batch[0]!.line.toString());
  });

  it('sending a batch again: every create answers 409 version_conflict, counted as delivered, stored once', async () => {
    const s = await es();
    const t = transport({ url: s.url });
    const batch = goldenRecords().slice(0, 12);
    assert.deepEqual(await t.deliver(batch), { retry: [], rejected: [] });
    assert.deepEqual(await t.deliver(batch), { retry: [], rejected: [] });
    assert.equal(t.stats.duplicates, 12);
    assert.equal(s.docs.size, 12);
    assert.equal([...s.docs.keys()][0], `tlsentry-events/${batch[0]!.id}`, 'default index');
  });

  it('mixed item statuses 201 / 409 / 429 / 400 / 503 → delivered / delivered / retry / rejected / retry at the right indexes', async () => {
    const plan: Record<number, { status: number; error?: { type: string; reason: string } }> = {
      1: { status: 409, error: { type: 'version_conflict_engine_exception', reason: '[x]: version conflict, document already exists (current version [1])' } },
      2: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' } },
      3: { status: 400, error: { type: 'document_parsing_exception', reason: "[1:40] failed to parse field [source.port] of type [long] in document with id 'x'" } },
      5: { status: 503, error: { type: 'unavailable_shards_exception', reason: '[tlsentry-events][0] primary shard is not active' } },
    };
    const s = await es({ itemStatus: (_a, pos) => plan[pos] ?? { status: 201 } });
    const t = transport({ url: s.url });
    const o = await t.deliver(goldenRecords().slice(0, 7));
    assert.deepEqual(o.retry, [2, 5]);
    assert.equal(o.rejected.length, 1);
    assert.equal(o.rejected[0]!.index, 3);
    assert.match(o.rejected[0]!.reason, /^ERR_SINK_REJECTED elasticsearch: item 400 document_parsing_exception: \[1:40\] failed to parse field \[source.port\]/);
    assert.match(o.error!, /^ERR_SINK_UNAVAILABLE elasticsearch: item 429 es_rejected_execution_exception/);
    assert.equal(t.stats.duplicates, 1);
  });

  it('item 403 security_exception and 404 index_not_found are settings: retried loudly; another 404 is rejected', async () => {
    const plan: Record<number, { status: number; error: { type: string; reason: string } }> = {
      0: { status: 403, error: { type: 'security_exception', reason: 'action [indices:data/write/bulk[s]] is unauthorized for API key id [VuaCfGcBCdbkQm-e5aOx]' } },
      1: { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index [tlsentry-events]' } },
      2: { status: 404, error: { type: 'routing_missing_exception', reason: 'routing is required' } },
    };
    const s = await es({ itemStatus: (_a, pos) => plan[pos] ?? { status: 201 } });
    const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 4));
    assert.deepEqual(o.retry, [0, 1]);
    assert.deepEqual(o.rejected.map((r) => r.index), [2]);
    assert.match(o.error!, /^ERR_SINK_AUTH elasticsearch: item 403 security_exception/);
  });

  it('413 (http.max_content_length) splits the batch until each request fits', async () => {
    const s = await es({ maxContentLength: 30_000 });
    const batch = manyRecords(120);
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(s.docs.size, 120);
    assert.ok(s.requests.some((r) => r.raw.length > 30_000), 'the first request was too large');
    assert.ok(s.requests.length >= 4);
  });

  it('an event larger than http.max_content_length alone is rejected; its neighbours are delivered', async () => {
    const s = await es({ maxContentLength: 20_000 });
    const batch = manyRecords(4);
    const big = { event: { id: 'big' }, '@timestamp': '2025-06-01T12:00:00Z', pad: 'x'.repeat(30_000) };
    batch[2] = { id: 'big', line: Buffer.from(JSON.stringify(big)) };
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o.retry, []);
    assert.deepEqual(o.rejected.map((r) => r.index), [2]);
    assert.match(o.rejected[0]!.reason, /413/);
    assert.equal(s.docs.size, 3);
  });

  it('503 / 429 for the whole request → every record to retry, honouring Retry-After', async () => {
    const s = await es({ onBulk: () => ({ status: 503, body: { error: { type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];' }, status: 503 }, headers: { 'retry-after': '3' } }) });
    const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.equal(o.retryAfterMs, 3000);
    assert.match(o.error!, /^ERR_SINK_UNAVAILABLE elasticsearch: HTTP 503 cluster_block_exception/);
    const s2 = await es({ onBulk: () => ({ status: 429, body: { error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' }, status: 429 } }) });
    const o2 = await transport({ url: s2.url }).deliver(goldenRecords().slice(0, 2));
    assert.deepEqual(o2.retry, [0, 1]);
    assert.equal(o2.retryAfterMs, undefined);
  });

  it('401 → retry with a loud ERR_SINK_AUTH; Basic auth sends user:password', async () => {
    const basic = `Basic ${Buffer.from('tlsentry_writer:s3cret').toString('base64')}`;
    const s = await es({ authorization: basic });
    const o = await transport({ url: s.url, username: 'tlsentry_writer', password: 'wrong' }).deliver(goldenRecords().slice(0, 2));
    assert.deepEqual(o.retry, [0, 1]);
    assert.deepEqual(o.rejected, []);
    assert.match(o.error!, /^ERR_SINK_AUTH elasticsearch: HTTP 401 security_exception/);
    assert.deepEqual(await transport({ url: s.url, username: 'tlsentry_writer', password: 's3cret' }).deliver(goldenRecords().slice(0, 2)), { retry: [], rejected: [] });
  });

  it('a 400 for the whole request is narrowed down to the record that causes it', async () => {
    const s = await es({
      onBulk: (r) => (r.raw.includes('"poison"') ? { status: 400, body: { error: { type: 'x_content_parse_exception', reason: '[1:10] Unexpected character' }, status: 400 } } : undefined),
    });
    // Any request holding the poisoned record is refused whole, as a body that does not parse is.
    const batch: EventRecord[] = manyRecords(16);
    batch[9] = { id: 'p', line: Buffer.from('{"poison":true}') };
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o.retry, []);
    assert.deepEqual(o.rejected.map((r) => r.index), [9]);
    assert.match(o.rejected[0]!.reason, /HTTP 400 x_content_parse_exception/);
    assert.equal(s.docs.size, 15);
  });

  it('lines that would break the NDJSON framing, and a missing id, are rejected without a request', async () => {
    const s = await es();
    const batch = manyRecords(4);
    batch[0] = { id: 'nl', line: Buffer.from('{"a":\n1}') };
    batch[2] = { id: '', line: batch[2]!.line };
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o.rejected.map((r) => r.index), [0, 2]);
    assert.equal(s.requests.length, 1);
    assert.equal(s.requests[0]!.actions.length, 2);
  });

  it('HTTPS with a private CA delivers; the wrong CA → retry with ERR_SINK_TLS, no crash', { skip: missingTools('openssl') ?? false }, async () => {
    const dir = tempDir();
    const good = makePrivateCa(dir, 'good');
    const other = makePrivateCa(dir, 'other');
    const s = await es({ tls: good.server });
    assert.deepEqual(await transport({ url: s.url, ca: good.caPem }).deliver(goldenRecords().slice(0, 3)), { retry: [], rejected: [] });
    const o = await transport({ url: s.url, ca: other.caPem }).deliver(goldenRecords().slice(0, 3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.match(o.error!, /^ERR_SINK_TLS elasticsearch: TLS failed \(\w+/);
    // And without any ca_file the bundled roots do not know the private CA either.
    const o2 = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 1));
    assert.match(o2.error!, /^ERR_SINK_TLS/);
    assert.equal(s.docs.size, 3);
  });

  describe('hostile servers', () => {
    it('200 with garbage JSON → retry', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"errors":false,"items":[{"create":');
      });
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 2));
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /^ERR_SINK_PROTOCOL elasticsearch: HTTP 200 without 2 bulk items/);
    });

    it('200 with fewer items than actions → retry all (safe: creates that got in come back 409)', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: false, items: [{ create: { status: 201 } }] }));
      });
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 3));
      assert.deepEqual(o.retry, [0, 1, 2]);
    });

    it('an item without a status → retry', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: false, items: [{ create: { result: 'created' } }] }));
      });
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 1));
      assert.deepEqual(o.retry, [0]);
      assert.match(o.error!, /bulk item without a status/);
    });

    it('a huge answer is cut off at the cap → retry, no crash', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        let n = 0;
        const pump = (): void => {
          while (n < 16 && res.write(chunk)) n++;
          if (n < 16) res.once('drain', () => { n++; pump(); });
          else res.end();
        };
        pump();
      });
      servers.push(s);
      const o = await transport({ url: s.url, maxResponseBytes: 1024 * 1024 }).deliver(goldenRecords().slice(0, 2));
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /answer larger than the cap/);
    });

    it('a server that never answers → retry after timeout_ms, no hang', async () => {
      const s = await startRawServer(() => {});
      servers.push(s);
      const t0 = performance.now();
      const o = await transport({ url: s.url, timeoutMs: 300 }).deliver(goldenRecords().slice(0, 2));
      const ms = performance.now() - t0;
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /^ERR_SINK_UNAVAILABLE elasticsearch: no answer within 300 ms/);
      assert.ok(ms >= 290 && ms < 3000, `${ms} ms`);
    });

    it('a server that resets the connection → retry', async () => {
      const s = await startRawServer((req) => req.socket.destroy());
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 2));
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /^ERR_SINK_UNAVAILABLE elasticsearch: (ECONNRESET|socket hang up)/);
    });
  });

  describe('configuration', () => {
    it('schema: defaults, data stream names, auth combinations', () => {
      const c = elasticsearchConfigSchema.parse({ type: 'elasticsearch', url: 'https://es.example:9200' });
      assert.equal(c.index, 'tlsentry-events');
      assert.equal(c.timeout_ms, 30_000);
      assert.equal(elasticsearchConfigSchema.parse({ type: 'elasticsearch', url: 'https://es:9200', index: 'logs-tlsentry-default' }).index, 'logs-tlsentry-default');
      assert.equal(elasticsearchConfigSchema.safeParse({ type: 'elasticsearch', url: 'https://es:9200', index: 'Tlsentry' }).success, false, 'uppercase index');
      assert.equal(elasticsearchConfigSchema.safeParse({ type: 'elasticsearch', url: 'https://es:9200', username: 'u' }).success, false, 'username without password_file');
      assert.equal(elasticsearchConfigSchema.safeParse({ type: 'elasticsearch', url: 'https://es:9200', api_key_file: 'k', username: 'u', password_file: 'p' }).success, false, 'both auth kinds');
    });

    it('elasticsearchFromConfig: api_key_file as id:key is base64-encoded; password_file relative to the config directory', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'es.key'), `${KEY_ID}:${KEY}\n`);
      writeFileSync(join(dir, 'es.pass'), 's3cret\n');
      const s = await es({ authorization: `ApiKey ${ENCODED}` });
      const t = elasticsearchFromConfig(elasticsearchConfigSchema.parse({ type: 'elasticsearch', url: `${s.url}/_bulk`, api_key_file: 'es.key' }), dir);
      transports.push(t);
      assert.equal(t.kind, 'elasticsearch');
      assert.deepEqual(await t.deliver(goldenRecords().slice(0, 2)), { retry: [], rejected: [] });
      assert.equal(s.requests[0]!.path, '/_bulk', 'a pasted /_bulk is not doubled');
      const s2 = await es({ authorization: `Basic ${Buffer.from('w:s3cret').toString('base64')}` });
      const t2 = elasticsearchFromConfig(elasticsearchConfigSchema.parse({ type: 'elasticsearch', url: s2.url, username: 'w', password_file: 'es.pass' }), dir);
      transports.push(t2);
      assert.deepEqual(await t2.deliver(goldenRecords().slice(0, 1)), { retry: [], rejected: [] });
    });
  });

  it('throughput to a local _bulk (1000-event batches, 8 MiB requests)', async (t) => {
    const s = await es();
    const tr = transport({ url: s.url });
    const all = manyRecords(20_000);
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 1000) {
      const o = await tr.deliver(all.slice(i, i + 1000));
      assert.deepEqual(o, { retry: [], rejected: [] });
    }
    const sec = (performance.now() - t0) / 1000;
    assert.equal(s.docs.size, 20_000);
    t.diagnostic(`elasticsearch: ${Math.round(20_000 / sec)} events/s (${s.requests.length} requests, server parses every document)`);
  });
});
