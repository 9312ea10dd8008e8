#!/usr/bin/env bash
# Live-capture load sweep: tcpreplay replays the benchmark captures
# (bench/gen-captures.sh) onto one end of a veth pair in a private network
# namespace, at rising rates, while the tool under test captures the other end:
#   tls-bulk        MTU-sized TLS data (throughput: bytes per second)
#   tls-handshakes  30,000 short TLS connections (work per packet: handshakes,
#                   certificates, one event per connection) For each tool and rate: what tcpreplay
# achieved, what the tool's capture received and dropped (pcap_stats), its CPU
# time per second of traffic, and its peak RSS. The tool is restarted for every
# rate; the whole file is replayed once per rate (no looping: a looped capture
# repeats sequence numbers, which the sensor treats as retransmissions, so it
# would measure a cheaper load than real traffic).
#
#   sudo bash bench/live-load.sh
#   CAPTURES=tls-bulk RATES_tls_bulk="1000 top" TOOLS=tlsentry sudo -E bash bench/live-load.sh
#
# CAPTURES              captures in bench/.cache to replay       [tls-bulk tls-handshakes]
# RATES_tls_bulk        Mbps for tcpreplay --mbps; "top" = --topspeed   [500 1000 2000 4000 top]
# RATES_tls_handshakes  the same for tls-handshakes               [50 100 150 200 300 400 top]
# TOOLS                 tlsentry and/or tcpdump (-w /dev/null: the libpcap floor)   [tlsentry tcpdump]
# BUFFER_MB             kernel ring of both tools                  [64]
# PIN                   1: the tool on CPU 0, tcpreplay on CPU 1 (with 2+ CPUs)   [1]
#
# "CPU %" is the tool's user+system time (all threads) divided by the replay's
# duration: 100% is one core busy for as long as the traffic lasted. Writes
# bench/live-results.md and prints it. Needs root, iproute2, tcpreplay, tcpdump.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
captures=(${CAPTURES:-tls-bulk tls-handshakes})
tools=(${TOOLS:-tlsentry tcpdump})
buffer_mb=${BUFFER_MB:-64}
declare -A default_rates=([tls-bulk]="500 1000 2000 4000 top" [tls-handshakes]="50 100 150 200 300 400 top")
ns=tlsentry-bench-live
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, capture)"
for c in ip tcpreplay tcpdump taskset; do command -v "$c" >/dev/null || die "missing $c (apt-get install iproute2 tcpreplay tcpdump util-linux)"; done
bash bench/gen-captures.sh || die "could not prepare the benchmark captures"
npm run -s build || die "build failed"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/tlsentry-live-load.XXXXXX)
chmod 777 "$tmp"
tool_pid=
cleanup() {
  [ -n "$tool_pid" ] && kill -KILL "$tool_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [ -n "${KEEP:-}" ] && log "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns del "$ns" 2>/dev/null
ip netns add "$ns"
ip -n "$ns" link add tr0 type veth peer name cap0
for d in tr0 cap0; do ip -n "$ns" link set "$d" up; done
ip -n "$ns" link set lo up

pin_tool=() pin_replay=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then pin_tool=(taskset -c 0); pin_replay=(taskset -c 1); fi
clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# wait_stderr FILE PATTERN: until the tool says it is capturing.
wait_stderr() {
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  log "tool did not start: $(cat "$1")"; return 1
}
# settle PID: until the tool's CPU time stops growing (it has caught up).
settle() {
  local last=-1 now
  for _ in $(seq 1 60); do
    now=$(cpu_ticks "$1"); [ "$now" = "$last" ] && return; last=$now; sleep 0.5
  done
}

rows=()
declare -A best_rate best_cpu best_us ceiling
for cap in "${captures[@]}"; do
  capture=bench/.cache/$cap.pcap
  [ -s "$capture" ] || die "$capture missing"
  var=RATES_${cap//-/_}
  rates=(${!var:-${default_rates[$cap]:-top}})
for tool in "${tools[@]}"; do
  for rate in "${rates[@]}"; do
    err=$tmp/$tool.err; : >"$err"
    case $tool in
      tlsentry)
        rm -f "$tmp/events.ndjson"
        ip netns exec "$ns" "${pin_tool[@]}" node dist/src/cli/main.js live -i cap0 --buffer-size "$buffer_mb" \
          --stats-interval 0 -o "$tmp/events.ndjson" 2>"$err" &
        tool_pid=$!; ready='writing events to' ;;
      tcpdump)
        ip netns exec "$ns" "${pin_tool[@]}" tcpdump -i cap0 -n -s 0 -B $((buffer_mb * 1024)) -w /dev/null 2>"$err" &
        tool_pid=$!; ready='listening on' ;;
      *) die "unknown tool $tool" ;;
    esac
    wait_stderr "$err" "$ready" || exit 1
    speed=(--mbps="$rate"); [ "$rate" = top ] && speed=(--topspeed)
    c0=$(cpu_ticks "$tool_pid")
    out=$(ip netns exec "$ns" "${pin_replay[@]}" tcpreplay -K -i tr0 "${speed[@]}" "$capture" 2>&1)
    secs=$(sed -n 's/^Actual: .* sent in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
    act_mbps=$(sed -n 's/^Rated: .*, \([0-9.]*\) Mbps, .*/\1/p' <<<"$out")
    act_pps=$(sed -n 's/^Rated: .* Mbps, \([0-9.]*\) pps.*/\1/p' <<<"$out")
    sent=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' <<<"$out")
    settle "$tool_pid"
    c1=$(cpu_ticks "$tool_pid")
    rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$tool_pid/status" 2>/dev/null)
    if [ "$tool" = tlsentry ]; then kill -TERM "$tool_pid"; else kill -INT "$tool_pid"; fi
    wait "$tool_pid" 2>/dev/null; tool_pid=
    case $tool in
      tlsentry)
        read -r recv drop ifdrop < <(tail -n 1 "$tmp/events.ndjson" | node -e '
          const e = JSON.parse(require("fs").readFileSync(0, "utf8")).tlsentry.stats.capture;
          console.log(e.received, e.dropped_kernel, e.dropped_interface)') ;;
      tcpdump)
        recv=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$err")
        drop=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$err")
        ifdrop=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by interface.*/\1/p' "$err"); ifdrop=${ifdrop:-0} ;;
    esac
    # (parentheses: a bare > after printf is an output redirection in awk)
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$clk" -v s="${secs:-0}" 'BEGIN { printf "%.0f", (s > 0 ? (b - a) / t / s * 100 : 0) }')
    pct=$(awk -v d="${drop:-0}" -v r="${recv:-0}" 'BEGIN { printf "%.3f", (r > 0 ? d / r * 100 : 0) }')
    us=$(awk -v a="$c0" -v b="$c1" -v t="$clk" -v r="${recv:-0}" -v d="${drop:-0}" 'BEGIN { printf "%.2f", (r - d > 0 ? (b - a) / t / (r - d) * 1e6 : 0) }')
    rows+=("| $cap | $tool | $rate | ${act_mbps:-?} | $(awk -v p="${act_pps:-0}" 'BEGIN { printf "%.0f", p / 1000 }') | ${sent:-?} | ${recv:-?} | ${drop:-?} | $pct | ${ifdrop:-?} | $cpu | $us | ${rss:-?} |")
    log "${rows[-1]}"
    if [ "${drop:-1}" = 0 ] && [ "${recv:-0}" -ge "${sent:-1}" ]; then
      best_rate[$cap/$tool]="${act_mbps} Mbps, ${act_pps%.*} pps (target $rate)"; best_cpu[$cap/$tool]=$cpu; best_us[$cap/$tool]=$us
      [ "$rate" = top ] && ceiling[$cap/$tool]=1
    fi
  done
