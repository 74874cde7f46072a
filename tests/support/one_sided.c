/*
 * One-sided tests (see one_sided.h).
 */
#include "one_sided.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK_ONE_PORT 80
#define SK_ONE_PEER_PORT 40000
#define SK_ONE_STEP MSEC(1)

int sk_one_setup(void **state)
{
    sk_fixture *f = sk_test_fixture_new(NULL);
    if (!f)
        return -1;
    sk_test_add_label(f, "p", SK_ONE_PEER_ADDR);
    *state = f;
    return 0;
}

int sk_one_teardown(void **state)
{
    return sk_test_teardown(state);
}

static uint32_t isn_of(const sk_fixture *f, uint32_t src, uint16_t sport, uint32_t dst,
                       uint16_t dport, bool *known)
{
    for (size_t i = 0; i < f->isn_len; i++) {
        const struct sk_isn_entry *e = &f->isns[i];
        if (!e->v6 && e->src == src && e->sport == sport && e->dst == dst && e->dport == dport) {
            *known = true;
            return e->isn;
        }
    }
    *known = false;
    return 0;
}

static void bad_desc(const char *desc, const char *why)
{
    fail_msg("bad peer segment \"%s\": %s", desc, why);
}

void sk_one_send(sk_one *t, const char *desc)
{
    char buf[128];
    if (strlen(desc) >= sizeof buf)
        bad_desc(desc, "too long");
    strcpy(buf, desc);
    char *save = NULL;
    char *tok = strtok_r(buf, " \t", &save);
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    if (!tok || !sk_test_parse_flags(tok, &spec.flags))
        bad_desc(desc, "flags first (tcpdump's letters, \".\" for ACK)");
    uint32_t seq = 1, ack = 0, len = 0, win = SK_ONE_PEER_WINDOW, ts_val = 0, ts_ecr = 0;
    bool abs = false, has_ack = false, sack_ok = false, has_val = false, has_ecr = false;
    while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
        if (strcmp(tok, "abs") == 0) {
            abs = true;
            continue;
        }
        if (strcmp(tok, "sackOK") == 0) {
            sack_ok = true;
            continue;
        }
        char *val = strtok_r(NULL, " \t", &save), *end = NULL;
        if (!val)
            bad_desc(desc, "a field without a value");
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (*end || errno || v > UINT32_MAX)
            bad_desc(desc, "a value that is not a 32-bit number");
        if (strcmp(tok, "seq") == 0)
            seq = (uint32_t)v;
        else if (strcmp(tok, "ack") == 0) {
            ack = (uint32_t)v;
            has_ack = true;
        } else if (strcmp(tok, "len") == 0 && v <= 1400)
            len = (uint32_t)v;
        else if (strcmp(tok, "win") == 0 && v <= UINT16_MAX)
            win = (uint32_t)v;
        else if (strcmp(tok, "val") == 0) {
            ts_val = (uint32_t)v;
            has_val = true;
        } else if (strcmp(tok, "ecr") == 0) {
            ts_ecr = (uint32_t)v;
            has_ecr = true;
        } else
            bad_desc(desc, "fields are seq, ack, win, len (at most 1400), val, ecr, abs and sackOK");
    }
    if (has_ack != ((spec.flags & SK_TH_ACK) != 0))
        bad_desc(desc, "ack N goes with the \".\" flag, and only with it");

    uint32_t saddr = sk_stack_addr(t->s);
    bool mine_known, theirs_known;
    uint32_t mine = isn_of(t->f, SK_ONE_PEER_ADDR, t->peer_port, saddr, t->port, &mine_known);
    uint32_t theirs = isn_of(t->f, saddr, t->port, SK_ONE_PEER_ADDR, t->peer_port, &theirs_known);
    if (!abs && (!mine_known || (has_ack && !theirs_known)))
        bad_desc(desc, "relative numbers before a SYN named the ISN (use abs)");

    if (sack_ok && !(spec.flags & SK_TH_SYN))
        bad_desc(desc, "sackOK goes on a SYN");
    if (has_val != has_ecr)
        bad_desc(desc, "a timestamp option needs both val and ecr");
    /* Options as Linux orders them: MSS, then NOP NOP SACK-permitted, then
     * NOP NOP timestamps (RFC 7323 §3). */
    uint8_t opts[24];
    size_t optlen = 0;
    if (spec.flags & SK_TH_SYN) {
        const uint8_t mss[] = {2, 4, SK_ONE_PEER_MSS >> 8, SK_ONE_PEER_MSS & 0xff};
        memcpy(opts, mss, sizeof mss);
        optlen = sizeof mss;
    }
    if (sack_ok) {
        const uint8_t sack[] = {1, 1, 4, 2};
        memcpy(opts + optlen, sack, sizeof sack);
        optlen += sizeof sack;
    }
    if (has_val) {
        const uint8_t ts[] = {1,
                              1,
                              8,
                              10,
                              (uint8_t)(ts_val >> 24),
                              (uint8_t)(ts_val >> 16),
                              (uint8_t)(ts_val >> 8),
                              (uint8_t)ts_val,
                              (uint8_t)(ts_ecr >> 24),
                              (uint8_t)(ts_ecr >> 16),
                              (uint8_t)(ts_ecr >> 8),
                              (uint8_t)ts_ecr};
        memcpy(opts + optlen, ts, sizeof ts);
        optlen += sizeof ts;
    }
    uint8_t payload[1400];
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    spec.src = SK_ONE_PEER_ADDR;
    spec.dst = saddr;
    spec.sport = t->peer_port;
    spec.dport = t->port;
    spec.seq = abs ? seq : mine + seq;
    spec.ack = abs ? ack : theirs + ack;
    spec.window = (uint16_t)win;
    spec.options = optlen ? opts : NULL;
    spec.options_len = optlen;
    spec.payload = payload;
    spec.payload_len = len;
    sk_test_inject(t->f, &spec);
    sk_test_run_for(t->f, SK_ONE_STEP);
}

