import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, fstatSync, linkSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferedFileSink, FileSink } from '../../../src/output/sinks/file.js';
import { outputConfig, parseSinkArg } from '../../../src/output/sinks/config.js';
import { tempDir } from '../../helpers/tools.js';
import { rec } from './helpers.js';

/** `n` records, every `padEvery`-th padded by `pad` bytes, alternately as records and as encoded lines; returns the lines. */
function writeMixed(s: FileSink, n: number, padEvery: number, pad: number): string[] {
  const want: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rec(i, i % padEvery === 0 ? pad : 0);
    want.push(r.line.toString());
    if (i % 2 === 0) s.write(r);
    else {
      const b = Buffer.from(r.line.toString() + '\n');
      s.writeBytes(b, b.length);
    }
  }
  return want;
}

/** The lines of the rotated files (by their numbered names) and then of `events.ndjson`, each file checked against `maxBytes`. */
function readRotated(dir: string, maxBytes: number): string[] {
  const n = (f: string) => (f === 'events.ndjson' ? Infinity : Number(/Z(?:\.(\d+))?\.ndjson$/.exec(f)![1] ?? 0));
  const got: string[] = [];
  for (const f of readdirSync(dir).sort((a, b) => n(a) - n(b))) {
    const p = join(dir, f);
    assert.ok(statSync(p).size <= maxBytes, `${f} is ${statSync(p).size} bytes`);
    const text = readFileSync(p, 'utf8');
    assert.ok(text.endsWith('\n'));
    got.push(...text.slice(0, -1).split('\n'));
  }
  return got;
}

test('size rotation: no file passes max_bytes, no line is split, names carry the opening time', () => {
  const dir = tempDir();
  const path = join(dir, 'events.ndjson');
  const s = new FileSink('file', path, { rotate: { maxBytes: 4096 }, bufferBytes: 1500, now: () => Date.UTC(2025, 5, 1, 12, 0, 0) });
  const want = writeMixed(s, 300, 11, 200);
  void s.close();
  const files = readdirSync(dir).sort();
  assert.ok(files.length > 4, files.join(' '));
  assert.ok(files.includes('events.ndjson'));
  assert.ok(files.includes('events.20250601T120000Z.ndjson'));
  assert.ok(files.includes('events.20250601T120000Z.1.ndjson'), 'same second: numbered');
  assert.deepEqual(readRotated(dir, 4096), want);
});

test('write-behind: every line lands in order, rotation included, once close() settles', async () => {
  for (const rotate of [undefined, { maxBytes: 64 * 1024 }]) {
    const dir = tempDir();
    const s = new FileSink('file', join(dir, 'events.ndjson'), { writeBehind: true, bufferBytes: 4096, rotate, now: () => Date.UTC(2025, 5, 1, 12, 0, 0) });
    const want = writeMixed(s, 3000, 7, 900);
    await s.close();
    assert.ok(s.out.writesBehind > 10, `${s.out.writesBehind} buffers written behind`);
    assert.equal(readdirSync(dir).length > 3, rotate !== undefined, readdirSync(dir).join(' '));
    assert.deepEqual(readRotated(dir, rotate?.maxBytes ?? Infinity), want);
  }
});

test('write-behind asked for, but the target is a FIFO (`-o /dev/stdout` into a pipe): written in order, synchronously', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const out = join(dir, 'got.ndjson');
  const reader = spawn('sh', ['-c', `cat "${fifo}" > "${out}"`]);
  const exited = new Promise<number | null>((r) => reader.on('exit', r));
  const s = new FileSink('file', fifo, { writeBehind: true, bufferBytes: 2048 });
  const want = writeMixed(s, 500, 9, 300);
  await s.close();
  assert.equal(await exited, 0);
  assert.equal(s.out.writesBehind, 0);
  assert.equal(readFileSync(out, 'utf8'), want.join('\n') + '\n');
});

