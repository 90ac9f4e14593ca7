/*
 * test_envelope.c — device-API envelopes: round trips, alignment of the tensor region, every
 * truncation, malformed headers and feature maps.
 */
#include "proto/envelope.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An envelope with the given JSON header text and a tensor region of nfloats floats
 * (values 0, 1, 2, ...). Malloc'd to exactly its size so ASan sees any over-read. */
static uint8_t *mk_env(const char *json, size_t nfloats, size_t *len)
{
	size_t jl = strlen(json);
	*len = 4 + jl + nfloats * 4;
	uint8_t *b = malloc(*len ? *len : 1);
	b[0] = (uint8_t)jl;
	b[1] = (uint8_t)(jl >> 8);
	b[2] = (uint8_t)(jl >> 16);
	b[3] = (uint8_t)(jl >> 24);
	memcpy(b + 4, json, jl);
	for (size_t i = 0; i < nfloats; i++) {
		float f = (float)i;
		memcpy(b + 4 + jl + i * 4, &f, 4);
	}
	return b;
}

/* Decode a hand-built envelope, with and without asking for tensors; both must agree. */
static int decode_text(const char *json, size_t nfloats)
{
	size_t len;
	uint8_t *b = mk_env(json, nfloats, &len);
	cJSON *h = NULL;
	env_tensor *t = NULL;
	size_t n = 0;
	int rc = envelope_decode(b, len, &h, &t, &n);
	if (rc == 0) {
		ck_assert_ptr_nonnull(h);
	} else {
		ck_assert_ptr_null(h);
		ck_assert_ptr_null(t);
		ck_assert_uint_eq(n, 0);
	}
	/* the lean decoder agrees: same verdict, same tensors */
	cJSON *h2 = NULL;
	env_tensor *t2 = NULL;
	size_t n2 = 0;
	ck_assert_int_eq(envelope_decode_lean(b, len, &h2, &t2, &n2), rc);
	ck_assert_uint_eq(n2, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(t2[i].name, t[i].name);
		ck_assert_ptr_eq(t2[i].data, t[i].data);
		ck_assert_uint_eq(t2[i].count, t[i].count);
	}
	cJSON_Delete(h2);
	free(t2);
	cJSON_Delete(h);
	free(t);
	h = NULL;
	ck_assert_int_eq(envelope_decode(b, len, &h, NULL, NULL), rc);
	cJSON_Delete(h);
	free(b);
	return rc;
}

static cJSON *sample_header(void)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "fl_name", "lenet");
	cJSON_AddStringToObject(h, "fl_id", "device-17");
	cJSON_AddNumberToObject(h, "iteration", 3);
	cJSON_AddNumberToObject(h, "data_size", 600);
	cJSON_AddStringToObject(h, "timestamp", "1767225600123");
	return h;
}

START_TEST(round_trip_tensors)
{
	float a[5] = {1.5f, -2.25f, 0.0f, 3e38f, -1e-38f};
	float c[3] = {7, 8, 9};
	env_tensor in[3] = {
		{.name = "conv1.weight", .data = a, .count = 5},
		{.name = "empty", .data = NULL, .count = 0},
		{.name = "fc.bias", .data = c, .count = 3},
	};
	cJSON *h = sample_header();
	char *before = cJSON_PrintUnformatted(h);
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, in, 3, &buf, &len), 0);
	/* The caller's header is untouched (no feature_map added to it). */
	char *after = cJSON_PrintUnformatted(h);
	ck_assert_str_eq(before, after);
	ck_assert_ptr_null(cJSON_GetObjectItem(h, "feature_map"));

	uint32_t hlen = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	ck_assert_uint_eq((4 + hlen) % 4, 0);
	ck_assert_uint_eq(len, 4 + hlen + 8 * sizeof(float));

	cJSON *out = NULL;
	env_tensor *t = NULL;
	size_t n = 0;
	ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(out, "fl_name")->valuestring, "lenet");
	ck_assert_str_eq(cJSON_GetObjectItem(out, "fl_id")->valuestring, "device-17");
	ck_assert_int_eq(cJSON_GetObjectItem(out, "iteration")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(out, "data_size")->valueint, 600);
	ck_assert_str_eq(cJSON_GetObjectItem(out, "timestamp")->valuestring, "1767225600123");
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(t[i].name, in[i].name);
		ck_assert_uint_eq(t[i].count, in[i].count);
		if (in[i].count)
			ck_assert(memcmp(t[i].data, in[i].data, in[i].count * sizeof(float)) == 0);
		/* Data points into buf, aligned for direct float access. */
		ck_assert((const uint8_t *)t[i].data >= buf + 4 + hlen);
		ck_assert((const uint8_t *)t[i].data <= buf + len);
		ck_assert_uint_eq((uintptr_t)t[i].data % 4, 0);
	}
	ck_assert(t[0].data[1] == -2.25f); /* in-place float read */
	/* The feature_map as written: offsets and counts in floats, back to back. */
	cJSON *fm = cJSON_GetObjectItem(out, "feature_map");
	ck_assert_int_eq(cJSON_GetArraySize(fm), 3);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(fm, 0), "offset")->valueint, 0);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(fm, 1), "offset")->valueint, 5);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(fm, 2), "offset")->valueint, 5);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(fm, 2), "count")->valueint, 3);

	cJSON_Delete(out);
	free(t);
	free(buf);
	free(before);
	free(after);
	cJSON_Delete(h);
}
END_TEST

