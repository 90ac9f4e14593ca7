/*
 * test_netem.c — the link model (netem/link.c) and its JSON form (netem/rule_json.c), on
 * virtual time with fixed seeds: no clocks, no sockets.
 */
#include "netem/link.h"
#include "netem/rule_json.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SEC 1000000000ULL

static netem_rule rule(const char *from, const char *to)
{
	netem_rule r;
	netem_rule_init(&r);
	snprintf(r.from, sizeof r.from, "%s", from);
	snprintf(r.to, sizeof r.to, "%s", to);
	return r;
}

static uint32_t add(netem *n, const netem_rule *r)
{
	uint32_t id = 0;
	ck_assert_int_eq(netem_rule_add(n, r, &id), 0);
	ck_assert_uint_gt(id, 0);
	return id;
}

/* Each sample on a fresh link at a time far apart, so no bandwidth state carries over. */
static void latency_stats(netem_dist dist, uint64_t lat, uint64_t jit, int samples, double *mean,
			  double *sd, double *min)
{
	netem *n = netem_new(42);
	netem_rule r = rule("a", "b");
	r.latency_ns = lat;
	r.jitter_ns = jit;
	r.dist = dist;
	add(n, &r);
	rt_rng *rng = netem_link_rng(n, "a", "b");
	ck_assert_ptr_nonnull(rng);
	double sum = 0, sum2 = 0, mn = 1e300;
	for (int i = 0; i < samples; i++) {
		netem_verdict v;
		ck_assert_int_eq(netem_decide(n, "a", "b", 100, (uint64_t)i * SEC, rng, &v), 0);
		ck_assert_uint_eq(v.rules, 1);
		ck_assert_int_eq(v.hold, 0);
		ck_assert_int_eq(v.reset, 0);
		double d = (double)v.delay_ns;
		sum += d;
		sum2 += d * d;
		if (d < mn)
			mn = d;
	}
	*mean = sum / samples;
	*sd = sqrt(sum2 / samples - *mean * *mean);
	*min = mn;
	netem_free(n);
}

START_TEST(latency_uniform)
{
	double mean, sd, mn;
	latency_stats(NETEM_DIST_UNIFORM, 40 * MS, 10 * MS, 50000, &mean, &sd, &mn);
	ck_assert_double_eq_tol(mean, 40e6, 0.2e6);
	ck_assert_double_eq_tol(sd, 10e6 / sqrt(3.0), 0.2e6);
	ck_assert_double_ge(mn, 30e6); /* flat: never outside latency ± jitter */
}
END_TEST

START_TEST(latency_normal)
{
	double mean, sd, mn;
	latency_stats(NETEM_DIST_NORMAL, 100 * MS, 10 * MS, 50000, &mean, &sd, &mn);
	ck_assert_double_eq_tol(mean, 100e6, 0.3e6);
	ck_assert_double_eq_tol(sd, 10e6, 0.3e6);
	ck_assert_double_lt(mn, 70e6); /* a normal has tails past 3 sigma over 50000 draws */
}
END_TEST

START_TEST(latency_pareto)
{
	double mean, sd, mn;
	latency_stats(NETEM_DIST_PARETO, 100 * MS, 10 * MS, 200000, &mean, &sd, &mn);
	ck_assert_double_eq_tol(mean, 100e6, 0.3e6);
	/* shape 3 has a heavy tail: the sample spread converges slowly */
	ck_assert_double_eq_tol(sd, 10e6, 1.5e6);
	ck_assert_double_ge(mn, 100e6 - 10e6 / sqrt(3.0) - 1);
}
END_TEST

START_TEST(latency_fixed_and_clamped)
{
	netem *n = netem_new(1);
	netem_rule r = rule("*", "*");
	r.latency_ns = 5 * MS;
	add(n, &r);
	rt_rng *rng = netem_link_rng(n, "x", "y");
	netem_verdict v;
	ck_assert_int_eq(netem_decide(n, "x", "y", 10, 0, rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 5 * MS);
	ck_assert_uint_eq(v.slices, 1);
	/* jitter larger than latency: never negative */
	r.jitter_ns = 50 * MS;
	r.dist = NETEM_DIST_NORMAL;
	ck_assert_int_eq(netem_rule_change(n, 1, &r), 0);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(netem_decide(n, "x", "y", 10, (uint64_t)i * SEC, rng, &v), 0);
		ck_assert_uint_le(v.delay_ns, 5 * MS + 50 * MS * 8);
	}
	netem_free(n);
}
END_TEST

