#!/usr/bin/env bash
# Throughput and memory of tlsentry against its peers on the same captures, in the
# same run, with each file in the page cache. `npm run bench` builds first, then
# runs this. Captures come from bench/gen-captures.sh (cached in bench/.cache/;
# generating them needs root, reusing them does not).
#
#   bash bench/run.sh                      # all captures, all tools, 3 runs each
#   BENCH_RUNS=5 bash bench/run.sh
#   BENCH_TOOLS="tlsentry tshark" BENCH_CAPTURES=tls-handshakes bash bench/run.sh
#   BENCH_TOOLS="tlsentry tlsentry-no-x509 tlsentry-no-tls" BENCH_CAPTURES=tls-handshakes bash bench/run.sh
#                                          # what certificates and TLS cost (not in the default set)
#   BENCH_REGEN=1 bash bench/run.sh        # regenerate the captures first
#
# Each tool runs BENCH_RUNS times per capture, in rounds (every tool once per
# round, so the tools share the machine's slow and fast stretches); the row shows
# the median wall time and the largest peak RSS (/usr/bin/time -v), the log every
# run's time. MB = 10^6 bytes of capture file.
# A tool that is missing or fails gets "n/a" and a note; the others still run.
# Writes bench/results.md and prints the same table.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cache=bench/.cache
runs=${BENCH_RUNS:-3}
tools=(${BENCH_TOOLS:-tlsentry tshark ndpiReader tcpdump cat})
captures=(${BENCH_CAPTURES:-$(bash bench/gen-captures.sh --list)})
out=${BENCH_OUT:-/tmp/tlsentry-bench}
mkdir -p "$out"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
[ -x /usr/bin/time ] || { log "error: /usr/bin/time missing (apt-get install time)"; exit 1; }

gen_args=()
[ -n "${BENCH_REGEN:-}" ] && gen_args=(--force)
BENCH_CAPTURES="${captures[*]}" bash bench/gen-captures.sh "${gen_args[@]}" || { log "error: could not prepare the captures"; exit 1; }

# cmd_for TOOL FILE: the command line measured for TOOL (empty if not available).
cmd_for() {
  local f=$2
  case $1 in
    tlsentry)   [ -f dist/bundle/cli/main.cjs ] && echo "node dist/bundle/cli/main.cjs read $f -o $out/events.ndjson" ;;
    tlsentry-no-x509) [ -f dist/bundle/cli/main.cjs ] && echo "node dist/bundle/cli/main.cjs read $f -o $out/events.ndjson --no-x509" ;;
    tlsentry-no-tls)  [ -f dist/bundle/cli/main.cjs ] && echo "node dist/bundle/cli/main.cjs read $f -o $out/events.ndjson --no-tls" ;;
    tshark)     command -v tshark >/dev/null && echo "tshark -q -n -r $f -z conv,tcp" ;;
    ndpiReader) command -v ndpiReader >/dev/null && echo "ndpiReader -i $f -q" ;;
    tcpdump)    command -v tcpdump >/dev/null && echo "tcpdump -n -r $f -w /dev/null" ;;
    cat)        echo "cat $f" ;;
  esac
}
# output_note TOOL FILE: what the tool produced, as a sanity check on the timing.
output_note() {
  case $1 in
    tlsentry*)  echo "$(wc -l <"$out/events.ndjson" 2>/dev/null || echo 0) events" ;;
    tshark)     echo "$(grep -c '<->' "$out/stdout" || true) conversations" ;;
    # -q prints nothing; one more (untimed) run without it reports the flow count.
    ndpiReader) echo "$(ndpiReader -i "$2" 2>/dev/null | awk '/Unique flows:/ {print $3}') flows" ;;
    *)          echo "-" ;;
  esac
}
# row CAPTURE TOOL PACKETS BYTES MICROSECONDS RSS_KB NOTE (microseconds empty: n/a)
row() {
  awk -v c="$1" -v t="$2" -v p="$3" -v b="$4" -v us="$5" -v rss="$6" -v n="$7" 'BEGIN {
    if (us == "") { printf "| %s | %s | %d | %.0f | n/a | n/a | n/a | n/a | %s |", c, t, p, b / 1e6, n; exit }
    s = us / 1e6
    printf "| %s | %s | %d | %.0f | %.3f | %.3f | %.0f | %.0f | %s |", c, t, p, b / 1e6, s, p / s / 1e6, b / s / 1e6, rss / 1024, n }'
}

