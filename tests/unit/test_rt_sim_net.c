/*
 * The simulator's virtual network (sim/rt/rt_sim_net.c): connection set-up, byte order under any
 * link model, closes and resets, crashes, pauses, partitions, and the determinism of a small
 * multi-host program.
 */
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SEC 1000000000ULL

/* ---- one end of a stream, recording what it saw ---- */

typedef struct end {
	rt_stream *s;
	rt_host *h;
	int echo;
	int connects, closes, err, reads, wdone, wdone_at_close, wstatus;
	uint64_t connect_at, close_at, read_at[64], wdone_at;
	uint8_t got[8192];
	size_t got_len;
} end;

static void e_connect(rt_stream *s, void *d)
{
	end *e = d;
	ck_assert_int_eq(e->closes, 0);
	e->connects++;
	e->connect_at = rt_now_ns(e->h);
}

static void e_read(rt_stream *s, const uint8_t *buf, size_t len, void *d)
{
	end *e = d;
	ck_assert_int_eq(e->closes, 0);
	ck_assert_uint_le(e->got_len + len, sizeof e->got);
	memcpy(e->got + e->got_len, buf, len);
	e->got_len += len;
	if (e->reads < 64)
		e->read_at[e->reads] = rt_now_ns(e->h);
	e->reads++;
	if (e->echo)
		ck_assert_int_eq(rt_stream_write(s, buf, len, NULL, NULL), 0);
}

static void e_close(rt_stream *s, int err, void *d)
{
	end *e = d;
	ck_assert_int_eq(e->closes, 0);
	e->closes++;
	e->err = err;
	e->close_at = rt_now_ns(e->h);
	e->wdone_at_close = e->wdone;
	e->s = NULL;
	rt_stream_close(s); /* inside on_close: a no-op */
}

static void e_wdone(rt_stream *s, int status, void *d)
{
	end *e = d;
	ck_assert_int_eq(e->closes, 0);
	e->wdone++;
	e->wstatus = status;
	e->wdone_at = rt_now_ns(e->h);
}

static const rt_stream_cbs e_cbs = {e_connect, e_read, e_close};

typedef struct srv {
	rt_listener *l;
	int echo, n;
	end conns[4];
} srv;

static void srv_accept(rt_listener *l, rt_stream *s, void *d)
{
	srv *v = d;
	ck_assert_int_lt(v->n, 4);
	end *e = &v->conns[v->n++];
	e->s = s;
	e->h = rt_stream_host(s);
	e->echo = v->echo;
	rt_stream_set_cbs(s, &e_cbs, e);
}

typedef struct fx {
	rt_sim *s;
	rt_host *a, *b; /* a: server 10.0.0.1:7000, b: client 10.0.0.2 */
	srv sv;
	end c;
} fx;

static fx *fx_new(int echo)
{
	fx *f = calloc(1, sizeof *f);
	f->s = rt_sim_new(11);
	ck_assert_int_eq(rt_sim_host_new(f->s, "a", "10.0.0.1", &f->a), 0);
	ck_assert_int_eq(rt_sim_host_new(f->s, "b", "10.0.0.2", &f->b), 0);
	f->sv.echo = echo;
	ck_assert_int_eq(rt_listen(f->a, NULL, 7000, srv_accept, &f->sv, &f->sv.l), 0);
	f->c.h = f->b;
	return f;
}

static void fx_connect(fx *f, uint64_t timeout_ms)
{
	ck_assert_int_eq(rt_connect(f->b, "10.0.0.1", 7000, timeout_ms, &e_cbs, &f->c, &f->c.s), 0);
}

static void fx_free(fx *f)
{
	rt_sim_free(f->s);
	free(f);
}

/* ---- link models ---- */

typedef struct model {
	uint64_t delay, first_delay, gap;
	uint32_t slices;
	int hold, reset, data_writes;
} model;

static void model_fn(void *ctx, const rt_host *src, const rt_host *dst, size_t len, uint64_t now,
		     rt_sim_verdict *v)
{
	model *m = ctx;
	v->delay_ns = m->delay;
	if (len && m->first_delay && m->data_writes++ == 0)
		v->delay_ns = m->first_delay;
	v->slices = m->slices;
	v->slice_gap_ns = m->gap;
	v->hold = m->hold;
	v->reset = m->reset && len > 0;
}

/* ---- tests ---- */

