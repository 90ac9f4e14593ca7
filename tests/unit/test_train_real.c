/*
 * test_train_real.c — real local training for the fleet (sim/fleet/train_real.h): partitions
 * per the spec, deterministic training per (seed, device, iteration), the batched CPU reference
 * equal to the per-device function, learning that shows on the test set, and errors.
 */
#include "../../sim/fleet/lenet.h"
#include "../../sim/fleet/train_real.h"

#include <cblas.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int have_data(void)
{
	return access(DATASET_DEFAULT_DIR "/train-labels-idx1-ubyte.gz", R_OK) == 0 &&
	       access(DATASET_DEFAULT_DIR "/t10k-labels-idx1-ubyte.gz", R_OK) == 0;
}

static train_real *make(long devices, const char *part, long spd, uint64_t seed)
{
	train_real_config c = {.seed = seed, .devices = devices, .alpha = 0.5, .classes = 2,
			       .samples_per_device = spd, .max_train_samples = 2000,
			       .max_test_samples = 500};
	snprintf(c.partition, sizeof c.partition, "%s", part);
	train_real *tr = NULL;
	char err[256] = "";
	ck_assert_msg(train_real_new(&c, &tr, err, sizeof err) == 0, "%s", err);
	return tr;
}

static float *init_model(uint64_t seed)
{
	model_def def;
	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	ck_assert_uint_eq(def.total, LENET_PARAMS);
	float *w = malloc(LENET_PARAMS * sizeof *w);
	model_init_weights(&def, seed, w);
	return w;
}

START_TEST(partitions)
{
	if (!have_data())
		return;
	train_real *tr = make(10, "iid", 0, 1);
	ck_assert_uint_eq(train_real_train_set(tr)->n, 2000);
	ck_assert_uint_eq(train_real_test_set(tr)->n, 500);
	size_t total = 0;
	for (long d = 0; d < 10; d++) {
		ck_assert_double_eq(train_real_samples(tr, d), 200);
		total += (size_t)train_real_samples(tr, d);
	}
	ck_assert_uint_eq(total, 2000);
	/* devices past the partitioned count wrap around */
	size_t n3, n13;
	const uint32_t *p3 = train_real_partition(tr, 3, &n3), *p13 = train_real_partition(tr, 13, &n13);
	ck_assert_ptr_eq(p3, p13);
	ck_assert_uint_eq(n3, n13);
	train_real_free(tr);

	/* shards of 2 classes: each device sees at most 2 labels; same seed, same indices */
	train_real *a = make(20, "shards", 0, 5), *b = make(20, "shards", 0, 5);
	for (long d = 0; d < 20; d++) {
		size_t na, nb;
		const uint32_t *pa = train_real_partition(a, d, &na), *pb = train_real_partition(b, d, &nb);
		ck_assert_uint_eq(na, nb);
		ck_assert_int_eq(memcmp(pa, pb, na * sizeof *pa), 0);
		int seen[10] = {0}, kinds = 0;
		for (size_t i = 0; i < na; i++)
			if (!seen[train_real_train_set(a)->labels[pa[i]]]++)
				kinds++;
		ck_assert_int_le(kinds, 2);
	}
	train_real_free(a);
	train_real_free(b);

	/* fixed size per device, dirichlet */
	train_real *c = make(7, "dirichlet", 50, 3);
	for (long d = 0; d < 7; d++)
		ck_assert_double_eq(train_real_samples(c, d), 50);
	train_real_free(c);
}
END_TEST

