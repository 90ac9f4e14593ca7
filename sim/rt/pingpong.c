/*
 * pingpong.c — see pingpong.h. Only rt.h calls: this file is what "written against the seam"
 * means in practice.
 */
#include "pingpong.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PP_LINE_MAX 128
#define PP_MAX_CONNS 16

/* A line splitter: input may arrive in any chunks. */
typedef struct pp_lines {
	char buf[PP_LINE_MAX];
	size_t len;
	int overflow;
} pp_lines;

typedef void (*pp_line_fn)(const char *line, void *data);

static void lines_feed(pp_lines *l, const uint8_t *p, size_t n, pp_line_fn fn, void *data)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			l->buf[l->len] = '\0';
			if (!l->overflow)
				fn(l->buf, data);
			l->len = 0;
			l->overflow = 0;
		} else if (l->len + 1 < sizeof l->buf) {
			l->buf[l->len++] = (char)p[i];
		} else {
			l->overflow = 1;
		}
	}
}

/* ---- server ---- */

typedef struct pp_conn {
	pp_server *srv;
	rt_stream *s;
	pp_lines lines;
} pp_conn;

struct pp_server {
	rt_host *host;
	rt_listener *l;
	pp_conn *conns[PP_MAX_CONNS];
};

static void srv_line(const char *line, void *data)
{
	pp_conn *c = data;
	unsigned i;
	uint64_t r;
	char out[PP_LINE_MAX + 8];
	if (sscanf(line, "ping %u %" SCNu64, &i, &r) == 2) {
		int n = snprintf(out, sizeof out, "pong %u %" PRIu64 "\n", i, r);
		rt_stream_write(c->s, out, (size_t)n, NULL, NULL);
	} else {
		rt_log(c->srv->host, RT_LOG_WARN, "pingpong: bad line '%s'", line);
		rt_stream_close(c->s);
	}
}

static void srv_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	pp_conn *c = data;
	lines_feed(&c->lines, buf, len, srv_line, c);
}

static void srv_on_close(rt_stream *s, int err, void *data)
{
	pp_conn *c = data;
	for (int i = 0; i < PP_MAX_CONNS; i++)
		if (c->srv->conns[i] == c)
			c->srv->conns[i] = NULL;
	free(c);
}

static const rt_stream_cbs srv_cbs = {NULL, srv_on_read, srv_on_close};

static void srv_on_accept(rt_listener *l, rt_stream *s, void *data)
{
	pp_server *srv = data;
	int slot = -1;
	for (int i = 0; i < PP_MAX_CONNS && slot < 0; i++)
		if (!srv->conns[i])
			slot = i;
	pp_conn *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
	if (!c) {
		rt_stream_close(s);
		return;
	}
	c->srv = srv;
	c->s = s;
	srv->conns[slot] = c;
	rt_stream_set_cbs(s, &srv_cbs, c);
}

