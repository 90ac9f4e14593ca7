/*
 * test_rt_uv.c — the libuv backend of rt.h: timers and real loopback TCP (files, clocks, random
 * streams and logging are in test_rt_uv_host.c).
 *
 * Every test runs its own rt_uv with a watchdog timer that stops the loop and fails the test, so a
 * lost callback fails instead of hanging. Listeners use port 0. Nothing asserts on durations.
 */
#include "rt/rt.h"
#include "rt/rt_uv.h"

#include <check.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCHDOG_MS 20000

/* ---- harness ---- */

struct env {
	rt_uv *u;
	rt_host *a, *b;
	rt_timer *dog;
	int dog_fired;
	char dir[64];
};

static void dog_cb(rt_timer *t, void *data)
{
	struct env *e = data;
	e->dog_fired = 1;
	rt_uv_stop(e->u);
}

static rt_host *env_host(struct env *e, const char *name, const char *ip, uint64_t seed,
			 int64_t offset)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/%s/data", e->dir, name);
	rt_uv_host_config cfg = {.name = name, .ip = ip, .data_dir = dir, .seed = seed,
				 .clock_offset_ms = offset};
	rt_host *h = NULL;
	ck_assert_int_eq(rt_uv_host_new(e->u, &cfg, &h), 0);
	ck_assert_ptr_nonnull(h);
	return h;
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/test_rt_uv.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	e->u = rt_uv_new();
	ck_assert_ptr_nonnull(e->u);
	e->a = env_host(e, "a", "127.0.0.1", 1, 0);
	e->b = env_host(e, "b", "127.0.0.1", 2, 0);
	e->dog = rt_timer_new(e->a, dog_cb, e);
	ck_assert_int_eq(rt_timer_start(e->dog, WATCHDOG_MS, 0), 0);
}

