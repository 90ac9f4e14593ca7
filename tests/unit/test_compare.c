/* sim compare: regressions are found and named (exit 1), improvements pass, --threshold moves the
 * line, bench.json figures match by name (ratios across machines), bad input exits 2. */
#include "../../reports/compare.h"

#include <check.h>
#include <stdarg.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char *out_text, *err_text;

static char *path_of(const char *name)
{
	static char p[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static void put(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A summary.json with the figures that matter here. */
static void summary(const char *name, double success, double p99, double acc, double wall, int failed_expect)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "{\"scenario\":\"q\",\"seed\":1,\"wall_time_s\":%g,\"speedup\":40,\n"
		 " \"metrics\":{\"iterations.success\":%g,\"iterations.failed\":1,\"latency.updateModel.p99_ms\":%g,\n"
		 "  \"latency.updateModel.p50_ms\":10,\"model.accuracy\":%g,\"invariants.violations\":0,\n"
		 "  \"cluster.state\":\"CLUSTER_READY\",\"requests.getModel.total\":500},\n"
		 " \"expect\":[{\"metric\":\"iterations.success\",\"min\":1,\"value\":%g,\"ok\":%s}]}\n",
		 wall, success, p99, acc, success, failed_expect ? "false" : "true");
	put(name, text);
}

/* Run `compare ARGS... NULL`, keeping stdout and stderr; returns the exit status. */
static int run(const char *first, ...)
{
	char *argv[16] = { "compare" };
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	free(out_text);
	free(err_text);
	size_t ol, el;
	FILE *o = open_memstream(&out_text, &ol), *e = open_memstream(&err_text, &el);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(e);
	int rc = compare_run(argc, argv, o, e);
	fclose(o);
	fclose(e);
	return rc;
}

/* The table line of a figure. */
static const char *line_of(const char *name)
{
	static char line[512];
	const char *p = out_text;
	while ((p = strstr(p, name))) {
		if (p == out_text || p[-1] == '\n') {
			size_t n = strcspn(p, "\n");
			snprintf(line, sizeof line, "%.*s", (int)n, p);
			return line;
		}
		p++;
	}
	ck_abort_msg("no table line for %s in:\n%s", name, out_text);
	return NULL;
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/flbench-test-compare-%ld", (long)getpid());
	mkdir(dir, 0755);
	out_text = err_text = NULL;
}

static void teardown(void)
{
	static const char *const names[] = { "base.json", "new.json", "bad.json", "b1.json", "b2.json",
					     "other.json", "run/summary.json" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(path_of(names[i]));
	rmdir(path_of("run"));
	rmdir(path_of("empty"));
	rmdir(dir);
	free(out_text);
	free(err_text);
	out_text = err_text = NULL;
}

START_TEST(regression_is_named)
{
	summary("base.json", 20, 40, 0.87, 10, 0);
	summary("new.json", 20, 60, 0.87, 10, 0); /* p99 +50%: past the 25% default */
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), "REGRESSED"));
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), "+50.0%"));
	ck_assert_ptr_nonnull(strstr(out_text, "regression: latency.updateModel.p99_ms went from 40 to 60"));
	ck_assert_ptr_nonnull(strstr(line_of("iterations.success"), " ok"));
	ck_assert_ptr_nonnull(strstr(out_text, "compare: FAILED"));
	/* the header names the columns */
	ck_assert_ptr_nonnull(strstr(out_text, "NAME"));
	ck_assert_ptr_nonnull(strstr(out_text, "DELTA"));
	ck_assert_ptr_nonnull(strstr(out_text, "VERDICT"));

	/* fewer successful iterations, lower accuracy, failing expectations: each one named */
	summary("new.json", 15, 40, 0.84, 10, 1);
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out_text, "regression: iterations.success"));
	ck_assert_ptr_nonnull(strstr(out_text, "regression: model.accuracy"));
	ck_assert_ptr_nonnull(strstr(out_text, "regression: expectations.failed"));
	ck_assert_ptr_null(strstr(out_text, "regression: latency"));
}
END_TEST

