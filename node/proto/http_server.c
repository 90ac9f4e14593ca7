/*
 * http_server.c — the HTTP/1.1 server of http.h over rt streams, parsed with llhttp.
 *
 * One hconn per accepted stream. Its llhttp parser pauses (HPE_PAUSED) at the end of every
 * request, so handlers never run inside llhttp_execute: the read loop takes the finished request,
 * appends it to the connection's FIFO and calls the handler, then resumes parsing the rest of the
 * input. Responses leave in FIFO order: http_respond on a later request stores its bytes until
 * every earlier one has been answered. At most HTTP_PIPELINE_MAX requests wait per connection;
 * past that the unparsed input is buffered and parsing resumes (from a zero-delay timer, never
 * inside http_respond) once answers drain the FIFO.
 *
 * Errors found while parsing (400 malformed, 408 too slow, 413 body, 431 headers) become an
 * already-answered FIFO entry, so even error answers keep the pipeline order; once it is sent the
 * connection drops further input and closes (after a linger, see HTTP_LINGER_MS).
 *
 * Connection timer (one per connection, uses that never overlap): HEADER while a request is being
 * read (408 on expiry), IDLE while nothing is pending (close on expiry), KICK (0 ms) to resume
 * parsing buffered input after the FIFO drained, LINGER after an error answer (close on expiry).
 * HEADER and IDLE are armed lazily (conn_timer_lazy): a busy connection does not restart its
 * timer per request.
 */
#include "http.h"
#include "http_util.h"

#include "llhttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HTTP_PIPELINE_MAX = 32 };
enum { TM_NONE, TM_HEADER, TM_IDLE, TM_KICK, TM_LINGER };
/* After an error answer the connection stays open this long, reading and dropping input, so
 * that the peer reads the answer before the close: closing a TCP socket with unread input
 * resets it, and the reset can destroy the answer in flight. */
enum { HTTP_LINGER_MS = 1000 };
/* Unparsed input kept while the pipeline is full, beyond one maximal request: a client that
 * sends more without reading answers is cut off. */
enum { HTTP_INBUF_SLACK = 64 * 1024 };

typedef struct hconn hconn;
typedef struct hreq hreq;

struct hreq {
	http_request pub; /* first member: http_request * and hreq * convert */
	hconn *conn;      /* NULL once the connection is gone (then http_respond only frees) */
	hreq *next;       /* the connection's FIFO */
	http_server *srv; /* set while the handler holds it: on the server's pending list */
	hreq *pprev, *pnext;
	http_buf text;    /* URL, NUL, then "name\0value\0" per header */
	size_t url_len, nheaders, value_start;
	size_t name_start; /* of the header name being read */
	size_t expect_off; /* the first Expect header's value, when has_expect */
	int has_expect;
	int hstate;       /* 0: between headers, 1: in a name, 2: name done, value open */
	http_buf body;
	size_t clen;      /* Content-Length (has_clen) */
	int has_clen;
	rt_buf *borrow;   /* the body lies whole, aligned, in this runtime buffer (no copy): bbody */
	const uint8_t *bbody;
	char *resp;       /* the answer's bytes, once answered (inside rb when rb is set) */
	size_t resp_len;
	rt_buf *rb;       /* a big answer: handed to the runtime by reference, not copied */
	int resp_borrowed; /* resp is the caller's (sent before http_respond returns): not freed */
	int answered, close_after, keep_alive, http10, is_head;
	int linger;       /* an error answer: linger after it, then close */
	char peer_ip[16];
};

struct hconn {
	http_server *srv;
	hconn *prev, *next;
	rt_stream *stream;
	llhttp_t parser;
	hreq *cur;        /* being parsed */
	hreq *head, *tail; /* answered-in-order FIFO */
	size_t nfifo;
	http_buf in;      /* input not parsed yet (pipeline full) */
	rt_timer *timer;
	int tmode;
	uint64_t deadline_ns; /* TM_HEADER, TM_IDLE: when the mode's timeout is due */
	uint64_t armed_ns; /* while the timer runs: when it fires (never later than this) */
	size_t hdr_bytes; /* of the request being parsed */
	int err_status;   /* set by a parser callback that stopped parsing */
	const char *err_msg;
	int no_parse;     /* after an error or a non-keep-alive request: ignore further input */
	int closing;      /* rt_stream_close called; waiting for on_close */
	int lingering;    /* error answered; dropping input until the peer closes or TM_LINGER */
	int in_process;
	rt_buf *rd_buf;   /* inside srv_on_read: the runtime buffer of the bytes parsed */
};

