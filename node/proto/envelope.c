/*
 * envelope.c — the device-API body (see envelope.h): u32 LE header length, JSON header, float32
 * tensor region.
 *
 * Tensors are passed as raw host floats, which is the wire format only on a little-endian host
 * with IEEE-754 binary32 floats; every target of this project is one (x86-64, arm64), so that is
 * checked at compile time instead of swapping bytes at run time.
 *
 * The encoder pads the JSON header with spaces (valid JSON whitespace) so that the tensor region
 * starts at a multiple of 4 bytes from the start of the buffer: a decoder whose buffer is malloc'd
 * can then read the floats in place.
 */
#include "envelope.h"

#include "../rt/rt.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "envelope tensors are little-endian float32: add byte swaps for this host");
_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24 && FLT_RADIX == 2,
	       "envelope tensors are IEEE-754 binary32");

#define ENV_PREFIX 4

const char *envelope_strerror(int err) { return fl_strerror(err); }

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0 when the n names are pairwise distinct. Sorting (not n² compares) keeps a hostile feature_map
 * of many entries cheap. Returns ENV_EFMAP on a duplicate, ENV_ENOMEM when out of memory. */
static int names_unique(const char **names, size_t n)
{
	if (n < 2)
		return 0;
	const char **v = malloc(n * sizeof *v);
	if (!v)
		return ENV_ENOMEM;
	memcpy(v, names, n * sizeof *v);
	qsort(v, n, sizeof *v, cmp_name);
	int err = 0;
	for (size_t i = 1; i < n && !err; i++)
		if (!strcmp(v[i - 1], v[i]))
			err = ENV_EFMAP;
	free(v);
	return err;
}

/* Build the feature_map for tensors laid out back to back; *total gets the float count. */
static int build_fmap(const env_tensor *t, size_t n, cJSON **out, size_t *total)
{
	const char **names = malloc(n * sizeof *names);
	if (!names)
		return ENV_ENOMEM;
	size_t off = 0;
	int err = 0;
	for (size_t i = 0; i < n && !err; i++) {
		names[i] = t[i].name;
		if (!t[i].name || !t[i].name[0] || (!t[i].data && t[i].count))
			err = ENV_EFMAP;
		/* Offsets travel as JSON numbers (doubles): keep them exact. */
		else if (t[i].count > ((size_t)1 << 53) - off)
			err = ENV_ETOOBIG;
		else
			off += t[i].count;
	}
	if (!err)
		err = names_unique(names, n);
	free(names);
	if (err)
		return err;

	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return ENV_ENOMEM;
	off = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(arr, e) ||
		    !cJSON_AddStringToObject(e, "name", t[i].name) ||
		    !cJSON_AddNumberToObject(e, "offset", (double)off) ||
		    !cJSON_AddNumberToObject(e, "count", (double)t[i].count)) {
			cJSON_Delete(arr);
			return ENV_ENOMEM;
		}
		off += t[i].count;
	}
	*out = arr;
	*total = off;
	return 0;
}

