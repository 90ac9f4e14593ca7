/*
 * test_netem_sim.c — the netem link model inside the simulator (sim/rt/netem_sim.c on
 * sim/rt/rt_sim.c): delivery times follow latency and jitter, bandwidth is enforced, partitions
 * block and healing restores, slicing keeps bytes and order, expired rules stop applying, and the
 * same seed gives the same run whatever order the hosts were made in.
 */
#include "sim/rt/netem_sim.h"
#include "netem/rule_json.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MAXREADS 4096

/* One end of a stream: what it read and when. */
typedef struct end {
	rt_stream *s;
	rt_host *h;
	int connects, closes, err;
	uint8_t *got;
	size_t got_len, got_cap;
	size_t reads;
	uint64_t read_at[MAXREADS];
	size_t read_end[MAXREADS]; /* got_len after each read */
} end;

static void e_connect(rt_stream *s, void *d) { ((end *)d)->connects++; }

static void e_read(rt_stream *s, const uint8_t *buf, size_t len, void *d)
{
	end *e = d;
	if (e->got_len + len > e->got_cap) {
		e->got_cap = (e->got_len + len) * 2;
		e->got = realloc(e->got, e->got_cap);
		ck_assert_ptr_nonnull(e->got);
	}
	memcpy(e->got + e->got_len, buf, len);
	e->got_len += len;
	if (e->reads < MAXREADS) {
		e->read_at[e->reads] = rt_now_ns(e->h);
		e->read_end[e->reads] = e->got_len;
	}
	e->reads++;
}

static void e_close(rt_stream *s, int err, void *d)
{
	end *e = d;
	e->closes++;
	e->err = err;
	e->s = NULL;
}

static const rt_stream_cbs e_cbs = {e_connect, e_read, e_close};

static void on_accept(rt_listener *l, rt_stream *s, void *d)
{
	end *e = d;
	ck_assert_ptr_null(e->s); /* one connection per test */
	e->s = s;
	e->h = rt_stream_host(s);
	rt_stream_set_cbs(s, &e_cbs, e);
}

/* Fleet host "fleet" (client) and "server/0" (listening on 7000), netem attached. */
typedef struct fx {
	rt_sim *s;
	netem *n;
	rt_host *srv, *cli;
	rt_listener *l;
	end sv, cl;
} fx;

static fx *fx_new(uint64_t seed, int server_first)
{
	fx *f = calloc(1, sizeof *f);
	f->s = rt_sim_new(seed);
	f->n = netem_new(0);
	if (server_first) {
		ck_assert_int_eq(rt_sim_host_new(f->s, "server/0", "10.0.0.1", &f->srv), 0);
		ck_assert_int_eq(rt_sim_host_new(f->s, "fleet", "10.0.1.1", &f->cli), 0);
	} else {
		ck_assert_int_eq(rt_sim_host_new(f->s, "fleet", "10.0.1.1", &f->cli), 0);
		ck_assert_int_eq(rt_sim_host_new(f->s, "server/0", "10.0.0.1", &f->srv), 0);
	}
	ck_assert_int_eq(netem_sim_attach(f->s, f->n), 0);
	ck_assert_int_eq(rt_listen(f->srv, NULL, 7000, on_accept, &f->sv, &f->l), 0);
	f->cl.h = f->cli;
	return f;
}

static void fx_connect(fx *f, uint64_t timeout_ms)
{
	ck_assert_int_eq(rt_connect(f->cli, "10.0.0.1", 7000, timeout_ms, &e_cbs, &f->cl, &f->cl.s),
			 0);
}

static void fx_free(fx *f)
{
	rt_sim_free(f->s);
	netem_free(f->n);
	free(f->sv.got);
	free(f->cl.got);
	free(f);
}

static uint32_t add_rule(fx *f, const char *json)
{
	netem_rule r;
	char err[200];
	uint32_t id;
	ck_assert_msg(netem_rule_parse(json, strlen(json), rt_sim_now_ns(f->s), &r, err, sizeof err) == 0,
		      "%s: %s", json, err);
	ck_assert_int_eq(netem_rule_add(f->n, &r, &id), 0);
	return id;
}

static void write_str(fx *f, const char *s)
{
	ck_assert_int_eq(rt_stream_write(f->cl.s, s, strlen(s), NULL, NULL), 0);
}

/* ---- tests ---- */

