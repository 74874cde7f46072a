/*
 * Symbolic names used by packetdrill scripts, with Linux's numeric values
 * (the values synack's API uses too; see synack.h).
 */
#include "script/names.h"

#include <string.h>

typedef struct named_value {
    const char *name;
    int64_t value;
} named_value;

static const named_value constants[] = {
    {"NULL", 0},
    /* socket(2) */
    {"AF_INET", 2}, {"PF_INET", 2}, {"AF_INET6", 10}, {"PF_INET6", 10}, {"AF_UNSPEC", 0},
    {"SOCK_STREAM", 1}, {"SOCK_DGRAM", 2}, {"IPPROTO_IP", 0}, {"IPPROTO_TCP", 6},
    {"IPPROTO_UDP", 17}, {"IPPROTO_IPV6", 41},
    /* option levels and names (asm-generic/socket.h, linux/tcp.h, linux/in.h) */
    {"SOL_SOCKET", 1}, {"SOL_TCP", 6}, {"SOL_IP", 0}, {"SOL_IPV6", 41},
    {"SO_DEBUG", 1}, {"SO_REUSEADDR", 2}, {"SO_TYPE", 3}, {"SO_ERROR", 4}, {"SO_DONTROUTE", 5},
    {"SO_BROADCAST", 6}, {"SO_SNDBUF", 7}, {"SO_RCVBUF", 8}, {"SO_KEEPALIVE", 9},
    {"SO_OOBINLINE", 10}, {"SO_LINGER", 13}, {"SO_REUSEPORT", 15}, {"SO_RCVLOWAT", 18},
    {"SO_SNDLOWAT", 19}, {"SO_TIMESTAMP", 29}, {"SO_SNDBUFFORCE", 32}, {"SO_RCVBUFFORCE", 33},
    {"SO_MARK", 36}, {"SO_TIMESTAMPING", 37}, {"SO_MAX_PACING_RATE", 47}, {"SO_ZEROCOPY", 60},
    {"TCP_NODELAY", 1}, {"TCP_MAXSEG", 2}, {"TCP_CORK", 3}, {"TCP_KEEPIDLE", 4},
    {"TCP_KEEPINTVL", 5}, {"TCP_KEEPCNT", 6}, {"TCP_SYNCNT", 7}, {"TCP_LINGER2", 8},
    {"TCP_DEFER_ACCEPT", 9}, {"TCP_WINDOW_CLAMP", 10}, {"TCP_INFO", 11}, {"TCP_QUICKACK", 12},
    {"TCP_CONGESTION", 13}, {"TCP_MD5SIG", 14}, {"TCP_THIN_LINEAR_TIMEOUTS", 16},
    {"TCP_USER_TIMEOUT", 18}, {"TCP_REPAIR", 19}, {"TCP_FASTOPEN", 23}, {"TCP_TIMESTAMP", 24},
    {"TCP_NOTSENT_LOWAT", 25}, {"TCP_CC_INFO", 26}, {"TCP_SAVE_SYN", 27}, {"TCP_SAVED_SYN", 28},
    {"TCP_FASTOPEN_CONNECT", 30}, {"TCP_ULP", 31}, {"TCP_FASTOPEN_KEY", 33},
    {"TCP_FASTOPEN_NO_COOKIE", 34}, {"TCP_ZEROCOPY_RECEIVE", 35}, {"TCP_INQ", 36}, {"TCP_CM_INQ", 36},
    {"TCP_TX_DELAY", 37},
    {"IP_TOS", 1}, {"IP_TTL", 2}, {"IP_MTU_DISCOVER", 10}, {"IP_MTU", 14},
    {"IP_PMTUDISC_DONT", 0}, {"IP_PMTUDISC_WANT", 1}, {"IP_PMTUDISC_DO", 2},
    {"IP_PMTUDISC_PROBE", 3}, {"IP_PMTUDISC_INTERFACE", 4}, {"IP_PMTUDISC_OMIT", 5}, {"IP_RECVERR", 11},
    {"IP_FREEBIND", 15}, {"IP_TRANSPARENT", 19},
    /* linux/in6.h */
    {"IPV6_FLOWINFO", 11}, {"IPV6_UNICAST_HOPS", 16}, {"IPV6_MTU_DISCOVER", 23}, {"IPV6_MTU", 24},
    {"IPV6_RECVERR", 25}, {"IPV6_V6ONLY", 26}, {"IPV6_FLOWLABEL_MGR", 32}, {"IPV6_FLOWINFO_SEND", 33},
    {"IPV6_TCLASS", 67}, {"IPV6_PMTUDISC_DONT", 0}, {"IPV6_PMTUDISC_WANT", 1}, {"IPV6_PMTUDISC_DO", 2},
    {"IPV6_PMTUDISC_PROBE", 3}, {"IPV6_PMTUDISC_INTERFACE", 4}, {"IPV6_PMTUDISC_OMIT", 5},
    /* send/recv flags */
    {"MSG_OOB", 0x1}, {"MSG_PEEK", 0x2}, {"MSG_DONTROUTE", 0x4}, {"MSG_TRUNC", 0x20},
    {"MSG_DONTWAIT", 0x40}, {"MSG_EOR", 0x80}, {"MSG_WAITALL", 0x100}, {"MSG_ERRQUEUE", 0x2000},
    {"MSG_NOSIGNAL", 0x4000}, {"MSG_MORE", 0x8000}, {"MSG_ZEROCOPY", 0x4000000},
    {"MSG_FASTOPEN", 0x20000000},
    /* fcntl */
    {"F_GETFD", 1}, {"F_SETFD", 2}, {"F_GETFL", 3}, {"F_SETFL", 4}, {"O_RDONLY", 0},
    {"O_WRONLY", 1}, {"O_RDWR", 2}, {"O_NONBLOCK", 0x800}, {"FD_CLOEXEC", 1},
    /* shutdown */
    {"SHUT_RD", 0}, {"SHUT_WR", 1}, {"SHUT_RDWR", 2},
    /* poll */
    {"POLLIN", 0x1}, {"POLLPRI", 0x2}, {"POLLOUT", 0x4}, {"POLLERR", 0x8}, {"POLLHUP", 0x10},
    {"POLLNVAL", 0x20}, {"POLLRDNORM", 0x40}, {"POLLRDBAND", 0x80}, {"POLLWRNORM", 0x100},
    {"POLLWRBAND", 0x200}, {"POLLMSG", 0x400}, {"POLLRDHUP", 0x2000},
    /* epoll */
    {"EPOLLIN", 0x1}, {"EPOLLPRI", 0x2}, {"EPOLLOUT", 0x4}, {"EPOLLERR", 0x8},
    {"EPOLLHUP", 0x10}, {"EPOLLRDNORM", 0x40}, {"EPOLLRDBAND", 0x80}, {"EPOLLWRNORM", 0x100},
    {"EPOLLWRBAND", 0x200}, {"EPOLLMSG", 0x400}, {"EPOLLRDHUP", 0x2000},
    {"EPOLLEXCLUSIVE", 1ll << 28}, {"EPOLLWAKEUP", 1ll << 29}, {"EPOLLONESHOT", 1ll << 30},
    {"EPOLLET", 1ll << 31}, {"EPOLL_CTL_ADD", 1}, {"EPOLL_CTL_DEL", 2}, {"EPOLL_CTL_MOD", 3},
    /* ioctl */
    {"SIOCINQ", 0x541B}, {"FIONREAD", 0x541B}, {"SIOCOUTQ", 0x5411}, {"TIOCOUTQ", 0x5411},
    {"SIOCOUTQNSD", 0x894B},
};

