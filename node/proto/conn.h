/*
 * conn.h — a framed connection over an rt stream: send frames, receive them through a callback.
 *
 * Used by the scheduler and the servers for every inter-node exchange. A protocol error (bad
 * frame) closes the stream and reports it through on_close. The conn owns its stream.
 */
#ifndef FL_CONN_H
#define FL_CONN_H

#include "frame.h"
#include "../rt/rt.h"

typedef struct conn conn;

typedef struct conn_cbs {
	/* Connected (outgoing conns only). */
	void (*on_open)(conn *c, void *data);
	/* One whole frame; valid only during the call. */
	void (*on_frame)(conn *c, const frame *f, void *data);
	/* The conn is gone (err as rt's on_close, or a FRAME_E* code); it is freed after the call. */
	void (*on_close)(conn *c, int err, void *data);
} conn_cbs;

/* Connect to ip:port. The conn is freed after on_close. */
int conn_connect(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
		 const conn_cbs *cbs, void *data, conn **out);
/* Wrap an accepted stream (takes ownership of it). */
int conn_accept(rt_stream *s, const conn_cbs *cbs, void *data, conn **out);
void conn_set_cbs(conn *c, const conn_cbs *cbs, void *data);

/* Send a frame. meta is a NUL-terminated JSON text or NULL; payload may be NULL. Copies both. */
int conn_send(conn *c, uint8_t type, uint16_t flags, const char *meta, const void *payload,
	      size_t payload_len);
size_t conn_queued(const conn *c);
/* Graceful close; on_close(0) follows. */
void conn_close(conn *c);
/* Close gracefully (queued frames still go out) and free the conn now: no callback of it runs
 * any more. For destroy paths, including a node destroyed by a simulated crash, where the runtime
 * delivers no on_close. Safe inside this conn's own callbacks too. */
void conn_free(conn *c);
rt_stream *conn_stream(conn *c);
rt_host *conn_host(conn *c);

#endif
