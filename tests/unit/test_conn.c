/*
 * test_conn.c — framed connections over the deterministic backend (sim/rt/rt_sim.c): many frames of
 * random sizes both ways (with writes sliced into odd chunks by the link model), protocol errors
 * from a peer that sends garbage, conn_close inside on_frame, refused connections. The exchange
 * also runs once over real loopback TCP (node/rt/rt_uv.c), where reads split wherever the kernel
 * splits them.
 */
#include "proto/conn.h"
#include "rt/rt_uv.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFRAMES 100
#define MIB (1u << 20)
#define RUN_ALL UINT64_MAX

/* ---- deterministic frame contents: both sides derive frame i of direction dir alike ---- */

typedef struct fspec {
	uint8_t type;
	uint16_t flags;
	char meta[96];
	size_t pl;
	uint64_t seed;
} fspec;

static void fspec_make(fspec *f, int dir, int i)
{
	rt_rng r;
	rt_rng_seed(&r, ((uint64_t)dir << 32) | (uint64_t)i);
	f->type = (uint8_t)(i + 1);
	f->flags = (uint16_t)(dir * 0x100 + i);
	uint64_t k = rt_rng_u64(&r);
	/* Sizes around every interesting boundary: empty, tiny, near conn's combine threshold,
	 * and large; the first frames pin the extremes. */
	if (i == 0)
		f->pl = MIB;
	else if (i == 1)
		f->pl = 0;
	else if (k % 4 == 0)
		f->pl = 0;
	else if (k % 4 == 1)
		f->pl = (size_t)(rt_rng_u64(&r) % 100);
	else if (k % 4 == 2)
		f->pl = 60000 + (size_t)(rt_rng_u64(&r) % 10000);
	else
		f->pl = (size_t)(rt_rng_u64(&r) % (MIB + 1));
	if (i % 3 == 0)
		f->meta[0] = '\0'; /* no meta at all */
	else
		snprintf(f->meta, sizeof f->meta, "{\"dir\":%d,\"i\":%d,\"pad\":\"%.*s\"}", dir, i,
			 (int)(rt_rng_u64(&r) % 40), "0123456789012345678901234567890123456789");
	f->seed = rt_rng_u64(&r);
}

static void fill_payload(uint8_t *p, size_t n, uint64_t seed)
{
	rt_rng r;
	rt_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rt_rng_u64(&r);
		size_t m = n - i < 8 ? n - i : 8;
		memcpy(p + i, &v, m);
	}
}

/* ---- one side of the exchange ---- */

typedef struct side {
	const char *name;
	int dir_out, dir_in; /* direction ids of what it sends / expects */
	conn *c;
	int opened, received, bad, closed, close_err, sent;
	int close_when_done; /* close after receiving all NFRAMES */
	rt_listener **listener; /* closed in on_close (lets rt_uv_run return) */
} side;

static void send_all(side *sd)
{
	for (int i = 0; i < NFRAMES; i++) {
		fspec f;
		fspec_make(&f, sd->dir_out, i);
		uint8_t *p = malloc(f.pl ? f.pl : 1);
		fill_payload(p, f.pl, f.seed);
		int rc = conn_send(sd->c, f.type, f.flags, f.meta[0] ? f.meta : NULL,
				   f.pl ? p : NULL, f.pl);
		/* conn_send copies: scribbling over the buffer now must not change what is sent. */
		memset(p, 0xab, f.pl ? f.pl : 1);
		free(p);
		ck_assert_int_eq(rc, 0);
		sd->sent++;
	}
}

static void side_on_open(conn *c, void *data)
{
	side *sd = data;
	ck_assert_ptr_eq(c, sd->c);
	sd->opened++;
	send_all(sd);
}

