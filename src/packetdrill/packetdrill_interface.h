/*
 * The function table of packetdrill's shared-object test mode, as synack's
 * libsynack-packetdrill.so fills it.
 *
 * packetdrill (run with --so_filename=PATH --so_flags=FLAGS) dlopen()s the
 * object, calls packetdrill_interface_init(FLAGS, &ifc) and from then on
 * sends every system call of the script, every packet it injects and every
 * read of time through the table instead of the kernel.  The layout is the
 * one packetdrill's packetdrill.h declares: `userdata` first, then the
 * function pointers in the order below, each taking `userdata` first and
 * otherwise the POSIX signature of its namesake.  Socket calls return what
 * POSIX returns (-1 with errno set on failure).
 *
 * Two calls are not POSIX:
 *   netdev_send(ud, buf, count)      injects one IPv4 datagram into the
 *                                    stack; 0, or -1 with errno.
 *   netdev_receive(ud, buf, &count, &time_usecs)
 *                                    on entry *count is buf's size; returns
 *                                    0 with the next datagram the stack
 *                                    sent in buf, its length in *count and
 *                                    in *time_usecs when it was sent, on
 *                                    gettimeofday()'s clock; -1 with errno
 *                                    EAGAIN when none is queued ("nothing
 *                                    yet": packetdrill calls again at once),
 *                                    EMSGSIZE when it does not fit (it
 *                                    stays queued).
 *
 * Time is virtual and moves as packetdrill needs it to (it polls the clock,
 * it sniffs by asking again and again; see shared/reference/
 * packetdrill-so-contract.md):
 *   - gettimeofday() reads it; a read that directly follows a read by the
 *     same thread is a poll and first moves it 1 us;
 *   - usleep() moves it by exactly what is asked;
 *   - netdev_receive() with nothing queued, asked again by the same thread
 *     with nothing else in between, first moves it to the next instant
 *     anything is scheduled (a timer, a blocked call's timeout; 1 ms when
 *     nothing is), so a retransmission appears at exactly its time;
 * each running the stack's timers one deadline at a time.  A call that
 * would block (accept, connect, read, write, poll, epoll_wait... on a
 * blocking fd) made on another thread than the one that called
 * packetdrill_interface_init (packetdrill's system-call thread) sleeps on a
 * condition variable until the other threads' calls or the clock complete
 * it; until it has looked, every other call waits, so it completes at the
 * instant it could, and that thread's first gettimeofday() after it
 * returns reads that instant.  Made on the creating thread, which nothing
 * else would wake, it advances virtual time itself, timer by timer; if no
 * timer is pending and it has no timeout it fails with EDEADLK.
 *
 * Descriptors are open descriptors of the process (each a close-on-exec
 * memfd): packetdrill close(2)s the ones a script leaves open with the
 * operating system's close, which the object takes as the socket's close.
  */
#ifndef SYNACK_PACKETDRILL_INTERFACE_H
#define SYNACK_PACKETDRILL_INTERFACE_H

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

struct packetdrill_interface {
    void *userdata;
    void (*free)(void *userdata);
    int (*socket)(void *userdata, int domain, int type, int protocol);
    int (*bind)(void *userdata, int sockfd, const struct sockaddr *addr, socklen_t addrlen);
    int (*listen)(void *userdata, int sockfd, int backlog);
    int (*accept)(void *userdata, int sockfd, struct sockaddr *addr, socklen_t *addrlen);
    int (*connect)(void *userdata, int sockfd, const struct sockaddr *addr, socklen_t addrlen);
    ssize_t (*read)(void *userdata, int fd, void *buf, size_t count);
    ssize_t (*readv)(void *userdata, int fd, const struct iovec *iov, int iovcnt);
    ssize_t (*recv)(void *userdata, int sockfd, void *buf, size_t len, int flags);
    ssize_t (*recvfrom)(void *userdata, int sockfd, void *buf, size_t len, int flags, struct sockaddr *src_addr,
                        socklen_t *addrlen);
    ssize_t (*recvmsg)(void *userdata, int sockfd, struct msghdr *msg, int flags);
    ssize_t (*write)(void *userdata, int fd, const void *buf, size_t count);
    ssize_t (*writev)(void *userdata, int fd, const struct iovec *iov, int iovcnt);
    ssize_t (*send)(void *userdata, int sockfd, const void *buf, size_t len, int flags);
    ssize_t (*sendto)(void *userdata, int sockfd, const void *buf, size_t len, int flags,
                      const struct sockaddr *dest_addr, socklen_t addrlen);
    ssize_t (*sendmsg)(void *userdata, int sockfd, const struct msghdr *msg, int flags);
    int (*fcntl)(void *userdata, int fd, int cmd, ...);
    int (*ioctl)(void *userdata, int fd, unsigned long request, ...);
    int (*close)(void *userdata, int fd);
    int (*shutdown)(void *userdata, int sockfd, int how);
    int (*getsockopt)(void *userdata, int sockfd, int level, int optname, void *optval, socklen_t *optlen);
    int (*setsockopt)(void *userdata, int sockfd, int level, int optname, const void *optval, socklen_t optlen);
    int (*poll)(void *userdata, struct pollfd *fds, nfds_t nfds, int timeout);
    int (*netdev_send)(void *userdata, const void *buf, size_t count);
    int (*netdev_receive)(void *userdata, void *buf, size_t *count, long long *time_usecs);
    int (*usleep)(void *userdata, useconds_t usec);
    int (*gettimeofday)(void *userdata, struct timeval *tv, void *tz);
    int (*epoll_create)(void *userdata, int size);
    int (*epoll_ctl)(void *userdata, int epfd, int op, int fd, struct epoll_event *event);
    int (*epoll_wait)(void *userdata, int epfd, struct epoll_event *events, int maxevents, int timeout);
    int (*pipe)(void *userdata, int pipefd[2]);
    ssize_t (*splice)(void *userdata, int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
                      unsigned int flags);
};

/* Creates one synack stack in virtual time and fills *ifc.  `flags` (may be
 * NULL or empty) is a list of KEY=VALUE items separated by spaces or commas:
 *   local_ip=A.B.C.D   the stack's address (default 192.168.0.1)
 *   remote_ip=A.B.C.D  the script's address (default 192.0.2.1); the stack
 *                      has no routing table, so this is informational
 *   mtu=N              link MTU (default 1500)
 *   seed=N             seeds ISNs, ports and secrets (default 1)
 *   proc_sys=DIR       where the sysctl tree is read (default /proc/sys;
 *                      empty: read nothing)
 *   net.ipv4.NAME=V    a tunable's value, over what DIR holds; a vector's
 *   net.core.NAME=V    fields are separated by ':' (tcp_rmem=4096:87380:6291456)
 * At every socket() the stack re-reads DIR/net/ipv4/NAME and DIR/net/core/
 * NAME for every tunable synack has (skipping unreadable or unacceptable
 * values), then applies the net.* items of the flags, so a script's
 * `sysctl -w` lines, which packetdrill runs itself, configure synack.
 * A flag that cannot be understood is reported on stderr and ignored. */
void packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc);

#ifdef __cplusplus
}
#endif

#endif