START_TEST(round_trip_no_tensors)
{
	cJSON *h = sample_header();
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, NULL, 0, &buf, &len), 0);
	ck_assert_uint_eq(len % 4, 0);
	cJSON *out = NULL;
	env_tensor *t = (env_tensor *)1;
	size_t n = 99;
	ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(cJSON_GetObjectItem(out, "feature_map"));
	ck_assert_str_eq(cJSON_GetObjectItem(out, "fl_name")->valuestring, "lenet");
	cJSON_Delete(out);
	free(buf);

	/* Empty header object too. */
	cJSON *e = cJSON_CreateObject();
	ck_assert_int_eq(envelope_encode(e, NULL, 0, &buf, &len), 0);
	ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
	ck_assert_ptr_null(out->child);
	cJSON_Delete(out);
	free(buf);
	cJSON_Delete(e);
	cJSON_Delete(h);
}
END_TEST

START_TEST(only_zero_count_tensor)
{
	cJSON *h = cJSON_CreateObject();
	env_tensor z = {.name = "z", .data = NULL, .count = 0};
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, &z, 1, &buf, &len), 0);
	cJSON *out;
	env_tensor *t;
	size_t n;
	ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(t[0].name, "z");
	ck_assert_uint_eq(t[0].count, 0);
	cJSON_Delete(out);
	free(t);
	free(buf);
	cJSON_Delete(h);
}
END_TEST

START_TEST(existing_feature_map_replaced)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "feature_map", "stale");
	float v = 4;
	env_tensor one = {.name = "w", .data = &v, .count = 1};
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, &one, 1, &buf, &len), 0);
	cJSON *out;
	env_tensor *t;
	size_t n;
	ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(t[0].data[0] == 4.0f);
	ck_assert_str_eq(cJSON_GetObjectItem(h, "feature_map")->valuestring, "stale");
	cJSON_Delete(out);
	free(t);
	free(buf);
	cJSON_Delete(h);
}
END_TEST

START_TEST(alignment_every_header_length)
{
	/* Header texts of every length mod 4 (and more): the tensor region always starts at a
	 * multiple of 4 from the buffer start, and the padding decodes as whitespace. */
	for (int k = 0; k < 12; k++) {
		char pad[16];
		memset(pad, 'x', (size_t)k);
		pad[k] = '\0';
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "p", pad);
		float v[2] = {(float)k, -1};
		env_tensor tt = {.name = "t", .data = v, .count = 2};
		uint8_t *buf;
		size_t len;
		ck_assert_int_eq(envelope_encode(h, &tt, 1, &buf, &len), 0);
		size_t hlen = buf[0] | (size_t)buf[1] << 8;
		ck_assert_uint_eq((4 + hlen) % 4, 0);
		ck_assert_uint_eq(len, 4 + hlen + 8);
		cJSON *out;
		env_tensor *t;
		size_t n;
		ck_assert_int_eq(envelope_decode(buf, len, &out, &t, &n), 0);
		ck_assert_ptr_eq((const void *)t[0].data, (const void *)(buf + 4 + hlen));
		ck_assert(t[0].data[0] == (float)k && t[0].data[1] == -1.0f);
		ck_assert_str_eq(cJSON_GetObjectItem(out, "p")->valuestring, pad);
		cJSON_Delete(out);
		free(t);
		free(buf);
		cJSON_Delete(h);
	}
}
END_TEST

