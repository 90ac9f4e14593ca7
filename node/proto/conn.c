/*
 * conn.c — a framed connection over an rt stream (see conn.h).
 *
 * Lifetime: the conn lives exactly as long as its stream. rt calls the stream's on_close once,
 * last, and never inline; the conn reports it to its user and frees itself there. So a user may
 * call conn_close (or conn_send) from any conn callback, including on_frame, without the conn
 * vanishing under the decoder that is running the callback.
 *
 * Buffers: rt_stream_write copies what it is given, so conn_send hands it the caller's payload
 * directly (one copy, made by rt) unless the payload is small enough that one combined write is
 * cheaper than two.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* Payloads up to this size go out in the same write as the header (one rt write, one event). */
#define CONN_COMBINE_MAX (64u * 1024)
/* Header + meta up to this size are assembled on the stack. */
#define CONN_STACK_BUF 4096

struct conn {
	rt_stream *s;
	const conn_cbs *cbs;
	void *data;
	frame_decoder dec;
	int closing; /* conn_close, a protocol error or on_close: no more frames reach the user */
	int err;     /* the FRAME_E* that made the conn close itself; reported instead of rt's */
	int depth;   /* > 0 while one of our callbacks runs: conn_free then defers the free */
	int freed;   /* conn_free was called inside a callback */
};

static void conn_release(conn *c)
{
	frame_decoder_free(&c->dec);
	free(c);
}


static void conn_on_connect(rt_stream *s, void *data)
{
	conn *c = data;
	(void)s;
	if (c->closing || !c->cbs || !c->cbs->on_open)
		return;
	c->depth++;
	c->cbs->on_open(c, c->data);
	if (--c->depth == 0 && c->freed)
		conn_release(c);
}

static int conn_deliver(const frame *f, void *data)
{
	conn *c = data;
	if (c->cbs && c->cbs->on_frame)
		c->cbs->on_frame(c, f, c->data);
	/* The user closed the conn inside on_frame: the rest of this read is not delivered. */
	return c->closing;
}

static void conn_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	conn *c = data;
	(void)s;
	if (c->closing)
		return;
	c->depth++;
	int err = frame_decoder_feed(&c->dec, buf, len, conn_deliver, c);
	if (--c->depth == 0 && c->freed) {
		conn_release(c);
		return;
	}
	if (err && err != FRAME_ESTOPPED) {
		/* The byte stream has no frame boundary left to resynchronise on: close it. */
		c->err = err;
		c->closing = 1;
		rt_stream_close(c->s);
	}
}

static void conn_on_close(rt_stream *s, int err, void *data)
{
	conn *c = data;
	(void)s;
	c->closing = 1;
	if (c->err)
		err = c->err;
	c->depth++;
	if (c->cbs && c->cbs->on_close && !c->freed)
		c->cbs->on_close(c, err, c->data);
	conn_release(c);
}

static const rt_stream_cbs conn_stream_cbs = {
	.on_connect = conn_on_connect,
	.on_read = conn_on_read,
	.on_close = conn_on_close,
};

/* For a stream accepted when no conn could be allocated: it is closed and nothing listens. */
static const rt_stream_cbs conn_orphan_cbs = {0};

static conn *conn_new(const conn_cbs *cbs, void *data)
{
	conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cbs = cbs;
	c->data = data;
	frame_decoder_init(&c->dec, FRAME_DEFAULT_MAX_META, FRAME_DEFAULT_MAX_PAYLOAD);
	return c;
}

int conn_connect(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
		 const conn_cbs *cbs, void *data, conn **out)
{
	if (!h || !ip || !cbs || !out)
		return RT_EINVAL;
	conn *c = conn_new(cbs, data);
	if (!c)
		return RT_ENOMEM;
	int err = rt_connect(h, ip, port, timeout_ms, &conn_stream_cbs, c, &c->s);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

int conn_accept(rt_stream *s, const conn_cbs *cbs, void *data, conn **out)
{
	if (!s)
		return RT_EINVAL;
	if (!cbs || !out) {
		/* We own the stream either way; don't leave it dangling. */
		rt_stream_set_cbs(s, &conn_orphan_cbs, NULL);
		rt_stream_close(s);
		return RT_EINVAL;
	}
	conn *c = conn_new(cbs, data);
	if (!c) {
		rt_stream_set_cbs(s, &conn_orphan_cbs, NULL);
		rt_stream_close(s);
		return RT_ENOMEM;
	}
	c->s = s;
	rt_stream_set_cbs(s, &conn_stream_cbs, c);
	*out = c;
	return 0;
}

void conn_set_cbs(conn *c, const conn_cbs *cbs, void *data)
{
	if (!c)
		return;
	c->cbs = cbs;
	c->data = data;
}

int conn_send(conn *c, uint8_t type, uint16_t flags, const char *meta, const void *payload,
	      size_t payload_len)
{
	if (!c || (!payload && payload_len))
		return RT_EINVAL;
	if (c->closing)
		return RT_ECLOSED;
	size_t meta_len = meta ? strlen(meta) : 0;
	/* Both ends decode with the default limits: refuse here what the peer would refuse, rather
	 * than have it drop the connection. */
	if (meta_len > FRAME_DEFAULT_MAX_META || payload_len > FRAME_DEFAULT_MAX_PAYLOAD)
		return FRAME_ETOOBIG;

	int combine = payload_len <= CONN_COMBINE_MAX;
	size_t first = FRAME_HDR_LEN + meta_len + (combine ? payload_len : 0);
	uint8_t stack[CONN_STACK_BUF];
	uint8_t *buf = stack;
	if (first > sizeof stack) {
		buf = malloc(first);
		if (!buf)
			return RT_ENOMEM;
	}
	frame_header(buf, type, flags, meta_len, payload_len);
	if (meta_len)
		memcpy(buf + FRAME_HDR_LEN, meta, meta_len);
	if (combine && payload_len)
		memcpy(buf + FRAME_HDR_LEN + meta_len, payload, payload_len);
	int err = rt_stream_write(c->s, buf, first, NULL, NULL);
	if (buf != stack)
		free(buf);
	if (err || combine || !payload_len)
		return err;
	err = rt_stream_write(c->s, payload, payload_len, NULL, NULL);
	if (err) {
		/* The header is queued without its payload: the peer would misparse whatever came
		 * next, so the stream cannot be used any more. */
		c->closing = 1;
		rt_stream_reset(c->s);
	}
	return err;
}

size_t conn_queued(const conn *c) { return c ? rt_stream_queued(c->s) : 0; }

void conn_close(conn *c)
{
	if (!c || c->closing)
		return;
	c->closing = 1;
	rt_stream_close(c->s);
}

void conn_free(conn *c)
{
	static const rt_stream_cbs detached = {NULL, NULL, NULL};
	if (!c)
		return;
	/* Detach first: on a crashing host the close below frees the stream at once, and otherwise
	 * its on_close (still to come) must find nobody. */
	c->cbs = NULL;
	rt_stream_set_cbs(c->s, &detached, NULL);
	if (!c->closing) {
		c->closing = 1;
		rt_stream_close(c->s);
	}
	if (c->depth > 0)
		c->freed = 1; /* inside one of our callbacks: it frees the conn when it returns */
	else
		conn_release(c);
}

rt_stream *conn_stream(conn *c) { return c ? c->s : NULL; }
rt_host *conn_host(conn *c) { return c ? rt_stream_host(c->s) : NULL; }
