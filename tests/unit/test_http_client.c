/*
 * test_http_client.c — the HTTP client of node/proto/http.h: refused, timed out, cancelled and
 * concurrent requests, the idle pool and its retry of a dead pooled stream, and every kind of
 * response (chunked, until EOF, interim 100, too big, malformed) from a raw rt server, on the
 * deterministic backend (sim/rt/rt_sim.c); then round trips over real loopback TCP (rt_uv).
 */
#include "http_fixture.h"
#include "../../node/rt/rt_uv.h"

#include <signal.h>

START_TEST(refused_and_timeout)
{
	fx f;
	fx_init(&f, NULL, H_HOLD);
	got g1 = {0}, g2 = {0}, g3 = {0};
	req(&f, SRV_IP, 9999, "GET", "/", NULL, NULL, 0, &g1);
	req(&f, SRV_IP, PORT, "GET", "/never", NULL, NULL, 1000, &g2);
	/* failures inside the call are reported later too */
	req(&f, "10.0.0.300", PORT, "GET", "/", NULL, NULL, 0, &g3);
	run_ms(&f, 900);
	ck_assert_int_eq(g1.done, 1);
	ck_assert_int_eq(g1.err, RT_ECONNREFUSED);
	ck_assert_int_eq(g3.done, 1);
	ck_assert_int_eq(g3.err, RT_EINVAL);
	ck_assert_int_eq(g2.done, 0);
	run_ms(&f, 200);
	ck_assert_int_eq(g2.done, 1);
	ck_assert_int_eq(g2.err, RT_ETIMEDOUT);
	/* the client gave up on the stream, so the server lost the request's connection */
	run_ms(&f, 100);
	ck_assert_uint_eq(f.nheld, 1);
	ck_assert_uint_eq(stats(&f).open_connections, 0);
	ck_assert_int_eq(http_respond(f.held[0], 200, NULL, "{}", 2, NULL), RT_ECLOSED);
	ck_assert_int_eq(http_client_request(f.cli, SRV_IP, PORT, "GET", "/", NULL, NULL, 0, NULL,
					     0, NULL, NULL), RT_EINVAL);
	ck_assert_int_eq(http_client_request(f.cli, SRV_IP, PORT, "GET", "/a b", NULL, NULL, 0,
					     NULL, 0, got_cb, &g1), RT_EINVAL);
	fx_free(&f);
}
END_TEST

START_TEST(fifty_concurrent)
{
	fx f;
	fx_init(&f, NULL, H_DELAY);
	got g[50] = {{0}};
	for (int i = 0; i < 50; i++) {
		char path[64];
		snprintf(path, sizeof path, "/r%d?delay=%d", i, (i * 53) % 97);
		req(&f, SRV_IP, PORT, "GET", path, NULL, NULL, 0, &g[i]);
	}
	run_ms(&f, 1000);
	for (int i = 0; i < 50; i++) {
		char want[32];
		snprintf(want, sizeof want, "GET /r%d ?", i);
		ck_assert_int_eq(g[i].done, 1);
		ck_assert_int_eq(g[i].err, 0);
		ck_assert_int_eq(g[i].status, 200);
		ck_assert_ptr_eq(strstr(g[i].body, want), g[i].body);
	}
	ck_assert_uint_eq(stats(&f).connections_accepted, 50);
	ck_assert_uint_eq(stats(&f).responses, 50);
	/* only max_idle_per_dest (4) stay pooled; the next wave reuses them */
	ck_assert_uint_eq(stats(&f).open_connections, 4);
	got h[4] = {{0}};
	for (int i = 0; i < 4; i++)
		req(&f, SRV_IP, PORT, "GET", "/again", NULL, NULL, 0, &h[i]);
	run_ms(&f, 200);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(h[i].status, 200);
	ck_assert_uint_eq(stats(&f).connections_accepted, 50);
	fx_free(&f);
}
END_TEST