static void side_on_frame(conn *c, const frame *fr, void *data)
{
	side *sd = data;
	ck_assert_int_lt(sd->received, NFRAMES);
	fspec f;
	fspec_make(&f, sd->dir_in, sd->received);
	int ok = fr->type == f.type && fr->flags == f.flags && fr->meta_len == strlen(f.meta) &&
		 strcmp(fr->meta, f.meta) == 0 && fr->payload_len == f.pl;
	if (ok && f.pl) {
		uint8_t *p = malloc(f.pl);
		fill_payload(p, f.pl, f.seed);
		ok = memcmp(p, fr->payload, f.pl) == 0;
		free(p);
	}
	if (!ok)
		sd->bad++;
	sd->received++;
	if (sd->received == NFRAMES && sd->close_when_done)
		conn_close(c);
}

static void side_on_close(conn *c, int err, void *data)
{
	side *sd = data;
	sd->closed++;
	sd->close_err = err;
	sd->c = NULL;
	if (sd->listener && *sd->listener) {
		rt_listener_close(*sd->listener);
		*sd->listener = NULL;
	}
}

static const conn_cbs side_cbs = {
	.on_open = side_on_open,
	.on_frame = side_on_frame,
	.on_close = side_on_close,
};

static void accept_side(rt_listener *l, rt_stream *s, void *data)
{
	side *sd = data;
	ck_assert_ptr_null(sd->c);
	ck_assert_int_eq(conn_accept(s, &side_cbs, sd, &sd->c), 0);
	ck_assert_ptr_eq(conn_stream(sd->c), s);
	send_all(sd);
}

/* Slice every write into a few uneven chunks so frames arrive split at odd bytes. */
static void slicing_link(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
			 uint64_t now_ns, rt_sim_verdict *out)
{
	memset(out, 0, sizeof *out);
	out->delay_ns = 200000;
	if (len > 1) {
		out->slices = (uint32_t)(1 + (len * 7 + now_ns / 1000) % 9);
		out->slice_gap_ns = 1000;
	}
}

typedef struct world {
	rt_sim *sim;
	rt_host *a, *b;
	rt_listener *l;
} world;

static void world_up(world *w, uint64_t seed, int slicing)
{
	w->sim = rt_sim_new(seed);
	ck_assert_ptr_nonnull(w->sim);
	if (slicing)
		rt_sim_set_link_model(w->sim, slicing_link, NULL);
	ck_assert_int_eq(rt_sim_host_new(w->sim, "server/0", "10.0.0.1", &w->a), 0);
	ck_assert_int_eq(rt_sim_host_new(w->sim, "server/1", "10.0.0.2", &w->b), 0);
	w->l = NULL;
}

static void world_down(world *w)
{
	if (w->l)
		rt_listener_close(w->l);
	rt_sim_run_until(w->sim, RUN_ALL);
	rt_sim_free(w->sim);
}

static void count_reads(void *ctx, uint64_t now_ns, const rt_host *h, const char *kind,
			size_t bytes)
{
	if (!strcmp(kind, "data"))
		(*(uint64_t *)ctx)++;
}

static void exchange(uint64_t seed, int slicing)
{
	world w;
	world_up(&w, seed, slicing);
	uint64_t reads = 0;
	rt_sim_set_trace(w.sim, count_reads, &reads);
	side srv = {.name = "srv", .dir_out = 2, .dir_in = 1};
	side cli = {.name = "cli", .dir_out = 1, .dir_in = 2, .close_when_done = 1};
	ck_assert_int_eq(rt_listen(w.a, NULL, 7100, accept_side, &srv, &w.l), 0);
	ck_assert_int_eq(conn_connect(w.b, "10.0.0.1", 7100, 0, &side_cbs, &cli, &cli.c), 0);
	ck_assert_ptr_eq(conn_host(cli.c), w.b);
	rt_sim_run_until(w.sim, RUN_ALL);

	ck_assert_int_eq(cli.opened, 1);
	ck_assert_int_eq(srv.opened, 0); /* on_open is for outgoing conns only */
	ck_assert_int_eq(cli.sent, NFRAMES);
	ck_assert_int_eq(srv.sent, NFRAMES);
	ck_assert_int_eq(cli.received, NFRAMES);
	ck_assert_int_eq(srv.received, NFRAMES);
	ck_assert_int_eq(cli.bad, 0);
	ck_assert_int_eq(srv.bad, 0);
	/* The client closed once it had everything; its frames still reached the server first. */
	ck_assert_int_eq(cli.closed, 1);
	ck_assert_int_eq(cli.close_err, 0);
	ck_assert_int_eq(srv.closed, 1);
	ck_assert_int_eq(srv.close_err, RT_EOF);
	/* conn_send makes at most two writes per frame; slicing must have split frames further
	 * (or this test would not exercise frames arriving in pieces). */
	if (slicing)
		ck_assert_uint_gt(reads, 2 * 2 * NFRAMES);
	world_down(&w);
}

