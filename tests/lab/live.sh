#!/bin/sh
# `synack lab --live` and the CLI pieces it is made of, against the Linux
# kernel in a private network namespace (root, TUN; skipped with 77
# otherwise):
#   - connection-refused, close-wait-leak (kernel as client) and
#     time-wait-pileup (kernel as server) with --live --fix --json,
#     figures asserted, including what the kernel's own ss shows;
#   - synack serve --never-close against curl: CLOSE-WAIT in synack,
#     FIN-WAIT-2 in the kernel; serve/connect --name picked by -N;
#   - synack connect --count/--parallel against a kernel HTTP server:
#     TIME-WAIT on the kernel; a failed connect prints no duration.
#
# usage: live.sh PATH/TO/synack
set -eu
synack=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
netns_sh="$here/../../scripts/netns.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, TUN)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
for t in ip ss nstat curl python3; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: $t is missing"; exit 77; }
done

ns="sklab-$$"
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    "$netns_sh" down "$ns" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
nsx() { ip netns exec "$ns" "$@"; }
export SYNACK_CONTROL_DIR="$tmp/control"

# Background processes are started with `ip netns exec` itself (not the
# nsx function, which would fork a subshell), so $! is the process.
# Each scenario in a fresh namespace: the kernel keeps TIME_WAIT 60 s.
fresh_ns() {
    "$netns_sh" down "$ns" >/dev/null 2>&1 || true
    "$netns_sh" up "$ns" >/dev/null || fail "cannot create namespace $ns"
}

check_json() { # FILE PYTHON-EXPRESSION-ON-d MESSAGE
    python3 - "$1" "$2" <<'EOF' || fail "$3: $(head -c 600 "$1")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# --- synack lab --live --------------------------------------------------------
fresh_ns
nsx "$synack" lab connection-refused --live --fix --json >"$tmp/refused.json" || fail "lab connection-refused --live"
check_json "$tmp/refused.json" 'd["reproduced"] and d["fixed"] and d["outcome"]["errno"] == "ECONNREFUSED"' \
    "connection-refused --live"
check_json "$tmp/refused.json" '"ECONNREFUSED" in d["outcome"]["text"].split("kernel -> synack")[1] and d["figures"]["synack_ms"] < 1000 and d["figures"]["kernel_ms"] < 1000' \
    "both sides refused at once"
echo "  connection-refused --live: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outcome"]["text"])' "$tmp/refused.json")"

fresh_ns
nsx "$synack" lab close-wait-leak --live --fix --json >"$tmp/cw.json" || fail "lab close-wait-leak --live"
check_json "$tmp/cw.json" 'd["reproduced"] and d["fixed"]' "close-wait-leak --live"
check_json "$tmp/cw.json" 'd["figures"]["synack_close_wait"] == 10 and d["figures"]["kernel_fin_wait2"] == 10' \
    "10 CLOSE_WAIT on synack and 10 FIN_WAIT_2 in the kernel's ss"
check_json "$tmp/cw.json" 'd["fixed_run"]["figures"]["synack_close_wait"] == 0 and d["fixed_run"]["figures"]["kernel_time_wait"] == 10' \
    "with the fix: no CLOSE_WAIT, the kernel clients in TIME_WAIT"
check_json "$tmp/cw.json" 'any("timer:(timewait," in v["output"] for v in d["views"] if v["host"] == "kernel")' \
    "the kernel's ss -o shows the FIN_WAIT_2 orphan timer"
echo "  close-wait-leak --live: synack CLOSE-WAIT 10, kernel FIN-WAIT-2 10; fixed: 0 and kernel TIME-WAIT 10"

fresh_ns
nsx "$synack" lab time-wait-pileup --live --fix --json >"$tmp/tw.json" || fail "lab time-wait-pileup --live"
check_json "$tmp/tw.json" 'd["reproduced"] and d["fixed"]' "time-wait-pileup --live"
check_json "$tmp/tw.json" 'd["figures"]["kernel_time_wait"] == 20 and d["figures"]["synack_time_wait"] == 0 and d["figures"]["handshakes"] == 20' \
    "20 TIME_WAIT in the kernel's ss, none in synack"
check_json "$tmp/tw.json" 'd["fixed_run"]["figures"]["kernel_time_wait"] == 5 and d["fixed_run"]["figures"]["handshakes"] == 5' \
    "with keep-alive: 5 connections, 5 TIME_WAIT"
echo "  time-wait-pileup --live: kernel TIME-WAIT 20 (5 with keep-alive)"

nsx "$synack" lab syn-flood --live >"$tmp/out" 2>"$tmp/err" && fail "syn-flood --live should be refused"
grep -q "has no --live version" "$tmp/err" || fail "syn-flood --live said: $(cat "$tmp/err")"

