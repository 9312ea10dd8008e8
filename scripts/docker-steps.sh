#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine, in a clean temp directory,
# so CI can check that the image would build and start:
#   context  = the repository's files (git ls-files: tracked + untracked, not ignored)
#              filtered like .dockerignore (package*.json, tsconfig.json, src/, pcaps/
#              without *.expected.ndjson)
#   build    = npm ci; npm run build                      (from package*.json, tsconfig, src)
#   deps     = npm ci --omit=dev                          (from package*.json)
#   runtime  = package*.json + deps' node_modules + build's dist/src + pcaps, then
#              the image's CMD, `node dist/src/cli/main.js read pcaps`, as an
#              unprivileged user (when run as root), which must exit 0 and print events.
# It does not install libpcap0.8 or create the tlsentry user (the host's packages stand in).
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
  | grep -zv '^pcaps/.*\.expected\.ndjson$' \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$tmp/context"
echo "$(find "$tmp/context" -type f | wc -l) files"
[ -f "$tmp/context/package-lock.json" ] || { echo "package-lock.json missing from the context" >&2; exit 1; }

step "build stage: npm ci && npm run build"
mkdir -p "$tmp/build"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$tmp/build/"
(cd "$tmp/build" && npm ci --no-audit --no-fund)
cp "$tmp/context/tsconfig.json" "$tmp/build/"
cp -r "$tmp/context/src" "$tmp/build/src"
(cd "$tmp/build" && npm run build)
[ -f "$tmp/build/dist/src/cli/main.js" ] || { echo "build did not produce dist/src/cli/main.js" >&2; exit 1; }

step "deps stage: npm ci --omit=dev"
mkdir -p "$tmp/deps"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$tmp/deps/"
(cd "$tmp/deps" && npm ci --omit=dev --no-audit --no-fund)

step "runtime stage"
rt=$tmp/runtime
mkdir -p "$rt/dist"
cp "$tmp/context/package.json" "$tmp/context/package-lock.json" "$rt/"
cp -r "$tmp/deps/node_modules" "$rt/node_modules"
cp -r "$tmp/build/dist/src" "$rt/dist/src"
if [ -d "$tmp/context/pcaps" ]; then cp -r "$tmp/context/pcaps" "$rt/pcaps"; else mkdir "$rt/pcaps"; fi
du -sh "$rt/node_modules" "$rt/dist" "$rt/pcaps" | sed 's/^/  /'

step "CMD: node dist/src/cli/main.js read pcaps"
run=(env NODE_ENV=production node dist/src/cli/main.js read pcaps)
if [ "$(id -u)" -eq 0 ]; then
  chmod -R a+rX "$tmp"
  run=(setpriv --reuid=nobody --regid=nogroup --clear-groups "${run[@]}")
fi
(cd "$rt" && "${run[@]}") >"$tmp/events.ndjson"
lines=$(wc -l <"$tmp/events.ndjson")
echo "exit 0, $lines event lines on stdout"
[ "$lines" -gt 0 ] || { echo "the image's CMD printed no events" >&2; exit 1; }
head -c 300 "$tmp/events.ndjson"; echo
step "ok"
