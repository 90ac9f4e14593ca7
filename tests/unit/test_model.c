/* test_model.c — model definitions, deterministic init, FedAvg, hashing. */
#include "../../node/model/model.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_parse_lenet5)
{
	static const char *names[] = { "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
				       "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
				       "fc3.weight", "fc3.bias" };
	static const size_t counts[] = { 150, 6, 2400, 16, 48000, 120, 10080, 84, 840, 10 };
	model_def def;
	size_t off = 0;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	ck_assert_str_eq(def.name, "lenet5");
	ck_assert_uint_eq(def.ntensors, 10);
	ck_assert_uint_eq(def.total, 61706);
	for (size_t i = 0; i < 10; i++) {
		const model_tensor_def *t = &def.tensors[i];
		size_t prod = 1;

		ck_assert_str_eq(t->name, names[i]);
		ck_assert_uint_eq(t->count, counts[i]);
		ck_assert_uint_eq(t->offset, off);
		for (int d = 0; d < t->ndims; d++)
			prod *= t->dims[d];
		ck_assert_uint_eq(prod, t->count);
		ck_assert_int_eq(model_def_find(&def, names[i]), (int)i);
		off += t->count;
	}
	/* MindSpore layouts: conv [out, in, kh, kw], dense [out, in]. */
	ck_assert_int_eq(def.tensors[2].ndims, 4);
	ck_assert_uint_eq(def.tensors[2].dims[0], 16);
	ck_assert_uint_eq(def.tensors[2].dims[1], 6);
	ck_assert_int_eq(def.tensors[4].ndims, 2);
	ck_assert_uint_eq(def.tensors[4].dims[0], 120);
	ck_assert_uint_eq(def.tensors[4].dims[1], 400);
	ck_assert_int_eq(model_def_find(&def, "fc4.weight"), -1);
	ck_assert_int_eq(model_def_find(&def, NULL), -1);
}
END_TEST

START_TEST(test_parse_synthetic)
{
	model_def def;

	ck_assert_int_eq(model_def_parse("synthetic:1000", &def), 0);
	ck_assert_str_eq(def.name, "synthetic:1000");
	ck_assert_uint_eq(def.ntensors, 1);
	ck_assert_str_eq(def.tensors[0].name, "weights");
	ck_assert_uint_eq(def.tensors[0].count, 1000);
	ck_assert_uint_eq(def.total, 1000);
	ck_assert_int_eq(model_def_parse("synthetic:1", &def), 0);
	ck_assert_uint_eq(def.total, 1);
	ck_assert_int_eq(model_def_parse("synthetic:268435456", &def), 0);
	ck_assert_uint_eq(def.total, (size_t)1 << 28);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *bad[] = { "lenet", "lenet5 ", "LeNet5", "", "synthetic:0",
				     "synthetic:abc", "synthetic:", "synthetic:-5", "synthetic:+5",
				     "synthetic:12x", "synthetic: 12", "synthetic:268435457",
				     "synthetic:99999999999999999999999", "synthetic" };
	model_def def;

	memset(&def, 0x5a, sizeof def);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(model_def_parse(bad[i], &def) == MODEL_EINVAL, "accepted \"%s\"",
			      bad[i]);
	ck_assert_int_eq(model_def_parse(NULL, &def), MODEL_EINVAL);
	ck_assert_int_eq(model_def_parse("lenet5", NULL), MODEL_EINVAL);
}
END_TEST

START_TEST(test_fmap)
{
	model_def def;
	fmap m;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	ck_assert_int_eq(fmap_init(&m, &def), 0);
	ck_assert_ptr_eq(m.def, &def);
	for (size_t i = 0; i < def.total; i++)
		ck_assert(m.data[i] == 0.0f);
	ck_assert_ptr_eq(fmap_tensor(&m, 4), m.data + 150 + 6 + 2400 + 16);
	ck_assert_ptr_null(fmap_tensor(&m, 10));
	fmap_free(&m);
	ck_assert_ptr_null(m.data);
	fmap_free(&m); /* idempotent */
	ck_assert_int_eq(fmap_init(&m, NULL), MODEL_EINVAL);
}
END_TEST

START_TEST(test_init_deterministic)
{
	model_def def;
	float *a, *b, *c;

	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	a = malloc(def.total * sizeof *a);
	b = malloc(def.total * sizeof *b);
	c = malloc(def.total * sizeof *c);
	model_init_weights(&def, 42, a);
	model_init_weights(&def, 42, b);
	model_init_weights(&def, 43, c);
	ck_assert_int_eq(memcmp(a, b, def.total * sizeof *a), 0);
	ck_assert_uint_eq(model_hash(a, def.total), model_hash(b, def.total));
	ck_assert_int_ne(memcmp(a, c, def.total * sizeof *a), 0);
	ck_assert_uint_ne(model_hash(a, def.total), model_hash(c, def.total));
	/* Pinned: the initial model is part of the cluster's identity (every server and device
	 * must derive the same iteration-0 model); a change here changes every run. */
	ck_assert_uint_eq(model_hash(a, def.total), 0x8bd130ff5a95fce7ULL);

	for (size_t t = 0; t < def.ntensors; t++) {
		const model_tensor_def *td = &def.tensors[t];
		const float *w = a + td->offset;
		int bias = strstr(td->name, ".bias") != NULL;
		double bound = bias ? 0 : sqrt(6.0 / (double)(td->count / td->dims[0]));
		double maxabs = 0, mean = 0;

		for (size_t i = 0; i < td->count; i++) {
			ck_assert(fabs(w[i]) <= bound);
			if (fabs(w[i]) > maxabs)
				maxabs = fabs(w[i]);
			mean += w[i];
		}
		mean /= (double)td->count;
		if (bias) {
			ck_assert(maxabs == 0);
		} else {
			ck_assert_msg(maxabs > 0.8 * bound, "%s: max %g bound %g", td->name, maxabs,
				      bound);
			ck_assert_msg(fabs(mean) < 0.2 * bound, "%s: mean %g", td->name, mean);
		}
	}
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_init_synthetic)
{
	model_def def;
	float w[100], v[100];

	ck_assert_int_eq(model_def_parse("synthetic:100", &def), 0);
	model_init_weights(&def, 7, w);
	model_init_weights(&def, 7, v);
	ck_assert_int_eq(memcmp(w, v, sizeof w), 0);
	for (int i = 0; i < 100; i++)
		ck_assert(fabsf(w[i]) <= 0.1f);
	ck_assert(w[0] != w[1]);
}
END_TEST

