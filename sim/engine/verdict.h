/*
 * verdict.h — the end of a run, shared by sim mode (engine.c) and live mode (live.c): the
 * metrics.csv columns, judging the scenario's expectations against the final metrics, and
 * writing summary.json and junit.xml (docs/outputs.md).
 *
 * Ownership: the recorder is borrowed; `metrics` and `extra` passed to verdict_write are taken
 * (freed before it returns); the violations list is borrowed.
 */
#ifndef FL_VERDICT_H
#define FL_VERDICT_H

#include "engine.h"
#include "recorder.h"
#include "../scenario/scenario.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* The metrics.csv columns after "t" (docs/outputs.md), in order. */
extern const char *const verdict_columns[];
#define VERDICT_NCOLS 28

/* One expectation against the metrics: 1 holds, 0 fails (why in `why`). Adds metric, min/max/
 * equals and value to `out`. */
int verdict_judge(const sc_expect *x, const cJSON *metrics, cJSON *out, char *why, size_t len);

typedef struct verdict_in {
	const scenario *sc;
	const char *mode;             /* "sim" or "live" */
	recorder *rec;
	uint64_t now_ns;              /* end of the run: time of the "expect" events and junit */
	int violations;               /* how many were recorded */
	const cJSON *violation_list;  /* [{t, invariant, node, detail}] (borrowed) */
	cJSON *extra;                 /* added to summary.json under "live" etc. (taken; may be NULL) */
	const char *extra_key;        /* its key */
} verdict_in;

/*
 * Judge every expectation (an "expect" event each), fill res (expect_failed, first_failure,
 * violations, ok, events_hash, events; the caller sets trace_hash, sim_time_s and wall_time_s
 * first) and write summary.json and junit.xml. Takes `metrics`.
 */
void verdict_write(const verdict_in *in, cJSON *metrics, engine_result *res);

#endif
