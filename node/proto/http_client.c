/*
 * http_client.c — the HTTP/1.1 client of http.h over rt streams, parsed with llhttp.
 *
 * A creq is one call of http_client_request; a cconn is one stream. A cconn carries at most one
 * creq at a time. After a complete keep-alive response the cconn goes to the idle pool (at most
 * max_idle_per_dest per ip:port, most recently used first); otherwise it is closed. A request
 * takes an idle cconn for its destination when there is one, a new stream otherwise.
 *
 * Every creq owns a timer: it bounds the whole exchange, and with 0 ms it delivers a failure that
 * happened inside http_client_request, so the callback never runs inline. A cconn is freed in its
 * stream's on_close, which rt always delivers; a cconn we give up on is detached from its creq
 * first, so its late callbacks find nothing to complete.
 */
#include "http.h"
#include "http_util.h"

#include "llhttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cconn cconn;
typedef struct creq creq;

struct creq {
	http_client *c;
	creq *prev, *next; /* the client's outstanding requests, in issue order */
	char ip[16];
	uint16_t port;
	rt_buf *wire;      /* the serialized request from wire_off on (kept for the one retry) */
	size_t wire_off;
	size_t body_off;   /* where its body starts in wire->data (8-byte aligned) */
	http_client_cb cb;
	void *data;
	rt_timer *timer;
	int pending_err;   /* nonzero: the timer delivers this instead of a timeout */
	cconn *conn;
	int retried, is_head;
	/* the response */
	int status, got_bytes, complete, keep_alive, err;
	http_buf body;
	size_t clen;       /* Content-Length, when the response has one (has_clen) */
	int has_clen;
	rt_buf *borrow;    /* the body lies whole in this runtime buffer (no copy): bbody */
	const uint8_t *bbody;
};

struct cconn {
	http_client *c;
	cconn *prev, *next;   /* every stream of the client */
	cconn *iprev, *inext; /* the idle pool */
	rt_stream *s;
	char ip[16];
	uint16_t port;
	llhttp_t parser;
	creq *req;
	rt_buf *rd_buf;       /* inside cli_on_read: the runtime buffer of the bytes parsed */
	size_t dest;          /* index into the client's destinations */
	int idle, closing, reused;
};

/* A destination ip:port and how many of its streams idle in the pool (counted here, not by
 * walking the pool on every response). */
typedef struct cdest {
	char ip[16];
	uint16_t port;
	size_t idle;
} cdest;

struct http_client {
	rt_host *host;
	http_client_config cfg;
	cconn *conns, *idle;
	creq *reqs, *reqs_tail;
	cdest *dests;
	size_t ndests, cap_dests;
	int freeing;
};

static void cli_on_connect(rt_stream *s, void *data);
static void cli_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data);
static void cli_on_close(rt_stream *s, int err, void *data);
static const rt_stream_cbs cli_cbs = {
	.on_connect = cli_on_connect,
	.on_read = cli_on_read,
	.on_close = cli_on_close,
};
static void detached_on_connect(rt_stream *s, void *data) {}
static void detached_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data) {}
static void detached_on_close(rt_stream *s, int err, void *data) {}
static const rt_stream_cbs cli_detached_cbs = {
	.on_connect = detached_on_connect,
	.on_read = detached_on_read,
	.on_close = detached_on_close,
};

/* ---- response parsing ---- */

static void body_reset(creq *q)
{
	http_buf_free(&q->body);
	rt_buf_unref(q->borrow);
	q->borrow = NULL;
	q->bbody = NULL;
	q->has_clen = 0;
}

