/*
 * nstat and netstat -s output (nstat.h).
 */
#include "observe/nstat.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

void sk_counter_set_init(sk_counter_set *s)
{
    memset(s, 0, sizeof(*s));
}

void sk_counter_set_free(sk_counter_set *s)
{
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

int sk_counter_set_add(sk_counter_set *s, const char *group, const char *name, uint64_t value)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 128;
        sk_counter_row *grown = realloc(s->rows, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        s->rows = grown;
        s->cap = cap;
    }
    sk_counter_row *r = &s->rows[s->n++];
    snprintf(r->group, sizeof(r->group), "%s", group);
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->value = value;
    return 0;
}

/* nstat lists /proc/net/snmp (Ip, Icmp, IcmpMsg, Tcp), then
 * /proc/net/netstat (TcpExt, IpExt), then /proc/net/snmp6 (Ip6, Icmp6); synack's
 * own group comes last. */
static const char *const group_order[] = {"Ip", "Icmp", "IcmpMsg", "Tcp", "TcpExt", "IpExt", "Ip6", "Icmp6", "Synack"};
#define GROUPS (sizeof(group_order) / sizeof(group_order[0]))

int sk_counter_set_from_stack(sk_counter_set *s, const sk_stack *stack, const char *instance)
{
    snprintf(s->instance, sizeof(s->instance), "%s", instance ? instance : "");
    for (size_t g = 0; g <= GROUPS; g++) {
        const char *group;
        const char *name;
        for (size_t i = 0; (name = sk_counter_name(i, &group)) != NULL; i++) {
            size_t k = 0;
            while (k < GROUPS && strcmp(group, group_order[k]))
                k++;
            /* Pass GROUPS takes any group the list above does not know. */
            if (k != g)
                continue;
            if (sk_counter_set_add(s, group, name, sk_counter_value(stack, i)) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

static bool full_name_is(const sk_counter_row *r, const char *full)
{
    size_t gl = strlen(r->group);
    return !strncmp(full, r->group, gl) && !strcmp(full + gl, r->name);
}

uint64_t sk_counter_set_get(const sk_counter_set *s, const char *full_name, uint64_t fallback)
{
    for (size_t i = 0; i < s->n; i++)
        if (full_name_is(&s->rows[i], full_name))
            return s->rows[i].value;
    return fallback;
}

static const sk_counter_row *find_row(const sk_counter_set *s, const sk_counter_row *like)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i].group, like->group) && !strcmp(s->rows[i].name, like->name))
            return &s->rows[i];
    return NULL;
}

void sk_counter_set_write(FILE *out, const sk_counter_set *s)
{
    fprintf(out, "#synack %s\n", s->instance);
    for (size_t i = 0; i < s->n; i++)
        fprintf(out, "%s %s %llu\n", s->rows[i].group, s->rows[i].name, (unsigned long long)s->rows[i].value);
}

int sk_counter_set_read(FILE *in, sk_counter_set *s, char *err, size_t errlen)
{
    char line[256];
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), in)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (!len)
            continue;
        if (!strncmp(line, "#synack ", 8)) {
            snprintf(s->instance, sizeof(s->instance), "%.95s", line + 8);
            continue;
        }
        if (line[0] == '#')
            continue;
        char group[16], name[48];
        unsigned long long value;
        char extra;
        if (sscanf(line, "%15s %47s %llu %c", group, name, &value, &extra) != 3) {
            snprintf(err, errlen, "line %u is not 'Group Name Value': %.60s", lineno, line);
            return -EINVAL;
        }
        if (sk_counter_set_add(s, group, name, value) < 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

static bool wanted(const char *full, char *const *patterns, size_t n)
{
    if (!n)
        return true;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(patterns[i], full, 0) == 0)
            return true;
    return false;
}

void sk_nstat_print(FILE *out, const sk_counter_set *cur, const sk_counter_set *prev, unsigned flags,
                    char *const *patterns, size_t npatterns)
{
    bool json = flags & SK_NSTAT_JSON;
    bool first = true;
    fprintf(out, json ? "{\"kernel\":{" : "#kernel\n");
    for (size_t i = 0; i < cur->n; i++) {
        const sk_counter_row *r = &cur->rows[i];
        uint64_t v = r->value;
        if (prev) {
            const sk_counter_row *p = find_row(prev, r);
            /* A counter below its history value was reset (a new run):
             * everything it holds is new. */
            if (p && p->value <= v)
                v -= p->value;
        }
        char full[64];
        snprintf(full, sizeof(full), "%s%s", r->group, r->name);
        if ((!v && !(flags & SK_NSTAT_ZEROS)) || !wanted(full, patterns, npatterns))
            continue;
        if (json)
            fprintf(out, "%s\"%s\":%llu", first ? "" : ",", full, (unsigned long long)v);
        else
            fprintf(out, "%-32s%-16llu%6.1f\n", full, (unsigned long long)v, 0.0);
        first = false;
    }
    if (json)
        fprintf(out, "}}\n");
}

/* ------------------------------------------------------------------ */
/* netstat -s                                                            */
/* ------------------------------------------------------------------ */

typedef struct netstat_sentence {
    const char *name;
    const char *text; /* "%llu" marks where the number goes        */
    bool always;      /* printed even when 0 (netstat's "number")  */
} netstat_sentence;

