/*
 * The simulator backend (sim/rt/rt_sim*.c): event order, timers, clocks, hosts (crash, restart,
 * pause), the virtual disk and determinism. Streams are in test_rt_sim_net.c.
 */
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SEC 1000000000ULL

/* ---- timers ---- */

typedef struct order {
	int seen[16];
	uint64_t at[16];
	int n;
	rt_host *h;
} order;

typedef struct tslot {
	order *o;
	int id;
} tslot;

static void note_fire(rt_timer *t, void *data)
{
	tslot *ts = data;
	ts->o->at[ts->o->n] = rt_now_ns(ts->o->h);
	ts->o->seen[ts->o->n++] = ts->id;
}

START_TEST(equal_time_timers_fire_in_start_order)
{
	rt_sim *s = rt_sim_new(1);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	order o = {.h = h};
	tslot slots[4] = {{&o, 0}, {&o, 1}, {&o, 2}, {&o, 3}};
	rt_timer *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = rt_timer_new(h, note_fire, &slots[i]);
	/* started 2, 0, 1 at t=0 for 20 ms; 3 at 10 ms for 10 ms: all due at 20 ms */
	rt_timer_start(t[2], 20, 0);
	rt_timer_start(t[0], 20, 0);
	rt_timer_start(t[1], 20, 0);
	rt_sim_run_until(s, 10 * MS);
	ck_assert_int_eq(o.n, 0);
	rt_timer_start(t[3], 10, 0);
	rt_sim_run_until(s, SEC);
	ck_assert_int_eq(o.n, 4);
	int want[4] = {2, 0, 1, 3};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(o.seen[i], want[i]);
		ck_assert_uint_eq(o.at[i], 20 * MS);
	}
	for (int i = 0; i < 4; i++)
		rt_timer_free(t[i]);
	rt_sim_free(s);
}
END_TEST

typedef struct selfish {
	rt_host *h;
	int fired;
	uint64_t last;
} selfish;

static void free_self_on_third(rt_timer *t, void *data)
{
	selfish *sf = data;
	sf->last = rt_now_ns(sf->h);
	if (++sf->fired == 3)
		rt_timer_free(t);
}

START_TEST(timer_free_inside_its_callback)
{
	rt_sim *s = rt_sim_new(1);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	selfish sf = {.h = h};
	rt_timer *t = rt_timer_new(h, free_self_on_third, &sf);
	ck_assert_int_eq(rt_timer_start(t, 5, 10), 0);
	rt_sim_run_until(s, SEC);
	ck_assert_int_eq(sf.fired, 3);
	ck_assert_uint_eq(sf.last, 25 * MS); /* 5, 15, 25: re-armed from the due time */
	ck_assert_uint_eq(rt_sim_pending(s), 0);
	rt_sim_free(s);
}
END_TEST

START_TEST(timer_stop_and_restart)
{
	rt_sim *s = rt_sim_new(1);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	order o = {.h = h};
	tslot sl = {&o, 7};
	rt_timer *t = rt_timer_new(h, note_fire, &sl);
	rt_timer_start(t, 100, 0);
	ck_assert(rt_timer_active(t));
	rt_sim_run_until(s, 50 * MS);
	rt_timer_stop(t);
	ck_assert(!rt_timer_active(t));
	rt_sim_run_until(s, 200 * MS);
	ck_assert_int_eq(o.n, 0);
	ck_assert_uint_eq(rt_sim_now_ns(s), 200 * MS);
	rt_timer_start(t, 30, 0);
	rt_sim_run_until(s, 240 * MS);
	ck_assert_int_eq(o.n, 1);
	ck_assert_uint_eq(o.at[0], 230 * MS);
	ck_assert(!rt_timer_active(t));
	/* restarting a pending timer re-arms it: one fire, at the new time */
	rt_timer_start(t, 100, 0);
	rt_sim_run_until(s, 250 * MS);
	rt_timer_start(t, 10, 0);
	rt_sim_run_until(s, SEC);
	ck_assert_int_eq(o.n, 2);
	ck_assert_uint_eq(o.at[1], 260 * MS);
	rt_timer_free(t);
	rt_sim_free(s);
}
END_TEST