int envelope_encode_head(const cJSON *hdr, const env_tensor *tensors, size_t ntensors,
			 uint8_t **head, size_t *head_len, size_t *total_len)
{
	if (!head || !head_len || !total_len || (!tensors && ntensors))
		return RT_EINVAL;
	if (!cJSON_IsObject(hdr))
		return ENV_EJSON;

	size_t nfloats = 0;
	char *json;
	if (ntensors) {
		cJSON *fmap = NULL;
		int err = build_fmap(tensors, ntensors, &fmap, &nfloats);
		if (err)
			return err;
		cJSON *copy = cJSON_Duplicate(hdr, 1);
		if (!copy) {
			cJSON_Delete(fmap);
			return ENV_ENOMEM;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "feature_map");
		if (!cJSON_AddItemToObject(copy, "feature_map", fmap)) {
			cJSON_Delete(fmap);
			cJSON_Delete(copy);
			return ENV_ENOMEM;
		}
		json = cJSON_PrintUnformatted(copy);
		cJSON_Delete(copy);
	} else {
		json = cJSON_PrintUnformatted(hdr);
	}
	if (!json)
		return ENV_ENOMEM;

	size_t jlen = strlen(json);
	size_t hlen = (jlen + 3) & ~(size_t)3; /* prefix is 4 bytes, so region offset = 4 + hlen */
	if (hlen > UINT32_MAX || nfloats > (SIZE_MAX - ENV_PREFIX - hlen) / sizeof(float)) {
		free(json);
		return ENV_ETOOBIG;
	}
	uint8_t *buf = malloc(ENV_PREFIX + hlen);
	if (!buf) {
		free(json);
		return ENV_ENOMEM;
	}
	buf[0] = (uint8_t)(hlen & 0xff);
	buf[1] = (uint8_t)((hlen >> 8) & 0xff);
	buf[2] = (uint8_t)((hlen >> 16) & 0xff);
	buf[3] = (uint8_t)((hlen >> 24) & 0xff);
	memcpy(buf + ENV_PREFIX, json, jlen);
	memset(buf + ENV_PREFIX + jlen, ' ', hlen - jlen);
	free(json);
	*head = buf;
	*head_len = ENV_PREFIX + hlen;
	*total_len = ENV_PREFIX + hlen + nfloats * sizeof(float);
	return 0;
}

int envelope_encode(const cJSON *hdr, const env_tensor *tensors, size_t ntensors, uint8_t **out,
		    size_t *out_len)
{
	if (!out || !out_len)
		return RT_EINVAL;
	uint8_t *head;
	size_t head_len, total;
	int err = envelope_encode_head(hdr, tensors, ntensors, &head, &head_len, &total);
	if (err)
		return err;
	uint8_t *buf = realloc(head, total);
	if (!buf) {
		free(head);
		return ENV_ENOMEM;
	}
	uint8_t *p = buf + head_len;
	for (size_t i = 0; i < ntensors; i++) {
		if (tensors[i].count)
			memcpy(p, tensors[i].data, tensors[i].count * sizeof(float));
		p += tensors[i].count * sizeof(float);
	}
	*out = buf;
	*out_len = total;
	return 0;
}

/* A JSON number that is a whole value in [0, max]; else -1. */
static int get_index(const cJSON *o, const char *key, size_t max, size_t *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(n))
		return -1;
	double d = n->valuedouble;
	if (!(d >= 0) || d > (double)max) /* !(d >= 0) also catches NaN */
		return -1;
	size_t u = (size_t)d;
	if ((double)u != d || u > max) /* u > max: (double)max may have rounded up */
		return -1;
	*v = u;
	return 0;
}

/* Validate the feature_map against a region of nfloats floats at `region`; fill *out if asked. */
static int parse_fmap(const cJSON *fmap, const uint8_t *region, size_t nfloats,
		      env_tensor **out, size_t *nout)
{
	if (!cJSON_IsArray(fmap))
		return ENV_EFMAP;
	size_t n = (size_t)cJSON_GetArraySize(fmap);
	if (n == 0)
		return 0;
	env_tensor *t = calloc(n, sizeof *t);
	const char **names = malloc(n * sizeof *names);
	if (!t || !names) {
		free(t);
		free(names);
		return ENV_ENOMEM;
	}
	int err = 0;
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, fmap) {
		const cJSON *name =
			cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "name") : NULL;
		size_t off, cnt;
		if (!cJSON_IsString(name) || !name->valuestring[0] ||
		    get_index(e, "offset", nfloats, &off) || get_index(e, "count", nfloats, &cnt) ||
		    cnt > nfloats - off) {
			err = ENV_EFMAP;
			break;
		}
		names[i] = name->valuestring;
		t[i].name = name->valuestring;
		t[i].data = (const float *)(const void *)(region + off * sizeof(float));
		t[i].count = cnt;
		i++;
	}
	if (!err)
		err = names_unique(names, n);
	free(names);
	if (err || !out) {
		free(t);
		return err;
	}
	*out = t;
	*nout = n;
	return 0;
}

