/*
 * synack doctor's eyes: sock_diag through libmnl, /proc, sysctls; and its
 * judgement: findings drawn from what Linux exposes.
 */
#include "doctor/doctor.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *skd_state_name(int st)
{
    static const char *const n[SKD_NSTATES] = {
        "UNKNOWN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
        "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECV",
    };
    return st > 0 && st < SKD_NSTATES ? n[st] : "UNKNOWN";
}

static void unseen(skd_snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unseen(skd_snapshot *s, const char *fmt, ...)
{
    if (s->nunseen >= 8)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->unseen[s->nunseen++], sizeof s->unseen[0], fmt, ap);
    va_end(ap);
}

static skd_sock *add_sock(skd_snapshot *s)
{
    if (s->nsocks == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        skd_sock *n = realloc(s->socks, nc * sizeof *n);
        if (!n)
            return NULL;
        s->socks = n;
        s->cap = nc;
    }
    skd_sock *k = &s->socks[s->nsocks++];
    memset(k, 0, sizeof *k);
    k->pid = -1;
    return k;
}

/* ------------------------------------------------------------------ */
/* sock_diag                                                             */
/* ------------------------------------------------------------------ */

static int attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, INET_DIAG_MAX) < 0)
        return MNL_CB_OK;
    tb[type] = attr;
    return MNL_CB_OK;
}

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
    skd_snapshot *s = data;
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return MNL_CB_OK;
    const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
    skd_sock *k = add_sock(s);
    if (!k)
        return MNL_CB_ERROR;
    k->family = m->idiag_family == AF_INET6 ? 6 : 4;
    k->state = m->idiag_state;
    memcpy(k->src, m->id.idiag_src, k->family == 6 ? 16 : 4);
    memcpy(k->dst, m->id.idiag_dst, k->family == 6 ? 16 : 4);
    k->sport = ntohs(m->id.idiag_sport);
    k->dport = ntohs(m->id.idiag_dport);
    k->rq = m->idiag_rqueue;
    k->wq = m->idiag_wqueue;
    k->timer = m->idiag_timer;
    k->retrans = m->idiag_retrans;
    k->expires_ms = m->idiag_expires;
    k->uid = m->idiag_uid;
    k->inode = m->idiag_inode;
    const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof *m, attr_cb, tb);
    if (tb[INET_DIAG_INFO]) {
        struct tcp_info ti;
        memset(&ti, 0, sizeof ti);
        size_t n = mnl_attr_get_payload_len(tb[INET_DIAG_INFO]);
        memcpy(&ti, mnl_attr_get_payload(tb[INET_DIAG_INFO]), n < sizeof ti ? n : sizeof ti);
        k->has_info = true;
        k->last_data_recv_ms = ti.tcpi_last_data_recv;
        k->last_ack_recv_ms = ti.tcpi_last_ack_recv;
        k->last_data_sent_ms = ti.tcpi_last_data_sent;
    }
    return MNL_CB_OK;
}

static int diag_dump(skd_snapshot *s, int family, bool with_info)
{
    struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(nl);
        return -e;
    }
    static char buf[65536];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    uint32_t seq = (uint32_t)time(NULL);
    nlh->nlmsg_seq = seq;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof *req);
    req->sdiag_family = (uint8_t)family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = ~0U;
    if (with_info)
        req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
    uint32_t portid = mnl_socket_get_portid(nl);
    int rc = 0;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        rc = -errno;
    } else {
        ssize_t n;
        while ((n = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
            int r = mnl_cb_run(buf, (size_t)n, seq, portid, diag_cb, s);
            if (r == MNL_CB_ERROR) {
                rc = errno ? -errno : -EIO;
                break;
            }
            if (r == MNL_CB_STOP)
                break;
        }
        if (n < 0)
            rc = -errno;
    }
    mnl_socket_close(nl);
    return rc;
}

