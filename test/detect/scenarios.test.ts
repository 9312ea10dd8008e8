/**
 * Issue 6's scenario suite, from real traffic on this machine with the procfs
 * agent. The real agent (`tlsentry agent --backend procfs`, netlink
 * sock_diag) runs; HTTPS servers listen on loopback aliases, port 443; real
 * client processes connect while tcpdump captures `lo`; `tlsentry read
 * --endpoint … --baseline …` (the CLI) attributes and judges the captures:
 *
 * 1. learn: curl, openssl s_client and a Node https client download from the
 *    valid server (`read --learn`);
 * 2. the same benign set again, `read --detect`: nothing alerts;
 * 3. the scenarios, `read --detect` with the default weights and threshold:
 *    (a) processes never seen speaking TLS start to — a copy of curl run from
 *        /tmp, a python3 one-liner (the Debian interpreter, /usr/bin/python3);
 *    (b) a client-heavy upload (4 MiB out, a line back) by the baselined curl
 *        to a self-signed server;
 *    (c) normal downloads by baselined clients (curl, node);
 *    (d) the baselined curl to a server whose certificate a TLS-inspection
 *        proxy CA issued; that CA is in the sensor's trust store tagged
 *        `tls_inspection` (the operator's allow-listing).
 *    Alerts on exactly (a) and (b), with the scenario's rules; none on (c),
 *    (d). Alerts are joined to scenarios by pid and destination, never by order.
 * 4. a control read of the same capture at threshold 1 without the
 *    inspection bundle (on a copy of the baseline as it stood) shows what
 *    stayed under the threshold, and that (d) without the allow-list is a
 *    non-standard chain.
 *
 * The valid server's chain (leaf ← issuing CA ← root) reaches a root given to
 * the sensor as an `enterprise_pki` bundle: a test cannot get a certificate
 * from a Mozilla root, and what the rules see — verdict `ok`, an anchor — is
 * the same. Servers speak TLS 1.2: under TLS 1.3 a passive sensor sees no
 * certificate, and nonstandard_chain (correctly) stays silent.
 *
 * The table (scenario, expected, got, rules) is printed and written to
 * `<temp>/scenarios.md`.
 */
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, existsSync, mkdtempSync, realpathSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';

import { defaultDetectConfig } from '../../src/detect/config.js';
import type { RuleName } from '../../src/detect/types.js';
import { spawnAgent, stopChild, tokenFile } from '../agent/helpers.js';
import { missingTools, startTcpdump, stopTcpdump, tempDir } from '../helpers/tools.js';
import { issue, makeCa, markdownTable, runClient, selfSigned, startSite, tlsentryRead, type Ev, type ReadResult } from './scenario-helpers.js';

const skip =
  process.platform !== 'linux'
    ? 'needs Linux /proc'
    : process.getuid?.() !== 0
      ? 'needs root (capture on lo, servers on port 443)'
      : missingTools('tcpdump', 'curl', 'openssl', 'python3');

/** Each answer waits this long: a connection must outlive a few of the agent's 20 ms socket-table polls, also under load. */
const HOLD_MS = 500;
const PORT = 443;
type Site = 'valid' | 'selfsigned' | 'proxy';
const SITES: Record<Site, { ip: string; name: string }> = {
  valid: { ip: '127.31.6.1', name: 'downloads.scenario.test' },
  selfsigned: { ip: '127.31.6.2', name: 'upload.scenario.test' },
  proxy: { ip: '127.31.6.3', name: 'www.example.com' },
};
const PROXY_CA_SUBJECT = '/O=Example Corp/CN=Corp Inspection CA';

/** How the sensor must judge each server's chain, given the operator's configuration. */
const VERDICT: Record<Site, { ok: boolean; anchor: string | null }> = {
  valid: { ok: true, anchor: 'enterprise_pki' },
  selfsigned: { ok: false, anchor: null },
  proxy: { ok: true, anchor: 'tls_inspection' },
};

