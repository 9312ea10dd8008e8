#!/usr/bin/env bash
# describe.sh FILE: a Markdown table with one row per TCP connection in FILE, as
# tshark sees it: client and server endpoints, packets and TCP payload bytes each
# way, SNI and ALPN offered, TLS version and cipher chosen, whether the server
# resumed a session, and any alert visible in clear. Used for pcaps/README.md.
set -euo pipefail
f=$1
# TLS on the non-standard ports the generators use.
dec=(-d tcp.port==8443,tls -d tcp.port==4433,tls)
tmp=$(mktemp -d)
ts() { tshark -n -r "$f" "${dec[@]}" "$@" 2> >(grep -v "^Running as user" >&2 || true); }
trap 'rm -rf "$tmp"' EXIT

ts -T fields -E separator=/t \
  -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
  -e tcp.len -e tcp.flags.syn -e tcp.flags.ack >"$tmp/pkts"
ts -Y 'tls.handshake.type == 1' -T fields -E separator=/t \
  -e tcp.stream -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str >"$tmp/ch"
ts -Y 'tls.handshake.type == 2' -T fields -E separator=/t \
  -e tcp.stream -e tls.handshake.extensions.supported_version -e tls.handshake.version \
  -e tls.handshake.ciphersuite -e tls.handshake.extension.type -e tls.handshake.session_id_length \
  -e tls.handshake.extensions_alpn_str >"$tmp/sh"
ts -Y 'tls.handshake.type == 11' -T fields -e tcp.stream >"$tmp/cert"
ts -Y 'tls.alert_message.desc' -T fields -E separator=/t \
  -e tcp.stream -e tls.alert_message.desc >"$tmp/alert"
ts -Y 'http.request' -T fields -E separator=/t \
  -e tcp.stream -e http.request.method -e http.request.uri >"$tmp/http"

awk -F'\t' -v tmp="$tmp" '
function ver(v) {
  if (v == "0x0304") return "1.3"; if (v == "0x0303") return "1.2"
  if (v == "0x0302") return "1.1"; if (v == "0x0301") return "1.0"; return v
}
BEGIN {
  cs["0x1301"] = "TLS_AES_128_GCM_SHA256"; cs["0x1302"] = "TLS_AES_256_GCM_SHA384"
  cs["0x1303"] = "TLS_CHACHA20_POLY1305_SHA256"
  cs["0xc02f"] = "ECDHE-RSA-AES128-GCM-SHA256"; cs["0xc030"] = "ECDHE-RSA-AES256-GCM-SHA384"
  cs["0xc02b"] = "ECDHE-ECDSA-AES128-GCM-SHA256"; cs["0xc02c"] = "ECDHE-ECDSA-AES256-GCM-SHA384"
  cs["0xcca9"] = "ECDHE-ECDSA-CHACHA20-POLY1305"; cs["0xcca8"] = "ECDHE-RSA-CHACHA20-POLY1305"
  al[0] = "close_notify"; al[10] = "unexpected_message"; al[20] = "bad_record_mac"; al[40] = "handshake_failure"
  al[42] = "bad_certificate"; al[45] = "certificate_expired"; al[46] = "certificate_unknown"
  al[48] = "unknown_ca"; al[70] = "protocol_version"; al[80] = "internal_error"
  al[112] = "unrecognized_name"; al[120] = "no_application_protocol"
  while ((getline l < (tmp "/ch")) > 0) { split(l, a, "\t"); sni[a[1]] = a[2]; alpn[a[1]] = a[3]; ch[a[1]] = 1 }
  while ((getline l < (tmp "/sh")) > 0) {
    split(l, a, "\t"); s = a[1]
    v = a[2] != "" ? a[2] : a[3]; tv[s] = ver(v)
    c = a[4]; sub(/,.*/, "", c); cipher[s] = (c in cs) ? cs[c] : c
    ext[s] = "," a[5] ","; salpn[s] = a[7]
  }
  while ((getline l < (tmp "/cert")) > 0) cert[l] = 1
  while ((getline l < (tmp "/alert")) > 0) { split(l, a, "\t"); d = (a[2] in al) ? al[a[2]] " (" a[2] ")" : a[2]; alert[a[1]] = alert[a[1]] (alert[a[1]] ? ", " : "") d }
  while ((getline l < (tmp "/http")) > 0) { split(l, a, "\t"); req[a[1]] = req[a[1]] (req[a[1]] ? ", " : "") a[2] " " a[3] }
}
{
  s = $1; src = ($2 != "" ? $2 : "[" $3 "]") ":" $4; dst = ($5 != "" ? $5 : "[" $6 "]") ":" $7
  if (!(s in cli)) { order[++n] = s; cli[s] = src; srv[s] = dst }
  if ($9 == "1" && $10 == "0") { cli[s] = src; srv[s] = dst }   # the SYN names the client
  if (src == cli[s]) { cp[s]++; cb[s] += $8 } else { sp[s]++; sb[s] += $8 }
}
END {
  print "| # | client → server | pkts c→s / s→c | payload bytes c→s / s→c | SNI | ALPN offered | TLS | cipher | resumed | notes |"
  print "|---|---|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= n; i++) {
    s = order[i]
    resumed = "-"; notes = ""
    if (s in tv) {
      # TLS 1.3: the server accepted a PSK (extension 41); TLS 1.2: no Certificate message.
      if (tv[s] == "1.3") resumed = index(ext[s], ",41,") ? "yes" : "no"
      else resumed = (s in cert) ? "no" : "yes"
      if (salpn[s] != "") notes = "ALPN chosen " salpn[s]
    } else if (s in ch) notes = "no ServerHello"
    else notes = "not TLS"
    if (s in req) notes = notes (notes ? "; " : "") "HTTP " req[s]
    if (s in alert) notes = notes (notes ? "; " : "") "alert: " alert[s]
    printf "| %d | %s → %s | %d / %d | %d / %d | %s | %s | %s | %s | %s | %s |\n", s, cli[s], srv[s], cp[s], sp[s], cb[s], sb[s],
      (s in sni && sni[s] != "" ? sni[s] : "-"), (s in alpn && alpn[s] != "" ? alpn[s] : "-"),
      (s in tv ? tv[s] : "-"), (s in cipher ? cipher[s] : "-"), resumed, (notes ? notes : "-")
  }
}' "$tmp/pkts"
