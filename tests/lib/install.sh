#!/bin/sh
# Installs the build into a temporary prefix and builds the examples
# against it as an outsider would: with pkg-config only (cc + `pkg-config
# --cflags --libs`), then with CMake's find_package(synack).  Checks the
# installed tree: libraries with SONAMEs, only public headers, .pc files.
#   install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
prefix="$tmp/prefix"

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || fail "cmake --install: $(cat "$tmp/install.log")"
(cd "$prefix" && find . -type f -o -type l | sort) >"$tmp/tree"
cat "$tmp/tree"
libdir=$(dirname "$(grep -m1 '/libsynack\.so$' "$tmp/tree")")
for f in bin/synack "$libdir/libsynack.so.0" "$libdir/libsynack-io.so.0" "$libdir/libsynack.a" \
         "$libdir/libsynack-io.a" "$libdir/pkgconfig/synack.pc" "$libdir/pkgconfig/synack-io.pc" \
         "$libdir/cmake/synack/synackConfig.cmake" include/synack/synack.h include/synack-io/memwire.h; do
    grep -qx "./${f#./}" "$tmp/tree" || fail "not installed: $f"
done
# The tools for users only: the conformance runner is a test tool.
if grep -E '^\./bin/' "$tmp/tree" | grep -vx './bin/synack'; then
    fail "unexpected programs under bin/"
fi
# Public headers only: nothing from src/ (tcb.h, control.h's client
# half lives in src/observe).
if grep -E '^\./include/' "$tmp/tree" | grep -vE '^\./include/synack(-io)?/[a-z]+\.h$'; then
    fail "unexpected files under include/"
fi
soname=$(readelf -d "$prefix/$libdir/libsynack.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libsynack.so.0 ] || fail "SONAME is '$soname'"

export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
[ "$(pkg-config --modversion synack)" = "$(sed -n 's/^#define SK_VERSION_STRING "\(.*\)"/\1/p' "$src/include/synack/version.h")" ] \
    || fail "pkg-config version differs from SK_VERSION_STRING"
# The engine alone: synack.pc must not need the I/O library.
cat >"$tmp/engine.c" <<'C'
#include <stdio.h>
#include <synack/synack.h>
#include <synack/version.h>
#if SK_VERSION_NUM < 0x000100
#error SK_VERSION_NUM
#endif
static void tx(void *c, const unsigned char *d, size_t n) { (void)c; (void)d; (void)n; }
int main(void)
{
    sk_stack_params p = {.addr = 0x0a000001u, .transmit = tx};
    sk_stack *s = sk_stack_new(&p);
    int fd = sk_socket(s);
    printf("%s %d\n", sk_version(), fd);
    sk_stack_free(s);
    return fd < 0;
}
C
cc ${SYNACK_EXAMPLE_CFLAGS:-} -std=c17 -Wall -Werror "$tmp/engine.c" $(pkg-config --cflags --libs synack) -o "$tmp/engine" || fail "engine-only program"
LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/engine" | grep -qx "$(pkg-config --modversion synack) 0" || fail "engine-only program's output"

for ex in echo_memwire echo_tun epoll_app; do
    cc ${SYNACK_EXAMPLE_CFLAGS:-} -std=c17 -Wall -Wextra -Werror "$src/examples/$ex.c" $(pkg-config --cflags --libs synack-io) \
        -o "$tmp/$ex" || fail "$ex does not build with pkg-config"
done
LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/echo_memwire" installed | grep -q ": installed$" || fail "installed echo_memwire"
# Static linking through pkg-config --static.
cc ${SYNACK_EXAMPLE_CFLAGS:-} -std=c17 "$src/examples/echo_memwire.c" -I"$prefix/include" \
    "$prefix/$libdir/libsynack-io.a" "$prefix/$libdir/libsynack.a" $(pkg-config --libs-only-l --static synack-io | sed 's/-lsynack-io//; s/-lsynack//') \
    -o "$tmp/echo_static" || fail "static link"
"$tmp/echo_static" static | grep -q ": static$" || fail "statically linked echo_memwire"

# find_package(synack), the examples' own CMakeLists.txt.
cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" "-DCMAKE_C_FLAGS=${SYNACK_EXAMPLE_CFLAGS:-}" >"$tmp/cmake.log" 2>&1 \
    || fail "find_package(synack): $(cat "$tmp/cmake.log")"
cmake --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1 || fail "examples with CMake: $(cat "$tmp/cmake.log")"
LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/cmake-build/echo_memwire" cmake | grep -q ": cmake$" || fail "CMake-built echo_memwire"
echo "install: ok ($(wc -l <"$tmp/tree") files)"
