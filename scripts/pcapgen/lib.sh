# shellcheck shell=bash
# Shared helpers for scripts/make-pcaps.sh and bench/gen-captures.sh: a private
# network namespace whose loopback behaves like an Ethernet wire (MTU 1500, no
# segmentation/receive offloads, so every frame is at most 1514 bytes), servers
# and clients started inside it, and tcpdump captures that are stopped cleanly
# and checked for loss. Source it; it defines functions and PCAPGEN_* variables.
#
# Requires root (ip netns), iproute2, ethtool, tcpdump, wireshark-common
# (capinfos/editcap), openssl, curl, node.

PCAPGEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PCAPGEN_NS=${PCAPGEN_NS:-}
PCAPGEN_PIDS=()

pg_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
pg_die() { pg_log "error: $*"; exit 1; }

# pg_lock NAME: one run at a time per NAME (the namespace name is fixed so that a
# rerun cleans up after a killed one; two runs would tear down each other's).
pg_lock() {
  local dir=/run/lock
  [ -d "$dir" ] && [ -w "$dir" ] || dir=/tmp
  exec {PG_LOCK_FD}>"$dir/$1.lock"
  flock -n "$PG_LOCK_FD" || pg_die "another $1 run is in progress"
}

pg_require() {
  local missing=() c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || pg_die "missing commands: ${missing[*]} (apt-get install tcpdump wireshark-common tshark openssl curl ethtool iproute2; Node 20)"
  [ "$(id -u)" -eq 0 ] || pg_die "must run as root (creates a network namespace)"
}

# pg_ns_create NAME: a fresh namespace with lo up, MTU 1500, offloads off.
pg_ns_create() {
  PCAPGEN_NS=$1
  ip netns del "$PCAPGEN_NS" 2>/dev/null || true
  ip netns add "$PCAPGEN_NS"
  pg_ns ip link set lo mtu 1500
  pg_ns ip link set lo up
  pg_ns ethtool -K lo tso off gso off gro off >/dev/null 2>&1 \
    || pg_die "ethtool -K lo tso off gso off gro off failed"
  # Any frame above 1514 bytes would mean an offload is still on.
  local off
  off=$(pg_ns ethtool -k lo | awk -F': ' '/^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/ {print $2}' | sort -u)
  [ "$off" = "off" ] || pg_die "offloads still on in $PCAPGEN_NS: $off"
  # A client port left in TIME_WAIT may be reused for a new connection to the same
  # server (reused-tuple capture) once 1 s has passed since its last timestamp.
  pg_ns sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_tw_reuse=1
}

pg_ns() { ip netns exec "$PCAPGEN_NS" "$@"; }

# pg_bg CMD...: start CMD in the namespace in the background, remember its pid.
# `ip netns exec` execs the command, so $! is the command's own pid.
pg_bg() {
  ip netns exec "$PCAPGEN_NS" "$@" &
  PCAPGEN_PIDS+=("$!")
  PG_LAST_PID=$!
}

