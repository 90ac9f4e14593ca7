/*
 * stats.h — a latency histogram with logarithmic buckets (about 4% wide, 1 µs to ~5 h), fixed
 * size, no allocation: cheap enough to keep one per round per second of a run.
 */
#ifndef FL_STATS_H
#define FL_STATS_H

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

#endif
