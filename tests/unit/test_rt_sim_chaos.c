/*
 * The simulator under random faults: clients open, write to, close and reset connections to an
 * echo server while the link model jitters, slices, resets and partitions, and the server crashes,
 * restarts and pauses. Checked throughout: rt.h's stream rules (one on_close, last; every write
 * completion before it; nothing after it; on_connect once, before any byte), echoed bytes equal to
 * what was sent, in order; and the whole run is deterministic in the seed. ASan checks lifetimes.
 */
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SEC 1000000000ULL
#define SLOTS 4

typedef struct conn {
	struct conn *next_all; /* world's list of every conn ever made (freed at the end) */
	struct snode *srv;     /* server side: its node (NULL once the node is gone) */
	int server;
	int connected, closed, close_err, pending_writes, writes, completions;
	uint8_t *sent;
	size_t nsent, cap, nrecv;
	int slot;
	struct cnode *cli;
	rt_stream *s; /* client side, while not closed */
} conn;

typedef struct world {
	rt_sim *s;
	rt_rng link_rng;
	rt_host *server;
	struct snode *sn;
	struct cnode *clients[3];
	conn *all;
	int closes_by_err[8]; /* 0, EOF, RESET, REFUSED, TIMEDOUT, other */
	int bytes_echoed;
} world;

typedef struct snode {
	world *w;
	rt_listener *l;
	rt_timer *t;
	conn *conns[64];
	int n;
} snode;

typedef struct cnode {
	world *w;
	rt_host *h;
	rt_timer *t;
	conn *slot[SLOTS];
	int ticks;
} cnode;

static conn *conn_new(world *w)
{
	conn *c = calloc(1, sizeof *c);
	c->next_all = w->all;
	w->all = c;
	return c;
}

static int err_index(int err)
{
	switch (err) {
	case 0: return 0;
	case RT_EOF: return 1;
	case RT_ECONNRESET: return 2;
	case RT_ECONNREFUSED: return 3;
	case RT_ETIMEDOUT: return 4;
	default: return 5;
	}
}

/* ---- server: echo, sometimes close or reset after echoing ---- */

static void s_read(rt_stream *s, const uint8_t *buf, size_t len, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	world *w = c->srv->w;
	ck_assert_int_eq(rt_stream_write(s, buf, len, NULL, NULL), 0);
	w->bytes_echoed += (int)len;
	uint64_t r = rt_rand_u64(rt_stream_host(s)) % 100;
	if (r == 0)
		rt_stream_close(s);
	else if (r == 1)
		rt_stream_reset(s);
}

static void snode_forget(snode *n, conn *c)
{
	for (int i = 0; i < n->n; i++) {
		if (n->conns[i] == c) {
			n->conns[i] = n->conns[--n->n];
			return;
		}
	}
}

static void s_close(rt_stream *s, int err, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	c->closed = 1;
	c->close_err = err;
	if (c->srv)
		snode_forget(c->srv, c);
}

static const rt_stream_cbs s_cbs = {NULL, s_read, s_close};

static void s_accept(rt_listener *l, rt_stream *s, void *d)
{
	snode *n = d;
	if (n->n == 64) {
		rt_stream_close(s);
		return;
	}
	conn *c = conn_new(n->w);
	c->server = 1;
	c->srv = n;
	c->connected = 1;
	n->conns[n->n++] = c;
	rt_stream_set_cbs(s, &s_cbs, c);
}

static void s_tick(rt_timer *t, void *d)
{
	snode *n = d;
	char line[32];
	int len = snprintf(line, sizeof line, "%d\n", n->n);
	rt_file_append(n->w->server, "log", line, (size_t)len, rt_rand_u64(n->w->server) % 2);
}

static void snode_destroy(void *owner)
{
	snode *n = owner;
	for (int i = 0; i < n->n; i++)
		n->conns[i]->srv = NULL; /* no on_close will come: the engine drops them */
	rt_listener_close(n->l);
	rt_timer_free(n->t);
	n->w->sn = NULL;
	free(n);
}