int envelope_decode(const uint8_t *buf, size_t len, cJSON **hdr, env_tensor **tensors,
		    size_t *ntensors)
{
	if (!hdr || (!buf && len) || (tensors && !ntensors))
		return RT_EINVAL;
	*hdr = NULL;
	if (tensors)
		*tensors = NULL;
	if (ntensors)
		*ntensors = 0;
	if (len < ENV_PREFIX)
		return ENV_ESHORT;
	size_t hlen = (size_t)buf[0] | ((size_t)buf[1] << 8) | ((size_t)buf[2] << 16) |
		      ((size_t)buf[3] << 24);
	if (hlen > len - ENV_PREFIX)
		return ENV_ESHORT;

	/* Parse exactly the header bytes; only whitespace may follow the JSON value in them. */
	const char *json = (const char *)buf + ENV_PREFIX, *end = NULL;
	cJSON *h = cJSON_ParseWithLengthOpts(json, hlen, &end, 0);
	if (!h)
		return ENV_EJSON;
	for (const char *p = end; p < json + hlen; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			cJSON_Delete(h);
			return ENV_EJSON;
		}
	}
	if (!cJSON_IsObject(h)) {
		cJSON_Delete(h);
		return ENV_EJSON;
	}

	/* Bytes past the last whole float are not addressable by any tensor and are ignored. */
	const uint8_t *region = buf + ENV_PREFIX + hlen;
	size_t nfloats = (len - ENV_PREFIX - hlen) / sizeof(float);
	const cJSON *fmap = cJSON_GetObjectItemCaseSensitive(h, "feature_map");
	if (fmap) {
		size_t n = 0;
		env_tensor *t = NULL;
		int err = parse_fmap(fmap, region, nfloats, tensors ? &t : NULL, &n);
		if (err) {
			cJSON_Delete(h);
			return err;
		}
		if (tensors) {
			*tensors = t;
			*ntensors = n;
		}
	}
	*hdr = h;
	return 0;
}

/* ---- the lean decoder ---- */

/* Digits of a whole number (no sign, no leading zero, at most 15 digits: exact as a double). */
static int lean_uint(const char **pp, const char *end, size_t *v)
{
	const char *p = *pp;
	size_t n = 0, digits = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 16) {
		n = n * 10 + (size_t)(*p - '0');
		p++;
		digits++;
	}
	if (!digits || digits > 15 || (digits > 1 && **pp == '0'))
		return -1;
	*pp = p;
	*v = n;
	return 0;
}

static int lean_lit(const char **pp, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n))
		return -1;
	*pp += n;
	return 0;
}

/*
 * The feature_map of [p, end) in exactly the shape envelope_encode and the servers write:
 * {"name":"...","offset":N,"count":N} entries, names without escapes, then "]}" and padding.
 * Fills a malloc'd array with the names stored after it. -1: not that shape (the caller falls
 * back to the full decoder, which also reports what is wrong with it).
 */
