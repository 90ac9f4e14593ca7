/*
 * srv_api_fields.c — see srv_api_fields.h.
 */
#include "srv_api_fields.h"
#include "srv_wire.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int fh_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* A string's contents from p (after its quote): NUL-terminated in place; NULL if unsupported. */
static char *fh_string(char **pp, char *e)
{
	char *p = *pp, *st = p;
	while (p < e && *p != '"') {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '\\')
			return NULL;
		p++;
	}
	if (p >= e)
		return NULL;
	*p = '\0';
	*pp = p + 1;
	return st;
}

/* 0 and *h filled, or -1: decode the general way. */
int srv_fh_parse(const uint8_t *body, size_t len, fhdr *h)
{
	if (len < 4)
		return -1;
	size_t hlen = (size_t)body[0] | ((size_t)body[1] << 8) | ((size_t)body[2] << 16) |
		      ((size_t)body[3] << 24);
	if (hlen > len - 4 || hlen >= FH_BUF)
		return -1;
	memcpy(h->buf, body + 4, hlen);
	char *p = h->buf, *e = h->buf + hlen;
	h->n = 0;
	while (p < e && fh_ws(*p))
		p++;
	if (p >= e || *p++ != '{')
		return -1;
	while (p < e && fh_ws(*p))
		p++;
	if (p < e && *p == '}') {
		p++;
	} else {
		for (;;) {
			if (p >= e || *p++ != '"' || h->n == FH_MAX)
				return -1;
			fh_field *f = &h->f[h->n++];
			if (!(f->k = fh_string(&p, e)) || !strcmp(f->k, "feature_map"))
				return -1;
			while (p < e && fh_ws(*p))
				p++;
			if (p >= e || *p++ != ':')
				return -1;
			while (p < e && fh_ws(*p))
				p++;
			if (p >= e)
				return -1;
			if (*p == '"') {
				p++;
				if (!(f->v = fh_string(&p, e)))
					return -1;
			} else {
				int neg = *p == '-', nd = 0;
				int64_t x = 0;
				if (neg)
					p++;
				while (p < e && *p >= '0' && *p <= '9' && nd < 16) {
					x = x * 10 + (*p++ - '0');
					nd++;
				}
				/* whatever cJSON's number scan would take on with must not follow */
				if (!nd || nd > 15 || (p < e && strchr("0123456789+-.eE", *p) && *p))
					return -1;
				f->v = NULL;
				f->num = neg ? -x : x;
			}
			while (p < e && fh_ws(*p))
				p++;
			if (p < e && *p == ',') {
				p++;
				while (p < e && fh_ws(*p))
					p++;
				continue;
			}
			if (p < e && *p == '}') {
				p++;
				break;
			}
			return -1;
		}
	}
	for (; p < e; p++)
		if (!fh_ws(*p))
			return -1;
	return 0;
}


/* A float field (upload_loss, loss, accuracy): 0 and *out, or -1 when absent or not finite. */
int srv_field_num(const hv *h, const char *key, double *out)
{
	if (h->w) {
		if (!strcmp(key, "upload_loss"))
			*out = h->w->upload_loss;
		else if (!strcmp(key, "loss"))
			*out = h->w->loss;
		else if (!strcmp(key, "accuracy"))
			*out = h->w->accuracy;
		else
			return -1;
		return isfinite(*out) ? 0 : -1;
	}
	const cJSON *v = h->j ? cJSON_GetObjectItemCaseSensitive(h->j, key) : NULL;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return -1;
	*out = v->valuedouble;
	return 0;
}

static const fh_field *fh_get(const fhdr *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->f[i].k, key))
			return &f->f[i];
	return NULL;
}

int srv_field_has(const hv *h, const char *key)
{
	if (h->w)
		return srv_wire_has(h->w, key);
	return h->f ? fh_get(h->f, key) != NULL : cJSON_GetObjectItemCaseSensitive(h->j, key) != NULL;
}

const char *srv_field_str(const hv *h, const char *key)
{
	if (h->w)
		return srv_wire_str(h->w, key);
	if (h->f) {
		const fh_field *f = fh_get(h->f, key);
		return f && f->v && f->v[0] ? f->v : NULL;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(h->j, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int srv_field_int(const hv *h, const char *key, int64_t *out)
{
	const char *str = NULL;

	if (h->w)
		return srv_wire_int(h->w, key, out);
	if (h->f) {
		const fh_field *f = fh_get(h->f, key);
		if (f && !f->v) {
			*out = f->num;
			return 0;
		}
		if (f && f->v[0])
			str = f->v;
	} else {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(h->j, key);
		if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
			*out = (int64_t)v->valuedouble;
			return 0;
		}
		if (cJSON_IsString(v) && v->valuestring[0])
			str = v->valuestring;
	}
	if (str) {
		char *end;
		errno = 0;
		long long x = strtoll(str, &end, 10);
		if (!errno && !*end) {
			*out = x;
			return 0;
		}
	}
	return -1;
}