START_TEST(every_truncation_fails)
{
	float a[7] = {1, 2, 3, 4, 5, 6, 7};
	float b[2] = {8, 9};
	env_tensor in[3] = {
		{.name = "a", .data = a, .count = 7},
		{.name = "nothing", .data = NULL, .count = 0},
		{.name = "b", .data = b, .count = 2},
	};
	cJSON *h = sample_header();
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, in, 3, &buf, &len), 0);
	for (size_t k = 0; k < len; k++) {
		uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan catches any over-read */
		memcpy(cut, buf, k);
		cJSON *out = NULL;
		env_tensor *t = NULL;
		size_t n = 0;
		int rc = envelope_decode(cut, k, &out, &t, &n);
		ck_assert_msg(rc == ENV_ESHORT || rc == ENV_EFMAP, "length %zu: rc %d", k, rc);
		ck_assert_ptr_null(out);
		ck_assert_ptr_null(t);
		free(cut);
	}
	/* NULL with zero length is just short. */
	cJSON *out = NULL;
	ck_assert_int_eq(envelope_decode(NULL, 0, &out, NULL, NULL), ENV_ESHORT);
	free(buf);
	cJSON_Delete(h);
}
END_TEST

START_TEST(length_prefix_checks)
{
	/* Prefix larger than what follows. */
	uint8_t b[8] = {5, 0, 0, 0, '{', '}', ' ', ' '};
	cJSON *out = NULL;
	ck_assert_int_eq(envelope_decode(b, 8, &out, NULL, NULL), ENV_ESHORT);
	b[0] = 0xff;
	b[3] = 0xff;
	ck_assert_int_eq(envelope_decode(b, 8, &out, NULL, NULL), ENV_ESHORT);
	/* Exactly the rest is fine. */
	b[0] = 4;
	b[3] = 0;
	ck_assert_int_eq(envelope_decode(b, 8, &out, NULL, NULL), 0);
	cJSON_Delete(out);
}
END_TEST

