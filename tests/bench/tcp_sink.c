/*
 * tcp_sink.c — the raw-loopback baseline of the device-API benchmark: a plain libuv TCP server
 * that reads and discards every byte, with the same 64 KiB read buffer and TCP_NODELAY as the
 * rt_uv backend under fl-server, and closes a connection at the peer's EOF (the sender waits
 * for that close, so its clock covers every byte read here, not just written there).
 *
 *   tcp_sink [IP:PORT]      (default 127.0.0.1:0 = any free port)
 *
 * Prints "sink IP:PORT" on stdout once listening; at SIGINT/SIGTERM prints the bytes it read
 * ("sink read N bytes") and exits 0.
 */
#include "bench_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define SINK_READ_BUF (64 * 1024)

typedef struct sink {
	uv_loop_t *loop;
	uv_tcp_t server;
	uv_signal_t sigint, sigterm;
	unsigned long long bytes;
	char buf[SINK_READ_BUF]; /* one buffer for all: libuv reads one stream at a time */
} sink;

static void on_closed(uv_handle_t *h) { free(h); }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	sink *s = h->data;

	(void)hint;
	*b = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_read(uv_stream_t *c, ssize_t n, const uv_buf_t *b)
{
	sink *s = c->data;

	(void)b;
	if (n > 0)
		s->bytes += (unsigned long long)n;
	else if (n < 0)
		uv_close((uv_handle_t *)c, on_closed); /* EOF or error: done with this one */
}

static void on_conn(uv_stream_t *server, int status)
{
	sink *s = server->data;
	uv_tcp_t *c;

	if (status < 0)
		return;
	c = malloc(sizeof *c);
	if (!c)
		return;
	uv_tcp_init(s->loop, c);
	c->data = s;
	if (uv_accept(server, (uv_stream_t *)c)) {
		uv_close((uv_handle_t *)c, on_closed);
		return;
	}
	uv_tcp_nodelay(c, 1);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	sink *s = sig->data;

	(void)signum;
	printf("sink read %llu bytes\n", s->bytes);
	fflush(stdout);
	uv_stop(s->loop);
}

int main(int argc, char **argv)
{
	static sink s;
	char ip[64] = "127.0.0.1";
	int port = 0;
	struct sockaddr_storage ss;
	int len = sizeof ss;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "--help") ||
				       bench_parse_addr(argv[1], ip, sizeof ip, &port)))) {
		fprintf(stderr, "usage: tcp_sink [IP:PORT]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	s.loop = uv_default_loop();
	uv_tcp_init(s.loop, &s.server);
	s.server.data = &s;
	struct sockaddr_in a;
	if (uv_ip4_addr(ip, port, &a) || uv_tcp_bind(&s.server, (const struct sockaddr *)&a, 0) ||
	    uv_listen((uv_stream_t *)&s.server, 128, on_conn)) {
		fprintf(stderr, "tcp_sink: cannot listen on %s:%d\n", ip, port);
		return 1;
	}
	uv_tcp_getsockname(&s.server, (struct sockaddr *)&ss, &len);
	printf("sink %s:%d\n", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	uv_signal_init(s.loop, &s.sigint);
	uv_signal_init(s.loop, &s.sigterm);
	s.sigint.data = s.sigterm.data = &s;
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_run(s.loop, UV_RUN_DEFAULT);
	return 0; /* open connections die with the process */
}
