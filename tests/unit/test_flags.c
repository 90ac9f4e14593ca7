/*
 * test_flags.c — command-line flags and config.json keys: both spellings, types, durations,
 * --help, errors that name the flag, CLI winning over config.json, unknown keys.
 */
#include "util/flags.h"

#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
	char ip[FLAG_STR_MAX];
	int64_t port;
	double ratio;
	int recover;
	int64_t timeout_ms;
} opts;

#define NDEFS 5
static void defs_init(flag_def *d, opts *o)
{
	memset(o, 0, sizeof *o);
	strcpy(o->ip, "127.0.0.1");
	o->port = 6667;
	o->ratio = 1.0;
	o->recover = 0;
	o->timeout_ms = 30000;
	flag_def t[NDEFS] = {
		{"scheduler_ip", FLAG_STR, o->ip, "scheduler address", 0},
		{"scheduler_port", FLAG_INT, &o->port, "scheduler port", 0},
		{"update_model_ratio", FLAG_DOUBLE, &o->ratio, "ratio", 0},
		{"is_recover", FLAG_BOOL, &o->recover, "recover", 0},
		{"node_timeout", FLAG_MS, &o->timeout_ms, "timeout", 0},
	};
	memcpy(d, t, sizeof t);
}

/* parse(d, err, errlen, "--a", "--b", NULL): the arguments after argv[0], NULL-terminated. */
static int parse(flag_def *d, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 1;
	va_list ap;
	va_start(ap, errlen);
	argv[0] = "prog";
	for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	return flags_parse(d, NDEFS, argc, argv, "prog", "test program", NULL, err, errlen);
}

START_TEST(both_spellings)
{
	flag_def d[NDEFS];
	opts o;
	char err[256];
	defs_init(d, &o);
	ck_assert_int_eq(parse(d, err, sizeof err, "--scheduler_ip=10.0.0.1", "--scheduler_port",
			       "7000", "--update_model_ratio=0.5", "--is_recover", NULL),
			 0);
	ck_assert_str_eq(o.ip, "10.0.0.1");
	ck_assert_int_eq(o.port, 7000);
	ck_assert(o.ratio == 0.5);
	ck_assert_int_eq(o.recover, 1);
	ck_assert_int_eq(d[0].seen, 1);
	ck_assert_int_eq(d[4].seen, 0);
	ck_assert_int_eq(o.timeout_ms, 30000);

	defs_init(d, &o);
	ck_assert_int_eq(
		parse(d, err, sizeof err, "--is_recover", "false", "--node_timeout", "5s", NULL), 0);
	ck_assert_int_eq(o.recover, 0);
	ck_assert_int_eq(o.timeout_ms, 5000);
	/* Dashes in names are accepted too; the last occurrence wins. */
	defs_init(d, &o);
	ck_assert_int_eq(
		parse(d, err, sizeof err, "--scheduler-port=1", "--scheduler_port=2", NULL), 0);
	ck_assert_int_eq(o.port, 2);
}
END_TEST