START_TEST(bad_json)
{
	ck_assert_int_eq(decode_text("", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("{", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("{\"a\":", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("{\"a\":1,}", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("{} x", 0), ENV_EJSON);     /* garbage after the object */
	ck_assert_int_eq(decode_text("{}{}", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("\xff\xfe", 0), ENV_EJSON);
	/* A NUL inside the header cannot end the JSON early. */
	ck_assert_int_eq(decode_text("{}", 0), 0);
	size_t len;
	uint8_t *b = mk_env("{}  ", 0, &len);
	b[6] = '\0';
	cJSON *out = NULL;
	ck_assert_int_eq(envelope_decode(b, len, &out, NULL, NULL), ENV_EJSON);
	free(b);
	/* Whitespace padding (any JSON whitespace) after the object is fine. */
	ck_assert_int_eq(decode_text("{} \t\r\n", 0), 0);
}
END_TEST

START_TEST(header_not_object)
{
	ck_assert_int_eq(decode_text("[]", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("[{\"feature_map\":[]}]", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("\"str\"", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("42", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("null", 0), ENV_EJSON);
	ck_assert_int_eq(decode_text("true", 0), ENV_EJSON);
}
END_TEST

START_TEST(feature_map_malformed)
{
	/* Region of 10 floats throughout. */
	static const char *bad[] = {
		"{\"feature_map\":{}}",
		"{\"feature_map\":null}",
		"{\"feature_map\":\"x\"}",
		"{\"feature_map\":[1]}",
		"{\"feature_map\":[[]]}",
		"{\"feature_map\":[{\"offset\":0,\"count\":1}]}",                       /* no name */
		"{\"feature_map\":[{\"name\":7,\"offset\":0,\"count\":1}]}",            /* name type */
		"{\"feature_map\":[{\"name\":\"\",\"offset\":0,\"count\":1}]}",         /* empty name */
		"{\"feature_map\":[{\"name\":\"a\",\"count\":1}]}",                     /* no offset */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0}]}",                    /* no count */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":-1,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":-1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0.5,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1.5}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":\"0\",\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":\"1\"}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":null,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":true,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":11,\"count\":0}]}",        /* past end */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":11}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":5,\"count\":6}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":1e300,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":1,\"count\":1e300}]}",
		/* offset + count would wrap a 64-bit size_t if added unchecked */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":4,\"count\":18446744073709551612}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1},"
		"{\"name\":\"b\",\"offset\":1,\"count\":1},{\"name\":\"a\",\"offset\":2,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1},{\"name\":\"a\","
		"\"offset\":0,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1},5]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(decode_text(bad[i], 10) == ENV_EFMAP, "accepted: %s", bad[i]);
		/* the same with the feature_map last, where the lean decoder reads it itself */
		char txt[512];
		snprintf(txt, sizeof txt, "{\"retcode\":200,%s", bad[i] + 1);
		ck_assert_msg(decode_text(txt, 10) == ENV_EFMAP, "accepted: %s", txt);
	}
}
END_TEST

/* The lean decoder on what envelope_encode writes: the tensors of the full decoder, the other
 * header fields, no feature_map in the header; and shapes it leaves to the full decoder. */
START_TEST(lean_decode)
{
	float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
	env_tensor in[2] = {{"conv1.weight", a, 4}, {"fc3.bias", b, 2}};
	cJSON *h = cJSON_CreateObject();
	cJSON_AddNumberToObject(h, "retcode", 200);
	cJSON_AddStringToObject(h, "reason", "success \"quoted\"");
	cJSON *plan = cJSON_AddObjectToObject(h, "fl_plan_config");
	cJSON_AddNumberToObject(plan, "epochs", 3);
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, in, 2, &buf, &len), 0);
	cJSON *out = NULL;
	env_tensor *t = NULL;
	size_t n = 0;
	ck_assert_int_eq(envelope_decode_lean(buf, len, &out, &t, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(t[0].name, "conv1.weight");
	ck_assert_str_eq(t[1].name, "fc3.bias");
	ck_assert(t[0].data[3] == 4.0f && t[1].data[1] == 6.0f);
	ck_assert_ptr_null(cJSON_GetObjectItem(out, "feature_map")); /* read lean */
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "fl_plan_config"), "epochs")->valueint, 3);
	ck_assert_str_eq(cJSON_GetObjectItem(out, "reason")->valuestring, "success \"quoted\"");
	cJSON_Delete(out);
	free(t);
	free(buf);
	cJSON_Delete(h);
	/* not the common shape: the full decoder answers, feature_map in the header */
	static const char *other[] = {
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1}],\"x\":1}",
		"{\"x\":1,\"feature_map\":[{\"name\":\"a\\u0062\",\"offset\":0,\"count\":1}]}",
		"{\"x\":1,\"feature_map\":[{\"name\":\"a\",\"offset\":0, \"count\":1}]}",
		"{\"x\":1,\"feature_map\":[{\"count\":1,\"name\":\"a\",\"offset\":0}]}",
		"{\"feature\\u005fmap\":[],\"x\":1,\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":1}]}",
	};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
		ck_assert_int_eq(decode_text(other[i], 4), 0);
		uint8_t *e = mk_env(other[i], 4, &len);
		ck_assert_int_eq(envelope_decode_lean(e, len, &out, &t, &n), 0);
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(out, "feature_map"));
		ck_assert_uint_eq(n, i == 4 ? 0 : 1); /* the first feature_map counts: [] */
		cJSON_Delete(out);
		free(t);
		free(e);
	}
}
END_TEST

