/*
 * Names for the public API: TCP state names (as Linux's and ss's) and
 * errno names and texts.
 */
#include "tcb.h"

static const char *const state_names[] = {
    [0] = "CLOSED",
    [SK_TCP_ESTABLISHED] = "ESTABLISHED",
    [SK_TCP_SYN_SENT] = "SYN_SENT",
    [SK_TCP_SYN_RECV] = "SYN_RCVD",
    [SK_TCP_FIN_WAIT1] = "FIN_WAIT_1",
    [SK_TCP_FIN_WAIT2] = "FIN_WAIT_2",
    [SK_TCP_TIME_WAIT] = "TIME_WAIT",
    [SK_TCP_CLOSE] = "CLOSED",
    [SK_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
    [SK_TCP_LAST_ACK] = "LAST_ACK",
    [SK_TCP_LISTEN] = "LISTEN",
    [SK_TCP_CLOSING] = "CLOSING",
};

static const char *const ss_names[] = {
    [0] = "UNCONN",
    [SK_TCP_ESTABLISHED] = "ESTAB",
    [SK_TCP_SYN_SENT] = "SYN-SENT",
    [SK_TCP_SYN_RECV] = "SYN-RECV",
    [SK_TCP_FIN_WAIT1] = "FIN-WAIT-1",
    [SK_TCP_FIN_WAIT2] = "FIN-WAIT-2",
    [SK_TCP_TIME_WAIT] = "TIME-WAIT",
    [SK_TCP_CLOSE] = "UNCONN",
    [SK_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
    [SK_TCP_LAST_ACK] = "LAST-ACK",
    [SK_TCP_LISTEN] = "LISTEN",
    [SK_TCP_CLOSING] = "CLOSING",
};

const char *sk_state_name(int state)
{
    if (state < 0 || state > SK_TCP_CLOSING)
        return "UNKNOWN";
    return state_names[state];
}

const char *sk_state_ss_name(int state)
{
    if (state < 0 || state > SK_TCP_CLOSING)
        return "UNKNOWN";
    return ss_names[state];
}


#define SK_ERRNO_LIST(X)                                                      \
    X(EPERM, "Operation not permitted")                                       \
    X(ENOENT, "No such file or directory")                                    \
    X(EINTR, "Interrupted system call")                                       \
    X(EBADF, "Bad file descriptor")                                           \
    X(EAGAIN, "Resource temporarily unavailable")                             \
    X(ENOMEM, "Cannot allocate memory")                                       \
    X(EACCES, "Permission denied")                                            \
    X(EFAULT, "Bad address")                                                  \
    X(EBUSY, "Device or resource busy")                                       \
    X(EEXIST, "File exists")                                                  \
    X(EINVAL, "Invalid argument")                                             \
    X(EMFILE, "Too many open files")                                          \
    X(ENOSPC, "No space left on device")                                      \
    X(EPIPE, "Broken pipe")                                                   \
    X(ENOTSOCK, "Socket operation on non-socket")                             \
    X(EDESTADDRREQ, "Destination address required")                           \
    X(EMSGSIZE, "Message too long")                                           \
    X(EPROTOTYPE, "Protocol wrong type for socket")                           \
    X(ENOPROTOOPT, "Protocol not available")                                  \
    X(EPROTONOSUPPORT, "Protocol not supported")                              \
    X(EOPNOTSUPP, "Operation not supported")                                  \
    X(EAFNOSUPPORT, "Address family not supported by protocol")              \
    X(EADDRINUSE, "Address already in use")                                   \
    X(EADDRNOTAVAIL, "Cannot assign requested address")                       \
    X(ENETDOWN, "Network is down")                                            \
    X(ENETUNREACH, "Network is unreachable")                                  \
    X(ECONNABORTED, "Software caused connection abort")                       \
    X(ECONNRESET, "Connection reset by peer")                                 \
    X(ENOBUFS, "No buffer space available")                                   \
    X(EISCONN, "Transport endpoint is already connected")                     \
    X(ENOTCONN, "Transport endpoint is not connected")                        \
    X(ETIMEDOUT, "Connection timed out")                                      \
    X(ECONNREFUSED, "Connection refused")                                     \
    X(EHOSTUNREACH, "No route to host")                                       \
    X(EALREADY, "Operation already in progress")                              \
    X(EINPROGRESS, "Operation now in progress")

const char *sk_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "Success";
#define SK_ERR_CASE(e, text) \
    if (err == e)            \
        return text;
    SK_ERRNO_LIST(SK_ERR_CASE)
#undef SK_ERR_CASE
    return "Unknown error";
}

const char *sk_errno_name(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "OK";
#define SK_ERR_NAME(e, text) \
    if (err == e)            \
        return #e;
    SK_ERRNO_LIST(SK_ERR_NAME)
#undef SK_ERR_NAME
    return "EUNKNOWN";
}