/* ---- running ---- */

typedef struct callrec {
	rt_sim *s;
	uint64_t at;
	int n;
} callrec;

static void on_call(void *data)
{
	callrec *c = data;
	c->at = rt_sim_now_ns(c->s);
	c->n++;
}

static void stop_call(void *data) { rt_sim_stop(data); }

START_TEST(call_at_step_stop_and_time)
{
	rt_sim *s = rt_sim_new(1);
	callrec c = {.s = s};
	ck_assert_int_eq(rt_sim_call_at(s, 1500 * MS, on_call, &c), 0);
	ck_assert_uint_eq(rt_sim_pending(s), 1);
	ck_assert_uint_eq(rt_sim_run_until(s, SEC), 0);
	ck_assert_uint_eq(rt_sim_now_ns(s), SEC); /* idle until the limit: time stands there */
	ck_assert_int_eq(rt_sim_call_at(s, SEC / 2, on_call, &c), RT_EINVAL); /* the past */
	ck_assert_int_eq(rt_sim_step(s), 1);
	ck_assert_int_eq(c.n, 1);
	ck_assert_uint_eq(c.at, 1500 * MS);
	ck_assert_int_eq(rt_sim_step(s), 0);
	/* stop ends a run after the current event, leaving time there */
	rt_sim_call_at(s, 2 * SEC, stop_call, s);
	rt_sim_call_at(s, 3 * SEC, on_call, &c);
	ck_assert_uint_eq(rt_sim_run_until(s, 10 * SEC), 1);
	ck_assert_uint_eq(rt_sim_now_ns(s), 2 * SEC);
	ck_assert_int_eq(c.n, 1);
	rt_sim_run_until(s, UINT64_MAX);
	ck_assert_int_eq(c.n, 2);
	ck_assert_uint_eq(rt_sim_now_ns(s), 3 * SEC); /* ran dry: the last event's time */
	rt_sim_free(s);
}
END_TEST

/* ---- clocks ---- */

START_TEST(clock_offset_and_drift_touch_wall_only)
{
	rt_sim *s = rt_sim_new(1);
	rt_host *a, *b;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &a), 0);
	ck_assert_int_eq(rt_sim_host_new(s, "b", "10.0.0.2", &b), 0);
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS);
	rt_sim_set_clock(a, 15 * 60 * 1000, 100.0); /* +15 min, 100 ppm fast */
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS + 900000);
	rt_sim_run_until(s, 10 * SEC);
	ck_assert_uint_eq(rt_now_ns(a), 10 * SEC);
	ck_assert_uint_eq(rt_now_ns(b), 10 * SEC);
	ck_assert_int_eq(rt_wall_ms(b), RT_SIM_EPOCH_MS + 10000);
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS + 900000 + 10001);
	/* dropping the drift does not jump the clock; later time runs at the normal rate */
	rt_sim_set_clock(a, 15 * 60 * 1000, 0.0);
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS + 900000 + 10001);
	rt_sim_run_until(s, 20 * SEC);
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS + 900000 + 20001);
	rt_sim_set_clock(a, -5000, 0.0);
	ck_assert_int_eq(rt_wall_ms(a), RT_SIM_EPOCH_MS - 5000 + 20001);
	ck_assert_uint_eq(rt_now_ns(a), 20 * SEC);
	rt_sim_free(s);
}
END_TEST

/* ---- hosts ---- */

