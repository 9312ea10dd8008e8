#!/usr/bin/env node
/**
 * The shipped CLI, built after tsc by `npm run build` (tsc's dist/src stays as it is):
 *
 *   dist/bundle/cli/main.cjs            the launcher (scripts/bundle-launcher.cjs): `tlsentry`
 *   dist/bundle/cli/tlsentry.cjs        src/cli/main.ts and its dependencies, one CommonJS file
 *   dist/bundle/cli/tlsentry.cjs.v8cache V8's code cache of it, after a training run
 *   dist/bundle/capture/live-worker.js  the live-capture worker (ES module), where
 *                                       src/cli/live.ts looks for it: ../capture/live-worker.js
 *
 * One file and a code cache instead of ~150 ES modules: a `read` starts ~50–90 ms sooner.
 * The lazily loaded modules (`createRequire(import.meta.url)('pkijs')` etc. in src/) are
 * rewritten to plain `require()` calls for esbuild, so they are bundled and still
 * evaluated only when first required. Native addons (pcap, better-sqlite3, pg-native)
 * and pino stay in node_modules; the bundle resolves them from its own directory, so
 * dist/bundle must stay inside the installation (next to node_modules/).
 *
 * The training run (`read pcaps -o /dev/null`, or `--version` without pcaps/) compiles
 * the functions a run needs so that the cache holds them; it also checks the bundle runs.
 *
 *   node scripts/build-bundle.mjs
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { devNull } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/bundle');
const launcherSrc = join(root, 'scripts/bundle-launcher.cjs');

if (process.argv[2] === '--train') {
  // Child process: run the CLI from the bundle as the launcher does, then write the cache.
  const { compileBundle } = createRequire(import.meta.url)(join(out, 'cli/main.cjs'));
  const b = compileBundle(false);
  process.on('exit', (code) => {
    if (code === 0) b.writeCache();
  });
  process.argv = [process.argv[0], join(out, 'cli/main.cjs'), ...process.argv.slice(3)];
  b.run();
} else {
  await bundle();
}

async function bundle() {
  /** `createRequire(import.meta.url)` → `require`, so that esbuild sees (and bundles) what is required. */
  const lazyRequire = {
    name: 'lazy-require',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
        let text = await readFile(args.path, 'utf8');
        if (!text.includes('createRequire(')) return undefined;
        // `const NAME = createRequire(import.meta.url);` — the declaration goes, NAME(…) becomes require(…).
        text = text.replace(/^[ \t]*const (\w+) = createRequire\(import\.meta\.url\);[ \t]*$/gm, (_, name) => {
          if (name !== 'require') names.push(name);
          return '';
        });
        for (const n of names.splice(0)) text = text.replace(new RegExp(`(?<![.\\w$])${n}\\(`, 'g'), 'require(');
        text = text.replaceAll('createRequire(import.meta.url)(', 'require(');
        if (/createRequire\((?!\s*\))/.test(text.replace(/import \{[^}]*\} from 'node:module';/g, ''))) {
          throw new Error(`${args.path}: a createRequire(...) the bundle build does not know how to rewrite`);
        }
        return { contents: text, loader: 'ts' };
      });
    },
  };
  const names = [];
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: ['pcap', 'better-sqlite3', 'pg-native', 'pino'],
    plugins: [lazyRequire],
    // Whitespace and syntax only: function names stay readable in stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii',
    logLevel: 'warning',
    absWorkingDir: root,
  };
  rmSync(out, { recursive: true, force: true });
  await Promise.all([
    build({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      format: 'cjs',
      outfile: join(out, 'cli/tlsentry.cjs'),
      // import.meta in a CommonJS bundle: its url is the bundle's (relative paths such as
      // ../capture/live-worker.js and ../../../data/ are resolved from it).
      define: { 'import.meta': '__tlsentry_import_meta' },
      banner: { js: 'var __tlsentry_import_meta = { url: require("node:url").pathToFileURL(__filename).href };' },
    }),
    build({
      ...common,
      entryPoints: ['src/capture/live-worker.ts'],
      format: 'esm',
      outfile: join(out, 'capture/live-worker.js'),
      banner: { js: 'import { createRequire as __tlsentry_cr } from "node:module"; const require = __tlsentry_cr(import.meta.url);' },
    }),
  ]);

  // The build id: the first line of the bundle (replacing esbuild's copy of the #! line).
  const file = join(out, 'cli/tlsentry.cjs');
  const body = readFileSync(file, 'utf8').replace(/^#![^\n]*\n/, '');
  const id = createHash('sha256').update(body).digest('hex').slice(0, 32);
  writeFileSync(file, `//tlsentry-build:${id}\n${body}`);
  copyFileSync(launcherSrc, join(out, 'cli/main.cjs'));
  chmodSync(join(out, 'cli/main.cjs'), 0o755);

  const args = existsSync(join(root, 'pcaps')) ? ['read', 'pcaps', '-o', devNull, '-q', '--no-progress'] : ['--version'];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--train', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`the training run of the bundle (${args.join(' ')}) failed: ${r.error ?? `exit ${r.status}`}`);
  if (!existsSync(join(out, 'cli/tlsentry.cjs.v8cache'))) throw new Error('the training run wrote no code cache');
}
