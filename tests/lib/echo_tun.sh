#!/bin/sh
# examples/echo_tun answers nc from the Linux host over a TUN device, in a
# network namespace of its own; while it runs, `synack ss -N echo-tun`
# sees its listener.  Needs root (exit 77, skipped, otherwise).
#   echo_tun.sh ECHO_TUN_BINARY SYNACK_BINARY
set -u
bin=$1
synack=$2
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "skipped: no /dev/net/tun"; exit 77; }
for t in ip nc timeout; do command -v $t >/dev/null || { echo "skipped: no $t"; exit 77; }; done
ns="sklib-$$"
dev="sklib$$"
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp/err" 2>/dev/null; exit 1; }
ip netns add "$ns" 2>/dev/null || { echo "skipped: cannot create a network namespace"; exit 77; }
export SYNACK_CONTROL_DIR="$tmp/ctl"
ip netns exec "$ns" "$bin" "$dev" 10.77.0.2 2>"$tmp/err" &
pid=$!
i=0
until ip -n "$ns" link show "$dev" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "no device $dev"; sleep 0.1
done
ip -n "$ns" addr add 10.77.0.1/24 dev "$dev" && ip -n "$ns" link set "$dev" up || fail "cannot configure $dev"
got=$(printf 'hello over tun\n' | ip netns exec "$ns" timeout 10 nc -N -w 5 10.77.0.2 7)
[ "$got" = "hello over tun" ] || fail "nc got '$got'"
"$synack" ss -N echo-tun -tan | grep -Eq '^LISTEN +0 +128 +10\.77\.0\.2:7 ' || fail "synack ss does not see echo-tun"
kill -TERM "$pid"
wait "$pid" || fail "echo_tun exited $? after SIGTERM"
pid=
[ ! -e "$SYNACK_CONTROL_DIR/echo-tun.sock" ] || fail "control socket left behind"
echo "echo_tun: nc got '$got' back; clean shutdown on SIGTERM"
