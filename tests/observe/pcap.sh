#!/bin/sh
# `synack demo --pcap` read back by tshark: the TCP flags of the exchange
# are exactly the demo's (as its tcpdump-style trace prints them), tshark
# finds nothing malformed and no warning (checksums verified), and the
# capture holds one TCP conversation.  Exit 77 (skipped) without tshark.
#
# usage: pcap.sh PATH/TO/synack
set -eu
synack=$1
if ! command -v tshark >/dev/null 2>&1; then
    echo "SKIP: tshark is not installed (scripts/install-deps.sh test installs it)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
tshark_q() { tshark "$@" 2>"$tmp/tshark.err" || { cat "$tmp/tshark.err" >&2; fail "tshark $*"; }; }

"$synack" demo --pcap "$tmp/demo.pcap" >"$tmp/demo.txt" || fail "synack demo --pcap failed"

# SYN, SYN-ACK, ACK, the request (PSH-ACK), its ACK, the response
# (PSH-ACK), the server's FIN, the client's ACK, FIN, and the last ACK.
expected="0x0002 0x0012 0x0010 0x0018 0x0010 0x0018 0x0011 0x0010 0x0011 0x0010"

# The same sequence read off the demo's own trace ("Flags [S.]"...), so
# the capture is checked against what the demo said it sent.
from_trace=$(sed -n 's/.* IP .*Flags \[\([^]]*\)\].*/\1/p' "$tmp/demo.txt" | awk '
    { v = 0
      if ($0 != "none")
          for (i = 1; i <= length($0); i++) {
              c = substr($0, i, 1)
              if (c == "F") v += 1; else if (c == "S") v += 2; else if (c == "R") v += 4
              else if (c == "P") v += 8; else if (c == ".") v += 16; else if (c == "U") v += 32
              else if (c == "E") v += 64; else if (c == "W") v += 128
          }
      printf "%s0x%04x", (NR > 1 ? " " : ""), v }')
[ "$from_trace" = "$expected" ] || fail "the demo's trace shows flags '$from_trace', expected '$expected'"

got=$(tshark_q -r "$tmp/demo.pcap" -T fields -e tcp.flags | tr '\n' ' ' | sed 's/ *$//')
[ "$got" = "$expected" ] || fail "tshark reads flags '$got', expected '$expected'"

# Malformed packets or expert warnings/errors (bad checksums included,
# which tshark only reports when asked to verify them).
problems='_ws.malformed || _ws.expert.severity >= warning'
check="-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE"
# shellcheck disable=SC2086
bad=$(tshark_q $check -r "$tmp/demo.pcap" -Y "$problems")
[ -z "$bad" ] || fail "tshark finds problems in the demo's capture: $bad"

# The filter must catch a broken packet: flip the first segment's TCP
# checksum (24-byte file header, 16-byte record header, 20-byte IPv4
# header, checksum at offset 16 of the TCP header).
cp "$tmp/demo.pcap" "$tmp/bad.pcap"
byte=$(od -An -tu1 -j76 -N1 "$tmp/demo.pcap" | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf '%03o' $((255 - byte)))" | dd of="$tmp/bad.pcap" bs=1 seek=76 conv=notrunc 2>/dev/null
# shellcheck disable=SC2086
caught=$(tshark_q $check -r "$tmp/bad.pcap" -Y "$problems" | wc -l)
[ "$caught" -eq 1 ] || fail "the problem filter caught $caught packets of a capture with one bad checksum, not 1"

convs=$(tshark_q -r "$tmp/demo.pcap" -q -z conv,tcp | grep -c '<->' || true)
[ "$convs" -eq 1 ] || fail "tshark sees $convs TCP conversations, expected 1"

echo "PASS: $expected; no malformed packets or warnings; 1 conversation"
