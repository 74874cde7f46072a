#!/bin/sh
# synack analyze against tshark on a 1-million-packet capture.
#   bench/analyze_bench.sh SYNACK [PACKETS]
# Prints RESULT lines (seconds, peak RSS in KiB, the ratio) for
# scripts/bench.sh.  The capture is made by bench/make_big_capture.py and
# kept in ${TMPDIR:-/tmp} between runs.
set -eu
synack=$1
n=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
cap=${TMPDIR:-/tmp}/synack-analyze-bench-$n.pcap
[ -s "$cap" ] || python3 "$here/make_big_capture.py" "$cap" "$n"
measure() { # prints "seconds maxrss_kib"
    /usr/bin/time -f "%e %M" -o "$cap.time" "$@" >/dev/null 2>"$cap.err" || { cat "$cap.err" >&2; return 1; }
    cat "$cap.time"
}
set -- $(measure "$synack" analyze "$cap")
echo "RESULT analyze_1m_seconds $1"
echo "RESULT analyze_1m_maxrss_kib $2"
sa=$1
if command -v tshark >/dev/null 2>&1; then
    set -- $(measure tshark -q -z conv,tcp -r "$cap")
    echo "RESULT tshark_conv_1m_seconds $1"
    echo "RESULT tshark_conv_1m_maxrss_kib $2"
    awk -v a="$sa" -v t="$1" 'BEGIN { printf "RESULT analyze_vs_tshark_speedup %.1f\n", (a > 0 ? t / a : 0) }'
else
    echo "NOTE tshark missing: no comparison"
fi
