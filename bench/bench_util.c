#include "bench_util.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_wall_s(void) { return clock_s(CLOCK_MONOTONIC); }
double bench_cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
double bench_thread_cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

double bench_rusage_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

size_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (got != 2)
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t bench_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stats bench_summarize(const double *values, int n)
{
    bench_stats st = {0, 0, 0, n};
    if (n <= 0)
        return st;
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!v)
        return st;
    for (int i = 0; i < n; i++)
        v[i] = values[i];
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    st.min = v[0];
    st.max = v[n - 1];
    st.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
    return st;
}

void bench_result(const char *key, double value)
{
    printf("RESULT %s %.6g\n", key, value);
    fflush(stdout);
}

void bench_result_int(const char *key, long long value)
{
    printf("RESULT %s %lld\n", key, value);
    fflush(stdout);
}

void bench_result_null(const char *key)
{
    printf("RESULT %s null\n", key);
    fflush(stdout);
}

void bench_result_stats(const char *key, bench_stats st)
{
    printf("RESULT %s %.6g\nRESULT %s_min %.6g\nRESULT %s_max %.6g\nRESULT %s_reps %d\n", key, st.median,
           key, st.min, key, st.max, key, st.n);
    fflush(stdout);
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("NOTE ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

long bench_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x <= 0)
        return dflt;
    return x;
}

int bench_reps(int dflt) { return (int)bench_env_long("BENCH_REPS", dflt); }