struct http_server {
	rt_host *host;
	rt_listener *listener;
	http_server_config cfg;
	http_handler handler;
	void *data;
	hconn *conns, *conns_tail;
	hreq *pending;    /* every request handed to the handler and not answered yet */
	http_server_stats st;
	int depth;        /* handler calls on the stack */
	int stop_deferred; /* http_server_stop called from inside a handler */
};

static void srv_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data);
static void srv_on_close(rt_stream *s, int err, void *data);
static const rt_stream_cbs srv_stream_cbs = {
	.on_read = srv_on_read,
	.on_close = srv_on_close,
};
/* For streams we have let go of: their last callbacks must not reach freed memory. */
static void detached_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data) {}
static void detached_on_close(rt_stream *s, int err, void *data) {}
static const rt_stream_cbs srv_detached_cbs = {
	.on_read = detached_on_read,
	.on_close = detached_on_close,
};

static void server_free_all(http_server *srv);

/* ---- requests ---- */

static void req_unlink_pending(hreq *q)
{
	if (!q->srv)
		return;
	if (q->pprev)
		q->pprev->pnext = q->pnext;
	else
		q->srv->pending = q->pnext;
	if (q->pnext)
		q->pnext->pprev = q->pprev;
	q->srv = NULL;
	q->pprev = q->pnext = NULL;
}

static void req_free(hreq *q)
{
	if (!q)
		return;
	req_unlink_pending(q);
	http_buf_free(&q->text);
	http_buf_free(&q->body);
	rt_buf_unref(q->borrow);
	if (q->rb)
		rt_buf_unref(q->rb);
	else if (!q->resp_borrowed)
		free(q->resp);
	free(q);
}

const char *http_request_header(const http_request *r, const char *name)
{
	if (!r || !name)
		return NULL;
	const hreq *q = (const hreq *)r;
	const char *p = q->text.p + q->url_len + 1;
	for (size_t i = 0; i < q->nheaders; i++) {
		const char *val = p + strlen(p) + 1;
		if (!strcasecmp(p, name))
			return val;
		p = val + strlen(val) + 1;
	}
	return NULL;
}

/* Point the public fields into the request's own buffers. */
static int req_finalize(hconn *c, hreq *q)
{
	llhttp_t *p = &c->parser;
	if (!q->text.p && http_buf_add(&q->text, "", 0))
		return RT_ENOMEM;
	char *url = q->text.p;
	char *hash = memchr(url, '#', q->url_len);
	if (hash)
		*hash = '\0';
	char *path = url;
	/* absolute-form ("http://host/path"): keep only the path */
	if (!strncasecmp(path, "http://", 7) || !strncasecmp(path, "https://", 8)) {
		char *slash = strchr(strstr(path, "//") + 2, '/');
		path = slash ? slash : url + q->url_len;
	}
	char *qm = strchr(path, '?');
	if (qm) {
		*qm = '\0';
		q->pub.query = qm + 1;
	} else {
		q->pub.query = url + q->url_len; /* the URL's NUL: "" */
	}
	q->pub.path = *path ? path : "/";
	q->pub.method = llhttp_method_name((llhttp_method_t)p->method);
	if (q->borrow) {
		/* NUL-terminated (the rt_buf's end) and 8-byte aligned: checked in on_body */
		q->pub.body = q->bbody;
		q->pub.body_len = q->clen;
	} else {
		if (!q->body.p && http_buf_reserve(&q->body, 7))
			return RT_ENOMEM;
		q->body.p[q->body.len] = '\0';
		q->pub.body = (const uint8_t *)q->body.p; /* malloc'd: aligned for any type */
		q->pub.body_len = q->body.len;
	}
	q->pub.peer_ip = q->peer_ip;
	q->pub.peer_port = rt_stream_peer_port(c->stream);
	q->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
	q->http10 = p->http_major == 1 && p->http_minor == 0;
	q->is_head = p->method == HTTP_HEAD;
	return 0;
}

