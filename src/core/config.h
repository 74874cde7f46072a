/*
 * Stack-wide tunables, named and defaulted exactly like Linux's sysctls
 * (Documentation/networking/ip-sysctl.rst), settable by name with
 * validation.
 */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_config {
    int tcp_fin_timeout;        /* s, orphaned FIN_WAIT_2 lifetime (60)        */
    int tcp_tw_reuse;           /* 0 off, 1 on, 2 loopback only (2)            */
    int tcp_tw_reuse_delay;     /* ms a TIME_WAIT must age before reuse (1000) */
    int tcp_max_tw_buckets;     /* (131072)                                     */
    int tcp_max_syn_backlog;    /* (2048)                                       */
    int somaxconn;              /* net.core.somaxconn (4096)                    */
    int tcp_syn_retries;        /* (6)                                          */
    int tcp_synack_retries;     /* (5)                                          */
    int tcp_keepalive_time;     /* s (7200)                                     */
    int tcp_keepalive_intvl;    /* s (75)                                       */
    int tcp_keepalive_probes;   /* (9)                                          */
    int ip_local_port_range[2]; /* (32768 60999)                                */
    int tcp_timestamps;         /* (1)                                          */
    int tcp_sack;               /* (1)                                          */
    int tcp_dsack;              /* (1)                                          */
    int tcp_window_scaling;     /* (1)                                          */
    int tcp_abort_on_overflow;  /* (0)                                          */
    int tcp_rmem[3];            /* (4096 131072 33554432)                       */
    int tcp_wmem[3];            /* (4096 16384 4194304)                         */
    int tcp_syncookies;         /* 0, 1, 2 (1)                                  */
    int tcp_retries1;           /* (3)                                          */
    int tcp_retries2;           /* (15)                                         */
    int tcp_orphan_retries;     /* (0, meaning 8 as in Linux)                   */
    int tcp_max_orphans;        /* (131072)                                     */
    int tcp_rfc1337;            /* (0)                                          */
    int tcp_challenge_ack_limit;/* per second (2147483647)                      */
    int tcp_invalid_ratelimit;  /* ms between ACKs to invalid segments (500)     */
    int tcp_rto_min_us;         /* (200000)                                     */
    int tcp_rto_max_ms;         /* (120000)                                     */
    int tcp_adv_win_scale;      /* (1)                                          */
    int tcp_app_win;            /* (31)                                         */
    int tcp_slow_start_after_idle; /* (1)                                       */
    int tcp_notsent_lowat;      /* (-1 printed as 4294967295: unlimited)        */
    int tcp_ecn;                /* (2: accept but do not request)               */
    int tcp_reordering;         /* (3)                                          */
    int tcp_moderate_rcvbuf;    /* (1)                                          */
    int tcp_base_mss;           /* (1024)                                       */
    int tcp_min_snd_mss;        /* (48)                                         */
    int tcp_mtu_probing;        /* (0)                                          */
    int tcp_autocorking;        /* (1)                                          */
    int tcp_min_tso_segs;       /* (2) fewest segments a TSO packet is sized to */
    int tcp_tso_win_divisor;    /* (3) part of the window TSO deferral may wait for */
    /* ICMP and path MTU (icmp.c, pmtu.c) */
    int icmp_echo_ignore_all;   /* (0)                                          */
    int icmp_ratelimit;         /* ms between rate-limited ICMPs per host (1000) */
    int icmp_ratemask;          /* types rate-limited, bit per type (0x1818)    */
    int icmp_msgs_per_sec;      /* global token bucket refill (1000)            */
    int icmp_msgs_burst;        /* global token bucket depth (50)               */
    int ip_no_pmtu_disc;        /* 0..3 (0)                                     */
    int route_min_pmtu;         /* net.ipv4.route.min_pmtu (552)                */
    int route_mtu_expires;      /* net.ipv4.route.mtu_expires, s (600)          */
    int tcp_probe_threshold;    /* (8)                                          */
    int tcp_probe_interval;     /* s (600)                                      */
    int tcp_mtu_probe_floor;    /* (48)                                         */
    int tcp_delack_min_ms;      /* synack extension mirror of TCP_DELACK_MIN (40) */
    int ipv6_auto_flowlabels;   /* net.ipv6.auto_flowlabels (1)                 */
    int ipv6_bindv6only;        /* net.ipv6.bindv6only (0): IPV6_V6ONLY's default */
    char tcp_congestion_control[16]; /* "cubic" (default) or "reno" */
    /* TCP Fast Open (RFC 7413), Linux's bits: 1 client, 2 server, 4 client
     * without cookie, 0x200 server without cookie, 0x400 every listener
     * without TCP_FASTOPEN (1) */
    int tcp_fastopen;
    int tcp_fastopen_blackhole_timeout_sec; /* (0: detection off, Linux >= 5.14) */
    /* tcp_fastopen_key: primary and optional backup SipHash keys, as the
     * bytes Linux keeps (each printed word is little-endian); 0 keys until
     * set or first needed (Linux's tcp_fastopen_init_key_once). */
    int tcp_fastopen_key_count;
    uint8_t tcp_fastopen_key[2][16];
} sk_config;

void sk_config_defaults(sk_config *c);
/* name is the full sysctl name ("net.ipv4.tcp_fin_timeout"; the slash
 * form "net/ipv4/tcp_fin_timeout" is accepted too).  Returns 0, -ENOENT
 * for an unknown name or -EINVAL for a bad value, with a message in err
 * that names the tunable and says why. */
int sk_config_set(sk_config *c, const char *name, const char *value, char *err, size_t errlen);
int sk_config_get(const sk_config *c, const char *name, char *buf, size_t len);
const char *sk_config_name(size_t i);

#endif
