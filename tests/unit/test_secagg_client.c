/* test_secagg_client.c — the device side end to end without a server: 5 devices route their own
 * messages; with every update present, rebuilding each b_u from the others' shares and removing
 * its self mask leaves the exact plain ring sum (the pairwise masks cancel). Plus refusals. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "secagg/secagg_int.h"

enum { N = 5, D = 300, T = 3 };

START_TEST(masks_cancel_and_b_rebuilds)
{
	secagg_client *c[N];
	secagg_req_exchange_keys rk[N];
	secagg_client_keys keys[N];
	char ids[N][8];
	rt_rng r;
	char why[SECAGG_REASON_MAX];
	rt_rng_seed(&r, 42);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "dev%d", i); /* already in strcmp order */
		ck_assert_int_eq(secagg_client_new(ids[i], 7, D, T, &r, &c[i]), 0);
		ck_assert_int_eq(secagg_client_exchange_keys(c[i], &rk[i]), 0);
		keys[i] = (secagg_client_keys){rk[i].fl_id, rk[i].c_pk, 32, rk[i].s_pk, 32, rk[i].pw_iv,
					       16, rk[i].pw_salt, 32};
	}
	secagg_ret_exchange_keys kl = {7, keys, N};
	secagg_share_list sl[N];
	for (int i = 0; i < N; i++)
		ck_assert_msg(secagg_client_share_secrets(c[i], &kl, &sl[i], why, sizeof why) == 0, "%s", why);
	/* a second shareSecrets is refused */
	ck_assert_int_eq(secagg_client_share_secrets(c[0], &kl, &sl[0], why, sizeof why), SECAGG_ESTATE);
	static uint32_t q[N][D], m[N][D], sum[D], plain[D];
	for (int i = 0; i < N; i++) {
		secagg_client_share got[N];
		size_t k = 0;
		for (int j = 0; j < N; j++)
			for (size_t s = 0; s < sl[j].n; s++)
				if (j != i && !strcmp(sl[j].shares[s].fl_id, ids[i]))
					got[k++] = (secagg_client_share){ids[j], sl[j].shares[s].share,
									 sl[j].shares[s].share_len, sl[j].shares[s].index};
		ck_assert_uint_eq(k, N - 1);
		for (int d = 0; d < D; d++)
			q[i][d] = rt_rng_u64(&r) & 0xFFFF;
		secagg_ring_add(plain, q[i], D);
		secagg_share_list in = {NULL, 7, got, k};
		ck_assert_msg(secagg_client_mask(c[i], &in, q[i], m[i], why, sizeof why) == 0, "%s", why);
		ck_assert(memcmp(q[i], m[i], sizeof m[i]) != 0);
		secagg_ring_add(sum, m[i], D);
	}
	const char *all[N] = {ids[0], ids[1], ids[2], ids[3], ids[4]};
	secagg_ret_client_list cl = {7, all, N};
	static uint8_t shares[N][N][SECAGG_SHARE_BYTES];
	static uint32_t xs[N][N];
	size_t nsh[N] = {0};
	for (int w = 0; w < N; w++) {
		secagg_share_list o;
		ck_assert_msg(secagg_client_reconstruct(c[w], &cl, &o, why, sizeof why) == 0, "%s", why);
		ck_assert_uint_eq(o.n, N - 1);
		for (size_t s = 0; s < o.n; s++) {
			int v = o.shares[s].fl_id[3] - '0';
			memcpy(shares[v][nsh[v]], o.shares[s].share, SECAGG_SHARE_BYTES);
			xs[v][nsh[v]++] = (uint32_t)o.shares[s].index;
		}
	}
	for (int v = 0; v < N; v++) {
		uint8_t b[32];
		ck_assert_int_eq(secagg_shamir_combine(&shares[v][0][0], xs[v], T, b), 0);
		sa_prg_apply(sum, D, b, rk[v].ind_iv, -1);
	}
	ck_assert_mem_eq(sum, plain, sizeof sum);
	for (int i = 0; i < N; i++)
		secagg_client_free(c[i]);
}
END_TEST

START_TEST(bad_keys_lists_are_refused)
{
	secagg_client *c;
	secagg_req_exchange_keys rk;
	rt_rng r;
	char why[SECAGG_REASON_MAX];
	uint8_t zero[32] = {0};
	rt_rng_seed(&r, 1);
	ck_assert_int_eq(secagg_client_new("a", 1, 4, 1, &r, &c), 0);
	ck_assert_int_eq(secagg_client_exchange_keys(c, &rk), 0);
	secagg_client_keys k[2] = {{"a", rk.c_pk, 32, rk.s_pk, 32, rk.pw_iv, 16, rk.pw_salt, 32},
				   {"b", rk.c_pk, 31, rk.s_pk, 32, rk.pw_iv, 16, rk.pw_salt, 32}};
	secagg_ret_exchange_keys kl = {1, k, 2};
	secagg_share_list o;
	ck_assert_int_eq(secagg_client_share_secrets(c, &kl, &o, why, sizeof why), SECAGG_EKEY);
	k[1].c_pk_len = 32, k[1].c_pk = zero;
	ck_assert_int_eq(secagg_client_share_secrets(c, &kl, &o, why, sizeof why), SECAGG_EKEY);
	k[1].fl_id = "a";
	ck_assert_int_eq(secagg_client_share_secrets(c, &kl, &o, why, sizeof why), SECAGG_EDUP);
	kl.iteration = 2;
	ck_assert_int_eq(secagg_client_share_secrets(c, &kl, &o, why, sizeof why), SECAGG_ESTATE);
	ck_assert(why[0]);
	secagg_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secagg_client");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, masks_cancel_and_b_rebuilds);
	tcase_add_test(tc, bad_keys_lists_are_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f ? 1 : 0;
}