/* ---- parser callbacks ---- */

/*
 * Enter TM_HEADER or TM_IDLE, due delay_ms from now. Every request enters both, so the timer is
 * not restarted (nor stopped at the end of a request) when it already fires no later than the
 * new deadline: conn_on_timer then finds the deadline not yet due and waits for the rest.
 */
static void conn_timer_lazy(hconn *c, int mode, uint64_t delay_ms)
{
	uint64_t deadline = rt_now_ns(c->srv->host) + delay_ms * 1000000;
	c->tmode = mode;
	c->deadline_ns = deadline;
	if (rt_timer_active(c->timer) && c->armed_ns <= deadline)
		return;
	c->armed_ns = deadline;
	rt_timer_start(c->timer, delay_ms, 0);
}

static int stop_parse(hconn *c, int status, const char *msg)
{
	c->err_status = status;
	c->err_msg = msg;
	llhttp_set_error_reason(&c->parser, msg);
	return HPE_USER;
}

static int count_header(hconn *c, size_t len)
{
	c->hdr_bytes += len;
	if (c->hdr_bytes > c->srv->cfg.max_header_bytes)
		return stop_parse(c, 431, "request header fields too large");
	return 0;
}

static int close_value(hreq *q)
{
	/* trailing whitespace is not part of a field value (RFC 9110 5.5); llhttp keeps it */
	while (q->text.len > q->value_start &&
	       (q->text.p[q->text.len - 1] == ' ' || q->text.p[q->text.len - 1] == '\t'))
		q->text.len--;
	/* note the first Expect header here rather than search for it per request */
	if (!q->has_expect && q->value_start - 1 - q->name_start == 6 &&
	    !strncasecmp(q->text.p + q->name_start, "expect", 6)) {
		q->has_expect = 1;
		q->expect_off = q->value_start;
	}
	q->hstate = 0;
	q->nheaders++;
	return http_buf_add(&q->text, "", 1);
}

static int on_message_begin(llhttp_t *p)
{
	hconn *c = p->data;
	hreq *q = calloc(1, sizeof *q);
	if (!q)
		return stop_parse(c, 500, "out of memory");
	q->conn = c;
	const char *ip = rt_stream_peer_ip(c->stream);
	size_t iplen = ip ? strnlen(ip, sizeof q->peer_ip - 1) : 0;
	if (iplen)
		memcpy(q->peer_ip, ip, iplen);
	q->peer_ip[iplen] = '\0';
	req_free(c->cur);
	c->cur = q;
	c->hdr_bytes = 0;
	conn_timer_lazy(c, TM_HEADER, c->srv->cfg.header_timeout_ms);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	hconn *c = p->data;
	if (count_header(c, len))
		return HPE_USER;
	/* one allocation for the URL and the usual few headers, not a doubling series */
	if ((!c->cur->text.cap && http_buf_reserve(&c->cur->text, 256)) ||
	    http_buf_add(&c->cur->text, at, len))
		return stop_parse(c, 500, "out of memory");
	return 0;
}

