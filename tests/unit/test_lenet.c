/* test_lenet.c — LeNet-5 forward/backward against an independent double-precision reference,
 * finite-difference gradient checks, SGD on real Fashion-MNIST, argument checks. */
#include "../../sim/fleet/dataset.h"
#include "../../sim/fleet/lenet.h"
#include "../../node/model/model.h"

#include <cblas.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- naive double-precision reference (direct loops, per image, NCHW) ---- */

struct ref_off {
	size_t c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b, f3w, f3b;
};

static struct ref_off ref_offsets(void)
{
	model_def def;
	struct ref_off o;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
#define OFF(name) def.tensors[model_def_find(&def, name)].offset
	o.c1w = OFF("conv1.weight");
	o.c1b = OFF("conv1.bias");
	o.c2w = OFF("conv2.weight");
	o.c2b = OFF("conv2.bias");
	o.f1w = OFF("fc1.weight");
	o.f1b = OFF("fc1.bias");
	o.f2w = OFF("fc2.weight");
	o.f2b = OFF("fc2.bias");
	o.f3w = OFF("fc3.weight");
	o.f3b = OFF("fc3.bias");
#undef OFF
	return o;
}

static void ref_pool(const double *a, int ch, int h, double *p)
{
	int ho = h / 2;

	for (int c = 0; c < ch; c++)
		for (int y = 0; y < ho; y++)
			for (int x = 0; x < ho; x++) {
				const double *q = a + c * h * h + 2 * y * h + 2 * x;
				double m = q[0];

				m = q[1] > m ? q[1] : m;
				m = q[h] > m ? q[h] : m;
				m = q[h + 1] > m ? q[h + 1] : m;
				p[c * ho * ho + y * ho + x] = m;
			}
}

static void ref_dense(const double *w, const double *b, const double *in, int nin, int nout,
		      int relu, double *out)
{
	for (int j = 0; j < nout; j++) {
		double s = b[j];

		for (int i = 0; i < nin; i++)
			s += w[j * nin + i] * in[i];
		out[j] = relu && s < 0 ? 0 : s;
	}
}

/* Mean cross-entropy over n images; logits (n x 10) written if not NULL. */
static double ref_loss(const struct ref_off *o, const double *w, const float *x,
		       const uint8_t *y, int n, double *logits)
{
	double a1[6 * 28 * 28], p1[6 * 14 * 14], a2[16 * 10 * 10], p2[400];
	double h1[120], h2[84], z[10], loss = 0;

	for (int b = 0; b < n; b++) {
		const float *img = x + b * 784;

		for (int oc = 0; oc < 6; oc++)
			for (int oy = 0; oy < 28; oy++)
				for (int ox = 0; ox < 28; ox++) {
					double s = w[o->c1b + oc];

					for (int ky = 0; ky < 5; ky++)
						for (int kx = 0; kx < 5; kx++) {
							int iy = oy + ky - 2, ix = ox + kx - 2;

							if (iy >= 0 && iy < 28 && ix >= 0 && ix < 28)
								s += w[o->c1w + oc * 25 + ky * 5 + kx] *
								     img[iy * 28 + ix];
						}
					a1[oc * 784 + oy * 28 + ox] = s > 0 ? s : 0;
				}
		ref_pool(a1, 6, 28, p1);
		for (int oc = 0; oc < 16; oc++)
			for (int oy = 0; oy < 10; oy++)
				for (int ox = 0; ox < 10; ox++) {
					double s = w[o->c2b + oc];

					for (int c = 0; c < 6; c++)
						for (int ky = 0; ky < 5; ky++)
							for (int kx = 0; kx < 5; kx++)
								s += w[o->c2w + oc * 150 + c * 25 + ky * 5 +
								       kx] *
								     p1[c * 196 + (oy + ky) * 14 + ox + kx];
					a2[oc * 100 + oy * 10 + ox] = s > 0 ? s : 0;
				}
		ref_pool(a2, 16, 10, p2); /* flattened NCHW: c*25 + y*5 + x */
		ref_dense(w + o->f1w, w + o->f1b, p2, 400, 120, 1, h1);
		ref_dense(w + o->f2w, w + o->f2b, h1, 120, 84, 1, h2);
		ref_dense(w + o->f3w, w + o->f3b, h2, 84, 10, 0, z);
		{
			double m = z[0], s = 0;

			for (int j = 1; j < 10; j++)
				m = z[j] > m ? z[j] : m;
			for (int j = 0; j < 10; j++)
				s += exp(z[j] - m);
			loss += log(s) + m - z[y[b]];
		}
		if (logits)
			memcpy(logits + b * 10, z, sizeof z);
	}
	return loss / n;
}

