#!/usr/bin/env bash
# Regenerates the golden captures in pcaps/ (and pcaps/README.md) from real TLS
# traffic on this machine. Needs root: every capture runs in a private network
# namespace whose loopback has MTU 1500 and no offloads, so frames look like
# Ethernet (<= 1514 bytes). A throwaway CA chain is made with openssl for each run;
# no key leaves the temp directory.
#
#   sudo scripts/make-pcaps.sh [OUTDIR]      # default: pcaps/ next to this script
#
# What stays the same between runs: file names, client ports, server ports, SNI,
# ALPN, request sizes and contents, certificate names/serials/validity, the first
# packet's timestamp (each capture starts at its own fixed minute on 2025-06-01,
# gaps between packets kept). What changes: keys, randoms, ISNs, ciphertext and
# sub-millisecond timing, so expected events must be regenerated with the files.
# Needs: iproute2, ethtool, tcpdump, tshark + wireshark-common, openssl, curl, node.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/pcapgen/lib.sh
source "$root/scripts/pcapgen/lib.sh"
out=$(realpath -m "${1:-$root/pcaps}")
pg_require ip ethtool ss tcpdump tshark capinfos editcap openssl curl node
pg_lock tlsentry-pcapgen

work=$(mktemp -d /tmp/tlsentry-pcapgen.XXXXXX)
NAME=
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$NAME" ] && [ -s "$work/log/$NAME.log" ]; then
    pg_log "failed while making $NAME; its log:"; cat "$work/log/$NAME.log" >&2
  fi
  pg_cleanup; [ -n "${KEEP_WORK:-}" ] && pg_log "kept $work" || rm -rf "$work"
}
trap on_exit EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/raw" "$work/final" "$work/log" "$out"

t0=$(date +%s)
pg_ns_create tlsentry-pcapgen
pg_make_pki "$work/pki"
P=$work/pki
SRV=$PCAPGEN_DIR/tls-server.mjs
CLI=$PCAPGEN_DIR/tls-client.mjs
pg_det_file "$work/upload.bin" 102400
pg_det_file "$work/form.bin" 2048

BASE_EPOCH=1748779200   # 2025-06-01T12:00:00Z; capture k starts at BASE_EPOCH + 600*k

# ---- servers (started before the capture, stopped after it) -----------------
start_node() {    # start_node MODE HOST PORT [extra args]
  local mode=$1 host=$2 port=$3; shift 3
  local tlsargs=()
  [ "$mode" = http ] || tlsargs=(--cert "$P/server-ec-chain.pem" --key "$P/server-ec.key")
  pg_bg node "$SRV" --mode "$mode" --host "$host" --port "$port" "${tlsargs[@]}" "$@" >>"$work/log/$NAME.log" 2>&1
  SERVER_PID=$PG_LAST_PID
  pg_wait_port "$port"
}
start_openssl() { # start_openssl PORT NACCEPT CERT KEY [extra s_server args]
  local port=$1 n=$2 cert=$3 key=$4; shift 4
  pg_bg openssl s_server -accept "127.0.0.1:$port" -cert "$cert" -key "$key" -rev -naccept "$n" -quiet "$@" \
    </dev/null >>"$work/log/$NAME.log" 2>&1
  SERVER_PID=$PG_LAST_PID
  pg_wait_port "$port"
}

# ---- clients -----------------------------------------------------------------
curl_() { pg_ns curl -sS --fail --cacert "$P/ca.pem" -o /dev/null -w '%{http_version} %{size_download} %{size_upload}\n' "$@" >>"$work/log/$NAME.log" 2>&1; }
# s_client_ SECONDS_OPEN TEXT ARGS...: send TEXT, keep stdin open SECONDS_OPEN, then close_notify.
s_client_() {
  local open=$1 text=$2; shift 2
  { [ -z "$text" ] || printf '%s\n' "$text"; sleep "$open"; } \
    | pg_ns openssl s_client -CAfile "$P/ca.pem" -verify_return_error -quiet -no_ign_eof "$@" >>"$work/log/$NAME.log" 2>&1
}
node_client() { pg_ns node "$CLI" --ca "$P/ca.pem" "$@" >>"$work/log/$NAME.log" 2>&1; }