interface Client {
  label: string;
  cmd: string;
  args: string[];
  stdin?: string;
  site: Site;
  /** The executable the agent must report (real path). */
  executable: string;
}

interface Scenario {
  id: string;
  title: string;
  client: Client;
  /** Expected: an alert with (at least) these rules, or no alert. */
  alert: boolean;
  rules: RuleName[];
}

function which(tool: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return realpathSync(r.stdout.trim());
}

test('AN0759 scenarios from real traffic with the procfs agent: alerts on exactly (a) and (b)', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const t0 = Date.now();
  const dir = tempDir('tlsentry-scenarios-');
  const pki = join(dir, 'pki');
  mkdirSync(pki);

  // --- PKI: a root with an issuing CA (the valid server), a self-signed server, an inspection proxy's CA.
  const root = makeCa(pki, 'root', '/O=tlsentry scenarios/CN=Scenario Root CA');
  const issuing = issue(pki, 'issuing', root, { subj: '/O=tlsentry scenarios/CN=Scenario Issuing CA 1', ca: true });
  const validLeaf = issue(pki, 'valid', issuing, { subj: `/CN=${SITES.valid.name}`, dns: SITES.valid.name });
  const selfLeaf = selfSigned(pki, 'selfsigned', SITES.selfsigned.name);
  const proxyCa = makeCa(pki, 'proxy-ca', PROXY_CA_SUBJECT);
  const proxyLeaf = issue(pki, 'proxy-leaf', proxyCa, { subj: `/CN=${SITES.proxy.name}`, dns: SITES.proxy.name });

  // What an operator of this host writes: the internal root, and the inspection proxy's CA tagged as such.
  const config = join(dir, 'tlsentry.yaml');
  writeFileSync(config, ['x509:', '  ca_bundles:', '    - { path: pki/root.pem, tag: enterprise_pki }', '    - { path: pki/proxy-ca.pem, tag: tls_inspection }', 'detect: {}', ''].join('\n'));
  // Control: every rule hit visible (threshold 1), and no inspection bundle.
  const control = join(dir, 'control.yaml');
  writeFileSync(control, ['x509:', '  ca_bundles:', '    - { path: pki/root.pem, tag: enterprise_pki }', 'detect:', '  threshold: 1', ''].join('\n'));

  const started = await Promise.allSettled([
    startSite({ ...SITES.valid, port: PORT, key: validLeaf.key, certChain: validLeaf.pem + issuing.pem, holdMs: HOLD_MS }),
    startSite({ ...SITES.selfsigned, port: PORT, key: selfLeaf.key, certChain: selfLeaf.pem, holdMs: HOLD_MS }),
    startSite({ ...SITES.proxy, port: PORT, key: proxyLeaf.key, certChain: proxyLeaf.pem, holdMs: HOLD_MS }),
  ]);
  const sites = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const closeSites = () => Promise.all(sites.map((s) => s.close()));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await closeSites();
    throw failed.reason;
  }
  const tf = tokenFile();
  const agent = await spawnAgent(['--backend', 'procfs', '--listen', '127.0.0.1:0', '--token-file', tf]).catch(async (e: unknown) => {
    await closeSites();
    throw e;
  });

  // --- Clients.
  const curlExe = which('curl');
  const opensslExe = which('openssl');
  // The Debian interpreter when there is one (not a pyenv shim or a venv under /root or /home).
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : which('python3');
  const implantDir = mkdtempSync('/tmp/tlsentry-implant-');
  const implant = join(implantDir, 'updater');
  copyFileSync(curlExe, implant);
  chmodSync(implant, 0o755);
  const upload = join(dir, 'upload.bin');
  writeFileSync(upload, Buffer.alloc(4 << 20, 0x7a));

  const url = (site: Site, path: string) => `https://${SITES[site].name}${path}`;
  const resolve = (site: Site) => ['--resolve', `${SITES[site].name}:${PORT}:${SITES[site].ip}`];
  const curl = (site: Site, o: { bytes?: number; cacert?: string; upload?: string; exe?: string; label?: string }): Client => ({
    label: o.label ?? 'curl',
    cmd: o.exe ?? curlExe,
    site,
    executable: o.exe ? realpathSync(o.exe) : curlExe,
    args: [
      '-sS', '--fail', '--max-time', '20', ...resolve(site), '-o', '/dev/null',
      ...(o.cacert ? ['--cacert', o.cacert] : ['-k']),
      ...(o.upload ? ['-H', 'Expect:', '--data-binary', `@${o.upload}`, url(site, '/upload')] : [url(site, `/file?bytes=${o.bytes ?? 4096}`)]),
    ],
  });
  const sClient = (site: Site): Client => ({
    label: 'openssl s_client',
    cmd: opensslExe,
    site,
    executable: opensslExe,
    args: ['s_client', '-connect', `${SITES[site].ip}:${PORT}`, '-servername', SITES[site].name, '-CAfile', root.cert, '-verify_return_error', '-quiet'],
    stdin: `GET /file?bytes=20000 HTTP/1.0\r\nHost: ${SITES[site].name}\r\n\r\n`,
  });
  const nodeClient = (site: Site, bytes: number): Client => ({
    label: 'node https',
    cmd: process.execPath,
    site,
    executable: realpathSync(process.execPath),
    args: [
      '-e',
      `const https=require('https'),fs=require('fs');` +
        `https.get({host:'${SITES[site].ip}',port:${PORT},servername:'${SITES[site].name}',path:'/file?bytes=${bytes}',ca:fs.readFileSync('${root.cert}'),agent:false,headers:{host:'${SITES[site].name}'}},` +
        `(r)=>{let n=0;r.on('data',(d)=>n+=d.length);r.on('end',()=>{if(r.statusCode!==200||n!==${bytes})process.exit(3)})}).on('error',(e)=>{console.error(e);process.exit(2)})`,
    ],
  });
  const pythonOneLiner = (site: Site): Client => ({
    label: 'python3 -c',
    cmd: python,
    site,
    executable: realpathSync(python),
    args: [
      '-c',
      `import socket,ssl;c=ssl.create_default_context(cafile='${root.cert}');` +
        `s=c.wrap_socket(socket.create_connection(('${SITES[site].ip}',${PORT})),server_hostname='${SITES[site].name}');` +
        `s.sendall(b'GET /file?bytes=4096 HTTP/1.0\\r\\nHost: ${SITES[site].name}\\r\\n\\r\\n');` +
        `d=b''.join(iter(lambda:s.recv(65536),b''));s.close();assert d.startswith(b'HTTP/1.1 200'),d[:40]`,
    ],
  });

  const benign: Client[] = [
    curl('valid', { bytes: 200_000, cacert: root.cert }),
    sClient('valid'),
    nodeClient('valid', 150_000),
    curl('valid', { bytes: 500_000, cacert: root.cert }),
    nodeClient('valid', 300_000),
    sClient('valid'),
    curl('valid', { bytes: 1_000_000, cacert: root.cert }),
    nodeClient('valid', 600_000),
  ];

  const writable = defaultDetectConfig.rules.user_writable_image_path.linux;
  const inWritable = (exe: string) => writable.some((p) => exe.startsWith(p));
  const pyExe = realpathSync(python);
  const scenarios: Scenario[] = [
    {
      id: '(a) copied binary',
      title: `a copy of curl run as ${implant}`,
      client: curl('valid', { bytes: 4096, cacert: root.cert, exe: implant, label: 'updater (curl copied to /tmp)' }),
      alert: true,
      rules: ['new_tls_process', 'user_writable_image_path', 'unexpected_tls_library'],
    },
    {
      id: '(a) python one-liner',
      title: `${pyExe} -c "import socket,ssl…"`,
      client: pythonOneLiner('valid'),
      alert: true,
      rules: ['new_tls_process', 'unexpected_tls_library', 'listed_unexpected_process', ...(inWritable(pyExe) ? (['user_writable_image_path'] as const) : [])],
    },
    {
      id: '(b) upload to self-signed',
      title: 'baselined curl POSTs 4 MiB, gets a line back',
      client: curl('selfsigned', { upload }),
      alert: true,
      rules: ['asymmetric_egress', 'nonstandard_chain'],
    },
    {
      id: '(c) download, curl',
      title: 'baselined curl downloads 2 MB',
      client: curl('valid', { bytes: 2_000_000, cacert: root.cert }),
      alert: false,
      rules: [],
    },
    {
      id: '(c) download, node',
      title: 'baselined node https client downloads 1 MB',
      client: nodeClient('valid', 1_000_000),
      alert: false,
      rules: [],
    },
    {
      id: '(d) inspection proxy',
      title: 'baselined curl through a proxy-signed chain',
      client: curl('proxy', { bytes: 300_000, cacert: proxyCa.cert }),
      alert: false,
      rules: [],
    },
  ];

  const tokenArgs = ['--endpoint', agent.url, '--endpoint-token-file', tf];
  const baseline = join(dir, 'baseline.db');
  const filter = `net 127.31.6.0/24 and tcp port ${PORT}`;

  /** Run clients one after another under tcpdump; their pids in order. */
  async function capture(name: string, clients: Client[]): Promise<{ file: string; pids: number[] }> {
    const file = join(dir, `${name}.pcap`);
    const dump = await startTcpdump('lo', file, filter);
    const pids: number[] = [];
    try {
      for (const c of clients) pids.push((await runClient(c.cmd, c.args, { stdin: c.stdin })).pid);
    } finally {
      const dropped = await stopTcpdump(dump, file);
      assert.equal(dropped, 0, `${name}: tcpdump dropped packets`);
    }
    return { file, pids };
  }

  /** Each client made one flow, attributed by the agent to its pid and executable, to its server, judged as the site's chain must be. */
  function assertAttributed(phase: string, r: ReadResult, clients: Client[], pids: number[], verdicts = VERDICT): Map<number, Ev> {
    assert.equal(r.flows.length, clients.length, `${phase}: one flow per client; got ${r.flows.map((f) => `${f.process?.name}:${f.process?.pid}`).join(' ')}`);
    const byPid = new Map<number, Ev>();
    clients.forEach((c, i) => {
      const pid = pids[i]!;
      const f = r.flows.filter((e) => e.process?.pid === pid);
      assert.equal(f.length, 1, `${phase}: ${c.label} (pid ${pid}) has one attributed flow; flows: ${r.flows.map((e) => `${e.process?.pid ?? e.tlsentry.enrichment?.status}`).join(' ')}\nagent: ${agent.log()}`);
      const ev = f[0]!;
      assert.equal(ev.tlsentry.enrichment?.status, 'enriched');
      assert.equal(ev.process!.executable, c.executable, `${phase}: ${c.label} executable`);
      assert.equal(ev.destination.ip, SITES[c.site].ip);
      assert.equal(ev.destination.port, PORT);
      assert.equal(ev.tls?.client?.server_name, SITES[c.site].name, `${phase}: ${c.label} SNI`);
      const v = ev.tlsentry.x509;
      const want = verdicts[c.site];
      assert.ok(v, `${phase}: ${c.label}: a chain verdict (TLS 1.2 shows the certificates)`);
      assert.equal(v.validation_status === 'ok', want.ok, `${phase}: ${c.label} to ${c.site}: ${v.validation_status}`);
      assert.equal(v.anchor?.kind ?? null, want.anchor, `${phase}: ${c.label} anchor`);
      byPid.set(pid, ev);
    });
    return byPid;
  }

  const alertLine = (a: Ev) => `${a.process?.executable}:${a.process?.pid} → ${a.destination.ip}:${a.destination.port} score ${a.tlsentry.alert!.score} [${a.tlsentry.alert!.rules.join(', ')}]`;
  const hits = (a: Ev) => a.tlsentry.alert!.evidence.map((e) => `${e.rule} ${e.weight}`).join(', ');

  let learnRun: ReadResult, rerun: ReadResult, detect: ReadResult, ctl: ReadResult;
  let learnPids: number[], rerunPids: number[], scenarioPids: number[];
  try {
    // 1. Learn the benign clients.
    const learnCap = await capture('learn', benign);
    learnPids = learnCap.pids;
    learnRun = await tlsentryRead([learnCap.file, '-q', ...tokenArgs, '-c', config, '--baseline', baseline, '--learn'], join(dir, 'learn.ndjson'));
    assertAttributed('learn', learnRun, benign, learnPids);
    assert.equal(learnRun.alerts.length, 0, 'learn mode raises nothing');

    // 2. The same benign traffic again, detecting: the baseline persisted and nothing alerts.
    const rerunCap = await capture('benign-again', benign);
    rerunPids = rerunCap.pids;
    rerun = await tlsentryRead([rerunCap.file, '-q', ...tokenArgs, '-c', config, '--baseline', baseline, '--detect'], join(dir, 'benign-again.ndjson'));
    assertAttributed('benign re-run', rerun, benign, rerunPids);
    assert.deepEqual(rerun.alerts.map(alertLine), [], 'the benign set, once learned, raises nothing');

    // 3. The scenarios.
    const scenCap = await capture('scenarios', scenarios.map((s) => s.client));
    scenarioPids = scenCap.pids;
    for (const ext of ['', '-wal', '-shm']) if (existsSync(baseline + ext)) copyFileSync(baseline + ext, join(dir, `control.db${ext}`));
    [detect, ctl] = await Promise.all([
      tlsentryRead([scenCap.file, '-q', ...tokenArgs, '-c', config, '--baseline', baseline, '--detect'], join(dir, 'scenarios.ndjson')),
      tlsentryRead([scenCap.file, '-q', ...tokenArgs, '-c', control, '--baseline', join(dir, 'control.db'), '--detect'], join(dir, 'control.ndjson')),
    ]);
  } finally {
    await stopChild(agent.child);
    await closeSites();
    rmSync(implantDir, { recursive: true, force: true });
  }

  const scenarioClients = scenarios.map((s) => s.client);
  assertAttributed('scenarios', detect, scenarioClients, scenarioPids);
  assertAttributed('control', ctl, scenarioClients, scenarioPids, { ...VERDICT, proxy: { ok: false, anchor: null } });

  // Join alerts to scenarios by pid and destination; an alert that joins none is a failure.
  const joined = new Map<string, Ev[]>();
  const unjoined: Ev[] = [];
  for (const a of detect.alerts) {
    const i = scenarioPids.indexOf(a.process?.pid ?? -1);
    const s = scenarios[i];
    if (!s || a.destination.ip !== SITES[s.client.site].ip || a.destination.port !== PORT) unjoined.push(a);
    else joined.set(s.id, [...(joined.get(s.id) ?? []), a]);
  }
  assert.deepEqual(unjoined.map(alertLine), [], 'every alert belongs to a scenario');
  const ctlBy = (pid: number) => ctl.alerts.filter((a) => a.process?.pid === pid);

  const rows: string[][] = [];
  rows.push(['baseline: learn', `curl ×3, openssl s_client ×2, node https ×3 → ${SITES.valid.name}`, 'learned, no alert', `${learnRun.flows.length} flows learned, ${learnRun.alerts.length} alerts`, '—']);
  rows.push(['baseline: same traffic again', 'the same 8 clients, `--detect`', 'no alert', `${rerun.alerts.length} alerts over ${rerun.flows.length} flows`, '—']);
  const failures: string[] = [];
  scenarios.forEach((s, i) => {
    const pid = scenarioPids[i]!;
    const got = joined.get(s.id) ?? [];
    const ids = new Set(got.map((a) => a.tlsentry.alert!.id));
    const first = got.find((a) => a.tlsentry.alert!.phase === 'first');
    const under = ctlBy(pid);
    const expected = s.alert ? `alert: ${s.rules.join(', ')}` : 'no alert';
    let gotText: string, rulesText: string;
    if (first) {
      const al = first.tlsentry.alert!;
      gotText = `alert, score ${al.score} ≥ ${al.threshold}`;
      rulesText = hits(first);
    } else {
      gotText = 'no alert';
      // The control read (threshold 1) shows what stayed under the threshold; it lacks the inspection bundle.
      const ch = under[0];
      const inspected = VERDICT[s.client.site].anchor === 'tls_inspection';
      if (inspected) rulesText = `none${ch ? `; without the tls_inspection bundle: ${hits(ch)}` : ''}`;
      else rulesText = ch ? `under the threshold: ${hits(ch)}` : 'none';
    }
    rows.push([s.id, `${s.client.label} → ${SITES[s.client.site].name}: ${s.title}`, expected, gotText, rulesText]);
    if (s.alert) {
      if (ids.size !== 1 || !first) failures.push(`${s.id}: expected one alert, got ${got.length} (${got.map(alertLine).join('; ')})`);
      else {
        const missing = s.rules.filter((r) => !first.tlsentry.alert!.rules.includes(r));
        if (missing.length) failures.push(`${s.id}: alert lacks ${missing.join(', ')}: ${alertLine(first)}`);
      }
    } else if (got.length > 0) failures.push(`${s.id}: expected no alert, got ${got.map(alertLine).join('; ')}`);
  });

  const table = markdownTable(['scenario', 'traffic', 'expected', 'got', 'rules (weight)'], rows);
  writeFileSync(join(dir, 'scenarios.md'), `${table}\n`);
  console.log(`# AN0759 scenarios (${((Date.now() - t0) / 1000).toFixed(1)} s; table in ${join(dir, 'scenarios.md')}):\n${table}`);
  assert.deepEqual(failures, []);

  // Evidence details the table summarises.
  const alertOf = (id: string) => joined.get(id)!.find((a) => a.tlsentry.alert!.phase === 'first')!;
  const ev = (a: Ev, rule: string) => a.tlsentry.alert!.evidence.find((e) => e.rule === rule)!.evidence;
  assert.equal(ev(alertOf('(a) copied binary'), 'user_writable_image_path').matched, '/tmp/');
  assert.equal(ev(alertOf('(a) copied binary'), 'new_tls_process').scope, 'all_hosts');
  assert.equal((ev(alertOf('(a) python one-liner'), 'listed_unexpected_process').entries as { id: string }[])[0]!.id, 'script_interpreters_posix');
  const asym = ev(alertOf('(b) upload to self-signed'), 'asymmetric_egress');
  assert.equal(asym.basis, 'tls_application_data');
  // Every upload record is counted: encrypted bodies do not use up the reassembly depth (it stopped near 2 MB before).
  assert.ok((asym.bytes_out as number) >= 4 << 20 && (asym.pcr as number) > 0.99, JSON.stringify(asym));
  assert.ok((asym.payload_bytes_out as number) >= 4 << 20, JSON.stringify(asym));
  assert.notEqual(ev(alertOf('(b) upload to self-signed'), 'nonstandard_chain').validation_status, 'ok');
  // The benign clients' own flows were never judged new: learning took.
  assert.equal(ctl.alerts.filter((a) => a.tlsentry.alert!.rules.includes('new_tls_process') && [curlExe, opensslExe].includes(a.process!.executable!)).length, 0);
  // Keep the events and the table; drop the bulky captures.
  for (const f of ['learn.pcap', 'benign-again.pcap', 'scenarios.pcap', 'upload.bin']) rmSync(join(dir, f), { force: true });
});
