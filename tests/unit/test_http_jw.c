/*
 * http_jw (node/proto/http_util.h) must print exactly what cJSON_PrintUnformatted prints for the
 * same members: the server's answers switched from one to the other, and devices (and the
 * regression baselines) see the bytes.
 */
#include "../../node/proto/http_util.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void same_number(double d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "v", d);
	char *want = cJSON_PrintUnformatted(o);
	http_jw w;
	http_jw_init(&w, 0);
	http_jw_knum(&w, "v", d);
	http_jw_ch(&w, '}');
	ck_assert_int_eq(w.err, 0);
	ck_assert_msg(w.len == strlen(want) && !memcmp(w.p, want, w.len), "%.17g: jw '%.*s' cJSON '%s'", d,
		      (int)w.len, w.p, want);
	http_jw_free(&w);
	free(want);
	cJSON_Delete(o);
}

START_TEST(numbers_as_cjson)
{
	static const double fixed[] = {0, -0.0, 1, -1, 42, 2147483647.0, -2147483648.0, 2147483648.0,
				       1e15, 1e16, 1e17, 123456789012345678.0, 0.1, 0.2, 1.0 / 3, 2.0 / 3,
				       1e-7, 1e-300, 1e300, 5e-324, 1.7976931348623157e308, 0.001,
				       1767225600000.0, 1767225600123.0, 0.85, 0.05, 61706, 3.14159,
				       -123.456, 1e21, 1e22, 123e-20};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		same_number(fixed[i]);
	same_number(NAN);
	same_number(INFINITY);
	same_number(-INFINITY);
	/* many values of every magnitude, from a fixed seed */
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double m = (double)(x >> 11) / 9007199254740992.0;
		int e = (int)(x % 80) - 40;
		same_number((x & 1 ? -m : m) * pow(10.0, e));
		same_number((double)(int64_t)(x % 100000000000ULL)); /* whole numbers, epoch-ms sized */
		float f = (float)(m * 2 - 1);
		same_number((double)f); /* float32 widened, as model values are */
	}
}
END_TEST

START_TEST(strings_as_cjson)
{
	static const char *const s[] = {"", "plain", "quote\"back\\slash", "tab\tnl\ncr\rff\fbs\b",
					"\x01\x1f ctl", "utf-8: \xc3\xa9\xe2\x82\xac", "/slash/",
					"The model is not ready yet for iteration 7"};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "reason", s[i]);
		cJSON_AddNumberToObject(o, "retcode", 300);
		char *want = cJSON_PrintUnformatted(o);
		http_jw w;
		http_jw_init(&w, 4);
		http_jw_kstr(&w, "reason", s[i]);
		http_jw_knum(&w, "retcode", 300);
		http_jw_ch(&w, '}');
		ck_assert_int_eq(w.err, 0);
		ck_assert_msg(w.len - 4 == strlen(want) && !memcmp(w.p + 4, want, w.len - 4), "'%s': jw '%.*s' cJSON '%s'",
			      s[i], (int)(w.len - 4), w.p + 4, want);
		http_jw_free(&w);
		free(want);
		cJSON_Delete(o);
	}
}
END_TEST

START_TEST(long_text_grows)
{
	/* past the inline buffer: the writer moves to the heap and keeps every byte */
	cJSON *o = cJSON_CreateObject();
	http_jw w;
	http_jw_init(&w, 0);
	char key[16];
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "k%d", i);
		cJSON_AddNumberToObject(o, key, i * 1.5);
		http_jw_knum(&w, key, i * 1.5);
	}
	http_jw_ch(&w, '}');
	char *want = cJSON_PrintUnformatted(o);
	ck_assert_uint_eq(w.len, strlen(want));
	ck_assert_int_eq(memcmp(w.p, want, w.len), 0);
	http_jw_free(&w);
	free(want);
	cJSON_Delete(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_jw");
	TCase *tc = tcase_create("as cJSON");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, numbers_as_cjson);
	tcase_add_test(tc, strings_as_cjson);
	tcase_add_test(tc, long_text_grows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
