/*
 * live_http.c — see live_http.h.
 */
#include "live_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait for `ev` on fd until the deadline: 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = ev};
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

static int sock_connect(const char *ip, uint16_t port, int64_t deadline)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	int rc = wait_fd(fd, POLLOUT, deadline);
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (!rc && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
		rc = -soerr;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Parse the head in buf[0..head_len): status and content length (-1 if none). */
static int parse_head(const char *buf, size_t head_len, int *status, long *clen)
{
	int maj, min, st;
	if (sscanf(buf, "HTTP/%d.%d %d", &maj, &min, &st) != 3)
		return -EPROTO;
	*status = st;
	*clen = -1;
	const char *p = buf, *end = buf + head_len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		if (!strncasecmp(p, "Content-Length:", 15))
			*clen = strtol(p + 15, NULL, 10);
		p = nl + 1;
	}
	return 0;
}

int lh_request(const char *ip, uint16_t port, const char *method, const char *path, const char *ctype,
	       const void *body, size_t len, int timeout_ms, lh_resp *out)
{
	memset(out, 0, sizeof *out);
	int64_t deadline = mono_ms() + timeout_ms;
	int fd = sock_connect(ip, port, deadline);
	if (fd < 0)
		return fd;
	char head[512];
	int hl = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n"
			  "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", method, path, ip, port,
			  ctype ? ctype : "application/json", len);
	int rc = send_all(fd, head, (size_t)hl, deadline);
	if (!rc && len)
		rc = send_all(fd, body, len, deadline);
	size_t cap = 4096, got = 0, head_len = 0;
	long clen = -1;
	char *buf = rc ? NULL : malloc(cap);
	if (!rc && !buf)
		rc = -ENOMEM;
	while (!rc) {
		if (head_len && clen >= 0 && got >= head_len + (size_t)clen)
			break;
		if (got + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (!head_len) {
				char *e = strstr(buf, "\r\n\r\n");
				if (e) {
					head_len = (size_t)(e - buf) + 4;
					rc = parse_head(buf, head_len, &out->status, &clen);
				}
			}
			continue;
		}
		if (n == 0)
			break; /* the close ends a body without a length */
		if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			break;
		}
		rc = wait_fd(fd, POLLIN, deadline);
	}
	close(fd);
	if (!rc && !head_len)
		rc = -EPROTO;
	if (!rc && clen >= 0 && got < head_len + (size_t)clen)
		rc = -EPROTO; /* cut short */
	if (rc) {
		free(buf);
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->len = clen >= 0 ? (size_t)clen : got - head_len;
	out->body = malloc(out->len + 1);
	if (!out->body) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(out->body, buf + head_len, out->len);
	out->body[out->len] = '\0';
	free(buf);
	return 0;
}

void lh_resp_free(lh_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int lh_listen(const char *ip, uint16_t *port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(*port);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	socklen_t sl = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &sl)) {
		int e = -errno;
		close(fd);
		return e;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

#define LH_SERVE_MS 1000

int lh_serve(int listen_fd, int status, const char *body)
{
	int served = 0;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return served;
		/* 1 s to read a request and as long to answer it: on a loaded machine 200 ms was
		 * missed (test_live's relay test failed about one run in eight) */
		int64_t deadline = mono_ms() + LH_SERVE_MS;
		char req[2048];
		size_t got = 0;
		int rc = 0;
		while (!rc && got < sizeof req - 1) {
			ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
			if (n > 0) {
				got += (size_t)n;
				req[got] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				rc = -1;
			else
				rc = wait_fd(fd, POLLIN, deadline);
		}
		if (!rc) {
			size_t bl = strlen(body);
			char head[256];
			int hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
					  "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
					  status == 200 ? "OK" : "Service Unavailable", bl);
			deadline = mono_ms() + LH_SERVE_MS;
			if (!send_all(fd, head, (size_t)hl, deadline) && !send_all(fd, body, bl, deadline))
				served++;
		}
		close(fd);
	}
}
