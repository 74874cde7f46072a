#!/bin/sh
# Checks the built Debian packages: lintian finds no error or warning,
# and unpacked into a scratch root (dpkg -x, no root needed) they hold a
# working tool and a development kit: an engine-only program and the
# examples build there with pkg-config alone (PKG_CONFIG_SYSROOT_DIR) and
# run against the packaged shared libraries.
#   scripts/deb-check.sh DEBDIR
set -eu
debs=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
version=$(dpkg-deb -f "$debs"/synack_*.deb Version)

if command -v lintian >/dev/null; then
    lintian --tag-display-limit 0 "$debs"/*.changes >"$tmp/lintian" 2>&1 || true
    grep -v '^running with root privileges' "$tmp/lintian" || true
    if grep -Eq '^[EW]: ' "$tmp/lintian"; then fail "lintian reports errors or warnings"; fi
    echo "lintian: no error or warning"
else
    echo "lintian not installed: skipped (scripts/install-deps.sh deb)"
fi

root="$tmp/root"
for p in libsynack0 libsynack-dev synack; do
    deb=$(ls "$debs/${p}_${version}_"*.deb)
    dpkg-deb -x "$deb" "$root"
done
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib="$root/usr/lib/$arch"
for f in usr/bin/synack "usr/lib/$arch/libsynack.so.0" "usr/lib/$arch/libsynack-io.so.0" \
         "usr/lib/$arch/pkgconfig/synack.pc" usr/include/synack/synack.h usr/include/synack-io/loop.h \
         usr/share/man/man1/synack-ss.1.gz usr/share/bash-completion/completions/synack; do
    [ -e "$root/$f" ] || fail "not packaged: /$f"
done
[ "$("$root/usr/bin/synack" version)" = "synack ${version%%-*}" ] || fail "synack version"
# Packaged libraries export exactly the public API.
n=$(nm -D --defined-only "$lib/libsynack.so.0" | wc -l)
echo "libsynack.so.0 exports $n symbols"

export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$lib/pkgconfig"
ex="$root/usr/share/doc/libsynack-dev/examples"
for e in echo_memwire epoll_app echo_tun; do
    cc -std=c17 -Wall -Wextra -Werror "$ex/$e.c" $(pkg-config --cflags --libs synack-io) -o "$tmp/$e" ||
        fail "$e does not build against the packages"
done
out=$(LD_LIBRARY_PATH="$lib" "$tmp/echo_memwire" packaged)
echo "$out"
echo "$out" | grep -q ': packaged$' || fail "echo_memwire against the packaged libraries"
SYNACK_CONTROL_DIR="$tmp/ctl" LD_LIBRARY_PATH="$lib" "$tmp/epoll_app" 65536 | grep -q "all bytes match" ||
    fail "epoll_app against the packaged libraries"
echo "deb-check: ok ($(ls "$debs"/*.deb | wc -l) packages, version $version)"