START_TEST(connect_refused)
{
	fx *f = fx_new(0);
	ck_assert_int_eq(rt_connect(f->b, "10.0.0.1", 7001, 0, &e_cbs, &f->c, &f->c.s), 0);
	end u = {.h = f->b};
	rt_stream *us;
	ck_assert_int_eq(rt_connect(f->b, "10.9.9.9", 7000, 0, &e_cbs, &u, &us), 0);
	ck_assert_int_eq(rt_stream_write(f->c.s, "x", 1, NULL, NULL), RT_ECLOSED); /* not connected */
	rt_sim_run_until(f->s, 20 * SEC);
	ck_assert_int_eq(f->c.connects, 0);
	ck_assert_int_eq(f->c.closes, 1);
	ck_assert_int_eq(f->c.err, RT_ECONNREFUSED);
	ck_assert_uint_eq(f->c.close_at, 200000); /* one round trip of 100 µs links */
	ck_assert_int_eq(u.closes, 1);
	ck_assert_int_eq(u.err, RT_ECONNREFUSED);
	ck_assert_int_eq(f->sv.n, 0);
	fx_free(f);
}
END_TEST

START_TEST(accept_and_echo_exact_bytes)
{
	fx *f = fx_new(1);
	rt_listener *l2, *l3;
	ck_assert_int_eq(rt_listen(f->a, NULL, 7000, srv_accept, &f->sv, &l2), RT_EADDRINUSE);
	ck_assert_int_eq(rt_listen(f->a, NULL, 0, srv_accept, &f->sv, &l2), 0);
	ck_assert_uint_ne(rt_listener_port(l2), 0);
	ck_assert_int_eq(rt_listen(f->a, NULL, 0, srv_accept, &f->sv, &l3), 0);
	ck_assert_uint_ne(rt_listener_port(l3), rt_listener_port(l2));
	rt_listener_close(l3);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	ck_assert_int_eq(f->c.connects, 1);
	ck_assert_uint_eq(f->c.connect_at, 200000);
	ck_assert_int_eq(f->sv.n, 1);
	ck_assert_str_eq(rt_stream_peer_ip(f->c.s), "10.0.0.1");
	ck_assert_uint_eq(rt_stream_peer_port(f->c.s), 7000);
	ck_assert_str_eq(rt_stream_peer_ip(f->sv.conns[0].s), "10.0.0.2");
	ck_assert_uint_ge(rt_stream_peer_port(f->sv.conns[0].s), 49152);
	ck_assert_ptr_eq(rt_stream_host(f->sv.conns[0].s), f->a);

	uint8_t msg[3000], want[6000];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(rt_stream_write(f->c.s, msg, 1000, e_wdone, &f->c), 0);
	ck_assert_int_eq(rt_stream_write(f->c.s, msg + 1000, 2000, e_wdone, &f->c), 0);
	ck_assert_uint_eq(rt_stream_queued(f->c.s), 3000);
	ck_assert_int_eq(rt_stream_write(f->c.s, msg, 0, e_wdone, &f->c), 0);
	ck_assert_int_eq(rt_stream_write(f->c.s, "tail", 4, e_wdone, &f->c), 0);
	ck_assert_int_eq(f->c.wdone, 0); /* never inline */
	rt_sim_run_until(f->s, 20 * MS);
	ck_assert_uint_eq(rt_stream_queued(f->c.s), 0);
	ck_assert_int_eq(f->c.wdone, 4);
	ck_assert_int_eq(f->c.wstatus, 0);
	memcpy(want, msg, 3000);
	memcpy(want + 3000, "tail", 4);
	ck_assert_uint_eq(f->c.got_len, 3004);
	ck_assert_int_eq(memcmp(f->c.got, want, 3004), 0);
	ck_assert_uint_eq(f->sv.conns[0].got_len, 3004);
	rt_listener_close(l2);
	fx_free(f);
}
END_TEST

START_TEST(slicing_keeps_bytes_and_order)
{
	fx *f = fx_new(0);
	model m = {.delay = 1 * MS, .slices = 5, .gap = 1 * MS};
	rt_sim_set_link_model(f->s, model_fn, &m);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	uint8_t msg[1003];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i ^ (i >> 3));
	uint64_t t0 = rt_sim_now_ns(f->s);
	ck_assert_int_eq(rt_stream_write(f->c.s, msg, sizeof msg, NULL, NULL), 0);
	ck_assert_int_eq(rt_stream_write(f->c.s, "ab", 2, NULL, NULL), 0); /* 2 chunks, not 5 */
	rt_sim_run_until(f->s, SEC);
	end *e = &f->sv.conns[0];
	ck_assert_int_eq(e->reads, 7);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(e->read_at[i], t0 + (uint64_t)(i + 1) * MS);
	ck_assert_uint_ge(e->read_at[5], e->read_at[4]);
	ck_assert_uint_eq(e->got_len, sizeof msg + 2);
	ck_assert_int_eq(memcmp(e->got, msg, sizeof msg), 0);
	ck_assert_int_eq(memcmp(e->got + sizeof msg, "ab", 2), 0);
	fx_free(f);
}
END_TEST