/* ---- fixtures ---- */

static void random_batch(uint64_t seed, int n, float *x, uint8_t *y)
{
	rt_rng r;

	rt_rng_seed(&r, seed);
	for (int i = 0; i < n * 784; i++)
		x[i] = (float)rt_rng_double(&r);
	for (int i = 0; i < n; i++)
		y[i] = (uint8_t)(rt_rng_u64(&r) % 10);
}

/* lenet5 weights from the model's init, with small random biases so bias paths are generic. */
static void test_params(uint64_t seed, float *w)
{
	model_def def;
	rt_rng r;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	model_init_weights(&def, seed, w);
	rt_rng_seed(&r, seed + 1000);
	for (size_t t = 0; t < def.ntensors; t++)
		if (strstr(def.tensors[t].name, ".bias"))
			for (size_t i = 0; i < def.tensors[t].count; i++)
				w[def.tensors[t].offset + i] =
					(float)(0.1 * (rt_rng_double(&r) - 0.5));
}

static void setup(void) { openblas_set_num_threads(1); }

/* ---- tests ---- */

START_TEST(test_layout_and_flops)
{
	model_def def;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	ck_assert_uint_eq(def.total, LENET_PARAMS);
	/* 2*(6*25*784 + 16*150*100 + 400*120 + 120*84 + 84*10) */
	ck_assert(fabs(lenet_gflop_forward() - 833040e-9) < 1e-15);
	/* + conv1 weight grad, conv2 and dense weight and input grads */
	ck_assert(fabs(lenet_gflop_train() - 2263920e-9) < 1e-15);
}
END_TEST

START_TEST(test_forward_matches_reference)
{
	enum { N = 5 };
	struct ref_off o = ref_offsets();
	float *w = malloc(LENET_PARAMS * sizeof *w), x[N * 784], logits[N * 10];
	double *wd = malloc(LENET_PARAMS * sizeof *wd), ref[N * 10];
	uint8_t y[N];
	lenet_ws *ws = lenet_ws_new(2); /* N > max_batch: exercises chunking */
	float acc, loss;
	double rl;

	ck_assert_ptr_nonnull(ws);
	test_params(3, w);
	random_batch(11, N, x, y);
	for (int i = 0; i < LENET_PARAMS; i++)
		wd[i] = w[i];
	rl = ref_loss(&o, wd, x, y, N, ref);
	ck_assert_int_eq(lenet_forward(ws, w, x, N, logits), 0);
	for (int i = 0; i < N * 10; i++)
		ck_assert_msg(fabs(logits[i] - ref[i]) < 1e-4 * (1 + fabs(ref[i])),
			      "logit %d: %g vs %g", i, logits[i], ref[i]);
	ck_assert_int_eq(lenet_evaluate(ws, w, x, y, N, &acc, &loss), 0);
	ck_assert(acc >= 0 && acc <= 1);
	ck_assert_msg(fabs(loss - rl) < 1e-4, "loss %g vs %g", loss, rl);
	lenet_ws_free(ws);
	free(w);
	free(wd);
}
END_TEST

