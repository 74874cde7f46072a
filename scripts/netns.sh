#!/bin/sh
# netns.sh: a private network namespace in which synack meets the Linux
# kernel over a TUN device.  Traffic never leaves the namespace.
#
#   scripts/netns.sh up   [NAME]   create namespace NAME (default synack0) with
#                                  tun0, kernel side 10.77.0.1/24, link up
#   scripts/netns.sh down [NAME]   remove the namespace and everything in it
#   scripts/netns.sh status [NAME]
#
# Then, inside it:
#   ip netns exec NAME synack serve --tun tun0 --addr 10.77.0.2/24 --port 8080 --http
#   ip netns exec NAME curl http://10.77.0.2:8080/
#
# The script creates tun0 itself (ip tuntap add: a persistent device) so
# the kernel side's address and route exist before synack starts; synack
# then attaches to it with TUNSETIFF, and the link's carrier comes up
# while it holds the device.  Environment: TUN (tun0), KERNEL_ADDR
# (10.77.0.1/24), TUN_USER (a user allowed to attach, default none: root),
# TUN_MULTI_QUEUE=1 (a multi-queue device, for `synack serve --queues N`).
set -eu

cmd=${1:-}
ns=${2:-synack0}
tun=${TUN:-tun0}
kernel_addr=${KERNEL_ADDR:-10.77.0.1/24}

die() { echo "netns.sh: $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (creating namespaces and TUN devices needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    [ -c /dev/net/tun ] || die "/dev/net/tun is missing (modprobe tun)"
    command -v ip >/dev/null 2>&1 || die "the ip command (iproute2) is missing"
}

case "$cmd" in
up)
    need_root
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
        die "namespace $ns already exists (scripts/netns.sh down $ns first)"
    fi
    ip netns add "$ns"
    # Undo a half-made namespace rather than leave it behind.
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip -n "$ns" link set lo up
    mq=""
    [ "${TUN_MULTI_QUEUE:-0}" = 1 ] && mq=multi_queue
    if [ -n "${TUN_USER:-}" ]; then
        ip -n "$ns" tuntap add dev "$tun" mode tun user "$TUN_USER" $mq
    else
        ip -n "$ns" tuntap add dev "$tun" mode tun $mq
    fi
    # No IPv6 on the link: synack speaks IPv4 only, and router
    # solicitations would just be counted drops.
    ip netns exec "$ns" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$tun/disable_ipv6" 2>/dev/null || true
    ip -n "$ns" link set "$tun" txqueuelen 1000
    ip -n "$ns" addr add "$kernel_addr" dev "$tun"
    ip -n "$ns" link set "$tun" up
    trap - EXIT
    echo "namespace $ns: $tun with kernel address $kernel_addr; run synack there with"
    echo "  ip netns exec $ns synack serve --tun $tun --addr 10.77.0.2/24 --port 8080 --http"
    ;;
down)
    need_root
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
        # Processes still inside keep the namespace alive; end them first.
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] && kill $pids 2>/dev/null || true
        ip netns del "$ns"
    fi
    ;;
status)
    ip netns list | awk '{print $1}' | grep -qx "$ns" || die "no namespace $ns"
    ip -n "$ns" addr show dev "$tun"
    ip netns exec "$ns" ss -tan
    ;;
*)
    echo "usage: $0 up|down|status [NAME]" >&2
    exit 2
    ;;
esac
