/*
 * live_http.h — the little HTTP a live run needs from its own side: blocking requests with a
 * deadline (management API, /metrics, getModel, the netem control API) and a one-route server
 * (the fleet's discovery relay). Plain sockets and poll(); HTTP/1.1 with Content-Length (or the
 * body up to the close), one request per connection.
 */
#ifndef FL_LIVE_HTTP_H
#define FL_LIVE_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lh_resp {
	int status;   /* HTTP status */
	char *body;   /* malloc'd, NUL-terminated (also for binary bodies), owned by the caller */
	size_t len;
} lh_resp;

/*
 * One request to ip:port, answered within timeout_ms. 0 with *out filled (free it with
 * lh_resp_free), or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO for a malformed answer).
 * body may be NULL when len is 0; ctype may be NULL.
 */
int lh_request(const char *ip, uint16_t port, const char *method, const char *path, const char *ctype,
	       const void *body, size_t len, int timeout_ms, lh_resp *out);
void lh_resp_free(lh_resp *r);

/* A non-blocking listening socket on ip (port 0: any); *port gets the port. fd or -errno. */
int lh_listen(const char *ip, uint16_t *port);
/*
 * Answer every connection waiting on the listener: read the request head (at most 200 ms each),
 * answer `status` with the JSON `body` (borrowed), close. Returns how many were answered.
 */
int lh_serve(int listen_fd, int status, const char *body);

#endif
