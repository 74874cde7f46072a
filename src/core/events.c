/*
 * Event emission: the hooks through which the core reports state changes,
 * drops, timer firings and readiness to whoever drives the stack.
 */
#include "events.h"
#include "addr.h"
#include "stack.h"

void sk_emit(sk_stack *s, const sk_event *ev)
{
    if (s->on_event)
        s->on_event(s->event_ctx, ev);
}

void sk_emit_state(sk_stack *s, sk_tcb *t, int from, int to, sk_state_cause cause)
{
    if (!s->on_event)
        return;
    sk_event ev = {.type = SK_EV_STATE, .now = s->now, .fd = t->fd,
                   .local = sk_addr_ep(s, t->af6, t->sock6, t->laddr, t->lport),
                   .remote = sk_addr_ep(s, t->af6, t->sock6, t->raddr, t->rport),
                   .from_state = from, .to_state = to, .cause = sk_cause_text[cause],
                   .state_cause = cause};
    if (!t->af6 && !t->sock6 && !t->laddr)
        ev.local.addr = s->addr; /* sk_tcb_local_shown */
    sk_emit(s, &ev);
}

void sk_emit_drop(sk_stack *s, const sk_segment *seg, sk_counter_id reason)
{
    if (!s->on_event)
        return;
    sk_event ev = {.type = SK_EV_DROP, .now = s->now, .fd = -1,
                   .reason = sk_counter_short_name(reason),
                   .drop_counter = (size_t)reason};
    if (seg && seg->ip_version == 6) {
        ev.local = sk_endpoint_ipv6(seg->dst6, seg->dport);
        ev.remote = sk_endpoint_ipv6(seg->src6, seg->sport);
    } else if (seg) {
        ev.local = (sk_endpoint){.addr = seg->dst, .port = seg->dport, .family = SK_AF_INET};
        ev.remote = (sk_endpoint){.addr = seg->src, .port = seg->sport, .family = SK_AF_INET};
    }
    sk_emit(s, &ev);
}

void sk_emit_timer(sk_stack *s, const sk_key *k, int fd, const char *timer)
{
    if (!s->on_event)
        return;
    sk_event ev = {.type = SK_EV_TIMER, .now = s->now, .fd = fd, .timer = timer};
    sk_addr_endpoint(s, k->v6, false, k->laddr, k->lport, &ev.local);
    sk_addr_endpoint(s, k->v6, false, k->raddr, k->rport, &ev.remote);
    sk_emit(s, &ev);
}

void sk_notify(sk_stack *s, sk_tcb *t)
{
    if (!s->on_event || t->fd < 0)
        return;
    sk_event ev = {.type = SK_EV_READY, .now = s->now, .fd = t->fd,
                   .local = sk_addr_ep(s, t->af6, t->sock6, t->laddr, t->lport),
                   .remote = sk_addr_ep(s, t->af6, t->sock6, t->raddr, t->rport)};
    if (!t->af6 && !t->sock6 && !t->laddr)
        ev.local.addr = s->addr; /* sk_tcb_local_shown */
    sk_emit(s, &ev);
}
