#!/bin/sh
# synack over TUN against the Linux kernel, in a namespace of its own
# (root; exits 77 without root or /dev/net/tun).
#
#   bench/tun_bench.sh SYNACK TUN_CONNRATE [BEFORE_SYNACK]
#
# Prints RESULT lines for scripts/bench.sh, each the median of BENCH_REPS
# (5) with _min and _max:
#   tun_download_mib_s[_offload]   curl GETs 64 MiB from `synack serve --http`
#   tun_upload_mib_s[_offload]     64 MiB sent to `synack serve --discard`
#                                  (python3; timed until the server's FIN)
#   tun_conn_per_s_1q / _2q        connections/s, one HTTP request each with
#                                  Connection: close, from BENCH_TUN_THREADS
#                                  (8) threads for BENCH_TUN_SECONDS (3),
#                                  against --offload --queues 1 or 2 on a
#                                  multi-queue device; the repetitions of
#                                  the two alternate (1, 2, 1, 2, ...) so
#                                  that a machine whose speed drifts during
#                                  the run moves both alike
#   ..._cpu_s_per_gib / _cpu_us_per_conn   synack serve's CPU time (user +
#                                  system, all its threads, /proc/PID/stat)
#                                  per GiB moved or per connection: the
#                                  figure that holds across machines and
#                                  loads, where the rates do not
#   before_tun_*                   the same plain figures and the one-queue
#                                  rate (plain device) from BEFORE_SYNACK,
#                                  e.g. a build of main, in the same run
# "_offload" is `--offload` (virtio-net header, checksum offload, TSO).
# BENCH_TUN_ONLY=queues runs the one-against-two-queues comparison alone.
set -eu
synack=$1
connrate=$2
before=${3:-}
reps=${BENCH_REPS:-5}
threads=${BENCH_TUN_THREADS:-8}
secs=${BENCH_TUN_SECONDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
netns="$here/../scripts/netns.sh"
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "NOTE tun: not root or no /dev/net/tun; no TUN figures"; exit 77; }
for tool in ip curl python3; do
    # scripts/install-deps.sh test installs them
    command -v $tool >/dev/null 2>&1 || { echo "NOTE tun: no '$tool' command; no TUN figures"; exit 77; }
done
ns="${BENCH_NS_PREFIX:-skb}-tun-$$"
work=$(mktemp -d)
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
    "$netns" down "$ns" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export SYNACK_CONTROL_DIR="$work/control"
mkdir -m 700 "$SYNACK_CONTROL_DIR"

