/* test_secagg_math.c — node/secagg's arithmetic and config: the quantisation bound, Shamir
 * round trips and refusals, DP calibration, the config reader's defaults and errors. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "secagg/secagg.h"

START_TEST(quant_sum_within_bound_no_wrap)
{
	secagg_quant q;
	enum { N = 100, D = 257 };
	static float x[N][D];
	static uint32_t qx[D], sum[D];
	double plain[D] = {0}, out[D];
	rt_rng r;
	rt_rng_seed(&r, 7);
	ck_assert_int_eq(secagg_quant_init(&q, 1.0, N), 0);
	memset(sum, 0, sizeof sum);
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < D; j++) {
			x[i][j] = (float)(rt_rng_double(&r) * 2 - 1); /* extremes reach +-clip */
			plain[j] += x[i][j];
		}
		ck_assert_int_eq(secagg_quantize(&q, x[i], D, 1.0, qx, NULL), 0);
		secagg_ring_add(sum, qx, D);
	}
	ck_assert_int_eq(secagg_dequantize(&q, sum, D, N, out), 0);
	for (int j = 0; j < D; j++)
		ck_assert(fabs(out[j] - plain[j]) <= secagg_quant_bound(&q, N));
	ck_assert_int_eq(secagg_dequantize(&q, sum, D, N + 1, out), SECAGG_ERANGE);
	float bad = NAN;
	ck_assert_int_eq(secagg_quantize(&q, &bad, 1, 1.0, qx, NULL), SECAGG_ERANGE);
	float big[2] = {5, -5};
	size_t cl = 0;
	ck_assert_int_eq(secagg_quantize(&q, big, 2, 1.0, qx, &cl), 0);
	ck_assert_uint_eq(cl, 2);
	ck_assert_int_eq(secagg_quant_init(&q, 0, N), SECAGG_EINVAL);
}
END_TEST

START_TEST(shamir_round_trip_and_refusals)
{
	uint8_t s[32], back[32], sh[10 * SECAGG_SHARE_BYTES];
	uint32_t xs[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	rt_rng r;
	rt_rng_seed(&r, 1);
	for (int i = 0; i < 32; i++)
		s[i] = (uint8_t)(0xF0 + i);
	ck_assert_int_eq(secagg_shamir_split(s, 4, xs, 10, &r, sh), 0);
	ck_assert_int_eq(secagg_shamir_combine(sh + 3 * SECAGG_SHARE_BYTES, xs + 3, 4, back), 0);
	ck_assert_mem_eq(s, back, 32);
	ck_assert_int_eq(secagg_shamir_combine(sh, xs, 10, back), 0); /* more than t: same */
	ck_assert_mem_eq(s, back, 32);
	ck_assert_int_ne(secagg_shamir_combine(sh, xs, 3, back), 0); /* below t: caught */
	/* point 1 carrying point 6's share: wrong by a random-looking amount */
	memcpy(sh, sh + 5 * SECAGG_SHARE_BYTES, SECAGG_SHARE_BYTES);
	ck_assert_int_eq(secagg_shamir_combine(sh, xs, 4, back), SECAGG_ECRYPTO);
	uint32_t dup[4] = {1, 1, 2, 3};
	ck_assert_int_eq(secagg_shamir_combine(sh, dup, 4, back), SECAGG_ESHARE);
	memset(sh, 0xFF, 8);
	ck_assert_int_eq(secagg_shamir_combine(sh, xs, 4, back), SECAGG_ESHARE);
}
END_TEST

START_TEST(dp_sigma_clip_and_budget)
{
	secagg_dp dp;
	ck_assert_int_eq(secagg_dp_init(&dp, 1.0, 1e-5, 2.0), 0);
	ck_assert(fabs(dp.sigma - 2.0 * sqrt(2 * log(1.25e5))) < 1e-12);
	static float x[4096];
	for (int i = 0; i < 4096; i++)
		x[i] = 1.0f;
	rt_rng r;
	rt_rng_seed(&r, 3);
	double nrm;
	ck_assert_int_eq(secagg_dp_apply(&dp, x, 4096, &r, &nrm), 0);
	ck_assert(fabs(nrm - 64.0) < 1e-9);
	double m = 0, v = 0;
	for (int i = 0; i < 4096; i++)
		m += x[i];
	m /= 4096;
	for (int i = 0; i < 4096; i++)
		v += (x[i] - m) * (x[i] - m);
	v /= 4095;
	ck_assert(fabs(sqrt(v) / dp.sigma - 1) < 0.05);
	secagg_dp_budget b;
	secagg_dp_account(&dp, 10, &b);
	ck_assert(b.basic_eps == 10.0 && b.eps <= b.basic_eps);
	ck_assert_int_eq(secagg_dp_init(&dp, 1.0, 1.0, 1.0), SECAGG_EINVAL);
}
END_TEST

START_TEST(config_defaults_nested_and_errors)
{
	secagg_config c;
	char err[256];
	secagg_config_defaults(&c);
	cJSON *j = cJSON_Parse("{\"encrypt\":{\"encrypt_type\":\"PW_ENCRYPT\",\"pw_encrypt\":"
			       "{\"reconstruct_secrets_threshold\":3}},\"dp_eps\":2}");
	ck_assert_int_eq(secagg_config_from_json(&c, j, err, sizeof err), 0);
	ck_assert_int_eq(c.encrypt_type, SECAGG_PW_ENCRYPT);
	ck_assert_int_eq(c.reconstruct_secrets_threshold, 3);
	ck_assert(c.dp_eps == 2 && c.dp_delta == 0.01 && c.cipher_time_window == 300000);
	secagg_thresholds th;
	ck_assert_int_eq(secagg_thresholds_compute(&c, 10, 8, &th, err, sizeof err), 0);
	ck_assert_uint_eq(th.exchange_keys, 10);
	ck_assert_uint_eq(th.reconstruct_secrets, 4);
	ck_assert_int_eq(secagg_thresholds_compute(&c, 3, 3, &th, err, sizeof err), SECAGG_ECONFIG);
	cJSON_Delete(j);
	const char *bad[] = {"{\"encrypt_type\":\"SIGNDS\"}", "{\"dp_delta\":1}",
			     "{\"share_secrets_ratio\":0}", "{\"cipher_time_window\":1.5}",
			     "{\"encrypt\":{\"pw_encrypt\":{\"nope\":1}}}", "{\"dp_eps\":\"x\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		secagg_config_defaults(&c);
		j = cJSON_Parse(bad[i]);
		ck_assert_int_eq(secagg_config_from_json(&c, j, err, sizeof err), SECAGG_ECONFIG);
		ck_assert(err[0]);
		cJSON_Delete(j);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secagg_math");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, quant_sum_within_bound_no_wrap);
	tcase_add_test(tc, shamir_round_trip_and_refusals);
	tcase_add_test(tc, dp_sigma_clip_and_budget);
	tcase_add_test(tc, config_defaults_nested_and_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f ? 1 : 0;
}
