#!/usr/bin/env node
'use strict';
/**
 * The shipped CLI (`dist/bundle/cli/main.cjs`, copied here by scripts/build-bundle.mjs):
 * runs the CommonJS bundle `tlsentry.cjs` next to it through vm.Script with V8's code
 * cache (`tlsentry.cjs.v8cache`, written by the build after a training run), so a run
 * starts without parsing and compiling the bundle. Node 20 has no compile cache of its own
 * (module.enableCompileCache is Node 22+).
 *
 * Cache file: a header line `BUILD-ID CRC32 LENGTH` and V8's data. It is used only when
 * the build id is the bundle's (its first line: a hash of its contents; V8 itself checks
 * only the source's length, its own version and flags) and the data has its length and
 * CRC-32: V8 does not check its checksum and aborts the process on corrupt data. A cache
 * V8 rejects (another Node version or V8 flags) or a missing one only costs start-up
 * time. TLSENTRY_CODE_CACHE=off ignores the cache; =debug says on standard error whether
 * it was used.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, wrap } = require('node:module');
const { crc32 } = require('node:zlib');

const BUNDLE = path.join(__dirname, 'tlsentry.cjs');
const CACHE = BUNDLE + '.v8cache';
const ID_PREFIX = '//tlsentry-build:';

/** The build id on the bundle's first line ('' if none). */
function buildId(source) {
  if (!source.startsWith(ID_PREFIX)) return '';
  const end = source.indexOf('\n');
  return source.slice(ID_PREFIX.length, end < 0 ? undefined : end);
}

/** The cache file's header line for V8's `data` of the bundle with build id `id`. */
function cacheHeader(id, data) {
  return `${id} ${crc32(data)} ${data.length}\n`;
}

/** The V8 data in the cache file if it is this bundle's and intact. */
function readCache(id) {
  if (id === '') return undefined;
  let buf;
  try {
    buf = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 200) return undefined;
  const data = buf.subarray(nl + 1);
  return buf.toString('latin1', 0, nl + 1) === cacheHeader(id, data) ? data : undefined;
}

/** Writes the cache of a compiled bundle (temp file and rename: never half a file). */
function writeCache(id, script) {
  const data = script.createCachedData();
  const tmp = `${CACHE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(cacheHeader(id, data), 'latin1'), data]));
  fs.renameSync(tmp, CACHE);
}

/**
 * Compiles the bundle (with the cache unless `useCache` is false). `run()` executes it
 * as the main program; `script.createCachedData()` is the cache to write after a run.
 */
function compileBundle(useCache) {
  const source = fs.readFileSync(BUNDLE, 'utf8');
  const id = buildId(source);
  const cachedData = useCache ? readCache(id) : undefined;
  const script = new vm.Script(wrap(source), {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  const run = () => {
    const mod = { exports: {}, filename: BUNDLE, id: '.', loaded: false };
    script.runInThisContext().call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, __dirname);
  };
  return { id, script, cache, run, writeCache: () => writeCache(id, script) };
}

if (require.main === module) {
  const mode = process.env.TLSENTRY_CODE_CACHE;
  const b = compileBundle(mode !== 'off');
  if (mode === 'debug') process.stderr.write(`tlsentry: code cache ${b.cache} (${CACHE})\n`);
  b.run();
} else {
  module.exports = { compileBundle, BUNDLE, CACHE };
}
