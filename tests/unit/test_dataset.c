/* test_dataset.c — Fashion-MNIST loading and validation, partitions over devices. */
#include "../../sim/fleet/dataset.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static int have_data(void)
{
	return access(DATASET_DEFAULT_DIR "/train-labels-idx1-ubyte.gz", R_OK) == 0;
}

/* ---- scratch IDX files under /tmp ---- */

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/flbench-test-dataset-%ld-%s", (long)getpid(), name);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Write bytes gzip-compressed (gz = 1) or plain. */
static void write_file(const char *path, const void *buf, size_t len, int gz)
{
	if (gz) {
		gzFile f = gzopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(gzwrite(f, buf, (unsigned)len), (int)len);
		ck_assert_int_eq(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
		fclose(f);
	}
}

/* An images file of n 2x3 images (pixel = index) with `extra` trailing bytes (negative: cut). */
static void write_images(const char *path, uint32_t magic, uint32_t n, int extra)
{
	size_t len = 16 + (size_t)n * 6;
	unsigned char *b = calloc(len + 16, 1);

	put_be32(b, magic);
	put_be32(b + 4, n);
	put_be32(b + 8, 2);
	put_be32(b + 12, 3);
	for (size_t i = 0; i < (size_t)n * 6; i++)
		b[16 + i] = (unsigned char)(i * 7);
	write_file(path, b, (size_t)((long)len + extra), 1);
	free(b);
}

static void write_labels(const char *path, uint32_t n, uint8_t bad_label)
{
	unsigned char *b = calloc(8 + n, 1);

	put_be32(b, 0x801);
	put_be32(b + 4, n);
	for (uint32_t i = 0; i < n; i++)
		b[8 + i] = (uint8_t)(i % 3);
	if (n && bad_label)
		b[8 + n - 1] = bad_label;
	write_file(path, b, 8 + n, 1);
	free(b);
}

/* Expect the load to fail with `code` and a message containing `file` and `what`. */
static void expect_fail(const char *ip, const char *lp, int code, const char *file,
			const char *what)
{
	char err[DATASET_ERR_MAX] = "";
	dataset d;

	ck_assert_int_eq(dataset_load_idx(ip, lp, 3, 0, &d, err, sizeof err), code);
	ck_assert_ptr_null(d.images);
	ck_assert_msg(strstr(err, file) != NULL, "message \"%s\" lacks \"%s\"", err, file);
	ck_assert_msg(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
}

/* ---- loading ---- */

START_TEST(test_load_fashion_mnist)
{
	char err[DATASET_ERR_MAX];
	dataset tr, te, small;
	size_t per_class[10] = { 0 };
	float lo = 1, hi = 0;

	if (!have_data()) {
		fprintf(stderr, "test_load_fashion_mnist: SKIPPED: no %s\n", DATASET_DEFAULT_DIR);
		return;
	}
	ck_assert_msg(dataset_load_fashion_mnist(NULL, "train", 0, &tr, err, sizeof err) == 0, "%s",
		      err);
	ck_assert_uint_eq(tr.n, 60000);
	ck_assert_int_eq(tr.rows, 28);
	ck_assert_int_eq(tr.cols, 28);
	ck_assert_int_eq(tr.nclasses, 10);
	for (size_t i = 0; i < tr.n; i++)
		per_class[tr.labels[i]]++;
	for (int c = 0; c < 10; c++)
		ck_assert_uint_eq(per_class[c], 6000); /* Fashion-MNIST is balanced */
	for (size_t i = 0; i < tr.n * 784; i++) {
		lo = tr.images[i] < lo ? tr.images[i] : lo;
		hi = tr.images[i] > hi ? tr.images[i] : hi;
	}
	ck_assert(lo == 0.0f && hi == 1.0f);

	ck_assert_msg(dataset_load_fashion_mnist(DATASET_DEFAULT_DIR, "test", 0, &te, err,
						 sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(te.n, 10000);
	ck_assert_int_eq(te.rows, 28);

	ck_assert_int_eq(dataset_load_fashion_mnist(NULL, "train", 100, &small, err, sizeof err), 0);
	ck_assert_uint_eq(small.n, 100);
	ck_assert_int_eq(memcmp(small.labels, tr.labels, 100), 0);
	ck_assert_int_eq(memcmp(small.images, tr.images, 100 * 784 * sizeof(float)), 0);
	dataset_free(&tr);
	dataset_free(&te);
	dataset_free(&small);
	ck_assert_ptr_null(small.images);
}
END_TEST

START_TEST(test_load_errors)
{
	char ip[256], lp[256], err[DATASET_ERR_MAX];
	dataset d;

	ck_assert_int_eq(dataset_load_fashion_mnist("/nonexistent/dir", "train", 0, &d, err,
						    sizeof err), DATASET_ENOENT);
	ck_assert_msg(strstr(err, "/nonexistent/dir/train-images-idx3-ubyte.gz"), "%s", err);
	ck_assert_int_eq(dataset_load_fashion_mnist(NULL, "validation", 0, &d, err, sizeof err),
			 DATASET_EINVAL);
	ck_assert_msg(strstr(err, "validation"), "%s", err);

	tmp_path(ip, sizeof ip, "images.gz");
	tmp_path(lp, sizeof lp, "labels.gz");
	/* A good pair first, so the failures below are each about one thing. */
	write_images(ip, 0x803, 5, 0);
	write_labels(lp, 5, 0);
	ck_assert_int_eq(dataset_load_idx(ip, lp, 3, 0, &d, err, sizeof err), 0);
	ck_assert_uint_eq(d.n, 5);
	ck_assert_int_eq(d.rows, 2);
	ck_assert_int_eq(d.cols, 3);
	ck_assert(d.images[1] == 7.0f / 255.0f);
	ck_assert_int_eq(d.labels[4], 1);
	dataset_free(&d);

	write_images(ip, 0x801, 5, 0); /* labels magic in an images file */
	expect_fail(ip, lp, DATASET_EFORMAT, ip, "bad magic 0x00000801");
	write_images(ip, 0x803, 5, -4);
	expect_fail(ip, lp, DATASET_EFORMAT, ip, "truncated");
	write_images(ip, 0x803, 5, 3);
	expect_fail(ip, lp, DATASET_EFORMAT, ip, "trailing bytes");
	write_images(ip, 0x803, 4, 0);
	expect_fail(ip, lp, DATASET_EFORMAT, lp, "has 5 labels but");
	write_images(ip, 0x803, 5, 0);
	write_labels(lp, 5, 3);
	expect_fail(ip, lp, DATASET_EFORMAT, lp, "label 3 of item 4");
	write_file(lp, "\x00\x00\x08", 3, 1);
	expect_fail(ip, lp, DATASET_EFORMAT, lp, "truncated header");
	unlink(lp);
	expect_fail(ip, lp, DATASET_ENOENT, lp, "cannot open");
	{
		/* Random bytes, not gzip: zlib reads them as they are, so the magic is wrong. */
		unsigned char junk[300];

		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = (unsigned char)(i * 131 + 17);
		write_file(ip, junk, sizeof junk, 0);
		write_labels(lp, 5, 0);
		expect_fail(ip, lp, DATASET_EFORMAT, ip, "bad magic");
	}
	{
		/* A gzip stream cut in the middle: zlib reports the damage. */
		unsigned char *gz;
		FILE *f;
		long sz;

		write_images(ip, 0x803, 600, 0);
		f = fopen(ip, "rb");
		ck_assert_ptr_nonnull(f);
		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		rewind(f);
		gz = malloc((size_t)sz);
		ck_assert_uint_eq(fread(gz, 1, (size_t)sz, f), (size_t)sz);
		fclose(f);
		write_file(ip, gz, (size_t)sz / 2, 0);
		free(gz);
		write_labels(lp, 600, 0);
		expect_fail(ip, lp, DATASET_EFORMAT, ip, "truncated gzip stream");
	}
	{
		/* Corrupt deflate data inside a well-formed gzip header. */
		unsigned char bad[64] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };

		for (size_t i = 10; i < sizeof bad; i++)
			bad[i] = 0xff;
		write_file(ip, bad, sizeof bad, 0);
		expect_fail(ip, lp, DATASET_EFORMAT, ip, "gzip");
	}
	unlink(ip);
	unlink(lp);
}
END_TEST

/* ---- partitions ---- */

static uint8_t *synthetic_labels(size_t n)
{
	uint8_t *l = malloc(n);

	for (size_t i = 0; i < n; i++)
		l[i] = (uint8_t)((i * 7 + i / 13) % 10);
	return l;
}

/* Labels of the real training set if installed, else synthetic ones (same shape). */
static uint8_t *train_labels(size_t *n)
{
	char err[DATASET_ERR_MAX];
	dataset d;
	uint8_t *l;

	*n = 60000;
	if (!have_data())
		return synthetic_labels(*n);
	ck_assert_msg(dataset_load_fashion_mnist(NULL, "train", 0, &d, err, sizeof err) == 0, "%s",
		      err);
	l = d.labels;
	d.labels = NULL;
	dataset_free(&d);
	return l;
}

static dataset_partition make(const uint8_t *labels, size_t n, size_t ndev,
			      enum dataset_partition_kind kind, double alpha, int k, size_t spd,
			      uint64_t seed)
{
	dataset_partition_spec spec = { kind, alpha, k, spd, seed };
	dataset_partition p;

	ck_assert_int_eq(dataset_partition_make(labels, n, 10, ndev, &spec, &p), 0);
	ck_assert_uint_eq(p.ndevices, ndev);
	ck_assert_uint_eq(p.offsets[0], 0);
	for (size_t d = 0; d < ndev; d++)
		ck_assert(p.offsets[d] <= p.offsets[d + 1]);
	for (size_t i = 0; i < p.offsets[ndev]; i++)
		ck_assert(p.indices[i] < n);
	return p;
}

static int same(const dataset_partition *a, const dataset_partition *b)
{
	return a->offsets[a->ndevices] == b->offsets[b->ndevices] &&
	       memcmp(a->offsets, b->offsets, (a->ndevices + 1) * sizeof *a->offsets) == 0 &&
	       memcmp(a->indices, b->indices, a->offsets[a->ndevices] * sizeof *a->indices) == 0;
}

/* Every sample appears exactly `times` times over all devices. */
static void assert_cover(const dataset_partition *p, size_t n, unsigned times)
{
	unsigned *seen = calloc(n, sizeof *seen);

	for (size_t i = 0; i < p->offsets[p->ndevices]; i++)
		seen[p->indices[i]]++;
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(seen[i] == times, "sample %zu seen %u times", i, seen[i]);
	free(seen);
}

/* Mean over non-empty devices of the largest class's share of the device's samples. */
static double mean_max_share(const dataset_partition *p, const uint8_t *labels, int *max_classes)
{
	double sum = 0;
	size_t used = 0;

	*max_classes = 0;
	for (size_t d = 0; d < p->ndevices; d++) {
		size_t cnt[10] = { 0 }, top = 0, len = p->offsets[d + 1] - p->offsets[d];
		int classes = 0;

		if (!len)
			continue;
		for (size_t i = p->offsets[d]; i < p->offsets[d + 1]; i++)
			cnt[labels[p->indices[i]]]++;
		for (int c = 0; c < 10; c++) {
			top = cnt[c] > top ? cnt[c] : top;
			classes += cnt[c] > 0;
		}
		*max_classes = classes > *max_classes ? classes : *max_classes;
		sum += (double)top / (double)len;
		used++;
	}
	return sum / (double)used;
}

START_TEST(test_partition_iid)
{
	size_t n;
	uint8_t *labels = train_labels(&n);
	dataset_partition a = make(labels, n, 100, DATASET_PART_IID, 0, 0, 0, 1);
	dataset_partition b = make(labels, n, 100, DATASET_PART_IID, 0, 0, 0, 1);
	dataset_partition c = make(labels, n, 100, DATASET_PART_IID, 0, 0, 0, 2);
	dataset_partition u = make(labels, n, 7, DATASET_PART_IID, 0, 0, 0, 1);
	int mc;

	ck_assert(same(&a, &b));
	ck_assert(!same(&a, &c));
	assert_cover(&a, n, 1);
	assert_cover(&c, n, 1);
	for (size_t d = 0; d < 100; d++)
		ck_assert_uint_eq(a.offsets[d + 1] - a.offsets[d], 600);
	assert_cover(&u, n, 1); /* 60000 = 7*8571 + 3: sizes differ by at most one */
	for (size_t d = 0; d < 7; d++)
		ck_assert_uint_eq(u.offsets[d + 1] - u.offsets[d], d < 3 ? 8572 : 8571);
	ck_assert(mean_max_share(&a, labels, &mc) < 0.2);
	ck_assert_int_eq(mc, 10);
	dataset_partition_free(&a);
	dataset_partition_free(&b);
	dataset_partition_free(&c);
	dataset_partition_free(&u);
	free(labels);
}
END_TEST

START_TEST(test_partition_dirichlet_skew)
{
	size_t n;
	uint8_t *labels = train_labels(&n);
	dataset_partition iid = make(labels, n, 100, DATASET_PART_IID, 0, 0, 0, 5);
	dataset_partition a = make(labels, n, 100, DATASET_PART_DIRICHLET, 0.1, 0, 0, 5);
	dataset_partition b = make(labels, n, 100, DATASET_PART_DIRICHLET, 0.1, 0, 0, 5);
	dataset_partition c = make(labels, n, 100, DATASET_PART_DIRICHLET, 0.1, 0, 0, 6);
	dataset_partition mild = make(labels, n, 100, DATASET_PART_DIRICHLET, 100.0, 0, 0, 5);
	double s_iid, s_skew, s_mild;
	int mc;

	ck_assert(same(&a, &b));
	ck_assert(!same(&a, &c));
	assert_cover(&a, n, 1);
	assert_cover(&mild, n, 1);
	s_iid = mean_max_share(&iid, labels, &mc);
	s_skew = mean_max_share(&a, labels, &mc);
	s_mild = mean_max_share(&mild, labels, &mc);
	fprintf(stderr, "mean max-class share: iid %.3f, dirichlet(100) %.3f, dirichlet(0.1) %.3f\n",
		s_iid, s_mild, s_skew);
	ck_assert(s_skew > 0.5);
	ck_assert(s_skew > 3 * s_iid);
	ck_assert(s_mild < 0.25);
	dataset_partition_free(&iid);
	dataset_partition_free(&a);
	dataset_partition_free(&b);
	dataset_partition_free(&c);
	dataset_partition_free(&mild);
	free(labels);
}
END_TEST

START_TEST(test_partition_shards)
{
	size_t n;
	uint8_t *labels = train_labels(&n);
	dataset_partition a = make(labels, n, 100, DATASET_PART_SHARDS, 0, 2, 0, 9);
	dataset_partition b = make(labels, n, 100, DATASET_PART_SHARDS, 0, 2, 0, 10);
	dataset_partition one = make(labels, n, 30, DATASET_PART_SHARDS, 0, 1, 0, 9);
	int mc;

	assert_cover(&a, n, 1); /* 200 picks spread over 10 classes: every class used */
	ck_assert(!same(&a, &b));
	mean_max_share(&a, labels, &mc);
	ck_assert_int_le(mc, 2);
	for (size_t d = 0; d < 100; d++) /* 20 devices per class, 6000 / 20 each */
		ck_assert_uint_eq(a.offsets[d + 1] - a.offsets[d], 600);
	ck_assert(mean_max_share(&one, labels, &mc) == 1.0);
	ck_assert_int_eq(mc, 1);
	assert_cover(&one, n, 1);
	dataset_partition_free(&a);
	dataset_partition_free(&b);
	dataset_partition_free(&one);
	free(labels);
}
END_TEST

START_TEST(test_partition_fixed_size)
{
	size_t n;
	uint8_t *labels = train_labels(&n);
	dataset_partition iid = make(labels, n, 1000, DATASET_PART_IID, 0, 0, 600, 3);
	dataset_partition dir = make(labels, n, 500, DATASET_PART_DIRICHLET, 0.1, 0, 50, 3);
	dataset_partition sh = make(labels, n, 500, DATASET_PART_SHARDS, 0, 2, 50, 3);
	dataset_partition sh2 = make(labels, n, 500, DATASET_PART_SHARDS, 0, 2, 50, 3);
	int mc;

	for (size_t d = 0; d < 1000; d++)
		ck_assert_uint_eq(iid.offsets[d], d * 600);
	assert_cover(&iid, n, 10); /* 600000 = 10 passes over 60000 */
	for (size_t d = 0; d <= 500; d++) {
		ck_assert_uint_eq(dir.offsets[d], d * 50);
		ck_assert_uint_eq(sh.offsets[d], d * 50);
	}
	ck_assert(mean_max_share(&dir, labels, &mc) > 0.5);
	mean_max_share(&sh, labels, &mc);
	ck_assert_int_le(mc, 2);
	ck_assert(same(&sh, &sh2));
	dataset_partition_free(&iid);
	dataset_partition_free(&dir);
	dataset_partition_free(&sh);
	dataset_partition_free(&sh2);
	free(labels);
}
END_TEST

START_TEST(test_partition_errors)
{
	uint8_t labels[20];
	dataset_partition p;
	dataset_partition_spec spec = { DATASET_PART_DIRICHLET, 0.0, 0, 0, 1 };
	enum dataset_partition_kind kind;

	for (int i = 0; i < 20; i++)
		labels[i] = (uint8_t)(i % 2); /* only classes 0 and 1 */
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);
	ck_assert_ptr_null(p.indices);
	spec.alpha = NAN;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);
	spec.kind = DATASET_PART_SHARDS;
	spec.classes_per_device = 0;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);
	spec.classes_per_device = 11;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);
	spec.classes_per_device = 3; /* only two classes have samples */
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);
	spec.classes_per_device = 2;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), 0);
	dataset_partition_free(&p);
	spec.kind = DATASET_PART_IID;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 0, &spec, &p), DATASET_EINVAL);
	ck_assert_int_eq(dataset_partition_make(labels, 0, 10, 4, &spec, &p), DATASET_EINVAL);
	ck_assert_int_eq(dataset_partition_make(labels, 20, 1, 4, &spec, &p), DATASET_EINVAL);
	spec.kind = (enum dataset_partition_kind)7;
	ck_assert_int_eq(dataset_partition_make(labels, 20, 10, 4, &spec, &p), DATASET_EINVAL);

	ck_assert_int_eq(dataset_partition_kind_parse("iid", &kind), 0);
	ck_assert_int_eq(kind, DATASET_PART_IID);
	ck_assert_int_eq(dataset_partition_kind_parse("dirichlet", &kind), 0);
	ck_assert_int_eq(kind, DATASET_PART_DIRICHLET);
	ck_assert_int_eq(dataset_partition_kind_parse("shards", &kind), 0);
	ck_assert_int_eq(kind, DATASET_PART_SHARDS);
	ck_assert_int_eq(dataset_partition_kind_parse("noniid", &kind), DATASET_EINVAL);
}
END_TEST