# ---- scenarios: each sets DESC and CONNS, starts servers, runs clients ---------
scenario_tls12_openssl() {
  DESC="openssl s_server (-tls1_2 -rev, RSA-2048 leaf + ECDSA issuing CA) and openssl s_client -tls1_2 with SNI tls12.tlsentry.test from 127.0.0.1:40112: two short lines sent in one record, echoed back reversed (one record per line), then close_notify both ways and a client-initiated FIN."
  CONNS=1
  start_openssl 443 1 "$P/server-rsa.pem" "$P/server-rsa.key" -cert_chain "$P/inter.pem" -tls1_2
  s_client_ 0.5 $'hello tlsentry over TLS 1.2\nsecond line of the small exchange' \
    -connect 127.0.0.1:443 -bind 127.0.0.1:40112 -servername tls12.tlsentry.test -tls1_2
}
scenario_tls13_curl_download() {
  DESC="Node https server (ECDSA P-256 leaf + issuing CA) and curl --tlsv1.3 with --resolve so SNI download.tlsentry.test is sent, from 127.0.0.1:40201: GET /bytes/204800, a 200 KiB response (server-heavy)."
  CONNS=1
  start_node https 127.0.0.1 443
  curl_ --tlsv1.3 --local-port 40201 --resolve download.tlsentry.test:443:127.0.0.1 https://download.tlsentry.test/bytes/204800
}
scenario_tls13_upload() {
  DESC="Node https server and curl --tlsv1.3 (SNI upload.tlsentry.test, from 127.0.0.1:40301) POSTing 100 KiB (102400 bytes, no Expect: 100-continue) to /upload; the server answers {\"received\":102400}. Client-heavy: positive producer-consumer ratio."
  CONNS=1
  start_node https 127.0.0.1 443
  curl_ --tlsv1.3 --local-port 40301 --resolve upload.tlsentry.test:443:127.0.0.1 -H 'Expect:' \
    -H 'content-type: application/octet-stream' --data-binary "@$work/upload.bin" https://upload.tlsentry.test/upload
}
scenario_handshake_only() {
  DESC="openssl s_server (ECDSA leaf + issuing CA) and two openssl s_client connections that complete the handshake, send no application data, and close after 0.3 s: TLS 1.3 (SNI hs13.tlsentry.test, from port 40401; after Finished only the server's two NewSessionTickets and the close_notify alerts follow) and TLS 1.2 (SNI hs12.tlsentry.test, from port 40402)."
  CONNS=2
  start_openssl 443 2 "$P/server-ec.pem" "$P/server-ec.key" -cert_chain "$P/inter.pem"
  s_client_ 0.3 "" -connect 127.0.0.1:443 -bind 127.0.0.1:40401 -servername hs13.tlsentry.test -tls1_3
  s_client_ 0.3 "" -connect 127.0.0.1:443 -bind 127.0.0.1:40402 -servername hs12.tlsentry.test -tls1_2
}
scenario_reused_tuple() {
  DESC="Node https server and three sequential curl --tlsv1.3 connections from the same client port 40500 to 127.0.0.1:443 (SNI reuse.tlsentry.test), about 1.2 s apart: GET /bytes/1000, /bytes/2000, /bytes/3000 (Connection: close). The next connect reuses the port even when the client side of the last one is in TIME_WAIT (net.ipv4.tcp_tw_reuse=1 in the namespace). Same 5-tuple, three distinct flows, each starting with a SYN."
  CONNS=3
  start_node https 127.0.0.1 443
  local n
  for n in 1000 2000 3000; do
    curl_ --tlsv1.3 --local-port 40500 --resolve reuse.tlsentry.test:443:127.0.0.1 -H 'Connection: close' "https://reuse.tlsentry.test/bytes/$n"
    [ "$n" = 3000 ] || sleep 1.2
  done
}
scenario_node_tls_nonstandard_port() {
  DESC="Node tls server on 127.0.0.1:8443 (not an HTTP port; ALPN h2, http/1.1; echoes each chunk reversed) and four Node tls clients: ports 40601 (TLS 1.3, SNI node.tlsentry.test, ALPN h2+http/1.1 -> h2), 40602 (TLS 1.3, ALPN http/1.1 only), 40603 (TLS 1.3, no SNI, no ALPN), 40604 (TLS 1.2, ALPN h2+http/1.1, so the ServerHello shows h2 in clear). Each sends one line and closes after the echo."
  CONNS=4
  start_node tls-echo 127.0.0.1 8443 --alpn h2,http/1.1
  node_client --host 127.0.0.1 --port 8443 --local-port 40601 --servername node.tlsentry.test --alpn h2,http/1.1 --send 'hello from a node client offering h2\n' --wait echo
  node_client --host 127.0.0.1 --port 8443 --local-port 40602 --servername node.tlsentry.test --alpn http/1.1 --send 'hello from a node client offering http/1.1\n' --wait echo
  node_client --host 127.0.0.1 --port 8443 --local-port 40603 --no-sni --send 'hello without SNI or ALPN\n' --wait echo
  node_client --host 127.0.0.1 --port 8443 --local-port 40604 --servername node12.tlsentry.test --max-version TLSv1.2 --alpn h2,http/1.1 --send 'hello over TLS 1.2\n' --wait echo
}
scenario_tls_ipv6() {
  DESC="Node https server on [::1]:443 and curl -6 --tlsv1.3 from [::1]:40701 (SNI v6.tlsentry.test via --resolve): GET /bytes/16384."
  CONNS=1
  start_node https ::1 443
  curl_ -6 --tlsv1.3 --local-port 40701 --resolve 'v6.tlsentry.test:443:[::1]' https://v6.tlsentry.test/bytes/16384
}
scenario_plain_http() {
  DESC="Negative case, no TLS: Node http server on 127.0.0.1:80 and two curl connections (Host www.tlsentry.test): from port 40801 GET /bytes/4096, from port 40802 POST 2048 bytes to /submit. Byte-for-byte repeatable payloads (no Date header)."
  CONNS=2
  start_node http 127.0.0.1 80
  curl_ --local-port 40801 --resolve www.tlsentry.test:80:127.0.0.1 http://www.tlsentry.test/bytes/4096
  curl_ --local-port 40802 --resolve www.tlsentry.test:80:127.0.0.1 -H 'Expect:' --data-binary "@$work/form.bin" http://www.tlsentry.test/submit
}
scenario_tls_resumption() {
  DESC="pcapng (converted with editcap; frame 1 carries a packet comment). openssl s_server -rev (ECDSA leaf + issuing CA) and four openssl s_client connections with SNI resume.tlsentry.test, each sending one line: port 40901 TLS 1.3 full handshake (saves the ticket), 40902 TLS 1.3 resumed with that PSK (no certificate sent), 40903 TLS 1.2 full handshake (saves the session ticket), 40904 TLS 1.2 abbreviated handshake resumed from the ticket."
  CONNS=4
  start_openssl 443 4 "$P/server-ec.pem" "$P/server-ec.key" -cert_chain "$P/inter.pem"
  s_client_ 0.4 'first TLS 1.3 connection' -connect 127.0.0.1:443 -bind 127.0.0.1:40901 -servername resume.tlsentry.test -tls1_3 -sess_out "$work/s13.pem"
  s_client_ 0.4 'resumed TLS 1.3 connection' -connect 127.0.0.1:443 -bind 127.0.0.1:40902 -servername resume.tlsentry.test -tls1_3 -sess_in "$work/s13.pem"
  s_client_ 0.4 'first TLS 1.2 connection' -connect 127.0.0.1:443 -bind 127.0.0.1:40903 -servername resume.tlsentry.test -tls1_2 -sess_out "$work/s12.pem"
  s_client_ 0.4 'resumed TLS 1.2 connection' -connect 127.0.0.1:443 -bind 127.0.0.1:40904 -servername resume.tlsentry.test -tls1_2 -sess_in "$work/s12.pem"
}
scenario_tls_unknown_ca() {
  DESC="Failed handshakes: openssl s_server presents a leaf from an unrelated self-made CA (O=Not A Real CA, CN=rogue.tlsentry.test); openssl s_client -verify_return_error (trusting only the tlsentry test root) aborts with a fatal unknown_ca alert: from port 41001 TLS 1.2 (SNI rogue12.tlsentry.test; certificate in clear) and from 41002 TLS 1.3 (SNI rogue13.tlsentry.test; certificate encrypted). Both alerts are in clear: OpenSSL's TLS 1.3 client has not switched to handshake keys for writing when it rejects the certificate. The server closes each connection after the alert; no application data."
  CONNS=2
  start_openssl 443 2 "$P/rogue.pem" "$P/rogue.key"
  s_client_ 0.3 "" -connect 127.0.0.1:443 -bind 127.0.0.1:41001 -servername rogue12.tlsentry.test -tls1_2 || true
  s_client_ 0.3 "" -connect 127.0.0.1:443 -bind 127.0.0.1:41002 -servername rogue13.tlsentry.test -tls1_3 || true
}