static void snode_start(world *w)
{
	snode *n = calloc(1, sizeof *n);
	n->w = w;
	ck_assert_int_eq(rt_listen(w->server, NULL, 80, s_accept, n, &n->l), 0);
	n->t = rt_timer_new(w->server, s_tick, n);
	rt_timer_start(n->t, 7, 7);
	rt_sim_host_set_owner(w->server, snode_destroy, n);
	w->sn = n;
}

/* ---- clients ---- */

static void c_connect(rt_stream *s, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	ck_assert(!c->connected);
	c->connected = 1;
}

static void c_read(rt_stream *s, const uint8_t *buf, size_t len, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	ck_assert(c->connected);
	ck_assert_uint_le(c->nrecv + len, c->nsent);
	ck_assert_int_eq(memcmp(c->sent + c->nrecv, buf, len), 0);
	c->nrecv += len;
}

static void c_close(rt_stream *s, int err, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	ck_assert_int_eq(c->pending_writes, 0);
	c->closed = 1;
	c->close_err = err;
	c->cli->w->closes_by_err[err_index(err)]++;
	if (c->cli->slot[c->slot] && c->cli->slot[c->slot] == c)
		c->cli->slot[c->slot] = NULL;
}

static void c_wdone(rt_stream *s, int status, void *d)
{
	conn *c = d;
	ck_assert(!c->closed);
	ck_assert_int_gt(c->pending_writes, 0);
	c->pending_writes--;
	c->completions++;
}

static const rt_stream_cbs c_cbs = {c_connect, c_read, c_close};

static void c_tick(rt_timer *t, void *d)
{
	cnode *n = d;
	rt_host *h = n->h;
	int k = (int)(rt_rand_u64(h) % SLOTS);
	conn *c = n->slot[k];
	uint64_t r = rt_rand_u64(h) % 100;
	n->ticks++;
	if (!c) {
		c = conn_new(n->w);
		c->cli = n;
		c->slot = k;
		ck_assert_int_eq(rt_connect(h, "10.2.0.1", 80, 200, &c_cbs, c, &c->s), 0);
		n->slot[k] = c;
	} else if (!c->connected) {
		/* wait */
	} else if (r < 85) {
		size_t len = 1 + rt_rand_u64(h) % 2000;
		if (c->nsent + len > c->cap) {
			c->cap = (c->nsent + len) * 2;
			c->sent = realloc(c->sent, c->cap);
		}
		for (size_t i = 0; i < len; i++)
			c->sent[c->nsent + i] = (uint8_t)rt_rand_u64(h);
		int rc = rt_stream_write(c->s, c->sent + c->nsent, len, c_wdone, c);
		if (rc == 0) {
			c->nsent += len;
			c->pending_writes++;
			c->writes++;
		} else {
			ck_assert_int_eq(rc, RT_ECLOSED);
		}
	} else if (r < 97) {
		rt_stream_close(c->s);
		n->slot[k] = NULL;
	} else {
		rt_stream_reset(c->s);
		n->slot[k] = NULL;
	}
	rt_timer_start(t, 1 + rt_rand_u64(h) % 40, 0);
}

static void cnode_destroy(void *owner)
{
	cnode *n = owner;
	rt_timer_free(n->t);
	free(n);
}

/* ---- faults ---- */

static void link_model(void *ctx, const rt_host *src, const rt_host *dst, size_t len, uint64_t now,
		       rt_sim_verdict *v)
{
	world *w = ctx;
	rt_rng *r = &w->link_rng;
	v->delay_ns = 100000 + rt_rng_u64(r) % (5 * MS);
	v->slices = 1 + (uint32_t)(rt_rng_u64(r) % 4);
	v->slice_gap_ns = rt_rng_u64(r) % MS;
	uint64_t p = rt_rng_u64(r) % 1000;
	v->reset = len > 0 && p < 2;
	v->hold = len == 0 && p >= 990;
}