int sk_one_state(const sk_one *t)
{
    if (t->fd >= 0 && t->fd == t->lfd)
        return sk_state(t->s, t->fd);
    int st = sk_test_tuple_state(t->s, t->port, SK_ONE_PEER_ADDR, t->peer_port);
    return st ? st : SK_TCP_CLOSE;
}

void sk_one_expect_state(const sk_one *t, int state, const char *file, int line)
{
    int now = sk_one_state(t);
    if (now == state)
        return;
    fprintf(stderr, "%s:%d: the connection is in %s, expected %s\n", file, line,
            sk_test_state_name(now), sk_test_state_name(state));
    sk_test_print_trace(t->f, t->f->cursor);
    sk_test_print_transitions(t->f);
    _fail(file, line);
}

/* The peer learns its ISN before its first segment names it. */
static void peer_isn(sk_one *t)
{
    sk_test_learn_isn(t->f, SK_ONE_PEER_ADDR, t->peer_port, sk_stack_addr(t->s), t->port,
                      SK_ONE_PEER_ISN);
}

/* LISTEN → SYN_RECEIVED → ESTABLISHED, stopping at target. */
static void open_passive(sk_one *t, int target)
{
    sk_fixture *f = t->f;
    t->port = SK_ONE_PORT;
    t->peer_port = SK_ONE_PEER_PORT;
    t->lfd = t->fd = sk_test_listen(f, t->s, t->port, 16);
    EXPECT_ONE_STATE(t, SK_TCP_LISTEN);
    if (target == SK_TCP_LISTEN)
        return;
    peer_isn(t);
    t->fd = -1;
    sk_one_send(t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1");
    EXPECT_ONE_STATE(t, SK_TCP_SYN_RECV);
    if (target == SK_TCP_SYN_RECV)
        return;
    sk_one_send(t, ". seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1");
    sk_endpoint peer;
    t->fd = sk_accept(t->s, t->lfd, &peer);
    assert_true(t->fd >= 0);
    assert_int_equal(peer.addr, SK_ONE_PEER_ADDR);
    assert_int_equal(peer.port, t->peer_port);
    EXPECT_ONE_STATE(t, SK_TCP_ESTABLISHED);
}

/* SYN_SENT → (SYN_RECEIVED by simultaneous open) → ESTABLISHED. */
static void open_active(sk_one *t, int target)
{
    sk_fixture *f = t->f;
    t->peer_port = SK_ONE_PORT;
    t->lfd = -1;
    t->fd = sk_test_connect(f, t->s, SK_ONE_PEER_ADDR, t->peer_port);
    t->port = sk_test_local_port(t->s, t->fd);
    sk_test_run_for(f, SK_ONE_STEP);
    EXPECT_SEGMENTS(f, "s>p S seq 0");
    EXPECT_ONE_STATE(t, SK_TCP_SYN_SENT);
    if (target == SK_TCP_SYN_SENT)
        return;
    peer_isn(t);
    if (target == SK_TCP_SYN_RECV) {
        sk_one_send(t, "S seq 0");
        EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1");
        EXPECT_ONE_STATE(t, SK_TCP_SYN_RECV);
        return;
    }
    sk_one_send(t, "S. seq 0 ack 1");
    EXPECT_SEGMENTS(f, "p>s S. seq 0 ack 1", "s>p . seq 1 ack 1");
    EXPECT_ONE_STATE(t, SK_TCP_ESTABLISHED);
}

sk_one sk_one_open(sk_fixture *f, int state, sk_one_path path)
{
    sk_one t;
    memset(&t, 0, sizeof t);
    t.f = f;
    t.s = f->server;
    t.fd = t.lfd = -1;
    assert_true(path == SK_ONE_PASSIVE || state != SK_TCP_LISTEN);
    assert_true(path == SK_ONE_ACTIVE || state != SK_TCP_SYN_SENT);
    if (path == SK_ONE_PASSIVE)
        open_passive(&t, state);
    else
        open_active(&t, state);
    switch (state) {
    case SK_TCP_LISTEN:
    case SK_TCP_SYN_SENT:
    case SK_TCP_SYN_RECV:
    case SK_TCP_ESTABLISHED:
        break;
    case SK_TCP_FIN_WAIT1:
    case SK_TCP_FIN_WAIT2:
    case SK_TCP_CLOSING:
    case SK_TCP_TIME_WAIT:
        assert_int_equal(sk_shutdown(t.s, t.fd, 1), 0);
        sk_test_run_for(f, SK_ONE_STEP);
        EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 1");
        EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
        if (state == SK_TCP_FIN_WAIT1)
            break;
        if (state == SK_TCP_CLOSING) {
            sk_one_send(&t, "F. seq 1 ack 1");
            EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 2 ack 2");
            EXPECT_ONE_STATE(&t, SK_TCP_CLOSING);
            break;
        }
        sk_one_send(&t, ". seq 1 ack 2");
        EXPECT_SEGMENTS(f, "p>s . seq 1 ack 2");
        EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
        if (state == SK_TCP_FIN_WAIT2)
            break;
        sk_one_send(&t, "F. seq 1 ack 2");
        EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 2", "s>p . seq 2 ack 2");
        EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
        break;
    case SK_TCP_CLOSE_WAIT:
    case SK_TCP_LAST_ACK:
        sk_one_send(&t, "F. seq 1 ack 1");
        EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 1 ack 2");
        EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
        if (state == SK_TCP_CLOSE_WAIT)
            break;
        assert_int_equal(sk_shutdown(t.s, t.fd, 1), 0);
        sk_test_run_for(f, SK_ONE_STEP);
        EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 2");
        EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
        break;
    default:
        fail_msg("sk_one_open: no way to state %d", state);
    }
    EXPECT_NO_MORE_SEGMENTS(f);
    return t;
}
