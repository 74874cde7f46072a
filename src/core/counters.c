/*
 * Counter names from the X-macro table in counters.h: the MIB group
 * ("Tcp", "TcpExt", ...) and the name within it, spelled as Linux's
 * /proc/net/snmp and /proc/net/netstat spell them so nstat users recognise
 * them.
 */
#include "counters.h"

static const char *const counter_groups[SK_C__COUNT] = {
#define SK_COUNTER_GROUP(id, group, name) [SK_C_##id] = group,
    SK_COUNTER_LIST(SK_COUNTER_GROUP)
#undef SK_COUNTER_GROUP
};

static const char *const counter_short_names[SK_C__COUNT] = {
#define SK_COUNTER_SHORT_NAME(id, group, name) [SK_C_##id] = name,
    SK_COUNTER_LIST(SK_COUNTER_SHORT_NAME)
#undef SK_COUNTER_SHORT_NAME
};

/* NULL for an id outside the table, so a bad id is visible, not aliased. */
const char *sk_counter_group(sk_counter_id id)
{
    return (unsigned)id < SK_C__COUNT ? counter_groups[id] : NULL;
}

const char *sk_counter_short_name(sk_counter_id id)
{
    return (unsigned)id < SK_C__COUNT ? counter_short_names[id] : NULL;
}
