/**
 * Lookups per second through the batch endpoint, and what enrichment costs the
 * sensor per flow.
 *
 *   npx tsx bench/enrich-lookups.ts [--seconds 10] [--flows 200000] [--events DIR]
 *
 * The agent runs as its own process (plain JavaScript), Sysmon backend on
 * ../shared/endpoint/otrf_lsass_campaign_05 (or --events). Queries are that
 * campaign's Zeek conn flows, repeated with fresh ids.
 *
 * 1. Batch endpoint: 1, 2 and 4 clients, each POSTing batches of 500 over a
 *    keep-alive connection for --seconds: flows/s, batch latency, agent CPU.
 * 2. Sensor side, through the Enricher (batches of 500):
 *    - `request()` and `outcome()` alone (the packet-path calls), µs per call;
 *    - all sensor-side CPU per flow (request, batching, JSON, HTTP, checking the
 *      answer, outcome), from process.cpuUsage() of this process over --flows
 *      flows, the agent being another process;
 *    - a cache hit (same 5-tuple again).
 */
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { Enricher } from '../src/enrich/index.js';
import { AnomalyCounters } from '../src/shared/anomalies.js';
import type { AttributionQuery } from '../src/shared/endpoint-api.js';
import { readZeekJoined, zeekQueries } from '../test/agent/helpers.js';
import { option, REPO, startAgent, stopAgent, treeCpuSeconds } from './enrich-common.js';

const args = process.argv.slice(2);
const SECONDS = Number(option(args, '--seconds', '10'));
const FLOWS = Number(option(args, '--flows', '200000'));
const EVENTS = option(args, '--events', join(REPO, '../shared/endpoint/otrf_lsass_campaign_05'));
const TOKEN = 'bench-token-0123456789';

function flowsFrom(dir: string): Omit<AttributionQuery, 'id'>[] {
  return zeekQueries(readZeekJoined(dir)).map((j) => j.query);
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/v1/attribution', method: 'POST', agent, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function endpointThroughput(url: string, agentPid: number, base: Omit<AttributionQuery, 'id'>[], clients: number): Promise<string> {
  const u = new URL(url);
  let flows = 0;
  let seq = 0;
  const lat: number[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  const cpu0 = treeCpuSeconds(agentPid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (Date.now() < deadline) {
        const batch = Array.from({ length: 500 }, () => ({ ...base[seq % base.length], id: `b${seq++}` }));
        const t = performance.now();
        const r = await post(agent, u, JSON.stringify({ flows: batch }));
        lat.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text.slice(0, 200)}`);
        const n = (JSON.parse(r.text) as { results: unknown[] }).results.length;
        if (n !== 500) throw new Error(`${n} results`);
        flows += n;
      }
      agent.destroy();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const agentCpu = treeCpuSeconds(agentPid) - cpu0;
  return `| ${clients} | ${Math.round(flows / secs).toLocaleString('en')} | ${pct(lat, 0.5).toFixed(1)} | ${pct(lat, 0.99).toFixed(1)} | ${((100 * agentCpu) / secs).toFixed(0)} % | ${((agentCpu / flows) * 1e6).toFixed(1)} |`;
}

async function sensorSide(url: string, base: Omit<AttributionQuery, 'id'>[]): Promise<string[]> {
  const out: string[] = [];
  const queries: AttributionQuery[] = Array.from({ length: FLOWS }, (_, i) => ({ ...base[i % base.length], id: `s${i}` }));
  // warm-up (JIT, connection)
  {
    const e = new Enricher({ url, token: TOKEN, batchSize: 500, maxQueue: FLOWS + 10, cacheSize: 0 }, new AnomalyCounters());
    for (let i = 0; i < 5000; i++) e.request({ ...queries[i], id: `w${i}` });
    await e.drain(30_000);
    e.close();
  }
  const e = new Enricher({ url, token: TOKEN, batchSize: 500, batchDelayMs: 5, maxQueue: FLOWS + 10, cacheSize: 0, timeoutMs: 30_000 }, new AnomalyCounters());
  // (a) request() alone, a burst of every flow
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const q of queries) e.request(q);
  const tReq = performance.now() - t0;
  await e.drain(120_000);
  const wall = (performance.now() - t0) / 1000;
  // (b) outcome() alone
  const t1 = performance.now();
  let enriched = 0;
  for (const q of queries) if (e.outcome(q.id)?.status === 'enriched') enriched++;
  const tOut = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  const s = e.stats;
  e.close();
  out.push(`| request() | ${((tReq * 1000) / FLOWS).toFixed(2)} µs per call |`);
  out.push(`| outcome() | ${((tOut * 1000) / FLOWS).toFixed(2)} µs per call |`);
  out.push(`| all sensor-side CPU (request, batch JSON, HTTP, answer check, outcome) | ${(((cpu.user + cpu.system) / FLOWS)).toFixed(1)} µs per flow |`);
  out.push(`| end-to-end through the Enricher | ${Math.round(FLOWS / wall).toLocaleString('en')} flows/s, ${s.batches} batches, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms per batch; ${enriched} enriched of ${FLOWS} |`);
  // (c) cache hits
  const c = new Enricher({ url, token: TOKEN, batchSize: 500, cacheSize: 10_000 }, new AnomalyCounters());
  const few = queries.slice(0, 1000);
  for (const q of few) c.request(q);
  await c.drain(30_000);
  const t2 = performance.now();
  const R = 200_000;
  for (let i = 0; i < R; i++) {
    const q = few[i % few.length];
    c.request({ ...q, id: `h${i}` });
    c.outcome(`h${i}`);
  }
  const tHit = performance.now() - t2;
  out.push(`| cache hit: request() + outcome() | ${((tHit * 1000) / R).toFixed(2)} µs per flow (${c.stats.cacheHits} hits) |`);
  c.close();
  return out;
}

async function main(): Promise<void> {
  const base = flowsFrom(EVENTS);
  const { child, url } = await startAgent(['--backend', 'sysmon', '--listen', '127.0.0.1:0', '--token-file', await tokenFile(), '--events', EVENTS]);
  try {
    console.log(`# lookups bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, sysmon backend on ${EVENTS} (${base.length} Zeek flows as queries)`);
    console.log('\n| clients | flows/s | batch p50 ms | batch p99 ms | agent CPU | agent CPU µs per flow |');
    console.log('|---|---|---|---|---|---|');
    for (const c of [1, 2, 4]) console.log(await endpointThroughput(url, child.pid!, base, c));
    console.log('\n| sensor side (Enricher, batches of 500) | cost |');
    console.log('|---|---|');
    for (const line of await sensorSide(url, base)) console.log(line);
  } finally {
    await stopAgent(child);
  }
}

async function tokenFile(): Promise<string> {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'tlsentry-lookups-'));
  const f = join(dir, 'token');
  writeFileSync(f, `${TOKEN}\n`);
  return f;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
