/*
 * stats.c — see stats.h. Bucket i holds values in [1000 * G^i, 1000 * G^(i+1)) ns with G = 1.04.
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define G 1.04

void lat_hist_reset(lat_hist *h) { memset(h, 0, sizeof *h); }

void lat_hist_add(lat_hist *h, uint64_t ns)
{
	int i = 0;
	if (ns > 1000)
		i = (int)(log((double)ns / 1000.0) / log(G));
	if (i >= LAT_BUCKETS)
		i = LAT_BUCKETS - 1;
	h->b[i]++;
	h->n++;
}

double lat_hist_quantile_ms(const lat_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)h->n), seen = 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < LAT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return 1000.0 * pow(G, i + 1) / 1e6;
	}
	return 1000.0 * pow(G, LAT_BUCKETS) / 1e6;
}

const char *const tally_round_names[TALLY_ROUNDS] = {"startFLJob", "updateModel", "getModel"};

void req_tally_add(req_tally *t, int round, int retcode, uint64_t lat_ns, size_t out, size_t in)
{
	if (round < 0 || round >= TALLY_ROUNDS)
		return;
	t->req[round]++;
	if (retcode == 200)
		t->ok[round]++;
	else
		t->rej[round]++;
	if (retcode < 0)
		t->conn_err++;
	t->bytes_out += out;
	t->bytes_in += in;
	lat_hist_add(&t->lat[round], lat_ns);
}

size_t req_tally_columns(const req_tally *t, double *v)
{
	size_t k = 0;
	for (int r = 0; r < TALLY_ROUNDS; r++)
		v[k++] = (double)t->req[r];
	for (int r = 0; r < TALLY_ROUNDS; r++)
		v[k++] = (double)t->ok[r];
	for (int r = 0; r < TALLY_ROUNDS; r++)
		v[k++] = (double)t->rej[r];
	for (int r = 0; r < TALLY_ROUNDS; r++) {
		v[k++] = lat_hist_quantile_ms(&t->lat[r], 0.50);
		v[k++] = lat_hist_quantile_ms(&t->lat[r], 0.90);
		v[k++] = lat_hist_quantile_ms(&t->lat[r], 0.99);
	}
	v[k++] = (double)t->bytes_in;
	v[k++] = (double)t->bytes_out;
	v[k++] = (double)t->conn_err;
	return k;
}

void req_tally_metrics(const req_tally *t, cJSON *m)
{
	static const struct {
		const char *name;
		double q;
	} pct[] = {{"p50_ms", 0.50}, {"p90_ms", 0.90}, {"p99_ms", 0.99}};
	char k[64];
	for (int r = 0; r < TALLY_ROUNDS; r++) {
		const char *rn = tally_round_names[r];
		snprintf(k, sizeof k, "requests.%s.total", rn);
		cJSON_AddNumberToObject(m, k, (double)t->req[r]);
		snprintf(k, sizeof k, "requests.%s.ok", rn);
		cJSON_AddNumberToObject(m, k, (double)t->ok[r]);
		snprintf(k, sizeof k, "requests.%s.rejected", rn);
		cJSON_AddNumberToObject(m, k, (double)t->rej[r]);
		for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
			snprintf(k, sizeof k, "latency.%s.%s", rn, pct[i].name);
			cJSON_AddNumberToObject(m, k, lat_hist_quantile_ms(&t->lat[r], pct[i].q));
		}
	}
}