START_TEST(order_kept_when_a_later_write_is_faster)
{
	fx *f = fx_new(0);
	model m = {.delay = 1 * MS, .first_delay = 50 * MS};
	rt_sim_set_link_model(f->s, model_fn, &m);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	ck_assert_int_eq(rt_stream_write(f->c.s, "first", 5, NULL, NULL), 0);  /* 50 ms */
	ck_assert_int_eq(rt_stream_write(f->c.s, "second", 6, NULL, NULL), 0); /* 1 ms */
	rt_sim_run_until(f->s, SEC);
	end *e = &f->sv.conns[0];
	ck_assert_int_eq(e->reads, 2);
	ck_assert_uint_eq(e->got_len, 11);
	ck_assert_int_eq(memcmp(e->got, "firstsecond", 11), 0);
	ck_assert_uint_ge(e->read_at[1], e->read_at[0]);
	ck_assert_uint_eq(e->read_at[0], 60 * MS);
	fx_free(f);
}
END_TEST

START_TEST(graceful_close_is_eof_for_the_peer)
{
	fx *f = fx_new(0);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	rt_stream *cs = f->c.s;
	ck_assert_int_eq(rt_stream_write(cs, "hi", 2, e_wdone, &f->c), 0);
	rt_stream_close(cs);
	rt_stream_close(cs); /* idempotent */
	ck_assert_int_eq(rt_stream_write(cs, "late", 4, e_wdone, &f->c), RT_ECLOSED);
	ck_assert_int_eq(f->c.closes, 0); /* queued, not inline */
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->c.closes, 1);
	ck_assert_int_eq(f->c.err, 0);
	ck_assert_int_eq(f->c.wdone_at_close, 1); /* the completion came first */
	end *e = &f->sv.conns[0];
	ck_assert_uint_eq(e->got_len, 2);
	ck_assert_int_eq(memcmp(e->got, "hi", 2), 0);
	ck_assert_int_eq(e->closes, 1);
	ck_assert_int_eq(e->err, RT_EOF);
	ck_assert_uint_ge(e->close_at, e->read_at[0]);
	ck_assert_uint_eq(rt_sim_pending(f->s), 0);
	fx_free(f);
}
END_TEST

START_TEST(reset_verdict_resets_both_ends)
{
	fx *f = fx_new(0);
	model m = {.delay = 1 * MS};
	rt_sim_set_link_model(f->s, model_fn, &m);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	m.reset = 1;
	ck_assert_int_eq(rt_stream_write(f->c.s, "lost", 4, e_wdone, &f->c), 0);
	rt_sim_run_until(f->s, SEC);
	ck_assert_int_eq(f->c.wdone_at_close, 1);
	ck_assert_int_eq(f->c.wstatus, RT_ECONNRESET);
	ck_assert_int_eq(f->c.err, RT_ECONNRESET);
	ck_assert_int_eq(f->sv.conns[0].err, RT_ECONNRESET);
	ck_assert_uint_eq(f->sv.conns[0].got_len, 0);
	fx_free(f);
}
END_TEST

START_TEST(partition_on_connect_times_out)
{
	fx *f = fx_new(0);
	model m = {.delay = 1 * MS, .hold = 1};
	rt_sim_set_link_model(f->s, model_fn, &m);
	fx_connect(f, 500);
	rt_sim_run_until(f->s, 10 * SEC);
	ck_assert_int_eq(f->c.connects, 0);
	ck_assert_int_eq(f->c.err, RT_ETIMEDOUT);
	ck_assert_uint_eq(f->c.close_at, 500 * MS);
	ck_assert_int_eq(f->sv.n, 0);
	fx_free(f);
}
END_TEST

