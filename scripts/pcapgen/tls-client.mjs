#!/usr/bin/env node
// TLS client for scripts/make-pcaps.sh and bench/gen-captures.sh (never used by the sensor).
//
//   node tls-client.mjs --host 127.0.0.1 --port 8443 --ca ca.pem
//        [--servername NAME | --no-sni] [--alpn h2,http/1.1] [--local-port N] [--local-address A]
//        [--min-version V] [--max-version V] [--send TEXT] [--wait echo|close]
//        [--count N --concurrency C] [--vary --sni-pattern 'h{n}.bench.test' --sni-count K]
//
// Each connection sends TEXT (\r and \n escapes understood; {sni}, {i}, {size} substituted),
// then either ends after as many bytes came back (--wait echo, for tls-server --mode tls-echo)
// or reads until the server closes (--wait close, for HTTP with "Connection: close").
// --vary (benchmark) cycles per connection i: TLS 1.2 for every third, ALPN offer
// (h2+http/1.1, http/1.1, none), session resumption every fifth when a session for
// that name and version exists, SNI from --sni-pattern, response size {size} 256..4095.
// Prints one line per connection (protocol, ALPN, resumed) unless --count > 1.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const a = parseArgs(process.argv.slice(2));
const count = Number(a.count ?? 1);
const concurrency = Number(a.concurrency ?? 1);
const ca = readFileSync(a.ca);
const text = (a.send ?? '').replace(/\\r/g, '\r').replace(/\\n/g, '\n');
const wait = a.wait ?? 'close';
const vary = 'vary' in a;
const sessions = new Map();
const verbose = count === 1;
let next = 0;
let failures = 0;
let resumed = 0;
const versions = { 'TLSv1.2': 0, 'TLSv1.3': 0 };

function one(i) {
  return new Promise((resolve) => {
    const sni = vary && a['sni-pattern']
      ? a['sni-pattern'].replace('{n}', String(i % Number(a['sni-count'] ?? 50)))
      : a.servername;
    const o = {
      host: a.host ?? '127.0.0.1',
      port: Number(a.port),
      ca,
      servername: 'no-sni' in a ? '' : sni,
      // Without SNI Node would check the IP against the certificate; the SAN has it.
      checkServerIdentity: () => undefined,
    };
    if (a['local-port']) o.localPort = Number(a['local-port']);
    if (a['local-address']) o.localAddress = a['local-address'];
    if (a['min-version']) o.minVersion = a['min-version'];
    if (a['max-version']) o.maxVersion = a['max-version'];
    if (a.alpn) o.ALPNProtocols = a.alpn.split(',');
    let key = '';
    if (vary) {
      if (i % 3 === 0) o.maxVersion = 'TLSv1.2';
      const offers = [['h2', 'http/1.1'], ['http/1.1'], null];
      const offer = offers[i % 3 === 1 ? 0 : (i >> 1) % 3];
      if (offer) o.ALPNProtocols = offer; else delete o.ALPNProtocols;
      key = `${sni}|${o.maxVersion ?? ''}`;
      if (i % 5 === 4 && sessions.has(key)) o.session = sessions.get(key);
    }
    const size = 256 + ((i * 977) % 3840);
    const msg = text.replaceAll('{sni}', sni ?? '').replaceAll('{i}', String(i)).replaceAll('{size}', String(size));
    let got = 0;
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      if (err) {
        failures++;
        console.error(`connection ${i}: ${err.message ?? err}`);
      }
      resolve();
    };
    const s = tls.connect(o, () => {
      versions[s.getProtocol()] = (versions[s.getProtocol()] ?? 0) + 1;
      if (s.isSessionReused()) resumed++;
      if (verbose) {
        console.log(`${s.getProtocol()} alpn=${s.alpnProtocol || '-'} resumed=${s.isSessionReused()} local=${s.localAddress}:${s.localPort}`);
      }
      if (msg) s.write(msg);
      else if (wait !== 'close') s.end();
    });
    if (vary) s.on('session', (sess) => sessions.set(key, sess));
    s.on('data', (c) => {
      got += c.length;
      if (wait === 'echo' && got >= Buffer.byteLength(msg)) s.end();
    });
    s.on('end', () => { if (wait === 'close') s.end(); });
    s.on('close', (hadError) => finish(hadError ? new Error('closed with error') : null));
    s.on('error', finish);
    s.setTimeout(15000, () => { s.destroy(); finish(new Error('timeout')); });
  });
}

async function worker() {
  while (next < count) await one(next++);
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
if (count > 1) {
  console.log(`connections=${count} failures=${failures} resumed=${resumed} tls1.2=${versions['TLSv1.2']} tls1.3=${versions['TLSv1.3']}`);
}
process.exit(failures === 0 ? 0 : 1);

function parseArgs(argv) {
  const out = {};
  const flags = new Set(['--vary', '--no-sni']);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error(`unexpected argument ${k}`);
    if (flags.has(k)) out[k.slice(2)] = true;
    else out[k.slice(2)] = argv[++i];
  }
  return out;
}