START_TEST(hosts_names_addresses_seeds)
{
	rt_sim *s = rt_sim_new(99);
	rt_host *a, *b, *x;
	ck_assert_int_eq(rt_sim_host_new(s, "server/1", "10.0.0.1", &a), 0);
	ck_assert_int_eq(rt_sim_host_new(s, "server/2", "10.0.0.1", &x), RT_EADDRINUSE);
	ck_assert_int_eq(rt_sim_host_new(s, "server/1", "10.0.0.3", &x), RT_EINVAL);
	ck_assert_int_eq(rt_sim_host_new(s, "bad", "10.0.0", &x), RT_EINVAL);
	ck_assert_int_eq(rt_sim_host_new(s, "server/2", "10.0.0.2", &b), 0);
	ck_assert_ptr_eq(rt_sim_host_find(s, "server/2"), b);
	ck_assert_ptr_null(rt_sim_host_find(s, "nope"));
	ck_assert_str_eq(rt_host_ip(b), "10.0.0.2");
	/* seeds by name, not by creation order */
	ck_assert_uint_eq(rt_host_seed(a), rt_seed_derive(99, "server/1"));
	ck_assert_uint_eq(rt_host_seed(b), rt_seed_derive(99, "server/2"));
	rt_rng r;
	rt_rng_seed(&r, rt_seed_derive(99, "server/2"));
	ck_assert_uint_eq(rt_rand_u64(b), rt_rng_u64(&r));
	ck_assert(rt_sim_host_up(a));
	ck_assert_int_eq(rt_sim_restart(a), RT_EINVAL); /* it is up */
	rt_sim_crash(a);
	ck_assert(!rt_sim_host_up(a));
	ck_assert_int_eq(rt_sim_restart(a), 0);
	ck_assert(rt_sim_host_up(a));
	ck_assert_uint_ne(rt_host_seed(a), rt_seed_derive(99, "server/1")); /* a fresh stream */
	rt_sim_free(s);
}
END_TEST

typedef struct node {
	rt_host *h;
	rt_timer *t, *leaked;
	int fires, leaked_fires, destroyed;
} node;

static void node_tick(rt_timer *t, void *data) { ((node *)data)->fires++; }
static void node_leak_tick(rt_timer *t, void *data) { ((node *)data)->leaked_fires++; }

static void node_destroy(void *owner)
{
	node *n = owner;
	n->destroyed++;
	ck_assert(!rt_sim_host_up(n->h));
	/* every call is inert now: no event comes of it */
	ck_assert_int_eq(rt_timer_start(n->t, 1, 1), 0);
	rt_timer_free(n->t);
	ck_assert_int_eq(rt_file_write(n->h, "late", "x", 1, RT_FILE_SYNC), 0);
	/* n->leaked is left for the engine to drop */
}

START_TEST(crash_drops_timers_and_runs_destroy_hook)
{
	rt_sim *s = rt_sim_new(5);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "server/0", "10.0.0.1", &h), 0);
	node n = {.h = h};
	n.t = rt_timer_new(h, node_tick, &n);
	n.leaked = rt_timer_new(h, node_leak_tick, &n);
	rt_timer_start(n.t, 10, 10);
	rt_timer_start(n.leaked, 10, 10);
	rt_sim_host_set_owner(h, node_destroy, &n);
	rt_sim_run_until(s, 35 * MS);
	ck_assert_int_eq(n.fires, 3);
	rt_sim_crash(h);
	ck_assert_int_eq(n.destroyed, 1);
	rt_sim_crash(h); /* already down: nothing */
	ck_assert_int_eq(n.destroyed, 1);
	rt_sim_run_until(s, SEC);
	ck_assert_int_eq(n.fires, 3);
	ck_assert_int_eq(n.leaked_fires, 3);
	ck_assert_uint_eq(rt_sim_pending(s), 0);
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(h, "late", &buf, &len), RT_ENOENT);
	/* a crashed host accepts calls and does nothing */
	rt_timer *t = rt_timer_new(h, node_tick, &n);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(rt_timer_start(t, 1, 0), 0);
	rt_sim_run_until(s, 2 * SEC);
	ck_assert_int_eq(n.fires, 3);
	rt_timer_free(t);
	rt_sim_free(s);
}
END_TEST

