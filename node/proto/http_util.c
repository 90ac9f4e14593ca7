/*
 * http_util.c — buffer, JSON-escape and status-text helpers of the HTTP server and client, and
 * the cJSON-compatible JSON writer http_jw.
 */
#include "http_util.h"
#include "http.h"

#include <float.h>
#include <limits.h>
#include <math.h>
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

static size_t fmt_uint(char *b, unsigned long long v)
{
	char t[24];
	size_t n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		b[i] = t[n - 1 - i];
	return n;
}

size_t http_response_format(char *out, size_t cap, int status, const char *content_type,
			    const void *body, size_t body_len, const char *extra,
			    const char *connection, int omit_body)
{
	/* the same text as http_buf_response's, piece by piece */
	char num[24], clen[24];
	size_t nnum = status < 0 ? 0 : fmt_uint(num, (unsigned long long)status);
	if (status < 0) {
		num[0] = '-';
		nnum = 1 + fmt_uint(num + 1, 0ULL - (unsigned long long)(long long)status);
	}
	size_t nclen = fmt_uint(clen, body_len);
	const char *reason = http_status_text(status);
	const char *ct = content_type ? content_type : "application/json";
	size_t nreason = strlen(reason), nct = strlen(ct);
	size_t nconn = connection ? strlen(connection) : 0;
	size_t nextra = extra ? strlen(extra) : 0;
	int extra_crlf = nextra && (nextra < 2 || strcmp(extra + nextra - 2, "\r\n"));
	size_t nbody = omit_body ? 0 : body_len;
	size_t head = 9 + nnum + 1 + nreason + 2 + 14 + nct + 2 + 16 + nclen + 2 +
		      (connection ? 12 + nconn + 2 : 0) + nextra + (extra_crlf ? 2 : 0) + 2;
	if (nbody > SIZE_MAX - head)
		return 0;
	size_t total = head + nbody;
	if (total > cap || !out)
		return total;
	char *p = out;
#define PUT(s, n) (memcpy(p, (s), (n)), p += (n))
	PUT("HTTP/1.1 ", 9);
	PUT(num, nnum);
	PUT(" ", 1);
	PUT(reason, nreason);
	PUT("\r\nContent-Type: ", 16);
	PUT(ct, nct);
	PUT("\r\nContent-Length: ", 18);
	PUT(clen, nclen);
	PUT("\r\n", 2);
	if (connection) {
		PUT("Connection: ", 12);
		PUT(connection, nconn);
		PUT("\r\n", 2);
	}
	if (nextra)
		PUT(extra, nextra);
	if (extra_crlf)
		PUT("\r\n", 2);
	PUT("\r\n", 2);
	if (nbody)
		PUT(body, nbody);
#undef PUT
	return total;
}

int http_buf_response(http_buf *b, int status, const char *content_type, const void *body,
		      size_t body_len, const char *extra, const char *connection, int omit_body)
{
	size_t n = http_response_format(NULL, 0, status, content_type, body, body_len, extra,
					connection, omit_body);
	if (!n || http_buf_reserve(b, n))
		return RT_ENOMEM;
	http_response_format(b->p + b->len, n, status, content_type, body, body_len, extra,
			     connection, omit_body);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}
int http_buf_request_head(http_buf *b, const char *ip, uint16_t port, const char *method,
			  const char *path, const char *content_type, size_t body_len,
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
	return rc;
}

int http_buf_request(http_buf *b, const char *ip, uint16_t port, const char *method,
		     const char *path, const char *content_type, const void *body, size_t body_len,
		     const char *extra)
{
	int rc = http_buf_request_head(b, ip, port, method, path, content_type, body_len, extra);
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

/* ---- http_jw ---- */

void http_jw_init(http_jw *w, size_t lead)
{
	w->p = w->inl;
	w->cap = sizeof w->inl;
	w->len = lead;
	w->err = 0;
	w->first = 1;
	w->p[lead] = '{';
	w->len++;
}

void http_jw_free(http_jw *w)
{
	if (w->p != w->inl)
		free(w->p);
	w->p = w->inl;
}

char *http_jw_grow(http_jw *w, size_t n)
{
	if (w->err || n > SIZE_MAX / 2 - w->len) {
		w->err = 1;
		return NULL;
	}
	size_t cap = w->cap * 2;
	while (cap - w->len < n)
		cap *= 2;
	char *np = w->p == w->inl ? malloc(cap) : realloc(w->p, cap);
	if (!np) {
		w->err = 1;
		return NULL;
	}
	if (w->p == w->inl)
		memcpy(np, w->inl, w->len);
	w->p = np;
	w->cap = cap;
	return w->p + w->len;
}

void http_jw_add(http_jw *w, const void *b, size_t n)
{
	char *d = http_jw_room(w, n);
	if (d) {
		memcpy(d, b, n);
		w->len += n;
	}
}

void http_jw_ch(http_jw *w, char ch) { http_jw_add(w, &ch, 1); }

/* cJSON's print_string_ptr: quotes, escapes for '"', '\\', \b \f \n \r \t, \u00XX for the other
 * control bytes; everything else (UTF-8 included) as is. */
void http_jw_str(http_jw *w, const char *str)
{
	const unsigned char *in = (const unsigned char *)str;
	http_jw_ch(w, '"');
	for (;;) {
		const unsigned char *run = in;
		while (*in > 31 && *in != '"' && *in != '\\')
			in++;
		http_jw_add(w, run, (size_t)(in - run));
		if (!*in)
			break;
		char e[8] = {'\\', 0};
		size_t n = 2;
		switch (*in) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default: n = (size_t)snprintf(e, sizeof e, "\\u%04x", *in); break;
		}
		http_jw_add(w, e, n);
		in++;
	}
	http_jw_ch(w, '"');
}