static void env_run(struct env *e)
{
	rt_uv_run(e->u);
	ck_assert_msg(!e->dog_fired, "watchdog fired: a callback never came");
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void env_done(struct env *e)
{
	rt_timer_free(e->dog);
	if (e->a)
		rt_uv_host_free(e->a);
	if (e->b)
		rt_uv_host_free(e->b);
	rt_uv_free(e->u);
	nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- timers ---- */

struct tctx {
	struct env *e;
	int count;
	rt_timer *other, *end;
};

static void count_cb(rt_timer *t, void *data) { ((struct tctx *)data)->count++; }
static void stop_cb(rt_timer *t, void *data) { rt_uv_stop(((struct tctx *)data)->e->u); }

static void repeat_cb(rt_timer *t, void *data)
{
	struct tctx *c = data;
	if (++c->count == 3) {
		rt_timer_stop(t);
		ck_assert_int_eq(rt_timer_active(t), 0);
		rt_timer_stop(c->other); /* pending: never fires */
		rt_timer_start(c->end, 30, 0);
	}
}

START_TEST(timer_basics)
{
	struct env e;
	env_init(&e);
	struct tctx c = {.e = &e}, c2 = {.e = &e}, c3 = {.e = &e};
	rt_timer *t = rt_timer_new(e.a, count_cb, &c);
	rt_timer *end = rt_timer_new(e.a, stop_cb, &c);
	/* one-shot */
	ck_assert_int_eq(rt_timer_active(t), 0);
	ck_assert_int_eq(rt_timer_start(t, 10, 0), 0);
	ck_assert_int_eq(rt_timer_active(t), 1);
	ck_assert_int_eq(c.count, 0); /* never inline */
	/* re-arming a pending timer replaces its deadline: it fires once */
	rt_timer *re = rt_timer_new(e.a, count_cb, &c3);
	rt_timer_start(re, 5, 0);
	rt_timer_start(re, 10, 0);
	ck_assert_int_eq(rt_timer_start(end, 60, 0), 0);
	env_run(&e);
	ck_assert_int_eq(c.count, 1);
	ck_assert_int_eq(c3.count, 1);
	ck_assert_int_eq(rt_timer_active(t), 0);
	/* started again; then a repeating one that stops itself and another pending timer */
	ck_assert_int_eq(rt_timer_start(t, 1, 0), 0);
	c2.end = end;
	c2.other = re;
	rt_timer *rep = rt_timer_new(e.a, repeat_cb, &c2);
	rt_timer_start(re, 10000, 0);
	ck_assert_int_eq(rt_timer_start(rep, 2, 2), 0);
	env_run(&e);
	ck_assert_int_eq(c.count, 2);
	ck_assert_int_eq(c2.count, 3);
	ck_assert_int_eq(c3.count, 1);
	ck_assert_int_eq(rt_timer_active(rep) + rt_timer_active(re), 0);
	rt_timer_free(t);
	rt_timer_free(re);
	rt_timer_free(rep);
	rt_timer_free(end);
	env_done(&e);
}
END_TEST

static void self_free_cb(rt_timer *t, void *data)
{
	struct tctx *c = data;
	c->count++;
	rt_timer_free(t);      /* its own, repeating */
	rt_timer_free(c->other); /* another one, pending and due in the same pass */
	rt_timer_start(c->end, 30, 0);
}

START_TEST(timer_free_in_callback)
{
	struct env e;
	env_init(&e);
	struct tctx c = {.e = &e};
	struct tctx c2 = {.e = &e};
	c.end = rt_timer_new(e.a, stop_cb, &c);
	rt_timer *t = rt_timer_new(e.a, self_free_cb, &c);
	c.other = rt_timer_new(e.a, count_cb, &c2);
	rt_timer_start(t, 5, 1);
	rt_timer_start(c.other, 5, 0);
	env_run(&e);
	ck_assert_int_eq(c.count, 1);
	ck_assert_int_eq(c2.count, 0);
	rt_timer_free(c.end);
	env_done(&e);
}
END_TEST

struct octx;
struct oslot {
	struct octx *o;
	int id;
};

struct octx {
	struct env *e;
	rt_timer *t[8];
	struct oslot slot[8];
	int order[8];
	int n, want;
};

static void order_cb(rt_timer *t, void *data)
{
	struct oslot *sl = data;
	struct octx *o = sl->o;
	o->order[o->n++] = sl->id;
	if (o->n == o->want)
		rt_uv_stop(o->e->u);
}

static void start_all_cb(rt_timer *t, void *data)
{
	struct octx *o = data;
	/* Inside a timer callback the loop time is fixed: equal delays mean equal deadlines. */
	for (int i = 0; i < o->want; i++)
		rt_timer_start(o->t[i], 15, 0);
}

START_TEST(timer_same_deadline_order)
{
	struct env e;
	env_init(&e);
	struct octx o = {.e = &e, .want = 8};
	/* created in one order, started in another: start order is what counts */
	for (int i = 0; i < 8; i++) {
		o.slot[i].o = &o;
		o.slot[i].id = i;
		o.t[7 - i] = rt_timer_new(e.a, order_cb, &o.slot[i]);
	}
	rt_timer *go = rt_timer_new(e.a, start_all_cb, &o);
	rt_timer_start(go, 1, 0);
	env_run(&e);
	ck_assert_int_eq(o.n, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(o.order[i], 7 - i);
	/* and from outside a timer callback */
	o.n = 0;
	for (int i = 0; i < 8; i++)
		rt_timer_start(o.t[i], 10, 0);
	env_run(&e);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(o.order[i], 7 - i);
	for (int i = 0; i < 8; i++)
		rt_timer_free(o.t[i]);
	rt_timer_free(go);
	env_done(&e);
}
END_TEST

static void zero_rearm_cb(rt_timer *t, void *data)
{
	((struct tctx *)data)->count++;
	rt_timer_start(t, 0, 0);
}

/* A 0 ms timer re-armed from its own callback must not starve the other timers. */
START_TEST(timer_zero_rearm_no_starvation)
{
	struct env e;
	env_init(&e);
	struct tctx c = {.e = &e};
	rt_timer *z = rt_timer_new(e.a, zero_rearm_cb, &c);
	rt_timer *end = rt_timer_new(e.a, stop_cb, &c);
	rt_timer_start(z, 0, 0);
	rt_timer_start(end, 20, 0);
	env_run(&e);
	ck_assert_int_gt(c.count, 0);
	rt_timer_free(z);
	rt_timer_free(end);
	env_done(&e);
}
END_TEST

/* ---- streams ---- */

struct peer {
	struct sctx *x;
	rt_stream *s;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	size_t expect;      /* close once this much arrived (0 = never) */
	int connected, closed, close_err;
	int wcb, wcb_ok, wcb_fail, wcb_after_close;
	int seq_close;      /* event sequence number of on_close */
	int seq_last_wcb;   /* ... and of the last write completion */
	int echo;           /* server: echo what arrives */
	int reset_on_read;  /* client: reset at the first byte */
};

struct sctx {
	struct env e;
	rt_listener *l;
	struct peer srv, cli;
	int seq;
	int want_closed;  /* stop the loop after this many on_close */
	int only_cli;     /* stop at the client's on_close instead */
	int nclosed;
	int accepted;
	char accepted_ip[16];
	const char *accept_write; /* server: write this at accept */
	int accept_close;         /* server: close right after accept_write */
	int accept_nothing;       /* server: neither adopt nor close */
};

static void rx_add(struct peer *p, const uint8_t *buf, size_t len)
{
	if (p->rx_len + len > p->rx_cap) {
		p->rx_cap = (p->rx_len + len) * 2;
		p->rx = realloc(p->rx, p->rx_cap);
		ck_assert_ptr_nonnull(p->rx);
	}
	memcpy(p->rx + p->rx_len, buf, len);
	p->rx_len += len;
}

static void peer_wcb(rt_stream *s, int status, void *data)
{
	struct peer *p = data;
	p->wcb++;
	if (status == 0)
		p->wcb_ok++;
	else
		p->wcb_fail++;
	if (p->closed)
		p->wcb_after_close++;
	p->seq_last_wcb = ++p->x->seq;
}

/* Every write completed once, ok or failed as counted, all before on_close. */
static void ck_writes(const struct peer *p, int ok, int fail)
{
	ck_assert_int_eq(p->wcb_ok, ok);
	ck_assert_int_eq(p->wcb_fail, fail);
	ck_assert_int_eq(p->wcb_after_close, 0);
	ck_assert_int_lt(p->seq_last_wcb, p->seq_close);
}

static void peer_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	struct peer *p = data;
	rx_add(p, buf, len);
	if (p->echo)
		ck_assert_int_eq(rt_stream_write(s, buf, len, NULL, NULL), 0);
	if (p->reset_on_read) {
		rt_stream_reset(s);
		rt_stream_reset(s); /* idempotent */
	}
	if (p->expect && p->rx_len >= p->expect) {
		rt_stream_close(s);
		rt_stream_close(s); /* idempotent */
	}
}

static void peer_close(rt_stream *s, int err, void *data)
{
	struct peer *p = data;
	ck_assert_int_eq(p->closed, 0);
	p->closed = 1;
	p->close_err = err;
	p->seq_close = ++p->x->seq;
	if (p->x->only_cli ? p == &p->x->cli : ++p->x->nclosed == p->x->want_closed)
		rt_uv_stop(p->x->e.u);
}

static void peer_connect(rt_stream *s, void *data)
{
	struct peer *p = data;
	p->connected = 1;
}

static const rt_stream_cbs peer_cbs = {
	.on_connect = peer_connect, .on_read = peer_read, .on_close = peer_close};

static void accept_cb(rt_listener *l, rt_stream *s, void *data)
{
	struct sctx *x = data;
	x->accepted++;
	x->srv.s = s;
	snprintf(x->accepted_ip, sizeof x->accepted_ip, "%s", rt_stream_peer_ip(s));
	if (x->accept_nothing)
		return;
	rt_stream_set_cbs(s, &peer_cbs, &x->srv);
	if (x->accept_write)
		ck_assert_int_eq(rt_stream_write(s, x->accept_write, strlen(x->accept_write),
						 peer_wcb, &x->srv), 0);
	if (x->accept_close) {
		rt_stream_close(s);
		ck_assert_int_eq(x->srv.closed, 0); /* not inline */
	}
}

static void sctx_init(struct sctx *x)
{
	memset(x, 0, sizeof *x);
	env_init(&x->e);
	x->srv.x = x;
	x->cli.x = x;
	x->want_closed = 2;
	ck_assert_int_eq(rt_listen(x->e.a, NULL, 0, accept_cb, x, &x->l), 0);
	ck_assert_int_ne(rt_listener_port(x->l), 0);
}

static void sctx_connect(struct sctx *x, rt_host *from)
{
	ck_assert_int_eq(rt_connect(from, "127.0.0.1", rt_listener_port(x->l), 0, &peer_cbs,
				    &x->cli, &x->cli.s), 0);
	ck_assert_ptr_nonnull(x->cli.s);
}

static void sctx_done(struct sctx *x)
{
	if (x->l)
		rt_listener_close(x->l);
	free(x->srv.rx);
	free(x->cli.rx);
	env_done(&x->e);
}

static void fill_pattern(uint8_t *b, size_t len, uint32_t seed)
{
	uint32_t v = seed;
	for (size_t i = 0; i < len; i++) {
		v = v * 1103515245u + 12345u;
		b[i] = (uint8_t)(v >> 16);
	}
}

static void echo_connect(rt_stream *s, void *data)
{
	struct peer *p = data;
	static const char *parts[] = {"hello ", "", "world", "\0binary\xff", "!"};
	static const size_t lens[] = {6, 0, 5, 8, 1};
	uint8_t buf[64];
	p->connected = 1;
	ck_assert_str_eq(rt_stream_peer_ip(s), "127.0.0.1");
	for (int i = 0; i < 5; i++) {
		memcpy(buf, parts[i], lens[i]);
		ck_assert_int_eq(rt_stream_write(s, buf, lens[i], peer_wcb, p), 0);
		memset(buf, 'X', sizeof buf); /* the runtime copied it */
	}
	ck_assert_int_eq(p->wcb, 0); /* completions are never inline */
}

static const rt_stream_cbs echo_cli_cbs = {
	.on_connect = echo_connect, .on_read = peer_read, .on_close = peer_close};

START_TEST(stream_echo)
{
	struct sctx x;
	sctx_init(&x);
	x.srv.echo = 1;
	x.cli.expect = 20;
	ck_assert_int_eq(rt_connect(x.e.b, "127.0.0.1", rt_listener_port(x.l), 0, &echo_cli_cbs,
				    &x.cli, &x.cli.s), 0);
	ck_assert_int_eq(x.cli.connected, 0); /* not inline */
	env_run(&x.e);
	ck_assert_int_eq(x.cli.connected, 1);
	ck_assert_int_eq(x.accepted, 1);
	ck_assert_uint_eq(x.cli.rx_len, 20);
	ck_assert_mem_eq(x.cli.rx, "hello world\0binary\xff!", 20);
	ck_assert_uint_eq(x.srv.rx_len, 20);
	ck_writes(&x.cli, 5, 0);
	ck_assert_int_eq(x.cli.close_err, 0);     /* local close */
	ck_assert_int_eq(x.srv.close_err, RT_EOF); /* peer closed in order */
	sctx_done(&x);
}
END_TEST

START_TEST(stream_peer_close_eof)
{
	struct sctx x;
	sctx_init(&x);
	x.accept_write = "bye";
	x.accept_close = 1;
	sctx_connect(&x, x.e.b);
	env_run(&x.e);
	ck_assert_uint_eq(x.cli.rx_len, 3);
	ck_assert_mem_eq(x.cli.rx, "bye", 3);
	ck_assert_int_eq(x.cli.close_err, RT_EOF);
	ck_assert_int_eq(x.srv.close_err, 0);
	ck_writes(&x.srv, 1, 0);
	sctx_done(&x);
}
END_TEST

START_TEST(stream_reset_peer_sees_connreset)
{
	struct sctx x;
	sctx_init(&x);
	x.accept_write = "x";
	x.cli.reset_on_read = 1;
	sctx_connect(&x, x.e.b);
	env_run(&x.e);
	ck_assert_int_eq(x.cli.close_err, 0);
	ck_assert_int_eq(x.srv.close_err, RT_ECONNRESET);
	sctx_done(&x);
}
END_TEST

/* Writes queued before the connection exists, then a graceful close: all bytes arrive. */
START_TEST(stream_write_before_connect_then_close)
{
	struct sctx x;
	sctx_init(&x);
	sctx_connect(&x, x.e.b);
	ck_assert_int_eq(rt_stream_write(x.cli.s, "abc", 3, peer_wcb, &x.cli), 0);
	ck_assert_int_eq(rt_stream_write(x.cli.s, "defg", 4, peer_wcb, &x.cli), 0);
	ck_assert_uint_eq(rt_stream_queued(x.cli.s), 7);
	rt_stream_close(x.cli.s);
	ck_assert_int_eq(rt_stream_write(x.cli.s, "h", 1, peer_wcb, &x.cli), RT_ECLOSED);
	env_run(&x.e);
	ck_writes(&x.cli, 2, 0);
	ck_assert_int_eq(x.cli.close_err, 0);
	ck_assert_uint_eq(x.srv.rx_len, 7);
	ck_assert_mem_eq(x.srv.rx, "abcdefg", 7);
	ck_assert_int_eq(x.srv.close_err, RT_EOF);
	sctx_done(&x);
}
END_TEST

/* A reset drops queued bytes: their completion is negative and comes before on_close. */
START_TEST(stream_reset_cancels_writes_before_close)
{
	struct sctx x;
	sctx_init(&x);
	x.only_cli = 1; /* the server may or may not see the connection */
	sctx_connect(&x, x.e.b);
	size_t big = 4u << 20;
	uint8_t *buf = calloc(1, big);
	ck_assert_int_eq(rt_stream_write(x.cli.s, buf, big, peer_wcb, &x.cli), 0);
	ck_assert_int_eq(rt_stream_write(x.cli.s, buf, 10, peer_wcb, &x.cli), 0);
	free(buf);
	ck_assert_uint_eq(rt_stream_queued(x.cli.s), big + 10); /* still connecting */
	rt_stream_reset(x.cli.s);
	ck_assert_int_eq(x.cli.closed, 0);
	ck_assert_int_eq(x.cli.wcb, 0);
	env_run(&x.e);
	ck_assert_int_eq(x.cli.closed, 1);
	ck_assert_int_eq(x.cli.close_err, 0);
	ck_writes(&x.cli, 0, 2);
	sctx_done(&x);
}
END_TEST

START_TEST(stream_refused)
{
	struct sctx x;
	sctx_init(&x);
	x.only_cli = 1;
	uint16_t port = rt_listener_port(x.l);
	rt_listener_close(x.l);
	x.l = NULL;
	ck_assert_int_eq(rt_connect(x.e.b, "127.0.0.1", port, 0, &peer_cbs, &x.cli, &x.cli.s), 0);
	ck_assert_int_eq(x.cli.closed, 0);
	env_run(&x.e);
	ck_assert_int_eq(x.cli.connected, 0);
	ck_assert_int_eq(x.cli.close_err, RT_ECONNREFUSED);
	sctx_done(&x);
}
END_TEST

static void never_accept(rt_listener *l, rt_stream *s, void *data)
{
	rt_stream_close(s);
}

START_TEST(listen_addrinuse)
{
	struct env e;
	env_init(&e);
	rt_listener *l1 = NULL, *l2 = NULL;
	ck_assert_int_eq(rt_listen(e.a, "127.0.0.1", 0, never_accept, NULL, &l1), 0);
	uint16_t port = rt_listener_port(l1);
	ck_assert_int_eq(rt_listen(e.b, "127.0.0.1", port, never_accept, NULL, &l2),
			 RT_EADDRINUSE);
	ck_assert_ptr_null(l2);
	rt_listener_close(l1);
	/* the port is free again at once */
	ck_assert_int_eq(rt_listen(e.b, "127.0.0.1", port, never_accept, NULL, &l2), 0);
	ck_assert_uint_eq(rt_listener_port(l2), port);
	rt_listener_close(l2);
	env_done(&e);
}
END_TEST

static void big_connect(rt_stream *s, void *data)
{
	struct peer *p = data;
	size_t total = 1u << 20, off = 0, step = 1;
	uint8_t *buf = malloc(total);
	fill_pattern(buf, total, 7);
	p->connected = 1;
	/* uneven pieces, the last one large */
	while (off < total) {
		size_t n = step < total - off ? step : total - off;
		if (off > 100000)
			n = total - off;
		ck_assert_int_eq(rt_stream_write(s, buf + off, n, peer_wcb, p), 0);
		off += n;
		step = step * 3 + 1;
	}
	free(buf);
	rt_stream_close(s);
}

static const rt_stream_cbs big_cli_cbs = {
	.on_connect = big_connect, .on_read = peer_read, .on_close = peer_close};

START_TEST(stream_1mib_intact)
{
	struct sctx x;
	sctx_init(&x);
	ck_assert_int_eq(rt_connect(x.e.b, "127.0.0.1", rt_listener_port(x.l), 5000, &big_cli_cbs,
				    &x.cli, &x.cli.s), 0);
	env_run(&x.e);
	size_t total = 1u << 20;
	ck_assert_uint_eq(x.srv.rx_len, total);
	uint8_t *want = malloc(total);
	fill_pattern(want, total, 7);
	ck_assert_int_eq(memcmp(x.srv.rx, want, total), 0);
	free(want);
	ck_assert_int_eq(x.srv.close_err, RT_EOF);
	ck_assert_int_eq(x.cli.close_err, 0);
	ck_writes(&x.cli, x.cli.wcb, 0);
	sctx_done(&x);
}
END_TEST

START_TEST(stream_binds_host_ip)
{
	struct sctx x;
	sctx_init(&x);
	rt_host *c = env_host(&x.e, "c", "127.0.0.2", 3, 0);
	x.cli.expect = 2;
	x.srv.echo = 1;
	sctx_connect(&x, c);
	ck_assert_int_eq(rt_stream_write(x.cli.s, "hi", 2, NULL, NULL), 0);
	env_run(&x.e);
	ck_assert_str_eq(x.accepted_ip, "127.0.0.2");
	ck_assert_str_eq(rt_host_ip(c), "127.0.0.2");
	ck_assert_int_eq(x.srv.close_err, RT_EOF);
	ck_assert_int_eq(x.cli.close_err, 0);
	rt_uv_host_free(c);
	sctx_done(&x);
}
END_TEST

/* A listener with a full accept queue drops SYNs: the connect times out. */
START_TEST(stream_connect_timeout)
{
	struct env e;
	env_init(&e);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 0), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	uint16_t port = ntohs(a.sin_port);
	struct sctx x;
	memset(&x, 0, sizeof x);
	x.e.u = e.u;
	struct peer fill[2];
	memset(fill, 0, sizeof fill);
	for (int i = 0; i < 2; i++) {
		fill[i].x = &x;
		ck_assert_int_eq(rt_connect(e.b, "127.0.0.1", port, 60000, &peer_cbs, &fill[i],
					    &fill[i].s), 0);
	}
	x.cli.x = &x;
	x.only_cli = 1;
	ck_assert_int_eq(rt_connect(e.b, "127.0.0.1", port, 200, &peer_cbs, &x.cli, &x.cli.s), 0);
	env_run(&e);
	ck_assert_int_eq(x.cli.connected, 0);
	ck_assert_int_eq(x.cli.close_err, RT_ETIMEDOUT);
	close(fd);
	env_done(&e); /* closes the fillers without calling back */
	ck_assert_int_eq(fill[0].closed + fill[1].closed, 0);
}
END_TEST

START_TEST(stream_accept_close_or_ignore)
{
	struct sctx x;
	sctx_init(&x);
	x.accept_nothing = 1; /* the backend closes a stream nobody adopted */
	x.only_cli = 1;
	sctx_connect(&x, x.e.b);
	env_run(&x.e);
	ck_assert_int_eq(x.accepted, 1);
	ck_assert_int_eq(x.cli.close_err, RT_EOF);
	sctx_done(&x);
}
END_TEST

/* rt_uv_host_free closes what the host holds and never calls back into it. */
static void hostfree_connect(rt_stream *s, void *data)
{
	struct peer *p = data;
	p->connected = 1;
	ck_assert_int_eq(rt_stream_write(s, "zz", 2, peer_wcb, p), 0);
	rt_uv_host_free(p->x->e.b);
	p->x->e.b = NULL;
}

static const rt_stream_cbs hostfree_cbs = {
	.on_connect = hostfree_connect, .on_read = peer_read, .on_close = peer_close};

START_TEST(host_free_closes_silently)
{
	struct sctx x;
	sctx_init(&x);
	x.want_closed = 1; /* only the server's on_close can come */
	struct tctx c = {.e = &x.e};
	rt_timer *t = rt_timer_new(x.e.b, count_cb, &c);
	rt_timer_start(t, 10000, 0); /* pending when the host goes: must never fire */
	rt_listener *l2 = NULL;
	ck_assert_int_eq(rt_listen(x.e.b, NULL, 0, never_accept, NULL, &l2), 0);
	ck_assert_int_eq(rt_connect(x.e.b, "127.0.0.1", rt_listener_port(x.l), 0, &hostfree_cbs,
				    &x.cli, &x.cli.s), 0);
	env_run(&x.e);
	ck_assert_int_eq(x.cli.connected, 1);
	ck_assert_int_eq(x.cli.closed, 0);
	ck_assert_int_eq(x.cli.wcb, 0);
	ck_assert_int_eq(c.count, 0);
	ck_assert_int_eq(x.srv.closed, 1);
	ck_assert(x.srv.close_err == RT_EOF || x.srv.close_err == RT_ECONNRESET);
	sctx_done(&x);
}
END_TEST

static Suite *rt_uv_suite(void)
{
	Suite *s = suite_create("rt_uv");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, timer_basics);
	tcase_add_test(tc, timer_free_in_callback);
	tcase_add_test(tc, timer_same_deadline_order);
	tcase_add_test(tc, timer_zero_rearm_no_starvation);
	tcase_add_test(tc, stream_echo);
	tcase_add_test(tc, stream_peer_close_eof);
	tcase_add_test(tc, stream_reset_peer_sees_connreset);
	tcase_add_test(tc, stream_write_before_connect_then_close);
	tcase_add_test(tc, stream_reset_cancels_writes_before_close);
	tcase_add_test(tc, stream_refused);
	tcase_add_test(tc, listen_addrinuse);
	tcase_add_test(tc, stream_1mib_intact);
	tcase_add_test(tc, stream_binds_host_ip);
	tcase_add_test(tc, stream_connect_timeout);
	tcase_add_test(tc, stream_accept_close_or_ignore);
	tcase_add_test(tc, host_free_closes_silently);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* libuv writes with writev(): a write to a reset peer raises SIGPIPE (see rt_uv.c). */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(rt_uv_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
