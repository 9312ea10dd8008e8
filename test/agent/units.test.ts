/**
 * The agent's parsers on real inputs: /proc/net tables of this host, ELF
 * files on this host (openssl, node, a Go binary), the shared TLS-module
 * watchlist, ftrace lines, address forms.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { normalizeIp } from '../../src/agent/ip.js';
import { analyzeElf, elfDynamic } from '../../src/agent/procfs/elf.js';
import { parseTraceLine } from '../../src/agent/procfs/ftrace.js';
import { hexAddress, parseProcNet } from '../../src/agent/procfs/net.js';
import { ProcNetTable, SockDiagTable } from '../../src/agent/procfs/sockets.js';
import { loadWatchlistFile, Watchlist, watchlistNames } from '../../src/agent/watchlist.js';
import { REPO, sharedPath, SKIP_NO_SHARED } from './helpers.js';

describe('addresses', () => {
  it('normalises every form to one text: Sysmon uncompressed IPv6, IPv4-mapped, zones, brackets', () => {
    assert.equal(normalizeIp('fe80:0:0:0:5d91:ea18:e2b5:9755'), 'fe80::5d91:ea18:e2b5:9755');
    assert.equal(normalizeIp('FF02:0:0:0:0:0:0:FB'), 'ff02::fb');
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('0:0:0:0:0:ffff:7f00:1'), '127.0.0.1');
    assert.equal(normalizeIp('[::1]'), '::1');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    for (const bad of ['', 'x', '1.2.3', '300.1.1.1', ':::', 5, null]) assert.equal(normalizeIp(bad), null);
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const n = normalizeIp(ip);
        assert.ok(n);
        assert.equal(normalizeIp(n), n, 'idempotent');
      }),
    );
  });

  it('/proc/net hex words: host byte order', () => {
    assert.equal(hexAddress('0100007F'), '127.0.0.1');
    assert.equal(hexAddress('00000000000000000000000001000000'), '::1');
    assert.equal(hexAddress('0000000000000000FFFF00000100007F'), '127.0.0.1');
    const t = parseProcNet(
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1\n' +
        'garbage line\n',
      'tcp',
    );
    assert.deepEqual(t, [{ proto: 'tcp', localIp: '127.0.0.1', localPort: 8080, remoteIp: '127.0.0.1', remotePort: 50000, state: 1, uid: 0, inode: 12345 }]);
  });

  it('/proc/net and the sock_diag helper see the same sockets on this host', { skip: process.platform !== 'linux' && 'Linux only' }, async () => {
    const proc = await new ProcNetTable('/proc').read(true);
    const sd = SockDiagTable.tryStart();
    if (!sd) return; // no python3 with netlink: the agent falls back to /proc/net
    try {
      const diag = await sd.read(true);
      const key = (s: { proto: string; localIp: string; localPort: number; inode: number }): string => `${s.proto}|${s.localIp}|${s.localPort}|${s.inode}`;
      const a = new Set(proc.filter((s) => s.inode !== 0).map(key));
      const b = new Set(diag.filter((s) => s.inode !== 0).map(key));
      // sockets come and go between the two reads; nearly all must agree
      const common = [...a].filter((k) => b.has(k)).length;
      assert.ok(common >= Math.min(a.size, b.size) - 3, `${common} common of ${a.size}/${b.size}`);
    } finally {
      sd.close();
    }
  });
});

describe('ELF facts of executables on this host', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  it('/usr/bin/openssl needs libssl; node exports SSL_* with OpenSSL inside; libssl names itself', () => {
    const o = analyzeElf('/usr/bin/openssl');
    assert.ok(o.isElf);
    assert.ok(o.needed.some((n) => n.startsWith('libssl.so')));
    assert.equal(o.staticTls, null);
    const n = analyzeElf(process.execPath);
    assert.equal(n.staticTls, 'openssl-static', JSON.stringify(n));
    assert.ok(!n.needed.some((x) => x.startsWith('libssl')));
    const lib = o.needed.find((x) => x.startsWith('libssl.so'))!;
    const path = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib/aarch64-linux-gnu'].map((d) => join(d, lib)).find((p) => analyzeElf(p).isElf);
    if (path) assert.equal(elfDynamic(path).soname, lib);
  });

  it('a Go binary without build info is still recognised, with crypto/tls from .gopclntab (esbuild)', () => {
    const esbuild = join(REPO, 'node_modules/@esbuild/linux-x64/bin/esbuild');
    const f = analyzeElf(esbuild);
    if (!f.isElf) return;
    assert.equal(f.go, true);
    assert.equal(f.staticTls, 'go');
    assert.ok(f.evidence.some((e) => e.includes('crypto/tls')));
  });

  it('non-ELF, truncated and missing files are not ELF, without throwing', () => {
    assert.equal(analyzeElf('/etc/passwd').isElf, false);
    assert.equal(analyzeElf('/nonexistent').isElf, false);
    assert.deepEqual(elfDynamic('/nonexistent').needed, []);
  });
});

describe('TLS-module watchlist', () => {
  it('classifies Linux and Windows module paths', () => {
    const w = new Watchlist();
    assert.equal(w.classify('/usr/lib/x86_64-linux-gnu/libssl.so.3'), 'tls_stack');
    assert.equal(w.classify('/usr/lib/x86_64-linux-gnu/libcrypto.so.3'), 'crypto');
    assert.equal(w.classify('/usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3'), 'tls_stack');
    assert.equal(w.classify('/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0'), 'http_stack');
    assert.equal(w.classify('/x/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so'), 'tls_stack');
    assert.equal(w.classify('C:\\Windows\\System32\\SCHANNEL.DLL'), 'tls_stack');
    assert.equal(w.classify('C:\\Windows\\System32\\winhttp.dll'), 'http_stack');
    assert.equal(w.classify('C:\\Windows\\System32\\ws2_32.dll'), 'socket_context');
    assert.equal(w.classify('C:\\Windows\\System32\\ntdll.dll'), null);
    assert.equal(w.classify('/usr/lib/libsslx.so'), null);
  });

  it('the built-in list covers every name in the shared watchlist file, in its group', { skip: !sharedPath('tls_module_watchlist.json') && SKIP_NO_SHARED }, () => {
    const file = JSON.parse(readFileSync(sharedPath('tls_module_watchlist.json')!, 'utf8')) as Record<string, Record<string, unknown>>;
    const w = new Watchlist();
    const groups: Record<string, string> = {
      tls_provider_high_specificity: 'tls_stack',
      sspi_and_crypto_medium: 'crypto',
      http_stack_low_specificity: 'http_stack',
      managed_runtime_tls: 'managed_tls',
      sockets_dns_context_only: 'socket_context',
    };
    let n = 0;
    for (const [group, entries] of Object.entries(file.windows)) {
      if (!Array.isArray(entries)) continue;
      for (const e of entries as (string | { name: string })[]) {
        for (const name of watchlistNames(typeof e === 'string' ? e : e.name)) {
          const cat = w.classify(`C:\\Windows\\System32\\${name}`);
          assert.ok(cat, `${name} (${group})`);
          if (groups[group]) assert.equal(cat, groups[group], name);
          n++;
        }
      }
    }
    for (const e of file.linux.shared_libraries as string[]) {
      for (const name of watchlistNames(e)) {
        const concrete = name.replace('*', '2');
        assert.ok(w.classify(`/usr/lib/${concrete}`), concrete);
        n++;
      }
    }
    assert.ok(n > 50, `${n} names`);
    const merged = loadWatchlistFile(sharedPath('tls_module_watchlist.json')!);
    assert.equal(merged.classify('C:\\x\\schannel.dll'), 'tls_stack');
  });
});

describe('ftrace lines', () => {
  it('parses the fields + record-tgid format of sock:inet_sock_set_state', () => {
    const wall = (s: number, us: number): number => s * 1000 + us / 1000;
    const line =
      '            curl-29784   (  29780) [000] .....  2269.570382: inet_sock_set_state: skaddr=0xffff8881058b5c80 (-131387251532672) oldstate=0x7 (7) newstate=0x2 (2) sport=0x0 (0) dport=0x1bb (443) family=0x2 (2) protocol=0x6 (6) saddr=0x100007f (16777343) daddr=0x507100cb (1349583051) saddr_v6=<INVALID-SIZE> daddr_v6=<INVALID-SIZE>';
    const e = parseTraceLine(line, wall)!;
    assert.equal(e.pid, 29780, 'the thread group, not the thread');
    assert.equal(e.comm, 'curl');
    assert.equal(e.oldstate, 7);
    assert.equal(e.newstate, 2);
    assert.equal(e.dport, 443);
    assert.equal(e.saddr, '127.0.0.1');
    assert.equal(e.daddr, '203.0.113.80');
    assert.equal(e.wallMs, 2269570.382);
    const noTgid = line.replace('(  29780)', '(-------)');
    assert.equal(parseTraceLine(noTgid, wall)!.tgidKnown, false);
    assert.equal(parseTraceLine('# tracer: nop', wall), null);
    fc.assert(fc.property(fc.string(), (s) => void parseTraceLine(s, wall)));
  });
});
