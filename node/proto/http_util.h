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

/* The same response as http_buf_response, written into out[0..cap) without allocating.
 * Returns its length; when that is more than cap (out may then be NULL) nothing is written,
 * so call again with a buffer of that size. 0 only if the length overflows size_t. */
size_t http_response_format(char *out, size_t cap, int status, const char *content_type,
			    const void *body, size_t body_len, const char *extra,
			    const char *connection, int omit_body);

/* A request's head: Host, Content-Type when given, Content-Length (left out only for a GET or
 * HEAD without a body), extra lines, the blank line. */
int http_buf_request_head(http_buf *b, const char *ip, uint16_t port, const char *method,
			  const char *path, const char *content_type, size_t body_len,
			  const char *extra);
/* The head, then the body. */
int http_buf_request(http_buf *b, const char *ip, uint16_t port, const char *method,
		     const char *path, const char *content_type, const void *body, size_t body_len,
		     const char *extra);

/*
 * A JSON writer whose text is what cJSON_PrintUnformatted (cJSON 1.7) prints for the same members
 * in the same order: its number format ("%d" for whole values in int range, else "%1.15g" or
 * "%1.17g"; null for NaN and infinities) and string escapes. It writes an object without building
 * a cJSON tree (answers to small requests were mostly that). The text starts `lead` bytes into p,
 * bytes the caller fills in itself (a length prefix); the first JW_INLINE bytes live in the
 * struct (no allocation for small texts). Keys must need no escapes (they are literals). err is
 * set when an allocation failed: the text is then incomplete. http_jw_free releases p.
 */
enum { HTTP_JW_INLINE = 1024 };

typedef struct http_jw {
	char *p; /* inl or malloc'd */
	size_t len, cap;
	int err;
	int first; /* no member written yet in the innermost object or array */
	char inl[HTTP_JW_INLINE];
} http_jw;

/* Start an object ("{") after lead bytes (lead < HTTP_JW_INLINE). */
void http_jw_init(http_jw *w, size_t lead);
void http_jw_free(http_jw *w);
char *http_jw_grow(http_jw *w, size_t n);
/* Room for n more bytes at p + len (the caller advances len), or NULL (err is then set). */
static inline char *http_jw_room(http_jw *w, size_t n)
{
	return n <= w->cap - w->len && !w->err ? w->p + w->len : http_jw_grow(w, n);
}
void http_jw_add(http_jw *w, const void *b, size_t n);
void http_jw_ch(http_jw *w, char ch);
void http_jw_str(http_jw *w, const char *str);   /* a quoted, escaped string */
void http_jw_key(http_jw *w, const char *key);   /* ,"key": (the comma unless first) */
void http_jw_num(http_jw *w, double d);
void http_jw_knum(http_jw *w, const char *key, double d);
void http_jw_kstr(http_jw *w, const char *key, const char *v);

#endif
