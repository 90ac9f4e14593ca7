/*
 * The sim-mode invariant checker catches what it claims to: a second, different model for an
 * iteration (agreement), a committed model that is not the FedAvg of the accepted uploads
 * (validity), a request rejected for its timestamp while inside the window (time) — and stays
 * quiet when all is well.
 */
#include "../../sim/engine/invariants.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define N 8
#define SEC 1000000000ULL

static inv *mk(recorder **rec)
{
	ck_assert_int_eq(recorder_new(NULL, NULL, 0, rec), 0);
	inv_config cfg = {.model_floats = N, .replay_ms = 600000, .node_timeout_ns = 30 * SEC,
			  .heartbeat_ns = 3 * SEC, .liveness_budget_ns = 120 * SEC};
	inv *v;
	ck_assert_int_eq(inv_new(&cfg, *rec, &v), 0);
	return v;
}

static const char *first_invariant(const inv *v)
{
	const cJSON *f = cJSON_GetArrayItem(inv_list(v), 0);
	return f ? cJSON_GetObjectItem(f, "invariant")->valuestring : "";
}

START_TEST(agreement)
{
	recorder *rec;
	inv *v = mk(&rec);
	float a[N] = {1, 2, 3, 4, 5, 6, 7, 8}, b[N] = {1, 2, 3, 4, 5, 6, 7, 9};
	inv_model_served(v, 1 * SEC, "server/0", 0, a, N);
	inv_model_served(v, 2 * SEC, "server/1", 0, a, N);
	ck_assert_int_eq(inv_count(v), 0);
	ck_assert_uint_eq(inv_agreement_checks(v), 1);
	inv_model_served(v, 3 * SEC, "server/1", 0, b, N);
	inv_model_served(v, 4 * SEC, "server/1", 0, b, N); /* recorded once */
	ck_assert_int_eq(inv_count(v), 1);
	ck_assert_str_eq(first_invariant(v), "agreement");
	inv_free(v);
	recorder_free(rec);
}
END_TEST

/* Uploads u1 (data size 1) and u2 (3) accepted in iteration 1; the server commits `m`. */
static int run_validity(const float *m)
{
	recorder *rec;
	inv *v = mk(&rec);
	cluster c;
	memset(&c, 0, sizeof c);
	float m0[N] = {0}, u1[N], u2[N];
	for (int i = 0; i < N; i++) {
		u1[i] = (float)i;
		u2[i] = (float)(2 * i);
	}
	inv_update_accepted(v, 1, 1.0, u1, N);
	inv_update_accepted(v, 1, 3.0, u2, N);
	inv_model_served(v, 1 * SEC, "server/0", 0, m0, N);
	inv_model_served(v, 2 * SEC, "server/0", 1, m, N);
	inv_check(v, 10 * SEC, &c); /* too early: answers may still be in flight */
	ck_assert_uint_eq(inv_validity_checks(v), 0);
	inv_check(v, 40 * SEC, &c);
	ck_assert_uint_eq(inv_validity_checks(v), 1);
	int n = inv_count(v);
	if (n)
		ck_assert_str_eq(first_invariant(v), "validity");
	inv_free(v);
	recorder_free(rec);
	return n;
}

START_TEST(validity)
{
	float good[N], bad[N];
	for (int i = 0; i < N; i++)
		good[i] = bad[i] = (float)(1.0 * i + 3.0 * 2 * i) / 4.0f; /* (u1 + 3 u2) / 4 */
	bad[5] += 0.5f; /* an upload counted twice would look like this */
	ck_assert_int_eq(run_validity(good), 0);
	ck_assert_int_eq(run_validity(bad), 1);
}
END_TEST

/* A LeNet-sized model: validity sums a sample of coordinates, and all of them only in the
 * iterations its schedule picks. Returns the violations for a commit of (u1 + 3 u2) / 4 with
 * coordinate `bad` (or none, -1) off by 0.5, in iteration `it`. */
#define BIG 61706
static int run_big(int64_t it, long bad)
{
	recorder *rec;
	ck_assert_int_eq(recorder_new(NULL, NULL, 0, &rec), 0);
	inv_config cfg = {.model_floats = BIG, .replay_ms = 600000, .node_timeout_ns = 30 * SEC,
			  .heartbeat_ns = 3 * SEC, .liveness_budget_ns = 120 * SEC};
	inv *v;
	ck_assert_int_eq(inv_new(&cfg, rec, &v), 0);
	cluster c;
	memset(&c, 0, sizeof c);
	float *u1 = malloc(BIG * sizeof(float)), *u2 = malloc(BIG * sizeof(float));
	float *m0 = calloc(BIG, sizeof(float)), *m = malloc(BIG * sizeof(float));
	for (long i = 0; i < BIG; i++) {
		u1[i] = (float)(i % 97) * 0.01f;
		u2[i] = (float)(i % 89) * -0.02f;
		m[i] = (u1[i] + 3 * u2[i]) / 4;
	}
	if (bad >= 0)
		m[bad] += 0.5f;
	inv_update_accepted(v, it, 1.0, u1, BIG);
	inv_update_accepted(v, it, 3.0, u2, BIG);
	for (int64_t k = 0; k < it; k++) /* earlier iterations kept model 0: they failed */
		inv_model_served(v, 1 * SEC, "server/0", k, m0, BIG);
	inv_model_served(v, 2 * SEC, "server/0", it, m, BIG);
	inv_check(v, 40 * SEC, &c);
	ck_assert_uint_eq(inv_validity_checks(v), 1);
	int n = inv_count(v);
	inv_free(v);
	recorder_free(rec);
	free(u1);
	free(u2);
	free(m0);
	free(m);
	return n;
}

