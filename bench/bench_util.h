/*
 * Helpers shared by the benchmark programs: clocks, repetition statistics,
 * memory readings and the result lines that scripts/bench.sh collects.
 *
 * Every result is printed as one line "RESULT key value" so the runner can
 * assemble bench.json without parsing free text; a repeated measurement
 * prints key (the median), key_min and key_max.
 */
#ifndef SYNACK_BENCH_UTIL_H
#define SYNACK_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

double bench_wall_s(void);       /* CLOCK_MONOTONIC, seconds */
double bench_cpu_s(void);        /* CLOCK_PROCESS_CPUTIME_ID, seconds */
double bench_thread_cpu_s(void); /* CLOCK_THREAD_CPUTIME_ID, seconds */
/* User + system CPU seconds of the whole process (getrusage RUSAGE_SELF):
 * for the kernel benchmarks this includes the kernel's work done on the
 * process's behalf (system calls, and loopback softirqs run in its
 * context), but not time spent waiting to be scheduled. */
double bench_rusage_cpu_s(void);
size_t bench_rss_bytes(void);    /* resident set size, from /proc/self/statm */
size_t bench_heap_bytes(void);   /* malloc'd bytes in use (mallinfo2) */

typedef struct bench_stats {
    double median, min, max;
    int n;
} bench_stats;

bench_stats bench_summarize(const double *values, int n);

/* "RESULT key median", "RESULT key_min min", "RESULT key_max max" */
void bench_result_stats(const char *key, bench_stats st);
void bench_result(const char *key, double value);
void bench_result_int(const char *key, long long value);
void bench_result_null(const char *key);
/* A free-text note the runner copies into the report. */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Repetitions from the BENCH_REPS environment variable (at least 1),
 * or `dflt`. */
int bench_reps(int dflt);
/* A positive integer from the environment, or `dflt`. */
long bench_env_long(const char *name, long dflt);

#endif
