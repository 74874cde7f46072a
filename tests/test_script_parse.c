/*
 * The packetdrill script parser: every conformance script named in the
 * tier lists parses, and representative lines give exact syntax trees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "script/script.h"
#include "synack/packet.h"

#ifndef SYNACK_SOURCE_DIR
#define SYNACK_SOURCE_DIR "."
#endif

static sk_script *parse_text(const char *text, char *err, size_t errlen)
{
    return sk_script_parse("t.pkt", text, strlen(text), err, errlen);
}

static sk_script *must_parse(const char *text)
{
    char err[512];
    sk_script *s = parse_text(text, err, sizeof(err));
    if (!s)
        fail_msg("parse failed: %s", err);
    return s;
}

static void shared_dir(char *buf, size_t cap)
{
    const char *env = getenv("SYNACK_SHARED_DIR");
    if (env && *env)
        snprintf(buf, cap, "%s", env);
    else
        snprintf(buf, cap, "%s/../shared", SYNACK_SOURCE_DIR);
}

static void parse_tier(const char *tier_file)
{
    char dir[1024], path[4096], line[1024], err[1024];
    shared_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/conformance/%s", dir, tier_file);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (set SYNACK_SHARED_DIR)", path);
    int parsed = 0, failed = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        snprintf(path, sizeof(path), "%s/conformance/packetdrill-gtests/%s", dir, line);
        sk_script *s = sk_script_parse_file(path, err, sizeof(err));
        if (!s) {
            print_error("%s\n", err);
            failed++;
        } else {
            assert_true(s->event_count > 0);
            sk_script_free(s);
            parsed++;
        }
    }
    fclose(f);
    assert_int_equal(failed, 0);
    assert_true(parsed > 0);
}

static void test_tier1_scripts_parse(void **state)
{
    (void)state;
    parse_tier("tier1-lifecycle.txt");
}

static void test_tier2_scripts_parse(void **state)
{
    (void)state;
    parse_tier("tier2-datapath.txt");
}

static void test_tier3_scripts_parse(void **state)
{
    (void)state;
    parse_tier("tier3-fastopen.txt");
}

static void test_options_and_init_command(void **state)
{
    (void)state;
    sk_script *s = must_parse("// comment\n--tolerance_usecs=10000\n--strict_segments // why\n"
                              "--ip_version=ipv4\n`../common/defaults.sh\n foo`\n");
    assert_int_equal(s->option_count, 3);
    assert_string_equal(s->options[0].name, "tolerance_usecs");
    assert_string_equal(s->options[0].value, "10000");
    assert_int_equal(s->options[0].line, 2);
    assert_string_equal(s->options[1].name, "strict_segments");
    assert_null(s->options[1].value);
    assert_string_equal(sk_script_option_value(s, "ip_version"), "ipv4");
    assert_string_equal(sk_script_option_value(s, "strict_segments"), "");
    assert_null(sk_script_option_value(s, "mss"));
    assert_int_equal(s->event_count, 1);
    assert_int_equal(s->events[0].kind, SK_SEV_COMMAND);
    assert_int_equal(s->events[0].time.kind, SK_STIME_NONE);
    assert_string_equal(s->events[0].text, "../common/defaults.sh\n foo");
    assert_int_equal(s->events[0].line, 5);
    sk_script_free(s);
}

static void test_times(void **state)
{
    (void)state;
    sk_script *s = must_parse("0.100 close(3) = 0\n"
                              "+.1 close(3) = 0\n"
                              "* > . 1:1(0) ack 1\n"
                              "+.3~+.400 > F. 1:1(0) ack 1\n"
                              "1~2.5 > F. 1:1(0) ack 1\n"
                              "+.1...0.200 connect(3, ..., ...) = 0\n"
                              "0.1...0.2 accept(3, ..., ...) = 4\n");
    assert_int_equal(s->event_count, 7);
    const sk_script_event *e = s->events;
    assert_int_equal(e[0].time.kind, SK_STIME_ABSOLUTE);
    assert_int_equal(e[0].time.usecs, 100000);
    assert_int_equal(e[1].time.kind, SK_STIME_RELATIVE);
    assert_int_equal(e[1].time.usecs, 100000);
    assert_int_equal(e[2].time.kind, SK_STIME_ANY);
    assert_int_equal(e[3].time.kind, SK_STIME_RELATIVE);
    assert_int_equal(e[3].time.usecs, 300000);
    assert_true(e[3].time.has_end);
    assert_true(e[3].time.end_relative);
    assert_int_equal(e[3].time.end_usecs, 400000);
    assert_int_equal(e[4].time.kind, SK_STIME_ABSOLUTE);
    assert_int_equal(e[4].time.usecs, 1000000);
    assert_false(e[4].time.end_relative);
    assert_int_equal(e[4].time.end_usecs, 2500000);
    assert_int_equal(e[5].time.kind, SK_STIME_RELATIVE);
    assert_int_equal(e[5].time.usecs, 100000);
    assert_true(e[5].syscall.has_end);
    assert_int_equal(e[5].syscall.end_usecs, 200000);
    assert_string_equal(e[5].syscall.name, "connect");
    assert_int_equal(e[6].time.kind, SK_STIME_ABSOLUTE);
    assert_int_equal(e[6].time.usecs, 100000);
    assert_int_equal(e[6].syscall.end_usecs, 200000);
    sk_script_free(s);
}

static void test_inbound_syn_with_options(void **state)
{
    (void)state;
    sk_script *s = must_parse(
        "+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7,sack 1:2 3:4,eol>\n");
    assert_int_equal(s->event_count, 1);
    const sk_script_packet *p = &s->events[0].packet;
    assert_int_equal(s->events[0].kind, SK_SEV_PACKET);
    assert_int_equal(p->direction, '<');
    assert_false(p->icmp);
    assert_int_equal(p->flags, SK_TH_SYN);
    assert_string_equal(p->flags_text, "S");
    assert_int_equal(p->seq_start, 0);
    assert_int_equal(p->seq_end, 0);
    assert_int_equal(p->payload_len, 0);
    assert_false(p->has_ack);
    assert_true(p->has_win);
    assert_int_equal(p->win, 32792);
    assert_true(p->has_options);
    assert_false(p->options_any);
    assert_int_equal(p->option_count, 7);
    assert_int_equal(p->options[0].kind, SK_SOPT_MSS);
    assert_int_equal(p->options[0].value, 1000);
    assert_int_equal(p->options[1].kind, SK_SOPT_SACK_PERM);
    assert_int_equal(p->options[2].kind, SK_SOPT_TS);
    assert_int_equal(p->options[2].ts_val, 100);
    assert_int_equal(p->options[2].ts_ecr, 0);
    assert_int_equal(p->options[3].kind, SK_SOPT_NOP);
    assert_int_equal(p->options[4].kind, SK_SOPT_WSCALE);
    assert_int_equal(p->options[4].value, 7);
    assert_int_equal(p->options[5].kind, SK_SOPT_SACK);
    assert_int_equal(p->options[5].sack_count, 2);
    assert_int_equal(p->options[5].sack_start[0], 1);
    assert_int_equal(p->options[5].sack_end[0], 2);
    assert_int_equal(p->options[5].sack_start[1], 3);
    assert_int_equal(p->options[5].sack_end[1], 4);
    assert_int_equal(p->options[6].kind, SK_SOPT_EOL);
    sk_script_free(s);
}

static void test_outbound_packets(void **state)
{
    (void)state;
    sk_script *s = must_parse("+0 > P. 1:2001(2000) ack 1\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+0 > [ect0] FP. 13001:20001(7000) ack 1 win 257\n"
                              "+0 < - 1:1001(1000) win 20000\n"
                              "+0 > SEW 0:0(0) <FO abcd1234,FOEXP TFO_COOKIE,FO>\n");
    assert_int_equal(s->event_count, 5);
    const sk_script_packet *p = &s->events[0].packet;
    assert_int_equal(p->direction, '>');
    assert_int_equal(p->flags, SK_TH_PSH | SK_TH_ACK);
    assert_int_equal(p->seq_start, 1);
    assert_int_equal(p->seq_end, 2001);
    assert_int_equal(p->payload_len, 2000);
    assert_true(p->has_ack);
    assert_int_equal(p->ack, 1);
    assert_false(p->has_win);
    assert_false(p->has_options);
    p = &s->events[1].packet;
    assert_true(p->has_options);
    assert_true(p->options_any);
    assert_int_equal(p->option_count, 0);
    p = &s->events[2].packet;
    assert_string_equal(p->ip_annotation, "ect0");
    assert_int_equal(p->flags, SK_TH_FIN | SK_TH_PSH | SK_TH_ACK);
    assert_int_equal(p->payload_len, 7000);
    assert_int_equal(p->win, 257);
    p = &s->events[3].packet;
    assert_int_equal(p->flags, 0);
    assert_string_equal(p->flags_text, "-");
    p = &s->events[4].packet;
    assert_int_equal(p->flags, SK_TH_SYN | SK_TH_ECE | SK_TH_CWR);
    assert_int_equal(p->option_count, 3);
    assert_int_equal(p->options[0].kind, SK_SOPT_FO);
    assert_int_equal(p->options[0].cookie_len, 4);
    static const uint8_t cookie[4] = {0xab, 0xcd, 0x12, 0x34};
    assert_memory_equal(p->options[0].cookie, cookie, 4);
    assert_int_equal(p->options[1].kind, SK_SOPT_FOEXP);
    assert_string_equal(p->options[1].cookie_name, "TFO_COOKIE");
    assert_int_equal(p->options[2].kind, SK_SOPT_FO);
    assert_int_equal(p->options[2].cookie_len, 0);
    assert_null(p->options[2].cookie_name);
    sk_script_free(s);
}

static void test_icmp(void **state)
{
    (void)state;
    sk_script *s = must_parse("+.01 < icmp unreachable frag_needed mtu 840 [0:1000(1000)]\n"
                              "+.1 < icmp unreachable CODE\n");
    const sk_script_packet *p = &s->events[0].packet;
    assert_true(p->icmp);
    assert_string_equal(p->icmp_type, "unreachable");
    assert_string_equal(p->icmp_code, "frag_needed");
    assert_true(p->has_mtu);
    assert_int_equal(p->mtu, 840);
    assert_true(p->icmp_has_seq);
    assert_int_equal(p->seq_end, 1000);
    p = &s->events[1].packet;
    assert_string_equal(p->icmp_code, "CODE");
    assert_false(p->has_mtu);
    assert_false(p->icmp_has_seq);
    sk_script_free(s);
}

static void test_syscall_errno_and_note(void **state)
{
    (void)state;
    sk_script *s = must_parse("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n"
                              "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, \"\\xf7\\x63\", 2) = -1 (Invalid Argument)\n");
    const sk_script_syscall *c = &s->events[0].syscall;
    assert_string_equal(c->name, "connect");
    assert_false(c->has_end);
    assert_int_equal(c->arg_count, 3);
    assert_int_equal(c->args[0]->kind, SK_SEXPR_INT);
    assert_int_equal(c->args[0]->num, 3);
    assert_int_equal(c->args[1]->kind, SK_SEXPR_ELLIPSIS);
    assert_int_equal(c->ret->kind, SK_SEXPR_INT);
    assert_int_equal(c->ret->num, -1);
    assert_string_equal(c->errno_name, "EINPROGRESS");
    assert_string_equal(c->note, "Operation now in progress");
    c = &s->events[1].syscall;
    assert_int_equal(c->arg_count, 2);
    assert_int_equal(c->args[1]->kind, SK_SEXPR_NAME);
    assert_string_equal(c->args[1]->text, "F_GETFL");
    assert_int_equal(c->ret->num, 2);
    assert_null(c->errno_name);
    assert_string_equal(c->note, "flags O_RDWR");
    c = &s->events[2].syscall;
    assert_int_equal(c->args[3]->kind, SK_SEXPR_STRING);
    assert_int_equal(c->args[3]->len, 2);
    assert_memory_equal(c->args[3]->text, "\xf7\x63", 2);
    assert_null(c->errno_name);
    assert_string_equal(c->note, "Invalid Argument");
    sk_script_free(s);
}

static void test_syscall_structs(void **state)
{
    (void)state;
    sk_script *s = must_parse(
        "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n"
        "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
        "+0...0.010 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1\n"
        "+0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 40}, {..., 0}], msg_flags=0}, MSG_MORE) = 40\n"
        "+0 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [42000], [4]) = 0\n");
    const sk_script_syscall *c = &s->events[0].syscall;
    const sk_script_expr *st = c->args[3];
    assert_int_equal(st->kind, SK_SEXPR_STRUCT);
    assert_int_equal(st->count, 2);
    assert_int_equal(st->items[0]->kind, SK_SEXPR_FIELD);
    assert_string_equal(st->items[0]->text, "l_onoff");
    assert_null(st->items[0]->lhs);
    assert_int_equal(st->items[0]->rhs->num, 1);
    assert_string_equal(st->items[1]->text, "l_linger");
    assert_int_equal(st->items[1]->rhs->num, 0);

    c = &s->events[1].syscall;
    const sk_script_expr *b = c->args[2];
    assert_int_equal(b->kind, SK_SEXPR_BINARY);
    assert_int_equal(b->op, '|');
    assert_string_equal(b->lhs->text, "O_RDWR");
    assert_string_equal(b->rhs->text, "O_NONBLOCK");

    c = &s->events[2].syscall;
    assert_true(c->has_end);
    assert_int_equal(c->end_usecs, 10000);
    const sk_script_expr *l = c->args[0];
    assert_int_equal(l->kind, SK_SEXPR_LIST);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->items[0]->kind, SK_SEXPR_STRUCT);
    assert_int_equal(l->items[0]->count, 3);
    assert_string_equal(l->items[0]->items[1]->text, "events");
    assert_int_equal(l->items[0]->items[1]->rhs->kind, SK_SEXPR_BINARY);
    assert_int_equal(c->args[2]->num, 100);

    c = &s->events[3].syscall;
    const sk_script_expr *m = c->args[1];
    assert_int_equal(m->count, 3);
    assert_int_equal(m->items[0]->kind, SK_SEXPR_FIELD);
    assert_string_equal(m->items[0]->text, "msg_name");
    assert_int_equal(m->items[0]->lhs->kind, SK_SEXPR_ELLIPSIS);
    assert_int_equal(m->items[0]->rhs->kind, SK_SEXPR_ELLIPSIS);
    assert_string_equal(m->items[1]->text, "msg_iov");
    assert_int_equal(m->items[1]->lhs->num, 2);
    assert_int_equal(m->items[1]->rhs->kind, SK_SEXPR_LIST);
    assert_int_equal(m->items[1]->rhs->count, 2);
    assert_int_equal(m->items[1]->rhs->items[0]->items[1]->num, 40);
    assert_string_equal(c->args[2]->text, "MSG_MORE");
    assert_int_equal(c->ret->num, 40);

    c = &s->events[4].syscall;
    assert_int_equal(c->args[3]->kind, SK_SEXPR_LIST);
    assert_int_equal(c->args[3]->items[0]->num, 42000);
    assert_int_equal(c->args[4]->items[0]->num, 4);
    sk_script_free(s);
}

static void test_code_block(void **state)
{
    (void)state;
    sk_script *s = must_parse("+.1 %{ assert tcpi_probes == 0, tcpi_probes; \\\n  assert 1 }%\n");
    assert_int_equal(s->event_count, 1);
    assert_int_equal(s->events[0].kind, SK_SEV_CODE);
    assert_string_equal(s->events[0].text, " assert tcpi_probes == 0, tcpi_probes; \\\n  assert 1 ");
    sk_script_free(s);
}

static void test_errors_name_position_and_expectation(void **state)
{
    (void)state;
    char err[512];
    assert_null(parse_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S. 0:0 ack 1\n", err,
                           sizeof(err)));
    assert_string_equal(err, "t.pkt:2:13: expected '(', got 'ack'");
    assert_null(parse_text("+0 < S 0:0(0) win 1 <mss 1460, bogus 3>\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:32: expected a TCP option (mss, nop, sackOK, TS, wscale, sack, eol, "
                             "FO, FOEXP), got 'bogus'");
    assert_null(parse_text("+0 < S 0:5(0) win 1\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:8: expected end - start == length, got 0:5(0)");
    assert_null(parse_text("+0 close(3) =\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:2:1: expected an expression (number, string, name, ..., [list] or "
                             "{struct}), got end of file");
    assert_null(parse_text("close(3) = 0\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:1: expected an event time, an --option or a `command`, got 'close'");
    assert_null(parse_text("+0 %{ assert 1\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:4: unterminated %{ code }% block");
}

/* Nesting is bounded: a line of brackets once recursed until the stack
 * overflowed (fuzz/regress/script_parse/nested_brackets_overflow_stack,
 * found by fuzz/fuzz_script_parse.c).  32 levels parse; the 33rd is an
 * error at its position, for any mix of lists, structs and fields. */
