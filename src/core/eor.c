/*
 * MSG_EOR records and the rest of sk_tcb_ext, the per-connection state
 * that is allocated only when first needed.
 *
 * Linux marks the skb that ends a MSG_EOR write (TCP_SKB_CB(skb)->eor in
 * tcp_sendmsg_locked); tcp_skb_can_collapse_to() then refuses to append
 * later data to it, and neither tcp_grow_skb(), a TSO packet, nor
 * tcp_retrans_try_collapse() merges data across it.  synack has no skbs,
 * so it keeps the sequence numbers where records end; the send paths cut
 * segments there (output.c) and sk_send starts a new skb after one.
 */
#include <string.h>

#include "eor.h"
#include "stack.h"

sk_tcb_ext *sk_tcb_ext_get(const sk_stack *s, sk_tcb *t)
{
    if (!t->ext) {
        t->ext = sk_calloc(s, 1, sizeof(*t->ext));
        if (t->ext)
            t->ext->linger_s = -1;
    }
    return t->ext;
}

void sk_tcb_ext_free(const sk_stack *s, sk_tcb *t)
{
    if (!t->ext)
        return;
    sk_free(s, t->ext->eor);
    sk_free(s, t->ext->fo);
    sk_free(s, t->ext->pm);
    sk_free(s, t->ext->flight);
    sk_free(s, t->ext);
    t->ext = NULL;
}

/* Forgets record ends the peer has acknowledged: they no longer bound
 * anything that can be sent. */
static void eor_trim(sk_tcb *t)
{
    sk_tcb_ext *x = t->ext;
    while (x->eor_n && seq_leq(x->eor[x->eor_head], t->snd_una)) {
        x->eor_head++;
        x->eor_n--;
    }
    if (!x->eor_n)
        x->eor_head = 0;
}

bool sk_eor_reserve(const sk_stack *s, sk_tcb *t)
{
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (!x)
        return false;
    eor_trim(t);
    if (x->eor_head + x->eor_n < x->eor_cap)
        return true;
    if (x->eor_head) { /* room at the front: slide down rather than grow */
        memmove(x->eor, x->eor + x->eor_head, x->eor_n * sizeof(*x->eor));
        x->eor_head = 0;
        return true;
    }
    uint32_t ncap = x->eor_cap ? x->eor_cap * 2 : 8;
    uint32_t *ne = sk_realloc(s, x->eor, ncap * sizeof(*ne));
    if (!ne)
        return false;
    x->eor = ne;
    x->eor_cap = ncap;
    return true;
}

void sk_eor_mark(sk_tcb *t, uint32_t end)
{
    sk_tcb_ext *x = t->ext;
    /* sk_eor_reserve made room; a second mark at the same place (an
     * empty record cannot happen: sk_send returns early on len 0) is not
     * recorded twice. */
    if (!x || x->eor_head + x->eor_n >= x->eor_cap)
        return;
    if (x->eor_n && x->eor[x->eor_head + x->eor_n - 1] == end)
        return;
    x->eor[x->eor_head + x->eor_n++] = end;
}

bool sk_eor_tail_closed(sk_tcb *t, uint32_t data_end)
{
    sk_tcb_ext *x = t->ext;
    return x && x->eor_n && x->eor[x->eor_head + x->eor_n - 1] == data_end;
}

bool sk_eor_around(sk_tcb *t, uint32_t seq, uint32_t *prev, bool *has_prev, uint32_t *next)
{
    *has_prev = false;
    sk_tcb_ext *x = t->ext;
    if (!x || !x->eor_n)
        return false;
    eor_trim(t);
    /* Binary search, in offsets from SND.UNA so that wrap is harmless:
     * the first record end above seq. */
    const uint32_t *e = x->eor + x->eor_head;
    uint32_t off = seq - t->snd_una, lo = 0, hi = x->eor_n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid] - t->snd_una <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo) {
        *prev = e[lo - 1];
        *has_prev = true;
    }
    if (lo == x->eor_n)
        return false;
    *next = e[lo];
    return true;
}

uint32_t sk_eor_clip(sk_tcb *t, uint32_t seq, uint32_t len)
{
    uint32_t prev, next;
    bool has_prev;
    if (sk_eor_around(t, seq, &prev, &has_prev, &next) && next - seq < len)
        return next - seq;
    return len;
}

bool sk_eor_is_end(sk_tcb *t, uint32_t seq)
{
    uint32_t prev, next;
    bool has_prev;
    return sk_eor_around(t, seq - 1, &prev, &has_prev, &next) && next == seq;
}

uint32_t sk_eor_segs(sk_tcb *t, uint32_t from, uint32_t to, uint32_t mss)
{
    uint32_t segs = 0;
    while (seq_lt(from, to)) {
        uint32_t prev, next, end = to;
        bool has_prev;
        if (sk_eor_around(t, from, &prev, &has_prev, &next) && seq_lt(next, to))
            end = next;
        segs += (end - from + mss - 1) / mss;
        from = end;
    }
    return segs;
}