static int on_url_complete(llhttp_t *p)
{
	hconn *c = p->data;
	c->cur->url_len = c->cur->text.len;
	if (http_buf_add(&c->cur->text, "", 1))
		return stop_parse(c, 500, "out of memory");
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	hconn *c = p->data;
	hreq *q = c->cur;
	if (count_header(c, len))
		return HPE_USER;
	if (q->hstate == 2 && close_value(q))
		return stop_parse(c, 500, "out of memory");
	if (q->hstate != 1)
		q->name_start = q->text.len;
	if (http_buf_add(&q->text, at, len))
		return stop_parse(c, 500, "out of memory");
	q->hstate = 1;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	hconn *c = p->data;
	hreq *q = c->cur;
	if (http_buf_add(&q->text, "", 1))
		return stop_parse(c, 500, "out of memory");
	q->hstate = 2;
	q->value_start = q->text.len;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	hconn *c = p->data;
	if (count_header(c, len))
		return HPE_USER;
	if (http_buf_add(&c->cur->text, at, len))
		return stop_parse(c, 500, "out of memory");
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	hconn *c = p->data;
	if (c->cur->hstate == 2 && close_value(c->cur))
		return stop_parse(c, 500, "out of memory");
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	hconn *c = p->data;
	hreq *q = c->cur;
	if (q->hstate == 2 && close_value(q))
		return stop_parse(c, 500, "out of memory");
	if (p->flags & F_CONTENT_LENGTH) {
		/* refuse before reading a byte of the body */
		if (p->content_length > c->srv->cfg.max_body_bytes)
			return stop_parse(c, 413, "request body too large");
		q->clen = (size_t)p->content_length;
		q->has_clen = 1;
	}
	/* A client that waits for "100 Continue" before its body (curl does past 1 KiB) gets it
	 * now, unless earlier answers are still owed on the connection. */
	const char *expect = q->has_expect ? q->text.p + q->expect_off : NULL;
	if (expect && !strcasecmp(expect, "100-continue") && !c->head)
		rt_stream_write(c->stream, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, NULL);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	hconn *c = p->data;
	hreq *q = c->cur;
	if (len > c->srv->cfg.max_body_bytes - q->body.len) /* chunked bodies end up here */
		return stop_parse(c, 413, "request body too large");
	/* The whole body in this read, at the very end of a runtime buffer (a NUL follows) and
	 * 8-byte aligned: keep a reference instead of a copy. */
	const uint8_t *b = (const uint8_t *)at;
	if (q->has_clen && len == q->clen && !q->body.len && !q->borrow && c->rd_buf &&
	    b >= c->rd_buf->data && b + len == c->rd_buf->data + c->rd_buf->len &&
	    (uintptr_t)b % 8 == 0) {
		q->borrow = rt_buf_ref(c->rd_buf);
		q->bbody = b;
		return 0;
	}
	/* one allocation for a model-sized body */
	if (q->has_clen && !q->body.cap && http_buf_reserve(&q->body, q->clen))
		return stop_parse(c, 500, "out of memory");
	if (http_buf_add(&q->body, at, len))
		return stop_parse(c, 500, "out of memory");
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	hconn *c = p->data;
	if (req_finalize(c, c->cur))
		return stop_parse(c, 500, "out of memory");
	c->tmode = TM_NONE; /* the timer may run on: it does nothing in TM_NONE */
	/* hand the request over outside llhttp_execute (see the read loop) */
	return HPE_PAUSED;
}

static const llhttp_settings_t srv_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_url_complete = on_url_complete,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- connections ---- */

static void fifo_push(hconn *c, hreq *q)
{
	q->next = NULL;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->nfifo++;
}

/* The connection is going away: requests still with the handler stay valid (without their
 * connection); everything else is freed. */
static void conn_detach_requests(hconn *c)
{
	hreq *q = c->head;
	while (q) {
		hreq *next = q->next;
		if (q->answered)
			req_free(q);
		else
			q->conn = NULL;
		q = next;
	}
	c->head = c->tail = NULL;
	c->nfifo = 0;
	req_free(c->cur);
	c->cur = NULL;
	http_buf_free(&c->in);
}

/* Graceful close started by us; the hconn is freed in on_close. */
static void conn_close(hconn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	rt_timer_stop(c->timer);
	c->tmode = TM_NONE;
	conn_detach_requests(c);
	rt_stream_close(c->stream);
}

static void conn_unlink_free(hconn *c)
{
	http_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	srv->st.open_connections--;
	conn_detach_requests(c);
	rt_timer_free(c->timer);
	free(c);
}

static void conn_arm_idle(hconn *c)
{
	if (c->closing || c->lingering || c->head || c->cur || c->in.len || c->tmode == TM_HEADER)
		return;
	conn_timer_lazy(c, TM_IDLE, c->srv->cfg.idle_timeout_ms);
}

static void conn_kick(hconn *c)
{
	c->tmode = TM_KICK;
	c->armed_ns = 0;
	rt_timer_start(c->timer, 0, 0);
}