START_TEST(test_gradient_check)
{
	enum { N = 3, SAMPLES = 8 };
	struct ref_off o = ref_offsets();
	model_def def;
	float *w = malloc(LENET_PARAMS * sizeof *w), *g = malloc(LENET_PARAMS * sizeof *g);
	double *wd = malloc(LENET_PARAMS * sizeof *wd);
	float x[N * 784], loss;
	uint8_t y[N];
	lenet_ws *ws = lenet_ws_new(N);
	rt_rng r;
	const double h = 1e-6;

	ck_assert_ptr_nonnull(ws);
	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	test_params(5, w);
	random_batch(17, N, x, y);
	ck_assert_int_eq(lenet_loss_grad(ws, w, x, y, N, g, &loss), 0);
	for (int i = 0; i < LENET_PARAMS; i++)
		wd[i] = w[i];
	ck_assert(fabs(loss - ref_loss(&o, wd, x, y, N, NULL)) < 1e-4);
	rt_rng_seed(&r, 99);
	for (size_t t = 0; t < def.ntensors; t++) {
		const model_tensor_def *td = &def.tensors[t];
		size_t coords[SAMPLES + 1], big = 0;

		/* Random coordinates plus the one with the largest analytic gradient. */
		for (size_t i = 0; i < td->count; i++)
			if (fabsf(g[td->offset + i]) > fabsf(g[td->offset + big]))
				big = i;
		ck_assert_msg(fabsf(g[td->offset + big]) > 1e-5f, "%s: gradient all ~0", td->name);
		coords[0] = big;
		for (int k = 1; k <= SAMPLES; k++)
			coords[k] = rt_rng_u64(&r) % td->count;
		for (int k = 0; k <= SAMPLES; k++) {
			size_t i = td->offset + coords[k];
			double keep = wd[i], fd, an = g[i], err;

			wd[i] = keep + h;
			fd = ref_loss(&o, wd, x, y, N, NULL);
			wd[i] = keep - h;
			fd = (fd - ref_loss(&o, wd, x, y, N, NULL)) / (2 * h);
			wd[i] = keep;
			err = fabs(an - fd) / fmax(fmax(fabs(an), fabs(fd)), 1e-4);
			ck_assert_msg(err < 1e-2, "%s[%zu]: analytic %.8g, finite difference %.8g",
				      td->name, coords[k], an, fd);
		}
	}
	lenet_ws_free(ws);
	free(w);
	free(g);
	free(wd);
}
END_TEST

START_TEST(test_grad_chunking)
{
	enum { N = 5 };
	float *w = malloc(LENET_PARAMS * sizeof *w), *g1 = malloc(LENET_PARAMS * sizeof *g1);
	float *g2 = malloc(LENET_PARAMS * sizeof *g2), x[N * 784], l1, l2;
	uint8_t y[N];
	lenet_ws *big = lenet_ws_new(N), *small = lenet_ws_new(2);

	test_params(8, w);
	random_batch(21, N, x, y);
	ck_assert_int_eq(lenet_loss_grad(big, w, x, y, N, g1, &l1), 0);
	ck_assert_int_eq(lenet_loss_grad(small, w, x, y, N, g2, &l2), 0);
	ck_assert(fabsf(l1 - l2) < 1e-5f);
	for (int i = 0; i < LENET_PARAMS; i++)
		ck_assert_msg(fabsf(g1[i] - g2[i]) < 1e-5f * (1 + fabsf(g1[i])), "i=%d", i);
	lenet_ws_free(big);
	lenet_ws_free(small);
	free(w);
	free(g1);
	free(g2);
}
END_TEST

START_TEST(test_bad_arguments)
{
	float *w = calloc(LENET_PARAMS, sizeof *w), *g = malloc(LENET_PARAMS * sizeof *g);
	float x[2 * 784] = { 0 }, z[20];
	uint8_t y[2] = { 1, 10 };
	lenet_ws *ws = lenet_ws_new(2);
	rt_rng r;

	rt_rng_seed(&r, 1);
	ck_assert_ptr_null(lenet_ws_new(0));
	ck_assert_int_eq(lenet_ws_max_batch(ws), 2);
	ck_assert_int_eq(lenet_forward(ws, w, x, 0, z), LENET_EINVAL);
	ck_assert_int_eq(lenet_forward(NULL, w, x, 1, z), LENET_EINVAL);
	ck_assert_int_eq(lenet_loss_grad(ws, w, x, y, 2, g, NULL), LENET_EINVAL); /* label 10 */
	ck_assert_int_eq(lenet_evaluate(ws, w, x, y, 2, NULL, NULL), LENET_EINVAL);
	y[1] = 3;
	ck_assert_int_eq(lenet_sgd_epochs(ws, w, x, y, 2, 1, 3, 0.1f, &r, NULL), LENET_EINVAL);
	ck_assert_int_eq(lenet_sgd_epochs(ws, w, x, y, 2, 1, 2, 0.1f, NULL, NULL), LENET_EINVAL);
	ck_assert_int_eq(lenet_sgd_epochs(ws, w, x, y, 2, 1, 2, NAN, &r, NULL), LENET_EINVAL);
	ck_assert_int_eq(lenet_sgd_epochs(ws, w, x, y, 2, 1, 2, 0.1f, &r, NULL), 0);
	lenet_ws_free(ws);
	lenet_ws_free(NULL);
	free(w);
	free(g);
}
END_TEST