START_TEST(validity_sampled)
{
	int caught_one = 0, caught_all = 0;
	for (int64_t it = 1; it <= 24; it++) {
		ck_assert_int_eq(run_big(it, -1), 0);
		caught_all += run_big(it, BIG / 2) > 0 || run_big(it, 7) > 0 || run_big(it, BIG - 1) > 0;
		caught_one += run_big(it, 12345) > 0;
	}
	/* the full iterations catch any one coordinate; the sample alone catches some */
	ck_assert_int_ge(caught_one, 1);
	ck_assert_int_ge(caught_all, 1);
}
END_TEST

START_TEST(time_window)
{
	recorder *rec;
	inv *v = mk(&rec);
	int64_t server = 1767225600000LL;
	inv_time_rejected(v, 1 * SEC, "server/0", server, server + 15 * 60000); /* outside: fine */
	ck_assert_int_eq(inv_count(v), 0);
	inv_time_rejected(v, 2 * SEC, "server/0", server, server + 5 * 60000); /* inside: wrong */
	ck_assert_int_eq(inv_count(v), 1);
	ck_assert_str_eq(first_invariant(v), "time");
	inv_free(v);
	recorder_free(rec);
}
END_TEST

/* Membership, both directions: node_timeout 30 s and heartbeats of 3 s give a bound of 36 s. */
START_TEST(membership_partition_is_not_a_violation)
{
	recorder *rec;
	inv *v = mk(&rec);
	/* server/3 is partitioned away at t=10 s: the scheduler marks it dead at ~40 s, rightly */
	for (uint64_t t = 0; t <= 120; t++) {
		int cut = t >= 10 && t < 100;
		int alive = t < 40 || t >= 103; /* marked alive again 3 s after the heal */
		inv_member m[2] = {{"server/0", 1, 1}, {"server/3", alive, !cut}};
		inv_membership(v, t * SEC, 0, m, 2);
	}
	ck_assert_int_eq(inv_count(v), 0);
	inv_free(v);
	recorder_free(rec);
}
END_TEST

START_TEST(membership_stale_alive_is_caught)
{
	recorder *rec;
	inv *v = mk(&rec);
	/* the injected bug: a scheduler that never marks a killed server dead */
	for (uint64_t t = 0; t <= 60; t++) {
		inv_member m[1] = {{"server/2", 1, t < 10}};
		inv_membership(v, t * SEC, 0, m, 1);
		if (t < 10 + 36)
			ck_assert_int_eq(inv_count(v), 0);
	}
	ck_assert_int_eq(inv_count(v), 1);
	ck_assert_str_eq(first_invariant(v), "membership");
	inv_free(v);
	recorder_free(rec);
}
END_TEST

START_TEST(membership_never_healed_is_caught)
{
	recorder *rec;
	inv *v = mk(&rec);
	/* reachable again from t=50 s, but still listed dead at 90 s: the scheduler missed it */
	for (uint64_t t = 0; t <= 90; t++) {
		inv_member m[1] = {{"server/1", t < 40, t < 10 || t >= 50}};
		inv_membership(v, t * SEC, 0, m, 1);
	}
	ck_assert_int_eq(inv_count(v), 1);
	/* a scheduler restart starts every timer again: the same history from its start is fine */
	recorder *rec2;
	inv *w = mk(&rec2);
	for (uint64_t t = 0; t <= 90; t++) {
		inv_member m[1] = {{"server/1", t >= 80, 1}};
		inv_membership(w, t * SEC, 60 * SEC, m, 1);
	}
	ck_assert_int_eq(inv_count(w), 0);
	inv_free(v);
	inv_free(w);
	recorder_free(rec);
	recorder_free(rec2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("invariants");
	TCase *tc = tcase_create("sim");
	tcase_add_test(tc, agreement);
	tcase_add_test(tc, validity);
	tcase_add_test(tc, validity_sampled);
	tcase_add_test(tc, time_window);
	tcase_add_test(tc, membership_partition_is_not_a_violation);
	tcase_add_test(tc, membership_stale_alive_is_caught);
	tcase_add_test(tc, membership_never_healed_is_caught);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
