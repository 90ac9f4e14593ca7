/*
 * fedavg_bench.c — aggregation bandwidth: fedavg_accumulate (acc += weight * w, OpenBLAS saxpy,
 * single-threaded as the server runs it) over memcpy of the same bytes, side by side.
 *
 *   fedavg_bench [--floats N] [--blocks B] [--block_ms MS]
 *   fedavg_bench --floor K --model NAME
 *
 * Both are timed in alternating blocks of about MS milliseconds each (B blocks of each), so a
 * noisy neighbour slows both alike; each figure is the median block. GB/s counts the upload's
 * bytes (N * 4) per operation in both: what the server must fold in per second, against what
 * the machine copies per second. Default N is LeNet-5's 61706 floats (an upload that stays in
 * cache); pass a large N (e.g. 16777216) for the memory-bound case. Prints:
 *   fedavg floats N bytes B accumulate_GB/s X memcpy_GB/s Y ratio R
 *
 * --floor K: the work no simulator can skip (sim_floor_ratio in make bench): K uploads of model
 * NAME, each accumulated once into one FedAvg sum, from a pool of FLOOR_POOL distinct buffers
 * (uploads arrive in fresh buffers, not in cache). Timed three times; prints the median:
 *   floor uploads K floats N seconds S uploads/s U
 */
#include "bench_util.h"
#include "node/model/model.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 1000
#define FLOOR_POOL 64

static int floor_run(long k, const char *model)
{
	model_def def;
	if (k < 1 || model_def_parse(model, &def)) {
		fprintf(stderr, "fedavg_bench: --floor needs a count >= 1 and a model (lenet5, synthetic:N)\n");
		return 2;
	}
	size_t n = def.total;
	float *acc = calloc(n, sizeof(float)), *pool = malloc(FLOOR_POOL * n * sizeof(float));
	if (!acc || !pool) {
		fprintf(stderr, "fedavg_bench: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < FLOOR_POOL * n; i++)
		pool[i] = 0.01f * (float)((i * 7919) % 201) - 1.0f + 0.005f;
	double t[3];
	for (int r = 0; r < 3; r++) {
		double t0 = bench_now_s();
		for (long u = 0; u < k; u++)
			fedavg_accumulate(acc, pool + (size_t)(u % FLOOR_POOL) * n, n, 32.0f);
		t[r] = bench_now_s() - t0;
	}
	double s = bench_median(t, 3);
	printf("floor uploads %ld floats %zu seconds %.6f uploads/s %.1f (check %.3g)\n", k, n, s,
	       s > 0 ? (double)k / s : 0, (double)acc[n / 2]);
	free(acc);
	free(pool);
	return 0;
}

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

	openblas_set_num_threads(1);
	if (argc == 5 && !strcmp(argv[1], "--floor") && !strcmp(argv[3], "--model"))
		return floor_run(atol(argv[2]), argv[4]);
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "usage: fedavg_bench [--floats N] [--blocks B] [--block_ms MS]\n"
					"       fedavg_bench --floor K --model NAME\n");
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