START_TEST(no_rules_no_delay)
{
	netem *n = netem_new(1);
	rt_rng rng;
	rt_rng_seed(&rng, 1);
	netem_verdict v;
	ck_assert_int_eq(netem_decide(n, "a", "b", 1000, 7, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 0);
	ck_assert_uint_eq(v.rules, 0);
	ck_assert_int_eq(netem_decide(NULL, "a", "b", 1, 0, &rng, &v), RT_EINVAL);
	ck_assert_int_eq(netem_decide(n, NULL, "b", 1, 0, &rng, &v), RT_EINVAL);
	ck_assert_int_eq(netem_decide(n, "a", "b", 1, 0, NULL, &v), RT_EINVAL);
	netem_free(n);
}
END_TEST

START_TEST(bandwidth_enforced)
{
	netem *n = netem_new(3);
	netem_rule r = rule("fleet", "server/*");
	r.latency_ns = 10 * MS;
	r.bandwidth_bps = 1000000; /* 1 MB/s */
	add(n, &r);
	rt_rng *rng = netem_link_rng(n, "fleet", "server/0");
	netem_verdict v;
	/* 100 writes of 10 kB at t=0: serialised one after another, 1 s in all */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(netem_decide(n, "fleet", "server/0", 10000, 0, rng, &v), 0);
		ck_assert_uint_eq(v.delay_ns, (uint64_t)(i + 1) * 10 * MS + 10 * MS);
	}
	ck_assert_uint_eq(netem_backlog(n, "fleet", "server/0", 0), 1000000);
	ck_assert_uint_eq(netem_backlog(n, "fleet", "server/0", 500 * MS), 500000);
	/* the other direction and other servers have their own queues */
	ck_assert_int_eq(netem_decide(n, "server/0", "fleet", 10000, 0, rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 20 * MS);
	ck_assert_int_eq(netem_decide(n, "fleet", "server/1", 10000, 0, rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 20 * MS);
	/* once drained, a write waits only for itself */
	ck_assert_int_eq(netem_decide(n, "fleet", "server/0", 1000, 2 * SEC, rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 1 * MS + 10 * MS);
	ck_assert_uint_eq(netem_backlog(n, "fleet", "server/0", 3 * SEC), 0);
	netem_free(n);
}
END_TEST

START_TEST(bandwidth_queue_bound)
{
	netem *n = netem_new(3);
	netem_rule r = rule("a", "b");
	r.bandwidth_bps = 1000000;
	r.queue_bytes = 25000;
	r.rto_ns = 300 * MS;
	add(n, &r);
	ck_assert_uint_eq(netem_queue_limit(n, "a", "b", 0), 25000);
	rt_rng *rng = netem_link_rng(n, "a", "b");
	netem_verdict v;
	/* one write larger than the queue into an empty queue goes through */
	ck_assert_int_eq(netem_decide(n, "a", "b", 30000, 0, rng, &v), 0);
	ck_assert_int_eq(v.queue_drop, 0);
	ck_assert_uint_eq(v.delay_ns, 30 * MS);
	/* the next one finds 30 kB queued: tail drop, sent again after the RTO */
	ck_assert_int_eq(netem_decide(n, "a", "b", 1000, 0, rng, &v), 0);
	ck_assert_int_eq(v.queue_drop, 1);
	ck_assert_uint_eq(v.losses, 1);
	ck_assert_uint_eq(v.delay_ns, 300 * MS + 1 * MS);
	netem_free(n);
}
END_TEST

START_TEST(partition_blocks_and_heals)
{
	netem *n = netem_new(5);
	netem_rule base = rule("*", "*");
	base.base = 1;
	base.latency_ns = 1 * MS;
	add(n, &base);
	netem_rule p = rule("server/0", "server/1");
	p.partition = 1;
	uint32_t id = add(n, &p);
	rt_rng *rng = netem_link_rng(n, "server/1", "server/0");
	netem_verdict v;
	/* both directions: data held, connection set-up held (times out) */
	ck_assert_int_eq(netem_decide(n, "server/1", "server/0", 100, 0, rng, &v), 0);
	ck_assert_int_eq(v.hold, 1);
	ck_assert_uint_eq(v.heal_at_ns, 0);
	ck_assert_int_eq(v.heal_reset, 0);
	ck_assert_int_eq(netem_decide(n, "server/0", "server/1", 0, 0, rng, &v), 0);
	ck_assert_int_eq(v.hold, 1);
	/* other links are untouched */
	ck_assert_int_eq(netem_decide(n, "server/0", "server/2", 100, 0, rng, &v), 0);
	ck_assert_int_eq(v.hold, 0);
	ck_assert_uint_eq(v.delay_ns, 1 * MS);
	/* healing: the rule goes, the link is back */
	ck_assert_int_eq(netem_rule_remove(n, id), 0);
	ck_assert_int_eq(netem_rule_remove(n, id), RT_ENOENT);
	ck_assert_int_eq(netem_decide(n, "server/1", "server/0", 100, 0, rng, &v), 0);
	ck_assert_int_eq(v.hold, 0);
	ck_assert_uint_eq(v.delay_ns, 1 * MS);

	/* a partition for 20 s that releases: held bytes arrive after healing plus latency */
	p.expires_at_ns = 20 * SEC;
	add(n, &p);
	ck_assert_int_eq(netem_decide(n, "server/0", "server/1", 100, 5 * SEC, rng, &v), 0);
	ck_assert_int_eq(v.hold, 1);
	ck_assert_uint_eq(v.heal_at_ns, 20 * SEC);
	ck_assert_uint_eq(v.delay_ns, 15 * SEC + 1 * MS);
	ck_assert_int_eq(netem_decide(n, "server/0", "server/1", 100, 20 * SEC, rng, &v), 0);
	ck_assert_int_eq(v.hold, 0);

	/* one that resets at healing */
	p.heal_reset = 1;
	p.expires_at_ns = 40 * SEC;
	add(n, &p);
	ck_assert_int_eq(netem_decide(n, "server/1", "server/0", 100, 30 * SEC, rng, &v), 0);
	ck_assert_int_eq(v.hold, 1);
	ck_assert_int_eq(v.heal_reset, 1);
	ck_assert_uint_eq(v.heal_at_ns, 40 * SEC);
	netem_free(n);
}
END_TEST

START_TEST(one_way_rules)
{
	netem *n = netem_new(5);
	netem_rule r = rule("scheduler", "server/*");
	r.one_way = 1;
	r.partition = 1;
	add(n, &r);
	rt_rng rng;
	rt_rng_seed(&rng, 9);
	netem_verdict v;
	ck_assert_int_eq(netem_decide(n, "scheduler", "server/3", 10, 0, &rng, &v), 0);
	ck_assert_int_eq(v.hold, 1);
	ck_assert_int_eq(netem_decide(n, "server/3", "scheduler", 10, 0, &rng, &v), 0);
	ck_assert_int_eq(v.hold, 0);
	ck_assert_uint_eq(v.rules, 0);
	netem_free(n);
}
END_TEST

START_TEST(slicing)
{
	netem *n = netem_new(5);
	netem_rule r = rule("a", "b");
	r.latency_ns = 2 * MS;
	r.slices = 4;
	r.slice_gap_ns = 1 * MS;
	add(n, &r);
	rt_rng rng;
	rt_rng_seed(&rng, 9);
	netem_verdict v;
	ck_assert_int_eq(netem_decide(n, "a", "b", 1000, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.slices, 4);
	ck_assert_uint_eq(v.slice_gap_ns, 1 * MS);
	ck_assert_uint_eq(v.delay_ns, 2 * MS);
	/* never more chunks than bytes */
	ck_assert_int_eq(netem_decide(n, "a", "b", 3, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.slices, 3);
	ck_assert_int_eq(netem_decide(n, "a", "b", 1, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.slices, 1);
	/* with a bandwidth limit, chunks come as fast as the link serialises them */
	r.bandwidth_bps = 1000000;
	ck_assert_int_eq(netem_rule_change(n, 1, &r), 0);
	ck_assert_int_eq(netem_decide(n, "a", "b", 40000, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.slices, 4);
	ck_assert_uint_eq(v.slice_gap_ns, 10 * MS);
	ck_assert_uint_eq(v.delay_ns, 10 * MS + 2 * MS);
	netem_free(n);
}
END_TEST

START_TEST(expiry)
{
	netem *n = netem_new(5);
	netem_rule r = rule("a", "b");
	r.latency_ns = 50 * MS;
	r.expires_at_ns = 10 * SEC;
	add(n, &r);
	netem_rule r2 = rule("a", "b");
	r2.latency_ns = 1 * MS;
	r2.expires_at_ns = 30 * SEC;
	add(n, &r2);
	rt_rng rng;
	rt_rng_seed(&rng, 9);
	netem_verdict v;
	ck_assert_int_eq(netem_decide(n, "a", "b", 10, 10 * SEC - 1, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 51 * MS); /* fault rules compose */
	ck_assert_uint_eq(netem_next_expiry(n, 0), 10 * SEC);
	ck_assert_int_eq(netem_decide(n, "a", "b", 10, 10 * SEC, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 1 * MS); /* the first stopped applying */
	ck_assert_uint_eq(netem_rule_count(n), 2);
	ck_assert_uint_eq(netem_expire(n, 10 * SEC), 1);
	ck_assert_uint_eq(netem_rule_count(n), 1);
	ck_assert_uint_eq(netem_rule_at(n, 0)->id, 2);
	ck_assert_uint_eq(netem_next_expiry(n, 10 * SEC), 30 * SEC);
	ck_assert_int_eq(netem_decide(n, "a", "b", 10, 31 * SEC, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 0);
	ck_assert_uint_eq(v.rules, 0);
	netem_free(n);
}
END_TEST

START_TEST(patterns_and_base_rules)
{
	ck_assert(netem_pattern_match("*", "anything"));
	ck_assert(netem_pattern_match("server/*", "server/12"));
	ck_assert(!netem_pattern_match("server/*", "server"));
	ck_assert(!netem_pattern_match("server/*", "servers/1"));
	ck_assert(netem_pattern_match("fleet", "fleet"));
	ck_assert(netem_pattern_match("fleet", "fleet/7"));
	ck_assert(!netem_pattern_match("fleet", "fleets"));
	ck_assert(netem_pattern_match("server/2", "server/2"));
	ck_assert(!netem_pattern_match("server/2", "server/21"));
	ck_assert(netem_pattern_ok("127.0.0.5"));
	ck_assert(!netem_pattern_ok(""));
	ck_assert(!netem_pattern_ok("a b"));
	ck_assert(!netem_pattern_ok("ser*ver"));
	ck_assert(!netem_pattern_ok("**"));
	ck_assert(!netem_pattern_ok("server*"));

	netem *n = netem_new(5);
	netem_rule d = rule("*", "*");
	d.base = 1;
	d.latency_ns = 1 * MS;
	add(n, &d);
	netem_rule f = rule("fleet", "*");
	f.base = 1;
	f.latency_ns = 40 * MS;
	add(n, &f);
	netem_rule s = rule("server/1", "fleet");
	s.base = 1;
	s.latency_ns = 7 * MS;
	add(n, &s);
	rt_rng rng;
	rt_rng_seed(&rng, 9);
	netem_verdict v;
	/* only the most specific base rule applies */
	ck_assert_int_eq(netem_decide(n, "server/0", "server/2", 10, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 1 * MS);
	ck_assert_int_eq(netem_decide(n, "server/0", "fleet", 10, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 40 * MS);
	ck_assert_int_eq(netem_decide(n, "fleet", "server/1", 10, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 7 * MS);
	ck_assert_uint_eq(v.rules, 1);
	/* a fault rule adds on top */
	netem_rule x = rule("fleet", "server/*");
	x.latency_ns = 200 * MS;
	add(n, &x);
	ck_assert_int_eq(netem_decide(n, "fleet", "server/0", 10, 0, &rng, &v), 0);
	ck_assert_uint_eq(v.delay_ns, 240 * MS);
	ck_assert_uint_eq(v.rules, 2);
	ck_assert_uint_eq(netem_rule_get(n, 4)->hits, 1);
	netem_free(n);
}
END_TEST

START_TEST(loss_and_reset)
{
	netem *n = netem_new(11);
	netem_rule r = rule("a", "b");
	r.loss = 0.5;
	r.rto_ns = 200 * MS;
	add(n, &r);
	rt_rng *rng = netem_link_rng(n, "a", "b");
	int lost = 0, total = 20000;
	netem_verdict v;
	for (int i = 0; i < total; i++) {
		ck_assert_int_eq(netem_decide(n, "a", "b", 10, 0, rng, &v), 0);
		ck_assert_int_eq(v.reset, 0);
		/* k losses cost 200 ms × (2^k − 1): the RTO doubles */
		ck_assert_uint_eq(v.delay_ns, 200 * MS * ((1ULL << v.losses) - 1));
		ck_assert_uint_le(v.losses, NETEM_MAX_LOSSES);
		lost += v.losses > 0;
	}
	ck_assert_double_eq_tol((double)lost / total, 0.5, 0.02);

	netem_rule z = rule("c", "d");
	z.reset = 0.1;
	add(n, &z);
	int resets = 0;
	for (int i = 0; i < total; i++) {
		ck_assert_int_eq(netem_decide(n, "d", "c", 10, 0, rng, &v), 0);
		resets += v.reset;
	}
	ck_assert_double_eq_tol((double)resets / total, 0.1, 0.01);
	netem_free(n);
}
END_TEST

START_TEST(deterministic_streams)
{
	/* the per-link stream depends on the seed and the names only, not on creation order */
	netem *a = netem_new(77), *b = netem_new(77), *c = netem_new(78);
	rt_rng *a1 = netem_link_rng(a, "x", "y");
	(void)netem_link_rng(b, "y", "x");
	(void)netem_link_rng(b, "q", "r");
	rt_rng *b1 = netem_link_rng(b, "x", "y");
	rt_rng *c1 = netem_link_rng(c, "x", "y");
	ck_assert_ptr_eq(netem_link_rng(a, "x", "y"), a1);
	ck_assert_uint_eq(rt_rng_u64(a1), rt_rng_u64(b1));
	ck_assert_uint_ne(rt_rng_u64(a1), rt_rng_u64(c1));
	ck_assert_uint_ne(rt_rng_u64(netem_link_rng(a, "y", "x")), rt_rng_u64(netem_link_rng(a, "x", "y")));
	/* many links: the table grows and every stream stays reachable */
	char s[32];
	for (int i = 0; i < 500; i++) {
		snprintf(s, sizeof s, "dev/%d", i);
		ck_assert_ptr_nonnull(netem_link_rng(a, s, "server/0"));
	}
	ck_assert_ptr_eq(netem_link_rng(a, "x", "y"), netem_link_rng(a, "x", "y"));
	netem_free(a);
	netem_free(b);
	netem_free(c);
}
END_TEST

START_TEST(rule_table)
{
	netem *n = netem_new(1);
	netem_rule r = rule("a", "b");
	r.loss = 1.5;
	ck_assert_int_eq(netem_rule_add(n, &r, NULL), RT_EINVAL);
	r.loss = NAN;
	ck_assert_int_eq(netem_rule_add(n, &r, NULL), RT_EINVAL);
	r.loss = 0;
	snprintf(r.from, sizeof r.from, "bad pattern");
	const char *why = NULL;
	ck_assert_int_eq(netem_rule_check(&r, &why), RT_EINVAL);
	ck_assert_str_eq(why, "from: bad pattern");
	r = rule("a", "b");
	ck_assert_uint_eq(add(n, &r), 1);
	ck_assert_uint_eq(add(n, &r), 2);
	ck_assert_uint_eq(add(n, &r), 3);
	ck_assert_int_eq(netem_rule_remove(n, 2), 0);
	ck_assert_ptr_null(netem_rule_get(n, 2));
	ck_assert_uint_eq(netem_rule_get(n, 3)->id, 3);
	ck_assert_int_eq(netem_rule_change(n, 2, &r), RT_ENOENT);
	netem_clear(n);
	ck_assert_uint_eq(netem_rule_count(n), 0);
	ck_assert_uint_eq(add(n, &r), 4); /* ids are never reused */
	netem_free(n);
}
END_TEST

/* ---- JSON ---- */

START_TEST(units)
{
	uint64_t v;
	ck_assert_int_eq(netem_parse_duration("250ms", &v), 0);
	ck_assert_uint_eq(v, 250 * MS);
	ck_assert_int_eq(netem_parse_duration("30s", &v), 0);
	ck_assert_uint_eq(v, 30 * SEC);
	ck_assert_int_eq(netem_parse_duration("1.5s", &v), 0);
	ck_assert_uint_eq(v, 1500 * MS);
	ck_assert_int_eq(netem_parse_duration("5m", &v), 0);
	ck_assert_uint_eq(v, 300 * SEC);
	ck_assert_int_eq(netem_parse_duration("200us", &v), 0);
	ck_assert_uint_eq(v, 200000);
	ck_assert_int_eq(netem_parse_duration("7ns", &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(netem_parse_duration("250", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("-1s", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("1e3s", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("0x10s", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("1 s", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("s", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_duration("99999999999h", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_rate("8mbit", &v), 0);
	ck_assert_uint_eq(v, 1000000);
	ck_assert_int_eq(netem_parse_rate("2MiB/s", &v), 0);
	ck_assert_uint_eq(v, 2097152);
	ck_assert_int_eq(netem_parse_rate("2 MB", &v), RT_EINVAL);
	ck_assert_int_eq(netem_parse_size("64KiB", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(netem_parse_size("1000", &v), 0);
	ck_assert_uint_eq(v, 1000);

	char buf[32];
	netem_format_duration(250 * MS, buf, sizeof buf);
	ck_assert_str_eq(buf, "250ms");
	netem_format_duration(90 * SEC, buf, sizeof buf);
	ck_assert_str_eq(buf, "90s");
	netem_format_duration(120 * SEC, buf, sizeof buf);
	ck_assert_str_eq(buf, "2m");
	netem_format_duration(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "0s");
	netem_format_duration(1500001, buf, sizeof buf);
	ck_assert_str_eq(buf, "1500001ns");
}
END_TEST

START_TEST(json_round_trip)
{
	const char *text = "{\"from\":\"fleet\",\"to\":\"server/*\",\"latency\":\"200ms\","
			   "\"jitter\":\"10ms\",\"distribution\":\"pareto\",\"bandwidth\":\"8mbit\","
			   "\"queue\":\"64KiB\",\"loss\":0.05,\"rto\":\"300ms\",\"reset\":0.01,"
			   "\"partition\":true,\"heal\":\"reset\",\"slices\":3,\"slice_gap\":\"2ms\","
			   "\"one_way\":true,\"base\":false,\"for\":\"30s\"}";
	netem_rule r;
	char err[200];
	ck_assert_int_eq(netem_rule_parse(text, strlen(text), 5 * SEC, &r, err, sizeof err), 0);
	ck_assert_str_eq(r.from, "fleet");
	ck_assert_str_eq(r.to, "server/*");
	ck_assert_uint_eq(r.latency_ns, 200 * MS);
	ck_assert_uint_eq(r.jitter_ns, 10 * MS);
	ck_assert_int_eq(r.dist, NETEM_DIST_PARETO);
	ck_assert_uint_eq(r.bandwidth_bps, 1000000);
	ck_assert_uint_eq(r.queue_bytes, 65536);
	ck_assert_double_eq(r.loss, 0.05);
	ck_assert_uint_eq(r.rto_ns, 300 * MS);
	ck_assert_double_eq(r.reset, 0.01);
	ck_assert_int_eq(r.partition, 1);
	ck_assert_int_eq(r.heal_reset, 1);
	ck_assert_uint_eq(r.slices, 3);
	ck_assert_uint_eq(r.slice_gap_ns, 2 * MS);
	ck_assert_int_eq(r.one_way, 1);
	ck_assert_uint_eq(r.expires_at_ns, 35 * SEC);

	/* print at t=15 s: 20 s left; read back at 15 s gives the same rule */
	cJSON *o = netem_rule_to_json(&r, 15 * SEC);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "for")->valuestring, "20s");
	char *printed = cJSON_PrintUnformatted(o);
	netem_rule back;
	ck_assert_int_eq(netem_rule_parse(printed, strlen(printed), 15 * SEC, &back, err, sizeof err),
			 0);
	ck_assert_int_eq(memcmp(&back, &r, sizeof r), 0);
	free(printed);
	cJSON_Delete(o);

	/* a change applies only the keys given; "for": null removes the expiry */
	cJSON *patch = cJSON_Parse("{\"latency\":\"1ms\",\"for\":null}");
	ck_assert_int_eq(netem_rule_from_json(patch, 0, &back, err, sizeof err), 0);
	ck_assert_uint_eq(back.latency_ns, 1 * MS);
	ck_assert_uint_eq(back.jitter_ns, 10 * MS);
	ck_assert_uint_eq(back.expires_at_ns, 0);
	cJSON_Delete(patch);
}
END_TEST

static void expect_error(const char *text, const char *needle)
{
	netem_rule r;
	char err[200] = "";
	ck_assert_int_eq(netem_rule_parse(text, strlen(text), 0, &r, err, sizeof err), RT_EINVAL);
	ck_assert_msg(strstr(err, needle), "error for %s is \"%s\", wanted \"%s\"", text, err,
		      needle);
}

START_TEST(json_errors)
{
	expect_error("{\"latency\": 250}", "latency:");
	expect_error("{\"latency\": \"250\"}", "latency:");
	expect_error("{\"jitter\": \"fast\"}", "jitter:");
	expect_error("{\"loss\": 2}", "loss:");
	expect_error("{\"loss\": \"0.1\"}", "loss:");
	expect_error("{\"reset\": -0.5}", "reset:");
	expect_error("{\"from\": \"a b\"}", "from:");
	expect_error("{\"to\": 3}", "to:");
	expect_error("{\"distribution\": \"zipf\"}", "distribution:");
	expect_error("{\"bandwidth\": \"fast\"}", "bandwidth:");
	expect_error("{\"bandwidth\": 1.5}", "bandwidth:");
	expect_error("{\"queue\": -1}", "queue:");
	expect_error("{\"partition\": 1}", "partition:");
	expect_error("{\"heal\": \"later\"}", "heal:");
	expect_error("{\"slices\": 1.5}", "slices:");
	expect_error("{\"for\": 30}", "for:");
	expect_error("{\"latncy\": \"1ms\"}", "unknown key \"latncy\"");
	expect_error("[1, 2]", "JSON object");
	expect_error("{\"latency\": ", "bad JSON");
	expect_error("{} trailing", "bad JSON");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("netem");
	TCase *t = tcase_create("model");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, latency_uniform);
	tcase_add_test(t, latency_normal);
	tcase_add_test(t, latency_pareto);
	tcase_add_test(t, latency_fixed_and_clamped);
	tcase_add_test(t, no_rules_no_delay);
	tcase_add_test(t, bandwidth_enforced);
	tcase_add_test(t, bandwidth_queue_bound);
	tcase_add_test(t, partition_blocks_and_heals);
	tcase_add_test(t, one_way_rules);
	tcase_add_test(t, slicing);
	tcase_add_test(t, expiry);
	tcase_add_test(t, patterns_and_base_rules);
	tcase_add_test(t, loss_and_reset);
	tcase_add_test(t, deterministic_streams);
	tcase_add_test(t, rule_table);
	suite_add_tcase(s, t);
	TCase *j = tcase_create("json");
	tcase_add_test(j, units);
	tcase_add_test(j, json_round_trip);
	tcase_add_test(j, json_errors);
	suite_add_tcase(s, j);
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