START_TEST(no_rule_default_latency)
{
	fx *f = fx_new(1, 1);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	ck_assert_int_eq(f->cl.connects, 1);
	uint64_t t0 = rt_sim_now_ns(f->s);
	write_str(f, "x");
	rt_sim_run_until(f->s, 20 * MS);
	ck_assert_uint_eq(f->sv.reads, 1);
	ck_assert_uint_eq(f->sv.read_at[0] - t0, NETEM_SIM_DEFAULT_LATENCY_NS);
	fx_free(f);
}
END_TEST

/* Mean and spread of one-way delays of n writes a second apart (no queueing between them). */
static void delays(uint64_t seed, const char *rule, int n, double *mean, double *sd,
		   uint64_t *first)
{
	fx *f = fx_new(seed, 1);
	add_rule(f, rule);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->cl.connects, 1);
	uint64_t sent[MAXREADS];
	for (int i = 0; i < n; i++) {
		sent[i] = rt_sim_now_ns(f->s);
		write_str(f, "m");
		rt_sim_run_until(f->s, sent[i] + SEC);
	}
	ck_assert_uint_eq(f->sv.reads, (size_t)n);
	double s = 0, s2 = 0;
	for (int i = 0; i < n; i++) {
		double d = (double)(f->sv.read_at[i] - sent[i]);
		s += d;
		s2 += d * d;
	}
	*mean = s / n;
	*sd = sqrt(s2 / n - *mean * *mean);
	*first = f->sv.read_at[0] - sent[0];
	fx_free(f);
}

START_TEST(latency_and_jitter)
{
	double mean, sd;
	uint64_t first;
	delays(42, "{\"from\":\"fleet\",\"to\":\"server/*\",\"latency\":\"40ms\",\"jitter\":\"10ms\","
		   "\"distribution\":\"normal\"}",
	       4000, &mean, &sd, &first);
	ck_assert_double_eq_tol(mean, 40e6, 0.6e6);
	ck_assert_double_eq_tol(sd, 10e6, 0.6e6);
	delays(42, "{\"from\":\"fleet\",\"to\":\"server\",\"latency\":\"100ms\",\"jitter\":\"20ms\"}",
	       4000, &mean, &sd, &first);
	ck_assert_double_eq_tol(mean, 100e6, 0.6e6);
	ck_assert_double_eq_tol(sd, 20e6 / sqrt(3.0), 0.6e6);
}
END_TEST

START_TEST(same_seed_same_run)
{
	const char *rule = "{\"latency\":\"5ms\",\"jitter\":\"4ms\",\"distribution\":\"pareto\"}";
	double m1, s1, m2, s2, m3, s3;
	uint64_t f1, f2, f3;
	delays(7, rule, 200, &m1, &s1, &f1);
	delays(7, rule, 200, &m2, &s2, &f2);
	ck_assert_double_eq(m1, m2);
	ck_assert_double_eq(s1, s2);
	ck_assert_uint_eq(f1, f2);
	delays(8, rule, 200, &m3, &s3, &f3);
	ck_assert_double_ne(m1, m3);

	/* the link streams hang on the names, not on the order hosts were made in */
	uint64_t at[2][3];
	for (int order = 0; order < 2; order++) {
		fx *f = fx_new(99, order);
		add_rule(f, "{\"latency\":\"10ms\",\"jitter\":\"5ms\"}");
		fx_connect(f, 0);
		rt_sim_run_until(f->s, SEC);
		for (int i = 0; i < 3; i++) {
			write_str(f, "abc");
			rt_sim_run_until(f->s, (uint64_t)(i + 2) * SEC);
		}
		ck_assert_uint_eq(f->sv.reads, 3);
		memcpy(at[order], f->sv.read_at, sizeof at[order]);
		fx_free(f);
	}
	ck_assert_int_eq(memcmp(at[0], at[1], sizeof at[0]), 0);
}
END_TEST

START_TEST(bandwidth_enforced)
{
	fx *f = fx_new(3, 1);
	add_rule(f, "{\"from\":\"fleet\",\"to\":\"server/0\",\"one_way\":true,"
		    "\"bandwidth\":\"8mbit\",\"latency\":\"5ms\"}");
	fx_connect(f, 0);
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->cl.connects, 1);
	static uint8_t buf[10000];
	uint64_t t0 = rt_sim_now_ns(f->s);
	for (int i = 0; i < 100; i++) /* 1 MB at 1 MB/s */
		ck_assert_int_eq(rt_stream_write(f->cl.s, buf, sizeof buf, NULL, NULL), 0);
	rt_sim_run_until(f->s, t0 + 5 * SEC);
	ck_assert_uint_eq(f->sv.got_len, 1000000);
	ck_assert_uint_eq(f->sv.reads, 100);
	/* write i arrives when the link has serialised i+1 writes, plus latency */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(f->sv.read_at[i] - t0, (uint64_t)(i + 1) * 10 * MS + 5 * MS);
	fx_free(f);
}
END_TEST

