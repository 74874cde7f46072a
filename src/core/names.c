/*
 * Names for the public API: TCP state names (as Linux's and ss's) and
 * errno names and texts.
 */
#include "tcb.h"
#include "events.h"

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

const char *const sk_cause_text[SK_CAUSE_COUNT] = {
    [SK_CAUSE_NONE] = "",
    [SK_CAUSE_CONNECT] = "connect()",
    [SK_CAUSE_LISTEN] = "listen()",
    [SK_CAUSE_CLOSE] = "close()",
    [SK_CAUSE_CLOSE_UNREAD_DATA] = "close() with unread data",
    [SK_CAUSE_CLOSE_LINGER_ZERO] = "close() with SO_LINGER 0",
    [SK_CAUSE_CLOSE_LINGER2_NEGATIVE] = "close() with TCP_LINGER2 < 0",
    [SK_CAUSE_SHUTDOWN] = "shutdown()",
    [SK_CAUSE_SHUTDOWN_WR] = "shutdown(SHUT_WR)",
    [SK_CAUSE_DATA_AFTER_CLOSE] = "data after close()",
    [SK_CAUSE_TOO_MANY_ORPHANS] = "too many orphans",
    [SK_CAUSE_ORPHANED] = "orphaned",
    [SK_CAUSE_LISTENER_CLOSED] = "listener closed",
    [SK_CAUSE_ADDRESS_REMOVED] = "address removed",
    [SK_CAUSE_RCV_SYN] = "rcv SYN",
    [SK_CAUSE_RCV_SYN_SIMULTANEOUS] = "rcv SYN (simultaneous open)",
    [SK_CAUSE_RCV_SYN_FASTOPEN] = "rcv SYN (Fast Open)",
    [SK_CAUSE_RCV_SYN_IN_SYN_RECV] = "rcv SYN in SYN_RCVD",
    [SK_CAUSE_RCV_SYNACK] = "rcv SYN,ACK",
    [SK_CAUSE_RCV_ACK] = "rcv ACK",
    [SK_CAUSE_RCV_ACK_SYNCOOKIE] = "rcv ACK (SYN cookie)",
    [SK_CAUSE_RCV_ACK_OF_FIN] = "rcv ACK of FIN",
    [SK_CAUSE_RCV_FIN] = "rcv FIN",
    [SK_CAUSE_RCV_FIN_FASTOPEN_SYN] = "rcv FIN (Fast Open SYN)",
    [SK_CAUSE_RCV_RST] = "rcv RST",
    [SK_CAUSE_RCV_RST_REFUSED] = "rcv RST (connection refused)",
    [SK_CAUSE_ICMP_ERROR_HANDSHAKE] = "ICMP error during the handshake",
    [SK_CAUSE_ICMP_ERROR_SYNACK] = "ICMP error for the SYN-ACK",
    [SK_CAUSE_SYN_RETRIES] = "SYN retries exhausted",
    [SK_CAUSE_SYNACK_RETRIES] = "SYN-ACK retries exhausted",
    [SK_CAUSE_RETRANSMISSIONS] = "retransmissions unanswered",
    [SK_CAUSE_ZERO_WINDOW_PROBES] = "zero-window probes unanswered",
    [SK_CAUSE_KEEPALIVE_PROBES] = "keepalive probes unanswered",
    [SK_CAUSE_USER_TIMEOUT_PROBING] = "TCP_USER_TIMEOUT while probing",
    [SK_CAUSE_ACCEPT_QUEUE_FULL] = "accept queue full (tcp_abort_on_overflow)",
    [SK_CAUSE_TW_BUCKETS_FULL] = "tcp_max_tw_buckets reached",
    [SK_CAUSE_TIMER_EXPIRED] = "timer expired",
};

const char *sk_state_cause_name(sk_state_cause cause)
{
    return (unsigned)cause < SK_CAUSE_COUNT ? sk_cause_text[cause] : "";
}

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
