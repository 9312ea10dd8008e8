import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { SplunkHecTransport, eventTime, splunkHecConfigSchema, splunkHecFromConfig } from '../../../src/output/sinks/splunk-hec.js';
import type { EventRecord } from '../../../src/output/sinks/types.js';
import { missingTools, tempDir } from '../../helpers/tools.js';
import { goldenRecords, makePrivateCa, manyRecords, startHecServer, startRawServer, splitObjects, type HecServer } from './http-siem-servers.js';

const TOKEN = '3f2b7c1e-5a4d-4c1b-9e8f-0a1b2c3d4e5f';
const CHANNEL = '11111111-2222-4333-8444-555555555555';

const servers: { close(): Promise<void> }[] = [];
const transports: SplunkHecTransport[] = [];
after(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function hec(opts: Parameters<typeof startHecServer>[0]): Promise<HecServer> {
  const s = await startHecServer(opts);
  servers.push(s);
  return s;
}
function transport(opts: Partial<ConstructorParameters<typeof SplunkHecTransport>[0]> & { url: string }): SplunkHecTransport {
  const t = new SplunkHecTransport({ token: TOKEN, host: 'sensor-1', timeoutMs: 3000, ...opts });
  transports.push(t);
  return t;
}
const idOf = (env: Record<string, unknown>): string => ((env.event as { event: { id: string } }).event.id);
const BAD_LINE = Buffer.from('{"@timestamp":"2025-06-01T12:00:00Z","event":{"id":"bad"},"broken": }');

describe('Splunk HEC transport', () => {
  it('POSTs one HEC envelope per event to /services/collector/event with the Splunk token; 200 delivers all', async () => {
    const s = await hec({ token: TOKEN });
    const t = transport({ url: s.url, index: 'tls', sourcetype: 'tlsentry:event', source: 'sensor-pcaps' });
    const batch = goldenRecords();
    assert.ok(batch.length >= 20);
    const o = await t.deliver(batch);
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(s.requests.length, 1);
    const r = s.requests[0]!;
    assert.equal(r.path, '/services/collector/event');
    assert.equal(r.headers.authorization, `Splunk ${TOKEN}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-splunk-request-channel'], undefined, 'no channel without acks');
    assert.equal(r.objects.length, batch.length);
    assert.equal(s.envelopes.length, batch.length);
    s.envelopes.forEach((env, i) => {
      const ev = JSON.parse(batch[i]!.line.toString()) as { '@timestamp': string };
      assert.deepEqual(env.event, ev, `event ${i} is the line's JSON`);
      assert.equal(typeof env.time, 'number');
      assert.equal(env.time, Date.parse(ev['@timestamp']) / 1000);
      assert.equal(env.host, 'sensor-1');
      assert.equal(env.source, 'sensor-pcaps');
      assert.equal(env.sourcetype, 'tlsentry:event');
      assert.equal(env.index, 'tls');
    });
  });

  it('defaults: sourcetype and source tlsentry, host = this machine, no index key; a pasted …/services/collector/event/1.0 URL is used as given', async () => {
    const s = await hec({ token: TOKEN });
    const t = new SplunkHecTransport({ url: `${s.url}/services/collector/event/1.0`, token: TOKEN });
    transports.push(t);
    const o = await t.deliver(goldenRecords().slice(0, 2));
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(s.requests[0]!.path, '/services/collector/event/1.0');
    const env = s.envelopes[0]!;
    assert.equal(env.sourcetype, 'tlsentry');
    assert.equal(env.source, 'tlsentry');
    assert.equal(env.host, hostname());
    assert.equal('index' in env, false);
  });

  it('eventTime reads @timestamp (µs precision) into epoch seconds with milliseconds; none → no time field', () => {
    assert.equal(eventTime(Buffer.from('{"ecs":{"version":"8.11.0"},"@timestamp":"2025-06-01T12:00:00.123456Z","a":1}')), '1748779200.123');
    assert.equal(eventTime(Buffer.from('{"a":"\\"@timestamp\\":\\"2025-06-01T12:00:00Z\\""}')), undefined, 'an escaped lookalike inside a string is not the key');
    assert.equal(eventTime(Buffer.from('{"@timestamp":"yesterday"}')), undefined);
    assert.deepEqual(splitObjects('{"a":"}{"}{"b":{}} {"c":1}'), ['{"a":"}{"}', '{"b":{}}', '{"c":1}']);
  });

  it('503 code 9 "Server is busy" → every record to retry, with Retry-After', async () => {
    const s = await hec({ token: TOKEN, onEvent: () => ({ status: 503, body: { text: 'Server is busy', code: 9 }, headers: { 'retry-after': '7' } }) });
    const t = transport({ url: s.url });
    const o = await t.deliver(goldenRecords().slice(0, 5));
    assert.deepEqual(o.retry, [0, 1, 2, 3, 4]);
    assert.deepEqual(o.rejected, []);
    assert.equal(o.retryAfterMs, 7000);
    assert.match(o.error!, /^ERR_SINK_UNAVAILABLE splunk_hec: HTTP 503 code 9 Server is busy/);
  });

  it('429 with an HTTP-date Retry-After → retry with retryAfterMs', async () => {
    const when = new Date(Date.now() + 30_000).toUTCString();
    const s = await hec({ token: TOKEN, onEvent: () => ({ status: 429, body: { text: 'Too many requests', code: 9 }, headers: { 'retry-after': when } }) });
    const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.ok(o.retryAfterMs! > 20_000 && o.retryAfterMs! <= 30_000, String(o.retryAfterMs));
  });

  it('a batch stops at the first busy answer: later requests of the batch are not sent', async () => {
    const s = await hec({ token: TOKEN, onEvent: (_r, n) => (n === 2 ? { status: 503, body: { text: 'Server is busy', code: 9 } } : undefined) });
    const batch = manyRecords(40);
    const t = transport({ url: s.url, maxBatchBytes: 4096 });
    const o = await t.deliver(batch);
    assert.equal(s.requests.length, 2, 'third request not sent');
    const firstCount = s.requests[0]!.objects.length;
    assert.ok(firstCount > 0 && firstCount < 40);
    assert.deepEqual(o.retry, Array.from({ length: 40 - firstCount }, (_, i) => firstCount + i));
    assert.equal(s.envelopes.length, firstCount);
  });

  it('400 "Invalid data format" on a batch with one bad event: only it is rejected (named by invalid-event-number), the others delivered', async () => {
    const s = await hec({ token: TOKEN });
    const batch: EventRecord[] = manyRecords(30);
    batch[17] = { id: 'bad', line: BAD_LINE };
    const t = transport({ url: s.url });
    const o = await t.deliver(batch);
    assert.deepEqual(o.retry, []);
    assert.equal(o.rejected.length, 1);
    assert.equal(o.rejected[0]!.index, 17);
    assert.match(o.rejected[0]!.reason, /ERR_SINK_REJECTED splunk_hec: HTTP 400 code 6 Invalid data format/);
    const ids = new Set(s.envelopes.map(idOf));
    for (const [i, r] of batch.entries()) if (i !== 17) assert.ok(ids.has(r.id), `${r.id} delivered`);
    assert.equal(ids.has('bad'), false);
    assert.equal(s.requests.length, 3, 'whole batch, the named event alone, the rest');
  });

  it('without invalid-event-number the batch is halved until only the bad events are rejected', async () => {
    const s = await hec({ token: TOKEN, invalidEventNumber: false });
    const batch: EventRecord[] = manyRecords(64);
    batch[5] = { id: 'bad1', line: BAD_LINE };
    batch[50] = { id: 'bad2', line: Buffer.from('{"@timestamp":"2025-06-01T12:00:00Z","event":{"id":"bad2"},"x":[1,}') };
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o.retry, []);
    assert.deepEqual(o.rejected.map((r) => r.index), [5, 50]);
    const ids = new Set(s.envelopes.map(idOf));
    assert.equal(ids.size, 62);
    assert.ok(s.requests.length <= 1 + 2 * 2 * Math.log2(64), `${s.requests.length} requests`);
  });

  it('a line that is not a JSON object is rejected without costing a request', async () => {
    const s = await hec({ token: TOKEN });
    const batch = manyRecords(3);
    batch[1] = { id: 'torn', line: Buffer.from('{"@timestamp":"2025-06-01T12:00:00Z","eve') };
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o.rejected.map((r) => r.index), [1]);
    assert.equal(s.requests.length, 1);
    assert.equal(s.envelopes.length, 2);
  });

  it('401 (no/invalid authorization) and 403 (invalid token) → retry with a loud ERR_SINK_AUTH, nothing rejected', async () => {
    const s = await hec({ token: TOKEN });
    const o = await transport({ url: s.url, token: 'wrong-token' }).deliver(goldenRecords().slice(0, 4));
    assert.deepEqual(o.retry, [0, 1, 2, 3]);
    assert.deepEqual(o.rejected, []);
    assert.match(o.error!, /^ERR_SINK_AUTH splunk_hec: HTTP 403 code 4 Invalid token/);
    const s2 = await hec({ token: TOKEN, onEvent: () => ({ status: 403, body: { text: 'Token disabled', code: 1 } }) });
    const o2 = await transport({ url: s2.url }).deliver(goldenRecords().slice(0, 2));
    assert.deepEqual(o2.retry, [0, 1]);
    assert.match(o2.error!, /ERR_SINK_AUTH .*Token disabled/);
  });

  it('400 code 7 "Incorrect index" is our setting, not the data: retried loudly, not dead-lettered', async () => {
    const s = await hec({ token: TOKEN, onEvent: () => ({ status: 400, body: { text: 'Incorrect index', code: 7, 'invalid-event-number': 0 } }) });
    const o = await transport({ url: s.url, index: 'nope' }).deliver(goldenRecords().slice(0, 3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.deepEqual(o.rejected, []);
    assert.match(o.error!, /^ERR_SINK_CONFIG splunk_hec: HTTP 400 code 7 Incorrect index/);
    assert.equal(s.requests.length, 1, 'no narrowing down for a settings error');
  });

  it('indexer acknowledgement: channel header, ackId kept, polls until {"acks":{"0":true}}; delivered only then', async () => {
    const s = await hec({ token: TOKEN, acks: true, ackStatus: (_id, poll) => poll >= 3 });
    const t = transport({ url: s.url, useAck: true, channel: CHANNEL, ackPollMs: 20, ackTimeoutMs: 5000 });
    const batch = goldenRecords().slice(0, 10);
    const o = await t.deliver(batch);
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(s.requests[0]!.headers['x-splunk-request-channel'], CHANNEL);
    assert.equal(s.ackPolls.length, 3, 'false, false, true');
    assert.deepEqual(s.ackPolls.map((p) => p.acks), [[0], [0], [0]]);
    assert.ok(s.ackPolls.every((p) => p.channel === CHANNEL));
    // A second batch gets the next ackId on the same channel.
    await t.deliver(batch.slice(0, 2));
    assert.deepEqual(s.ackPolls.at(-1)!.acks, [1]);
    // Batches waiting for their acks at the same time (the queue may have maxInFlight of them) each get theirs.
    assert.equal(t.maxInFlight, 4);
    const t0 = performance.now();
    const outs = await Promise.all([0, 1, 2, 3].map((k) => t.deliver(batch.slice(k * 2, k * 2 + 2))));
    assert.ok(outs.every((o) => o.retry.length === 0 && o.rejected.length === 0));
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(s.envelopes.length, 10 + 2 + 8);
  });

  it('acks without a configured channel use a random GUID; a token with acks on but use_ack off answers 400 code 10 → loud retry', async () => {
    const s = await hec({ token: TOKEN, acks: true });
    const t = transport({ url: s.url, useAck: true, ackPollMs: 10 });
    assert.match(t.channel!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(await t.deliver(goldenRecords().slice(0, 2)), { retry: [], rejected: [] });
    const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 2));
    assert.deepEqual(o.retry, [0, 1]);
    assert.match(o.error!, /ERR_SINK_CONFIG splunk_hec: HTTP 400 code 10 Data channel is missing/);
  });

  it('a lost ack → retry after ack_timeout_ms (at-least-once); the resend is a duplicate that search-time dedup by event.id removes', async () => {
    let indexed = false;
    const s = await hec({ token: TOKEN, acks: true, ackStatus: () => indexed });
    const t = transport({ url: s.url, useAck: true, channel: CHANNEL, ackPollMs: 20, ackTimeoutMs: 200 });
    const batch = goldenRecords().slice(0, 6);
    const t0 = performance.now();
    const o = await t.deliver(batch);
    const ms = performance.now() - t0;
    assert.deepEqual(o.retry, [0, 1, 2, 3, 4, 5]);
    assert.match(o.error!, /^ERR_SINK_ACK splunk_hec: 6 events not acknowledged within 200 ms/);
    assert.ok(ms >= 190 && ms < 2000, `${ms} ms`);
    assert.equal(t.stats.ackTimeouts, 1);
    indexed = true;
    assert.deepEqual(await t.deliver(batch), { retry: [], rejected: [] });
    assert.equal(s.envelopes.length, 12, 'HEC holds both copies');
    const dedup = new Set(s.envelopes.map(idOf));
    assert.deepEqual([...dedup].sort(), batch.map((r) => r.id).sort());
  });

  it('413 splits the batch until each request fits', async () => {
    const s = await hec({ token: TOKEN, maxContentLength: 20_000 });
    const batch = manyRecords(100);
    const o = await transport({ url: s.url }).deliver(batch);
    assert.deepEqual(o, { retry: [], rejected: [] });
    assert.equal(new Set(s.envelopes.map(idOf)).size, 100);
    assert.ok(s.requests.length > 2);
    const tooBig = s.requests.filter((r) => r.raw.length > 20_000).length;
    assert.ok(tooBig >= 1 && s.envelopes.length === 100);
  });

  it('gzip: Content-Encoding gzip bodies carry the same envelopes', async () => {
    const s = await hec({ token: TOKEN });
    const batch = goldenRecords();
    assert.deepEqual(await transport({ url: s.url, gzip: true }).deliver(batch), { retry: [], rejected: [] });
    assert.equal(s.requests[0]!.headers['content-encoding'], 'gzip');
    assert.deepEqual(s.envelopes.map((e) => e.event), batch.map((r) => JSON.parse(r.line.toString()) as unknown));
  });

  it('HTTPS with a private CA (ca_file) delivers; the wrong CA → retry with ERR_SINK_TLS, no crash', { skip: missingTools('openssl') ?? false }, async () => {
    const dir = tempDir();
    const good = makePrivateCa(dir, 'good');
    const other = makePrivateCa(dir, 'other');
    const s = await hec({ token: TOKEN, tls: good.server });
    assert.ok(s.url.startsWith('https://'));
    assert.deepEqual(await transport({ url: s.url, ca: good.caPem }).deliver(goldenRecords().slice(0, 3)), { retry: [], rejected: [] });
    const o = await transport({ url: s.url, ca: other.caPem }).deliver(goldenRecords().slice(0, 3));
    assert.deepEqual(o.retry, [0, 1, 2]);
    assert.match(o.error!, /^ERR_SINK_TLS splunk_hec: TLS failed/);
  });

  describe('hostile servers', () => {
    it('200 with garbage instead of {"text":"Success","code":0} → retry (nothing says HEC has the events)', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      });
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 2));
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /^ERR_SINK_PROTOCOL splunk_hec: HTTP 200 <html>login<\/html>: not a HEC success answer/);
    });

    it('a huge answer is cut off at the cap → retry, no crash', async () => {
      const s = await startRawServer((_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let n = 0;
        const pump = (): void => {
          while (n < 64 && res.write(chunk)) n++;
          if (n < 64) res.once('drain', () => { n++; pump(); });
          else res.end();
        };
        pump();
      });
      servers.push(s);
      const o = await transport({ url: s.url }).deliver(goldenRecords().slice(0, 2));
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /ERR_SINK_PROTOCOL splunk_hec: HTTP 200 answer larger than the cap/);
    });

    it('a server that never answers → retry after timeout_ms, no hang', async () => {
      const s = await startRawServer(() => {});
      servers.push(s);
      const t0 = performance.now();
      const o = await transport({ url: s.url, timeoutMs: 300 }).deliver(goldenRecords().slice(0, 2));
      const ms = performance.now() - t0;
      assert.deepEqual(o.retry, [0, 1]);
      assert.match(o.error!, /^ERR_SINK_UNAVAILABLE splunk_hec: no answer within 300 ms/);
      assert.ok(ms >= 290 && ms < 3000, `${ms} ms`);
    });

    it('nothing listening → retry with ECONNREFUSED', async () => {
      const s = await startRawServer(() => {});
      const url = s.url;
      await s.close();
      const o = await transport({ url }).deliver(goldenRecords().slice(0, 1));
      assert.deepEqual(o.retry, [0]);
      assert.match(o.error!, /ERR_SINK_UNAVAILABLE splunk_hec: ECONNREFUSED/);
    });

    it('close() while a request hangs resolves deliver with retries; deliver after close retries at once', async () => {
      const s = await startRawServer(() => {});
      servers.push(s);
      const t = transport({ url: s.url, timeoutMs: 60_000 });
      const p = t.deliver(goldenRecords().slice(0, 3));
      await new Promise((r) => setTimeout(r, 50));
      await t.close();
      const o = await p;
      assert.deepEqual(o.retry, [0, 1, 2]);
      assert.deepEqual((await t.deliver(goldenRecords().slice(0, 1))).retry, [0]);
    });
  });

  describe('configuration', () => {
    it('schema: defaults, snake_case keys, unknown keys and bad URLs refused', () => {
      const c = splunkHecConfigSchema.parse({ type: 'splunk_hec', url: 'https://splunk.example:8088', token_file: 'hec.token' });
      assert.equal(c.sourcetype, 'tlsentry');
      assert.equal(c.use_ack, false);
      assert.equal(c.timeout_ms, 15_000);
      assert.equal(c.max_batch_bytes, 1024 * 1024);
      assert.equal(splunkHecConfigSchema.safeParse({ type: 'splunk_hec', url: 'splunk:8088', token_file: 'x' }).success, false);
      assert.equal(splunkHecConfigSchema.safeParse({ type: 'splunk_hec', url: 'https://s', token_file: 'x', tokn: 1 }).success, false);
      assert.equal(splunkHecConfigSchema.safeParse({ type: 'splunk_hec', url: 'https://s', token_file: 'x', channel: 'not-a-guid' }).success, false);
    });

    it('splunkHecFromConfig reads token_file and ca_file relative to the config directory', { skip: missingTools('openssl') ?? false }, async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets/hec.token'), `${TOKEN}\n`);
      const ca = makePrivateCa(dir, 'cfg');
      const s = await hec({ token: TOKEN, tls: ca.server });
      const cfg = splunkHecConfigSchema.parse({ type: 'splunk_hec', url: s.url, token_file: 'secrets/hec.token', ca_file: 'cfg-ca.pem', index: 'main' });
      const t = splunkHecFromConfig(cfg, dir);
      transports.push(t);
      assert.equal(t.kind, 'splunk_hec');
      assert.deepEqual(await t.deliver(goldenRecords().slice(0, 2)), { retry: [], rejected: [] });
      assert.equal(s.envelopes[0]!.index, 'main');
      assert.throws(() => splunkHecFromConfig({ ...cfg, token_file: 'missing.token' }, dir), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /token_file/.test(e.message));
    });
  });

  it('throughput to a local HEC (1000-event batches, 1 MiB requests)', async (t) => {
    const s = await hec({ token: TOKEN });
    const tr = transport({ url: s.url });
    const all = manyRecords(20_000);
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 1000) {
      const o = await tr.deliver(all.slice(i, i + 1000));
      assert.deepEqual(o, { retry: [], rejected: [] });
    }
    const sec = (performance.now() - t0) / 1000;
    assert.equal(s.envelopes.length, 20_000);
    t.diagnostic(`splunk_hec: ${Math.round(20_000 / sec)} events/s (${s.requests.length} requests, ${(s.requests.reduce((n, r) => n + r.raw.length, 0) / 2 ** 20).toFixed(1)} MiB, server parses every event)`);
  });
});