START_TEST(partition_blocks_and_heal_restores)
{
	fx *f = fx_new(5, 1);
	/* a partition with no end: set-up times out */
	uint32_t id = add_rule(f, "{\"from\":\"server/0\",\"to\":\"fleet\",\"partition\":true}");
	fx_connect(f, 2000);
	rt_sim_run_until(f->s, 5 * SEC);
	ck_assert_int_eq(f->cl.connects, 0);
	ck_assert_int_eq(f->cl.closes, 1);
	ck_assert_int_eq(f->cl.err, RT_ETIMEDOUT);
	ck_assert_ptr_null(f->sv.s);
	/* healed: connections work again */
	ck_assert_int_eq(netem_rule_remove(f->n, id), 0);
	f->cl.closes = 0;
	fx_connect(f, 2000);
	rt_sim_run_until(f->s, 6 * SEC);
	ck_assert_int_eq(f->cl.connects, 1);

	/* a 10 s partition that releases: bytes written into it arrive at the healing */
	add_rule(f, "{\"from\":\"fleet\",\"to\":\"server/0\",\"partition\":true,\"for\":\"10s\"}");
	uint64_t t0 = rt_sim_now_ns(f->s);
	write_str(f, "held");
	rt_sim_run_until(f->s, t0 + 10 * SEC - 1);
	ck_assert_uint_eq(f->sv.got_len, 0);
	rt_sim_run_until(f->s, t0 + 11 * SEC);
	ck_assert_uint_eq(f->sv.got_len, 4);
	ck_assert_int_eq(memcmp(f->sv.got, "held", 4), 0);
	ck_assert_uint_eq(f->sv.read_at[0], t0 + 10 * SEC); /* no latency rule applies */
	/* after it, the stream works as before */
	write_str(f, "free");
	rt_sim_run_until(f->s, t0 + 12 * SEC);
	ck_assert_uint_eq(f->sv.got_len, 8);
	ck_assert_int_eq(f->cl.closes, 0);
	ck_assert_int_eq(f->sv.closes, 0);

	/* a partition that resets at healing breaks the stream */
	add_rule(f, "{\"partition\":true,\"heal\":\"reset\",\"for\":\"3s\"}");
	write_str(f, "lost");
	rt_sim_run_until(f->s, t0 + 20 * SEC);
	ck_assert_uint_eq(f->sv.got_len, 8);
	ck_assert_int_eq(f->sv.closes, 1);
	ck_assert_int_eq(f->sv.err, RT_ECONNRESET);
	ck_assert_int_eq(f->cl.closes, 1);
	fx_free(f);
}
END_TEST

START_TEST(slicing_keeps_bytes_and_order)
{
	fx *f = fx_new(6, 1);
	add_rule(f, "{\"latency\":\"3ms\",\"jitter\":\"3ms\",\"distribution\":\"normal\","
		    "\"slices\":7,\"slice_gap\":\"1ms\"}");
	fx_connect(f, 0);
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->cl.connects, 1);
	static uint8_t want[200000];
	size_t off = 0;
	rt_rng rng;
	rt_rng_seed(&rng, 1);
	for (size_t i = 0; i < sizeof want; i++)
		want[i] = (uint8_t)rt_rng_u64(&rng);
	int writes = 0;
	while (off < sizeof want) { /* writes of 1..4000 bytes, back to back */
		size_t n = 1 + (size_t)(rt_rng_u64(&rng) % 4000);
		if (n > sizeof want - off)
			n = sizeof want - off;
		ck_assert_int_eq(rt_stream_write(f->cl.s, want + off, n, NULL, NULL), 0);
		off += n;
		writes++;
		if (writes % 10 == 0)
			rt_sim_run_until(f->s, rt_sim_now_ns(f->s) + 2 * MS);
	}
	rt_sim_run_until(f->s, rt_sim_now_ns(f->s) + 10 * SEC);
	ck_assert_uint_eq(f->sv.got_len, sizeof want);
	ck_assert_int_eq(memcmp(f->sv.got, want, sizeof want), 0);
	ck_assert_uint_gt(f->sv.reads, (size_t)writes * 5); /* the writes did arrive in pieces */
	fx_free(f);
}
END_TEST

