/*
 * fuzz_http_server.c — the HTTP/1.1 server's request parser (node/proto/http_server*.c on
 * llhttp), driven through rt_sim: a client host connects and sends the input as raw bytes,
 * delivered in the number of slices the first byte picks, then (by the second byte) closes or
 * stays silent past the header timeout. The handler checks the request contract (body aligned and
 * NUL-terminated, strings NUL-terminated, header lookups), answers some requests at once and
 * holds others until later, so pipelining, limits (small ones), 400/408/413/431 answers and
 * closes all run.
 */
#include "../../node/proto/http.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SRV_IP "10.0.0.1"
#define CLI_IP "10.0.0.2"
#define PORT 8080

typedef struct state {
	http_request *held[8];
	size_t nheld;
	size_t handled;
} state;

static void handler(http_server *srv, http_request *r, void *data)
{
	state *st = data;
	(void)srv;
	st->handled++;
	FZ_ASSERT(r->method && r->path && r->query && r->peer_ip && r->body);
	FZ_ASSERT(((uintptr_t)r->body & 7) == 0 && r->body[r->body_len] == 0);
	FZ_ASSERT(r->path[0] == '\0' || strlen(r->path) < 1u << 20);
	const char *h = http_request_header(r, "content-type");
	if (h)
		FZ_ASSERT(strlen(h) < 1u << 20);
	(void)http_request_header(r, "Expect");
	(void)http_request_header(r, "");
	if (r->body_len && r->body[0] == 'H' && st->nheld < 8) {
		st->held[st->nheld++] = r; /* answered later, out of the handler */
		return;
	}
	http_respond(r, 200, "text/plain", r->body, r->body_len < 64 ? r->body_len : 64,
		     r->query[0] ? "X-Q: 1\r\n" : NULL);
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
	state st = {0};
	http_server_config cfg = {0};
	if (mode & 1) { /* small limits, so the 413/431 paths are reachable */
		cfg.max_header_bytes = 256;
		cfg.max_body_bytes = 128;
	}
	cfg.header_timeout_ms = 2000;
	cfg.idle_timeout_ms = 3000;
	http_server *srv = NULL;
	FZ_ASSERT(http_server_start(hs, NULL, PORT, &cfg, handler, &st, &srv) == 0);
	fz_raw raw = {.send = data, .send_len = size, .close_after = (mode & 2) != 0};
	FZ_ASSERT(rt_connect(hc, SRV_IP, PORT, 1000, &fz_raw_cbs, &raw, &raw.s) == 0);
	fz_run_ms(sim, 50);
	for (size_t i = 0; i < st.nheld; i++) /* the held ones, possibly after their peer left */
		http_respond(st.held[i], 202, NULL, "{}", 2, NULL);
	st.nheld = 0;
	fz_run_ms(sim, (mode & 4) ? 5000 : 50); /* past the header and idle timeouts */
	for (size_t i = 0; i < st.nheld; i++)
		http_respond(st.held[i], 202, NULL, "{}", 2, NULL);
	http_server_stats s;
	http_server_get_stats(srv, &s);
	FZ_ASSERT(s.requests >= st.handled);
	http_server_stop(srv);
	rt_sim_free(sim);
	return 0;
}
