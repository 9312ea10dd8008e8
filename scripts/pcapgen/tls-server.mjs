#!/usr/bin/env node
// Test server for scripts/make-pcaps.sh and bench/gen-captures.sh (never used by the sensor).
//
//   node tls-server.mjs --mode https|http|tls-echo --port N [--host ADDR]
//        [--cert chain.pem --key key.pem] [--alpn h2,http/1.1] [--min-version V] [--max-version V]
//
// https / http: GET /bytes/N answers N deterministic bytes; any request with a body
//   (POST/PUT) is read to the end and answered with {"received":N}; anything else
//   gets a short text. No Date header, so plain-HTTP captures repeat byte for byte.
// tls-echo: every chunk received is sent back reversed (like `openssl s_server -rev`);
//   the server ends its side when the client ends its side. Reports the ALPN chosen.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

const args = parseArgs(process.argv.slice(2));
const mode = args.mode ?? 'https';
const port = Number(args.port ?? 8443);
const host = args.host ?? '127.0.0.1';

// 1 MiB of fixed pseudo-random bytes (xorshift32), sliced for every response.
const BLOCK = (() => {
  const b = Buffer.alloc(1 << 20);
  let x = 0x2545f491;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
})();

function tlsOptions() {
  const o = {
    cert: readFileSync(args.cert),
    key: readFileSync(args.key),
  };
  if (args.alpn) o.ALPNProtocols = args.alpn.split(',');
  if (args['max-version']) o.maxVersion = args['max-version'];
  if (args['min-version']) o.minVersion = args['min-version'];
  return o;
}

function handle(req, res) {
  res.sendDate = false;
  const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  let received = 0;
  req.on('data', (c) => { received += c.length; });
  req.on('end', () => {
    if (req.method === 'GET' && m) {
      const n = Number(m[1]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
      sendBytes(res, n);
    } else if (received > 0 || req.method === 'POST' || req.method === 'PUT') {
      const body = JSON.stringify({ received }) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
    } else {
      const body = `tlsentry test server: ${req.method} ${req.url}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    }
  });
}

// Stream n bytes with back-pressure (bench downloads are hundreds of MB).
function sendBytes(res, n) {
  let left = n;
  const pump = () => {
    while (left > 0) {
      const len = Math.min(left, BLOCK.length);
      left -= len;
      if (!res.write(len === BLOCK.length ? BLOCK : BLOCK.subarray(0, len))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

let server;
if (mode === 'https') {
  server = https.createServer(tlsOptions(), handle);
} else if (mode === 'http') {
  server = http.createServer(handle);
} else if (mode === 'tls-echo') {
  server = tls.createServer(tlsOptions(), (sock) => {
    sock.on('data', (c) => sock.write(Buffer.from(c).reverse()));
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
  });
} else {
  console.error(`unknown --mode ${mode}`);
  process.exit(2);
}
server.keepAliveTimeout = 2000;
server.on('tlsClientError', () => {});
server.on('clientError', (_e, sock) => sock.destroy());
server.listen({ port, host, ipv6Only: host.includes(':') }, () => {
  process.stdout.write(`listening ${mode} ${host} ${port}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[i + 1];
    i++;
  }
  return out;
}
