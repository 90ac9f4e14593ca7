/*
 * test_train_cuda.c — the batched CUDA training backend (sim/fleet/train_cuda.h) trains what the
 * CPU trains: the same jobs through train_cuda_batch_fn and train_real_batch_fn give weights and
 * losses within 1e-4 relative. Built with the backend only where nvcc exists (FL_HAVE_CUDA);
 * the comparison runs where a GPU is present, and without one the backend must refuse cleanly.
 */
#include "../../sim/fleet/lenet.h"
#include "../../sim/fleet/train_real.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FL_HAVE_CUDA
#include "../../sim/fleet/train_cuda.h"

#include <cblas.h>

/* The CUDA runtime maps memory where ASan keeps its shadow gap, and the driver keeps some
 * allocations until exit: this program only. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "protect_shadow_gap=0:detect_leaks=0"; }

static int have_data(void)
{
	return access(DATASET_DEFAULT_DIR "/train-labels-idx1-ubyte.gz", R_OK) == 0;
}

static train_real *make(long devices, const char *part)
{
	train_real_config c = {.seed = 3, .devices = devices, .alpha = 0.3,
			       .max_train_samples = 2000, .max_test_samples = 100};
	snprintf(c.partition, sizeof c.partition, "%s", part);
	train_real *tr = NULL;
	char err[256];
	ck_assert_msg(train_real_new(&c, &tr, err, sizeof err) == 0, "%s", err);
	return tr;
}

START_TEST(no_gpu_refused)
{
	if (train_cuda_available() || !have_data())
		return;
	train_real *tr = make(4, "iid");
	train_cuda *tc = NULL;
	char err[256] = "";
	ck_assert_int_eq(train_cuda_new(tr, &tc, err, sizeof err), TRAIN_ENODEV);
	ck_assert_ptr_null(tc);
	ck_assert_ptr_nonnull(strstr(err, "CUDA"));
	train_real_free(tr);
}
END_TEST

static double max_abs(const float *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i]));
	return m;
}

/* Jobs of two plans over partitions of different sizes (short last batches, an empty device
 * under dirichlet), trained on both backends. */
static void compare(const char *part, long devices)
{
	train_real *tr = make(devices, part);
	train_cuda *tc = NULL;
	char err[256];
	ck_assert_msg(train_cuda_new(tr, &tc, err, sizeof err) == 0, "%s", err);
	model_def def;
	ck_assert_int_eq(model_def_parse("lenet5", &def), 0);
	float *w0 = malloc(LENET_PARAMS * sizeof *w0);
	model_init_weights(&def, 11, w0);
	size_t nj = (size_t)devices;
	fleet_train_job *cpu = calloc(nj, sizeof *cpu), *gpu = calloc(nj, sizeof *gpu);
	for (size_t i = 0; i < nj; i++) {
		int plan = i % 3 == 2;
		cpu[i] = (fleet_train_job){.device = (long)i, .iteration = 5 + (int64_t)i % 2,
					   .epochs = plan ? 1 : 2, .batch = plan ? 32 : 16,
					   .lr = plan ? 0.1f : 0.05f};
		cpu[i].weights = malloc(LENET_PARAMS * sizeof(float));
		memcpy(cpu[i].weights, w0, LENET_PARAMS * sizeof(float));
		gpu[i] = cpu[i];
		gpu[i].weights = malloc(LENET_PARAMS * sizeof(float));
		memcpy(gpu[i].weights, w0, LENET_PARAMS * sizeof(float));
	}
	train_real_batch_fn(tr, cpu, nj, LENET_PARAMS);
	train_cuda_batch_fn(tc, gpu, nj, LENET_PARAMS);
	for (size_t i = 0; i < nj; i++) {
		ck_assert_int_eq(cpu[i].rc, 0);
		ck_assert_int_eq(gpu[i].rc, 0);
		double scale = max_abs(cpu[i].weights, LENET_PARAMS), diff = 0;
		for (size_t k = 0; k < LENET_PARAMS; k++)
			diff = fmax(diff, fabs((double)gpu[i].weights[k] - cpu[i].weights[k]));
		ck_assert_msg(diff <= 1e-4 * scale, "%s device %zu: weights differ by %g (scale %g)",
			      part, i, diff, scale);
		ck_assert_msg(fabs((double)gpu[i].loss - cpu[i].loss) <= 1e-4 * fabs(cpu[i].loss),
			      "%s device %zu: loss %g vs %g", part, i, gpu[i].loss, cpu[i].loss);
		if (train_real_samples(tr, (long)i) > 0)
			ck_assert_int_ne(memcmp(gpu[i].weights, w0, LENET_PARAMS * sizeof(float)), 0);
		free(cpu[i].weights);
		free(gpu[i].weights);
	}
	free(cpu);
	free(gpu);
	free(w0);
	train_cuda_free(tc);
	train_real_free(tr);
}

START_TEST(equals_cpu)
{
	if (!train_cuda_available() || !have_data())
		return;
	compare("iid", 13);
	compare("dirichlet", 24);
}
END_TEST

int main(void)
{
	openblas_set_num_threads(1);
	Suite *s = suite_create("train_cuda");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, no_gpu_refused);
	tcase_add_test(tc, equals_cpu);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (!train_cuda_available())
		fprintf(stderr, "train_cuda: no GPU here: the CPU comparison was skipped\n");
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#else

int main(void)
{
	fprintf(stderr, "train_cuda: built without nvcc (no FL_HAVE_CUDA): skipped\n");
	return EXIT_SUCCESS;
}

#endif