/* net-tools' wording for the counters synack has. */
static const netstat_sentence ip_sentences[] = {
    {"InReceives", "%llu total packets received", true},
    {"InHdrErrors", "%llu with invalid headers", false},
    {"InAddrErrors", "%llu with invalid addresses", false},
    {"InUnknownProtos", "%llu with unknown protocol", false},
    {"InDiscards", "%llu incoming packets discarded", true},
    {"InDelivers", "%llu incoming packets delivered", true},
    {"OutRequests", "%llu requests sent out", true},
    {"OutDiscards", "%llu outgoing packets dropped", false},
    {"ReasmFails", "%llu packet reassemblies failed", false},
    {NULL, NULL, false},
};

static const netstat_sentence tcp_sentences[] = {
    {"ActiveOpens", "%llu active connection openings", true},
    {"PassiveOpens", "%llu passive connection openings", true},
    {"AttemptFails", "%llu failed connection attempts", true},
    {"EstabResets", "%llu connection resets received", true},
    {"CurrEstab", "%llu connections established", true},
    {"InSegs", "%llu segments received", true},
    {"OutSegs", "%llu segments sent out", true},
    {"RetransSegs", "%llu segments retransmitted", true},
    {"InErrs", "%llu bad segments received", true},
    {"OutRsts", "%llu resets sent", true},
    {NULL, NULL, false},
};

static const netstat_sentence tcpext_sentences[] = {
    {"SyncookiesSent", "%llu SYN cookies sent", false},
    {"SyncookiesRecv", "%llu SYN cookies received", false},
    {"SyncookiesFailed", "%llu invalid SYN cookies received", false},
    {"EmbryonicRsts", "%llu resets received for embryonic SYN_RECV sockets", false},
    {"PAWSActive", "%llu active connections rejected because of time stamp", false},
    {"PAWSEstab", "%llu packets rejected in established connections because of timestamp", false},
    {"TW", "%llu TCP sockets finished time wait in fast timer", false},
    {"TWRecycled", "%llu time wait sockets recycled by time stamp", false},
    {"TWKilled", "%llu TCP sockets finished time wait in slow timer", false},
    {"DelayedACKs", "%llu delayed acks sent", false},
    {"ListenOverflows", "%llu times the listen queue of a socket overflowed", false},
    {"ListenDrops", "%llu SYNs to LISTEN sockets dropped", false},
    {"TCPPureAcks", "%llu acknowledgments not containing data payload received", false},
    {"TCPHPAcks", "%llu predicted acknowledgments", false},
    {"TCPRenoRecovery", "%llu times recovered from packet loss due to fast retransmit", false},
    {"TCPSackRecovery", "%llu times recovered from packet loss by selective acknowledgements", false},
    {"TCPSACKReorder", "Detected reordering %llu times using SACK", false},
    {"TCPFastRetrans", "%llu fast retransmits", false},
    {"TCPSlowStartRetrans", "%llu retransmits in slow start", false},
    {"TCPDSACKOldSent", "%llu DSACKs sent for old packets", false},
    {"TCPDSACKRecv", "%llu DSACKs received", false},
    {"TCPAbortOnData", "%llu connections reset due to unexpected data", false},
    {"TCPAbortOnClose", "%llu connections reset due to early user close", false},
    {"TCPAbortOnMemory", "%llu connections aborted due to memory pressure", false},
    {"TCPAbortOnTimeout", "%llu connections aborted due to timeout", false},
    {"TCPAbortOnLinger", "%llu connections aborted after user close in linger timeout", false},
    {"TCPAbortFailed", "%llu times unable to send RST due to no memory", false},
    {NULL, NULL, false},
};

static const netstat_sentence *sentence_for(const char *group, const char *name)
{
    const netstat_sentence *table = !strcmp(group, "Ip")       ? ip_sentences
                                    : !strcmp(group, "Tcp")    ? tcp_sentences
                                    : !strcmp(group, "TcpExt") ? tcpext_sentences
                                                               : NULL;
    for (; table && table->name; table++)
        if (!strcmp(table->name, name))
            return table;
    return NULL;
}

static void print_sentence(FILE *out, const char *text, uint64_t v)
{
    const char *mark = strstr(text, "%llu");
    fprintf(out, "    %.*s%llu%s\n", (int)(mark - text), text, (unsigned long long)v, mark + 4);
}

void sk_netstat_print(FILE *out, const sk_counter_set *s)
{
    static const char *const sections[] = {"Ip", "Tcp", "TcpExt", "IpExt", "Synack"};
    for (size_t g = 0; g < sizeof(sections) / sizeof(sections[0]); g++) {
        bool header = false;
        for (size_t i = 0; i < s->n; i++) {
            const sk_counter_row *r = &s->rows[i];
            if (strcmp(r->group, sections[g]))
                continue;
            if (!header) {
                fprintf(out, "%s:\n", sections[g]);
                header = true;
            }
            const netstat_sentence *st = sentence_for(r->group, r->name);
            if (st && (st->always || r->value))
                print_sentence(out, st->text, r->value);
            else if (!st && r->value)
                fprintf(out, "    %s: %llu\n", r->name, (unsigned long long)r->value);
        }
    }
}