START_TEST(hundred_frames_both_ways)
{
	exchange(11, 0);
}
END_TEST

START_TEST(hundred_frames_both_ways_sliced)
{
	exchange(12, 1);
}
END_TEST

START_TEST(hundred_frames_both_ways_uv)
{
	rt_uv *u = rt_uv_new();
	ck_assert_ptr_nonnull(u);
	rt_host *ha, *hb;
	rt_uv_host_config ca = {.name = "server/0", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 1};
	rt_uv_host_config cb = {.name = "server/1", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 2};
	ck_assert_int_eq(rt_uv_host_new(u, &ca, &ha), 0);
	ck_assert_int_eq(rt_uv_host_new(u, &cb, &hb), 0);
	rt_listener *l = NULL;
	side srv = {.name = "srv", .dir_out = 2, .dir_in = 1, .listener = &l};
	side cli = {.name = "cli", .dir_out = 1, .dir_in = 2, .close_when_done = 1};
	ck_assert_int_eq(rt_listen(ha, NULL, 0, accept_side, &srv, &l), 0);
	ck_assert_int_eq(conn_connect(hb, "127.0.0.1", rt_listener_port(l), 0, &side_cbs, &cli,
				      &cli.c),
			 0);
	rt_uv_run(u); /* returns once both conns and the listener are gone */
	ck_assert_int_eq(cli.received, NFRAMES);
	ck_assert_int_eq(srv.received, NFRAMES);
	ck_assert_int_eq(cli.bad + srv.bad, 0);
	ck_assert_int_eq(cli.closed, 1);
	ck_assert_int_eq(cli.close_err, 0);
	ck_assert_int_eq(srv.closed, 1);
	ck_assert_int_eq(srv.close_err, RT_EOF);
	ck_assert_ptr_null(l);
	rt_uv_host_free(ha);
	rt_uv_host_free(hb);
	rt_uv_run(u);
	rt_uv_free(u);
}
END_TEST

/* ---- a raw (unframed) peer ---- */

typedef struct raw_peer {
	const uint8_t *bytes;
	size_t len;
	int connected, closed, close_err;
	size_t got;
} raw_peer;

static void raw_on_connect(rt_stream *s, void *data)
{
	raw_peer *p = data;
	p->connected = 1;
	ck_assert_int_eq(rt_stream_write(s, p->bytes, p->len, NULL, NULL), 0);
}

static void raw_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	raw_peer *p = data;
	p->got += len;
}

static void raw_on_close(rt_stream *s, int err, void *data)
{
	raw_peer *p = data;
	p->closed = 1;
	p->close_err = err;
}

static const rt_stream_cbs raw_cbs = {
	.on_connect = raw_on_connect,
	.on_read = raw_on_read,
	.on_close = raw_on_close,
};

/* The accepting side of the error tests: counts frames, can close inside on_frame. */
typedef struct victim {
	conn *c;
	int frames, closed, close_err;
	int close_at;    /* conn_close inside the close_at-th frame (0: never) */
	int send_after;  /* conn_send result after that conn_close */
	int send_in_close; /* conn_send result inside on_close */
} victim;

static void victim_on_frame(conn *c, const frame *f, void *data)
{
	victim *v = data;
	v->frames++;
	ck_assert_uint_eq(f->type, (uint8_t)v->frames);
	if (v->close_at && v->frames == v->close_at) {
		conn_close(c);
		conn_close(c); /* idempotent */
		v->send_after = conn_send(c, 1, 0, "{}", NULL, 0);
	}
}