START_TEST(test_fedavg_reference)
{
	/* Three uploads with data sizes 1, 2, 3: (1*w1 + 2*w2 + 3*w3) / 6, by hand. */
	const float w1[5] = { 6, 0, -6, 12, 3 };
	const float w2[5] = { 0, 3, 3, 0, 6 };
	const float w3[5] = { 2, 2, 2, -4, 1 };
	const float want[5] = { 2, 2, 1, 0, 3 };
	float acc[5] = { 0 };

	fedavg_accumulate(acc, w1, 5, 1.0f);
	fedavg_accumulate(acc, w2, 5, 2.0f);
	fedavg_accumulate(acc, w3, 5, 3.0f);
	ck_assert(acc[0] == 12 && acc[1] == 12 && acc[2] == 6 && acc[3] == 0 && acc[4] == 18);
	ck_assert_int_eq(fedavg_finish(acc, 5, 6.0), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(fabsf(acc[i] - want[i]) < 1e-6f, "acc[%d] = %g", i, acc[i]);
}
END_TEST

START_TEST(test_fedavg_long)
{
	/* Long enough for the vector kernels' main loops and tails; against a double reference. */
	enum { N = 10007, U = 4 };
	float *w = malloc((size_t)N * U * sizeof *w), *acc = calloc(N, sizeof *acc);
	float *part = calloc(N, sizeof *part);
	const float sz[U] = { 600, 17, 250, 1 };
	double total = 0;

	for (int u = 0; u < U; u++) {
		for (int i = 0; i < N; i++)
			w[u * N + i] = (float)sin(0.001 * i * (u + 1)) * (float)(u + 1);
		total += sz[u];
	}
	/* Two servers' partial sums merged with fedavg_add, as the all-reduce does. */
	fedavg_accumulate(acc, w, N, sz[0]);
	fedavg_accumulate(acc, w + N, N, sz[1]);
	fedavg_accumulate(part, w + 2 * N, N, sz[2]);
	fedavg_accumulate(part, w + 3 * N, N, sz[3]);
	fedavg_add(acc, part, N);
	ck_assert_int_eq(fedavg_finish(acc, N, total), 0);
	for (int i = 0; i < N; i++) {
		double ref = 0;

		for (int u = 0; u < U; u++)
			ref += (double)sz[u] * w[u * N + i];
		ref /= total;
		ck_assert_msg(fabs(acc[i] - ref) < 1e-5 * (1 + fabs(ref)), "i=%d %g vs %g", i,
			      acc[i], ref);
	}
	free(w);
	free(acc);
	free(part);
}
END_TEST

START_TEST(test_fedavg_finish_errors)
{
	float acc[3] = { 1, 2, 3 };

	ck_assert_int_eq(fedavg_finish(acc, 3, 0.0), MODEL_EINVAL);
	ck_assert_int_eq(fedavg_finish(acc, 3, -1.0), MODEL_EINVAL);
	ck_assert_int_eq(fedavg_finish(acc, 3, NAN), MODEL_EINVAL);
	ck_assert_int_eq(fedavg_finish(acc, 3, INFINITY), MODEL_EINVAL);
	ck_assert_int_eq(fedavg_finish(NULL, 3, 1.0), MODEL_EINVAL);
	ck_assert(acc[0] == 1 && acc[1] == 2 && acc[2] == 3); /* untouched */
	ck_assert_int_eq(fedavg_finish(acc, 3, 2.0), 0);
	ck_assert(acc[0] == 0.5f && acc[1] == 1 && acc[2] == 1.5f);
}
END_TEST

START_TEST(test_hash)
{
	const float v[2] = { 1.0f, -2.5f };
	float w[2] = { 1.0f, -2.5f };

	ck_assert_uint_eq(model_hash(v, 0), 0xcbf29ce484222325ULL); /* FNV-1a offset basis */
	/* FNV-1a over the little-endian bytes 00 00 80 3f 00 00 20 c0 (computed independently). */
	ck_assert_uint_eq(model_hash(v, 2), 0x09e629ee2dfdb3f8ULL);
	w[1] = nextafterf(w[1], 0);
	ck_assert_uint_ne(model_hash(w, 2), model_hash(v, 2));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_lenet5);
	tcase_add_test(tc, test_parse_synthetic);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_fmap);
	tcase_add_test(tc, test_init_deterministic);
	tcase_add_test(tc, test_init_synthetic);
	tcase_add_test(tc, test_fedavg_reference);
	tcase_add_test(tc, test_fedavg_long);
	tcase_add_test(tc, test_fedavg_finish_errors);
	tcase_add_test(tc, test_hash);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