START_TEST(free_runs_owner_hooks)
{
	rt_sim *s = rt_sim_new(5);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	node *n = calloc(1, sizeof *n);
	n->h = h;
	n->t = rt_timer_new(h, node_tick, n);
	n->leaked = rt_timer_new(h, node_leak_tick, n);
	rt_timer_start(n->t, 10, 10);
	rt_sim_host_set_owner(h, node_destroy, n);
	rt_sim_run_until(s, 15 * MS);
	rt_sim_free(s); /* calls node_destroy; frees the leaked timer (ASan checks) */
	ck_assert_int_eq(n->destroyed, 1);
	free(n);
}
END_TEST

START_TEST(pause_holds_timers_until_resume)
{
	rt_sim *s = rt_sim_new(1);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	order o = {.h = h};
	tslot s1 = {&o, 1}, s2 = {&o, 2};
	rt_timer *t1 = rt_timer_new(h, note_fire, &s1), *t2 = rt_timer_new(h, note_fire, &s2);
	rt_timer_start(t1, 100, 0);
	rt_timer_start(t2, 80, 0);
	rt_sim_run_until(s, 50 * MS);
	rt_sim_pause(h);
	rt_sim_run_until(s, 300 * MS);
	ck_assert_int_eq(o.n, 0);
	ck_assert(rt_timer_active(t1));
	rt_sim_resume(h);
	rt_sim_run_until(s, SEC);
	ck_assert_int_eq(o.n, 2);
	ck_assert_int_eq(o.seen[0], 2); /* original order kept */
	ck_assert_int_eq(o.seen[1], 1);
	ck_assert_uint_eq(o.at[0], 300 * MS);
	ck_assert_uint_eq(o.at[1], 300 * MS);
	rt_timer_free(t1);
	rt_timer_free(t2);
	rt_sim_free(s);
}
END_TEST

/* ---- virtual disk ---- */

static char *slurp(rt_host *h, const char *name)
{
	uint8_t *buf;
	size_t len;
	if (rt_file_read(h, name, &buf, &len))
		return NULL;
	ck_assert_uint_eq(strlen((char *)buf), len); /* NUL-terminated */
	return (char *)buf;
}