static void cancel_cb(int err, const http_response *resp, void *data)
{
	got *g = data;
	got_cb(err, resp, data);
	/* the client is being freed: new requests are refused */
	http_client *c = g->ctx;
	ck_assert_int_eq(http_client_request(c, SRV_IP, PORT, "GET", "/", NULL, NULL, 0, NULL, 0,
					     got_cb, g), RT_ECLOSED);
}

START_TEST(client_free_cancels)
{
	fx f;
	fx_init(&f, NULL, H_HOLD);
	got g[2] = {{.ctx = f.cli}, {.ctx = f.cli}};
	completions = 0;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(http_client_request(f.cli, SRV_IP, PORT, "GET", "/", NULL, NULL, 0,
						     NULL, 0, cancel_cb, &g[i]), 0);
	run_ms(&f, 50);
	ck_assert_uint_eq(f.nheld, 2);
	http_client_free(f.cli);
	f.cli = NULL;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(g[i].done, 1);
		ck_assert_int_eq(g[i].err, RT_ECANCELED);
		ck_assert_int_eq(g[i].seq, i + 1);
	}
	run_ms(&f, 50);
	ck_assert_uint_eq(stats(&f).open_connections, 0);
	fx_free(&f);
}
END_TEST

static void destroy_server(void *owner)
{
	fx *f = owner;
	http_server_stop(f->srv);
	f->srv = NULL;
}

static void destroy_client(void *owner)
{
	fx *f = owner;
	http_client_free(f->cli);
	f->cli = NULL;
}

START_TEST(host_crashes)
{
	/* the server's host crashes with requests held: its destroy hook stops the server */
	fx f;
	fx_init(&f, NULL, H_HOLD);
	rt_sim_host_set_owner(f.hs, destroy_server, &f);
	got g[3] = {{0}};
	for (int i = 0; i < 3; i++)
		req(&f, SRV_IP, PORT, "POST", "/u", "data", NULL, 0, &g[i]);
	run_ms(&f, 50);
	ck_assert_uint_eq(f.nheld, 3);
	rt_sim_crash(f.hs);
	ck_assert_ptr_null(f.srv);
	run_ms(&f, 100);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(g[i].done, 1);
		ck_assert_int_eq(g[i].err, RT_ECONNRESET);
	}
	fx_free(&f);

	/* the client's host crashes mid-request: callbacks run inside the destroy hook */
	fx_init(&f, NULL, H_HOLD);
	rt_sim_host_set_owner(f.hc, destroy_client, &f);
	got h[2] = {{0}};
	for (int i = 0; i < 2; i++)
		req(&f, SRV_IP, PORT, "GET", "/d", NULL, NULL, 0, &h[i]);
	run_ms(&f, 50);
	ck_assert_uint_eq(f.nheld, 2);
	rt_sim_crash(f.hc);
	ck_assert_ptr_null(f.cli);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(h[i].done, 1);
		ck_assert_int_eq(h[i].err, RT_ECANCELED);
	}
	run_ms(&f, 100);
	ck_assert_uint_eq(stats(&f).open_connections, 0);
	/* the held requests lost their connection: answering only frees them */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(http_respond(f.held[i], 200, NULL, NULL, 0, NULL), RT_ECLOSED);
	fx_free(&f);
}
END_TEST

/* ---- a raw server, to feed the client every kind of response ---- */

typedef struct rconn {
	struct rsrv *rs;
	rt_stream *s;
	http_buf in;
	int nreq, open;
} rconn;

typedef struct rsrv {
	rt_listener *l;
	rconn *c[64];
	int conns;
} rsrv;