rows=()
for cap in "${captures[@]}"; do
  f=$cache/$cap.pcap
  [ -s "$f" ] || { log "error: $f missing"; exit 1; }
  packets=$(sed -n 's/^packets=//p' "$cache/$cap.meta" 2>/dev/null)
  [ -n "$packets" ] || packets=$(capinfos -M -c -T "$f" | awk -F'\t' 'NR==2 {print $2}')
  bytes=$(stat -c %s "$f")
  # Rounds, not one tool after another: each round runs every tool once, so a
  # stretch of this VM running slower (its speed drifts by 10-25 % over
  # minutes) falls on all tools alike instead of on whichever ran then.
  declare -A cmds=() times=() rss_max=() failed=() notes=()
  for tool in "${tools[@]}"; do
    cmd=$(cmd_for "$tool" "$f")
    if [ -z "$cmd" ]; then
      note="not available"; [[ "$tool" = tlsentry* ]] && note="not built (npm run build)"
      failed[$tool]=$note
      log "$cap / $tool: $note"
    else
      cmds[$tool]=$cmd; times[$tool]=""; rss_max[$tool]=0
    fi
  done
  cat "$f" >/dev/null   # page cache
  for r in $(seq 1 "$runs"); do
    for tool in "${tools[@]}"; do
      [ -n "${failed[$tool]:-}" ] && continue
      # The previous run's output removed and the removal committed before the clock
      # starts: this VM's root is ext4 mounted with `discard`, and a 480 MB output
      # deleted just before a run is discarded block by block during it (tlsentry on
      # the large capture: 1.5 s after `sync`, 1.5 and 2.0 s alternately without).
      rm -f "$out/events.ndjson"
      sync
      t0=$(date +%s%N)
      stdout=$out/stdout; [ "$tool" = cat ] && stdout=/dev/null
      # shellcheck disable=SC2086
      /usr/bin/time -v -o "$out/time" ${cmds[$tool]} >"$stdout" 2>"$out/stderr"
      rc=$?
      t1=$(date +%s%N)
      if [ "$rc" -ne 0 ]; then
        failed[$tool]="exit $rc: $(grep -v '^Running as user' "$out/stderr" | head -n 1 | cut -c1-80 | tr '|' '/')"
        log "$cap / $tool: ${failed[$tool]}"
        continue
      fi
      times[$tool]+=" $(( (t1 - t0) / 1000 ))"
      rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time")
      [ "$rss" -gt "${rss_max[$tool]}" ] && rss_max[$tool]=$rss
      # The output note is taken from the last round's files.
      [ "$r" -eq "$runs" ] && notes[$tool]=$(output_note "$tool" "$f")
    done
  done
  for tool in "${tools[@]}"; do
    if [ -n "${failed[$tool]:-}" ]; then
      rows+=("$(row "$cap" "$tool" "$packets" "$bytes" "" "" "${failed[$tool]}")")
      continue
    fi
    med=$(printf '%s\n' ${times[$tool]} | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    rows+=("$(row "$cap" "$tool" "$packets" "$bytes" "$med" "${rss_max[$tool]}" "${notes[$tool]}")")
    log "$cap / $tool: ${rows[-1]} (runs, µs:${times[$tool]})"
  done
  unset cmds times rss_max failed notes
done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo "# tlsentry benchmark"
  echo
  echo "$(date -u +%F), $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
       "Node $(node -v 2>/dev/null), tshark $(tshark -v 2>/dev/null | sed -n '1s/.*) \([0-9.]*\).*/\1/p'), nDPI $(ndpiReader -h 2>/dev/null | sed -n 's/.*nDPI \([0-9.]*\).*/\1/p' | head -n 1)," \
       "tcpdump $(tcpdump --version 2>/dev/null | sed -n 's/^tcpdump version //p')."
  echo "Median of $runs runs per row, run in rounds (each tool once per round), each after sync with the previous output removed, file in the page cache; peak RSS is the largest of the runs."
  echo "MB = 10^6 bytes of capture file. Captures: \`bench/gen-captures.sh\`"
  for cap in "${captures[@]}"; do
    [ -s "$cache/$cap.meta" ] && echo "- $cap: $(sed -n 's/^connections=//p' "$cache/$cap.meta") TCP connections, $(sed -n 's/^out_of_order=//p' "$cache/$cap.meta") out-of-order segments, generated $(sed -n 's/^generated=//p' "$cache/$cap.meta") in $(sed -n 's/^gen_seconds=//p' "$cache/$cap.meta") s"
  done
  echo
  echo "Commands: \`node dist/bundle/cli/main.cjs read FILE -o EVENTS\`, \`tshark -q -n -r FILE -z conv,tcp\`,"
  echo "\`ndpiReader -i FILE -q\`, \`tcpdump -n -r FILE -w /dev/null\` (libpcap read floor), \`cat FILE\` (page-cache read)."
  echo
  echo "| capture | tool | packets | MB | seconds | Mpkt/s | MB/s | peak RSS MB | output |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out/results.md"
cp "$out/results.md" bench/results.md
echo
cat bench/results.md
