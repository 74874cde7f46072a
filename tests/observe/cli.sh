#!/bin/sh
# `synack demo --hold` observed from another process, as an operator
# would: `synack ss`, `synack nstat`, `synack netstat -s` and
# `synack sysctl` through the control sockets, which vanish on SIGTERM.
#
# usage: cli.sh PATH/TO/synack
set -eu
synack=$1
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
export SYNACK_CONTROL_DIR="$tmp/control" SYNACK_NSTAT_HISTORY="$tmp/nstat-history"

"$synack" demo --hold >"$tmp/demo.out" 2>"$tmp/demo.err" &
pid=$!
i=0
while [ ! -S "$SYNACK_CONTROL_DIR/demo-server.sock" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "no control socket after 10 s: $(cat "$tmp/demo.err")"
    kill -0 "$pid" 2>/dev/null || fail "demo --hold exited: $(cat "$tmp/demo.err")"
    sleep 0.1
done
[ "$(stat -c %a "$SYNACK_CONTROL_DIR")" = 700 ] || fail "control directory is not 0700"

# Two stacks: a name is needed, and the error says which run.
if "$synack" ss -tan >/dev/null 2>"$tmp/err"; then fail "ss without -N succeeded with two stacks"; fi
grep -qx "synack ss: 2 synack stacks are running: demo-client, demo-server; pick one with -N NAME" "$tmp/err" ||
    fail "unexpected error: $(cat "$tmp/err")"

# The server closed first: its TIME_WAIT stands (seed 1 picks port 53732).
"$synack" ss -N demo-server -tan >"$tmp/ss"
printf '%s\n' \
    "State     Recv-Q Send-Q Local Address:Port Peer Address:Port" \
    "LISTEN    0      128          0.0.0.0:80        0.0.0.0:*" \
    "TIME-WAIT 0      0           10.0.0.2:80       10.0.0.1:53732" >"$tmp/ss.want"
diff -u "$tmp/ss.want" "$tmp/ss" || fail "ss -tan differs"
"$synack" ss -N demo-server -tno state time-wait | grep -Eq ' timer:\(timewait,(59|58|57|56|55)sec,0\)$' ||
    fail "no timewait timer in ss -tno"
"$synack" ss -N demo-client -tan | grep -qx "State Recv-Q Send-Q Local Address:Port Peer Address:Port" ||
    fail "the client should have no sockets left"

# nstat: the first call shows everything so far, the next only changes.
"$synack" nstat -N demo-server >"$tmp/nstat1"
grep -qx "TcpPassiveOpens                 1                  0.0" "$tmp/nstat1" || fail "nstat: $(cat "$tmp/nstat1")"
[ "$("$synack" nstat -N demo-server)" = "#kernel" ] || fail "second nstat shows changes"
"$synack" nstat -N demo-server -az TcpExtTW | grep -qx "TcpExtTW                        1                  0.0" ||
    fail "nstat -az TcpExtTW"
"$synack" netstat -N demo-server -s | grep -qx "    1 passive connection openings" || fail "netstat -s"

# sysctl: read, write, a refused value, an unknown name.
[ "$("$synack" sysctl -N demo-server net.ipv4.tcp_fin_timeout)" = "net.ipv4.tcp_fin_timeout = 60" ] || fail "sysctl read"
[ "$("$synack" sysctl -N demo-server -w net.ipv4.tcp_fin_timeout=30)" = "net.ipv4.tcp_fin_timeout = 30" ] ||
    fail "sysctl -w"
[ "$("$synack" sysctl -N demo-server -n net.ipv4.tcp_fin_timeout)" = 30 ] || fail "sysctl -w did not stick"
if "$synack" sysctl -N demo-server -w net.ipv4.tcp_fin_timeout=soon 2>"$tmp/err"; then fail "bad value accepted"; fi
grep -q "^synack sysctl: .*soon" "$tmp/err" || fail "no validation message: $(cat "$tmp/err")"
if "$synack" sysctl -N demo-server net.ipv4.tcp_nope 2>"$tmp/err"; then fail "unknown name accepted"; fi
grep -q "unknown name 'net.ipv4.tcp_nope'" "$tmp/err" || fail "unknown name: $(cat "$tmp/err")"

# ss -4 lists synack's sockets (all IPv4), -6 none; -e is refused, not ignored.
"$synack" ss -N demo-server -tan4 >"$tmp/ss4"
diff -u "$tmp/ss.want" "$tmp/ss4" || fail "ss -tan4 differs from ss -tan"
[ "$("$synack" ss -N demo-server -tan6)" = "State Recv-Q Send-Q Local Address:Port Peer Address:Port" ] ||
    fail "ss -tan6 lists sockets"
if "$synack" ss -N demo-server -tane >/dev/null 2>"$tmp/err"; then fail "ss -e accepted"; fi
grep -qx "synack ss: option '-e' is not supported: synack sockets have no inode or socket cookie for ss's ino: and sk: fields" \
    "$tmp/err" || fail "ss -e: $(cat "$tmp/err")"

# Another user is told permission is denied, not that nothing runs: the
# control directory is root's 0700, as /run/synack is.  Needs root to
# drop to nobody; skipped (with a note) elsewhere.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 711 "$tmp"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && nobody "$synack" --help >/dev/null 2>&1; then
    if nobody "$synack" ss -N demo-server -tan >/dev/null 2>"$tmp/err"; then fail "nobody read root's stack"; fi
    grep -qx "synack ss: permission denied on $SYNACK_CONTROL_DIR (owner uid 0, mode 0700; this is uid 65534): a stack there belongs to another user; run as that user (e.g. with sudo)" \
        "$tmp/err" || fail "nobody, by name: $(cat "$tmp/err")"
    if nobody "$synack" ss -N "$SYNACK_CONTROL_DIR/demo-server.sock" -tan >/dev/null 2>"$tmp/err"; then
        fail "nobody read root's stack by path"
    fi
    grep -qx "synack ss: permission denied on $SYNACK_CONTROL_DIR/demo-server.sock (this is uid 65534): the stack belongs to another user; run as that user (e.g. with sudo)" \
        "$tmp/err" || fail "nobody, by path: $(cat "$tmp/err")"
else
    echo "note: permission-denied checks skipped (need root, setpriv, and synack executable by nobody)"
fi

kill -TERM "$pid"
wait "$pid" || fail "demo --hold did not exit cleanly on SIGTERM"
pid=
[ -z "$(ls -A "$SYNACK_CONTROL_DIR")" ] || fail "control sockets left behind: $(ls "$SYNACK_CONTROL_DIR")"
if "$synack" ss 2>"$tmp/err"; then fail "ss succeeded with nothing running"; fi
grep -q "no synack stack is running" "$tmp/err" || fail "unexpected error: $(cat "$tmp/err")"
echo "PASS"
