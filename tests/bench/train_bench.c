/*
 * train_bench.c — training speed: GFLOP/s of real LeNet-5 mini-batch SGD (sim/fleet/lenet.c, the
 * code the fleet trains with) over OpenBLAS sgemm GFLOP/s on the same core, side by side.
 *
 *   train_bench [--samples N] [--batch B] [--gemm S] [--blocks K]
 *
 * Single-threaded (openblas_set_num_threads(1)), as devices train under simulation. LeNet: one
 * epoch of lenet_sgd_epochs over N synthetic 28x28 images (uniform [0,1), random labels; the
 * work does not depend on the values) from the same initial weights each block; GFLOP/s counts
 * lenet_gflop_train() per sample (the GEMMs of forward and backward; im2col, pooling and the
 * element-wise work are real time but not counted). Baseline: cblas_sgemm of S x S by S x S
 * (2*S^3 flop), a shape OpenBLAS runs near the core's peak. The two alternate in K blocks; each
 * figure is the median block. Prints:
 *   train lenet_GFLOP/s X sgemm_GFLOP/s Y ratio R samples N batch B gemm S
 */
#include "bench_util.h"
#include "node/model/model.h"
#include "node/rt/rt.h"
#include "sim/fleet/lenet.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 100

int main(int argc, char **argv)
{
	int samples = 1024, batch = 32, gemm = 1024, blocks = 5;
	static double gl[MAX_BLOCKS], gg[MAX_BLOCKS];

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "usage: train_bench [--samples N] [--batch B] [--gemm S] [--blocks K]\n");
			return 2;
		}
		int v = atoi(argv[i + 1]);
		if (!strcmp(argv[i], "--samples"))
			samples = v;
		else if (!strcmp(argv[i], "--batch"))
			batch = v;
		else if (!strcmp(argv[i], "--gemm"))
			gemm = v;
		else if (!strcmp(argv[i], "--blocks"))
			blocks = v;
		else {
			fprintf(stderr, "train_bench: unknown option %s\n", argv[i]);
			return 2;
		}
		i++;
	}
	if (samples < 1 || samples > 100000 || batch < 1 || batch > 1024 || gemm < 16 || gemm > 8192 ||
	    blocks < 1 || blocks > MAX_BLOCKS) {
		fprintf(stderr, "train_bench: bad --samples, --batch, --gemm or --blocks\n");
		return 2;
	}
	openblas_set_num_threads(1);

	model_def def;
	lenet_ws *ws = lenet_ws_new(batch);
	float *p0 = malloc(LENET_PARAMS * sizeof(float)), *p = malloc(LENET_PARAMS * sizeof(float));
	float *img = malloc((size_t)samples * LENET_IMAGE * sizeof(float));
	uint8_t *lab = malloc((size_t)samples);
	size_t gn = (size_t)gemm * (size_t)gemm;
	float *ga = malloc(gn * sizeof(float)), *gb = malloc(gn * sizeof(float)),
	      *gc = malloc(gn * sizeof(float));
	if (model_def_parse("lenet5", &def) || def.total != LENET_PARAMS || !ws || !p0 || !p || !img ||
	    !lab || !ga || !gb || !gc) {
		fprintf(stderr, "train_bench: set-up failed (out of memory?)\n");
		return 1;
	}
	model_init_weights(&def, 1, p0);
	rt_rng rng;
	rt_rng_seed(&rng, 42);
	for (size_t i = 0; i < (size_t)samples * LENET_IMAGE; i++)
		img[i] = (float)rt_rng_double(&rng);
	for (int i = 0; i < samples; i++)
		lab[i] = (uint8_t)(rt_rng_u64(&rng) % LENET_CLASSES);
	for (size_t i = 0; i < gn; i++) {
		ga[i] = (float)rt_rng_double(&rng) - 0.5f;
		gb[i] = (float)rt_rng_double(&rng) - 0.5f;
	}
	double lflop = lenet_gflop_train() * samples;
	double gflop = 2.0 * (double)gemm * gemm * gemm * 1e-9;
	/* sgemm calls per block: about as long as one LeNet epoch, from a trial call of each */
	float loss = 0;
	memcpy(p, p0, LENET_PARAMS * sizeof(float));
	double t = bench_now_s();
	int rc = lenet_sgd_epochs(ws, p, img, lab, samples, 1, batch, 0.01f, &rng, &loss);
	double tl = bench_now_s() - t;
	t = bench_now_s();
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, gemm, gemm, gemm, 1.0f, ga, gemm, gb,
		    gemm, 0.0f, gc, gemm);
	double tg = bench_now_s() - t;
	if (rc) {
		fprintf(stderr, "train_bench: lenet_sgd_epochs failed: %d\n", rc);
		return 1;
	}
	int greps = (int)(tl / (tg > 0 ? tg : 1e-9)) + 1;
	for (int k = 0; k < blocks; k++) {
		memcpy(p, p0, LENET_PARAMS * sizeof(float));
		t = bench_now_s();
		lenet_sgd_epochs(ws, p, img, lab, samples, 1, batch, 0.01f, &rng, &loss);
		t = bench_now_s() - t;
		gl[k] = t > 0 ? lflop / t : 0;
		t = bench_now_s();
		for (int r = 0; r < greps; r++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, gemm, gemm, gemm, 1.0f, ga,
				    gemm, gb, gemm, 0.0f, gc, gemm);
		t = bench_now_s() - t;
		gg[k] = t > 0 ? gflop * greps / t : 0;
	}
	double l = bench_median(gl, (size_t)blocks), g = bench_median(gg, (size_t)blocks);
	printf("train lenet_GFLOP/s %.3f sgemm_GFLOP/s %.3f ratio %.3f samples %d batch %d gemm %d "
	       "(loss %.3f, check %.3g)\n", l, g, g > 0 ? l / g : 0, samples, batch, gemm, loss,
	       (double)gc[gn / 2]);
	lenet_ws_free(ws);
	free(p0);
	free(p);
	free(img);
	free(lab);
	free(ga);
	free(gb);
	free(gc);
	return 0;
}
