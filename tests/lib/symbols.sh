#!/bin/sh
# debian/libsynack0.symbols lists exactly what each shared library
# exports, so the package tracks the ABI: a new public function must be
# added there (with the version that introduced it), and a removed one
# shows up here before dpkg-gensymbols refuses the build.
#   symbols.sh SYMBOLS_FILE libsynack.so libsynack-io.so
set -eu
file=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
for lib in "$@"; do
    soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    nm -D --defined-only "$lib" | awk '{print $NF}' | sort >"$tmp/exported"
    awk -v so="$soname" '/^[^ *]/ { cur = $1 } /^ / && cur == so { sub(/@.*/, "", $1); print $1 }' "$file" | sort >"$tmp/listed"
    if ! diff "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
        echo "FAIL: $file differs from what $soname exports (< listed only, > exported only):"
        grep '^[<>]' "$tmp/diff"
        rc=1
    else
        echo "$soname: $(wc -l <"$tmp/exported") symbols, all listed"
    fi
done
exit $rc
