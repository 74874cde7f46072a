/*
 * A socket table in the layout of `ss -tan`: columns sized to their
 * contents, the address right-aligned against the ':' and the port
 * left-aligned after it, a wildcard peer port shown as '*'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct ss_row {
    const char *state;
    char recv_q[12], send_q[12];
    char local_addr[16], local_port[8];
    char peer_addr[16], peer_port[8];
} ss_row;

typedef struct ss_rows {
    ss_row *rows;
    size_t count, cap;
    bool out_of_memory;
} ss_rows;

static void format_addr(char *buf, size_t cap, uint32_t a)
{
    snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

static void collect_row(void *ctx, const sk_sock_info *info)
{
    ss_rows *r = ctx;
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        ss_row *grown = realloc(r->rows, cap * sizeof(*grown));
        if (!grown) {
            r->out_of_memory = true;
            return;
        }
        r->rows = grown;
        r->cap = cap;
    }
    ss_row *row = &r->rows[r->count++];
    const char *name = sk_state_ss_name(info->state);
    row->state = name ? name : "?";
    snprintf(row->recv_q, sizeof(row->recv_q), "%u", info->recv_q);
    snprintf(row->send_q, sizeof(row->send_q), "%u", info->send_q);
    format_addr(row->local_addr, sizeof(row->local_addr), info->local.addr);
    snprintf(row->local_port, sizeof(row->local_port), "%u", info->local.port);
    format_addr(row->peer_addr, sizeof(row->peer_addr), info->remote.addr);
    if (info->remote.port)
        snprintf(row->peer_port, sizeof(row->peer_port), "%u", info->remote.port);
    else
        snprintf(row->peer_port, sizeof(row->peer_port), "*");
}

static int widest(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

void sk_cli_print_socket_table(FILE *out, sk_stack *stack)
{
    ss_rows r = {0};
    sk_sockets(stack, collect_row, &r);
    int w_state = 5, w_rq = 6, w_sq = 6, w_la = 13, w_lp = 4, w_pa = 12;
    for (size_t i = 0; i < r.count; i++) {
        w_state = widest(w_state, r.rows[i].state);
        w_rq = widest(w_rq, r.rows[i].recv_q);
        w_sq = widest(w_sq, r.rows[i].send_q);
        w_la = widest(w_la, r.rows[i].local_addr);
        w_lp = widest(w_lp, r.rows[i].local_port);
        w_pa = widest(w_pa, r.rows[i].peer_addr);
    }
    fprintf(out, "%-*s %-*s %-*s %*s:%-*s %*s:%s\n", w_state, "State", w_rq, "Recv-Q", w_sq, "Send-Q", w_la,
            "Local Address", w_lp, "Port", w_pa, "Peer Address", "Port");
    for (size_t i = 0; i < r.count; i++) {
        const ss_row *row = &r.rows[i];
        fprintf(out, "%-*s %-*s %-*s %*s:%-*s %*s:%s\n", w_state, row->state, w_rq, row->recv_q, w_sq,
                row->send_q, w_la, row->local_addr, w_lp, row->local_port, w_pa, row->peer_addr, row->peer_port);
    }
    if (r.out_of_memory)
        fprintf(out, "(out of memory: some sockets not listed)\n");
    free(r.rows);
}