START_TEST(test_sgd_deterministic)
{
	enum { N = 48 };
	float *a = malloc(LENET_PARAMS * sizeof *a), *b = malloc(LENET_PARAMS * sizeof *b);
	float x[N * 784], la, lb;
	uint8_t y[N];
	uint32_t idx[N / 2];
	lenet_ws *ws = lenet_ws_new(16);
	rt_rng ra, rb;

	random_batch(5, N, x, y);
	test_params(1, a);
	memcpy(b, a, LENET_PARAMS * sizeof *a);
	rt_rng_seed(&ra, 77);
	rt_rng_seed(&rb, 77);
	ck_assert_int_eq(lenet_sgd_epochs(ws, a, x, y, N, 2, 16, 0.05f, &ra, &la), 0);
	ck_assert_int_eq(lenet_sgd_epochs(ws, b, x, y, N, 2, 16, 0.05f, &rb, &lb), 0);
	ck_assert_int_eq(memcmp(a, b, LENET_PARAMS * sizeof *a), 0);
	ck_assert(la == lb && la > 0);
	/* The index variant on every other sample. */
	for (int i = 0; i < N / 2; i++)
		idx[i] = (uint32_t)(2 * i);
	ck_assert_int_eq(lenet_sgd_epochs_idx(ws, a, x, y, idx, N / 2, 1, 8, 0.05f, &ra, &la), 0);
	ck_assert_int_eq(lenet_sgd_epochs_idx(ws, b, x, y, idx, N / 2, 1, 8, 0.05f, &rb, &lb), 0);
	ck_assert_int_eq(memcmp(a, b, LENET_PARAMS * sizeof *a), 0);
	ck_assert(isfinite(la) && la == lb);
	lenet_ws_free(ws);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_sgd_learns_fashion_mnist)
{
	enum { N = 512 };
	char err[DATASET_ERR_MAX];
	dataset d;
	float *w = malloc(LENET_PARAMS * sizeof *w), acc0, loss0, acc1, loss1, avg;
	lenet_ws *ws = lenet_ws_new(32);
	model_def def;
	rt_rng r;
	int rc;

	rc = dataset_load_fashion_mnist(NULL, "train", N, &d, err, sizeof err);
	if (rc == DATASET_ENOENT) {
		fprintf(stderr, "test_sgd_learns_fashion_mnist: SKIPPED: %s\n", err);
		goto out;
	}
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	model_init_weights(&def, 2024, w);
	rt_rng_seed(&r, 3);
	ck_assert_int_eq(lenet_evaluate(ws, w, d.images, d.labels, N, &acc0, &loss0), 0);
	/* 20 epochs of 16 steps: 320 SGD steps. */
	ck_assert_int_eq(lenet_sgd_epochs(ws, w, d.images, d.labels, N, 20, 32, 0.05f, &r, &avg),
			 0);
	ck_assert_int_eq(lenet_evaluate(ws, w, d.images, d.labels, N, &acc1, &loss1), 0);
	fprintf(stderr, "sgd on %d images: loss %.3f -> %.3f (last epoch %.3f), acc %.3f -> %.3f\n",
		N, loss0, loss1, avg, acc0, acc1);
	ck_assert(loss0 > 1.5f);
	ck_assert_msg(loss1 < 0.5f * loss0, "loss %g -> %g", loss0, loss1);
	ck_assert(acc1 >= 0 && acc1 <= 1);
	ck_assert_msg(acc1 > 0.75f, "accuracy %g", acc1);
	dataset_free(&d);
out:
	lenet_ws_free(ws);
	free(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lenet");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_layout_and_flops);
	tcase_add_test(tc, test_forward_matches_reference);
	tcase_add_test(tc, test_gradient_check);
	tcase_add_test(tc, test_grad_chunking);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_sgd_deterministic);
	tcase_add_test(tc, test_sgd_learns_fashion_mnist);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
