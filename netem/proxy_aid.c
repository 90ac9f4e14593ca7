/*
 * proxy_aid.c — the echo server and pipe client test aids of bin/netem-proxy (see proxy_aid.h).
 */
#include "proxy_aid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- echo server (libuv) ---- */

#define ECHO_BUF (64 * 1024)
#define ECHO_HIGH ((size_t)4 << 20)

struct aid_echo {
	uv_tcp_t srv;
	uint16_t port;
	struct echo_conn *conns; /* open connections, for aid_echo_stop */
	int stopping;
};

typedef struct echo_conn {
	uv_tcp_t tcp;
	aid_echo *owner;
	struct echo_conn *prev, *next;
	int reading, eof;
} echo_conn;

typedef struct echo_wreq {
	uv_write_t req;
	char *buf;
} echo_wreq;

static void echo_closed(uv_handle_t *h) { free(h->data); }

static void echo_close(echo_conn *e)
{
	if (uv_is_closing((uv_handle_t *)&e->tcp))
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		e->owner->conns = e->next;
	if (e->next)
		e->next->prev = e->prev;
	uv_close((uv_handle_t *)&e->tcp, echo_closed);
}

static void echo_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	char *p = malloc(ECHO_BUF);
	*buf = uv_buf_init(p, p ? ECHO_BUF : 0);
}

static void echo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void echo_written(uv_write_t *req, int status)
{
	echo_wreq *w = (echo_wreq *)req;
	echo_conn *e = req->handle->data;
	free(w->buf);
	free(w);
	if (status < 0) {
		echo_close(e);
		return;
	}
	/* back-pressure: read again once the peer took most of what we owe it */
	if (!e->reading && !e->eof && e->tcp.write_queue_size < ECHO_HIGH / 4 &&
	    !uv_is_closing((uv_handle_t *)&e->tcp) &&
	    uv_read_start((uv_stream_t *)&e->tcp, echo_alloc, echo_read) == 0)
		e->reading = 1;
}

static void echo_shut(uv_shutdown_t *req, int status)
{
	echo_conn *e = req->handle->data;
	free(req);
	echo_close(e);
}

static void echo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	echo_conn *e = s->data;
	if (nread > 0) {
		echo_wreq *w = malloc(sizeof *w);
		uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
		if (!w || uv_write(&w->req, s, &b, 1, echo_written)) {
			free(w);
			free(buf->base);
			echo_close(e);
			return;
		}
		w->buf = buf->base;
		if (s->write_queue_size > ECHO_HIGH) {
			uv_read_stop(s);
			e->reading = 0;
		}
		return;
	}
	free(buf->base);
	if (nread == 0)
		return;
	uv_read_stop(s);
	e->reading = 0;
	if (nread == UV_EOF) {
		e->eof = 1;
		uv_shutdown_t *req = malloc(sizeof *req);
		if (!req || uv_shutdown(req, s, echo_shut)) { /* waits for the echoes in flight */
			free(req);
			echo_close(e);
		}
		return;
	}
	echo_close(e);
}

static void echo_accept(uv_stream_t *server, int status)
{
	aid_echo *owner = server->data;
	if (status < 0 || owner->stopping)
		return;
	echo_conn *e = calloc(1, sizeof *e);
	if (!e)
		return;
	e->owner = owner;
	e->next = owner->conns;
	if (owner->conns)
		owner->conns->prev = e;
	owner->conns = e;
	uv_tcp_init(server->loop, &e->tcp);
	e->tcp.data = e;
	if (uv_accept(server, (uv_stream_t *)&e->tcp) ||
	    uv_read_start((uv_stream_t *)&e->tcp, echo_alloc, echo_read)) {
		echo_close(e);
		return;
	}
	e->reading = 1;
	uv_tcp_nodelay(&e->tcp, 1);
}

static void echo_server_closed(uv_handle_t *h) { free(h->data); }

