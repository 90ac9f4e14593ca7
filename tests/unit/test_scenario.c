/* Scenario parser: the design example (design_example.json) parses; every kind of bad input names file and path. */
#include "../../sim/scenario/scenario.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SRCDIR
#define SRCDIR "."
#endif

static char err[512];

static scenario *parse_ok(const char *text)
{
	scenario *sc = NULL;
	int rc = scenario_parse(text, strlen(text), "t.json", &sc, err, sizeof err);
	ck_assert_msg(rc == 0, "unexpected error: %s", err);
	return sc;
}

static void parse_bad(const char *text, const char *must_contain)
{
	scenario *sc = NULL;
	int rc = scenario_parse(text, strlen(text), "t.json", &sc, err, sizeof err);
	ck_assert_int_eq(rc, SC_EINVAL);
	ck_assert_ptr_null(sc);
	ck_assert_msg(strstr(err, must_contain), "error '%s' lacks '%s'", err, must_contain);
	ck_assert_msg(!strncmp(err, "t.json: ", 8), "error '%s' does not name the file", err);
}

START_TEST(design_example_parses)
{
	scenario *sc = NULL;
	int rc = scenario_load("tests/unit/design_example.json", &sc, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(sc->name, "scale-out-under-load");
	ck_assert_uint_eq(sc->seed, 42);
	ck_assert_int_eq(sc->server_num, 4);
	ck_assert_str_eq(sc->model, "lenet5");
	ck_assert_int_eq(sc->devices, 1000);
	ck_assert_int_eq(sc->compute_ms_per_sample.kind, SC_LOGNORMAL);
	ck_assert_double_eq_tol(sc->compute_ms_per_sample.a, 5, 1e-9);
	ck_assert_uint_eq(sc->net_fleet.latency_ns, 40000000ULL);
	ck_assert_uint_eq(sc->net_default.jitter_ns, 200000ULL);
	ck_assert_uint_eq(sc->n_events, 11);
	ck_assert_int_eq(sc->events[0].action, SC_KILL);
	ck_assert_str_eq(sc->events[0].node, "server/2");
	ck_assert_uint_eq(sc->events[0].at_ns, 30000000000ULL);
	ck_assert_int_eq(sc->events[2].action, SC_CLOCK_SKEW);
	ck_assert_int_eq(sc->events[2].offset_ms, 15 * 60 * 1000);
	ck_assert_int_eq(sc->events[4].n_ids, 2);
	ck_assert_int_eq(sc->events[5].n_groups, 2);
	ck_assert_uint_eq(sc->events[5].for_ns, 20000000000ULL);
	ck_assert_double_eq_tol(sc->events[6].link.loss, 0.05, 1e-12);
	ck_assert_str_eq(sc->events[8].on, "iteration=5");
	ck_assert_uint_eq(sc->events[9].after_ns, 20000000000ULL);
	ck_assert_str_eq(sc->events[10].kind, "lose_unsynced");
	ck_assert_uint_eq(sc->n_expect, 4);
	ck_assert_int_eq(sc->expect[2].equals_is_str, 1);
	ck_assert_str_eq(sc->expect[2].equals_str, "CLUSTER_READY");
	/* cluster.config is kept whole for the server's own validation */
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(sc->config, "start_fl_job_threshold"));
	cJSON *j = scenario_to_json(sc);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cluster"), "model")->valuestring, "lenet5");
	cJSON_Delete(j);
	scenario_free(sc);
}
END_TEST

START_TEST(defaults_fill_in)
{
	scenario *sc = parse_ok("{\"name\":\"x\"}");
	ck_assert_int_eq(sc->mode, SC_MODE_SIM);
	ck_assert_int_eq(sc->server_num, 4);
	ck_assert_uint_eq(sc->duration_ns, 600000000000ULL);
	ck_assert_uint_eq(sc->heartbeat_ns, 3000000000ULL);
	ck_assert_str_eq(sc->training, "synthetic");
	scenario_free(sc);
}
END_TEST

