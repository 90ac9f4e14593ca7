/*
 * test_rt_uv_host.c — the synchronous parts of the libuv backend of rt.h: files under a host's data
 * directory, the clocks, the seeded random streams, logging and host configuration. Nothing here
 * runs the loop (the loop-driven tests are in test_rt_uv.c).
 */
#include "rt/rt.h"
#include "rt/rt_uv.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct env {
	rt_uv *u;
	rt_host *a, *b;
	char dir[64];
};

static rt_host *env_host(struct env *e, const char *name, const char *ip, uint64_t seed,
			 int64_t offset)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/%s/data", e->dir, name); /* parents created by the host */
	rt_uv_host_config cfg = {.name = name, .ip = ip, .data_dir = dir, .seed = seed,
				 .clock_offset_ms = offset};
	rt_host *h = NULL;
	ck_assert_int_eq(rt_uv_host_new(e->u, &cfg, &h), 0);
	return h;
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/test_rt_uv_host.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	e->u = rt_uv_new();
	ck_assert_ptr_nonnull(e->u);
	e->a = env_host(e, "a", "127.0.0.1", 1, 0);
	e->b = env_host(e, "b", "127.0.0.1", 2, 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void env_done(struct env *e)
{
	rt_uv_host_free(e->a);
	rt_uv_host_free(e->b);
	rt_uv_free(e->u);
	nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fill_pattern(uint8_t *b, size_t len, uint32_t seed)
{
	uint32_t v = seed;
	for (size_t i = 0; i < len; i++) {
		v = v * 1103515245u + 12345u;
		b[i] = (uint8_t)(v >> 16);
	}
}

/* ---- files ---- */

START_TEST(files_basic)
{
	struct env e;
	env_init(&e);
	uint8_t *buf = NULL;
	size_t len = 99;
	ck_assert_int_eq(rt_file_read(e.a, "missing", &buf, &len), RT_ENOENT);
	ck_assert_int_eq(rt_file_remove(e.a, "missing"), RT_ENOENT);
	ck_assert_int_eq(rt_file_fsync(e.a, "missing"), RT_ENOENT);
	ck_assert_int_eq(rt_file_write(e.a, "state", "old", 3, 0), 0);
	ck_assert_int_eq(rt_file_read(e.a, "state", &buf, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq((char *)buf, "old"); /* NUL-terminated */
	free(buf);
	ck_assert_int_eq(rt_file_write(e.a, "state", "newer", 5, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_read(e.a, "state", &buf, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq((char *)buf, "newer");
	free(buf);
	char p[160];
	snprintf(p, sizeof p, "%s/a/data/state.tmp", e.dir);
	ck_assert_int_ne(access(p, F_OK), 0); /* the temporary is gone */
	snprintf(p, sizeof p, "%s/a/data/state", e.dir);
	ck_assert_int_eq(access(p, F_OK), 0); /* under the data dir, created with its parents */
	ck_assert_int_eq(rt_file_fsync(e.a, "state"), 0);
	/* append creates, then extends */
	ck_assert_int_eq(rt_file_append(e.a, "log", "ab", 2, 0), 0);
	ck_assert_int_eq(rt_file_append(e.a, "log", "cd", 2, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_append(e.a, "log", NULL, 0, 0), 0);
	ck_assert_int_eq(rt_file_read(e.a, "log", &buf, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq((char *)buf, "abcd");
	free(buf);
	/* empty file */
	ck_assert_int_eq(rt_file_write(e.a, "empty", NULL, 0, 0), 0);
	ck_assert_int_eq(rt_file_read(e.a, "empty", &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(buf[0], 0);
	free(buf);
	size_t big = 3u << 20;
	uint8_t *data = malloc(big);
	fill_pattern(data, big, 3);
	ck_assert_int_eq(rt_file_write(e.a, "model.bin", data, big, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_read(e.a, "model.bin", &buf, &len), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_int_eq(memcmp(buf, data, big), 0);
	free(buf);
	free(data);
	ck_assert_int_eq(rt_file_write(e.a, "a/b", "x", 1, 0), RT_EINVAL);
	ck_assert_int_eq(rt_file_write(e.a, ".hidden", "x", 1, 0), RT_EINVAL);
	ck_assert_int_eq(rt_file_write(e.a, "", "x", 1, 0), RT_EINVAL);
	ck_assert_int_eq(rt_file_append(e.a, "../x", "x", 1, 0), RT_EINVAL);
	ck_assert_int_eq(rt_file_read(e.a, "a/b", &buf, &len), RT_EINVAL);
	ck_assert_int_eq(rt_file_remove(e.a, "a/b"), RT_EINVAL);
	/* hosts have separate directories */
	ck_assert_int_eq(rt_file_read(e.b, "state", &buf, &len), RT_ENOENT);
	ck_assert_int_eq(rt_file_remove(e.a, "state"), 0);
	ck_assert_int_eq(rt_file_read(e.a, "state", &buf, &len), RT_ENOENT);
	env_done(&e);
}
END_TEST

/* ---- clocks, randomness, logging, host config ---- */

START_TEST(clock_offset)
{
	struct env e;
	env_init(&e);
	rt_host *c = env_host(&e, "c", "127.0.0.3", 1, 3600000);
	uint64_t n0 = rt_now_ns(e.a);
	int64_t wa = rt_wall_ms(e.a);
	int64_t wc = rt_wall_ms(c);
	uint64_t n1 = rt_now_ns(c);
	uint64_t n2 = rt_now_ns(e.a);
	/* an hour apart, give or take however long the calls took */
	ck_assert_int_ge(wc - wa, 3600000);
	ck_assert_int_lt(wc - wa, 3600000 + 60000);
	/* the monotonic clock is shared and unskewed */
	ck_assert_uint_le(n0, n1);
	ck_assert_uint_le(n1, n2);
	ck_assert_int_gt(wa, 1600000000000LL); /* a real epoch time */
	rt_uv_host_free(c);
	env_done(&e);
}
END_TEST

START_TEST(rand_deterministic)
{
	struct env e;
	env_init(&e);
	rt_host *c = env_host(&e, "c", NULL, 42, 0);
	rt_host *d = env_host(&e, "d", NULL, 42, 0);
	ck_assert_uint_eq(rt_host_seed(c), 42);
	int differ_from_a = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t x = rt_rand_u64(c);
		ck_assert_uint_eq(x, rt_rand_u64(d));
		if (x != rt_rand_u64(e.a))
			differ_from_a = 1;
		double dc = rt_rand_double(c), dd = rt_rand_double(d);
		ck_assert(dc == dd && dc >= 0.0 && dc < 1.0);
	}
	ck_assert(differ_from_a);
	ck_assert_str_eq(rt_host_ip(c), "127.0.0.1");
	rt_uv_host_free(c);
	rt_uv_host_free(d);
	env_done(&e);
}
END_TEST

START_TEST(logging_and_config)
{
	struct env e;
	env_init(&e);
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	char dir[128];
	snprintf(dir, sizeof dir, "%s/logger", e.dir);
	rt_uv_host_config cfg = {.name = "server/7", .ip = "127.0.0.7", .data_dir = dir,
				 .log_file = f};
	rt_host *h = NULL;
	ck_assert_int_eq(rt_uv_host_new(e.u, &cfg, &h), 0);
	ck_assert_str_eq(rt_host_name(h), "server/7");
	rt_log(h, RT_LOG_INFO, "hello %d", 5);
	rt_log(h, RT_LOG_DEBUG, "dropped");
	rt_uv_host_set_log_level(h, RT_LOG_DEBUG);
	rt_log(h, RT_LOG_DEBUG, "kept");
	rt_uv_host_free(h);
	char text[512] = {0};
	rewind(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(text, " server/7 INFO hello 5\n"));
	ck_assert_ptr_nonnull(strstr(text, " server/7 DEBUG kept\n"));
	ck_assert_ptr_null(strstr(text, "dropped"));
	/* bad config */
	rt_uv_host_config bad = {.name = "x", .ip = "300.1.1.1", .data_dir = dir};
	ck_assert_int_eq(rt_uv_host_new(e.u, &bad, &h), RT_EINVAL);
	env_done(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_uv_host");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, files_basic);
	tcase_add_test(tc, clock_offset);
	tcase_add_test(tc, rand_deterministic);
	tcase_add_test(tc, logging_and_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
