/*
 * http_server.c — the HTTP/1.1 server of http.h over rt streams: connections, the pipeline FIFO,
 * timers and responses. Requests are parsed with llhttp by http_server_parse.c (its callbacks);
 * the two share http_server_int.h.
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
 * HEADER and IDLE are armed lazily (hsrv_timer_lazy): a busy connection does not restart its
 * timer per request.
 */
#include "http_server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HTTP_PIPELINE_MAX = 32 };
/* After an error answer the connection stays open this long, reading and dropping input, so
 * that the peer reads the answer before the close: closing a TCP socket with unread input
 * resets it, and the reset can destroy the answer in flight. */
enum { HTTP_LINGER_MS = 1000 };
/* Unparsed input kept while the pipeline is full, beyond one maximal request: a client that
 * sends more without reading answers is cut off. */
enum { HTTP_INBUF_SLACK = 64 * 1024 };

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

/* the parser (http_server_parse.c) frees a request it replaces with this */
void hsrv_req_free(hreq *q) { req_free(q); }

/* ---- connection timer ---- */

/*
 * Enter TM_HEADER or TM_IDLE, due delay_ms from now. Every request enters both, so the timer is
 * not restarted (nor stopped at the end of a request) when it already fires no later than the
 * new deadline: conn_on_timer then finds the deadline not yet due and waits for the rest.
 */
void hsrv_timer_lazy(hconn *c, int mode, uint64_t delay_ms)
{
	uint64_t deadline = rt_now_ns(c->srv->host) + delay_ms * 1000000;
	c->tmode = mode;
	c->deadline_ns = deadline;
	if (rt_timer_active(c->timer) && c->armed_ns <= deadline)
		return;
	c->armed_ns = deadline;
	rt_timer_start(c->timer, delay_ms, 0);
}

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
	tls_conn_shutdown(c->tls); /* close_notify before the FIN (NULL: plain) */
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
	tls_conn_free(c->tls);
	free(c);
}

static void conn_arm_idle(hconn *c)
{
	if (c->closing || c->lingering || c->head || c->cur || c->in.len || c->tmode == TM_HEADER)
		return;
	hsrv_timer_lazy(c, TM_IDLE, c->srv->cfg.idle_timeout_ms);
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
		int wr = q->rb && !c->tls ? rt_stream_write_buf(c->stream, q->rb, 0, q->resp_len, NULL, NULL)
					  : hsrv_send(c, q->resp, q->resp_len);
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

/* Plaintext bytes from the peer (rb: the runtime buffer under them, or NULL). */
static void conn_input(hconn *c, const uint8_t *buf, size_t len, rt_buf *rb)
{
	if (c->closing || c->no_parse || !len)
		return;
	if (c->in.len) {
		/* earlier bytes wait for room in the pipeline: keep the order */
		if (conn_keep_input(c, buf, len) == 0 && c->nfifo < HTTP_PIPELINE_MAX)
			conn_drain_input(c);
		return;
	}
	c->rd_buf = rb;
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

int hsrv_send(hconn *c, const void *buf, size_t len)
{
	if (c->tls)
		return tls_conn_write(c->tls, buf, len);
	return rt_stream_write(c->stream, buf, len, NULL, NULL);
}

/* tls_io: ciphertext to the stream, plaintext into the parser. */
static int tls_to_stream(void *data, const uint8_t *buf, size_t len)
{
	hconn *c = data;
	return rt_stream_write(c->stream, buf, len, NULL, NULL);
}
static void tls_to_parser(void *data, const uint8_t *buf, size_t len)
{
	conn_input(data, buf, len, NULL);
}
static const tls_io hconn_tls_io = { .send = tls_to_stream, .recv = tls_to_parser };

static void srv_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	hconn *c = data;
	c->srv->st.bytes_in += len;
	if (!c->tls) {
		conn_input(c, buf, len, rt_stream_read_buf(s, buf));
		return;
	}
	if (c->closing)
		return;
	int rc = tls_conn_feed(c->tls, buf, len);
	if (rc == TLS_EGONE || rc == 0)
		return; /* (EGONE: a handler stopped the server; c is gone) */
	/* a failed handshake (wrong CA, no client certificate, not TLS at all) or a bad record:
	 * OpenSSL's alert has gone out; nothing more can be said in plain text */
	c->srv->st.tls_failures++;
	rt_log(c->srv->host, RT_LOG_INFO, "TLS connection from %s:%u dropped: %s",
	       rt_stream_peer_ip(s), (unsigned)rt_stream_peer_port(s), tls_conn_error(c->tls));
	conn_close(c);
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
		/* armed for an earlier deadline (see hsrv_timer_lazy): wait for this one */
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
	int full = srv->st.open_connections >= srv->cfg.max_connections;
	if (full || !(c = calloc(1, sizeof *c)) || !(c->timer = rt_timer_new(srv->host, conn_on_timer, c))) {
		free(c);
		rt_stream_set_cbs(s, &srv_detached_cbs, NULL);
		/* Past the limit the client is told so (then the close), not left guessing; a TLS
		 * client cannot read plain text, so it only sees the close. */
		if (full && !srv->cfg.tls) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				"Content-Type: text/plain\r\nContent-Length: 56\r\nConnection: close\r\n"
				"Retry-After: 1\r\n\r\n"
				"The server has reached its connection limit. Retry later";
			srv->st.refused_full++;
			rt_stream_write(s, busy, sizeof busy - 1, NULL, NULL);
		}
		rt_stream_close(s);
		return;
	}
	c->srv = srv;
	c->stream = s;
	if (srv->cfg.tls && tls_conn_new(srv->cfg.tls, &hconn_tls_io, c, &c->tls)) {
		rt_timer_free(c->timer);
		free(c);
		rt_stream_set_cbs(s, &srv_detached_cbs, NULL);
		rt_stream_close(s);
		return;
	}
	llhttp_init(&c->parser, HTTP_REQUEST, &hsrv_parser_settings);
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