START_TEST(errors_name_path)
{
	parse_bad("{\"name\":\"x\",\"bogus\":1}", "$.bogus: unknown key");
	parse_bad("{\"name\":\"x\",\"cluster\":{\"servers\":2}}", "$.cluster.servers: unknown key");
	parse_bad("{\"name\":\"x\",\"duration\":600}", "$.duration: expected a duration");
	parse_bad("{\"name\":\"x\",\"duration\":\"10 parsecs\"}", "$.duration: expected a duration");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"action\":\"explode\"}]}",
		  "$.events[0].action: unknown action \"explode\"");
	parse_bad("{\"name\":\"x\",\"events\":[{\"action\":\"kill\",\"node\":\"server/1\"}]}",
		  "$.events[0]: an event needs exactly one of");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"on\":\"iteration=2\",\"action\":\"heal\"}]}",
		  "exactly one of");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"action\":\"kill\",\"node\":\"srv1\"}]}",
		  "$.events[0].node: expected a node name");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"action\":\"kill\",\"node\":\"server/1\",\"servers\":2}]}",
		  "$.events[0].servers: unknown key");
	parse_bad("{\"name\":\"x\",\"events\":[{\"on\":\"iteration=x\",\"action\":\"heal\"}]}",
		  "$.events[0].on: iteration=N needs a whole number");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"action\":\"scale_out\"}]}",
		  "$.events[0].servers: required integer is missing");
	parse_bad("{\"name\":\"x\",\"events\":[{\"at\":\"1s\",\"action\":\"disk_fault\",\"node\":\"server/0\",\"kind\":\"melt\"}]}",
		  "$.events[0].kind: expected \"lose_unsynced\" or \"corrupt\"");
	parse_bad("{\"name\":\"x\",\"fleet\":{\"dropout\":1.5}}", "$.fleet.dropout: expected a number in [0, 1]");
	parse_bad("{\"name\":\"x\",\"fleet\":{\"compute_ms_per_sample\":{\"dist\":\"zipf\"}}}",
		  "$.fleet.compute_ms_per_sample.dist: expected");
	parse_bad("{\"name\":\"x\",\"cluster\":{\"model\":\"resnet\"}}", "$.cluster.model: expected \"lenet5\"");
	parse_bad("{\"name\":\"x\",\"cluster\":{\"model\":\"synthetic:0\"}}", "$.cluster.model: synthetic:N");
	parse_bad("{\"name\":\"x\",\"expect\":[{\"metric\":\"a\"}]}", "$.expect[0]: an expectation needs");
	parse_bad("{\"seed\":1}", "$.name: required string is missing");
	parse_bad("{\"name\":\"x\",\n \"seed\": }", "line 2");
	parse_bad("[1,2]", "$: expected an object");
}
END_TEST

START_TEST(durations)
{
	int64_t ns;
	ck_assert_int_eq(sc_parse_duration_ns("250ms", 0, &ns), 0);
	ck_assert_int_eq(ns, 250000000);
	ck_assert_int_eq(sc_parse_duration_ns("200us", 0, &ns), 0);
	ck_assert_int_eq(ns, 200000);
	ck_assert_int_eq(sc_parse_duration_ns("1.5s", 0, &ns), 0);
	ck_assert_int_eq(ns, 1500000000);
	ck_assert_int_eq(sc_parse_duration_ns("-2s", 1, &ns), 0);
	ck_assert_int_eq(ns, -2000000000);
	ck_assert_int_ne(sc_parse_duration_ns("-2s", 0, &ns), 0);
	ck_assert_int_ne(sc_parse_duration_ns("2", 0, &ns), 0);
	ck_assert_int_ne(sc_parse_duration_ns("s", 0, &ns), 0);
	ck_assert_int_ne(sc_parse_duration_ns("2 s", 0, &ns), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, design_example_parses);
	tcase_add_test(tc, defaults_fill_in);
	tcase_add_test(tc, errors_name_path);
	tcase_add_test(tc, durations);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
