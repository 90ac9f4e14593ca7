/*
 * sweep.h — `sim sweep` and `sim sweep-merge`: many runs of one scenario (seeds, and optionally a
 * grid of parameter values), split into shards that any batch engine can run (a Kubernetes
 * Indexed Job, a Slurm job array), and merged back into one result.
 *
 * The runs of a sweep are the grid's cells (every combination of the --param values, the first
 * --param varying slowest) times the seeds A..B; run r is cell r / nseeds, seed A + r % nseeds.
 * Shard I of N runs exactly the runs with r % N == I (round robin, so a slow stretch of seeds or
 * cells is spread over the shards). Each shard writes OUT/shard-I/sweep.json (the shard's result
 * file, docs/at-scale.md) and the runs' outputs under it; an unsharded sweep writes OUT/sweep.json
 * and merges it in place. The merge writes, into one directory:
 *
 *   summary.json  the verdict, counts, per-cell figures (mean, sd, min, max over seeds), failures
 *   junit.xml     one testcase per run (time = simulated seconds: wall time would differ by shard)
 *   failing.txt   one line per failing run with its replay command, in run order
 *   sweep.csv     one row per run: cell, parameter values, seed, exit, ok, figures
 *   sweep.html    with --param: a plot per figure against the first parameter (reports/sweep_report.h)
 *
 * None of these depends on how the sweep was sharded, on wall time or on output paths, so a
 * merged sweep is byte for byte the unsharded one. Exit statuses: 0 every run passed, 1 one
 * failed, 2 bad input (saying what and where).
 */
#ifndef FL_SWEEP_H
#define FL_SWEEP_H

#include "param.h"

#include <stdint.h>

#define SWEEP_MAX_SEED 9007199254740991ULL /* seeds travel as JSON numbers (doubles) */
#define SWEEP_MAX_RUNS 1000000

typedef struct sweep_opts {
	const char *file;      /* the scenario */
	const char *out;       /* NULL: reports/out/<scenario>/sweep */
	const char *duration;  /* NULL: the scenario's */
	uint64_t seed_a, seed_b;
	int jobs;              /* runs at once (forked children) */
	int swarm, invariants_only, quiet;
	int shard_index, shard_count; /* 0 and 1: everything, merged in place */
	double target_accuracy;       /* time.to_accuracy_s: first evaluation at least this */
	size_t naxes;
	param_axis axes[PARAM_MAX];
} sweep_opts;

/* "A..B" into o->seed_a/seed_b. 0, or -1 with err. */
int sweep_parse_seeds(const char *s, sweep_opts *o, char *err, size_t errlen);

/*
 * "I/N", "auto" or "auto/N". auto takes I from $JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
 * $SLURM_ARRAY_TASK_ID (less $SLURM_ARRAY_TASK_MIN, so an array 1-8 works), and N from /N or
 * $SLURM_ARRAY_TASK_COUNT (Kubernetes tells a pod no completion count: say auto/N there).
 */
int sweep_parse_shard(const char *s, sweep_opts *o, char *err, size_t errlen);

/* Run the sweep (or its shard). Returns the exit status. */
int sweep_run(const sweep_opts *o);

/*
 * Merge: each dir holds a sweep.json, or shard-N/sweep.json directories below it. Every shard of one sweep
 * must be there exactly once. out NULL: <parent of dirs[0]>/merged. Returns the exit status.
 */
int sweep_merge(const char *const *dirs, size_t ndirs, const char *out, int quiet);

#endif
