#!/bin/sh
# IPv6: ping -6 -c 3 from the kernel reaches synack's address (ICMPv6 echo
# answered as Linux's icmpv6_echo_reply), and the replies are counted.
. "$(dirname "$0")/lib.sh"
it_up6
start_serve --addr6 "$PEER6/64" --port 8080 --http
# Without ping (iputils-ping, in scripts/install-deps.sh test) nothing is
# checked: a skip, never a pass.
command -v ping >/dev/null 2>&1 || { stop_serve; echo "no ping command (apt-get install iputils-ping)"; exit 77; }
nsx ping -6 -c 3 -i 0.2 -W 2 "$PEER6" >"$WORK/ping.out" 2>&1 || fail "ping -6 failed: $(cat "$WORK/ping.out")"
grep -q "3 packets transmitted, 3 received" "$WORK/ping.out" || fail "ping -6: $(tail -2 "$WORK/ping.out")"
out=$(nsx "$SYNACK" nstat -az Icmp6OutEchoReplies 2>&1 | awk '/Icmp6OutEchoReplies/ {print $2}')
[ "${out:-0}" -ge 3 ] || fail "synack counted ${out:-0} Icmp6OutEchoReplies"
note "ping -6: $(grep -o '3 packets transmitted.*' "$WORK/ping.out"); Icmp6OutEchoReplies $out"
stop_serve