static int on_message_begin(llhttp_t *p)
{
	cconn *k = p->data;
	body_reset(k->req);
	k->req->status = 0;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	cconn *k = p->data;
	creq *q = k->req;
	q->status = p->status_code;
	if (p->flags & F_CONTENT_LENGTH) {
		if (p->content_length > k->c->cfg.max_body_bytes) {
			q->err = RT_ETOOBIG;
			return -1;
		}
		q->clen = (size_t)p->content_length;
		q->has_clen = 1;
	}
	return q->is_head ? 1 : 0; /* 1: a HEAD response has no body whatever it says */
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	cconn *k = p->data;
	creq *q = k->req;
	if (len > k->c->cfg.max_body_bytes - q->body.len) {
		q->err = RT_ETOOBIG;
		return HPE_USER;
	}
	/* The whole body in one read, at the very end of a runtime buffer (so a NUL follows it, as
	 * http_response promises): keep a reference instead of a copy. */
	const uint8_t *b = (const uint8_t *)at;
	if (q->has_clen && len == q->clen && !q->body.len && !q->borrow && k->rd_buf &&
	    b >= k->rd_buf->data && b + len == k->rd_buf->data + k->rd_buf->len) {
		q->borrow = rt_buf_ref(k->rd_buf);
		q->bbody = b;
		return 0;
	}
	/* one allocation for a model-sized body */
	if (q->has_clen && !q->body.cap && http_buf_reserve(&q->body, q->clen)) {
		q->err = RT_ENOMEM;
		return HPE_USER;
	}
	if (http_buf_add(&q->body, at, len)) {
		q->err = RT_ENOMEM;
		return HPE_USER;
	}
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	cconn *k = p->data;
	creq *q = k->req;
	if (q->status >= 100 && q->status < 200 && q->status != 101)
		return 0; /* an interim response: the real one follows */
	q->complete = 1;
	q->keep_alive = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

static const llhttp_settings_t cli_settings = {
	.on_message_begin = on_message_begin,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- requests ---- */

/* Call the callback and free the request. The caller must not touch the client afterwards:
 * the callback may issue requests or free it. */
static void req_complete(creq *q, int err)
{
	http_client *c = q->c;
	if (q->prev)
		q->prev->next = q->next;
	else
		c->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		c->reqs_tail = q->prev;
	if (q->conn)
		q->conn->req = NULL;
	rt_timer_free(q->timer);
	/* NUL-terminate (the contract): also a body reserved for Content-Length: 0 and never
	 * written, whose first byte is otherwise uninitialized; a borrowed body lies in an rt_buf,
	 * which is NUL-terminated */
	if (!q->borrow)
		http_buf_add(&q->body, "", 0);
	http_response resp = {
		.status = q->status,
		.body = q->borrow ? q->bbody : (const uint8_t *)(q->body.p ? q->body.p : ""),
		.body_len = q->borrow ? q->clen : q->body.len,
		.req_body = q->wire->data + q->body_off,
		.req_body_len = q->wire->len - q->body_off,
	};
	q->cb(err, err ? NULL : &resp, q->data);
	body_reset(q);
	rt_buf_unref(q->wire);
	free(q);
}

/* Report err from the request's timer (never inline in the caller). */
static void req_fail_later(creq *q, int err)
{
	q->pending_err = err;
	rt_timer_start(q->timer, 0, 0);
}

static void conn_idle_remove(cconn *k)
{
	if (!k->idle)
		return;
	if (k->iprev)
		k->iprev->inext = k->inext;
	else
		k->c->idle = k->inext;
	if (k->inext)
		k->inext->iprev = k->iprev;
	k->iprev = k->inext = NULL;
	k->idle = 0;
	k->c->dests[k->dest].idle--;
}

/* Give the stream up; the cconn is freed in on_close. */
static void conn_close(cconn *k)
{
	if (k->closing)
		return;
	k->closing = 1;
	conn_idle_remove(k);
	if (k->req) {
		k->req->conn = NULL;
		k->req = NULL;
	}
	rt_stream_close(k->s);
}

static void conn_unlink_free(cconn *k)
{
	http_client *c = k->c;
	conn_idle_remove(k);
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (k->req)
		k->req->conn = NULL;
	free(k);
}

/* The index of ip:port among the client's destinations (added if new); -1 on ENOMEM. */
static long dest_index(http_client *c, const char *ip, uint16_t port)
{
	for (size_t i = 0; i < c->ndests; i++)
		if (c->dests[i].port == port && !strcmp(c->dests[i].ip, ip))
			return (long)i;
	if (c->ndests == c->cap_dests) {
		size_t cap = c->cap_dests ? 2 * c->cap_dests : 8;
		cdest *d = realloc(c->dests, cap * sizeof *d);
		if (!d)
			return -1;
		c->dests = d;
		c->cap_dests = cap;
	}
	cdest *d = &c->dests[c->ndests];
	snprintf(d->ip, sizeof d->ip, "%s", ip);
	d->port = port;
	d->idle = 0;
	return (long)c->ndests++;
}

static void conn_attach(cconn *k, creq *q)
{
	k->req = q;
	q->conn = k;
	q->got_bytes = q->complete = q->status = 0;
	body_reset(q);
	llhttp_init(&k->parser, HTTP_RESPONSE, &cli_settings);
	k->parser.data = k;
}

static int conn_send(cconn *k)
{
	creq *q = k->req;
	return rt_stream_write_buf(k->s, q->wire, q->wire_off, q->wire->len - q->wire_off, NULL, NULL);
}

/* Put the request on a pooled stream (unless fresh_only) or a new one. */
static void req_start(creq *q, int fresh_only)
{
	http_client *c = q->c;
	cconn *k = NULL;
	long di = dest_index(c, q->ip, q->port);
	if (di < 0) {
		req_fail_later(q, RT_ENOMEM);
		return;
	}
	if (!fresh_only) {
		for (k = c->idle; k; k = k->inext)
			if (k->dest == (size_t)di)
				break;
	}
	if (k) {
		conn_idle_remove(k);
		k->reused = 1;
		conn_attach(k, q);
		int rc = conn_send(k);
		if (rc) {
			conn_close(k);
			req_fail_later(q, rc);
		}
		return;
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		req_fail_later(q, RT_ENOMEM);
		return;
	}
	k->c = c;
	snprintf(k->ip, sizeof k->ip, "%s", q->ip);
	k->port = q->port;
	k->dest = (size_t)di;
	int rc = rt_connect(c->host, q->ip, q->port, c->cfg.connect_timeout_ms, &cli_cbs, k, &k->s);
	if (rc) {
		free(k);
		req_fail_later(q, rc);
		return;
	}
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	conn_attach(k, q);
}

static void req_on_timer(rt_timer *t, void *data)
{
	creq *q = data;
	int err = q->pending_err ? q->pending_err : RT_ETIMEDOUT;
	if (q->conn)
		conn_close(q->conn); /* mid-exchange: the stream cannot be reused */
	req_complete(q, err);
}

/* ---- stream callbacks ---- */

static void cli_on_connect(rt_stream *s, void *data)
{
	cconn *k = data;
	if (!k->req || k->closing)
		return;
	int rc = conn_send(k);
	if (rc) {
		creq *q = k->req;
		conn_close(k);
		rt_timer_stop(q->timer);
		req_fail_later(q, rc);
	}
}

static void cli_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	cconn *k = data;
	creq *q = k->req;
	if (k->closing || !len)
		return;
	if (!q) { /* an idle stream has nothing to say */
		conn_close(k);
		return;
	}
	q->got_bytes = 1;
	k->rd_buf = rt_stream_read_buf(s, buf);
	llhttp_errno_t e = llhttp_execute(&k->parser, (const char *)buf, len);
	k->rd_buf = NULL;
	if (e == HPE_OK)
		return;
	if (e != HPE_PAUSED) {
		int err = q->err ? q->err : RT_EIO;
		conn_close(k);
		req_complete(q, err);
		return;
	}
	size_t used = (size_t)((const uint8_t *)llhttp_get_error_pos(&k->parser) - buf);
	llhttp_resume(&k->parser);
	k->req = NULL;
	q->conn = NULL;
	http_client *c = k->c;
	/* bytes past the response would be an answer to nothing: do not reuse such a stream */
	if (q->keep_alive && used == len && !c->freeing &&
	    c->dests[k->dest].idle < c->cfg.max_idle_per_dest) {
		k->idle = 1;
		c->dests[k->dest].idle++;
		k->iprev = NULL;
		k->inext = c->idle;
		if (c->idle)
			c->idle->iprev = k;
		c->idle = k;
	} else {
		conn_close(k);
	}
	req_complete(q, 0);
}

static void cli_on_close(rt_stream *s, int err, void *data)
{
	cconn *k = data;
	creq *q = k->req;
	if (q && err == RT_EOF && q->got_bytes && !q->complete && !q->err) {
		/* a response delimited by the end of the stream */
		llhttp_finish(&k->parser);
	}
	int reused = k->reused;
	conn_unlink_free(k); /* also detaches q */
	if (!q)
		return;
	if (q->complete) {
		req_complete(q, 0);
	} else if (reused && !q->got_bytes && !q->retried &&
		   (err == RT_EOF || err == RT_ECONNRESET)) {
		/* the server closed the pooled stream while it idled: once more, on a fresh one */
		q->retried = 1;
		req_start(q, 1);
	} else {
		if (q->err)
			err = q->err;
		else if (err == RT_EOF || err == 0)
			err = RT_ECONNRESET; /* closed before a whole response */
		req_complete(q, err);
	}
}

/* ---- client ---- */

int http_client_new(rt_host *h, const http_client_config *cfg, http_client **out)
{
	if (!h || !out)
		return RT_EINVAL;
	http_client *c = calloc(1, sizeof *c);
	if (!c)
		return RT_ENOMEM;
	c->host = h;
	if (cfg)
		c->cfg = *cfg;
	if (!c->cfg.max_idle_per_dest)
		c->cfg.max_idle_per_dest = 4;
	if (!c->cfg.max_body_bytes)
		c->cfg.max_body_bytes = (size_t)256 << 20;
	if (!c->cfg.connect_timeout_ms)
		c->cfg.connect_timeout_ms = 5000;
	*out = c;
	return 0;
}

void http_client_free(http_client *c)
{
	if (!c || c->freeing)
		return;
	c->freeing = 1;
	while (c->conns) {
		cconn *k = c->conns;
		rt_stream_set_cbs(k->s, &cli_detached_cbs, NULL);
		if (!k->closing)
			rt_stream_close(k->s);
		conn_unlink_free(k);
	}
	/* the callbacks run now, in issue order: after free returns nothing may reach the owner */
	while (c->reqs)
		req_complete(c->reqs, RT_ECANCELED);
	free(c->dests);
	free(c);
}

static int token_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* The copy fill of http_client_request. */
typedef struct body_src {
	const void *p;
} body_src;

static int fill_copy(uint8_t *dst, size_t len, void *data)
{
	if (len)
		memcpy(dst, ((body_src *)data)->p, len);
	return 0;
}

int http_client_request(http_client *c, const char *ip, uint16_t port, const char *method,
			const char *path, const char *content_type, const void *body,
			size_t body_len, const char *extra_headers, uint64_t timeout_ms,
			http_client_cb cb, void *data)
{
	if (!body && body_len)
		return RT_EINVAL;
	body_src src = {body};
	return http_client_request_fill(c, ip, port, method, path, content_type, body_len, fill_copy,
					&src, extra_headers, timeout_ms, cb, data);
}

int http_client_request_fill(http_client *c, const char *ip, uint16_t port, const char *method,
			     const char *path, const char *content_type, size_t body_len,
			     http_body_fill fill, void *fill_data, const char *extra_headers,
			     uint64_t timeout_ms, http_client_cb cb, void *data)
{
	if (!c || !ip || strlen(ip) >= 16 || !port || !method || !token_ok(method) || !path ||
	    !token_ok(path) || (content_type && strpbrk(content_type, "\r\n")) ||
	    (!fill && body_len) || !cb)
		return RT_EINVAL;
	if (c->freeing)
		return RT_ECLOSED;
	creq *q = calloc(1, sizeof *q);
	if (!q)
		return RT_ENOMEM;
	/* Head and body in one shared buffer: the runtime passes it on without copying it. The head
	 * starts a few bytes in, so that the body is 8-byte aligned in the buffer: a server on the
	 * same runtime can then use the body in place (http_server.c). The bytes sent are the same. */
	http_buf b = {0};
	size_t pad = 0;
	if (http_buf_request_head(&b, ip, port, method, path, content_type, body_len,
				  extra_headers) ||
	    body_len > SIZE_MAX - b.len - 8 ||
	    !(q->wire = rt_buf_new((pad = (8 - b.len % 8) % 8) + b.len + body_len))) {
		http_buf_free(&b);
		free(q);
		return RT_ENOMEM;
	}
	q->wire_off = pad;
	q->body_off = pad + b.len;
	memset(q->wire->data, 0, pad);
	memcpy(q->wire->data + pad, b.p, b.len);
	int rc = body_len ? fill(q->wire->data + pad + b.len, body_len, fill_data) : 0;
	http_buf_free(&b);
	if (rc || !(q->timer = rt_timer_new(c->host, req_on_timer, q))) {
		rt_buf_unref(q->wire);
		free(q);
		return rc ? rc : RT_ENOMEM;
	}
	q->c = c;
	snprintf(q->ip, sizeof q->ip, "%s", ip);
	q->port = port;
	q->cb = cb;
	q->data = data;
	q->is_head = !strcmp(method, "HEAD");
	q->prev = c->reqs_tail;
	if (c->reqs_tail)
		c->reqs_tail->next = q;
	else
		c->reqs = q;
	c->reqs_tail = q;
	rt_timer_start(q->timer, timeout_ms ? timeout_ms : 30000, 0);
	req_start(q, 0);
	return 0;
}
