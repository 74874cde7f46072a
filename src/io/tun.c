/*
 * The TUN backend (see include/synack-io/tun.h).
 *
 * IFF_NO_PI so every read and write is exactly one IPv4 datagram with no
 * 4-byte packet-information prefix: that is what sk_input takes and what
 * the transmit callback produces.
 */
#include "synack-io/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUN_CLONE_DEVICE "/dev/net/tun"

static void say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
}

/* Reads the MTU and, when the device is administratively up, waits
 * (at most 2 s) until the kernel calls it running.  Attaching turns the
 * carrier on, but the kernel applies that from its link-watch work,
 * rate-limited to once a second; until then the device keeps its noop
 * qdisc and silently drops what the kernel sends, so a SYN-ACK answering
 * our first SYN would be lost and cost a 1 s retransmission. */
static uint16_t settle_device(const char *name)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    uint16_t mtu = 0;
    if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0 && ifr.ifr_mtu <= 65535)
        mtu = (uint16_t)ifr.ifr_mtu;
    for (int i = 0; i < 200; i++) {
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP) || (ifr.ifr_flags & IFF_RUNNING))
            break;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    close(s);
    return mtu;
}

int sk_tun_open(const char *name, sk_tun_info *info, char *err, size_t errlen)
{
    return sk_tun_open_flags(name, 0, info, err, errlen);
}

/* Asks for checksum offload and the kernel's TCP segmentation offload
 * (TUN_F_TSO4/6: the kernel then hands over super-segments of up to 64 KiB
 * with gso_size set, as GRO hands them to a socket).  A kernel that
 * refuses TSO still gets checksum offload; one that refuses both leaves
 * the header in place with nothing offloaded. */
static unsigned set_offloads(int fd)
{
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == 0)
        return SK_TUN_CSUM | SK_TUN_TSO;
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0)
        return SK_TUN_CSUM;
    return 0;
}

int sk_tun_open_flags(const char *name, unsigned flags, sk_tun_info *info, char *err, size_t errlen)
{
    if (flags & ~(SK_TUN_VNET_HDR | SK_TUN_MULTI_QUEUE)) {
        say(err, errlen, "sk_tun_open_flags: unknown flags%s%s", "", "");
        return -EINVAL;
    }
    if (!name || !*name || strlen(name) >= IFNAMSIZ) {
        say(err, errlen, "bad TUN device name '%s': must be 1 to 15 characters%s", name ? name : "", "");
        return -EINVAL;
    }
    int fd = open(TUN_CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EACCES || e == EPERM)
            say(err, errlen, "cannot open %s: %s; opening a TUN device needs CAP_NET_ADMIN or root",
                TUN_CLONE_DEVICE, strerror(e));
        else if (e == ENOENT || e == ENODEV || e == ENXIO)
            say(err, errlen, "cannot open %s: %s; is the tun module loaded (modprobe tun)?", TUN_CLONE_DEVICE,
                strerror(e));
        else
            say(err, errlen, "cannot open %s: %s", TUN_CLONE_DEVICE, strerror(e));
        return -e;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (flags & SK_TUN_VNET_HDR)
        ifr.ifr_flags |= IFF_VNET_HDR;
    if (flags & SK_TUN_MULTI_QUEUE)
        ifr.ifr_flags |= IFF_MULTI_QUEUE;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        switch (e) {
        case EPERM:
        case EACCES:
            say(err, errlen,
                "cannot attach to TUN device %s: %s; creating or attaching to a TUN device needs "
                "CAP_NET_ADMIN or root (or a device made for this user with `ip tuntap add ... user`)",
                name, strerror(e));
            break;
        case EBUSY:
            say(err, errlen, "cannot attach to TUN device %s: %s; another process has it open", name,
                strerror(e));
            break;
        case EINVAL:
            if (flags & SK_TUN_MULTI_QUEUE)
                say(err, errlen, "cannot attach to %s: %s; a device of that name exists and is not a "
                    "multi-queue TUN device (make it with `ip tuntap add dev NAME mode tun multi_queue`)",
                    name, strerror(e));
            else
                say(err, errlen, "cannot attach to %s: %s; a device of that name exists and is not a TUN "
                    "device without packet information (IFF_TUN | IFF_NO_PI), or it is multi-queue", name,
                    strerror(e));
            break;
        default:
            say(err, errlen, "cannot attach to TUN device %s: %s", name, strerror(e));
            break;
        }
        return -e;
    }
    unsigned got = flags;
    if (flags & SK_TUN_VNET_HDR) {
        /* The legacy 10-byte struct virtio_net_hdr; no mergeable buffers. */
        int hdr_len = 10;
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
            int e = errno;
            close(fd);
            say(err, errlen, "cannot set the virtio-net header size on %s: %s", name, strerror(e));
            return -e;
        }
        got |= set_offloads(fd);
    } else {
        /* Offloads outlive the descriptor that asked for them on a
         * persistent device: a reader without the header would get
         * partial checksums and super-segments it cannot tell apart. */
        ioctl(fd, TUNSETOFFLOAD, 0ul);
    }
    uint16_t mtu = settle_device(ifr.ifr_name);
    if (info) {
        memset(info, 0, sizeof(*info));
        memcpy(info->name, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ - 1));
        info->mtu = mtu;
        info->flags = got;
    }
    return fd;
}

/* Strict dotted quad: four decimal parts 0..255, no leading '+', no
 * spaces, nothing after (inet_aton would also take "10.1" and octal). */
static int parse_quad(const char *s, const char **end, uint32_t *out)
{
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (*s != '.')
                return -1;
            s++;
        }
        if (*s < '0' || *s > '9')
            return -1;
        unsigned v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (++digits > 3 || v > 255)
                return -1;
            s++;
        }
        a = (a << 8) | v;
    }
    *out = a;
    *end = s;
    return 0;
}

static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int sk_parse_ipv4_prefix(const char *text, uint32_t *addr, int *prefix, char *err, size_t errlen)
{
    const char *end;
    if (!text || parse_quad(text, &end, addr) < 0 || (*end && *end != '/')) {
        say(err, errlen, "bad address '%s': expected an IPv4 address like 10.77.0.2/24%s", text ? text : "",
            "");
        return -EINVAL;
    }
    unsigned long len = 32;
    if (*end == '/' && parse_number(end + 1, 32, &len) < 0) {
        say(err, errlen, "bad address '%s': the prefix length after '/' must be 0 to 32%s", text, "");
        return -EINVAL;
    }
    if (*addr == 0 || (*addr >> 24) == 127 || (*addr >> 28) >= 14) {
        say(err, errlen, "bad address '%s': not a unicast host address%s", text, "");
        return -EINVAL;
    }
    if (prefix)
        *prefix = (int)len;
    return 0;
}

int sk_parse_ipv4_endpoint(const char *text, sk_endpoint *ep, char *err, size_t errlen)
{
    const char *end;
    uint32_t a;
    if (!text || parse_quad(text, &end, &a) < 0 || *end != ':') {
        say(err, errlen, "bad address '%s': expected IPv4ADDRESS:PORT like 10.77.0.1:8080%s", text ? text : "",
            "");
        return -EINVAL;
    }
    unsigned long port;
    if (parse_number(end + 1, 65535, &port) < 0 || port == 0) {
        say(err, errlen, "bad address '%s': the port must be 1 to 65535%s", text, "");
        return -EINVAL;
    }
    *ep = sk_endpoint_ipv4(a, (uint16_t)port);
    return 0;
}

void sk_format_ipv4(uint32_t a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}