static void victim_on_close(conn *c, int err, void *data)
{
	victim *v = data;
	v->closed++;
	v->close_err = err;
	v->send_in_close = conn_send(c, 1, 0, NULL, NULL, 0);
}

static const conn_cbs victim_cbs = {
	.on_frame = victim_on_frame,
	.on_close = victim_on_close,
};

static void accept_victim(rt_listener *l, rt_stream *s, void *data)
{
	victim *v = data;
	ck_assert_int_eq(conn_accept(s, &victim_cbs, v, &v->c), 0);
}

/* Connect a raw peer that writes `bytes` in one write to a conn; return what the conn saw. */
static victim feed_victim(const uint8_t *bytes, size_t len, int close_at, raw_peer *peer)
{
	world w;
	world_up(&w, 21, 0);
	victim v = {.close_at = close_at};
	memset(peer, 0, sizeof *peer);
	peer->bytes = bytes;
	peer->len = len;
	rt_stream *s;
	ck_assert_int_eq(rt_listen(w.a, NULL, 7200, accept_victim, &v, &w.l), 0);
	ck_assert_int_eq(rt_connect(w.b, "10.0.0.1", 7200, 0, &raw_cbs, peer, &s), 0);
	rt_sim_run_until(w.sim, RUN_ALL);
	world_down(&w);
	return v;
}

/* n frames with types 1..n, each with a small meta and payload, concatenated. */
static uint8_t *frames_concat(int n, size_t *len)
{
	uint8_t *all = NULL;
	*len = 0;
	for (int i = 1; i <= n; i++) {
		uint8_t *b;
		size_t l;
		char pay[40];
		memset(pay, i, sizeof pay);
		ck_assert_int_eq(frame_encode((uint8_t)i, 0, "{\"k\":1}", 7, pay, (size_t)i, &b, &l), 0);
		all = realloc(all, *len + l);
		memcpy(all + *len, b, l);
		*len += l;
		free(b);
	}
	return all;
}

START_TEST(garbage_closes_with_emagic)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	raw_peer p;
	victim v = feed_victim((const uint8_t *)http, sizeof http - 1, 0, &p);
	ck_assert_int_eq(v.frames, 0);
	ck_assert_int_eq(v.closed, 1);
	ck_assert_int_eq(v.close_err, FRAME_EMAGIC);
	ck_assert_int_eq(v.send_in_close, RT_ECLOSED);
	/* The conn closed its stream: the peer sees an orderly end. */
	ck_assert_int_eq(p.closed, 1);
	ck_assert_int_eq(p.close_err, RT_EOF);
}
END_TEST

START_TEST(garbage_after_good_frames)
{
	size_t len;
	uint8_t *good = frames_concat(3, &len);
	uint8_t *all = malloc(len + 8);
	memcpy(all, good, len);
	memcpy(all + len, "garbage!", 8);
	raw_peer p;
	victim v = feed_victim(all, len + 8, 0, &p);
	ck_assert_int_eq(v.frames, 3);
	ck_assert_int_eq(v.closed, 1);
	ck_assert_int_eq(v.close_err, FRAME_EMAGIC);
	free(all);
	free(good);
}
END_TEST

START_TEST(bad_version_and_oversize)
{
	uint8_t h[FRAME_HDR_LEN];
	raw_peer p;
	frame_header(h, 1, 0, 0, 0);
	h[4] = FRAME_VERSION + 1;
	victim v = feed_victim(h, sizeof h, 0, &p);
	ck_assert_int_eq(v.close_err, FRAME_EVERSION);
	frame_header(h, 1, 0, 0, (size_t)FRAME_DEFAULT_MAX_PAYLOAD + 1);
	v = feed_victim(h, sizeof h, 0, &p);
	ck_assert_int_eq(v.frames, 0);
	ck_assert_int_eq(v.close_err, FRAME_ETOOBIG);
}
END_TEST