/* /proc/net/tcp{,6}: what ss falls back to without netlink. */
static int proc_tcp(skd_snapshot *s, const char *path, int family)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        char la[40], ra[40];
        unsigned lp, rp, st, tr, rt;
        unsigned long tx, rx, tlen, uid;
        unsigned long long inode;
        if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %lx:%lx %x:%lx %x %lu %*d %llu", la, &lp,
                   ra, &rp, &st, &tx, &rx, &tr, &tlen, &rt, &uid, &inode) != 12)
            continue;
        skd_sock *k = add_sock(s);
        if (!k)
            break;
        k->family = (uint8_t)family;
        k->state = (uint8_t)st;
        k->sport = (uint16_t)lp;
        k->dport = (uint16_t)rp;
        /* The kernel prints each 32-bit word in host order. */
        for (int w = 0; w < (family == 6 ? 4 : 1); w++) {
            unsigned x, y;
            char t[9];
            memcpy(t, la + 8 * w, 8);
            t[8] = 0;
            x = (unsigned)strtoul(t, NULL, 16);
            memcpy(t, ra + 8 * w, 8);
            y = (unsigned)strtoul(t, NULL, 16);
            memcpy(k->src + 4 * w, &x, 4);
            memcpy(k->dst + 4 * w, &y, 4);
        }
        k->rq = (uint32_t)rx;
        k->wq = (uint32_t)tx;
        k->timer = (uint8_t)tr;
        k->retrans = (uint8_t)rt;
        k->uid = (uint32_t)uid;
        k->inode = inode;
    }
    fclose(f);
    return 0;
}

int skd_read_sockets(skd_snapshot *s, bool with_info)
{
    s->nsocks = 0;
    int r4 = s->force_proc ? -EPERM : diag_dump(s, AF_INET, with_info);
    int r6 = r4 == 0 ? diag_dump(s, AF_INET6, with_info) : r4;
    if (r4 == 0 && r6 == 0) {
        s->source = "sock_diag";
        return 0;
    }
    s->nsocks = 0;
    if (!s->nunseen || strncmp(s->unseen[0], "sock_diag", 9))
        unseen(s, "sock_diag netlink %s (%s): socket table from /proc/net/tcp{,6}, without idle times",
               s->force_proc ? "not used" : "refused", s->force_proc ? "--proc" : strerror(-(r4 ? r4 : r6)));
    int a = proc_tcp(s, "/proc/net/tcp", 4);
    int b = proc_tcp(s, "/proc/net/tcp6", 6);
    s->source = "/proc/net/tcp";
    return (a < 0 && b < 0) ? a : 0;
}

/* ------------------------------------------------------------------ */
/* Owners                                                                */
/* ------------------------------------------------------------------ */