START_TEST(improvement_and_small_changes_pass)
{
	summary("base.json", 20, 40, 0.87, 10, 0);
	summary("new.json", 22, 30, 0.86, 11, 0); /* better, better, -0.01 (< 0.02), +10% wall (< 25%) */
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), "better"));
	ck_assert_ptr_nonnull(strstr(line_of("iterations.success"), "better"));
	ck_assert_ptr_nonnull(strstr(line_of("model.accuracy"), " ok"));
	ck_assert_ptr_nonnull(strstr(line_of("wall_time_s"), " ok"));
	ck_assert_ptr_nonnull(strstr(line_of("requests.getModel.total"), "info")); /* not gated */
	ck_assert_ptr_null(strstr(out_text, "regression:"));
	ck_assert_ptr_nonnull(strstr(out_text, "compare: ok"));
}
END_TEST

START_TEST(threshold_override_changes_the_verdict)
{
	summary("base.json", 20, 40, 0.87, 10, 0);
	summary("new.json", 20, 60, 0.87, 10, 0);
	/* +50% is within a 60% allowance */
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "--threshold", "latency.*.p99_ms=0.6", NULL), 0);
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), " ok"));
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "--threshold=latency.updateModel.p99_ms=off",
			     NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), "info"));
	/* and the other way: 19 of 20 iterations (-5%) passes the 10% default, not a 1% limit */
	summary("new.json", 19, 40, 0.87, 10, 0);
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), NULL, NULL, NULL), 0);
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "-t", "iterations.success=0.01", NULL), 1);
	ck_assert_ptr_nonnull(strstr(out_text, "regression: iterations.success"));
	/* an ungated figure becomes gated when named */
	summary("new.json", 20, 40, 0.87, 10, 0);
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), NULL, NULL, NULL), 0);
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "--threshold", "latency.*.p99_ms=0",
			     "--threshold", "iterations.failed=0", NULL), 0); /* unchanged: still fine */
	/* a bad override is bad input */
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "--threshold", "latency", NULL), 2);
	ck_assert_ptr_nonnull(strstr(err_text, "NAME=FRACTION"));
	ck_assert_int_eq(run(path_of("base.json"), path_of("new.json"), "--threshold", "x=-1", NULL), 2);
}
END_TEST

static const char bench1[] =
	"{\"commit\":\"aaa\",\"machine\":{\"cpu\":\"x86\",\"cores\":2},\"figures\":[\n"
	" {\"name\":\"fedavg.lenet\",\"value\":2.0,\"unit\":\"ms\",\"baseline\":8.0,\"ratio\":0.25,\"goal\":\"<0.5\",\"runs\":[2.0,2.1]},\n"
	" {\"name\":\"sim.events_per_s\",\"value\":1000000,\"unit\":\"events/s\",\"runs\":[]},\n"
	" {\"name\":\"envelope.decode\",\"value\":5,\"unit\":\"us\"},\n"
	" {\"name\":\"odd\",\"value\":3,\"unit\":\"widgets\"}]}\n";

