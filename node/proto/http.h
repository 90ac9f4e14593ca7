/*
 * http.h — HTTP/1.1 server and client over rt streams, parsed with llhttp.
 *
 * Server: keep-alive, Content-Length bodies (chunked requests are parsed too), pipelined
 * requests answered in order, limits on header and body sizes (413), 400 on malformed requests,
 * a header-read timeout against slow clients. Handlers may answer later (asynchronously): a
 * request stays alive until http_respond is called on it, exactly once.
 *
 * Client: one request at a time per connection, idle keep-alive connections pooled per
 * destination, any number of concurrent requests.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include "../rt/rt.h"

#include <stddef.h>
#include <stdint.h>

/* ---- server ---------------------------------------------------------------------------------- */

typedef struct http_server http_server;
typedef struct http_request http_request;
typedef struct tls_ctx tls_ctx; /* tls.h */

typedef struct http_server_config {
	size_t max_header_bytes;   /* default 16 KiB; over → 431 and close */
	size_t max_body_bytes;     /* default 1 MiB; over → 413 and close */
	uint64_t header_timeout_ms; /* default 10 s: a request must be read whole within it (408) */
	uint64_t idle_timeout_ms;  /* default 60 s: a keep-alive connection with nothing to do closes */
	size_t max_connections;    /* default 10000; past it a new connection gets a 503 and is closed */
	tls_ctx *tls;              /* NULL: plain HTTP; else a server tls_ctx (borrowed; it must
				    * outlive the server): every connection speaks HTTPS */
} http_server_config;

/* The request as parsed. All pointers are owned by the request and valid until http_respond. */
struct http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* the path without the query string, e.g. "/startFLJob" */
	const char *query;  /* after '?', or "" */
	const uint8_t *body; /* body_len bytes, NUL-terminated one past the end; 8-byte aligned */
	size_t body_len;
	const char *peer_ip;
	uint16_t peer_port;
	void *user; /* free for the handler's use */
};

/* Look a header up by name (case-insensitive); NULL when absent. */
const char *http_request_header(const http_request *r, const char *name);

/* Called once per request. The handler must eventually call http_respond(r, ...) once. */
typedef void (*http_handler)(http_server *srv, http_request *r, void *data);

/* Listen on ip:port (ip NULL = the host's address). cfg may be NULL for the defaults. */
int http_server_start(rt_host *h, const char *ip, uint16_t port, const http_server_config *cfg,
		      http_handler handler, void *data, http_server **out);
/* Close the listener and every connection; requests not yet answered are freed (a later
 * http_respond on them is not allowed: stop only from outside handlers' pending work). Called
 * from inside a handler, the stop completes when that handler returns. */
void http_server_stop(http_server *srv);
uint16_t http_server_port(const http_server *srv);

/*
 * Answer a request: status code, content type (NULL = "application/json"), body (copied).
 * Frees the request. If its connection is already gone, this only frees it and returns
 * RT_ECLOSED. extra_headers: NULL or lines like "Retry-After: 1\r\n" (copied).
 */
int http_respond(http_request *r, int status, const char *content_type, const void *body,
		 size_t body_len, const char *extra_headers);
/* Convenience: a JSON error body {"error_message": msg, "code": "1"}. */
int http_respond_error(http_request *r, int status, const char *msg);

/* Counters for /metrics and tests. */
typedef struct http_server_stats {
	uint64_t connections_accepted, requests, responses, bad_requests, bytes_in, bytes_out;
	uint64_t refused_full; /* connections answered 503 past max_connections */
	uint64_t tls_failures; /* TLS connections dropped for a failed handshake or a bad record */
	size_t open_connections;
} http_server_stats;
void http_server_get_stats(const http_server *srv, http_server_stats *st);

/* ---- client ---------------------------------------------------------------------------------- */

typedef struct http_client http_client;

typedef struct http_response {
	int status;          /* HTTP status, e.g. 200 */
	const uint8_t *body; /* valid only during the callback; NUL-terminated past body_len */
	size_t body_len;
	/* The request's body as it was sent, valid only during the callback, 8-byte aligned (so a
	 * caller can look at what it sent without keeping a copy of it). */
	const uint8_t *req_body;
	size_t req_body_len;
} http_response;

/* err is 0 with a response, or a negative RT_E* code (refused, reset, timeout) with resp NULL. */
typedef void (*http_client_cb)(int err, const http_response *resp, void *data);

typedef struct http_client_config {
	size_t max_idle_per_dest;  /* default 4 */
	size_t max_body_bytes;     /* default 256 MiB */
	uint64_t connect_timeout_ms; /* default 5 s */
} http_client_config;

int http_client_new(rt_host *h, const http_client_config *cfg, http_client **out);
/* Cancels outstanding requests and frees. Their callbacks get RT_ECANCELED synchronously,
 * inside this call, in issue order (so nothing reaches the owner after it returns); requests
 * issued from those callbacks fail with RT_ECLOSED. */
void http_client_free(http_client *c);

/*
 * Send one request. body is copied. timeout_ms bounds the whole exchange (0 = 30 s). cb is called
 * exactly once, never inline. extra_headers: NULL or "Name: value\r\n" lines.
 */
int http_client_request(http_client *c, const char *ip, uint16_t port, const char *method,
			const char *path, const char *content_type, const void *body,
			size_t body_len, const char *extra_headers, uint64_t timeout_ms,
			http_client_cb cb, void *data);

/*
 * The same with a body written in place: fill(dst, body_len, fill_data) is called once, inside
 * this call, to write the body_len bytes straight into the request's own buffer (no copy of a
 * big body on the caller's side). fill returns 0, or a negative code that fails the call.
 */
typedef int (*http_body_fill)(uint8_t *dst, size_t len, void *fill_data);
int http_client_request_fill(http_client *c, const char *ip, uint16_t port, const char *method,
			     const char *path, const char *content_type, size_t body_len,
			     http_body_fill fill, void *fill_data, const char *extra_headers,
			     uint64_t timeout_ms, http_client_cb cb, void *data);

/* The reason phrase for a status code ("OK", "Not Found", ...). */
const char *http_status_text(int status);

#endif