static int lean_fmap(const char *p, const char *end, const uint8_t *region, size_t nfloats,
		     env_tensor **out, size_t *nout)
{
	size_t n = 0, names = 0;
	for (const char *q = p; q < end; q++) /* an upper bound for both */
		n += *q == '{', names += *q == '{' ? 0 : 1;
	env_tensor *t = malloc(n * sizeof *t + names + n + 1);
	if (!t)
		return ENV_ENOMEM;
	char *store = (char *)(t + n);
	const char **nv = n ? malloc(n * sizeof *nv) : NULL;
	size_t i = 0;
	int bad = n && !nv;
	while (!bad && p < end && *p != ']') {
		if (i && lean_lit(&p, end, ",")) {
			bad = 1;
			break;
		}
		size_t off, cnt;
		const char *name;
		if (lean_lit(&p, end, "{\"name\":\""))
			break;
		name = p;
		while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			p++;
		size_t nlen = (size_t)(p - name);
		if (!nlen || i >= n || lean_lit(&p, end, "\",\"offset\":") || lean_uint(&p, end, &off) ||
		    lean_lit(&p, end, ",\"count\":") || lean_uint(&p, end, &cnt) || lean_lit(&p, end, "}") ||
		    off > nfloats || cnt > nfloats - off) {
			bad = 1;
			break;
		}
		memcpy(store, name, nlen);
		store[nlen] = '\0';
		t[i] = (env_tensor){store, (const float *)(const void *)(region + off * sizeof(float)), cnt};
		nv[i] = store;
		store += nlen + 1;
		i++;
	}
	/* the array closes the top-level object: only padding may follow */
	if (!bad && (lean_lit(&p, end, "]}") == 0)) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		bad = p != end || names_unique(nv, i) != 0;
	} else {
		bad = 1;
	}
	free(nv);
	if (bad || !i) {
		free(t);
		return -1;
	}
	*out = t;
	*nout = i;
	return 0;
}

int envelope_decode_lean(const uint8_t *buf, size_t len, cJSON **hdr, env_tensor **tensors,
			 size_t *ntensors)
{
	static const char key[] = ",\"feature_map\":[";
	if (!hdr || !buf || !tensors || !ntensors || len < ENV_PREFIX)
		return envelope_decode(buf, len, hdr, tensors, ntensors);
	size_t hlen = (size_t)buf[0] | ((size_t)buf[1] << 8) | ((size_t)buf[2] << 16) |
		      ((size_t)buf[3] << 24);
	if (hlen > len - ENV_PREFIX)
		return envelope_decode(buf, len, hdr, tensors, ntensors);
	const char *json = (const char *)buf + ENV_PREFIX, *end = json + hlen;
	const char *k = memmem(json, hlen, key, sizeof key - 1);
	/* one feature_map, and no key before it that could spell one (\u escapes) */
	const char *fm = k ? k + sizeof key - 1 : NULL;
	if (!k || memmem(json, (size_t)(k - json) + 1, "feature_map", 11) ||
	    memmem(json, (size_t)(k - json), "\\u", 2) ||
	    memmem(fm, (size_t)(end - fm), "feature_map", 11))
		return envelope_decode(buf, len, hdr, tensors, ntensors);
	const uint8_t *region = buf + ENV_PREFIX + hlen;
	size_t nfloats = (len - ENV_PREFIX - hlen) / sizeof(float);
	env_tensor *t = NULL;
	size_t nt = 0;
	int rc = lean_fmap(fm, end, region, nfloats, &t, &nt);
	if (rc == ENV_ENOMEM)
		return rc;
	if (rc)
		return envelope_decode(buf, len, hdr, tensors, ntensors);
	/* the header without its feature_map: the text before it, closed */
	size_t plen = (size_t)(k - json);
	char stack[1024];
	char *txt = plen + 2 <= sizeof stack ? stack : malloc(plen + 2);
	if (!txt) {
		free(t);
		return ENV_ENOMEM;
	}
	memcpy(txt, json, plen);
	txt[plen] = '}';
	txt[plen + 1] = '\0';
	const char *pend = NULL;
	cJSON *h = cJSON_ParseWithLengthOpts(txt, plen + 1, &pend, 0);
	int ok = h && cJSON_IsObject(h) && pend == txt + plen + 1;
	if (txt != stack)
		free(txt);
	if (!ok) {
		cJSON_Delete(h);
		free(t);
		return envelope_decode(buf, len, hdr, tensors, ntensors);
	}
	*hdr = h;
	*tensors = t;
	*ntensors = nt;
	return 0;
}
