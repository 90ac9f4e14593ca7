/*
 * engine.h — runs a scenario in sim mode: the real scheduler and servers (cluster.h) and a device
 * fleet on rt_sim, network faults through netem, the scenario's events at virtual times or on
 * conditions, the invariants of docs/design.md checked as the run goes, metrics recorded, expectations
 * judged at the end, and the output files of docs/outputs.md written.
 */
#ifndef FL_ENGINE_H
#define FL_ENGINE_H

#include "../scenario/scenario.h"

#include <stdint.h>

typedef struct engine_opts {
	const char *out_dir; /* NULL = record nothing on disk */
	int progress;        /* print a progress line (on a TTY) */
	int verbose;         /* node logs to stderr */
	const char *log_file; /* node logs to this file (NULL = DIR/nodes.log when out_dir is set) */
} engine_opts;

typedef struct engine_result {
	int ok;            /* every expectation holds and no invariant was violated */
	int expect_failed; /* how many expectations failed */
	int violations;
	uint64_t trace_hash, events_hash, events;
	double sim_time_s, wall_time_s;
	char first_failure[512]; /* which expectation or invariant, with the figure */
	char hint[384];          /* the likely cause when every iteration failed, else "" */
} engine_result;

/*
 * Run sc with sc->seed. Returns 0 when the run happened (res->ok tells the verdict), SC_EINVAL
 * with err for input that only shows up when the cluster is built (a bad cluster.config key),
 * or another negative code for an I/O failure writing the outputs.
 */
int engine_run(const scenario *sc, const engine_opts *o, engine_result *res, char *err, size_t errlen);

#endif
