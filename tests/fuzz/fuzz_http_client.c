/*
 * fuzz_http_client.c — the HTTP client's response parser (node/proto/http_client.c on llhttp),
 * through rt_sim: a server host accepts and answers the client's requests with the input's
 * raw bytes (sliced as the first byte says, then closed or left open by the second), while the
 * client has two requests on the same destination (keep-alive reuse, a response with a body
 * too long for a small limit, a torn response). Every callback must come exactly once, with a
 * NUL-terminated body or an error.
 */
#include "../../node/proto/http.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SRV_IP "10.0.0.1"
#define CLI_IP "10.0.0.2"
#define PORT 8080

typedef struct answer {
	const uint8_t *send;
	size_t send_len;
	int close_after;
	fz_raw raws[4];
	size_t nraw;
} answer;

static void on_accept(rt_listener *l, rt_stream *s, void *data)
{
	answer *a = data;
	(void)l;
	if (a->nraw == 4) {
		rt_stream_close(s);
		return;
	}
	fz_raw *r = &a->raws[a->nraw++];
	r->s = s;
	r->send = a->send;
	r->send_len = a->send_len;
	r->close_after = a->close_after;
	rt_stream_set_cbs(s, &fz_raw_cbs, r);
	fz_raw_send(r, s);
}

typedef struct got {
	int done, err, status;
} got;

static void on_resp(int err, const http_response *resp, void *data)
{
	got *g = data;
	g->done++;
	g->err = err;
	FZ_ASSERT((err == 0) == (resp != NULL));
	if (resp) {
		FZ_ASSERT(resp->body && resp->body[resp->body_len] == 0);
		g->status = resp->status;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t slices = data[0], mode = data[1];
	data += 2;
	size -= 2;
	rt_sim *sim = fz_sim(1 + slices % 16);
	rt_host *hs = fz_host(sim, "server", SRV_IP), *hc = fz_host(sim, "client", CLI_IP);
	answer a = {.send = data, .send_len = size, .close_after = (mode & 2) != 0};
	rt_listener *l = NULL;
	FZ_ASSERT(rt_listen(hs, NULL, PORT, on_accept, &a, &l) == 0);
	http_client_config cc = {0};
	if (mode & 1)
		cc.max_body_bytes = 64;
	http_client *c = NULL;
	FZ_ASSERT(http_client_new(hc, &cc, &c) == 0);
	got g[2] = {{0}};
	FZ_ASSERT(http_client_request(c, SRV_IP, PORT, (mode & 4) ? "HEAD" : "POST", "/startFLJob",
				      NULL, "{}", 2, NULL, 2000, on_resp, &g[0]) == 0);
	FZ_ASSERT(http_client_request(c, SRV_IP, PORT, "GET", "/state", NULL, NULL, 0, NULL, 2000,
				      on_resp, &g[1]) == 0);
	fz_run_ms(sim, 2500); /* past both timeouts */
	FZ_ASSERT(g[0].done == 1 && g[1].done == 1);
	http_client_free(c);
	rt_listener_close(l);
	rt_sim_free(sim);
	return 0;
}