START_TEST(close_inside_on_frame)
{
	/* Five frames arrive in one write (one read, unsliced link); the user closes inside the
	 * second: the other three are not delivered, and on_close reports a local close. */
	size_t len;
	uint8_t *all = frames_concat(5, &len);
	raw_peer p;
	victim v = feed_victim(all, len, 2, &p);
	ck_assert_int_eq(v.frames, 2);
	ck_assert_int_eq(v.closed, 1);
	ck_assert_int_eq(v.close_err, 0);
	ck_assert_int_eq(v.send_after, RT_ECLOSED);
	ck_assert_int_eq(p.close_err, RT_EOF);
	free(all);
}
END_TEST

/* ---- connection failures and API edges ---- */

typedef struct outcome {
	int opened, closed, close_err;
} outcome;

static void out_open(conn *c, void *data) { ((outcome *)data)->opened++; }
static void out_close(conn *c, int err, void *data)
{
	outcome *o = data;
	o->closed++;
	o->close_err = err;
}
static const conn_cbs out_cbs = {.on_open = out_open, .on_close = out_close};

START_TEST(refused)
{
	world w;
	world_up(&w, 31, 0);
	outcome o = {0};
	conn *c;
	ck_assert_int_eq(conn_connect(w.b, "10.0.0.1", 7300, 0, &out_cbs, &o, &c), 0);
	rt_sim_run_until(w.sim, RUN_ALL);
	ck_assert_int_eq(o.opened, 0);
	ck_assert_int_eq(o.closed, 1);
	ck_assert_int_eq(o.close_err, RT_ECONNREFUSED);
	world_down(&w);
}
END_TEST

static void accept_and_keep(rt_listener *l, rt_stream *s, void *data)
{
	outcome *o = data;
	conn *c;
	ck_assert_int_eq(conn_accept(s, &out_cbs, o, &c), 0);
}

static void noop_close(conn *c, int err, void *data) { (*(int *)data)++; }
static const conn_cbs noop_cbs = {.on_close = noop_close};

START_TEST(send_limits_and_close_before_open)
{
	world w;
	world_up(&w, 41, 0);
	outcome peer = {0};
	ck_assert_int_eq(rt_listen(w.a, NULL, 7400, accept_and_keep, &peer, &w.l), 0);
	int closes = 0;
	conn *c;
	ck_assert_int_eq(conn_connect(w.b, "10.0.0.1", 7400, 0, &noop_cbs, &closes, &c), 0);
	/* A meta the peer would refuse is refused locally, and the conn stays usable. */
	char *big = malloc(FRAME_DEFAULT_MAX_META + 2);
	memset(big, ' ', FRAME_DEFAULT_MAX_META + 1);
	big[FRAME_DEFAULT_MAX_META + 1] = '\0';
	ck_assert_int_eq(conn_send(c, 1, 0, big, NULL, 0), FRAME_ETOOBIG);
	free(big);
	ck_assert_int_lt(conn_send(c, 1, 0, NULL, NULL, 5), 0); /* NULL payload with a length */
	conn_close(c);
	ck_assert_int_eq(conn_send(c, 1, 0, NULL, NULL, 0), RT_ECLOSED);
	rt_sim_run_until(w.sim, RUN_ALL);
	ck_assert_int_eq(closes, 1);
	/* If the connection got through before the close, the peer saw it end in order. */
	ck_assert_int_le(peer.closed, 1);
	if (peer.closed)
		ck_assert_int_eq(peer.close_err, RT_EOF);
	world_down(&w);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("sim");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hundred_frames_both_ways);
	tcase_add_test(tc, hundred_frames_both_ways_sliced);
	tcase_add_test(tc, hundred_frames_both_ways_uv);
	tcase_add_test(tc, garbage_closes_with_emagic);
	tcase_add_test(tc, garbage_after_good_frames);
	tcase_add_test(tc, bad_version_and_oversize);
	tcase_add_test(tc, close_inside_on_frame);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, send_limits_and_close_before_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* rt_uv writes to sockets a peer may have reset */
	SRunner *sr = srunner_create(conn_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
