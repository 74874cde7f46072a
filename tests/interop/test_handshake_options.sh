#!/bin/sh
# The kernel captures synack's SYN-ACK (mss, sackOK, TS, wscale) and its
# SYN; tshark finds no malformed packet and no bad checksum in either
# direction.
. "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null && command -v tshark >/dev/null || { echo "skipped: needs tcpdump and tshark"; exit 77; }
it_up
start_serve --port 8080 --http
start_bg "$WORK/tcpdump.log" tcpdump -i tun0 -n --immediate-mode -B 32768 -s 2048 -w "$WORK/cap.pcap"
TCPDUMP_PID=$BG_PID
i=0
until grep -q 'listening on' "$WORK/tcpdump.log"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "tcpdump did not start"; sleep 0.05
done
nsx curl -sS -m 10 -o /dev/null "http://$PEER:8080/bytes/300000" -o /dev/null "http://$PEER:8080/" || fail "curl failed"
stop_serve
mkdir "$WORK/www" && echo hi >"$WORK/www/x"
start_bg "$WORK/httpd.log" python3 -m http.server 8000 --bind $KERNEL --directory "$WORK/www"
wait_listen 8000
nsx "$SYNACK" connect $KERNEL:8000 --tun tun0 --addr $PEER/24 --http /x -o /dev/null 2>"$WORK/connect.log" || fail "synack connect failed"
sleep 0.5
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true

synack_synack=$(tcpdump -nn -r "$WORK/cap.pcap" "src host $PEER and (tcp[tcpflags] & (tcp-syn|tcp-ack)) == (tcp-syn|tcp-ack)" 2>/dev/null | head -1)
[ -n "$synack_synack" ] || fail "no SYN-ACK from synack captured"
note "SYN-ACK: ${synack_synack#* }"
for opt in 'mss [0-9]' sackOK 'TS val [0-9]* ecr [0-9]' 'wscale [0-9]'; do
    echo "$synack_synack" | grep -q "$opt" || fail "SYN-ACK lacks '$opt': $synack_synack"
done
fields=$(tshark -r "$WORK/cap.pcap" -Y "ip.src == $PEER && tcp.flags.syn == 1 && tcp.flags.ack == 1" \
    -T fields -e tcp.options.mss_val -e tcp.options.sack_perm -e tcp.options.timestamp.tsval -e tcp.options.wscale.shift 2>/dev/null | head -1)
set -- $fields
[ $# -ge 4 ] || fail "tshark does not see all four options in the SYN-ACK: '$fields'"
syn=$(tcpdump -nn -r "$WORK/cap.pcap" "src host $PEER and (tcp[tcpflags] & (tcp-syn|tcp-ack)) == tcp-syn" 2>/dev/null | head -1)
[ -n "$syn" ] || fail "no SYN from synack captured"
note "SYN: ${syn#* }"

total=$(tshark -r "$WORK/cap.pcap" 2>/dev/null | wc -l)
bad=$(tshark -r "$WORK/cap.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
    -Y '_ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0 || _ws.expert.severity == error' 2>/dev/null)
[ -z "$bad" ] || fail "tshark flags packets: $bad"
note "tshark: $total packets ($(grep -h "dropped by kernel" "$WORK/tcpdump.log")), none malformed, no bad checksum"
