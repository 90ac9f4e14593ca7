/*
 * http_fixture.h — shared by the HTTP tests (test_http.c: the server, test_http_client.c: the
 * client): a simulated server and client host pair, an echoing/holding/delaying handler, a
 * collecting client callback and a raw client stream. Header-only (static) because each test
 * program is built from one file.
 */
#ifndef FL_TEST_HTTP_FIXTURE_H
#define FL_TEST_HTTP_FIXTURE_H

#include "../../node/proto/http.h"
#include "../../node/proto/http_util.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_UNUSED __attribute__((unused))

#define SRV_IP "10.0.0.1"
#define CLI_IP "10.0.0.2"
#define PORT 8080
#define RAW_PORT 8081
#define MS 1000000ULL

enum { H_ECHO, H_HOLD, H_DELAY, H_STOP };

typedef struct delayed {
	struct fx *f;
	http_request *r;
	rt_timer *t;
	int fired;
} delayed;

typedef struct fx {
	rt_sim *sim;
	rt_host *hs, *hc;
	http_server *srv;
	http_client *cli;
	int mode;
	int handled, bad_body;
	http_request *held[128];
	size_t nheld;
	delayed *dl[128];
	size_t ndl;
} fx;

/* ---- the handler ---- */

static FX_UNUSED void echo_respond(http_request *r)
{
	const char *xt = http_request_header(r, "x-TEST");
	http_buf b = {0};
	http_buf_addf(&b, "%s %s ?%s x-test=%s len=%zu peer=%s body=", r->method, r->path, r->query,
		      xt ? xt : "-", r->body_len, r->peer_ip);
	http_buf_add(&b, r->body, r->body_len);
	ck_assert_int_eq(http_respond(r, 200, "text/plain", b.p, b.len, "X-Echo: 1"), 0);
	http_buf_free(&b);
}

static FX_UNUSED void delayed_fire(rt_timer *t, void *data)
{
	delayed *d = data;
	d->fired = 1;
	echo_respond(d->r);
}

static FX_UNUSED void handler(http_server *srv, http_request *r, void *data)
{
	fx *f = data;
	f->handled++;
	/* body contract: 8-byte aligned, NUL one past the end */
	if (((uintptr_t)r->body & 7) || r->body[r->body_len] != 0)
		f->bad_body++;
	switch (f->mode) {
	case H_ECHO:
		echo_respond(r);
		break;
	case H_HOLD:
		ck_assert_uint_lt(f->nheld, 128);
		f->held[f->nheld++] = r;
		break;
	case H_DELAY: {
		/* "delay=N" in the query: answer after N ms */
		const char *d = strstr(r->query, "delay=");
		delayed *x = calloc(1, sizeof *x);
		ck_assert_ptr_nonnull(x);
		ck_assert_uint_lt(f->ndl, 128);
		x->f = f;
		x->r = r;
		x->t = rt_timer_new(f->hs, delayed_fire, x);
		rt_timer_start(x->t, d ? strtoull(d + 6, NULL, 10) : 0, 0);
		f->dl[f->ndl++] = x;
		break;
	}
	case H_STOP:
		echo_respond(r);
		http_server_stop(srv);
		f->srv = NULL;
		break;
	}
}

/* ---- fixture ---- */

static FX_UNUSED void fx_init(fx *f, const http_server_config *cfg, int mode)
{
	memset(f, 0, sizeof *f);
	f->mode = mode;
	f->sim = rt_sim_new(42);
	ck_assert_ptr_nonnull(f->sim);
	ck_assert_int_eq(rt_sim_host_new(f->sim, "server", SRV_IP, &f->hs), 0);
	ck_assert_int_eq(rt_sim_host_new(f->sim, "client", CLI_IP, &f->hc), 0);
	ck_assert_int_eq(http_server_start(f->hs, NULL, PORT, cfg, handler, f, &f->srv), 0);
	ck_assert_uint_eq(http_server_port(f->srv), PORT);
	ck_assert_int_eq(http_client_new(f->hc, NULL, &f->cli), 0);
}