static int cmp_inode(const void *a, const void *b)
{
    const skd_sock *x = a, *y = b;
    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static void find_owners(skd_snapshot *s)
{
    if (!s->nsocks)
        return;
    /* Sorted by inode for bsearch; the table's order does not matter. */
    qsort(s->socks, s->nsocks, sizeof *s->socks, cmp_inode);
    DIR *d = opendir("/proc");
    if (!d) {
        unseen(s, "/proc unreadable: no owning processes");
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/fd", pid);
        DIR *fd = opendir(path);
        if (!fd) {
            /* ENOENT: the process exited meanwhile. */
            if (errno == EACCES || errno == EPERM)
                s->fds_unreadable_pids++;
            continue;
        }
        bool any = false;
        struct dirent *f;
        while ((f = readdir(fd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            char lp[320], tgt[64];
            snprintf(lp, sizeof lp, "/proc/%ld/fd/%s", pid, f->d_name);
            ssize_t n = readlink(lp, tgt, sizeof tgt - 1);
            if (n <= 8)
                continue;
            tgt[n] = 0;
            unsigned long long ino;
            if (sscanf(tgt, "socket:[%llu]", &ino) != 1)
                continue;
            skd_sock key = {.inode = ino};
            skd_sock *k = bsearch(&key, s->socks, s->nsocks, sizeof *s->socks, cmp_inode);
            if (!k)
                continue;
            /* Several sockets may share inode 0 (TIME-WAIT): skip those. */
            if (!ino)
                continue;
            k->pid = (int)pid;
            s->owners_found++;
            any = true;
        }
        closedir(fd);
        if (any) {
            skd_proc *np = realloc(s->procs, (s->nprocs + 1) * sizeof *np);
            if (!np)
                continue;
            s->procs = np;
            skd_proc *p = &s->procs[s->nprocs++];
            p->pid = (int)pid;
            snprintf(path, sizeof path, "/proc/%ld/comm", pid);
            FILE *c = fopen(path, "r");
            p->comm[0] = 0;
            if (c) {
                if (fgets(p->comm, sizeof p->comm, c))
                    p->comm[strcspn(p->comm, "\n")] = 0;
                fclose(c);
            }
        }
    }
    closedir(d);
    if (s->fds_unreadable_pids)
        unseen(s, "the file descriptors of %llu processes (not ours; run as root to see every socket's owner)",
               (unsigned long long)s->fds_unreadable_pids);
}

static const char *skd_owner(const skd_snapshot *s, int pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid)
            return s->procs[i].comm;
    return "?";
}

/* ------------------------------------------------------------------ */
/* Counters and sysctls                                                  */
/* ------------------------------------------------------------------ */

static skd_counter *ctr_find(skd_snapshot *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->nctr; i++)
        if (!strcmp(s->ctr[i].name, name))
            return &s->ctr[i];
    if (!create)
        return NULL;
    skd_counter *n = realloc(s->ctr, (s->nctr + 1) * sizeof *n);
    if (!n)
        return NULL;
    s->ctr = n;
    skd_counter *c = &s->ctr[s->nctr++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

/* /proc/net/netstat and /proc/net/snmp hold pairs of lines, "Prefix: names"
 * then "Prefix: values"; nstat names a counter Prefix+Name. */
static int read_pairs(skd_snapshot *s, const char *path, bool second)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    static char names[8192], vals[8192];
    while (fgets(names, sizeof names, f) && fgets(vals, sizeof vals, f)) {
        char *pn = strchr(names, ':'), *pv = strchr(vals, ':');
        if (!pn || !pv)
            continue;
        *pn = 0;
        const char *prefix = names;
        if (strcmp(prefix, "TcpExt") && strcmp(prefix, "Tcp") && strcmp(prefix, "IpExt") && strcmp(prefix, "Ip"))
            continue;
        char *sn, *sv;
        char *tn = strtok_r(pn + 1, " \n", &sn);
        char *tv = strtok_r(pv + 1, " \n", &sv);
        while (tn && tv) {
            char full[48];
            snprintf(full, sizeof full, "%.8s%.39s", prefix, tn);
            skd_counter *c = ctr_find(s, full, true);
            if (c) {
                uint64_t v = strtoull(tv, NULL, 10);
                if (second)
                    c->v1 = v;
                else
                    c->v0 = c->v1 = v;
            }
            tn = strtok_r(NULL, " \n", &sn);
            tv = strtok_r(NULL, " \n", &sv);
        }
    }
    fclose(f);
    return 0;
}

int skd_read_counters(skd_snapshot *s, bool second)
{
    int a = read_pairs(s, "/proc/net/netstat", second);
    int b = read_pairs(s, "/proc/net/snmp", second);
    return a < 0 && b < 0 ? a : 0;
}

uint64_t skd_ctr(const skd_snapshot *s, const char *name, bool second)
{
    for (size_t i = 0; i < s->nctr; i++)
        if (!strcmp(s->ctr[i].name, name))
            return second ? s->ctr[i].v1 : s->ctr[i].v0;
    return 0;
}

uint64_t skd_delta(const skd_snapshot *s, const char *name)
{
    uint64_t a = skd_ctr(s, name, false), b = skd_ctr(s, name, true);
    return b > a ? b - a : 0;
}

static long sysctl_long(skd_snapshot *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        unseen(s, "%s unreadable", path);
        return -1;
    }
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static void read_sysctls(skd_snapshot *s)
{
    s->max_tw_buckets = sysctl_long(s, "/proc/sys/net/ipv4/tcp_max_tw_buckets");
    s->syncookies = sysctl_long(s, "/proc/sys/net/ipv4/tcp_syncookies");
    s->max_syn_backlog = sysctl_long(s, "/proc/sys/net/ipv4/tcp_max_syn_backlog");
    s->somaxconn = sysctl_long(s, "/proc/sys/net/core/somaxconn");
    s->tw_reuse = sysctl_long(s, "/proc/sys/net/ipv4/tcp_tw_reuse");
    s->max_orphans = sysctl_long(s, "/proc/sys/net/ipv4/tcp_max_orphans");
    s->fin_timeout = sysctl_long(s, "/proc/sys/net/ipv4/tcp_fin_timeout");
    s->abort_on_overflow = sysctl_long(s, "/proc/sys/net/ipv4/tcp_abort_on_overflow");
    s->port_lo = s->port_hi = -1;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &s->port_lo, &s->port_hi) != 2)
            s->port_lo = s->port_hi = -1;
        fclose(f);
    } else {
        unseen(s, "/proc/sys/net/ipv4/ip_local_port_range unreadable");
    }
    s->sockstat_orphan = s->sockstat_tw = -1;
    f = fopen("/proc/net/sockstat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "TCP: inuse %*d orphan %ld tw %ld", &s->sockstat_orphan, &s->sockstat_tw) == 2)
                break;
        fclose(f);
    }
}