static void assert_file(rt_host *h, const char *name, const char *want)
{
	char *got = slurp(h, name);
	if (!want) {
		ck_assert_msg(got == NULL, "%s should be missing, has \"%s\"", name, got);
		return;
	}
	ck_assert_msg(got != NULL, "%s missing", name);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(crash_loses_unsynced_keeps_synced)
{
	rt_sim *s = rt_sim_new(3);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	ck_assert_int_eq(rt_file_write(h, "unsynced", "u", 1, 0), 0);
	ck_assert_int_eq(rt_file_write(h, "synced", "s", 1, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_write(h, "over", "old", 3, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_write(h, "over", "new", 3, 0), 0);
	ck_assert_int_eq(rt_file_write(h, "fsynced", "f", 1, 0), 0);
	ck_assert_int_eq(rt_file_fsync(h, "fsynced"), 0);
	ck_assert_int_eq(rt_file_fsync(h, "missing"), RT_ENOENT);
	ck_assert_int_eq(rt_file_append(h, "log", "x", 1, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_append(h, "log", "y", 1, 0), 0);
	ck_assert_int_eq(rt_file_append(h, "log2", "1", 1, 0), 0);
	ck_assert_int_eq(rt_file_append(h, "log2", "2", 1, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_write(h, "gone", "g", 1, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_file_remove(h, "gone"), 0);
	ck_assert_int_eq(rt_file_remove(h, "gone"), RT_ENOENT);
	ck_assert_int_eq(rt_file_write(h, "../x", "g", 1, 0), RT_EINVAL);
	assert_file(h, "over", "new");
	assert_file(h, "log", "xy");
	rt_sim_crash(h);
	ck_assert_int_eq(rt_sim_restart(h), 0);
	assert_file(h, "unsynced", NULL);
	assert_file(h, "synced", "s");
	assert_file(h, "over", "old");
	assert_file(h, "fsynced", "f");
	assert_file(h, "log", "x");
	assert_file(h, "log2", "12");
	assert_file(h, "gone", NULL);
	/* lose_unsynced without a crash */
	ck_assert_int_eq(rt_file_append(h, "log", "z", 1, 0), 0);
	ck_assert_int_eq(rt_file_write(h, "synced", "t", 1, 0), 0);
	rt_sim_disk_lose_unsynced(h);
	ck_assert(rt_sim_host_up(h));
	assert_file(h, "log", "x");
	assert_file(h, "synced", "s");
	rt_sim_free(s);
}
END_TEST

START_TEST(disk_corrupt_flips_a_byte)
{
	rt_sim *s = rt_sim_new(3);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	ck_assert_int_eq(rt_file_write(h, "m", "hello", 5, RT_FILE_SYNC), 0);
	ck_assert_int_eq(rt_sim_disk_corrupt(h, "m", 6), 0); /* 6 % 5 = 1 */
	char *got = slurp(h, "m");
	ck_assert_int_eq(memcmp(got, "h", 1), 0);
	ck_assert_int_eq((uint8_t)got[1], (uint8_t)('e' ^ 0xff));
	ck_assert_int_eq(memcmp(got + 2, "llo", 3), 0);
	free(got);
	rt_sim_crash(h); /* the durable copy was flipped too */
	rt_sim_restart(h);
	got = slurp(h, "m");
	ck_assert_int_eq((uint8_t)got[1], (uint8_t)('e' ^ 0xff));
	free(got);
	ck_assert_int_eq(rt_sim_disk_corrupt(h, "nope", 0), RT_ENOENT);
	rt_sim_free(s);
}
END_TEST

/* ---- logging ---- */

START_TEST(log_lines_carry_virtual_time)
{
	rt_sim *s = rt_sim_new(3);
	rt_host *h;
	ck_assert_int_eq(rt_sim_host_new(s, "a", "10.0.0.1", &h), 0);
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	rt_sim_set_log_file(s, f);
	rt_sim_run_until(s, 1500 * MS);
	rt_log(h, RT_LOG_INFO, "hello %d", 7);
	rt_log(h, RT_LOG_DEBUG, "dropped");
	rt_sim_host_set_log_level(h, RT_LOG_DEBUG);
	rt_log(h, RT_LOG_DEBUG, "kept");
	rt_sim_crash(h);
	rt_log(h, RT_LOG_ERROR, "from the dead");
	fclose(f);
	ck_assert_str_eq(mem, "[1.500000] 2026-01-01T00:00:01.500Z a INFO hello 7\n"
			      "[1.500000] 2026-01-01T00:00:01.500Z a DEBUG kept\n");
	free(mem);
	rt_sim_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_sim");
	TCase *tc = tcase_create("engine");
	tcase_add_test(tc, equal_time_timers_fire_in_start_order);
	tcase_add_test(tc, timer_free_inside_its_callback);
	tcase_add_test(tc, timer_stop_and_restart);
	tcase_add_test(tc, call_at_step_stop_and_time);
	tcase_add_test(tc, clock_offset_and_drift_touch_wall_only);
	tcase_add_test(tc, hosts_names_addresses_seeds);
	tcase_add_test(tc, crash_drops_timers_and_runs_destroy_hook);
	tcase_add_test(tc, free_runs_owner_hooks);
	tcase_add_test(tc, pause_holds_timers_until_resume);
	tcase_add_test(tc, crash_loses_unsynced_keeps_synced);
	tcase_add_test(tc, disk_corrupt_flips_a_byte);
	tcase_add_test(tc, log_lines_carry_virtual_time);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
