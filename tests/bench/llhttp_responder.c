/*
 * llhttp_responder.c — the small-request baseline: the least an HTTP/1.1 server on libuv and
 * llhttp (the stack fl-server is built on) can do per request. It parses each request whole
 * (bodies included) and answers every one with 200 and a fixed body of N bytes; keep-alive and
 * pipelining as HTTP/1.1 wants; one thread, TCP_NODELAY and a 64 KiB read buffer as rt_uv has.
 *
 *   llhttp_responder [IP:PORT] [--body_bytes N]     (default 127.0.0.1:0, N = 344)
 *
 * Give N the size of fl-server's answer to the benchmark's request, so both put the same bytes
 * on the wire. Prints "responder IP:PORT" once listening; SIGINT/SIGTERM stop it, printing
 * "responder answered N requests".
 */
#include "bench_util.h"

#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define RESP_READ_BUF (64 * 1024)

typedef struct responder {
	uv_loop_t *loop;
	uv_tcp_t server;
	uv_signal_t sigint, sigterm;
	llhttp_settings_t ps;
	char *resp; /* the whole answer, head and body; shared by every write */
	size_t resp_len;
	unsigned long long answered;
	char buf[RESP_READ_BUF];
} responder;

typedef struct client {
	uv_tcp_t tcp;
	llhttp_t parser;
	responder *r;
	unsigned complete; /* requests parsed in the current read, to answer after it */
	int closing;
} client;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void close_client(client *c)
{
	if (!c->closing) {
		c->closing = 1;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
	}
}

static void on_write(uv_write_t *w, int status)
{
	client *c = w->data;

	free(w);
	if (status)
		close_client(c);
}

static int on_message_complete(llhttp_t *p)
{
	client *c = p->data;

	c->complete++;
	return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	client *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->r->buf, sizeof c->r->buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	client *c = s->data;
	responder *r = c->r;

	if (n == 0)
		return;
	if (n < 0) {
		close_client(c);
		return;
	}
	c->complete = 0;
	if (llhttp_execute(&c->parser, b->base, (size_t)n) != HPE_OK) {
		close_client(c);
		return;
	}
	/* one write per answer: a pipelined batch gets its answers in order */
	for (unsigned i = 0; i < c->complete; i++) {
		uv_write_t *w = malloc(sizeof *w);
		uv_buf_t out = uv_buf_init(r->resp, (unsigned)r->resp_len);
		if (!w) {
			close_client(c);
			return;
		}
		w->data = c;
		if (uv_write(w, s, &out, 1, on_write)) {
			free(w);
			close_client(c);
			return;
		}
		r->answered++;
	}
}

static void on_conn(uv_stream_t *server, int status)
{
	responder *r = server->data;
	client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->r = r;
	uv_tcp_init(r->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		close_client(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	llhttp_init(&c->parser, HTTP_REQUEST, &r->ps);
	c->parser.data = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	responder *r = sig->data;

	(void)signum;
	printf("responder answered %llu requests\n", r->answered);
	fflush(stdout);
	uv_stop(r->loop);
}

int main(int argc, char **argv)
{
	static responder r;
	char ip[64] = "127.0.0.1";
	int port = 0;
	long body = 344;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--body_bytes") && i + 1 < argc) {
			body = strtol(argv[++i], NULL, 10);
		} else if (argv[i][0] == '-' || bench_parse_addr(argv[i], ip, sizeof ip, &port)) {
			fprintf(stderr, "usage: llhttp_responder [IP:PORT] [--body_bytes N]\n");
			return 2;
		}
	}
	if (body < 0 || body > (1L << 24)) {
		fprintf(stderr, "llhttp_responder: --body_bytes must be 0..16777216\n");
		return 2;
	}
	char head[160];
	int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
				       "Content-Length: %ld\r\n\r\n", body);
	r.resp_len = (size_t)hl + (size_t)body;
	r.resp = malloc(r.resp_len);
	if (!r.resp)
		return 1;
	memcpy(r.resp, head, (size_t)hl);
	memset(r.resp + hl, 'x', (size_t)body);

	signal(SIGPIPE, SIG_IGN);
	r.loop = uv_default_loop();
	llhttp_settings_init(&r.ps);
	r.ps.on_message_complete = on_message_complete;
	uv_tcp_init(r.loop, &r.server);
	r.server.data = &r;
	struct sockaddr_in a;
	if (uv_ip4_addr(ip, port, &a) || uv_tcp_bind(&r.server, (const struct sockaddr *)&a, 0) ||
	    uv_listen((uv_stream_t *)&r.server, 1024, on_conn)) {
		fprintf(stderr, "llhttp_responder: cannot listen on %s:%d\n", ip, port);
		return 1;
	}
	struct sockaddr_storage ss;
	int len = sizeof ss;
	uv_tcp_getsockname(&r.server, (struct sockaddr *)&ss, &len);
	printf("responder %s:%d\n", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	uv_signal_init(r.loop, &r.sigint);
	uv_signal_init(r.loop, &r.sigterm);
	r.sigint.data = r.sigterm.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	uv_run(r.loop, UV_RUN_DEFAULT);
	free(r.resp);
	return 0; /* open connections die with the process */
}