# name:format (editcap -F type) in a fixed order; the order fixes each start time.
CAPTURES=(
  tls12-openssl:pcap
  tls13-curl-download:pcap
  tls13-upload:pcap
  handshake-only:pcap
  reused-tuple:pcap
  node-tls-nonstandard-port:pcap
  tls-ipv6:pcap
  plain-http:pcap
  tls-resumption:pcapng
  tls-unknown-ca:pcap
)

declare -A DESCS PKTS FILES
k=0
for entry in "${CAPTURES[@]}"; do
  NAME=${entry%%:*}; fmt=${entry#*:}
  ext=$fmt; [ "$fmt" = nsecpcap ] && ext=pcap
  pg_log "capturing $NAME"
  raw=$work/raw/$NAME.pcap
  pg_capture_start "$raw" -s 0 --immediate-mode -U tcp
  SERVER_PID=
  "scenario_${NAME//-/_}"
  pg_capture_stop
  [ -z "$SERVER_PID" ] || pg_stop "$SERVER_PID" TERM
  pg_analyse "$raw"
  [ "$PG_CONNS" -eq "$CONNS" ] || pg_die "$NAME: expected $CONNS connections, captured $PG_CONNS"
  final=$work/final/$NAME.$ext
  pg_shift_time "$raw" "$final.tmp" $((BASE_EPOCH + 600 * k)) "$fmt"
  if [ "$fmt" = pcapng ]; then
    editcap -F pcapng -a "1:tlsentry golden capture $NAME (scripts/make-pcaps.sh)" "$final.tmp" "$final"
    rm -f "$final.tmp"
  else
    mv "$final.tmp" "$final"
  fi
  DESCS[$NAME]=$DESC; PKTS[$NAME]=$PG_CAP_PACKETS; FILES[$NAME]=$NAME.$ext
  pg_log "  $NAME.$ext: $PG_CAP_PACKETS packets, $PG_CONNS connection(s), largest frame $PG_MAX_FRAME bytes, $PG_OOO out of order"
  k=$((k + 1))
done

# Replace the previous set only once every capture succeeded.
for entry in "${CAPTURES[@]}"; do
  NAME=${entry%%:*}
  mv -f "$work/final/${FILES[$NAME]}" "$out/${FILES[$NAME]}"
done

{
  cat <<'EOF'
# Golden captures

Small captures of real traffic, made by `scripts/make-pcaps.sh` (run as root;
it needs iproute2, ethtool, tcpdump, tshark, openssl, curl and Node 20). Each was
captured with `tcpdump -i lo -U --immediate-mode` inside a private network namespace
whose loopback has MTU 1500 and TSO/GSO/GRO off, so every frame is an Ethernet frame
of at most 1514 bytes, as on a real wire. The script checks that tcpdump dropped
nothing and wrote every packet its filter accepted, that the file holds them all,
that no frame acknowledges data the file lacks, and the number of connections.

Certificates come from a throwaway chain made at generation time: root
`O=tlsentry test, CN=tlsentry Test Root CA` (RSA 2048) -> issuing CA
`CN=tlsentry Test Issuing CA` (ECDSA P-256) -> leaf `CN=tlsentry.test` (ECDSA P-256,
serial 0x3001) or `CN=rsa.tlsentry.test` (RSA 2048, serial 0x3002); SAN
`tlsentry.test, *.tlsentry.test, *.bench.test, localhost, 127.0.0.1, ::1`; all valid
2025-01-01 to 2035-01-01. Servers send leaf + issuing CA unless noted. Keys are not
kept, so the traffic cannot be decrypted.

Timestamps are shifted so that capture k (in the order below) starts at
2025-06-01T12:00:00Z + 10 min x k; gaps between packets are as captured. Names,
ports, SNI, ALPN and payload sizes are fixed; keys, randoms, ISNs and ciphertext
change with every regeneration, so expected outputs must be regenerated with them.

How connections end is what the programs do: curl sends close_notify and FIN and
exits, so its kernel answers the Node server's late close_notify with a RST (those
flows end client FIN, then client RST); openssl s_client and the Node tls client
close with close_notify and FIN on both sides.

All files are Ethernet (linktype 1), microsecond pcap unless noted. In the tables,
"payload bytes" are TCP payload bytes (TLS records included), the TLS version and
cipher are the server's choice, "ALPN offered" is the client's list (TLS 1.3 sends
the server's choice encrypted), and "resumed" means the server accepted a PSK
(TLS 1.3) or skipped the Certificate message (TLS 1.2). Tables are tshark's view of
the file, written by `scripts/pcapgen/describe.sh`.
EOF
  for entry in "${CAPTURES[@]}"; do
    NAME=${entry%%:*}
    f=$out/${FILES[$NAME]}
    printf '\n## %s\n\n%s\n\n' "${FILES[$NAME]}" "${DESCS[$NAME]}"
    printf '%s packets, %s bytes, first packet %s.\n\n' "${PKTS[$NAME]}" "$(stat -c %s "$f")" \
      "$(date -u -d "@$(capinfos -M -a -S -T "$f" | awk -F'\t' 'NR==2 {printf "%d", $2}')" +%Y-%m-%dT%H:%M:%SZ)"
    bash "$PCAPGEN_DIR/describe.sh" "$f"
  done
} >"$work/README.md"
mv -f "$work/README.md" "$out/README.md"

pg_log "wrote ${#CAPTURES[@]} captures and README.md to $out in $(( $(date +%s) - t0 )) s"
pg_log "expected events are now stale: npx tsx scripts/update-golden.ts, then review the diff"