# pg_stop PID [SIGNAL]: stop one process we started and reap it.
pg_stop() {
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

pg_cleanup() {
  local pid
  for pid in "${PCAPGEN_PIDS[@]}"; do pg_stop "$pid" TERM; done
  PCAPGEN_PIDS=()
  [ -n "$PCAPGEN_NS" ] && ip netns del "$PCAPGEN_NS" 2>/dev/null
  return 0
}

# pg_wait_port PORT: wait until something listens on PORT in the namespace.
pg_wait_port() {
  local port=$1 i
  for i in $(seq 1 200); do
    if pg_ns ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.05
  done
  pg_die "nothing listening on port $port after 10 s"
}

# pg_capture_start FILE [tcpdump args...]: tcpdump on the namespace's lo.
# Pass --immediate-mode -U for small captures; without immediate mode packets wait
# in the kernel ring until a block fills or times out (1 s), so pg_capture_stop
# waits PG_SETTLE seconds (default 0.5; use > 1 without immediate mode) before SIGINT.
# Sets PG_CAP_PID and PG_CAP_ERR.
pg_capture_start() {
  local file=$1; shift
  PG_CAP_ERR=$(mktemp)
  PG_CAP_FILE=$file
  ip netns exec "$PCAPGEN_NS" tcpdump -i lo -n "$@" -w "$file" 2>"$PG_CAP_ERR" &
  PG_CAP_PID=$!
  PCAPGEN_PIDS+=("$PG_CAP_PID")
  local i
  for i in $(seq 1 200); do
    grep -q "listening on" "$PG_CAP_ERR" 2>/dev/null && { sleep 0.2; return 0; }
    kill -0 "$PG_CAP_PID" 2>/dev/null || { cat "$PG_CAP_ERR" >&2; pg_die "tcpdump exited"; }
    sleep 0.05
  done
  pg_die "tcpdump did not start"
}

# pg_capture_stop: SIGINT tcpdump, then check that the kernel dropped nothing, that
# every packet the filter accepted was written, and that the file holds them all.
# Sets PG_CAP_PACKETS.
pg_capture_stop() {
  sleep "${PG_SETTLE:-0.5}"
  kill -INT "$PG_CAP_PID"
  wait "$PG_CAP_PID" 2>/dev/null || true
  local err captured received dropped ifdropped infile
  err=$(cat "$PG_CAP_ERR"); rm -f "$PG_CAP_ERR"
  stat_() { sed -n "s/^\([0-9]*\) packets\{0,1\} $1.*/\1/p" <<<"$err"; }
  captured=$(stat_ captured); received=$(stat_ 'received by filter')
  dropped=$(stat_ 'dropped by kernel'); ifdropped=$(stat_ 'dropped by interface')
  [ -n "$captured" ] && [ -n "$received" ] && [ -n "$dropped" ] \
    || { printf '%s\n' "$err" >&2; pg_die "could not read tcpdump's statistics"; }
  [ "$dropped" -eq 0 ] && [ "${ifdropped:-0}" -eq 0 ] \
    || pg_die "$PG_CAP_FILE: tcpdump dropped packets (kernel $dropped, interface ${ifdropped:-0})"
  # On lo the kernel filter sees every packet twice (sent and received) and
  # libpcap drops the "sent" copy, so a complete capture has received = 2 x captured.
  [ $((2 * captured)) -eq "$received" ] \
    || pg_die "$PG_CAP_FILE: the filter accepted $received packets on lo (2 per packet) but tcpdump wrote $captured (stopped too early?)"
  infile=$(capinfos -M -c -T "$PG_CAP_FILE" | awk -F'\t' 'NR==2 {print $2}')
  [ "$infile" = "$captured" ] || pg_die "$PG_CAP_FILE: tcpdump captured $captured packets but the file holds $infile"
  [ "$captured" -gt 0 ] || pg_die "$PG_CAP_FILE: no packets captured"
  PG_CAP_PACKETS=$captured
}

# pg_analyse FILE: one tshark pass over FILE. Fails if any frame acknowledges data
# the capture lacks (tshark's "ACKed segment that wasn't captured") or if a frame
# exceeds 1514 bytes (an offload super-frame). "Previous segment not captured" alone
# is not an error: with two CPUs, loopback reorders a few segments of fast flows and
# the missing one follows a few frames later (the receiver SACKs it: reordering on
# the wire, not capture loss). Sets PG_MAX_FRAME, PG_CONNS (SYNs without ACK) and
# PG_OOO (out-of-order frames). Callers use pipefail, so a tshark failure fails.
pg_analyse() {
  local r lost
  r=$(tshark -n -r "$1" -T fields -e frame.len -e tcp.flags.syn -e tcp.flags.ack \
        -e tcp.analysis.ack_lost_segment -e tcp.analysis.out_of_order 2>/dev/null \
      | awk -F'\t' '$1 > m { m = $1 } $2 == "1" && $3 == "0" { syn++ } $4 != "" { lost++ } $5 != "" { ooo++ }
                    END { print m + 0, syn + 0, lost + 0, ooo + 0 }')
  read -r PG_MAX_FRAME PG_CONNS lost PG_OOO <<<"$r"
  [ "$lost" -eq 0 ] || pg_die "$1: $lost frames acknowledge data missing from the capture"
  [ "$PG_MAX_FRAME" -le 1514 ] || pg_die "$1: a $PG_MAX_FRAME-byte frame (offloads on?)"
}

# pg_make_pki DIR: throwaway CA chain and server certificates. Fixed names,
# serials and validity (2025-01-01 .. 2035-01-01) so only keys and signatures
# differ between runs; keys stay in DIR (a temp dir, never committed).
#   DIR/root.pem        tlsentry Test Root CA (RSA 2048, self-signed)
#   DIR/inter.pem       tlsentry Test Issuing CA (ECDSA P-256, signed by root)
#   DIR/ca.pem          root (trust anchor for clients)
#   DIR/server-ec.pem   leaf, ECDSA P-256, DIR/server-ec.key,  chain leaf+inter in DIR/server-ec-chain.pem
#   DIR/server-rsa.pem  leaf, RSA 2048,    DIR/server-rsa.key, chain in DIR/server-rsa-chain.pem
#   DIR/rogue-ca.pem + DIR/rogue.pem/.key   an unrelated self-made CA and its leaf (for an unknown-CA alert)
pg_make_pki() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    cat >ca.cnf <<'EOF'
[ ca ]
default_ca = tca
[ tca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
email_in_dn = no
[ anything ]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
countryName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:tlsentry.test, DNS:*.tlsentry.test, DNS:*.bench.test, DNS:localhost, IP:127.0.0.1, IP:::1
EOF
    # sign NAME ISSUER_CERT ISSUER_KEY EXT SERIAL SUBJECT [selfsign]
    sign() {
      rm -rf newcerts index.txt*; mkdir newcerts; : >index.txt; echo "$5" >serial
      local issuer=(-cert "$2" -keyfile "$3")
      [ "${7:-}" = selfsign ] && issuer=(-selfsign -keyfile "$3")
      openssl req -config ca.cnf -new -key "$1.key" -subj "$6" -out "$1.csr" 2>/dev/null
      openssl ca -config ca.cnf -batch -notext -preserveDN -md sha256 "${issuer[@]}" -extensions "$4" \
        -startdate 20250101000000Z -enddate 20350101000000Z -in "$1.csr" -out "$1.pem" 2>/dev/null
      [ -s "$1.pem" ] || { echo "openssl ca failed for $1" >&2; exit 1; }
    }
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out root.key 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out inter.key 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-ec.key 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server-rsa.key 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue-ca.key 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue.key 2>/dev/null
    sign root root.pem root.key v3_root 1000 "/O=tlsentry test/CN=tlsentry Test Root CA" selfsign
    sign inter root.pem root.key v3_inter 2000 "/O=tlsentry test/CN=tlsentry Test Issuing CA"
    sign server-ec inter.pem inter.key v3_leaf 3001 "/O=tlsentry test/CN=tlsentry.test"
    sign server-rsa inter.pem inter.key v3_leaf 3002 "/O=tlsentry test/CN=rsa.tlsentry.test"
    sign rogue-ca rogue-ca.pem rogue-ca.key v3_root 4000 "/O=Not A Real CA/CN=Rogue Root" selfsign
    sign rogue rogue-ca.pem rogue-ca.key v3_leaf 4001 "/O=Not A Real CA/CN=rogue.tlsentry.test"
    cp root.pem ca.pem
    cat server-ec.pem inter.pem >server-ec-chain.pem
    cat server-rsa.pem inter.pem >server-rsa-chain.pem
    openssl verify -CAfile ca.pem -untrusted inter.pem server-ec.pem server-rsa.pem >/dev/null
  )
}

# pg_shift_time IN OUT EPOCH [FORMAT]: rewrite timestamps so the first packet is
# at EPOCH (whole seconds); inter-packet gaps are kept. FORMAT is an editcap -F
# type (pcap, pcapng, nsecpcap), default pcap.
pg_shift_time() {
  local in=$1 out=$2 epoch=$3 fmt=${4:-pcap} first sec frac us sign=
  first=$(capinfos -M -a -S -T "$in" | awk -F'\t' 'NR==2 {print $2}')   # e.g. 1764136028.123456
  sec=${first%.*}; frac=${first#*.}; frac=${frac}000000000; frac=${frac:0:9}
  # Integer nanoseconds: a float would round the first packet off the whole second.
  us=$(( (epoch - sec) * 1000000000 - 10#$frac ))
  [ "$us" -lt 0 ] && { sign=-; us=$(( -us )); }
  editcap -F "$fmt" -t "$(printf '%s%d.%09d' "$sign" $((us / 1000000000)) $((us % 1000000000)))" "$in" "$out"
}

# pg_det_file FILE BYTES: deterministic, incompressible-looking content.
pg_det_file() {
  head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 >"$1"
}
