/*
 * http_util.c — buffer, JSON-escape and status-text helpers of the HTTP server and client.
 */
#include "http_util.h"
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int http_buf_reserve(http_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return RT_ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return RT_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int http_buf_add(http_buf *b, const void *data, size_t len)
{
	if (http_buf_reserve(b, len))
		return RT_ENOMEM;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int http_buf_adds(http_buf *b, const char *s)
{
	return http_buf_add(b, s, strlen(s));
}

int http_buf_addf(http_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RT_EINVAL;
	if (http_buf_reserve(b, (size_t)n))
		return RT_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *http_buf_take(http_buf *b, size_t *len)
{
	char *p = b->p;
	if (!p) {
		p = malloc(1);
		if (p)
			p[0] = '\0';
	}
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void http_buf_free(http_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int http_buf_add_json(http_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			rc = http_buf_add(b, e, 2);
		} else if (*p < 0x20) {
			rc = http_buf_addf(b, "\\u%04x", *p);
		} else {
			rc = http_buf_add(b, p, 1);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int http_buf_error_json(http_buf *b, const char *msg)
{
	if (http_buf_adds(b, "{\"error_message\": \"") || http_buf_add_json(b, msg ? msg : "") ||
	    http_buf_adds(b, "\", \"code\": \"1\"}"))
		return RT_ENOMEM;
	return 0;
}

int http_buf_add_extra(http_buf *b, const char *extra)
{
	if (!extra || !*extra)
		return 0;
	size_t n = strlen(extra);
	int rc = http_buf_add(b, extra, n);
	if (!rc && (n < 2 || strcmp(extra + n - 2, "\r\n")))
		rc = http_buf_adds(b, "\r\n");
	return rc;
}

int http_buf_response(http_buf *b, int status, const char *content_type, const void *body,
		      size_t body_len, const char *extra, const char *connection, int omit_body)
{
	int rc = http_buf_addf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
			       status, http_status_text(status),
			       content_type ? content_type : "application/json", body_len);
	if (!rc && connection)
		rc = http_buf_addf(b, "Connection: %s\r\n", connection);
	if (!rc)
		rc = http_buf_add_extra(b, extra);
	if (!rc)
		rc = http_buf_adds(b, "\r\n");
	if (!rc && !omit_body)
		rc = http_buf_add(b, body, body_len);
	return rc;
}

int http_buf_request(http_buf *b, const char *ip, uint16_t port, const char *method,
		     const char *path, const char *content_type, const void *body, size_t body_len,
		     const char *extra)
{
	int rc = http_buf_addf(b, "%s %s HTTP/1.1\r\nHost: %s:%u\r\n", method, path, ip, port);
	if (!rc && content_type)
		rc = http_buf_addf(b, "Content-Type: %s\r\n", content_type);
	if (!rc && (body_len || (strcmp(method, "GET") && strcmp(method, "HEAD"))))
		rc = http_buf_addf(b, "Content-Length: %zu\r\n", body_len);
	if (!rc)
		rc = http_buf_add_extra(b, extra);
	if (!rc)
		rc = http_buf_adds(b, "\r\n");
	if (!rc)
		rc = http_buf_add(b, body, body_len);
	return rc;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: break;
	}
	if (status >= 100 && status < 200)
		return "Informational";
	if (status >= 200 && status < 300)
		return "Success";
	if (status >= 300 && status < 400)
		return "Redirection";
	if (status >= 400 && status < 500)
		return "Client Error";
	if (status >= 500 && status < 600)
		return "Server Error";
	return "Unknown";
}