/* Send every answer at the head of the FIFO. */
static void conn_flush(hconn *c)
{
	http_server *srv = c->srv;
	while (c->head && c->head->answered && !c->closing) {
		hreq *q = c->head;
		c->head = q->next;
		if (!c->head)
			c->tail = NULL;
		c->nfifo--;
		int wr = q->rb ? rt_stream_write_buf(c->stream, q->rb, 0, q->resp_len, NULL, NULL)
			       : rt_stream_write(c->stream, q->resp, q->resp_len, NULL, NULL);
		if (wr == 0) {
			srv->st.responses++;
			srv->st.bytes_out += q->resp_len;
		}
		int close = q->close_after, linger = q->linger;
		req_free(q);
		if (linger) {
			c->lingering = 1;
			c->tmode = TM_LINGER;
			c->armed_ns = UINT64_MAX;
			rt_timer_start(c->timer, HTTP_LINGER_MS, 0);
		} else if (close) {
			conn_close(c);
		}
	}
	if (c->closing || c->lingering)
		return;
	if (c->in.len && c->nfifo < HTTP_PIPELINE_MAX && !c->in_process && c->tmode == TM_NONE)
		conn_kick(c);
	conn_arm_idle(c);
}

/* Answer a parse failure in pipeline order, then close. */
static void conn_fail(hconn *c, int status, const char *msg)
{
	http_server *srv = c->srv;
	req_free(c->cur);
	c->cur = NULL;
	c->no_parse = 1;
	http_buf_free(&c->in);
	rt_timer_stop(c->timer);
	c->tmode = TM_NONE;
	srv->st.bad_requests++;
	hreq *e = calloc(1, sizeof *e);
	http_buf b = {0}, body = {0};
	if (!e || http_buf_error_json(&body, msg) ||
	    http_buf_response(&b, status, NULL, body.p, body.len, NULL, "close", 0)) {
		free(e);
		http_buf_free(&b);
		http_buf_free(&body);
		conn_close(c);
		return;
	}
	http_buf_free(&body);
	e->resp = http_buf_take(&b, &e->resp_len);
	e->answered = 1;
	e->close_after = 1;
	e->linger = 1;
	fifo_push(c, e);
	conn_flush(c);
}

/* Hand the request that just completed to the handler. Returns 1 when a handler stopped the
 * server (c is gone). */
static int conn_dispatch(hconn *c)
{
	http_server *srv = c->srv;
	hreq *q = c->cur;
	c->cur = NULL;
	if (!q->keep_alive) {
		q->close_after = 1;
		c->no_parse = 1; /* nothing after a closing request is read */
	}
	fifo_push(c, q);
	q->srv = srv;
	q->pnext = srv->pending;
	if (srv->pending)
		srv->pending->pprev = q;
	srv->pending = q;
	srv->st.requests++;
	srv->depth++;
	srv->handler(srv, &q->pub, srv->data);
	srv->depth--;
	if (!srv->depth && srv->stop_deferred) {
		server_free_all(srv);
		return 1;
	}
	return 0;
}

/* Parse data while the pipeline has room. Returns the bytes consumed, or -1 when a handler
 * stopped the server (c is gone). */
static long conn_process(hconn *c, const uint8_t *data, size_t len)
{
	size_t used = 0;
	c->in_process = 1;
	while (used < len && !c->no_parse && !c->closing && c->nfifo < HTTP_PIPELINE_MAX) {
		const char *at = (const char *)data + used;
		llhttp_errno_t e = llhttp_execute(&c->parser, at, len - used);
		if (e == HPE_OK) {
			used = len;
			break;
		}
		if (e == HPE_PAUSED) {
			used += (size_t)(llhttp_get_error_pos(&c->parser) - at);
			llhttp_resume(&c->parser);
			if (conn_dispatch(c))
				return -1;
			continue;
		}
		if (c->err_status)
			conn_fail(c, c->err_status, c->err_msg);
		else
			conn_fail(c, 400, llhttp_get_error_reason(&c->parser) ?
						  llhttp_get_error_reason(&c->parser) : llhttp_errno_name(e));
		break;
	}
	c->in_process = 0;
	return (long)used;
}