START_TEST(pause_delays_delivery_until_resume)
{
	fx *f = fx_new(0);
	fx_connect(f, 0);
	rt_sim_run_until(f->s, 10 * MS);
	rt_sim_pause(f->a);
	ck_assert_int_eq(rt_stream_write(f->c.s, "x", 1, e_wdone, &f->c), 0);
	ck_assert_int_eq(rt_stream_write(f->c.s, "y", 1, NULL, NULL), 0);
	rt_sim_run_until(f->s, 300 * MS);
	ck_assert_int_eq(f->c.wdone, 1); /* the writer is not paused */
	ck_assert_uint_eq(f->c.wdone_at, 10 * MS);
	ck_assert_int_eq(f->sv.conns[0].reads, 0);
	rt_sim_resume(f->a);
	rt_sim_run_until(f->s, SEC);
	end *e = &f->sv.conns[0];
	ck_assert_int_eq(e->reads, 2);
	ck_assert_uint_eq(e->read_at[0], 300 * MS);
	ck_assert_int_eq(memcmp(e->got, "xy", 2), 0);
	fx_free(f);
}
END_TEST

/* A node on the server host, torn down by its destroy hook at a crash. */
typedef struct snode {
	srv sv;
	int destroyed;
} snode;

static void snode_destroy(void *owner)
{
	snode *n = owner;
	n->destroyed++;
	/* closing on a crashing host: the peer must see a reset, not EOF; no on_close here */
	rt_stream_close(n->sv.conns[0].s);
	ck_assert_int_eq(n->sv.conns[0].closes, 0);
	/* the listener and conns[1] are left for the engine */
}

START_TEST(crash_resets_peers_and_restart_listens_again)
{
	fx *f = fx_new(0);
	rt_listener_close(f->sv.l);
	snode n = {0};
	ck_assert_int_eq(rt_listen(f->a, NULL, 7000, srv_accept, &n.sv, &n.sv.l), 0);
	rt_sim_host_set_owner(f->a, snode_destroy, &n);
	end c2 = {.h = f->b};
	rt_stream *s2;
	fx_connect(f, 0);
	ck_assert_int_eq(rt_connect(f->b, "10.0.0.1", 7000, 0, &e_cbs, &c2, &s2), 0);
	rt_sim_run_until(f->s, 10 * MS);
	ck_assert_int_eq(n.sv.n, 2);
	ck_assert_int_eq(rt_file_write(f->a, "state", "1", 1, RT_FILE_SYNC), 0);
	rt_sim_crash(f->a);
	ck_assert_int_eq(n.destroyed, 1);
	ck_assert_int_eq(f->c.closes, 0); /* the news travels */
	rt_sim_run_until(f->s, 20 * MS);
	ck_assert_int_eq(f->c.err, RT_ECONNRESET);
	ck_assert_int_eq(c2.closes, 1);
	ck_assert_int_eq(c2.err, RT_ECONNRESET);
	ck_assert_int_eq(n.sv.conns[0].closes + n.sv.conns[1].closes, 0);
	/* down: refused */
	end c3 = {.h = f->b};
	rt_stream *s3;
	ck_assert_int_eq(rt_connect(f->b, "10.0.0.1", 7000, 0, &e_cbs, &c3, &s3), 0);
	rt_sim_run_until(f->s, 30 * MS);
	ck_assert_int_eq(c3.err, RT_ECONNREFUSED);
	/* up again: same port, files kept */
	ck_assert_int_eq(rt_sim_restart(f->a), 0);
	srv sv2 = {.echo = 1};
	ck_assert_int_eq(rt_listen(f->a, NULL, 7000, srv_accept, &sv2, &sv2.l), 0);
	end c4 = {.h = f->b};
	rt_stream *s4;
	ck_assert_int_eq(rt_connect(f->b, "10.0.0.1", 7000, 0, &e_cbs, &c4, &s4), 0);
	rt_sim_run_until(f->s, 40 * MS);
	ck_assert_int_eq(c4.connects, 1);
	ck_assert_int_eq(rt_stream_write(s4, "again", 5, NULL, NULL), 0);
	rt_sim_run_until(f->s, 50 * MS);
	ck_assert_uint_eq(c4.got_len, 5);
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(f->a, "state", &buf, &len), 0);
	ck_assert_uint_eq(len, 1);
	free(buf);
	fx_free(f);
}
END_TEST

/* ---- determinism: a small multi-host program ---- */

typedef struct prog_client {
	rt_host *h;
	rt_stream *s;
	rt_timer *t;
	uint8_t sent[4096];
	size_t nsent, nrecv;
	int closed;
} prog_client;

static void pc_connect(rt_stream *s, void *d)
{
	prog_client *c = d;
	size_t n = 1 + rt_rand_u64(c->h) % sizeof c->sent;
	for (size_t i = 0; i < n; i++)
		c->sent[i] = (uint8_t)rt_rand_u64(c->h);
	c->nsent = n;
	ck_assert_int_eq(rt_stream_write(s, c->sent, n, NULL, NULL), 0);
}

