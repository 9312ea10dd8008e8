#!/usr/bin/env bash
# Generates the benchmark captures into bench/.cache/ (git-ignored), unless they are
# there already and were made by the current recipe (a stamp holds the hash of the
# helpers and of the capture's recipe). Needs root (network namespace) when it must generate.
#
#   bash bench/gen-captures.sh [--force]
#   bash bench/gen-captures.sh --list      # the captures it makes (one gen_ recipe each)
#   BENCH_CAPTURES="tls-bulk" bash bench/gen-captures.sh   # only these
#
#   bench/.cache/tls-bulk.pcap        >= 500 MB of MTU-sized TLS: 6 parallel 64 MiB
#                                     downloads, 3 parallel 48 MiB uploads and 300
#                                     small downloads, curl <-> Node https, TLS 1.3
#   bench/.cache/tls-handshakes.pcap  30000 short TLS connections (Node client <->
#                                     Node https): handshake, one small GET, close.
#                                     TLS 1.2 for a third, ALPN offers vary, every
#                                     fifth resumes a session, 50 SNI names.
#   bench/.cache/tls-handshakes-large.pcap
#                                     the same recipe with 90000 connections, so that
#                                     the handshake-heavy capture also meets the bulk
#                                     capture's size floor (>= 500 MB) and start-up is
#                                     a small part of the run, as it is for bulk.
# Each capture: tcpdump -s 0 -B 65536 on the namespace's lo (MTU 1500, TSO/GSO/GRO
# off); checked for kernel drops, for frames > 1514 bytes and for missing segments.
# bench/.cache/NAME.meta records packets, bytes and how long generation took.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/pcapgen/lib.sh
source "$root/scripts/pcapgen/lib.sh"
cache=$root/bench/.cache
mkdir -p "$cache"
force=${1:-}

# A capture's stamp hashes the shared helpers and its own recipe (its gen_ function,
# defined below), so changing one recipe regenerates that capture only.
stamp_of() {
  { cat "$PCAPGEN_DIR/lib.sh" "$PCAPGEN_DIR/tls-server.mjs" "$PCAPGEN_DIR/tls-client.mjs"
    declare -f start_server handshakes "gen_${1//-/_}"; } | sha256sum | cut -c1-16
}
fresh() { [ -s "$cache/$1.pcap" ] && [ -s "$cache/$1.meta" ] && grep -qx "stamp=$(stamp_of "$1")" "$cache/$1.meta"; }

SRV=$PCAPGEN_DIR/tls-server.mjs
CLI=$PCAPGEN_DIR/tls-client.mjs
# P (the PKI directory) is set once the work directory exists, below.

start_server() {
  pg_bg node "$SRV" --mode https --host 127.0.0.1 --port 443 \
    --cert "$P/server-ec-chain.pem" --key "$P/server-ec.key" >>"$work/server.log" 2>&1
  SERVER_PID=$PG_LAST_PID
  pg_wait_port 443
}

gen_tls_bulk() {
  local mib=$((1024 * 1024)) pids=() i rc=0
  pg_det_file "$work/up.bin" $((48 * mib))
  local c=(curl -sS --fail --cacert "$P/ca.pem" --tlsv1.3 -o /dev/null --limit-rate 12M)
  for i in 1 2 3 4 5 6; do
    pg_ns "${c[@]}" --resolve "dl$i.bench.test:443:127.0.0.1" "https://dl$i.bench.test/bytes/$((64 * mib))" &
    pids+=($!)
  done
  for i in 1 2 3; do
    pg_ns "${c[@]}" -H 'Expect:' --data-binary "@$work/up.bin" \
      --resolve "ul$i.bench.test:443:127.0.0.1" "https://ul$i.bench.test/upload" &
    pids+=($!)
  done
  # Small transfers alongside, one connection each, to give the flow table some churn.
  ( for i in $(seq 1 300); do
      pg_ns "${c[@]}" --resolve "small$((i % 20)).bench.test:443:127.0.0.1" \
        "https://small$((i % 20)).bench.test/bytes/$((16384 + i * 512))" || exit 1
    done ) &
  pids+=($!)
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ "$rc" -eq 0 ] || pg_die "a bulk transfer failed"
}

