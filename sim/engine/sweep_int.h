/*
 * sweep_int.h — what sweep.c (running a sweep or a shard) and sweep_merge.c (merging shard
 * results, writing the outputs) share. Not for use outside sim/sweep*.c.
 *
 * sweep.json, a shard's result file:
 *   {"format": "flbench-sweep-1",
 *    "sweep": {"file", "scenario", "seeds": [A, B], "duration" (string or null), "swarm",
 *              "invariants_only", "target_accuracy", "params": [{"path", "values": [..]}]},
 *    "shard": {"index": I, "count": N},
 *    "runs": [{"run", "cell", "seed", "exit", "failure", "trace_hash", "sim_time_s",
 *              "wall_time_s", "figures": {name: number}, "outputs"}]}
 * Shards of one sweep have the same "sweep" object, byte for byte once printed.
 */
#ifndef FL_SWEEP_INT_H
#define FL_SWEEP_INT_H

#include "sweep.h"

#include <cjson/cJSON.h>

#define SWEEP_FORMAT "flbench-sweep-1"

/* The figures collected per run, in CSV and plot order (docs/at-scale.md says what each is). */
#define SWEEP_NFIGS 4
extern const char *const sweep_fig_names[SWEEP_NFIGS];

/* mkdir -p. 0 or -errno. */
int sweep_mkdirs(const char *path);

/* Read and parse a JSON file: NULL with err ("PATH: why") on failure. Caller deletes. */
cJSON *sweep_read_json(const char *path, char *err, size_t errlen);

/* Write j (formatted) to path atomically (temporary file + rename). 0 or -errno. */
int sweep_write_json(const char *path, const cJSON *j);

/* The "sweep" object of o, with the scenario's name. Caller deletes; NULL on out of memory. */
cJSON *sweep_spec_json(const sweep_opts *o, const char *scenario_name);

#endif
