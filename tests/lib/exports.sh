#!/bin/sh
# The shared library exports exactly the functions its public headers
# declare with SK_EXPORT: no internal symbol leaks (sk_cc_*, sk_rack_*,
# sk_emit were exported before -fvisibility=hidden), and no declared
# function is missing.
#   exports.sh LIBRARY.so HEADER...
set -eu
lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$tmp/exported"
# One declaration per line starts with SK_EXPORT; its function name is
# the identifier before the first '('.
sed -n 's/^SK_EXPORT[^(]*[ *]\([a-zA-Z_][a-zA-Z0-9_]*\)(.*/\1/p' "$@" | sort -u >"$tmp/declared"
n=$(wc -l <"$tmp/exported")
d=$(wc -l <"$tmp/declared")
rc=0
if ! comm -23 "$tmp/exported" "$tmp/declared" >"$tmp/extra" || [ -s "$tmp/extra" ]; then
    echo "FAIL: $(basename "$lib") exports symbols no public header declares:"
    sed 's/^/  /' "$tmp/extra"
    rc=1
fi
if ! comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing" || [ -s "$tmp/missing" ]; then
    echo "FAIL: declared with SK_EXPORT but not exported by $(basename "$lib"):"
    sed 's/^/  /' "$tmp/missing"
    rc=1
fi
[ "$d" -gt 0 ] || { echo "FAIL: no SK_EXPORT declaration found in $*"; rc=1; }
echo "$(basename "$lib"): $n exported symbols, $d declared"
exit $rc