int pp_server_start(rt_host *h, uint16_t port, pp_server **out)
{
	pp_server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return RT_ENOMEM;
	srv->host = h;
	int rc = rt_listen(h, NULL, port, srv_on_accept, srv, &srv->l);
	if (rc) {
		free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

uint16_t pp_server_port(const pp_server *s) { return rt_listener_port(s->l); }

int pp_server_open_streams(const pp_server *s)
{
	int n = 0;
	for (int i = 0; i < PP_MAX_CONNS; i++)
		n += s->conns[i] != NULL;
	return n;
}

void pp_server_stop(pp_server *srv)
{
	if (!srv)
		return;
	static const rt_stream_cbs none = {NULL, NULL, NULL};
	rt_listener_close(srv->l);
	for (int i = 0; i < PP_MAX_CONNS; i++)
		if (srv->conns[i]) {
			/* detach first: the stream may outlive us, and its on_close must find nobody */
			rt_stream_set_cbs(srv->conns[i]->s, &none, NULL);
			rt_stream_reset(srv->conns[i]->s);
			free(srv->conns[i]);
		}
	free(srv);
}

/* ---- client ---- */

struct pp_client {
	rt_host *host;
	rt_stream *s;
	rt_timer *tick;
	pp_lines lines;
	int rounds, sent, got;
	uint64_t interval_ms;
	uint64_t expect[64];
	char transcript[4096];
	size_t tlen;
	int err;
	pp_done_fn done;
	void *data;
	int finished;
};

static void note(pp_client *c, const char *fmt, const char *arg)
{
	int n = snprintf(c->transcript + c->tlen, sizeof c->transcript - c->tlen, "%s", c->tlen ? ";" : "");
	if (n > 0 && c->tlen + (size_t)n < sizeof c->transcript)
		c->tlen += (size_t)n;
	n = snprintf(c->transcript + c->tlen, sizeof c->transcript - c->tlen, fmt, arg);
	if (n > 0 && c->tlen + (size_t)n < sizeof c->transcript)
		c->tlen += (size_t)n;
}

static void finish(pp_client *c, int err)
{
	if (c->finished)
		return;
	c->finished = 1;
	c->err = err;
	if (c->done)
		c->done(err, c->data);
}

static void cli_send(rt_timer *t, void *data)
{
	pp_client *c = data;
	if (!c->s || c->sent >= c->rounds)
		return;
	uint64_t r = rt_rand_u64(c->host) % 1000000;
	c->expect[c->sent % 64] = r;
	char line[64];
	int n = snprintf(line, sizeof line, "ping %d %" PRIu64 "\n", c->sent, r);
	c->sent++;
	rt_stream_write(c->s, line, (size_t)n, NULL, NULL);
	if (c->sent < c->rounds)
		rt_timer_start(c->tick, c->interval_ms, 0);
}

static void cli_line(const char *line, void *data)
{
	pp_client *c = data;
	unsigned i;
	uint64_t r;
	note(c, "%s", line);
	if (sscanf(line, "pong %u %" SCNu64, &i, &r) != 2 || (int)i != c->got ||
	    r != c->expect[i % 64]) {
		c->err = RT_EIO;
		rt_stream_close(c->s);
		return;
	}
	if (++c->got < c->rounds)
		return;
	/* every pong matched: make it durable, read it back, close */
	char num[32], *back = NULL;
	size_t blen = 0;
	snprintf(num, sizeof num, "%d", c->got);
	int rc = rt_file_write(c->host, "pingpong.result", num, strlen(num), RT_FILE_SYNC);
	if (!rc)
		rc = rt_file_read(c->host, "pingpong.result", (uint8_t **)&back, &blen);
	if (!rc && (blen != strlen(num) || memcmp(back, num, blen)))
		rc = RT_EIO;
	if (!rc)
		note(c, "file %s", back);
	free(back);
	c->err = rc;
	rt_stream_close(c->s);
}

static void cli_on_connect(rt_stream *s, void *data)
{
	pp_client *c = data;
	note(c, "%s", "connect");
	rt_timer_start(c->tick, 0, 0);
}

static void cli_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	pp_client *c = data;
	lines_feed(&c->lines, buf, len, cli_line, c);
}

static void cli_on_close(rt_stream *s, int err, void *data)
{
	pp_client *c = data;
	c->s = NULL;
	note(c, "%s", err == 0 ? "closed" : rt_strerror(err));
	rt_timer_stop(c->tick);
	finish(c, c->err ? c->err : (err == 0 && c->got == c->rounds ? 0 : (err ? err : RT_EIO)));
}

static const rt_stream_cbs cli_cbs = {cli_on_connect, cli_on_read, cli_on_close};

int pp_client_start(rt_host *h, const char *ip, uint16_t port, int rounds, uint64_t interval_ms,
		    pp_done_fn done, void *data, pp_client **out)
{
	if (rounds < 1 || rounds > 1000)
		return RT_EINVAL;
	pp_client *c = calloc(1, sizeof *c);
	if (!c)
		return RT_ENOMEM;
	c->host = h;
	c->rounds = rounds;
	c->interval_ms = interval_ms;
	c->done = done;
	c->data = data;
	c->tick = rt_timer_new(h, cli_send, c);
	int rc = c->tick ? rt_connect(h, ip, port, 2000, &cli_cbs, c, &c->s) : RT_ENOMEM;
	if (rc) {
		rt_timer_free(c->tick);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

const char *pp_client_transcript(const pp_client *c) { return c->transcript; }

void pp_client_free(pp_client *c)
{
	if (!c)
		return;
	if (c->s) {
		static const rt_stream_cbs none = {NULL, NULL, NULL};
		rt_stream_set_cbs(c->s, &none, NULL);
		rt_stream_reset(c->s);
	}
	rt_timer_free(c->tick);
	free(c);
}
