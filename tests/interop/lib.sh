# Shared helpers of the interop tests: sourced by each test_*.sh.
#
# Each test gets its own namespace (made by scripts/netns.sh) named after
# the test and the shell's pid (prefixed sk-, or $IT_NS_PREFIX-), and a trap that kills every process it
# started and deletes the namespace however the test ends.  The kernel
# side is 10.77.0.1/24 on tun0; synack is 10.77.0.2.
set -eu

SYNACK=${SYNACK:?set SYNACK to the synack binary}
IT_DIR=$(cd "$(dirname "$0")" && pwd)
NETNS_SH="$IT_DIR/../../scripts/netns.sh"
TEST_NAME=$(basename "$0" .sh)
NS="${IT_NS_PREFIX:-sk}-${TEST_NAME#test_}-$$"
NS=$(printf '%s' "$NS" | cut -c1-30)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/synack-interop.XXXXXX")
KERNEL=10.77.0.1
PEER=10.77.0.2
IT_PIDS=""
IT_EXTRA_NS="" # more namespaces a test made, deleted with its own

it_cleanup() {
    rc=$?
    for pid in $IT_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.2
    for pid in $IT_PIDS; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    "$NETNS_SH" down "$NS" >/dev/null 2>&1 || true
    for ns in $IT_EXTRA_NS; do
        "$NETNS_SH" down "$ns" >/dev/null 2>&1 || true
    done
    if [ "$rc" -ne 0 ] && [ -n "${KEEP_LOGS:-}" ]; then
        echo "logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    for f in "$WORK"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $(basename "$f") (last lines)" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

note() { echo "  $*"; }

nsx() { ip netns exec "$NS" "$@"; }

it_up() {
    "$NETNS_SH" up "$NS" >/dev/null || fail "could not create namespace $NS"
}

# Starts `synack serve ARGS...` in the namespace, logging to serve.log (or
# $LOG), and waits until it listens.  Sets SERVE_PID.
start_serve() {
    log=${LOG:-$WORK/serve.log}
    ip netns exec "$NS" "$SYNACK" serve --tun tun0 --addr "$PEER/24" "$@" >"$log" 2>&1 &
    SERVE_PID=$!
    IT_PIDS="$IT_PIDS $SERVE_PID"
    i=0
    while ! grep -q ' on 10\.77\.0\.2:' "$log" 2>/dev/null; do
        kill -0 "$SERVE_PID" 2>/dev/null || fail "synack serve exited early: $(cat "$log")"
        i=$((i + 1))
        [ $i -lt 100 ] || fail "synack serve did not start in 5 s"
        sleep 0.05
    done
}

# Stops the server with SIGTERM; it must exit 0 (a clean shutdown, and
# no sanitizer report in a sanitized build).
stop_serve() {
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    SERVE_RC=0
    wait "$SERVE_PID" || SERVE_RC=$?
    [ "$SERVE_RC" = 0 ] || fail "synack serve exited $SERVE_RC after SIGTERM"
}

# Waits until FILE has stopped growing (a capture has been written out).
wait_quiet() {
    last=-1
    while :; do
        size=$(stat -c %s "$1" 2>/dev/null || echo 0)
        [ "$size" = "$last" ] && return 0
        last=$size
        sleep 0.3
    done
}

# Starts a kernel-side process in the namespace in the background.
start_bg() {
    log=$1
    shift
    ip netns exec "$NS" "$@" >"$log" 2>&1 &
    IT_PIDS="$IT_PIDS $!"
    BG_PID=$!
}

# Waits until a kernel socket listens on PORT in the namespace.
wait_listen() {
    i=0
    while ! nsx ss -Htln "sport = :$1" | grep -q LISTEN; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "nothing listens on port $1 after 5 s"
        sleep 0.05
    done
}

# sha256 of N bytes of synack's pattern, byte i = (i*31+7) & 0xff.
pattern_sha() {
    python3 - "$1" <<'PY'
import hashlib, sys
n = int(sys.argv[1])
block = bytes(((i * 31 + 7) & 0xff) for i in range(256)) * 4096
h = hashlib.sha256()
while n > 0:
    h.update(block[:min(n, len(block))])
    n -= len(block)
print(h.hexdigest())
PY
}

# Writes N pattern bytes to FILE.
pattern_file() {
    python3 - "$1" "$2" <<'PY'
import sys
n = int(sys.argv[1])
block = bytes(((i * 31 + 7) & 0xff) for i in range(256)) * 4096
with open(sys.argv[2], 'wb') as f:
    while n > 0:
        f.write(block[:min(n, len(block))])
        n -= len(block)
PY
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Milliseconds since the epoch, for rates.
now_ms() { date +%s%3N; }

rate() { # bytes ms
    awk -v b="$1" -v ms="$2" 'BEGIN { if (ms < 1) ms = 1; printf "%.1f MiB/s", b / 1048576 / (ms / 1000) }'
}
