/*
 * fedavg_bench.c — aggregation bandwidth: fedavg_accumulate (acc += weight * w, OpenBLAS saxpy,
 * single-threaded as the server runs it) over memcpy of the same bytes, side by side.
 *
 *   fedavg_bench [--floats N] [--blocks B] [--block_ms MS]
 *
 * Both are timed in alternating blocks of about MS milliseconds each (B blocks of each), so a
 * noisy neighbour slows both alike; each figure is the median block. GB/s counts the upload's
 * bytes (N * 4) per operation in both: what the server must fold in per second, against what
 * the machine copies per second. Default N is LeNet-5's 61706 floats (an upload that stays in
 * cache); pass a large N (e.g. 16777216) for the memory-bound case. Prints:
 *   fedavg floats N bytes B accumulate_GB/s X memcpy_GB/s Y ratio R
 */
#include "bench_util.h"
#include "node/model/model.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 1000

/* Repetitions that take about ms milliseconds, from a short trial of fn. */
static long calibrate(void (*fn)(void *), void *arg, double ms)
{
	long reps = 1;

	for (;;) {
		double t = bench_now_s();
		for (long i = 0; i < reps; i++)
			fn(arg);
		t = bench_now_s() - t;
		if (t * 1000 >= ms / 4 || reps > (1L << 40))
			return (long)((double)reps * ms / 1000 / (t > 0 ? t : 1e-9)) + 1;
		reps *= 2;
	}
}

typedef struct bufs {
	float *acc, *w, *dst;
	size_t n;
	float weight;
} bufs;

static void do_acc(void *p)
{
	bufs *b = p;

	fedavg_accumulate(b->acc, b->w, b->n, b->weight);
}

static void do_copy(void *p)
{
	bufs *b = p;

	memcpy(b->dst, b->w, b->n * sizeof(float));
}

static double block(void (*fn)(void *), bufs *b, long reps)
{
	double t = bench_now_s();

	for (long i = 0; i < reps; i++)
		fn(b);
	t = bench_now_s() - t;
	return t > 0 ? (double)reps * (double)b->n * sizeof(float) / t / 1e9 : 0;
}

int main(int argc, char **argv)
{
	size_t n = 61706;
	int blocks = 15;
	double block_ms = 30;
	static double ga[MAX_BLOCKS], gc[MAX_BLOCKS];

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "usage: fedavg_bench [--floats N] [--blocks B] [--block_ms MS]\n");
			return 2;
		}
		if (!strcmp(argv[i], "--floats"))
			n = (size_t)strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--blocks"))
			blocks = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--block_ms"))
			block_ms = atof(argv[++i]);
		else {
			fprintf(stderr, "fedavg_bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (n < 1 || n > (1UL << 30) || blocks < 1 || blocks > MAX_BLOCKS || block_ms <= 0) {
		fprintf(stderr, "fedavg_bench: bad --floats, --blocks (1..%d) or --block_ms\n", MAX_BLOCKS);
		return 2;
	}
	openblas_set_num_threads(1);
	bufs b = { malloc(n * sizeof(float)), malloc(n * sizeof(float)), malloc(n * sizeof(float)), n,
		   32.0f };
	if (!b.acc || !b.w || !b.dst) {
		fprintf(stderr, "fedavg_bench: out of memory for %zu floats\n", n);
		return 1;
	}
	/* normal numbers of an update's scale: no denormals to slow either side */
	for (size_t i = 0; i < n; i++) {
		b.w[i] = 0.01f * (float)((i * 7919) % 201) - 1.0f + 0.005f;
		b.acc[i] = 0.0f;
		b.dst[i] = 0.0f;
	}
	long ra = calibrate(do_acc, &b, block_ms), rc = calibrate(do_copy, &b, block_ms);
	for (int k = 0; k < blocks; k++) {
		ga[k] = block(do_acc, &b, ra);
		gc[k] = block(do_copy, &b, rc);
	}
	double a = bench_median(ga, (size_t)blocks), c = bench_median(gc, (size_t)blocks);
	/* read the outputs, so neither loop can be dropped as dead */
	double sink = (double)b.acc[n / 2] + (double)b.dst[n / 3];
	printf("fedavg floats %zu bytes %zu accumulate_GB/s %.3f memcpy_GB/s %.3f ratio %.3f "
	       "(check %.3g)\n", n, n * sizeof(float), a, c, c > 0 ? a / c : 0, sink);
	free(b.acc);
	free(b.w);
	free(b.dst);
	return 0;
}
