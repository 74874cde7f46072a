/*
 * libFuzzer target for the packetdrill script parser: any bytes must give
 * a syntax tree or an error message, never a crash, a sanitizer report or
 * a hang.  A parsed tree is walked so that every node the parser made is
 * read (ASan sees a dangling or uninitialised pointer), then freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/script.h"

static size_t walk(const sk_script_expr *e, unsigned depth)
{
    if (!e)
        return 0;
    size_t n = 1 + (e->text ? strlen(e->text) : 0);
    if (depth > 10000) {
        fprintf(stderr, "expression nested %u deep\n", depth);
        abort();
    }
    n += walk(e->lhs, depth + 1) + walk(e->rhs, depth + 1);
    for (size_t i = 0; i < e->count; i++)
        n += walk(e->items[i], depth + 1);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    err[0] = 0;
    sk_script *s = sk_script_parse("fuzz.pkt", (const char *)data, size, err, sizeof err);
    if (!s) {
        if (!err[0] || !memchr(err, 0, sizeof err)) {
            fprintf(stderr, "parse failed without a message\n");
            abort();
        }
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->option_count; i++)
        n += strlen(s->options[i].name) + (s->options[i].value ? strlen(s->options[i].value) : 0);
    for (size_t i = 0; i < s->event_count; i++) {
        const sk_script_event *ev = &s->events[i];
        if (ev->text)
            n += strlen(ev->text);
        if (ev->kind == SK_SEV_SYSCALL) {
            n += strlen(ev->syscall.name);
            for (size_t k = 0; k < ev->syscall.arg_count; k++)
                n += walk(ev->syscall.args[k], 0);
            n += walk(ev->syscall.ret, 0);
        } else if (ev->kind == SK_SEV_PACKET) {
            for (size_t k = 0; k < ev->packet.option_count; k++)
                n += ev->packet.options[k].cookie_len;
        }
    }
    if (n == (size_t)-1)
        abort();
    sk_script_free(s);
    return 0;
}