static const named_value errnos[] = {
    {"EPERM", 1}, {"ENOENT", 2}, {"EINTR", 4}, {"EIO", 5}, {"EBADF", 9}, {"EAGAIN", 11},
    {"EWOULDBLOCK", 11}, {"ENOMEM", 12}, {"EACCES", 13}, {"EFAULT", 14}, {"EBUSY", 16},
    {"EEXIST", 17}, {"EINVAL", 22}, {"ENFILE", 23}, {"EMFILE", 24}, {"ENOSPC", 28},
    {"EPIPE", 32}, {"ERANGE", 34}, {"ENOTSOCK", 88}, {"EDESTADDRREQ", 89}, {"EMSGSIZE", 90},
    {"EPROTOTYPE", 91}, {"ENOPROTOOPT", 92}, {"EPROTONOSUPPORT", 93}, {"EOPNOTSUPP", 95},
    {"ENOTSUP", 95}, {"EAFNOSUPPORT", 97}, {"EADDRINUSE", 98}, {"EADDRNOTAVAIL", 99},
    {"ENETDOWN", 100}, {"ENETUNREACH", 101}, {"ENETRESET", 102}, {"ECONNABORTED", 103},
    {"ECONNRESET", 104}, {"ENOBUFS", 105}, {"EISCONN", 106}, {"ENOTCONN", 107},
    {"ESHUTDOWN", 108}, {"ETIMEDOUT", 110}, {"ECONNREFUSED", 111}, {"EHOSTDOWN", 112},
    {"EHOSTUNREACH", 113}, {"EALREADY", 114}, {"EINPROGRESS", 115},
};

static bool lookup(const named_value *table, size_t n, const char *name, int64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].name, name) == 0) {
            *out = table[i].value;
            return true;
        }
    }
    return false;
}

bool sk_script_constant(const char *name, int64_t *out)
{
    return lookup(constants, sizeof(constants) / sizeof(constants[0]), name, out);
}

bool sk_script_errno_value(const char *name, int *out)
{
    int64_t v;
    if (!lookup(errnos, sizeof(errnos) / sizeof(errnos[0]), name, &v))
        return false;
    *out = (int)v;
    return true;
}

const char *sk_script_errno_text(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (errnos[i].value == err)
            return errnos[i].name;
    return "E?";
}