START_TEST(bad_values_name_the_flag)
{
	flag_def d[NDEFS];
	opts o;
	char err[256];
	defs_init(d, &o);
	ck_assert_int_eq(parse(d, err, sizeof err, "--scheduler_port=abc", NULL), FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--scheduler_port"));
	ck_assert_ptr_nonnull(strstr(err, "abc"));
	ck_assert_int_eq(o.port, 6667);

	ck_assert_int_eq(parse(d, err, sizeof err, "--nope=1", NULL), FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown flag --nope"));

	ck_assert_int_eq(parse(d, err, sizeof err, "--scheduler_port", NULL), FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "missing value"));

	ck_assert_int_eq(parse(d, err, sizeof err, "positional", NULL), FLAGS_EINVAL);
	ck_assert_int_eq(parse(d, err, sizeof err, "--is_recover=maybe", NULL), FLAGS_EINVAL);
	ck_assert_int_eq(parse(d, err, sizeof err, "--update_model_ratio=1.5x", NULL), FLAGS_EINVAL);
	ck_assert_int_eq(parse(d, err, sizeof err, "--node_timeout=3 parsecs", NULL), FLAGS_EINVAL);
	ck_assert_int_eq(parse(d, err, sizeof err, "--scheduler_port=99999999999999999999", NULL),
			 FLAGS_EINVAL);
	char longv[FLAG_STR_MAX + 32];
	strcpy(longv, "--scheduler_ip=");
	memset(longv + strlen(longv), 'x', FLAG_STR_MAX);
	longv[sizeof longv - 1] = '\0';
	ck_assert_int_eq(parse(d, err, sizeof err, longv, NULL), FLAGS_EINVAL);
	ck_assert_str_eq(o.ip, "127.0.0.1");
}
END_TEST

START_TEST(durations)
{
	int64_t ms = -1;
	ck_assert_int_eq(flags_parse_ms("250ms", &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(flags_parse_ms("3s", &ms), 0);
	ck_assert_int_eq(ms, 3000);
	ck_assert_int_eq(flags_parse_ms("5m", &ms), 0);
	ck_assert_int_eq(ms, 300000);
	ck_assert_int_eq(flags_parse_ms("1h", &ms), 0);
	ck_assert_int_eq(ms, 3600000);
	ck_assert_int_eq(flags_parse_ms("1500", &ms), 0);
	ck_assert_int_eq(ms, 1500);
	ck_assert_int_eq(flags_parse_ms("1.5s", &ms), 0);
	ck_assert_int_eq(ms, 1500);
	ck_assert_int_eq(flags_parse_ms("2000us", &ms), 0);
	ck_assert_int_eq(ms, 2);
	ck_assert_int_eq(flags_parse_ms("100us", &ms), 0);
	ck_assert_int_eq(ms, 1); /* a non-zero duration stays non-zero */
	ck_assert_int_eq(flags_parse_ms("0", &ms), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(flags_parse_ms("-1s", &ms), FLAGS_EINVAL);
	ck_assert_int_eq(flags_parse_ms("", &ms), FLAGS_EINVAL);
	ck_assert_int_eq(flags_parse_ms("s", &ms), FLAGS_EINVAL);
	ck_assert_int_eq(flags_parse_ms("3d", &ms), FLAGS_EINVAL);
	ck_assert_int_eq(flags_parse_ms(NULL, &ms), FLAGS_EINVAL);
}
END_TEST

START_TEST(help_lists_every_flag)
{
	flag_def d[NDEFS];
	opts o;
	char err[256];
	defs_init(d, &o);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char *argv[] = {"prog", "--scheduler_port=1", "--help"};
	ck_assert_int_eq(flags_parse(d, NDEFS, 3, argv, "prog", "summary line", f, err, sizeof err),
			 FLAGS_HELP);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "Usage: prog"));
	ck_assert_ptr_nonnull(strstr(buf, "summary line"));
	ck_assert_ptr_nonnull(strstr(buf, "--scheduler_ip"));
	ck_assert_ptr_nonnull(strstr(buf, "\"127.0.0.1\""));
	ck_assert_ptr_nonnull(strstr(buf, "--update_model_ratio"));
	ck_assert_ptr_nonnull(strstr(buf, "--is_recover"));
	ck_assert_ptr_nonnull(strstr(buf, "default 30s"));
	ck_assert_ptr_nonnull(strstr(buf, "--help"));
	free(buf);
}
END_TEST

START_TEST(json_applies_unless_cli_gave_it)
{
	flag_def d[NDEFS];
	opts o;
	char err[256];
	defs_init(d, &o);
	ck_assert_int_eq(parse(d, err, sizeof err, "--scheduler_port=7000", NULL), 0);
	cJSON *j = cJSON_Parse("{\"scheduler_port\": 8000, \"scheduler_ip\": \"10.1.1.1\","
			       " \"update_model_ratio\": 0.25, \"is_recover\": true,"
			       " \"node_timeout\": \"2s\", \"recovery\": {\"storage_type\": 1}}");
	ck_assert_ptr_nonnull(j);
	const char *ignore[] = {"recovery", NULL};
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "config.json", ignore, err, sizeof err), 0);
	ck_assert_int_eq(o.port, 7000); /* the command line wins */
	ck_assert_str_eq(o.ip, "10.1.1.1");
	ck_assert(o.ratio == 0.25);
	ck_assert_int_eq(o.recover, 1);
	ck_assert_int_eq(o.timeout_ms, 2000);
	cJSON_Delete(j);

	/* Numbers for durations are ms; numbers for strings keep their digits. */
	defs_init(d, &o);
	j = cJSON_Parse("{\"node_timeout\": 1500, \"scheduler_ip\": 3, \"is_recover\": \"true\"}");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "config.json", NULL, err, sizeof err), 0);
	ck_assert_int_eq(o.timeout_ms, 1500);
	ck_assert_str_eq(o.ip, "3");
	ck_assert_int_eq(o.recover, 1);
	cJSON_Delete(j);
}
END_TEST

START_TEST(json_errors)
{
	flag_def d[NDEFS];
	opts o;
	char err[256];
	defs_init(d, &o);
	cJSON *j = cJSON_Parse("{\"scheduler_port\": 1, \"typo_key\": 2, \"other\": {}}");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "config.json", NULL, err, sizeof err),
			 FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "config.json"));
	ck_assert_ptr_nonnull(strstr(err, "'typo_key'"));
	ck_assert_ptr_nonnull(strstr(err, "'other'"));
	ck_assert_int_eq(o.port, 6667); /* nothing applied when keys are unknown */
	cJSON_Delete(j);

	j = cJSON_Parse("{\"scheduler_port\": 1.5}");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "cfg", NULL, err, sizeof err), FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "scheduler_port"));
	cJSON_Delete(j);

	j = cJSON_Parse("{\"is_recover\": [1]}");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "cfg", NULL, err, sizeof err), FLAGS_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "boolean"));
	cJSON_Delete(j);

	j = cJSON_Parse("{\"node_timeout\": \"soon\"}");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "cfg", NULL, err, sizeof err), FLAGS_EINVAL);
	cJSON_Delete(j);

	j = cJSON_Parse("[1, 2]");
	ck_assert_int_eq(flags_apply_json(d, NDEFS, j, "cfg", NULL, err, sizeof err), FLAGS_EINVAL);
	cJSON_Delete(j);
}
END_TEST

static Suite *flags_suite(void)
{
	Suite *s = suite_create("flags");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, both_spellings);
	tcase_add_test(tc, bad_values_name_the_flag);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, help_lists_every_flag);
	tcase_add_test(tc, json_applies_unless_cli_gave_it);
	tcase_add_test(tc, json_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flags_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
