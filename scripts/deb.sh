#!/bin/sh
# Builds synack's Debian packages (libsynack0, libsynack-dev, synack) with
# dpkg-buildpackage from a copy of the tree, so the tree stays clean and
# the .deb files land in OUTDIR (default build/deb).
#   scripts/deb.sh [OUTDIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
version=$(sed -n 's/^#define SK_VERSION_STRING "\(.*\)"/\1/p' "$src/include/synack/version.h")
chlog=$(sed -n '1s/^synack (\([^)]*\)).*/\1/p' "$src/debian/changelog")
# The package's upstream version is the library's.
[ "${chlog%%-*}" = "$version" ] || {
    echo "deb.sh: debian/changelog says $chlog, synack/version.h says $version" >&2
    exit 1
}
rm -rf "$out"
mkdir -p "$out/src/synack-$version"
out=$(cd "$out" && pwd)
# The tree without build directories or git metadata.
(cd "$src" && tar --exclude='./build*' --exclude='./obj-*' --exclude=./.git -cf - .) |
    tar -xf - -C "$out/src/synack-$version"
# The shared test material sits beside the tree, as ../shared does here
# (linked, not copied); without it the build skips the tests needing it.
[ -d "$src/../shared" ] && ln -s "$(cd "$src/../shared" && pwd)" "$out/src/shared"
cd "$out/src/synack-$version"
DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}" dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
    tail -50 "$out/build.log" >&2
    echo "deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
mv ../*.deb ../*.changes ../*.buildinfo "$out/"
rm -rf "$out/src"
ls "$out"/*.deb
