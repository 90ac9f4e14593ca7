/*
 * stats.c — see stats.h. Bucket i holds values in [1000 * G^i, 1000 * G^(i+1)) ns with G = 1.04.
 */
#include "stats.h"

#include <math.h>
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