static void rs_reply(rconn *k, const char *path)
{
	const char *out = NULL;
	int close = 0;
	if (!strcmp(path, "/chunked")) {
		out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	} else if (!strcmp(path, "/eof")) {
		out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-eof";
		close = 1;
	} else if (!strcmp(path, "/big")) {
		out = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
	} else if (!strcmp(path, "/bigchunk")) {
		static char buf[2200];
		memset(buf, 'b', sizeof buf);
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
		buf[n] = 'b'; /* over snprintf's NUL */
		buf[n + 0x800] = '\0';
		out = buf;
	} else if (!strcmp(path, "/bad")) {
		out = "garbage\r\n\r\n";
	} else if (!strcmp(path, "/100")) {
		out = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
	} else if (!strcmp(path, "/flaky") && k->nreq == 1) {
		out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	} else {
		/* "/flaky" after the first request, "/dead": drop the stream unanswered */
		close = 1;
	}
	if (out)
		ck_assert_int_eq(rt_stream_write(k->s, out, strlen(out), NULL, NULL), 0);
	if (close)
		rt_stream_close(k->s);
}

static void rs_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	rconn *k = data;
	ck_assert_int_eq(http_buf_add(&k->in, buf, len), 0);
	char *end;
	while (k->in.len && (end = strstr(k->in.p, "\r\n\r\n"))) {
		char path[64] = "";
		sscanf(k->in.p, "%*s %63s", path);
		size_t used = (size_t)(end + 4 - k->in.p);
		memmove(k->in.p, k->in.p + used, k->in.len - used + 1);
		k->in.len -= used;
		k->nreq++;
		rs_reply(k, path);
	}
}

static void rs_on_close(rt_stream *s, int err, void *data)
{
	rconn *k = data;
	k->open = 0;
}

static const rt_stream_cbs rs_cbs = {NULL, rs_on_read, rs_on_close};

static void rs_on_accept(rt_listener *l, rt_stream *s, void *data)
{
	rsrv *rs = data;
	ck_assert_int_lt(rs->conns, 64);
	rconn *k = calloc(1, sizeof *k);
	ck_assert_ptr_nonnull(k);
	k->rs = rs;
	k->s = s;
	k->open = 1;
	rs->c[rs->conns++] = k;
	rt_stream_set_cbs(s, &rs_cbs, k);
}

static void rs_noop_read(rt_stream *s, const uint8_t *buf, size_t len, void *data) {}
static void rs_noop_close(rt_stream *s, int err, void *data) {}
static const rt_stream_cbs rs_gone_cbs = {NULL, rs_noop_read, rs_noop_close};

static void rs_free(rsrv *rs)
{
	rt_listener_close(rs->l);
	for (int i = 0; i < rs->conns; i++) {
		if (rs->c[i]->open) {
			rt_stream_set_cbs(rs->c[i]->s, &rs_gone_cbs, NULL);
			rt_stream_close(rs->c[i]->s);
		}
		http_buf_free(&rs->c[i]->in);
		free(rs->c[i]);
	}
}

START_TEST(client_parses_responses)
{
	for (int sliced = 0; sliced < 2; sliced++) {
		fx f;
		fx_init(&f, NULL, H_ECHO);
		if (sliced)
			rt_sim_set_link_model(f.sim, slice_model, NULL);
		rsrv rs = {0};
		ck_assert_int_eq(rt_listen(f.hs, NULL, RAW_PORT, rs_on_accept, &rs, &rs.l), 0);
		http_client *c;
		http_client_config cc = {.max_body_bytes = 1000};
		ck_assert_int_eq(http_client_new(f.hc, &cc, &c), 0);
		static const char *paths[] = {"/chunked", "/eof", "/big", "/bigchunk", "/bad", "/100"};
		got g[6] = {{0}};
		for (int i = 0; i < 6; i++)
			ck_assert_int_eq(http_client_request(c, SRV_IP, RAW_PORT, "GET", paths[i], NULL,
							     NULL, 0, NULL, 0, got_cb, &g[i]), 0);
		run_ms(&f, 2000);
		for (int i = 0; i < 6; i++)
			ck_assert_msg(g[i].done == 1, "%s (sliced %d): done %d", paths[i], sliced,
				      g[i].done);
		ck_assert_int_eq(g[0].err, 0);
		ck_assert_int_eq(g[0].status, 200);
		ck_assert_str_eq(g[0].body, "abcde");
		ck_assert_int_eq(g[1].err, 0);
		ck_assert_str_eq(g[1].body, "until-eof");
		ck_assert_int_eq(g[2].err, RT_ETOOBIG);
		ck_assert_int_eq(g[3].err, RT_ETOOBIG);
		ck_assert_int_eq(g[4].err, RT_EIO);
		ck_assert_int_eq(g[5].err, 0);
		ck_assert_int_eq(g[5].status, 200);
		ck_assert_str_eq(g[5].body, "x");
		http_client_free(c);
		rs_free(&rs);
		fx_free(&f);
	}
}
END_TEST

