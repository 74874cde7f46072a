#!/bin/sh
# synack's benchmarks, side by side with Linux loopback and lwIP, in one run.
#
#   scripts/bench.sh --deps            install liblwip-dev and valgrind
#                                      if missing
#   scripts/bench.sh BUILD_DIR JSON    run bench_synack, bench_linux and
#                                      bench_lwip from BUILD_DIR/bench,
#                                      print the table, write JSON
#
# `make bench` does both, with a Release (-O2) build in build-release and
# the JSON in build/bench.json.  Each program prints "RESULT key value"
# lines (repeated figures as the median plus key_min / key_max); this
# script keeps them in BUILD_DIR/bench-results.txt and turns them into
# JSON and a table of ratios.  Knobs (environment): BENCH_REPS (5),
# BENCH_SYNACK_LIFECYCLES (200000), BENCH_LINUX_LIFECYCLES (50000),
# BENCH_LWIP_LIFECYCLES (15000), BENCH_INFLIGHT (1000), BENCH_BULK_MIB
# (1024), BENCH_ESTABLISHED (1000000), BENCH_TIMEWAIT (10000000),
# BENCH_SYN_RECV (1000000), BENCH_TIMER_SECONDS (60), BENCH_ANALYZE (1),
# BENCH_ANALYZE_PACKETS (1000000), BENCH_TUN (1: the TUN figures of
# bench/tun_bench.sh when root), BENCH_TUN_BEFORE (another synack binary,
# e.g. main's, measured on TUN in the same run), BENCH_TUN_THREADS (8),
# BENCH_TUN_SECONDS (3).
set -eu

if [ "${1:-}" = "--deps" ]; then
    if ! dpkg-query -W -f='${Status}' liblwip-dev 2>/dev/null | grep -q "install ok installed"; then
        if [ "$(id -u)" = 0 ]; then
            echo "bench: installing liblwip-dev (lwIP 2.1.3) for the lwIP comparison" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liblwip-dev >/dev/null 2>&1 ||
                { apt-get update -qq >/dev/null 2>&1 &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liblwip-dev >/dev/null 2>&1; } ||
                echo "bench: liblwip-dev could not be installed; lwIP figures will be null" >&2
        else
            echo "bench: liblwip-dev missing and not root; lwIP figures will be null" >&2
        fi
    fi
    if ! command -v valgrind >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "bench: installing valgrind for instruction counts" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null 2>&1 ||
            echo "bench: valgrind could not be installed; instruction counts will be null" >&2
    fi
    exit 0
fi

B=${1:-build-release}
JSON=${2:-build/bench.json}
RAW=$B/bench-results.txt
: >"$RAW"

run() {
    echo "bench: $*" >&2
    # Progress goes to stderr; RESULT and NOTE lines are kept.
    if ! "$@" >>"$RAW"; then
        echo "bench: $* failed" >&2
        echo "NOTE $1 failed (exit status non-zero); its figures are missing" >>"$RAW"
    fi
}

start=$(date +%s)
# Separate processes, so that one part's freed memory does not hide the
# next part's RSS growth.
run "$B/bench/bench_synack" lifecycle memwire bulk syn_recv
run "$B/bench/bench_synack" established
run "$B/bench/bench_synack" timewait
run "$B/bench/bench_synack" timewait6
run "$B/bench/bench_linux" lifecycle bulk slabinfo
if [ -x "$B/bench/bench_lwip" ]; then
    run "$B/bench/bench_lwip"
else
    echo "RESULT lwip_lifecycles_per_s null" >>"$RAW"
    echo "NOTE lwip: bench_lwip was not built (liblwip-dev missing)" >>"$RAW"
fi
# Instruction counts: the A/B figure that does not drift with the machine.
# Each fixed workload runs under callgrind at two sizes; the difference in
# instructions over the difference in work cancels set-up and tear-down.
callgrind_ir() {
    out=$(mktemp)
    if valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1; then
        sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -n1
    fi
    rm -f "$out"
}
if command -v valgrind >/dev/null 2>&1; then
    echo "bench: instruction counts (valgrind --tool=callgrind)" >&2
    a=$(callgrind_ir "$B/bench/bench_synack" fixed-lifecycles 1000)
    b=$(callgrind_ir "$B/bench/bench_synack" fixed-lifecycles 3000)
    if [ -n "$a" ] && [ -n "$b" ]; then
        echo "RESULT synack_lifecycle_instructions $(( (b - a) / 2000 ))" >>"$RAW"
    else
        echo "RESULT synack_lifecycle_instructions null" >>"$RAW"
    fi
    a=$(callgrind_ir "$B/bench/bench_synack" fixed-bulk 8)
    b=$(callgrind_ir "$B/bench/bench_synack" fixed-bulk 24)
    if [ -n "$a" ] && [ -n "$b" ]; then
        echo "RESULT synack_bulk_instructions_per_mib $(( (b - a) / 16 ))" >>"$RAW"
    else
        echo "RESULT synack_bulk_instructions_per_mib null" >>"$RAW"
    fi
else
    echo "NOTE valgrind not installed: no instruction counts" >>"$RAW"