static void pc_read(rt_stream *s, const uint8_t *buf, size_t len, void *d)
{
	prog_client *c = d;
	ck_assert_uint_le(c->nrecv + len, c->nsent);
	ck_assert_int_eq(memcmp(c->sent + c->nrecv, buf, len), 0);
	c->nrecv += len;
	if (c->nrecv == c->nsent)
		rt_stream_close(s);
}

static void pc_close(rt_stream *s, int err, void *d)
{
	prog_client *c = d;
	ck_assert_int_eq(err, 0);
	c->closed++;
}

static const rt_stream_cbs pc_cbs = {pc_connect, pc_read, pc_close};

static void pc_tick(rt_timer *t, void *d)
{
	prog_client *c = d;
	ck_assert_int_eq(rt_connect(c->h, "10.1.0.1", 80, 0, &pc_cbs, c, &c->s), 0);
}

static void jitter_model(void *ctx, const rt_host *src, const rt_host *dst, size_t len, uint64_t now,
			 rt_sim_verdict *v)
{
	rt_rng *r = ctx;
	v->delay_ns = 1 * MS + rt_rng_u64(r) % (5 * MS);
	v->slices = 1 + (uint32_t)(rt_rng_u64(r) % 4);
	v->slice_gap_ns = rt_rng_u64(r) % MS;
}

static void count_kinds(void *ctx, uint64_t now, const rt_host *h, const char *kind, size_t bytes)
{
	int *counts = ctx;
	counts[0]++;
	if (!strcmp(kind, "data"))
		counts[1]++;
}

static uint64_t run_program(uint64_t seed, int *events)
{
	rt_sim *s = rt_sim_new(seed);
	rt_rng r;
	rt_rng_seed(&r, rt_seed_derive(seed, "links"));
	rt_sim_set_link_model(s, jitter_model, &r);
	int counts[2] = {0};
	rt_sim_set_trace(s, count_kinds, counts);
	rt_host *hs;
	ck_assert_int_eq(rt_sim_host_new(s, "server", "10.1.0.1", &hs), 0);
	srv *sv = calloc(1, sizeof *sv);
	sv->echo = 1;
	ck_assert_int_eq(rt_listen(hs, NULL, 80, srv_accept, sv, &sv->l), 0);
	prog_client cl[3];
	memset(cl, 0, sizeof cl);
	for (int i = 0; i < 3; i++) {
		char name[32], ip[32];
		snprintf(name, sizeof name, "client/%d", i);
		snprintf(ip, sizeof ip, "10.1.1.%d", i + 1);
		ck_assert_int_eq(rt_sim_host_new(s, name, ip, &cl[i].h), 0);
		cl[i].t = rt_timer_new(cl[i].h, pc_tick, &cl[i]);
		rt_timer_start(cl[i].t, rt_rand_u64(cl[i].h) % 1000, 0);
	}
	rt_sim_run_until(s, 60 * SEC);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(cl[i].closed, 1);
		ck_assert_uint_eq(cl[i].nrecv, cl[i].nsent);
		ck_assert_int_eq(sv->conns[i].err, RT_EOF);
		rt_timer_free(cl[i].t);
	}
	ck_assert_int_eq(counts[0] > 20, 1);
	ck_assert_int_ge(counts[1], 3);
	*events = counts[0];
	uint64_t hash = rt_sim_trace_hash(s);
	rt_listener_close(sv->l);
	rt_sim_free(s);
	free(sv);
	return hash;
}

START_TEST(same_seed_same_trace)
{
	int ea, eb, ec;
	uint64_t a = run_program(42, &ea), b = run_program(42, &eb), c = run_program(43, &ec);
	ck_assert_uint_eq(a, b);
	ck_assert_int_eq(ea, eb);
	ck_assert_uint_ne(a, c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_sim_net");
	TCase *tc = tcase_create("net");
	tcase_add_test(tc, connect_refused);
	tcase_add_test(tc, accept_and_echo_exact_bytes);
	tcase_add_test(tc, slicing_keeps_bytes_and_order);
	tcase_add_test(tc, order_kept_when_a_later_write_is_faster);
	tcase_add_test(tc, graceful_close_is_eof_for_the_peer);
	tcase_add_test(tc, reset_verdict_resets_both_ends);
	tcase_add_test(tc, partition_on_connect_times_out);
	tcase_add_test(tc, pause_delays_delivery_until_resume);
	tcase_add_test(tc, crash_resets_peers_and_restart_listens_again);
	tcase_add_test(tc, same_seed_same_trace);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
