/*
 * Event emission: the hooks through which the core reports state changes,
 * drops, timer firings and readiness to whoever drives the stack.
 */
#include "events.h"
#include "addr.h"
#include "stack.h"

void sk_emit(sk_stack *s, const sk_event *ev)
{
    if (sk_wants(s, ev->type))
        s->on_event(s->event_ctx, ev);
}

void sk_event_set_endpoints(sk_event *ev, const sk_endpoint *local, const sk_endpoint *remote)
{
    sk_event_ep(ev, SK_EPK_GIVEN, local, remote);
}

void sk_event_endpoints(const sk_event *ev, sk_endpoint *local, sk_endpoint *remote)
{
    sk_endpoint l = {0}, r = {0};
    const void *a = ev->ep_.a, *b = ev->ep_.b;
    switch (ev->ep_.kind) {
    case SK_EPK_GIVEN:
        if (a)
            l = *(const sk_endpoint *)a;
        if (b)
            r = *(const sk_endpoint *)b;
        break;
    case SK_EPK_TCB:
        sk_tcb_local_shown(a, b, &l);
        sk_tcb_remote(a, b, &r);
        break;
    case SK_EPK_SEG: {
        const sk_segment *seg = a;
        if (seg->ip_version == 6) {
            l = sk_endpoint_ipv6(seg->dst6, seg->dport);
            r = sk_endpoint_ipv6(seg->src6, seg->sport);
        } else {
            l = sk_endpoint_ipv4(seg->dst, seg->dport);
            r = sk_endpoint_ipv4(seg->src, seg->sport);
        }
        break;
    }
    case SK_EPK_ROUTE: {
        const sk_route *rt = a;
        if (rt->v6) {
            l = sk_endpoint_ipv6(rt->src6, ev->ep_.sport);
            r = sk_endpoint_ipv6(rt->dst6, ev->ep_.dport);
        } else {
            l = sk_endpoint_ipv4(rt->src, ev->ep_.sport);
            r = sk_endpoint_ipv4(rt->dst, ev->ep_.dport);
        }
        break;
    }
    case SK_EPK_ADDRS: {
        const sk_ep_addrs *e = b;
        sk_addr_endpoint(a, e->v6, e->mapped, e->laddr, e->lport, &l);
        sk_addr_endpoint(a, e->v6, e->mapped, e->raddr, e->rport, &r);
        break;
    }
    default:
        break;
    }
    if (local)
        *local = l;
    if (remote)
        *remote = r;
}

void sk_emit_state(sk_stack *s, sk_tcb *t, int from, int to, sk_state_cause cause)
{
    if (!sk_wants(s, SK_EV_STATE))
        return;
    sk_event ev = {.type = SK_EV_STATE, .now = s->now, .fd = t->fd, .from_state = from, .to_state = to,
                   .cause = sk_cause_text[cause], .state_cause = cause};
    sk_event_ep(&ev, SK_EPK_TCB, s, t);
    sk_emit(s, &ev);
}

void sk_emit_drop(sk_stack *s, const sk_segment *seg, sk_counter_id reason)
{
    if (!sk_wants(s, SK_EV_DROP))
        return;
    sk_event ev = {.type = SK_EV_DROP, .now = s->now, .fd = -1,
                   .reason = sk_counter_short_name(reason), .drop_counter = (size_t)reason};
    if (seg)
        sk_event_ep(&ev, SK_EPK_SEG, seg, NULL);
    sk_emit(s, &ev);
}

void sk_emit_timer(sk_stack *s, const sk_key *k, int fd, const char *timer)
{
    if (!sk_wants(s, SK_EV_TIMER))
        return;
    sk_event ev = {.type = SK_EV_TIMER, .now = s->now, .fd = fd, .timer = timer};
    sk_ep_addrs e = {.laddr = k->laddr, .raddr = k->raddr, .lport = k->lport, .rport = k->rport, .v6 = k->v6};
    sk_event_ep(&ev, SK_EPK_ADDRS, s, &e);
    sk_emit(s, &ev);
}

void sk_notify(sk_stack *s, sk_tcb *t)
{
    if (t->fd < 0 || !sk_wants(s, SK_EV_READY))
        return;
    sk_event ev = {.type = SK_EV_READY, .now = s->now, .fd = t->fd};
    sk_event_ep(&ev, SK_EPK_TCB, s, t);
    sk_emit(s, &ev);
}