static void resume_host(void *h) { rt_sim_resume(h); }

static void fault(void *d)
{
	world *w = d;
	rt_rng *r = &w->link_rng;
	uint64_t now = rt_sim_now_ns(w->s);
	uint64_t p = rt_rng_u64(r) % 10;
	if (!rt_sim_host_up(w->server)) {
		ck_assert_int_eq(rt_sim_restart(w->server), 0);
		snode_start(w);
	} else if (p < 3) {
		rt_sim_crash(w->server);
		ck_assert_ptr_null(w->sn);
	} else if (p < 6) {
		rt_host *h = p == 5 ? w->clients[rt_rng_u64(r) % 3]->h : w->server;
		rt_sim_pause(h);
		rt_sim_call_at(w->s, now + 1 + rt_rng_u64(r) % (300 * MS), resume_host, h);
	} else if (p == 6) {
		rt_sim_disk_lose_unsynced(w->server);
	}
	rt_sim_call_at(w->s, now + 50 * MS + rt_rng_u64(r) % (400 * MS), fault, w);
}

typedef struct result {
	uint64_t hash;
	int closes_by_err[8];
	int echoed;
} result;

static result run_chaos(uint64_t seed)
{
	world *w = calloc(1, sizeof *w);
	w->s = rt_sim_new(seed);
	rt_rng_seed(&w->link_rng, rt_seed_derive(seed, "links"));
	rt_sim_set_link_model(w->s, link_model, w);
	ck_assert_int_eq(rt_sim_host_new(w->s, "server", "10.2.0.1", &w->server), 0);
	snode_start(w);
	for (int i = 0; i < 3; i++) {
		char name[32], ip[32];
		snprintf(name, sizeof name, "client/%d", i);
		snprintf(ip, sizeof ip, "10.2.1.%d", i + 1);
		cnode *n = calloc(1, sizeof *n);
		n->w = w;
		ck_assert_int_eq(rt_sim_host_new(w->s, name, ip, &n->h), 0);
		n->t = rt_timer_new(n->h, c_tick, n);
		rt_timer_start(n->t, rt_rand_u64(n->h) % 10, 0);
		rt_sim_host_set_owner(n->h, cnode_destroy, n);
		w->clients[i] = n;
	}
	rt_sim_call_at(w->s, 100 * MS, fault, w);
	rt_sim_run_until(w->s, 20 * SEC);

	result res = {.hash = rt_sim_trace_hash(w->s), .echoed = w->bytes_echoed};
	memcpy(res.closes_by_err, w->closes_by_err, sizeof res.closes_by_err);
	int closed = 0;
	for (conn *c = w->all; c; c = c->next_all) {
		if (!c->server && c->closed) {
			closed++;
			ck_assert_int_eq(c->completions, c->writes);
		}
	}
	ck_assert_int_gt(closed, 20);
	ck_assert_int_gt(w->closes_by_err[1] + w->closes_by_err[2], 5); /* EOF, resets */
	ck_assert_int_gt(w->bytes_echoed, 10000);
	rt_sim_free(w->s); /* runs the owners' destroy hooks */
	while (w->all) {
		conn *c = w->all;
		w->all = c->next_all;
		free(c->sent);
		free(c);
	}
	free(w);
	return res;
}

START_TEST(chaos_keeps_stream_rules_and_is_deterministic)
{
	for (uint64_t seed = 1; seed <= 3; seed++) {
		result a = run_chaos(seed), b = run_chaos(seed);
		ck_assert_uint_eq(a.hash, b.hash);
		ck_assert_int_eq(a.echoed, b.echoed);
		ck_assert_int_eq(memcmp(a.closes_by_err, b.closes_by_err, sizeof a.closes_by_err), 0);
		result c = run_chaos(seed + 100);
		ck_assert_uint_ne(a.hash, c.hash);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rt_sim_chaos");
	TCase *tc = tcase_create("chaos");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, chaos_keeps_stream_rules_and_is_deterministic);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
