/*
 * rt_uv.h — the libuv backend of rt.h: real processes, one uv_loop per process.
 *
 * Used by the process entry points (node/main/, sim/ live tools). Node code never includes it.
 */
#ifndef FL_RT_UV_H
#define FL_RT_UV_H

#include "rt.h"

#include <stdio.h> /* FILE in rt_uv_host_config */

typedef struct rt_uv rt_uv;

typedef struct rt_uv_host_config {
	const char *name;     /* "scheduler", "server/0", ... */
	const char *ip;       /* this host's address, e.g. "127.0.0.2"; outgoing connections bind
				 to it (so a netem proxy can tell who talks); NULL = 127.0.0.1 */
	const char *data_dir; /* files live here; created if missing; NULL = "." */
	uint64_t seed;        /* random stream seed */
	int64_t clock_offset_ms; /* added to the OS wall clock (tests; live skew uses libfaketime) */
	FILE *log_file;       /* NULL = stderr */
} rt_uv_host_config;

/* Create the process's runtime on a fresh uv_loop (owned by rt_uv). NULL on ENOMEM. */
rt_uv *rt_uv_new(void);
/* Free the runtime. Call after rt_uv_run returned and all hosts were freed. */
void rt_uv_free(rt_uv *u);

/* Create a host. The returned host is owned by `u`; free it with rt_uv_host_free. */
int rt_uv_host_new(rt_uv *u, const rt_uv_host_config *cfg, rt_host **out);
void rt_uv_host_free(rt_host *h);
/* Lines below `level` (RT_LOG_*) are dropped; the default is RT_LOG_INFO. */
void rt_uv_host_set_log_level(rt_host *h, int level);

/* Run the loop until rt_uv_stop is called or nothing is left to do. Returns 0. */
int rt_uv_run(rt_uv *u);
/* Make rt_uv_run return after the current iteration (safe from any callback or signal handler
 * run by the loop). */
void rt_uv_stop(rt_uv *u);

/* The underlying loop, for the entry points' signal handling (uv_signal_t). */
struct uv_loop_s *rt_uv_loop(rt_uv *u);

#endif