done
done

cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo "# tlsentry live capture: load sweep"
  echo
  echo "$(date -u +%F), $(nproc) cores ($cpu_model), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)," \
       "Node $(node -v), $(tcpdump --version 2>&1 | sed -n 's/^\(libpcap version [0-9.]*\).*/\1/p'), tcpreplay $(tcpreplay -V 2>&1 | sed -n 's/^tcpreplay version: \([0-9.]*\).*/\1/p' | head -n 1)."
  echo "Each row replays a whole capture once with \`tcpreplay -K --mbps=RATE\` (or \`--topspeed\`) onto a veth pair"
  echo "in a network namespace; the tool, restarted for every row, captures the peer with a ${buffer_mb} MiB ring."
  for cap in "${captures[@]}"; do
    m=bench/.cache/$cap.meta
    echo "- $cap: $(sed -n 's/^packets=//p' "$m") frames, $(awk -F= '/^bytes=/ {printf "%.0f", $2 / 1e6}' "$m") MB, $(sed -n 's/^connections=//p' "$m") TCP connections"
  done
  [ ${#pin_tool[@]} -gt 0 ] && echo "The tool is pinned to CPU 0, tcpreplay to CPU 1."
  echo "tlsentry: \`tlsentry live -i cap0 --buffer-size $buffer_mb -o FILE\` (full pipeline: TLS, certificates, events);"
  echo "tcpdump: \`tcpdump -i cap0 -s 0 -B $((buffer_mb * 1024)) -w /dev/null\` (capture only)."
  echo "CPU % = the tool's CPU time / the replay's duration (100 = one core for as long as the traffic lasted)."
  echo "Load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows up as drops)."
  echo
  echo
  echo "Highest replayed rate with zero kernel drops (and the tool's CPU at that rate):"
  echo
  for cap in "${captures[@]}"; do
    for tool in "${tools[@]}"; do
      k=$cap/$tool
      echo "- $cap, **$tool**: ${best_rate[$k]:-none of the rates}${best_cpu[$k]:+, ${best_cpu[$k]}% of a core, ${best_us[$k]} µs of CPU per frame}${ceiling[$k]:+ (no drops even at the top speed of tcpreplay: the generator, not the tool, was the limit)}"
    done
  done
  echo
  echo "µs/frame: the tool's CPU time divided by the frames it processed; 1e6 / (µs/frame) is roughly how many frames per second one core sustains."
  echo
  echo "| capture | tool | target Mbps | actual Mbps | kpps | sent | received | dropped (kernel) | drop % | dropped (interface) | CPU % | µs/frame | peak RSS MB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$tmp/live-results.md"
cp "$tmp/live-results.md" bench/live-results.md
echo
cat bench/live-results.md
