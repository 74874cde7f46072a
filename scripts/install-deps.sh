#!/bin/sh
# Installs, from Debian's packages, whatever synack's build and tests need
# and the machine lacks.  Idempotent and quiet when nothing is missing.
#   scripts/install-deps.sh build   compiler, CMake, Ninja, cmocka, libpcap, libmnl
#   scripts/install-deps.sh test    the above plus tshark, python3, iproute2, curl, doxygen,
#                                   and clang with libFuzzer (make fuzz-check)
#   scripts/install-deps.sh docs    the build's plus doxygen (make docs)
#   scripts/install-deps.sh deb     the build's plus debhelper, lintian (make deb)
set -eu
want="gcc cmake ninja-build pkg-config libcmocka-dev libpcap-dev libmnl-dev"
case "${1:-build}" in
test) want="$want tshark python3 iproute2 curl iputils-ping netcat-openbsd tcpdump nftables ethtool doxygen clang libclang-rt-14-dev" ;;
docs) want="$want doxygen" ;;
deb) want="$want dpkg-dev debhelper lintian" ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "synack: missing Debian packages:$missing" >&2
    echo "synack: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "synack: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# tshark asks whether non-root users may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get install -y -qq --no-install-recommends $missing >/dev/null
