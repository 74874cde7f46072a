/*
 * What every command of the synack CLI shares: the one PRNG that turns
 * --seed into per-host keys, and the option-value parsers and usage-error
 * report, so that every command accepts and rejects values alike.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

uint64_t sk_cli_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sk_cli_host_params(uint64_t seed, uint32_t addr, sk_stack_params *p)
{
    /* Each host's PRNG seed and ISN/cookie secret derive from --seed, so a
     * run is reproducible and two hosts never share keys (RFC 6528). */
    uint64_t x = seed ^ ((uint64_t)addr * 0xd1342543de82ef95ull);
    memset(p, 0, sizeof *p);
    p->seed = sk_cli_splitmix64(&x);
    for (size_t i = 0; i < sizeof p->secret; i += 8) {
        uint64_t v = sk_cli_splitmix64(&x);
        memcpy(p->secret + i, &v, 8);
    }
}

bool sk_cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return false; /* no sign, no space: strtoull would take "-1" */
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, hex ? 16 : 10);
    if (errno || *end || (hex && end == s + 2) || v > max)
        return false;
    *out = v;
    return true;
}

bool sk_cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool sk_cli_parse_seconds(const char *s, double max, sk_time_ns *out)
{
    double v;
    if (!sk_cli_parse_double(s, 0.0, max, &v))
        return false;
    *out = (sk_time_ns)(v * (double)SK_NSEC_PER_SEC + 0.5);
    return true;
}

bool sk_cli_parse_probability(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno)
        return false;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

bool sk_cli_parse_size(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

int sk_cli_usage_error(const char *cmd, const char *after, const char *fmt, ...)
{
    fprintf(stderr, "synack %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(after, stderr);
    return SK_CLI_EXIT_USAGE;
}
