#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine, in a clean temp directory,
# so CI can check that the image would build and start:
#   context  = the repository's files (git ls-files: tracked + untracked, not ignored)
#              filtered like .dockerignore (package*.json, tsconfig.json, src/, pcaps/
#              without *.expected.ndjson, scripts/build-bundle.mjs, scripts/bundle-launcher.cjs)
#   build    = npm ci --ignore-scripts; npm run build     (from package*.json, tsconfig, src,
#              the two bundle scripts, pcaps for the bundle's training run): dist/src, dist/bundle
#   deps     = npm ci --omit=dev (builds the libpcap binding against libpcap-dev),
#              and the binding loads
#   runtime  = package*.json + deps' node_modules + build's dist/src and dist/bundle + pcaps,
#              a copy of node with the file capability cap_net_raw+eip (node-capture), then
#              the image's CMD, `node-capture dist/bundle/cli/main.cjs read pcaps`, as an
#              unprivileged user (when run as root), which must exit 0, print events and
#              use the bundle's code cache;
#              and `live -i lo` as that user with only CAP_NET_RAW, stopped by SIGTERM,
#              which must exit 0 with the connection's flow event and a final stats event.
# It does not install libpcap0.8/libpcap-dev or create the tlsentry user (the host's
# packages and `nobody` stand in). Without root or setcap the capability steps are skipped.
#
#   bash scripts/docker-steps.sh            # KEEP=1 keeps the temp directory
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d /tmp/tlsentry-docker-steps.XXXXXX)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "context (as .dockerignore allows)"
mkdir -p "$tmp/context"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard -- package.json package-lock.json tsconfig.json src pcaps \
    scripts/build-bundle.mjs scripts/bundle-launcher.cjs \
  | grep -zv '^pcaps/.*\.expected\.ndjson$' \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$tmp/context"
echo "$(find "$tmp/context" -type f | wc -l) files"
[ -f "$tmp/context/package-lock.json" ] || { echo "package-lock.json missing from the context" >&2; exit 1; }

step "build stage: npm ci --ignore-scripts && npm run build"
mkdir -p "$tmp/build"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$tmp/build/"
(cd "$tmp/build" && npm ci --no-audit --no-fund --ignore-scripts)
cp "$tmp/context/tsconfig.json" "$tmp/build/"
mkdir -p "$tmp/build/scripts"
cp "$tmp/context/scripts/build-bundle.mjs" "$tmp/context/scripts/bundle-launcher.cjs" "$tmp/build/scripts/"
cp -r "$tmp/context/src" "$tmp/build/src"
if [ -d "$tmp/context/pcaps" ]; then cp -r "$tmp/context/pcaps" "$tmp/build/pcaps"; fi
(cd "$tmp/build" && npm run build)
[ -f "$tmp/build/dist/src/cli/main.js" ] || { echo "build did not produce dist/src/cli/main.js" >&2; exit 1; }
[ -f "$tmp/build/dist/bundle/cli/main.cjs" ] || { echo "build did not produce dist/bundle/cli/main.cjs" >&2; exit 1; }

step "deps stage: npm ci --omit=dev"
mkdir -p "$tmp/deps"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$tmp/deps/"
(cd "$tmp/deps" && npm ci --omit=dev --no-audit --no-fund)
(cd "$tmp/deps" && node -e "require('pcap/build/Release/pcap_binding.node')") \
  || { echo "the libpcap binding did not build (libpcap-dev, g++, make, python3)" >&2; exit 1; }

step "runtime stage"
rt=$tmp/runtime
mkdir -p "$rt/dist"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$rt/"
cp -r "$tmp/deps/node_modules" "$rt/node_modules"
cp -r "$tmp/build/dist/src" "$rt/dist/src"
cp -r "$tmp/build/dist/bundle" "$rt/dist/bundle"
if [ -d "$tmp/context/pcaps" ]; then cp -r "$tmp/context/pcaps" "$rt/pcaps"; else mkdir "$rt/pcaps"; fi
du -sh "$rt/node_modules" "$rt/dist" "$rt/pcaps" | sed 's/^/  /'
node_bin=node caps=
if [ "$(id -u)" -eq 0 ] && command -v setcap >/dev/null; then
  cp "$(readlink -f "$(command -v node)")" "$rt/node-capture"
  setcap cap_net_raw+eip "$rt/node-capture"
  node_bin=$rt/node-capture caps=1
  echo "  node-capture: $(getcap "$rt/node-capture")"
else
  echo "  not root or no setcap: node-capture and the live step are skipped"
fi

as_user=()
if [ "$(id -u)" -eq 0 ]; then
  chmod -R a+rX "$tmp"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

step "CMD: node-capture dist/bundle/cli/main.cjs read pcaps"
(cd "$rt" && "${as_user[@]}" env NODE_ENV=production TLSENTRY_CODE_CACHE=debug "$node_bin" dist/bundle/cli/main.cjs read pcaps) \
  >"$tmp/events.ndjson" 2>"$tmp/read.err" || { cat "$tmp/read.err" >&2; exit 1; }
lines=$(wc -l <"$tmp/events.ndjson")
echo "exit 0, $lines event lines on stdout"
[ "$lines" -gt 0 ] || { echo "the image's CMD printed no events" >&2; exit 1; }
grep -q 'code cache accepted' "$tmp/read.err" || { echo "the bundle's code cache was not used:" >&2; cat "$tmp/read.err" >&2; exit 1; }
echo "  $(grep 'code cache' "$tmp/read.err")"
head -c 300 "$tmp/events.ndjson"; echo

if [ -n "$caps" ]; then
  step "live -i lo as an unprivileged user with CAP_NET_RAW only, then SIGTERM"
  mkdir -m 0777 "$tmp/log"
  port=$((40000 + RANDOM % 20000))
  (cd "$rt" && exec "${as_user[@]}" env NODE_ENV=production "$node_bin" dist/bundle/cli/main.cjs live -i lo \
     -o "$tmp/log/events.ndjson" --stats-interval 0 "tcp port $port") 2>"$tmp/live.err" &
  live_pid=$!
  for _ in $(seq 1 100); do grep -q 'writing events to' "$tmp/live.err" && break; sleep 0.1; done
  grep -q 'writing events to' "$tmp/live.err" || { cat "$tmp/live.err" >&2; kill "$live_pid" 2>/dev/null; exit 1; }
  node -e "const net = require('net'); const p = Number(process.argv[1]);
    const s = net.createServer((c) => c.end('tlsentry\n')).listen(p, '127.0.0.1', () =>
      net.connect(p, '127.0.0.1').on('data', () => {}).on('close', () => s.close()));" "$port"
  sleep 0.5
  kill -TERM "$live_pid"
  rc=0; wait "$live_pid" || rc=$?
  sed 's/^/  /' "$tmp/live.err"
  [ "$rc" -eq 0 ] || { echo "live exited $rc" >&2; exit 1; }
  grep -q '"dataset":"tlsentry.flow"' "$tmp/log/events.ndjson" || { echo "no flow event from live capture" >&2; exit 1; }
  tail -n 1 "$tmp/log/events.ndjson" | grep -q '"action":"final_stats"' || { echo "no final stats event" >&2; exit 1; }
  echo "exit 0, $(wc -l <"$tmp/log/events.ndjson") events, the last one the final stats"
fi
step "ok"
