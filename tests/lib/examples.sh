#!/bin/sh
# The examples run and do what they say:
#   echo_memwire  echoes its message over the in-memory wire;
#   epoll_app     echoes 256 KiB through its own epoll loop, and while it
#                 holds, `synack ss -N epoll-echo` sees the embedded
#                 stack's listener and TIME_WAIT through the control socket.
#   examples.sh EXAMPLES_DIR SYNACK_BINARY
set -eu
dir=$1
synack=$2
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$dir/echo_memwire" "over the wire")
echo "$out"
echo "$out" | grep -qx "echoed 13 bytes in [0-9.]* s of virtual time: over the wire" || fail "echo_memwire: $out"

export SYNACK_CONTROL_DIR="$tmp/control"
"$dir/epoll_app" 262144 5 >"$tmp/epoll.out" 2>"$tmp/epoll.err" &
pid=$!
i=0
while [ ! -S "$SYNACK_CONTROL_DIR/epoll-echo.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SYNACK_CONTROL_DIR/epoll-echo.sock" ] || fail "no control socket: $(cat "$tmp/epoll.err")"
sleep 0.5 # the 256 KiB transfer takes milliseconds; then it holds
ss=$("$synack" ss -N epoll-echo -tan)
echo "$ss"
echo "$ss" | grep -Eq '^LISTEN +0 +16 +10\.0\.0\.1:7 +0\.0\.0\.0:\*' || fail "synack ss does not list the listener"
echo "$ss" | grep -Eq '^TIME-WAIT +0 +0 +10\.0\.0\.1:7 +10\.0\.0\.2:[0-9]+' || fail "synack ss does not list TIME_WAIT"
"$synack" nstat -N epoll-echo -a TcpPassiveOpens | grep -Eq '^TcpPassiveOpens +1 ' || fail "synack nstat: no passive open"
wait "$pid" || fail "epoll_app exited $?: $(cat "$tmp/epoll.out" "$tmp/epoll.err")"
pid=
cat "$tmp/epoll.out"
grep -q "^echoed 262144 of 262144 bytes in .* (all bytes match)" "$tmp/epoll.out" || fail "epoll_app: $(cat "$tmp/epoll.out")"
[ ! -e "$SYNACK_CONTROL_DIR/epoll-echo.sock" ] || fail "control socket left behind"
echo "examples: ok"