START_TEST(deterministic_training)
{
	if (!have_data())
		return;
	train_real *tr = make(10, "iid", 0, 1);
	float *w0 = init_model(9), *a = malloc(LENET_PARAMS * 4), *b = malloc(LENET_PARAMS * 4);
	float la, lb;
	memcpy(a, w0, LENET_PARAMS * 4);
	memcpy(b, w0, LENET_PARAMS * 4);
	ck_assert_int_eq(train_real_fn(tr, 4, 2, 1, 16, 0.05f, a, LENET_PARAMS, &la), 0);
	ck_assert_int_eq(train_real_fn(tr, 4, 2, 1, 16, 0.05f, b, LENET_PARAMS, &lb), 0);
	ck_assert_int_eq(memcmp(a, b, LENET_PARAMS * 4), 0);
	ck_assert_float_eq(la, lb);
	ck_assert_float_gt(la, 0);
	ck_assert_int_ne(memcmp(a, w0, LENET_PARAMS * 4), 0);
	/* another iteration shuffles differently */
	memcpy(b, w0, LENET_PARAMS * 4);
	ck_assert_int_eq(train_real_fn(tr, 4, 3, 1, 16, 0.05f, b, LENET_PARAMS, &lb), 0);
	ck_assert_int_ne(memcmp(a, b, LENET_PARAMS * 4), 0);

	/* the batched CPU reference gives the very same weights and losses */
	float *j[3];
	fleet_train_job jobs[3];
	for (int i = 0; i < 3; i++) {
		j[i] = malloc(LENET_PARAMS * 4);
		memcpy(j[i], w0, LENET_PARAMS * 4);
		jobs[i] = (fleet_train_job){.device = 4 + i, .iteration = 2, .epochs = 1, .batch = 16,
					    .lr = 0.05f, .weights = j[i]};
	}
	train_real_batch_fn(tr, jobs, 3, LENET_PARAMS);
	ck_assert_int_eq(jobs[0].rc, 0);
	ck_assert_int_eq(memcmp(j[0], a, LENET_PARAMS * 4), 0);
	ck_assert_float_eq(jobs[0].loss, la);
	ck_assert_int_ne(memcmp(j[1], a, LENET_PARAMS * 4), 0);
	for (int i = 0; i < 3; i++)
		free(j[i]);
	free(w0);
	free(a);
	free(b);
	train_real_free(tr);
}
END_TEST

START_TEST(learns)
{
	if (!have_data())
		return;
	train_real *tr = make(1, "iid", 0, 1);
	float *w = init_model(3), acc0, loss0, acc1, loss1, l;
	ck_assert_int_eq(train_real_evaluate(tr, w, &acc0, &loss0), 0);
	ck_assert_int_eq(train_real_fn(tr, 0, 1, 3, 32, 0.05f, w, LENET_PARAMS, &l), 0);
	ck_assert_int_eq(train_real_evaluate(tr, w, &acc1, &loss1), 0);
	ck_assert_float_gt(acc1, acc0 + 0.2f);
	ck_assert_float_gt(acc1, 0.5f);
	ck_assert_float_lt(loss1, loss0);
	free(w);
	train_real_free(tr);
}
END_TEST

START_TEST(errors)
{
	train_real_config c = {.seed = 1, .devices = 4};
	train_real *tr = NULL;
	char err[256] = "";
	snprintf(c.partition, sizeof c.partition, "zipf");
	ck_assert_int_eq(train_real_new(&c, &tr, err, sizeof err), TRAIN_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "zipf"));
	ck_assert_ptr_null(tr);
	snprintf(c.partition, sizeof c.partition, "dirichlet");
	ck_assert_int_eq(train_real_new(&c, &tr, err, sizeof err), TRAIN_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "alpha"));
	c.partition[0] = '\0';
	c.data_dir = "/nonexistent/flbench";
	ck_assert_int_eq(train_real_new(&c, &tr, err, sizeof err), TRAIN_EDATA);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/flbench"));
	c.devices = 0;
	ck_assert_int_eq(train_real_new(&c, &tr, err, sizeof err), TRAIN_EINVAL);
	ck_assert_int_eq(train_real_new(NULL, &tr, NULL, 0), TRAIN_EINVAL);
	if (!have_data())
		return;
	tr = make(2, "iid", 0, 1);
	float w[8] = {0}, l;
	ck_assert_int_eq(train_real_fn(tr, 0, 1, 1, 16, 0.1f, w, 8, &l), TRAIN_EINVAL);
	ck_assert_int_eq(train_real_evaluate(NULL, w, NULL, NULL), TRAIN_EINVAL);
	train_real_free(tr);
	train_real_free(NULL);
}
END_TEST

int main(void)
{
	openblas_set_num_threads(1); /* reproducible sums (lenet.h) */
	Suite *s = suite_create("train_real");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, partitions);
	tcase_add_test(tc, deterministic_training);
	tcase_add_test(tc, learns);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (!have_data())
		fprintf(stderr, "train_real: Fashion-MNIST missing in %s: data tests skipped\n",
			DATASET_DEFAULT_DIR);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