START_TEST(dead_pooled_connection_retried_once)
{
	fx f;
	fx_init(&f, NULL, H_ECHO);
	rsrv rs = {0};
	ck_assert_int_eq(rt_listen(f.hs, NULL, RAW_PORT, rs_on_accept, &rs, &rs.l), 0);
	got g1 = {0}, g2 = {0}, g3 = {0};
	req(&f, SRV_IP, RAW_PORT, "GET", "/flaky", NULL, NULL, 0, &g1);
	run_ms(&f, 100);
	ck_assert_int_eq(g1.status, 200);
	ck_assert_int_eq(rs.conns, 1);
	/* the pooled stream is dropped under the request: it goes again on a new one */
	req(&f, SRV_IP, RAW_PORT, "GET", "/flaky", NULL, NULL, 0, &g2);
	run_ms(&f, 100);
	ck_assert_int_eq(g2.done, 1);
	ck_assert_int_eq(g2.err, 0);
	ck_assert_int_eq(g2.status, 200);
	ck_assert_str_eq(g2.body, "ok");
	ck_assert_int_eq(rs.conns, 2);
	/* only once: a fresh stream that dies too is an error */
	req(&f, SRV_IP, RAW_PORT, "GET", "/dead", NULL, NULL, 0, &g3);
	run_ms(&f, 100);
	ck_assert_int_eq(g3.done, 1);
	ck_assert_int_eq(g3.err, RT_ECONNRESET);
	ck_assert_int_eq(rs.conns, 3);
	rs_free(&rs);
	fx_free(&f);
}
END_TEST

/* ---- real loopback (rt_uv) ---- */

typedef struct uvwait {
	rt_uv *u;
	int left;
} uvwait;

static void uv_got_cb(int err, const http_response *resp, void *data)
{
	got *g = data;
	got_cb(err, resp, data);
	uvwait *w = g->ctx;
	if (--w->left == 0)
		rt_uv_stop(w->u);
}

static void uv_watchdog(rt_timer *t, void *data)
{
	rt_uv_stop(data);
}