START_TEST(feature_map_edges_accepted)
{
	static const char *good[] = {
		"{\"feature_map\":[]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":10}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":10,\"count\":0}]}",    /* at the end */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":9,\"count\":1}]}",
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":2.0,\"count\":3e0}]}", /* whole doubles */
		/* overlapping ranges are not forbidden by the format */
		"{\"feature_map\":[{\"name\":\"a\",\"offset\":0,\"count\":5},"
		"{\"name\":\"b\",\"offset\":3,\"count\":5,\"extra\":1}]}",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(decode_text(good[i], 10) == 0, "refused: %s", good[i]);

	/* Data pointers land where offset says. */
	size_t len;
	uint8_t *b = mk_env("{\"feature_map\":[{\"name\":\"x\",\"offset\":3,\"count\":2}]}", 10, &len);
	cJSON *out;
	env_tensor *t;
	size_t n;
	ck_assert_int_eq(envelope_decode(b, len, &out, &t, &n), 0);
	ck_assert_uint_eq(n, 1);
	float v[2];
	memcpy(v, t[0].data, sizeof v); /* hand-built header: region may be unaligned */
	ck_assert(v[0] == 3.0f && v[1] == 4.0f);
	cJSON_Delete(out);
	free(t);
	free(b);
}
END_TEST

START_TEST(many_entries_duplicate_at_end)
{
	/* A large feature_map whose only duplicate is its last entry. */
	size_t cap = 64 * 1024, at = 0;
	char *j = malloc(cap);
	at += (size_t)snprintf(j + at, cap - at, "{\"feature_map\":[");
	for (int i = 0; i < 1000; i++)
		at += (size_t)snprintf(j + at, cap - at, "{\"name\":\"t%d\",\"offset\":0,\"count\":1},",
				       i);
	snprintf(j + at, cap - at, "{\"name\":\"t500\",\"offset\":0,\"count\":1}]}");
	ck_assert_int_eq(decode_text(j, 1), ENV_EFMAP);
	free(j);
}
END_TEST

START_TEST(encode_errors)
{
	uint8_t *buf = NULL;
	size_t len;
	float v = 1;
	cJSON *arr = cJSON_CreateArray();
	ck_assert_int_eq(envelope_encode(arr, NULL, 0, &buf, &len), ENV_EJSON);
	ck_assert_int_eq(envelope_encode(NULL, NULL, 0, &buf, &len), ENV_EJSON);
	cJSON_Delete(arr);
	cJSON *h = cJSON_CreateObject();
	env_tensor dup[2] = {{.name = "w", .data = &v, .count = 1}, {.name = "w", .data = &v, .count = 1}};
	ck_assert_int_eq(envelope_encode(h, dup, 2, &buf, &len), ENV_EFMAP);
	env_tensor noname = {.name = NULL, .data = &v, .count = 1};
	ck_assert_int_eq(envelope_encode(h, &noname, 1, &buf, &len), ENV_EFMAP);
	env_tensor nodata = {.name = "w", .data = NULL, .count = 1};
	ck_assert_int_eq(envelope_encode(h, &nodata, 1, &buf, &len), ENV_EFMAP);
	ck_assert_ptr_null(buf);
	cJSON_Delete(h);
}
END_TEST

START_TEST(strerror_texts)
{
	ck_assert_str_ne(envelope_strerror(ENV_ESHORT), envelope_strerror(ENV_EFMAP));
	ck_assert_str_ne(envelope_strerror(ENV_EJSON), envelope_strerror(ENV_ENOMEM));
}
END_TEST

static Suite *envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("envelope");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip_tensors);
	tcase_add_test(tc, round_trip_no_tensors);
	tcase_add_test(tc, only_zero_count_tensor);
	tcase_add_test(tc, existing_feature_map_replaced);
	tcase_add_test(tc, alignment_every_header_length);
	tcase_add_test(tc, every_truncation_fails);
	tcase_add_test(tc, length_prefix_checks);
	tcase_add_test(tc, bad_json);
	tcase_add_test(tc, header_not_object);
	tcase_add_test(tc, feature_map_malformed);
	tcase_add_test(tc, feature_map_edges_accepted);
	tcase_add_test(tc, many_entries_duplicate_at_end);
	tcase_add_test(tc, encode_errors);
	tcase_add_test(tc, lean_decode);
	tcase_add_test(tc, strerror_texts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(envelope_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