int aid_echo_start(uv_loop_t *loop, const char *ip, uint16_t port, aid_echo **out)
{
	struct sockaddr_in a;
	if (uv_ip4_addr(ip, port, &a))
		return UV_EINVAL;
	aid_echo *e = calloc(1, sizeof *e);
	if (!e)
		return UV_ENOMEM;
	uv_tcp_init(loop, &e->srv);
	e->srv.data = e;
	int rc = uv_tcp_bind(&e->srv, (const struct sockaddr *)&a, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&e->srv, 511, echo_accept);
	if (rc) {
		uv_close((uv_handle_t *)&e->srv, echo_server_closed);
		return rc;
	}
	struct sockaddr_storage ss;
	int sl = sizeof ss;
	uv_tcp_getsockname(&e->srv, (struct sockaddr *)&ss, &sl);
	e->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*out = e;
	return 0;
}

uint16_t aid_echo_port(const aid_echo *e) { return e->port; }

void aid_echo_stop(aid_echo *e)
{
	e->stopping = 1;
	while (e->conns)
		echo_close(e->conns);
	uv_close((uv_handle_t *)&e->srv, echo_server_closed);
}

/* ---- pipe client (plain sockets and poll: stdin may be a regular file) ---- */

#define PIPE_BUF_SZ (256 * 1024)

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int aid_pipe_client(const char *ip, uint16_t port, const char *bind_ip, int gen,
		    uint64_t gen_bytes)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "netem-proxy: bad address %s\n", ip);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("netem-proxy: socket");
		return 1;
	}
	if (bind_ip) {
		struct sockaddr_in b = {.sin_family = AF_INET};
		if (inet_pton(AF_INET, bind_ip, &b.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&b, sizeof b)) {
			fprintf(stderr, "netem-proxy: cannot bind %s: %s\n", bind_ip, strerror(errno));
			close(fd);
			return 1;
		}
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "netem-proxy: connect %s:%u: %s\n", ip, port, strerror(errno));
		close(fd);
		return 1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	char *out = malloc(PIPE_BUF_SZ), *in = malloc(PIPE_BUF_SZ);
	if (!out || !in) {
		free(out);
		free(in);
		close(fd);
		return 1;
	}
	if (gen)
		for (size_t i = 0; i < PIPE_BUF_SZ; i++)
			out[i] = (char)(i * 131 + 7);
	size_t have = 0, off = 0; /* bytes in `out` to send, of which off sent */
	uint64_t sent = 0, received = 0;
	int in_eof = 0, shut = 0, rc = 0;
	double t0 = now_s();
	for (;;) {
		if (!in_eof && off == have) {
			/* refill from stdin or the generator */
			if (gen) {
				uint64_t left = gen_bytes - sent;
				have = left < PIPE_BUF_SZ ? (size_t)left : PIPE_BUF_SZ;
				off = 0;
				if (!have)
					in_eof = 1;
			}
		}
		if (in_eof && off == have && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = 0}};
		int np = 1;
		if (off < have)
			p[0].events |= POLLOUT;
		else if (!in_eof && !gen) {
			p[1].events = POLLIN;
			np = 2;
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("netem-proxy: poll");
			rc = 1;
			break;
		}
		if (np == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(0, out, PIPE_BUF_SZ);
			if (r < 0 && errno != EINTR && errno != EAGAIN) {
				perror("netem-proxy: stdin");
				rc = 1;
				break;
			}
			if (r == 0)
				in_eof = 1;
			if (r > 0) {
				have = (size_t)r;
				off = 0;
			}
		}
		if (p[0].revents & POLLOUT) {
			ssize_t w = send(fd, out + off, have - off, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "netem-proxy: send: %s\n", strerror(errno));
				rc = 1;
				break;
			}
			if (w > 0) {
				off += (size_t)w;
				sent += (uint64_t)w;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in, PIPE_BUF_SZ, 0);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "netem-proxy: recv: %s\n", strerror(errno));
				rc = 1;
				break;
			}
			if (r == 0)
				break; /* the server's EOF: done */
			if (r > 0) {
				received += (uint64_t)r;
				if (!gen && write_all(1, in, (size_t)r)) {
					perror("netem-proxy: stdout");
					rc = 1;
					break;
				}
			}
		}
	}
	double dt = now_s() - t0;
	if (gen)
		fprintf(stderr, "sent %llu received %llu seconds %.3f MiB/s %.1f\n",
			(unsigned long long)sent, (unsigned long long)received, dt,
			dt > 0 ? (double)sent / 1048576.0 / dt : 0.0);
	free(out);
	free(in);
	close(fd);
	return rc;
}