test('write-behind: a background write error (ENOSPC on a full tmpfs) surfaces at a later write and from close()', async (t) => {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return t.skip('mounting a 64 KiB tmpfs needs root');
  }
  try {
    const s = new FileSink('file', join(dir, 'events.ndjson'), { writeBehind: true, bufferBytes: 4096 });
    const line = Buffer.from('x'.repeat(199) + '\n');
    let thrown: NodeJS.ErrnoException | null = null;
    for (let batch = 0; batch < 200 && thrown === null; batch++) {
      try {
        for (let i = 0; i < 20; i++) s.writeBytes(line, line.length);
      } catch (err) {
        thrown = err as NodeJS.ErrnoException;
      }
      await new Promise((r) => setTimeout(r, 2)); // the thread pool answers
    }
    assert.equal(thrown?.code, 'ENOSPC', 'a write after the failed background write throws its error');
    assert.ok(s.out.writesBehind > 10, `${s.out.writesBehind} buffers behind`);
    await assert.rejects(s.close(), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
  } finally {
    execFileSync('umount', [dir]);
  }
});

test('write-behind replaces an existing output (new inode, old one unlinked by close); a symlink or a hard-linked file is truncated through', async () => {
  const dir = tempDir();
  const line = Buffer.from('{"new":1}\n');
  const write = async (path: string): Promise<void> => {
    const s = new FileSink('file', path, { writeBehind: true, bufferBytes: 4096 });
    s.writeBytes(line, line.length);
    await s.close();
  };
  // A plain file: replaced, and nothing is left beside it once close() settles. The old
  // file is held open (inode numbers may be reused once it is unlinked): it keeps its
  // bytes — not truncated — and has no name left.
  const plain = join(dir, 'events.ndjson');
  const oldText = 'old\n'.repeat(5000);
  writeFileSync(plain, oldText);
  const oldFd = openSync(plain, 'r');
  try {
    await write(plain);
    assert.equal(readFileSync(plain, 'utf8'), line.toString());
    assert.equal(readFileSync(oldFd, 'utf8'), oldText, 'a new file: the old one was not truncated');
    assert.equal(fstatSync(oldFd).nlink, 0, 'the old file set aside is unlinked');
  } finally {
    closeSync(oldFd);
  }
  assert.deepEqual(readdirSync(dir), ['events.ndjson'], 'nothing left beside it');
  // A symlink: the file it points at gets the output; the link stays a link.
  const real = join(dir, 'real.ndjson'), link = join(dir, 'link.ndjson');
  writeFileSync(real, 'old\n');
  symlinkSync(real, link);
  await write(link);
  assert.equal(readFileSync(real, 'utf8'), line.toString());
  assert.equal(readFileSync(link, 'utf8'), line.toString());
  // Two names for one file: both still name the output.
  const a = join(dir, 'a.ndjson'), b = join(dir, 'b.ndjson');
  writeFileSync(a, 'old\n');
  linkSync(a, b);
  await write(a);
  assert.equal(readFileSync(b, 'utf8'), line.toString());
  assert.equal(statSync(a).ino, statSync(b).ino);
  assert.deepEqual(readdirSync(dir).sort(), ['a.ndjson', 'b.ndjson', 'events.ndjson', 'link.ndjson', 'real.ndjson']);
});

test('time rotation is aligned to the clock; SIGHUP-style reopen and append mode still work', () => {
  const dir = tempDir();
  const path = join(dir, 'eve.json');
  let now = Date.UTC(2025, 5, 1, 12, 59, 58);
  writeFileSync(path, '{"cut":'); // a line a killed writer left unfinished
  const s = new BufferedFileSink(path, 1024, { append: true, rotate: { intervalSec: 3600 }, now: () => now });
  s.write('{"a":1}\n');
  s.flushSync();
  now = Date.UTC(2025, 5, 1, 13, 0, 1);
  s.write('{"b":2}\n');
  s.flushSync();
  s.write('{"c":3}\n');
  s.close();
  assert.equal(readFileSync(join(dir, 'eve.20250601T125958Z.json'), 'utf8'), '{"cut":\n{"a":1}\n');
  assert.equal(readFileSync(path, 'utf8'), '{"b":2}\n{"c":3}\n');
  assert.equal(s.rotations, 1);
});

