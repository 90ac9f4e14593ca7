/*
 * stats.h — a latency histogram with logarithmic buckets (about 4% wide, 1 µs to ~5 h), fixed
 * size, no allocation: cheap enough to keep one per round per second of a run.
 */
#ifndef FL_STATS_H
#define FL_STATS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define LAT_BUCKETS 512

typedef struct lat_hist {
	uint64_t n;
	uint32_t b[LAT_BUCKETS];
} lat_hist;

void lat_hist_reset(lat_hist *h);
void lat_hist_add(lat_hist *h, uint64_t ns);
/* The q-quantile in milliseconds (upper edge of its bucket); 0 when empty. */
double lat_hist_quantile_ms(const lat_hist *h, double q);

/*
 * The device requests of a run, by round, as both modes count them (sim mode from the fleet's
 * observer, live mode from fl-fleet's requests.csv): one tally per second for metrics.csv and one
 * for the whole run for summary.json.
 */
#define TALLY_ROUNDS 3 /* startFLJob, updateModel, getModel */
extern const char *const tally_round_names[TALLY_ROUNDS];

typedef struct req_tally {
	uint64_t req[TALLY_ROUNDS], ok[TALLY_ROUNDS], rej[TALLY_ROUNDS];
	uint64_t bytes_in, bytes_out, conn_err;
	lat_hist lat[TALLY_ROUNDS];
} req_tally;

/* One finished request: retcode 200 is SUCCEED, a negative one a connection failure. Bytes are
 * the device's: out = request, in = answer. Rounds past TALLY_ROUNDS are ignored. */
void req_tally_add(req_tally *t, int round, int retcode, uint64_t lat_ns, size_t out, size_t in);
/* The request columns of metrics.csv (docs/outputs.md: req_*, ok_*, rej_*, p50/p90/p99 per round,
 * bytes_in, bytes_out, conn_errors) into v; returns how many. */
size_t req_tally_columns(const req_tally *t, double *v);
/* requests.<round>.total/ok/rejected and latency.<round>.p50_ms/p90_ms/p99_ms into m. */
void req_tally_metrics(const req_tally *t, cJSON *m);

#endif