/* A member's key: keys are this file's literals, which need no escapes. */
void http_jw_key(http_jw *w, const char *key)
{
	size_t n = strlen(key);
	char *d = http_jw_room(w, n + 4);
	if (!d)
		return;
	if (!w->first)
		*d++ = ',';
	w->first = 0;
	*d++ = '"';
	memcpy(d, key, n);
	d += n;
	*d++ = '"';
	*d++ = ':';
	w->len = (size_t)(d - w->p);
}

static void jw_int(http_jw *w, long long v)
{
	char b[24], *e = b + sizeof b, *q = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	http_jw_add(w, q, (size_t)(e - q));
}

/*
 * "%1.15g" of d without printf, for what it can do exactly: 1e-4 <= |d| < 1e15 (fixed notation
 * under %g) when some decimal of at most 15 significant digits reads back as d exactly. That
 * decimal is then what %.15g prints (d lies within half an ulp of it, far less than half a unit
 * of its 15th digit), and cJSON keeps it (it reads back). Returns the length, or 0: use printf.
 */
static int fmt_g15_fast(double d, char *b)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
				      1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19 };
	double a = fabs(d);
	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (int f = 0; f < 20; f++) {
		double sc = a * p10[f];
		if (sc >= 1e15)
			return 0;
		double n = nearbyint(sc);
		if (n / p10[f] != a)
			continue;
		/* digits of n, with a point f digits from the right, trailing fraction zeros cut */
		char t[24];
		int nd = 0;
		unsigned long long u = (unsigned long long)n;
		do {
			t[nd++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		int lo = 0; /* t[lo] is the lowest digit kept */
		while (f > 0 && t[lo] == '0') {
			lo++;
			f--;
		}
		while (nd <= f) /* 0.0ddd: leading zeros */
			t[nd++] = '0';
		int len = 0;
		if (d < 0)
			b[len++] = '-';
		for (int i = nd - 1; i >= lo; i--) {
			if (i == lo + f - 1)
				b[len++] = '.';
			b[len++] = t[i];
		}
		b[len] = '\0';
		return len;
	}
	return 0;
}

/* cJSON's print_number: null for NaN and infinities; "%d" when the value equals its int
 * (cJSON's valueint saturates at INT_MIN/INT_MAX); else "%1.15g" when that reads back within
 * cJSON's compare_double tolerance, "%1.17g" when not. */
void http_jw_num(http_jw *w, double d)
{
	if (isnan(d) || isinf(d)) {
		http_jw_add(w, "null", 4);
		return;
	}
	if (d == 0 && signbit(d)) {
		http_jw_add(w, "-0", 2); /* as cJSON, which prints negative zero through "%1.15g" */
		return;
	}
	int vi = d >= (double)INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
	if (d == (double)vi) {
		jw_int(w, vi);
		return;
	}
	char b[32];
	int n = fmt_g15_fast(d, b);
	if (n) {
		http_jw_add(w, b, (size_t)n);
		return;
	}
	n = snprintf(b, sizeof b, "%1.15g", d);
	double t = strtod(b, NULL);
	double mx = fabs(t) > fabs(d) ? fabs(t) : fabs(d);
	if (!(fabs(t - d) <= mx * DBL_EPSILON))
		n = snprintf(b, sizeof b, "%1.17g", d);
	http_jw_add(w, b, (size_t)n);
}

void http_jw_knum(http_jw *w, const char *key, double d)
{
	http_jw_key(w, key);
	http_jw_num(w, d);
}

void http_jw_kstr(http_jw *w, const char *key, const char *v)
{
	http_jw_key(w, key);
	http_jw_str(w, v);
}