static void test_nesting_is_bounded(void **state)
{
    (void)state;
    char text[4096], err[512];
    size_t n = (size_t)snprintf(text, sizeof text, "+0 f(");
    for (int i = 0; i < 31; i++)
        text[n++] = '[';
    text[n++] = '1';
    for (int i = 0; i < 31; i++)
        text[n++] = ']';
    n += (size_t)snprintf(text + n, sizeof text - n, ") = 0\n");
    sk_script *s = parse_text(text, err, sizeof(err));
    assert_non_null(s);
    sk_script_free(s);
    n = (size_t)snprintf(text, sizeof text, "+0 f(");
    for (int i = 0; i < 32; i++)
        text[n++] = '[';
    text[n++] = '1';
    for (int i = 0; i < 32; i++)
        text[n++] = ']';
    n += (size_t)snprintf(text + n, sizeof text - n, ") = 0\n");
    assert_null(parse_text(text, err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:38: expressions nested more than 32 deep");
    /* 3000 levels: an error, not a crash. */
    n = (size_t)snprintf(text, sizeof text, "+0 f(");
    for (int i = 0; i < 3000; i++)
        text[n++] = "[{"[i % 2];
    text[n] = 0;
    assert_null(parse_text(text, err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:38: expressions nested more than 32 deep");
    assert_null(parse_text("+0 f(a=b=c=d=e=f=g=h=i=j=k=l=m=n=o=p=q=r=s=t=u=v=w=x=y=z=A=B=C=D=E=F=G=H)\n", err,
                           sizeof(err)));
    assert_string_equal(err, "t.pkt:1:70: expressions nested more than 32 deep");
}

/* Numbers that do not fit, and times whose microseconds would not, are
 * parse errors naming the position (they used to overflow int64_t, which
 * is undefined behaviour, and wrap into nonsense times). */
static void test_out_of_range_numbers(void **state)
{
    (void)state;
    char err[512];
    assert_null(parse_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 99999999999999999999\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:43: number out of range (more than 9223372036854775807)");
    assert_null(parse_text("0 fcntl(3, F_SETFL, 0x1ffffffffffffffff) = 0\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:21: number out of range (more than 64 bits)");
    assert_null(parse_text("+9999999999999 close(3) = 0\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:2: time 9999999999999 out of range (more than 1000000000 seconds)");
    assert_null(parse_text("0 close(3) = 0\n+0~+1000000001.5 close(3) = 0\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:2:5: time 1000000001.5 out of range (more than 1000000000 seconds)");
    assert_null(parse_text("0...9999999999999 accept(3, ..., ...) = 4\n", err, sizeof(err)));
    assert_string_equal(err, "t.pkt:1:5: time 9999999999999 out of range (more than 1000000000 seconds)");

    /* The limits themselves are accepted. */
    sk_script *s = must_parse("+1000000000 close(3) = 9223372036854775807\n"
                              "+0 fcntl(3, F_SETFL, 0xffffffffffffffff) = 0\n");
    assert_int_equal(s->events[0].time.usecs, 1000000000ll * 1000000);
    assert_int_equal(s->events[0].syscall.ret->num, INT64_MAX);
    assert_int_equal(s->events[1].syscall.args[2]->num, -1);
    sk_script_free(s);

    /* Each time is in range, their sum is not: the runner stops there
     * rather than let its nanosecond clock overflow. */
    s = must_parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "+1000000000 close(3) = 0\n"
                   "+1000000000 close(3) = 0\n");
    char msg[512] = "";
    sk_script_run_opts opts = {0};
    assert_int_equal(sk_script_run(s, &opts, msg, sizeof(msg)), SK_SCRIPT_FAIL);
    assert_string_equal(msg, "t.pkt:3: script time beyond 1000000000 seconds");
    sk_script_free(s);
}

/* A script's text is bounded: past SK_SCRIPT_MAX_BYTES it is refused with
 * an error, whether given as text or read from a file that never ends. */
static void test_script_size_is_bounded(void **state)
{
    (void)state;
    char err[512];
    size_t len = SK_SCRIPT_MAX_BYTES + 1;
    char *text = malloc(len + 1);
    assert_non_null(text);
    memset(text, '\n', len);
    text[len] = 0;
    assert_null(sk_script_parse("big.pkt", text, len, err, sizeof(err)));
    assert_string_equal(err, "big.pkt: script larger than 1048576 bytes");
    /* Exactly the limit is fine: blank lines only. */
    sk_script *s = sk_script_parse("big.pkt", text, len - 1, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(s->event_count, 0);
    sk_script_free(s);
    free(text);

    assert_null(sk_script_parse_file("/dev/zero", err, sizeof(err)));
    assert_string_equal(err, "/dev/zero: script larger than 1048576 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_tier1_scripts_parse),
        cmocka_unit_test(test_tier2_scripts_parse),
        cmocka_unit_test(test_tier3_scripts_parse),
        cmocka_unit_test(test_options_and_init_command),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_inbound_syn_with_options),
        cmocka_unit_test(test_outbound_packets),
        cmocka_unit_test(test_icmp),
        cmocka_unit_test(test_syscall_errno_and_note),
        cmocka_unit_test(test_syscall_structs),
        cmocka_unit_test(test_code_block),
        cmocka_unit_test(test_errors_name_position_and_expectation),
        cmocka_unit_test(test_out_of_range_numbers),
        cmocka_unit_test(test_script_size_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