# --- serve --never-close --name against curl -----------------------------------
fresh_ns
ip netns exec "$ns" "$synack" serve --tun tun0 --addr 10.77.0.2/24 --port 8080 --http --never-close --name sklab-a \
    >"$tmp/serve.log" 2>&1 &
pids="$pids $!"
i=0
while ! grep -q ' on 10\.77\.0\.2:' "$tmp/serve.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "serve did not start: $(cat "$tmp/serve.log")"
    sleep 0.05
done
for n in 1 2 3; do
    nsx curl -sS -m 5 -o /dev/null "http://10.77.0.2:8080/bytes/100" || fail "curl $n"
done
sleep 0.3
[ -S "$SYNACK_CONTROL_DIR/sklab-a.sock" ] || fail "--name sklab-a: no control socket sklab-a.sock: $(ls "$SYNACK_CONTROL_DIR")"
cw=$("$synack" ss -N sklab-a -tan state close-wait | tail -n +2 | wc -l)
[ "$cw" = 3 ] || fail "serve --never-close: $cw CLOSE-WAIT, wanted 3: $("$synack" ss -N sklab-a -tan)"
fw2=$(nsx ss -tan state fin-wait-2 '( dport = :8080 )' | tail -n +2 | wc -l)
[ "$fw2" = 3 ] || fail "the kernel shows $fw2 FIN-WAIT-2, wanted 3"
echo "  serve --never-close: synack CLOSE-WAIT $cw, kernel FIN-WAIT-2 $fw2"

# --- connect --count against a kernel HTTP server; connect --name ----------------
mkdir -p "$tmp/www" && echo hello >"$tmp/www/index.html"
ip netns exec "$ns" python3 -m http.server 8000 --bind 0.0.0.0 --directory "$tmp/www" >"$tmp/http.log" 2>&1 &
pids="$pids $!"
i=0
until nsx ss -ltn '( sport = :8000 )' | grep -q LISTEN; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "python http.server did not start"
    sleep 0.05
done
# A second synack in the same namespace needs its own TUN device.
nsx ip tuntap add dev tun1 mode tun
nsx ip addr add 10.78.0.1/24 dev tun1
nsx ip link set tun1 up
nsx "$synack" connect 10.78.0.1:8000 --tun tun1 --addr 10.78.0.2/24 --http /index.html --count 12 --parallel 4 \
    --name sklab-b >"$tmp/conn.out" 2>"$tmp/conn.err" || fail "connect --count: $(cat "$tmp/conn.err")"
grep -q "12 connections to 10.78.0.1:8000: 12 completed, 0 failed" "$tmp/conn.err" ||
    fail "connect --count summary: $(cat "$tmp/conn.err")"
tw=$(nsx ss -tan state time-wait '( sport = :8000 )' | tail -n +2 | wc -l)
[ "$tw" = 12 ] || fail "the kernel server shows $tw TIME-WAIT, wanted 12"
echo "  connect --count 12 --parallel 4: kernel TIME-WAIT $tw"

# --hold keeps them; -N picks this process by its --name, not serve's.
ip netns exec "$ns" "$synack" connect 10.78.0.1:8000 --tun tun1 --addr 10.78.0.2/24 --http /index.html \
    --count 3 --parallel 3 --hold --keepalive --name sklab-b >"$tmp/hold.out" 2>"$tmp/hold.err" &
hp=$!
pids="$pids $hp"
i=0
until grep -q "holding 3 open" "$tmp/hold.err" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "connect --hold: $(cat "$tmp/hold.err")"
    sleep 0.05
done
held=$("$synack" ss -N sklab-b -tan state close-wait | tail -n +2 | wc -l)
[ "$held" = 3 ] || fail "connect --hold: $held held connections, wanted 3: $("$synack" ss -N sklab-b -tano)"
"$synack" ss -N sklab-b -tano | grep -q "timer:(keepalive," || fail "connect --keepalive: no keepalive timer"
"$synack" ss -N sklab-a -tan | grep -q "10.77.0.2:8080" || fail "-N sklab-a should be the server"
kill -TERM "$hp"
wait "$hp" || fail "connect --hold did not exit 0 on SIGTERM"
echo "  connect --hold --keepalive --name: 3 held, told apart from serve by -N"

# --- a failed connect prints no duration (issue 11) ------------------------------
nsx "$synack" connect 10.78.0.1:9 --tun tun1 --addr 10.78.0.2/24 --recv 10 -v >"$tmp/f.out" 2>"$tmp/f.err" &&
    fail "connect to a closed port succeeded"
grep -q "Connection refused (ECONNREFUSED)" "$tmp/f.err" || fail "refused connect said: $(cat "$tmp/f.err")"
if grep -q "bytes in .* s" "$tmp/f.err"; then
    fail "a failed connect printed a duration: $(grep 'bytes in' "$tmp/f.err")"
fi
echo "  failed connect: no duration line"
echo "PASS"