void skd_snapshot_begin(skd_snapshot *s, bool force_proc)
{
    memset(s, 0, sizeof *s);
    s->force_proc = force_proc;
    if (skd_read_counters(s, false) < 0)
        unseen(s, "/proc/net/netstat and /proc/net/snmp unreadable: no counters");
}

int skd_snapshot_finish(skd_snapshot *s, bool owners, double interval_s, char *err, size_t errlen)
{
    s->interval_s = interval_s;
    skd_read_counters(s, true);
    if (skd_read_sockets(s, true) < 0) {
        snprintf(err, errlen, "neither sock_diag nor /proc/net/tcp could be read");
        return -1;
    }
    if (owners)
        find_owners(s);
    read_sysctls(s);
    return 0;
}

void skd_snapshot_free(skd_snapshot *s)
{
    free(s->socks);
    free(s->ctr);
    free(s->procs);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ */
/* Diagnosis                                                             */
/* ------------------------------------------------------------------ */

static void fmt_ep(const uint8_t *a, uint16_t port, int family, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, ip, sizeof ip);
    if (family == 6)
        snprintf(buf, cap, "[%s]:%u", ip, port);
    else
        snprintf(buf, cap, "%s:%u", ip, port);
}

static skd_finding *add(skd_finding *out, int *n, int max, const char *id, skd_severity sev)
{
    if (*n >= max)
        return NULL;
    skd_finding *f = &out[(*n)++];
    memset(f, 0, sizeof *f);
    f->id = id;
    f->severity = sev;
    return f;
}