static FX_UNUSED void fx_free(fx *f)
{
	for (size_t i = 0; i < f->ndl; i++) {
		rt_timer_free(f->dl[i]->t);
		free(f->dl[i]);
	}
	http_client_free(f->cli);
	http_server_stop(f->srv);
	rt_sim_free(f->sim);
}

static FX_UNUSED void run_ms(fx *f, uint64_t ms)
{
	rt_sim_run_until(f->sim, rt_sim_now_ns(f->sim) + ms * MS);
}

static FX_UNUSED http_server_stats stats(fx *f)
{
	http_server_stats st;
	http_server_get_stats(f->srv, &st);
	return st;
}

/* Every write delivered one byte at a time (up to 4096 chunks), in both directions. */
static FX_UNUSED void slice_model(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
			uint64_t now_ns, rt_sim_verdict *out)
{
	memset(out, 0, sizeof *out);
	out->delay_ns = 100000;
	out->slices = len > 4096 ? 4096 : (len ? (uint32_t)len : 1);
	out->slice_gap_ns = 1000;
}

/* ---- client side helpers ---- */

typedef struct got {
	int done, err, status;
	char body[8192];
	size_t body_len;
	int seq; /* completion order */
	void *ctx;
} got;

static FX_UNUSED int completions;

static FX_UNUSED void got_cb(int err, const http_response *resp, void *data)
{
	got *g = data;
	g->done++;
	g->err = err;
	g->seq = ++completions;
	if (resp) {
		ck_assert_int_eq(resp->body[resp->body_len], 0);
		g->status = resp->status;
		g->body_len = resp->body_len < sizeof g->body - 1 ? resp->body_len : sizeof g->body - 1;
		memcpy(g->body, resp->body, g->body_len);
		g->body[g->body_len] = '\0';
	}
}

static FX_UNUSED void req(fx *f, const char *ip, uint16_t port, const char *method, const char *path,
		const char *body, const char *extra, uint64_t timeout_ms, got *g)
{
	ck_assert_int_eq(http_client_request(f->cli, ip, port, method, path,
					     body ? "text/plain" : NULL, body,
					     body ? strlen(body) : 0, extra, timeout_ms, got_cb, g),
			 0);
	ck_assert_int_eq(g->done, 0); /* never inline */
}

/* A raw client stream: sends bytes, keeps what comes back. */
typedef struct raw {
	rt_stream *s;
	const char *send;
	size_t send_len;
	int one_by_one; /* a separate write per byte */
	http_buf got;
	int connected, closed, close_err;
} raw;

static FX_UNUSED void raw_on_connect(rt_stream *s, void *data)
{
	raw *r = data;
	r->connected = 1;
	if (r->one_by_one) {
		for (size_t i = 0; i < r->send_len; i++)
			ck_assert_int_eq(rt_stream_write(s, r->send + i, 1, NULL, NULL), 0);
	} else if (r->send_len) {
		ck_assert_int_eq(rt_stream_write(s, r->send, r->send_len, NULL, NULL), 0);
	}
}

static FX_UNUSED void raw_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	raw *r = data;
	ck_assert_int_eq(http_buf_add(&r->got, buf, len), 0);
}

static FX_UNUSED void raw_on_close(rt_stream *s, int err, void *data)
{
	raw *r = data;
	r->closed = 1;
	r->close_err = err;
	r->s = NULL;
}

static FX_UNUSED const rt_stream_cbs raw_cbs = {raw_on_connect, raw_on_read, raw_on_close};

static FX_UNUSED void raw_start(fx *f, raw *r, const char *send)
{
	r->send = send;
	r->send_len = strlen(send);
	ck_assert_int_eq(rt_connect(f->hc, SRV_IP, PORT, 1000, &raw_cbs, r, &r->s), 0);
}

static FX_UNUSED const char *got_text(raw *r) { return r->got.p ? r->got.p : ""; }

static FX_UNUSED int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#endif