/* Keep unparsed input; a client that floods a full pipeline is cut off. */
static int conn_keep_input(hconn *c, const uint8_t *data, size_t len)
{
	const http_server_config *cfg = &c->srv->cfg;
	size_t limit = cfg->max_header_bytes + cfg->max_body_bytes + HTTP_INBUF_SLACK;
	if (c->in.len + len > limit || http_buf_add(&c->in, data, len)) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Parse buffered input. Returns -1 when c is gone. */
static int conn_drain_input(hconn *c)
{
	long used = conn_process(c, (const uint8_t *)c->in.p, c->in.len);
	if (used < 0)
		return -1;
	if (c->closing || c->no_parse) {
		http_buf_free(&c->in);
	} else if (used > 0) {
		memmove(c->in.p, c->in.p + used, c->in.len - (size_t)used);
		c->in.len -= (size_t)used;
		if (!c->in.len)
			http_buf_free(&c->in);
	}
	if (!c->closing) {
		if (c->in.len && c->nfifo < HTTP_PIPELINE_MAX && c->tmode == TM_NONE)
			conn_kick(c);
		conn_arm_idle(c);
	}
	return 0;
}

static void srv_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	hconn *c = data;
	c->srv->st.bytes_in += len;
	if (c->closing || c->no_parse || !len)
		return;
	if (c->in.len) {
		/* earlier bytes wait for room in the pipeline: keep the order */
		if (conn_keep_input(c, buf, len) == 0 && c->nfifo < HTTP_PIPELINE_MAX)
			conn_drain_input(c);
		return;
	}
	c->rd_buf = rt_stream_read_buf(s, buf);
	long used = conn_process(c, buf, len);
	if (used < 0)
		return; /* c is gone */
	c->rd_buf = NULL;
	if ((size_t)used < len && !c->closing && !c->no_parse &&
	    conn_keep_input(c, buf + used, len - (size_t)used))
		return;
	if (!c->closing)
		conn_arm_idle(c);
}

static void srv_on_close(rt_stream *s, int err, void *data)
{
	conn_unlink_free(data);
}

static void conn_on_timer(rt_timer *t, void *data)
{
	hconn *c = data;
	int mode = c->tmode;
	if (mode == TM_HEADER || mode == TM_IDLE) {
		/* armed for an earlier deadline (see conn_timer_lazy): wait for this one */
		uint64_t now = rt_now_ns(c->srv->host);
		if (now < c->deadline_ns) {
			c->armed_ns = c->deadline_ns;
			rt_timer_start(t, (c->deadline_ns - now + 999999) / 1000000, 0);
			return;
		}
	}
	c->tmode = TM_NONE;
	switch (mode) {
	case TM_HEADER:
		conn_fail(c, 408, "request timeout");
		break;
	case TM_IDLE:
	case TM_LINGER:
		conn_close(c);
		break;
	case TM_KICK:
		if (c->in.len && !c->closing)
			conn_drain_input(c);
		break;
	default:
		break;
	}
}

static void srv_on_accept(rt_listener *l, rt_stream *s, void *data)
{
	http_server *srv = data;
	hconn *c = NULL;
	if (srv->st.open_connections >= srv->cfg.max_connections || !(c = calloc(1, sizeof *c)) ||
	    !(c->timer = rt_timer_new(srv->host, conn_on_timer, c))) {
		free(c);
		rt_stream_set_cbs(s, &srv_detached_cbs, NULL);
		rt_stream_close(s);
		return;
	}
	c->srv = srv;
	c->stream = s;
	llhttp_init(&c->parser, HTTP_REQUEST, &srv_settings);
	c->parser.data = c;
	c->prev = srv->conns_tail;
	if (srv->conns_tail)
		srv->conns_tail->next = c;
	else
		srv->conns = c;
	srv->conns_tail = c;
	srv->st.connections_accepted++;
	srv->st.open_connections++;
	rt_stream_set_cbs(s, &srv_stream_cbs, c);
	conn_arm_idle(c);
}

/* ---- server ---- */