static void ev(skd_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev(skd_finding *f, const char *fmt, ...)
{
    if (f->nev >= SKD_EVIDENCE_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->evidence[f->nev++], sizeof f->evidence[0], fmt, ap);
    va_end(ap);
}

static double rate(const skd_snapshot *s, const char *name)
{
    return s->interval_s > 0 ? (double)skd_delta(s, name) / s->interval_s : 0;
}

typedef struct pidtally {
    int pid;
    uint32_t count, old;
    uint32_t max_idle_ms;
    char example[140];
} pidtally;

typedef struct dsttally {
    uint8_t family;
    uint8_t addr[16];
    uint16_t port;
    uint32_t count, tw;
} dsttally;

int skd_diagnose(const skd_snapshot *s, const skd_options *o, skd_finding *out, int max)
{
    int n = 0;
    uint64_t st[SKD_NSTATES] = {0};
    for (size_t i = 0; i < s->nsocks; i++)
        if (s->socks[i].state < SKD_NSTATES)
            st[s->socks[i].state]++;

    /* close-wait, per process */
    pidtally pt[64];
    int npt = 0;
    for (size_t i = 0; i < s->nsocks; i++) {
        const skd_sock *k = &s->socks[i];
        if (k->state != SKD_CLOSE_WAIT)
            continue;
        int j;
        for (j = 0; j < npt && pt[j].pid != k->pid; j++)
            ;
        if (j == npt) {
            if (npt == 64)
                continue;
            memset(&pt[npt], 0, sizeof pt[npt]);
            pt[npt].pid = k->pid;
            char a[64], b[64];
            fmt_ep(k->src, k->sport, k->family, a, sizeof a);
            fmt_ep(k->dst, k->dport, k->family, b, sizeof b);
            snprintf(pt[npt].example, sizeof pt[npt].example, "%s <- %s", a, b);
            npt++;
        }
        pt[j].count++;
        /* Nothing received since the peer's FIN: the last ACK received
         * bounds how long the socket has sat in CLOSE-WAIT. */
        uint32_t idle = k->has_info ? k->last_ack_recv_ms : 0;
        if (idle > pt[j].max_idle_ms)
            pt[j].max_idle_ms = idle;
        if (k->has_info && idle >= (uint32_t)(o->close_wait_secs * 1000))
            pt[j].old++;
    }
    skd_finding *f = NULL;
    for (int j = 0; j < npt; j++) {
        if (!pt[j].old && pt[j].count < o->close_wait_many)
            continue;
        if (!f) {
            f = add(out, &n, max, "close-wait", SKD_WARNING);
            if (!f)
                break;
        }
        f->count += pt[j].count;
        ev(f, "%s (pid %d): %u socket%s in CLOSE-WAIT, %u idle for %.0f s or more, the oldest idle %.1f s (e.g. %s)",
           pt[j].pid >= 0 ? skd_owner(s, pt[j].pid) : "unknown process", pt[j].pid, pt[j].count,
           pt[j].count == 1 ? "" : "s", pt[j].old, o->close_wait_secs, pt[j].max_idle_ms / 1000.0, pt[j].example);
    }
    if (f) {
        snprintf(f->summary, sizeof f->summary,
                 "%llu socket%s in CLOSE-WAIT: the peer closed and the application has not", (unsigned long long)f->count,
                 f->count == 1 ? "" : "s");
        snprintf(f->fix, sizeof f->fix,
                 "the process saw EOF (read() returned 0) or an error and never called close(); Linux keeps "
                 "CLOSE-WAIT forever, holding the descriptor and the port: fix the application's close path "
                 "(every error path too); `ss -tanp state close-wait` lists them, restarting the process frees them");
    }

    /* TIME-WAIT */
    uint64_t tw = st[SKD_TIME_WAIT];
    uint64_t two = skd_delta(s, "TcpExtTCPTimeWaitOverflow");
    if (s->max_tw_buckets > 0 && (tw >= (uint64_t)s->max_tw_buckets || two > 0)) {
        f = add(out, &n, max, "time-wait-overflow", SKD_CRITICAL);
        if (f) {
            f->count = tw;
            ev(f, "%llu sockets in TIME-WAIT, net.ipv4.tcp_max_tw_buckets = %ld", (unsigned long long)tw,
               s->max_tw_buckets);
            ev(f, "TcpExtTCPTimeWaitOverflow %llu (+%llu in %.1f s)",
               (unsigned long long)skd_ctr(s, "TcpExtTCPTimeWaitOverflow", true), (unsigned long long)two,
               s->interval_s);
            snprintf(f->summary, sizeof f->summary,
                     "TIME-WAIT at its limit: new closing connections skip TIME-WAIT (\"TCP: time wait bucket "
                     "table overflow\"), so delayed segments of old connections can corrupt new ones");
            snprintf(f->fix, sizeof f->fix,
                     "raise net.ipv4.tcp_max_tw_buckets (the default scales with memory, 262144 on most hosts), and "
                     "cut the churn: reuse connections (keep-alive, pools); on clients net.ipv4.tcp_tw_reuse=1 lets "
                     "outgoing connections reuse TIME-WAIT ports safely (timestamps)");
        }
    } else if (s->max_tw_buckets > 0 && tw >= 1000 && tw * 2 >= (uint64_t)s->max_tw_buckets) {
        f = add(out, &n, max, "time-wait-high", SKD_WARNING);
        if (f) {
            f->count = tw;
            ev(f, "%llu sockets in TIME-WAIT, net.ipv4.tcp_max_tw_buckets = %ld", (unsigned long long)tw,
               s->max_tw_buckets);
            snprintf(f->summary, sizeof f->summary, "TIME-WAIT above half of tcp_max_tw_buckets");
            snprintf(f->fix, sizeof f->fix,
                     "connections are opened and closed at a high rate and this side closes first: reuse "
                     "connections; net.ipv4.tcp_tw_reuse=1 on clients; raise net.ipv4.tcp_max_tw_buckets");
        }
    }

    /* Listeners: the accept queue now, and the counters. */
    uint64_t lo = skd_delta(s, "TcpExtListenOverflows"), ld = skd_delta(s, "TcpExtListenDrops");
    skd_finding *lf = NULL;
    for (size_t i = 0; i < s->nsocks; i++) {
        const skd_sock *k = &s->socks[i];
        if (k->state != SKD_LISTEN || !k->rq || k->rq <= k->wq)
            continue;
        if (!lf)
            lf = add(out, &n, max, "listen-overflow", SKD_CRITICAL);
        if (!lf)
            break;
        lf->count++;
        char a[64];
        fmt_ep(k->src, k->sport, k->family, a, sizeof a);
        ev(lf, "listener %s%s%s%s: accept queue full, %u waiting for accept() with a backlog of %u", a,
           k->pid >= 0 ? " (" : "", k->pid >= 0 ? skd_owner(s, k->pid) : "", k->pid >= 0 ? ")" : "", k->rq, k->wq);
    }
    /* ListenDrops also counts SYNs dropped because the SYN queue (not the
     * accept queue) is full (TCPReqQFullDrop): those belong to syn-flood. */
    if (lo) {
        if (!lf)
            lf = add(out, &n, max, "listen-overflow", SKD_WARNING);
        if (lf)
            ev(lf, "TcpExtListenOverflows +%llu, TcpExtListenDrops +%llu in %.1f s", (unsigned long long)lo,
               (unsigned long long)ld, s->interval_s);
    }
    if (lf) {
        if (!lf->count)
            lf->count = lo + ld;
        snprintf(lf->summary, sizeof lf->summary,
                 "accept queue full: completed handshakes are dropped (the client's ACK ignored, the SYN-ACK "
                 "resent) and new SYNs too");
        snprintf(lf->fix, sizeof lf->fix,
                 "the application does not accept() fast enough: accept in a loop or more threads; raise the "
                 "listen() backlog and net.core.somaxconn (%ld now, it caps the backlog)%s",
                 s->somaxconn,
                 s->abort_on_overflow == 1 ? "; tcp_abort_on_overflow=1 makes clients see resets" : "");
    }

    /* SYN_RECV: per listener port, against its backlog. */
    uint64_t cookies = skd_delta(s, "TcpExtSyncookiesSent");
    uint64_t qfull_drop = skd_delta(s, "TcpExtTCPReqQFullDrop"), qfull_ck = skd_delta(s, "TcpExtTCPReqQFullDoCookies");
    uint64_t synrecv = st[SKD_SYN_RECV] + st[SKD_NEW_SYN_RECV];
    bool flood = false;
    skd_finding *sf = NULL;
    for (size_t i = 0; i < s->nsocks; i++) {
        const skd_sock *l = &s->socks[i];
        if (l->state != SKD_LISTEN)
            continue;
        uint32_t half = 0;
        for (size_t j = 0; j < s->nsocks; j++) {
            const skd_sock *k = &s->socks[j];
            if ((k->state == SKD_SYN_RECV || k->state == SKD_NEW_SYN_RECV) && k->sport == l->sport &&
                k->family == l->family)
                half++;
        }
        if (half && half >= (l->wq ? l->wq : 1) && half >= 8) {
            if (!sf)
                sf = add(out, &n, max, "syn-flood", SKD_CRITICAL);
            if (!sf)
                break;
            sf->count += half;
            flood = true;
            char a[64];
            fmt_ep(l->src, l->sport, l->family, a, sizeof a);
            ev(sf, "listener %s: %u connections in SYN-RECV, backlog %u (the SYN queue is full)", a, half, l->wq);
        }
    }
    if (cookies || qfull_drop || qfull_ck) {
        if (!sf)
            sf = add(out, &n, max, "syn-flood", SKD_CRITICAL);
        if (sf) {
            flood = true;
            if (!sf->count)
                sf->count = synrecv;
            ev(sf, "TcpExtSyncookiesSent +%llu, TcpExtTCPReqQFullDoCookies +%llu, TcpExtTCPReqQFullDrop +%llu in %.1f s",
               (unsigned long long)cookies, (unsigned long long)qfull_ck, (unsigned long long)qfull_drop,
               s->interval_s);
        }
    }
    if (sf) {
        snprintf(sf->summary, sizeof sf->summary,
                 "%llu half-open connections (SYN-RECV): a SYN flood, or clients whose final ACK never arrives",
                 (unsigned long long)synrecv);
        snprintf(sf->fix, sizeof sf->fix,
                 "keep net.ipv4.tcp_syncookies=1 (now %ld) so that a full SYN queue answers with cookies instead of "
                 "dropping; raise the listen() backlog, net.core.somaxconn and net.ipv4.tcp_max_syn_backlog (%ld); "
                 "lower net.ipv4.tcp_synack_retries to free the queue sooner; filter the sources upstream",
                 s->syncookies, s->max_syn_backlog);
    }
    if (flood && s->syncookies == 0) {
        f = add(out, &n, max, "syncookies-disabled-under-flood", SKD_CRITICAL);
        if (f) {
            f->count = qfull_drop ? qfull_drop : synrecv;
            ev(f, "net.ipv4.tcp_syncookies = 0 while the SYN queue is full; TcpExtTCPReqQFullDrop +%llu, "
                  "TcpExtListenDrops +%llu in %.1f s",
               (unsigned long long)qfull_drop, (unsigned long long)ld, s->interval_s);
            snprintf(f->summary, sizeof f->summary,
                     "SYN cookies are disabled during a SYN flood: legitimate clients' SYNs are dropped");
            snprintf(f->fix, sizeof f->fix, "sysctl -w net.ipv4.tcp_syncookies=1 (Linux's default)");
        }
    }

    /* Ephemeral ports per destination. */
    if (s->port_lo > 0 && s->port_hi >= s->port_lo) {
        long range = s->port_hi - s->port_lo + 1;
        dsttally *dt = calloc(256, sizeof *dt);
        int ndt = 0;
        for (size_t i = 0; dt && i < s->nsocks; i++) {
            const skd_sock *k = &s->socks[i];
            if (k->state == SKD_LISTEN || k->state == SKD_CLOSE || !k->dport || k->sport < s->port_lo ||
                k->sport > s->port_hi)
                continue;
            int j;
            size_t al = k->family == 6 ? 16 : 4;
            for (j = 0; j < ndt; j++)
                if (dt[j].family == k->family && dt[j].port == k->dport && !memcmp(dt[j].addr, k->dst, al))
                    break;
            if (j == ndt) {
                if (ndt == 256)
                    continue;
                dt[j].family = k->family;
                memcpy(dt[j].addr, k->dst, al);
                dt[j].port = k->dport;
                ndt++;
            }
            dt[j].count++;
            if (k->state == SKD_TIME_WAIT)
                dt[j].tw++;
        }
        f = NULL;
        for (int j = 0; j < ndt; j++) {
            if ((long)dt[j].count * 10 < range * 8)
                continue;
            if (!f)
                f = add(out, &n, max, "ephemeral-ports-exhausted", SKD_CRITICAL);
            if (!f)
                break;
            f->count += dt[j].count;
            char a[64];
            fmt_ep(dt[j].addr, dt[j].port, dt[j].family, a, sizeof a);
            ev(f, "%u local ports of %ld (ip_local_port_range %ld-%ld) in use towards %s, %u of them in TIME-WAIT",
               dt[j].count, range, s->port_lo, s->port_hi, a, dt[j].tw);
        }
        if (f) {
            snprintf(f->summary, sizeof f->summary,
                     "a destination uses most of the ephemeral port range: connect() will fail with EADDRNOTAVAIL");
            snprintf(f->fix, sizeof f->fix,
                     "reuse connections (pools, keep-alive); widen net.ipv4.ip_local_port_range; "
                     "net.ipv4.tcp_tw_reuse=1 (now %ld) lets connect() reuse TIME-WAIT ports; more destination "
                     "addresses or ports spread the 4-tuples; IP_BIND_ADDRESS_NO_PORT for bind()-before-connect()",
                     s->tw_reuse);
        }
        free(dt);
    }

    /* Orphans. */
    if (s->sockstat_orphan >= 0 && s->max_orphans > 0 &&
        (s->sockstat_orphan * 2 >= s->max_orphans || skd_delta(s, "TcpExtTCPAbortOnMemory") > 0)) {
        f = add(out, &n, max, "orphans-high", SKD_WARNING);
        if (f) {
            f->count = (uint64_t)s->sockstat_orphan;
            ev(f, "%ld orphaned sockets (closed by their process, still closing), net.ipv4.tcp_max_orphans = %ld; "
                  "TcpExtTCPAbortOnMemory +%llu",
               s->sockstat_orphan, s->max_orphans, (unsigned long long)skd_delta(s, "TcpExtTCPAbortOnMemory"));
            snprintf(f->summary, sizeof f->summary, "many orphaned sockets: past tcp_max_orphans Linux resets them");
            snprintf(f->fix, sizeof f->fix,
                     "peers that never acknowledge the FIN, or unread data: lower net.ipv4.tcp_fin_timeout (%ld) and "
                     "net.ipv4.tcp_orphan_retries; raise tcp_max_orphans if memory allows",
                     s->fin_timeout);
        }
    }

    /* Rates. */
    /* SYN and SYN-ACK retransmissions (TCPSynRetrans) are the handshake's,
     * a SYN flood's in particular: only the rest says the path loses data. */
    uint64_t out_segs = skd_delta(s, "TcpOutSegs"), rtx = skd_delta(s, "TcpRetransSegs");
    uint64_t synrtx = skd_delta(s, "TcpExtTCPSynRetrans");
    rtx = rtx > synrtx ? rtx - synrtx : 0;
    if (out_segs >= 100 && rtx * 100 >= out_segs) {
        f = add(out, &n, max, "retransmissions-high", SKD_WARNING);
        if (f) {
            f->count = rtx;
            ev(f, "TcpRetransSegs - TcpExtTCPSynRetrans = +%llu of TcpOutSegs +%llu (%.1f%%) in %.1f s; "
                  "TcpExtTCPTimeouts +%llu, TcpExtTCPLostRetransmit +%llu",
               (unsigned long long)rtx, (unsigned long long)out_segs, 100.0 * (double)rtx / (double)out_segs,
               s->interval_s, (unsigned long long)skd_delta(s, "TcpExtTCPTimeouts"),
               (unsigned long long)skd_delta(s, "TcpExtTCPLostRetransmit"));
            snprintf(f->summary, sizeof f->summary, "more than 1%% of segments sent are retransmissions");
            snprintf(f->fix, sizeof f->fix,
                     "loss on the path or at the NIC: `ip -s link` and `tc -s qdisc` drops, `ss -ti` per-connection "
                     "retrans and rtt to find the peers concerned, then capture one (`synack analyze`)");
        }
    }
    double rst = rate(s, "TcpOutRsts");
    if (rst >= 10 || rate(s, "TcpEstabResets") >= 10) {
        f = add(out, &n, max, "resets-high", SKD_WARNING);
        if (f) {
            f->count = skd_delta(s, "TcpOutRsts");
            ev(f, "TcpOutRsts %.1f/s, TcpEstabResets %.1f/s, TcpAttemptFails %.1f/s, TcpExtTCPAbortOnData %.1f/s, "
                  "TcpExtTCPAbortOnClose %.1f/s",
               rst, rate(s, "TcpEstabResets"), rate(s, "TcpAttemptFails"), rate(s, "TcpExtTCPAbortOnData"),
               rate(s, "TcpExtTCPAbortOnClose"));
            snprintf(f->summary, sizeof f->summary, "resets at a high rate");
            snprintf(f->fix, sizeof f->fix,
                     "TcpExtTCPAbortOnClose: applications closing with unread data or SO_LINGER 0; AbortOnData: "
                     "data after close; OutRsts with AttemptFails: connections to closed ports (scans, dead "
                     "backends); capture a few (`synack analyze`) to see which");
        }
    }
    return n;
}