fi
# synack analyze on a 1M-packet capture against tshark -q -z conv,tcp
# (BENCH_ANALYZE=0 skips it; BENCH_ANALYZE_PACKETS sets the size).
if [ "${BENCH_ANALYZE:-1}" != 0 ] && [ -x "$B/synack" ]; then
    run sh "$(dirname "$0")/../bench/analyze_bench.sh" "$B/synack" "${BENCH_ANALYZE_PACKETS:-1000000}"
fi
# synack serve over TUN against the kernel (root only; 77 is a skip).
if [ "${BENCH_TUN:-1}" != 0 ] && [ -x "$B/synack" ] && [ -x "$B/bench/tun_connrate" ]; then
    echo "bench: TUN (bench/tun_bench.sh)" >&2
    rc=0
    sh "$(dirname "$0")/../bench/tun_bench.sh" "$B/synack" "$B/bench/tun_connrate" ${BENCH_TUN_BEFORE:-} \
        >>"$RAW" || rc=$?
    [ $rc = 0 ] || [ $rc = 77 ] || echo "NOTE tun_bench.sh failed (exit $rc); its figures are missing" >>"$RAW"
fi
elapsed=$(($(date +%s) - start))

mkdir -p "$(dirname "$JSON")"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
rev=$(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
awk -v nproc="$(nproc)" -v cpu="$cpu" -v kernel="$(uname -r)" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -v rev="$rev" -v elapsed="$elapsed" '
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
$1 == "RESULT" { if (!($2 in val)) order[n++] = $2; val[$2] = $3 }
$1 == "NOTE" { sub(/^NOTE /, ""); notes[m++] = $0 }
END {
    printf "{\n"
    printf "  \"machine\": {\"nproc\": %d, \"cpu\": %s, \"kernel\": %s},\n", nproc, jstr(cpu), jstr(kernel)
    printf "  \"date\": %s,\n  \"revision\": %s,\n  \"bench_seconds\": %d,\n", jstr(date), jstr(rev), elapsed
    for (k = 0; k < n; k++) printf "  %s: %s,\n", jstr(order[k]), val[order[k]]
    printf "  \"notes\": ["
    for (k = 0; k < m; k++) printf "%s%s", (k ? ", " : ""), jstr(notes[k])
    printf "]\n}\n"
}' "$RAW" >"$JSON"

# The table: medians with min-max, and synack's ratio to each peer
# (higher is better for rates, lower for bytes and CPU).
awk '
$1 == "RESULT" { v[$2] = $3 }
function has(k) { return (k in v) && v[k] != "null" }
function num(x) { return (x >= 1000 || x <= -1000) ? sprintf("%.0f", x) : sprintf("%.3g", x) }
function fig(k,   s) {
    if (!has(k)) return "n/a"
    s = num(v[k])
    if (has(k "_min")) s = s " (" num(v[k "_min"]) "-" num(v[k "_max"]) ")"
    return s
}
function ratio(a, b) { return (has(a) && has(b) && v[b] + 0 != 0) ? sprintf("%.2fx", v[a] / v[b]) : "n/a" }
function row(name, s, l, w) {
    printf "%-34s %-28s %-28s %-8s %-24s %-8s\n", name, fig(s), fig(l), ratio(s, l), fig(w), ratio(s, w)
}
END {
    printf "%-34s %-28s %-28s %-8s %-24s %-8s\n", "figure (median, min-max)", "synack", "Linux", "ratio", "lwIP", "ratio"
    row("lifecycles/s, 1 core", "synack_lifecycles_per_s", "linux_lifecycles_per_s", "lwip_lifecycles_per_s")
    row("lifecycles/s, 2 threads", "synack_lifecycles_per_s_2threads", "linux_lifecycles_per_s", "lwip_lifecycles_per_s")
    row("lifecycles/s on memwire", "synack_memwire_lifecycles_per_s", "linux_lifecycles_per_s", "lwip_lifecycles_per_s")
    row("bulk Gbit/s, MTU 1500, 1 thread", "synack_bulk_gbps", "linux_bulk_gbps", "-")
    row("bulk Gbit/s, MTU 1500, Linux 2 thr", "synack_bulk_gbps", "linux_bulk_gbps_2threads", "-")
    row("bulk Gbit/s, MTU 64K, 1 thread", "synack_bulk_gbps_mtu65535", "linux_bulk_gbps_mtu65536", "-")
    row("bulk Gbit/s, MTU 64K, Linux 2 thr", "synack_bulk_gbps_mtu65535", "linux_bulk_gbps_mtu65536_2threads", "-")
    row("bytes/ESTABLISHED socket", "bytes_per_established", "linux_slab_tcp_bytes", "-")
    row("bytes/TIME_WAIT", "bytes_per_timewait", "linux_slab_tw_sock_tcp_bytes", "-")
    row("bytes/SYN_RECV request", "bytes_per_syn_recv", "linux_slab_request_sock_tcp_bytes", "-")
    row("CPU us/lifecycle (user+sys)", "synack_lifecycle_cpu_us", "linux_lifecycle_cpu_us", "-")
    row("CPU s/GB, MTU 1500", "synack_bulk_gbps_cpu_s_per_gb", "linux_bulk_gbps_cpu_s_per_gb", "-")
    row("CPU s/GB, MTU 64K", "synack_bulk_gbps_mtu65535_cpu_s_per_gb", "linux_bulk_gbps_mtu65536_cpu_s_per_gb", "-")
    row("instructions/lifecycle (callgrind)", "synack_lifecycle_instructions", "-", "-")
    row("instructions/MiB bulk (callgrind)", "synack_bulk_instructions_per_mib", "-", "-")
    row("ms CPU/virtual s, 1M idle conns", "idle_1m_cpu_ms_per_s", "-", "-")
    row("ms CPU/virtual s, keepalives firing", "keepalive_1m_firing_cpu_ms_per_s", "-", "-")
    if (has("tun_download_mib_s")) {
        printf "\n%-44s %-28s %-28s\n", "synack serve over TUN (median, min-max)", "plain TUN", "--offload (vnet header)"
        printf "%-44s %-28s %-28s\n", "64 MiB curl download, MiB/s", fig("tun_download_mib_s"), fig("tun_download_mib_s_offload")
        printf "%-44s %-28s %-28s\n", "64 MiB upload to --discard, MiB/s", fig("tun_upload_mib_s"), fig("tun_upload_mib_s_offload")
        printf "%-44s %-28s %-28s\n", "connections/s, 1 queue", fig("tun_conn_per_s_1q_plain"), fig("tun_conn_per_s_1q")
        printf "%-44s %-28s %-28s\n", "connections/s, 2 queues", "-", fig("tun_conn_per_s_2q")
        printf "%-44s %-28s %-28s\n", "serve CPU s/GiB, download", fig("tun_download_mib_s_cpu_s_per_gib"), fig("tun_download_mib_s_offload_cpu_s_per_gib")
        printf "%-44s %-28s %-28s\n", "serve CPU s/GiB, upload", fig("tun_upload_mib_s_cpu_s_per_gib"), fig("tun_upload_mib_s_offload_cpu_s_per_gib")
        printf "%-44s %-28s %-28s\n", "serve CPU us/connection, 1 queue", fig("tun_conn_per_s_1q_plain_cpu_us_per_conn"), fig("tun_conn_per_s_1q_cpu_us_per_conn")
        printf "%-44s %-28s %-28s\n", "serve CPU us/connection, 2 queues", "-", fig("tun_conn_per_s_2q_cpu_us_per_conn")
        if (has("before_tun_download_mib_s"))
            printf "%-44s %-28s %-28s\n%-44s %-28s\n%-44s %-28s\n", "BENCH_TUN_BEFORE: download, MiB/s",
                fig("before_tun_download_mib_s"), "", "BENCH_TUN_BEFORE: upload, MiB/s", fig("before_tun_upload_mib_s"),
                "BENCH_TUN_BEFORE: connections/s", fig("before_tun_conn_per_s_1q_plain")
        if (has("before_tun_download_mib_s_cpu_s_per_gib"))
            printf "%-44s %-28s\n%-44s %-28s\n%-44s %-28s\n", "BENCH_TUN_BEFORE: CPU s/GiB, download",
                fig("before_tun_download_mib_s_cpu_s_per_gib"), "BENCH_TUN_BEFORE: CPU s/GiB, upload",
                fig("before_tun_upload_mib_s_cpu_s_per_gib"), "BENCH_TUN_BEFORE: CPU us/connection",
                fig("before_tun_conn_per_s_1q_plain_cpu_us_per_conn")
        printf "serve CPU: user + system of the synack serve process, the kernel work done in its TUN reads and writes included.\n"
    }
    printf "\nTIME_WAIT kept per lifecycle rep: synack %s (overflow %s), Linux %s over all reps (overflow %s), lwIP %s\n",
        v["synack_lifecycle_timewait_kept"], v["synack_lifecycle_timewait_overflow"],
        v["linux_lifecycle_timewait_kept"], v["linux_lifecycle_timewait_overflow"], v["lwip_lifecycle_timewait_kept"]
    printf "TIME_WAIT memory test: %s records kept, %s dropped (TCPTimeWaitOverflow)\n", v["timewait_count"], v["timewait_overflow"]
    printf "Linux sizes are slab object sizes (/proc/slabinfo), not measured RSS.\n"
    printf "CPU rows: lower is better; ratio is synack/Linux. Linux CPU is the rusage of the benchmark process: kernel work on its behalf counts, waiting for the scheduler does not.\n"
    if (has("analyze_1m_seconds"))
        printf "synack analyze, 1M-packet capture: %s s, %s KiB peak RSS; tshark -q -z conv,tcp: %s s, %s KiB (%sx faster)\n",
            v["analyze_1m_seconds"], v["analyze_1m_maxrss_kib"], v["tshark_conv_1m_seconds"],
            v["tshark_conv_1m_maxrss_kib"], v["analyze_vs_tshark_speedup"]
}' "$RAW"
grep '^NOTE' "$RAW" | sed 's/^NOTE /note: /' || true
echo "bench: wrote $JSON and $RAW in ${elapsed}s" >&2