START_TEST(test_gamma_moments)
{
	static const double shapes[] = { 0.1, 0.5, 1.0, 2.5, 10.0 };
	rt_rng r;

	rt_rng_seed(&r, 12345);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		enum { N = 40000 };
		double k = shapes[s], sum = 0, sq = 0;

		for (int i = 0; i < N; i++) {
			double g = dataset_gamma(&r, k);

			ck_assert(g >= 0 && isfinite(g));
			sum += g;
			sq += g * g;
		}
		sum /= N;
		sq = sq / N - sum * sum;
		/* Gamma(k, 1): mean k, variance k. Standard error of the mean is sqrt(k / N). */
		ck_assert_msg(fabs(sum - k) < 5 * sqrt(k / N), "shape %g: mean %g", k, sum);
		ck_assert_msg(fabs(sq - k) < 0.15 * k, "shape %g: variance %g", k, sq);
	}
	ck_assert(dataset_gamma(&r, 0) == 0);
	ck_assert(dataset_gamma(NULL, 1) == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_load_fashion_mnist);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_partition_iid);
	tcase_add_test(tc, test_partition_dirichlet_skew);
	tcase_add_test(tc, test_partition_shards);
	tcase_add_test(tc, test_partition_fixed_size);
	tcase_add_test(tc, test_partition_errors);
	tcase_add_test(tc, test_gamma_moments);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