START_TEST(bench_figures_by_name)
{
	put("b1.json", bench1);
	/* other order, one figure gone, one new; events/s down 30% (past 20%), fedavg better */
	put("b2.json", "{\"commit\":\"bbb\",\"machine\":{\"cpu\":\"x86\",\"cores\":2},\"figures\":[\n"
		       " {\"name\":\"odd\",\"value\":30,\"unit\":\"widgets\"},\n"
		       " {\"name\":\"sim.events_per_s\",\"value\":700000,\"unit\":\"events/s\"},\n"
		       " {\"name\":\"fedavg.lenet\",\"value\":1.5,\"unit\":\"ms\",\"baseline\":8.0,\"ratio\":0.1875},\n"
		       " {\"name\":\"brand.new\",\"value\":1,\"unit\":\"s\"}]}\n");
	ck_assert_int_eq(run(path_of("b1.json"), path_of("b2.json"), NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(line_of("sim.events_per_s"), "REGRESSED"));
	ck_assert_ptr_nonnull(strstr(line_of("fedavg.lenet "), "better"));
	ck_assert_ptr_nonnull(strstr(line_of("fedavg.lenet.ratio"), "better"));
	ck_assert_ptr_nonnull(strstr(line_of("envelope.decode"), "gone"));
	ck_assert_ptr_nonnull(strstr(line_of("brand.new"), "new"));
	ck_assert_ptr_nonnull(strstr(line_of("odd"), "info")); /* a unit that tells no direction */
	ck_assert_ptr_nonnull(strstr(out_text, "regression: sim.events_per_s"));

	/* different machines: the absolute fedavg time is information, its ratio is the gate */
	put("b2.json", "{\"commit\":\"bbb\",\"machine\":{\"cpu\":\"arm\",\"cores\":64},\"figures\":[\n"
		       " {\"name\":\"fedavg.lenet\",\"value\":20.0,\"unit\":\"ms\",\"baseline\":80.0,\"ratio\":0.25}]}\n");
	ck_assert_int_eq(run(path_of("b1.json"), path_of("b2.json"), NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(line_of("fedavg.lenet "), "info"));
	ck_assert_ptr_nonnull(strstr(line_of("fedavg.lenet.ratio"), " ok"));
	ck_assert_ptr_nonnull(strstr(out_text, "different machines"));
	put("b2.json", "{\"commit\":\"bbb\",\"machine\":{\"cpu\":\"arm\",\"cores\":64},\"figures\":[\n"
		       " {\"name\":\"fedavg.lenet\",\"value\":1.0,\"unit\":\"ms\",\"baseline\":2.0,\"ratio\":0.5}]}\n");
	ck_assert_int_eq(run(path_of("b1.json"), path_of("b2.json"), NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out_text, "regression: fedavg.lenet.ratio"));

	/* --json: one object with the verdicts */
	ck_assert_int_eq(run(path_of("b1.json"), path_of("b2.json"), "--json", NULL, NULL), 1);
	cJSON *j = cJSON_Parse(out_text);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "regressions")->valueint, 1);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "machines_differ")));
	ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(j, "figures")), 2);
	cJSON_Delete(j);
	ck_assert_ptr_nonnull(strstr(err_text, "regression: fedavg.lenet.ratio"));
}
END_TEST

START_TEST(run_directory_input)
{
	mkdir(path_of("run"), 0755);
	summary("run/summary.json", 20, 40, 0.87, 10, 0);
	summary("new.json", 20, 41, 0.87, 10, 0);
	ck_assert_int_eq(run(path_of("run"), path_of("new.json"), NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(line_of("latency.updateModel.p99_ms"), " ok"));
}
END_TEST

START_TEST(bad_input_exits_2)
{
	summary("base.json", 20, 40, 0.87, 10, 0);
	ck_assert_int_eq(run(path_of("base.json"), path_of("missing.json"), NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err_text, "missing.json"));
	put("bad.json", "{\"metrics\": {\n \"a\": 1,\n \"b\": }\n}\n");
	ck_assert_int_eq(run(path_of("bad.json"), path_of("base.json"), NULL, NULL, NULL), 2);
	ck_assert_msg(strstr(err_text, "bad.json:3: malformed JSON"), "stderr: %s", err_text);
	put("other.json", "{\"hello\": 1}");
	ck_assert_int_eq(run(path_of("base.json"), path_of("other.json"), NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err_text, "other.json"));
	put("bad.json", "{\"figures\": [{\"name\": \"x\"}]}");
	ck_assert_int_eq(run(path_of("bad.json"), path_of("base.json"), NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err_text, "figures[0]"));
	mkdir(path_of("empty"), 0755);
	ck_assert_int_eq(run(path_of("empty"), path_of("base.json"), NULL, NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err_text, "no summary.json"));
	ck_assert_int_eq(run(path_of("base.json"), NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(run(path_of("base.json"), path_of("base.json"), "--frobnicate", NULL, NULL), 2);
	ck_assert_int_eq(run("--help", NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out_text, "model.accuracy"));
	ck_assert_ptr_nonnull(strstr(out_text, "0.02 absolute"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compare");
	TCase *tc = tcase_create("compare");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, regression_is_named);
	tcase_add_test(tc, improvement_and_small_changes_pass);
	tcase_add_test(tc, threshold_override_changes_the_verdict);
	tcase_add_test(tc, bench_figures_by_name);
	tcase_add_test(tc, run_directory_input);
	tcase_add_test(tc, bad_input_exits_2);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