test('--sink specs and the output: section give the same validated sinks; errors name the key', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  assert.deepEqual(parseSinkArg('file:///var/log/t/events.ndjson?max_bytes=100MB&interval=1h'), {
    type: 'file',
    path: '/var/log/t/events.ndjson',
    rotate: { max_bytes: '100MB', interval: '1h' },
  });
  assert.deepEqual(parseSinkArg('syslog+tls://127.0.0.1:6514?ca=ca.pem&confirm_ms=200'), { type: 'syslog', url: 'tls://127.0.0.1:6514', ca_file: 'ca.pem', confirm_ms: 200 });
  assert.deepEqual(parseSinkArg('-'), { type: 'stdout' });
  const cfgPath = join(dir, 'tlsentry.yaml');
  writeFileSync(
    cfgPath,
    [
      'output:',
      '  sinks:',
      '    - { type: file, path: out/events.ndjson, rotate: { max_bytes: 64MB, interval: 15m } }',
      '    - { type: syslog, url: "tls://siem:6514", ca_file: ca.pem, hostname: sensor01 }',
      '  spool: { dir: spool, max_bytes: 2GB }',
      '  queue: { max_records: 5000 }',
      '  drain_timeout: 1m',
      'detect:',
      '  threshold: 60',
    ].join('\n'),
  );
  const c = outputConfig({ config: cfgPath, sink: ['syslog+tcp://127.0.0.1:514'] }, dir);
  assert.deepEqual(
    c.sinks.map((s) => [s.type, s.name]),
    [['file', 'file'], ['syslog', 'syslog'], ['syslog', 'syslog-2']],
  );
  const f = c.sinks[0] as Extract<(typeof c.sinks)[number], { type: 'file' }>;
  assert.equal(f.path, join(dir, 'out/events.ndjson'));
  assert.deepEqual(f.rotate, { maxBytes: 64 * 1024 ** 2, intervalSec: 900 });
  const sy = c.sinks[1] as Extract<(typeof c.sinks)[number], { type: 'syslog' }>;
  assert.match(sy.ca ?? '', /BEGIN CERTIFICATE/);
  assert.deepEqual(c.spool, { dir: join(dir, 'spool'), maxBytes: 2 * 1024 ** 3 });
  assert.equal(c.queue.maxRecords, 5000);
  assert.equal(c.drainTimeoutSec, 60);
  // No sinks at all: standard output, as before.
  assert.deepEqual(outputConfig({}, dir).sinks, [{ type: 'stdout', name: 'stdout' }]);
  const err = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && re.test(e.message));
  writeFileSync(cfgPath, 'output:\n  sinks:\n    - { type: syslog, url: "udp://x:514" }\n');
  err(() => outputConfig({ config: cfgPath }, dir), /output\.sinks\.0: url: expected tcp/);
  writeFileSync(cfgPath, 'output:\n  sinks:\n    - { type: file, path: x, rotate: { max_bytes: lots } }\n');
  err(() => outputConfig({ config: cfgPath }, dir), /sinks\.0: rotate\.max_bytes: expected a size/);
  writeFileSync(cfgPath, 'output:\n  spool: { dri: x }\n');
  err(() => outputConfig({ config: cfgPath }, dir), /output: spool/);
  err(() => outputConfig({ sink: ['syslog+tcp://h:514?colour=blue'] }, dir), /--sink .*colour/);
  err(() => outputConfig({ sink: ['syslog+tls://h:6514?ca=missing.pem'] }, dir), /ca_file .*missing\.pem/);
  assert.throws(() => outputConfig({ sink: ['kafka://h:9092'] }, dir), /unknown scheme kafka/);
});