int http_server_start(rt_host *h, const char *ip, uint16_t port, const http_server_config *cfg,
		      http_handler handler, void *data, http_server **out)
{
	if (!h || !handler || !out)
		return RT_EINVAL;
	http_server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return RT_ENOMEM;
	srv->host = h;
	srv->handler = handler;
	srv->data = data;
	if (cfg)
		srv->cfg = *cfg;
	if (!srv->cfg.max_header_bytes)
		srv->cfg.max_header_bytes = 16 * 1024;
	if (!srv->cfg.max_body_bytes)
		srv->cfg.max_body_bytes = 1024 * 1024;
	if (!srv->cfg.header_timeout_ms)
		srv->cfg.header_timeout_ms = 10000;
	if (!srv->cfg.idle_timeout_ms)
		srv->cfg.idle_timeout_ms = 60000;
	if (!srv->cfg.max_connections)
		srv->cfg.max_connections = 10000;
	int rc = rt_listen(h, ip, port, srv_on_accept, srv, &srv->listener);
	if (rc) {
		free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

static void server_free_all(http_server *srv)
{
	rt_listener_close(srv->listener);
	while (srv->conns) {
		hconn *c = srv->conns;
		rt_stream_set_cbs(c->stream, &srv_detached_cbs, NULL);
		if (!c->closing)
			rt_stream_close(c->stream);
		conn_unlink_free(c);
	}
	/* requests the handlers still hold go with the server (see http.h) */
	while (srv->pending)
		req_free(srv->pending);
	free(srv);
}

void http_server_stop(http_server *srv)
{
	if (!srv)
		return;
	if (srv->depth) {
		/* inside a handler: the read loop finishes the stop once the handler returns */
		srv->stop_deferred = 1;
		return;
	}
	server_free_all(srv);
}

uint16_t http_server_port(const http_server *srv)
{
	return srv ? rt_listener_port(srv->listener) : 0;
}

void http_server_get_stats(const http_server *srv, http_server_stats *st)
{
	if (srv && st)
		*st = srv->st;
}

/* ---- responses ---- */

int http_respond(http_request *r, int status, const char *content_type, const void *body,
		 size_t body_len, const char *extra_headers)
{
	if (!r)
		return RT_EINVAL;
	hreq *q = (hreq *)r;
	hconn *c = q->conn;
	req_unlink_pending(q);
	if (!c) {
		req_free(q);
		return RT_ECLOSED;
	}
	if (status < 100 || status > 999)
		status = 500;
	if (!body)
		body_len = 0;
	const char *connection = q->close_after ? "close" : q->http10 ? "keep-alive" : NULL;
	/* The answer at the head of the FIFO leaves at once (conn_flush sends it before anything
	 * else): build it on the stack when it is small. Later ones wait, in their own buffer. */
	char sbuf[4096];
	int now = c->head == q && !c->closing;
	size_t cap = now ? sizeof sbuf : 0;
	size_t n = http_response_format(now ? sbuf : NULL, cap, status, content_type, body,
					body_len, extra_headers, connection, q->is_head);
	char *out = n && n <= cap ? sbuf : NULL;
	rt_buf *rb = NULL;
	if (n && !out && (rb = rt_buf_new(n)) != NULL) {
		out = (char *)rb->data;
		http_response_format(out, n, status, content_type, body, body_len, extra_headers,
				     connection, q->is_head);
	}
	if (!out) {
		/* cannot answer in order any more: give the connection up */
		q->answered = 1;
		conn_close(c);
		return RT_ENOMEM;
	}
	q->resp = out;
	q->resp_len = n;
	q->rb = rb;
	q->resp_borrowed = out == sbuf;
	q->answered = 1;
	conn_flush(c);
	return 0;
}

int http_respond_error(http_request *r, int status, const char *msg)
{
	if (!r)
		return RT_EINVAL;
	http_buf body = {0};
	if (http_buf_error_json(&body, msg)) {
		http_buf_free(&body);
		return http_respond(r, 500, NULL, NULL, 0, NULL);
	}
	int rc = http_respond(r, status, "application/json", body.p, body.len, NULL);
	http_buf_free(&body);
	return rc;
}