START_TEST(expired_rules_stop_applying)
{
	fx *f = fx_new(8, 1);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->cl.connects, 1);
	add_rule(f, "{\"latency\":\"500ms\",\"for\":\"2s\"}");
	uint64_t t0 = rt_sim_now_ns(f->s);
	write_str(f, "a");
	rt_sim_run_until(f->s, t0 + 3 * SEC);
	write_str(f, "b");
	rt_sim_run_until(f->s, t0 + 4 * SEC);
	ck_assert_uint_eq(f->sv.reads, 2);
	ck_assert_uint_eq(f->sv.read_at[0], t0 + 500 * MS);
	ck_assert_uint_eq(f->sv.read_at[1], t0 + 3 * SEC + NETEM_SIM_DEFAULT_LATENCY_NS);
	ck_assert_uint_eq(netem_expire(f->n, rt_sim_now_ns(f->s)), 1);
	fx_free(f);
}
END_TEST

START_TEST(loss_as_rto_and_reset)
{
	fx *f = fx_new(9, 1);
	add_rule(f, "{\"from\":\"fleet\",\"to\":\"server/0\",\"one_way\":true,\"latency\":\"1ms\","
		    "\"loss\":0.3,\"rto\":\"200ms\"}");
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * SEC);
	ck_assert_int_eq(f->cl.connects, 1);
	int lost = 0, n = 1000;
	uint64_t sent[1000];
	for (int i = 0; i < n; i++) {
		sent[i] = rt_sim_now_ns(f->s);
		write_str(f, "z");
		rt_sim_run_until(f->s, sent[i] + 20 * SEC); /* beyond the longest backoff */
	}
	ck_assert_uint_eq(f->sv.reads, (size_t)n);
	for (int i = 0; i < n; i++) {
		uint64_t extra = f->sv.read_at[i] - sent[i] - 1 * MS;
		/* 0, or 200 ms × (2^k − 1) */
		ck_assert_uint_eq(extra % (200 * MS), 0);
		uint64_t k = extra / (200 * MS) + 1;
		ck_assert_uint_eq(k & (k - 1), 0);
		lost += extra > 0;
	}
	ck_assert_double_eq_tol((double)lost / n, 0.3, 0.05);

	add_rule(f, "{\"reset\":1}");
	write_str(f, "r");
	rt_sim_run_until(f->s, rt_sim_now_ns(f->s) + SEC);
	ck_assert_int_eq(f->cl.closes, 1);
	ck_assert_int_eq(f->sv.closes, 1);
	ck_assert_int_eq(f->sv.err, RT_ECONNRESET);
	fx_free(f);
}
END_TEST

START_TEST(verdict_mapping)
{
	netem_verdict v = {0};
	rt_sim_verdict o;
	netem_sim_verdict(&v, 10, &o);
	ck_assert_uint_eq(o.delay_ns, NETEM_SIM_DEFAULT_LATENCY_NS);
	v.rules = 1;
	v.hold = 1;
	v.delay_ns = 7;
	netem_sim_verdict(&v, 10, &o); /* endless partition */
	ck_assert_int_eq(o.hold, 1);
	v.heal_at_ns = 100;
	netem_sim_verdict(&v, 0, &o); /* set-up: held whatever the healing */
	ck_assert_int_eq(o.hold, 1);
	ck_assert_uint_eq(o.delay_ns, 7);
	netem_sim_verdict(&v, 10, &o); /* released at healing */
	ck_assert_int_eq(o.hold, 0);
	ck_assert_int_eq(o.reset, 0);
	ck_assert_uint_eq(o.delay_ns, 7);
	v.heal_reset = 1;
	netem_sim_verdict(&v, 10, &o);
	ck_assert_int_eq(o.reset, 1);
	ck_assert_int_eq(o.hold, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("netem_sim");
	TCase *t = tcase_create("sim");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, no_rule_default_latency);
	tcase_add_test(t, latency_and_jitter);
	tcase_add_test(t, same_seed_same_run);
	tcase_add_test(t, bandwidth_enforced);
	tcase_add_test(t, partition_blocks_and_heal_restores);
	tcase_add_test(t, slicing_keeps_bytes_and_order);
	tcase_add_test(t, expired_rules_stop_applying);
	tcase_add_test(t, loss_as_rto_and_reset);
	tcase_add_test(t, verdict_mapping);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