START_TEST(loopback_round_trips)
{
	rt_uv *u = rt_uv_new();
	ck_assert_ptr_nonnull(u);
	rt_host *hs, *hc;
	rt_uv_host_config cs = {.name = "server", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 1};
	rt_uv_host_config cc = {.name = "client", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 2};
	ck_assert_int_eq(rt_uv_host_new(u, &cs, &hs), 0);
	ck_assert_int_eq(rt_uv_host_new(u, &cc, &hc), 0);
	fx f = {.mode = H_ECHO, .hs = hs, .hc = hc};
	ck_assert_int_eq(http_server_start(hs, "127.0.0.1", 0, NULL, handler, &f, &f.srv), 0);
	uint16_t port = http_server_port(f.srv);
	ck_assert_uint_ne(port, 0);
	ck_assert_int_eq(http_client_new(hc, NULL, &f.cli), 0);
	rt_timer *dog = rt_timer_new(hc, uv_watchdog, u);
	rt_timer_start(dog, 20000, 0);

	/* GET and POST at once, then 20 concurrent, then one that reuses a pooled stream */
	uvwait w = {u, 2};
	got g1 = {.ctx = &w}, g2 = {.ctx = &w};
	ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", port, "GET", "/q?a=1", NULL, NULL,
					     0, "X-Test: uv\r\n", 0, uv_got_cb, &g1), 0);
	ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", port, "POST", "/p", "text/plain",
					     "body!", 5, NULL, 0, uv_got_cb, &g2), 0);
	rt_uv_run(u);
	ck_assert_int_eq(g1.done, 1);
	ck_assert_int_eq(g1.status, 200);
	ck_assert_str_eq(g1.body, "GET /q ?a=1 x-test=uv len=0 peer=127.0.0.1 body=");
	ck_assert_int_eq(g2.status, 200);
	ck_assert_str_eq(g2.body, "POST /p ? x-test=- len=5 peer=127.0.0.1 body=body!");

	got many[20];
	memset(many, 0, sizeof many);
	w.left = 20;
	for (int i = 0; i < 20; i++) {
		char path[32];
		snprintf(path, sizeof path, "/m%d", i);
		many[i].ctx = &w;
		ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", port, "GET", path, NULL, NULL,
						     0, NULL, 0, uv_got_cb, &many[i]), 0);
	}
	rt_uv_run(u);
	for (int i = 0; i < 20; i++) {
		char want[32];
		snprintf(want, sizeof want, "GET /m%d ?", i);
		ck_assert_int_eq(many[i].status, 200);
		ck_assert_ptr_eq(strstr(many[i].body, want), many[i].body);
	}
	http_server_stats st;
	http_server_get_stats(f.srv, &st);
	uint64_t accepted = st.connections_accepted;
	w.left = 1;
	got g3 = {.ctx = &w};
	ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", port, "GET", "/again", NULL, NULL,
					     0, NULL, 0, uv_got_cb, &g3), 0);
	rt_uv_run(u);
	ck_assert_int_eq(g3.status, 200);
	http_server_get_stats(f.srv, &st);
	ck_assert_uint_eq(st.connections_accepted, accepted);
	ck_assert_uint_eq(st.requests, 23);

	/* a body over the server's limit (1 MiB): the 413 reaches the client over real TCP even
	 * though most of the body is still in flight when the server answers */
	size_t big_len = (size_t)3 << 20;
	char *big = malloc(big_len);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', big_len);
	w.left = 1;
	got g5 = {.ctx = &w};
	ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", port, "POST", "/big", NULL, big,
					     big_len, NULL, 0, uv_got_cb, &g5), 0);
	free(big);
	rt_uv_run(u);
	ck_assert_int_eq(g5.done, 1);
	ck_assert_int_eq(g5.err, 0);
	ck_assert_int_eq(g5.status, 413);

	/* refused: a port nobody listens on any more */
	http_server *probe;
	ck_assert_int_eq(http_server_start(hs, "127.0.0.1", 0, NULL, handler, &f, &probe), 0);
	uint16_t dead = http_server_port(probe);
	http_server_stop(probe);
	w.left = 1;
	got g4 = {.ctx = &w};
	ck_assert_int_eq(http_client_request(f.cli, "127.0.0.1", dead, "GET", "/", NULL, NULL, 0,
					     NULL, 0, uv_got_cb, &g4), 0);
	rt_uv_run(u);
	ck_assert_int_eq(g4.done, 1);
	ck_assert_int_eq(g4.err, RT_ECONNREFUSED);

	rt_timer_free(dog);
	http_client_free(f.cli);
	http_server_stop(f.srv);
	rt_uv_host_free(hs);
	rt_uv_host_free(hc);
	rt_uv_run(u);
	rt_uv_free(u);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("http_client");
	TCase *tc = tcase_create("sim");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, refused_and_timeout);
	tcase_add_test(tc, fifty_concurrent);
	tcase_add_test(tc, client_free_cancels);
	tcase_add_test(tc, host_crashes);
	tcase_add_test(tc, client_parses_responses);
	tcase_add_test(tc, dead_pooled_connection_retried_once);
	suite_add_tcase(s, tc);
	TCase *tu = tcase_create("loopback");
	tcase_set_timeout(tu, 60);
	tcase_add_test(tu, loopback_round_trips);
	suite_add_tcase(s, tu);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
