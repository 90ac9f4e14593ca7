/*
 * http_server_int.h — private to the HTTP server (http_server.c: connections, the pipeline FIFO,
 * timers, responses; http_server_parse.c: llhttp's callbacks that build each request). Not for
 * use outside node/proto/.
 */
#ifndef FL_HTTP_SERVER_INT_H
#define FL_HTTP_SERVER_INT_H

#include "http.h"
#include "http_util.h"
#include "tls.h"

#include "llhttp.h"

#include <stddef.h>
#include <stdint.h>

/* Connection timer modes (see http_server.c's header comment). */
enum { TM_NONE, TM_HEADER, TM_IDLE, TM_KICK, TM_LINGER };

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
	tls_conn *tls;    /* NULL: plain HTTP; else every byte goes through it (hsrv_send) */
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

/* http_server_parse.c: the llhttp callbacks of every connection's parser. */
extern const llhttp_settings_t hsrv_parser_settings;

/* http_server.c, for the parser: free a request (unlinking it from the pending list); enter
 * TM_HEADER or TM_IDLE, due delay_ms from now (lazily: see the definition). */
void hsrv_req_free(hreq *q);
/* Bytes for the peer (copied): written to the stream, or encrypted first on a TLS connection. */
int hsrv_send(hconn *c, const void *buf, size_t len);
void hsrv_timer_lazy(hconn *c, int mode, uint64_t delay_ms);

#endif
