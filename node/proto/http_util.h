/*
 * http_util.h — small helpers shared by the HTTP server and client (http_server.c,
 * http_client.c): a growable byte buffer, JSON string escaping, header-value trimming.
 * Not part of the public HTTP API (node code includes http.h).
 */
#ifndef FL_HTTP_UTIL_H
#define FL_HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A growable byte buffer, always NUL-terminated one past len once anything was added (so text
 * and bodies can be handed out as C strings). The buffer owns p (malloc'd); http_buf_free
 * releases it, http_buf_take hands it to the caller.
 */
typedef struct http_buf {
	char *p;
	size_t len, cap;
} http_buf;

/* Make room for `extra` more bytes (plus the NUL). 0 or RT_ENOMEM. */
int http_buf_reserve(http_buf *b, size_t extra);
/* Append bytes. 0 or RT_ENOMEM. */
int http_buf_add(http_buf *b, const void *data, size_t len);
int http_buf_adds(http_buf *b, const char *s);
/* Append printf-formatted text. 0, RT_ENOMEM or RT_EINVAL (format error). */
int http_buf_addf(http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Give the bytes to the caller (who frees them); the buffer is empty afterwards. Never NULL
 * unless allocation fails: an empty buffer yields a fresh 1-byte "" allocation. */
char *http_buf_take(http_buf *b, size_t *len);
void http_buf_free(http_buf *b);

/* Append s as the contents of a JSON string (no quotes), escaping '"', '\\' and control bytes. */
int http_buf_add_json(http_buf *b, const char *s);

/* Build {"error_message": "<msg escaped>", "code": "1"} into b. */
int http_buf_error_json(http_buf *b, const char *msg);

/* Append extra header lines (NULL or "" for none), adding the final CRLF when missing. */
int http_buf_add_extra(http_buf *b, const char *extra);

/* A whole response: status line, Content-Type (NULL = application/json), Content-Length, a
 * Connection header when `connection` is not NULL ("close", "keep-alive"), extra lines, the
 * blank line, then the body unless omit_body (answers to HEAD keep only the length). */
int http_buf_response(http_buf *b, int status, const char *content_type, const void *body,
		      size_t body_len, const char *extra, const char *connection, int omit_body);

/* A whole request with Host, Content-Type when given, Content-Length (left out only for a
 * GET or HEAD without a body), extra lines, then the body. */
int http_buf_request(http_buf *b, const char *ip, uint16_t port, const char *method,
		     const char *path, const char *content_type, const void *body, size_t body_len,
		     const char *extra);

#endif
