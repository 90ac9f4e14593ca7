/*
 * bench_util.h — small helpers shared by the benchmark programs in tests/bench/ (each .c there is
 * its own program, so these are static inline rather than a module of their own).
 */
#ifndef FL_BENCH_UTIL_H
#define FL_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monotonic seconds: benchmarks time real work, so they read the OS clock directly. */
static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "IP:PORT" into ip (len bytes) and *port; 0 or -1 on a malformed address. */
static inline int bench_parse_addr(const char *s, char *ip, size_t len, int *port)
{
	const char *c = strrchr(s, ':');
	char *end;
	long p;

	if (!c || (size_t)(c - s) >= len || c == s)
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = '\0';
	p = strtol(c + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of n values (sorts v in place); 0 when n is 0. */
static inline double bench_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof *v, bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