# up [multi_queue]: a fresh namespace (a device keeps offloads between
# readers; a fresh one keeps runs independent).
up() {
    "$netns" down "$ns" >/dev/null 2>&1 || true
    TUN_MULTI_QUEUE=${1:-0} "$netns" up "$ns" >/dev/null
}
serve() { # binary args...
    bin=$1
    shift
    ip netns exec "$ns" "$bin" serve --tun tun0 --addr 10.77.0.2/24 --port 8080 "$@" >"$work/serve.log" 2>&1 &
    serve_pid=$!
    i=0
    until grep -q ' on 10\.77\.0\.2:' "$work/serve.log"; do
        i=$((i + 1))
        [ $i -lt 100 ] && kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
        sleep 0.05
    done
}
unserve() {
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
}
# Median, min and max of the values on stdin, as RESULT lines.
stats() { # key
    sort -g | awk -v k="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { printf "RESULT %s null\n", k; exit }
        printf "RESULT %s %s\nRESULT %s_min %s\nRESULT %s_max %s\n", k, v[int((NR + 1) / 2)], k, v[1], k, v[NR] }'
}
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$serve_pid/stat"; }
# CPU seconds per GiB from the ticks over one 64 MiB transfer (on stdin
# as "before after" lines).
per_gib() { awk -v hz="$hz" '{ printf "%.3f\n", ($2 - $1) / hz * 16 }'; }
download() { # key
    : >"$work/cpu"
    for r in $(seq "$reps"); do
        t0=$(ticks)
        ip netns exec "$ns" curl -sS -m 60 -o /dev/null -w '%{speed_download}\n' \
            http://10.77.0.2:8080/bytes/67108864 | awk '{ printf "%.1f\n", $1 / 1048576 }'
        echo "$t0 $(ticks)" >>"$work/cpu"
    done | stats "$1"
    per_gib <"$work/cpu" | stats "${1}_cpu_s_per_gib"
}
upload() { # key
    : >"$work/cpu"
    for r in $(seq "$reps"); do
        t0=$(ticks)
        ip netns exec "$ns" python3 - 10.77.0.2 67108864 <<'PY'
import socket, sys, time
n = int(sys.argv[2]); buf = bytes(1 << 20)
s = socket.create_connection((sys.argv[1], 8080), timeout=60)
t = time.monotonic(); sent = 0
while sent < n:
    sent += s.send(buf[:min(len(buf), n - sent)])
s.shutdown(socket.SHUT_WR)
s.recv(1)
print("%.1f" % (n / (time.monotonic() - t) / 1048576))
PY
        echo "$t0 $(ticks)" >>"$work/cpu"
    done | stats "$1"
    per_gib <"$work/cpu" | stats "${1}_cpu_s_per_gib"
}
connrate() { # key
    : >"$work/cpu"
    for r in $(seq "$reps"); do
        t0=$(ticks)
        ip netns exec "$ns" "$connrate" 10.77.0.2 8080 "$secs" "$threads" x >"$work/conn"
        t1=$(ticks)
        awk '$1 == "RESULT" { print $3 } $1 == "NOTE" { print > "/dev/stderr" }' "$work/conn"
        awk -v t0="$t0" -v t1="$t1" -v hz="$hz" '$1 == "COUNT" && $2 > 0 { printf "%.2f\n", (t1 - t0) / hz * 1e6 / $2 }' \
            "$work/conn" >>"$work/cpu"
    done | stats "$1"
    stats "${1}_cpu_us_per_conn" <"$work/cpu"
}

# One connection-rate repetition into $work/rate.KEY and $work/cpu.KEY.
connrate_once() { # key
    t0=$(ticks)
    ip netns exec "$ns" "$connrate" 10.77.0.2 8080 "$secs" "$threads" x >"$work/conn"
    t1=$(ticks)
    awk '$1 == "RESULT" { print $3 } $1 == "NOTE" { print > "/dev/stderr" }' "$work/conn" >>"$work/rate.$1"
    awk -v t0="$t0" -v t1="$t1" -v hz="$hz" '$1 == "COUNT" && $2 > 0 { printf "%.2f\n", (t1 - t0) / hz * 1e6 / $2 }' \
        "$work/conn" >>"$work/cpu.$1"
}

queues() {
    up 1
    for r in $(seq "$reps"); do
        for q in 1 2; do
            serve "$synack" --http --offload --queues $q
            connrate_once "tun_conn_per_s_${q}q"
            unserve
        done
    done
    for q in 1 2; do
        stats "tun_conn_per_s_${q}q" <"$work/rate.tun_conn_per_s_${q}q"
        stats "tun_conn_per_s_${q}q_cpu_us_per_conn" <"$work/cpu.tun_conn_per_s_${q}q"
    done
}

if [ "${BENCH_TUN_ONLY:-}" = queues ]; then
    queues
    exit 0
fi

run_plain() { # prefix binary
    up
    serve "$2" --http
    download "${1}tun_download_mib_s"
    connrate "${1}tun_conn_per_s_1q_plain"
    unserve
    serve "$2" --discard
    upload "${1}tun_upload_mib_s"
    unserve
}

if [ -n "$before" ]; then
    echo "bench: TUN, before ($before)" >&2
    run_plain before_ "$before"
fi
echo "bench: TUN, after ($synack)" >&2
run_plain "" "$synack"
up
serve "$synack" --http --offload
download tun_download_mib_s_offload
unserve
serve "$synack" --discard --offload
upload tun_upload_mib_s_offload
unserve
queues