handshakes() {
  pg_ns node "$CLI" --ca "$P/ca.pem" --host 127.0.0.1 --port 443 --count "$1" --concurrency 16 \
    --vary --sni-pattern 'h{n}.bench.test' --sni-count 50 --wait close \
    --send 'GET /bytes/{size} HTTP/1.1\r\nHost: {sni}\r\nUser-Agent: tlsentry-bench/{i}\r\nConnection: close\r\n\r\n' >&2
}
gen_tls_handshakes() { handshakes 30000; }
gen_tls_handshakes_large() {
  # 90000 client ports in ~2 min: widen the range so none waits out TIME_WAIT.
  pg_ns sysctl -qw net.ipv4.ip_local_port_range='1024 65535'
  handshakes 90000
}

# Every capture is a gen_ function: the list is theirs.
all=$(declare -F | sed -n 's/^declare -f gen_//p' | tr _ - | tr '\n' ' ')
[ "$force" = --list ] && { echo "$all"; exit 0; }
captures=(${BENCH_CAPTURES:-$all})
todo=()
for name in "${captures[@]}"; do
  declare -F "gen_${name//-/_}" >/dev/null || pg_die "no recipe for capture $name"
  if [ "$force" = --force ] || ! fresh "$name"; then todo+=("$name"); fi
done
[ ${#todo[@]} -gt 0 ] || { pg_log "bench captures are up to date in $cache"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
  for name in "${todo[@]}"; do
    [ -s "$cache/$name.pcap" ] || pg_die "$cache/$name.pcap is missing; generate it as root: sudo bash bench/gen-captures.sh"
  done
  pg_log "warning: bench captures were made by an older generator; regenerate as root: sudo bash bench/gen-captures.sh --force"
  exit 0
fi
pg_require ip ethtool ss tcpdump tshark capinfos editcap openssl curl node
pg_lock tlsentry-benchgen

work=$(mktemp -d /tmp/tlsentry-benchgen.XXXXXX)
trap 'pg_cleanup; [ -n "${KEEP_WORK:-}" ] && pg_log "kept $work" || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
pg_ns_create tlsentry-benchgen
pg_make_pki "$work/pki"
P=$work/pki

for name in "${todo[@]}"; do
  pg_log "generating $cache/$name.pcap"
  t0=$(date +%s.%N)
  start_server
  raw=$work/$name.pcap
  # Without --immediate-mode the kernel ring holds packets up to 1 s: settle longer.
  pg_capture_start "$raw" -s 0 -B 65536 tcp
  "gen_${name//-/_}"
  PG_SETTLE=2 pg_capture_stop
  pg_stop "$SERVER_PID" TERM
  pg_analyse "$raw"
  bytes=$(stat -c %s "$raw")
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  chown --reference="$cache" "$raw"   # tcpdump wrote it as its own user
  mv -f "$raw" "$cache/$name.pcap"
  printf 'stamp=%s\npackets=%s\nbytes=%s\nconnections=%s\nmax_frame=%s\nout_of_order=%s\ngenerated=%s\ngen_seconds=%s\n' \
    "$(stamp_of "$name")" "$PG_CAP_PACKETS" "$bytes" "$PG_CONNS" "$PG_MAX_FRAME" "$PG_OOO" "$(date -u +%FT%TZ)" "$secs" >"$cache/$name.meta"
  pg_log "  $name.pcap: $PG_CAP_PACKETS packets, $((bytes / 1000000)) MB, $PG_CONNS connections, largest frame $PG_MAX_FRAME, $PG_OOO out of order, ${secs}s"
done
