/*
 * http_server_parse.c — the request half of http_server.c: llhttp's callbacks build one request
 * (URL, headers, body) in the hreq's own buffers, enforce the header and body limits, and pause
 * the parser at the end of each request; http_server.c's read loop takes it from there. Called
 * only by llhttp (through hsrv_parser_settings); it reaches the connection side only through
 * http_server_int.h (hsrv_req_free, hsrv_timer_lazy).
 */
#include "http_server_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	hsrv_req_free(c->cur);
	c->cur = q;
	c->hdr_bytes = 0;
	hsrv_timer_lazy(c, TM_HEADER, c->srv->cfg.header_timeout_ms);
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
		hsrv_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
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

const llhttp_settings_t hsrv_parser_settings = {
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
