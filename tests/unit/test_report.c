/* report_write: a fixture output directory (docs/outputs.md) becomes one self-contained page with
 * the run's facts, every verdict, escaped input text and gnuplot SVG; missing files leave notes;
 * a malformed file is an error naming file and line; no gnuplot still gives a page. */
#include "../../reports/report.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char err[1024];

static void put(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void rm(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

static const char summary[] =
	"{\"scenario\": \"evil<script>alert(1)</script>&co\", \"seed\": 18446744073709551557, \"commit\": \"abc1234\",\n"
	" \"mode\": \"sim\", \"trace_hash\": \"0123456789abcdef\", \"events_hash\": \"fedcba9876543210\",\n"
	" \"sim_time_s\": 120.0, \"wall_time_s\": 3.2, \"speedup\": 37.5,\n"
	" \"metrics\": {\"iterations.success\": 5, \"iterations.failed\": 1, \"model.accuracy\": 0.87,\n"
	"   \"latency.updateModel.p99_ms\": 48.5, \"cluster.state\": \"CLUSTER_READY\", \"invariants.violations\": 1},\n"
	" \"expect\": [{\"metric\": \"iterations.success\", \"min\": 4, \"value\": 5, \"ok\": true},\n"
	"   {\"metric\": \"model.accuracy\", \"min\": 0.9, \"value\": 0.87, \"ok\": false},\n"
	"   {\"metric\": \"cluster.state\", \"equals\": \"CLUSTER_READY\", \"value\": \"CLUSTER_READY\", \"ok\": true}],\n"
	" \"violations\": [{\"t\": 61.5, \"invariant\": \"agreement\", \"node\": \"server/1\", \"detail\": \"<b>model differs</b>\"}],\n"
	" \"scenario_resolved\": {\"name\": \"evil<script>alert(1)</script>&co\", \"seed\": 7},\n"
	" \"ok\": false, \"replay\": \"bin/sim run scenarios/evil.json --seed 18446744073709551557\"}\n";

static const char events[] =
	"{\"t\":0.000000,\"kind\":\"state\",\"state\":\"CLUSTER_STARTING\"}\n"
	"{\"t\":2.000000,\"kind\":\"state\",\"state\":\"CLUSTER_READY\"}\n"
	"{\"t\":20.000000,\"kind\":\"iteration\",\"iteration\":1,\"result\":\"success\",\"duration_s\":18,\"accepted\":8}\n"
	"{\"t\":30.000000,\"kind\":\"fault\",\"action\":\"kill\",\"node\":\"server/2\",\"event\":0}\n"
	"{\"t\":40.000000,\"kind\":\"iteration\",\"iteration\":2,\"result\":\"fail\",\"duration_s\":20,\"accepted\":3}\n"
	"{\"t\":45.000000,\"kind\":\"fault\",\"action\":\"restart\",\"node\":\"server/2\",\"event\":1}\n"
	"{\"t\":60.000000,\"kind\":\"fault\",\"action\":\"clock_skew\",\"node\":\"server/1\",\"offset\":\"+15m\",\"event\":2}\n"
	"{\"t\":61.500000,\"kind\":\"violation\",\"invariant\":\"agreement\",\"node\":\"server/1\",\"detail\":\"x\"}\n"
	"{\"t\":62.000000,\"kind\":\"iteration\",\"iteration\":3,\"result\":\"success\",\"duration_s\":21,\"accepted\":8}\n"
	"{\"t\":62.500000,\"kind\":\"eval\",\"iteration\":3,\"accuracy\":0.71,\"loss\":0.9}\n"
	"{\"t\":90.000000,\"kind\":\"fault\",\"action\":\"scale_in\",\"node_ids\":[\"2\",\"3\"],\"event\":3}\n"
	"{\"t\":100.000000,\"kind\":\"iteration\",\"iteration\":4,\"result\":\"success\",\"duration_s\":37,\"accepted\":7}\n"
	"{\"t\":100.500000,\"kind\":\"eval\",\"iteration\":4,\"accuracy\":0.87,\"loss\":0.41}\n"
	"{\"t\":120.000000,\"kind\":\"expect\",\"metric\":\"model.accuracy\",\"value\":0.87,\"ok\":false}\n";

static const char iterations[] =
	"{\"instanceName\":\"i0\",\"startTime\":\"2024-01-01 00:00:02.000\",\"endTime\":\"2024-01-01 00:00:20.000\","
	"\"flName\":\"lenet\",\"instanceStatus\":\"running\",\"flIterationNum\":20,\"currentIteration\":1,"
	"\"metricsLoss\":1.2,\"iterationExecutionTime\":18000,\"iterationResult\":\"success\","
	"\"clientVisitedInfo\":{\"startFLJobTotalClientNum\":12,\"startFLJobAcceptClientNum\":9,"
	"\"startFLJobRejectClientNum\":3,\"updateModelTotalClientNum\":9,\"updateModelAcceptClientNum\":8,"
	"\"updateModelRejectClientNum\":1,\"getModelTotalClientNum\":8,\"getModelAcceptClientNum\":8,"
	"\"getModelRejectClientNum\":0}}\n"
	"{\"instanceName\":\"i0\",\"currentIteration\":2,\"iterationExecutionTime\":20000,\"iterationResult\":\"timeout\","
	"\"clientVisitedInfo\":{\"startFLJobAcceptClientNum\":5,\"startFLJobRejectClientNum\":7,"
	"\"updateModelAcceptClientNum\":3,\"updateModelRejectClientNum\":2}}\n"
	"\n"
	"{\"instanceName\":\"i0\",\"currentIteration\":3,\"iterationExecutionTime\":21000,\"iterationResult\":\"success\","
	"\"accuracy\":0.71,\"loss\":0.9}\n";

static const char metrics_header[] =
	"t,iteration,iterations_success,iterations_failed,servers_alive,cluster_state,devices,devices_online,"
	"req_startFLJob,req_updateModel,req_getModel,ok_startFLJob,ok_updateModel,ok_getModel,rej_startFLJob,"
	"rej_updateModel,rej_getModel,p50_startFLJob_ms,p90_startFLJob_ms,p99_startFLJob_ms,p50_updateModel_ms,"
	"p90_updateModel_ms,p99_updateModel_ms,p50_getModel_ms,p90_getModel_ms,p99_getModel_ms,bytes_in,bytes_out,"
	"conn_errors\n";

static void metrics_rows(char *buf, size_t n)
{
	size_t len = (size_t)snprintf(buf, n, "%s", metrics_header);
	for (int t = 1; t <= 120; t++) {
		int alive = t >= 30 && t < 45 ? 3 : 4, state = t < 2 ? 0 : t >= 90 && t < 95 ? 5 : 1;
		double p = t % 7 ? 20 + t % 13 : 0; /* some idle seconds: 0 means no sample */
		len += (size_t)snprintf(buf + len, n - len,
					"%d.000,%d,%d,%d,%d,%d,100,%d,%d,%d,%d,%d,%d,%d,%d,%d,0,%g,%g,%g,%g,%g,%g,%g,%g,%g,"
					"%d,%d,%d\n", t, t / 25, t / 25, t > 40, alive, state, 60 + t % 10, 10, 8, 8,
					8, 7, 8, 2, 1, p, p * 1.5, p * 2, p + 3, p * 1.6, p * 2.2, p / 2, p, p * 1.2,
					40000 + t * 10, 90000, t == 31);
	}
	ck_assert_uint_lt(len, n - 1);
}

static void servers_rows(char *buf, size_t n)
{
	size_t len = (size_t)snprintf(buf, n, "t,server,requests,bytes_in,bytes_out,iteration,clock_offset_ms\n");
	for (int t = 1; t <= 120; t++)
		for (int s = 0; s < 4; s++) {
			if (s == 2 && t >= 30 && t < 45)
				continue;
			len += (size_t)snprintf(buf + len, n - len, "%d.000,%d,%d,%d,%d,%d,%d\n", t, s, 5 + s, 10000 + s,
						22000, t / 25, s == 1 && t >= 60 ? 900000 : s * 3);
		}
	ck_assert_uint_lt(len, n - 1);
}

static void fixture(void)
{
	snprintf(dir, sizeof dir, "/tmp/flbench-test-report-%ld", (long)getpid());
	mkdir(dir, 0755);
	put("summary.json", summary);
	put("events.jsonl", events);
	put("iterations.jsonl", iterations);
	static char m[64 * 1024], s[64 * 1024];
	metrics_rows(m, sizeof m);
	servers_rows(s, sizeof s);
	put("metrics.csv", m);
	put("servers.csv", s);
}

static void teardown(void)
{
	static const char *const names[] = { "summary.json", "events.jsonl", "iterations.jsonl", "metrics.csv",
					     "servers.csv", "report.html" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		rm(names[i]);
	rmdir(dir);
}

/* Every "http://" or "https://" in the page must be an SVG namespace declaration. */
static void assert_offline(const char *html)
{
	for (const char *p = html; (p = strstr(p, "http")); p++) {
		if (strncmp(p, "http://", 7) && strncmp(p, "https://", 8))
			continue;
		int ns = !strncmp(p - 7, "xmlns=\"", 7) || !strncmp(p - 13, "xmlns:xlink=\"", 13);
		ck_assert_msg(ns, "network reference in the page: %.60s", p - 10);
	}
	ck_assert_ptr_null(strstr(html, " src="));
	ck_assert_ptr_null(strstr(html, "<link"));
}

/* gnuplot on PATH? (`make deps` installs gnuplot-nox; without it the page must say so.) */
static int have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096], exe[4200];
	snprintf(buf, sizeof buf, "%s", path ? path : "");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(exe, sizeof exe, "%s/gnuplot", d);
		if (access(exe, X_OK) == 0)
			return 1;
	}
	return 0;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(full_run_page)
{
	err[0] = 'x';
	int rc = report_write(dir, err, sizeof err);
	ck_assert_msg(rc == 0, "report_write: %d %s", rc, err);
	if (!have_gnuplot()) {
		/* the page is still complete but for the plots, and says how to get them */
		ck_assert_msg(strstr(err, "apt-get install gnuplot-nox"), "warning: %s", err);
		fprintf(stderr, "test_report: gnuplot is not installed here: plots not checked "
				"(apt-get install gnuplot-nox)\n");
	} else {
		ck_assert_msg(err[0] == '\0', "unexpected warning: %s", err);
	}
	char *html = slurp("report.html");
	ck_assert_ptr_nonnull(html);
	ck_assert_msg(!strncmp(html, "<!DOCTYPE html>", 15), "not an HTML page");
	ck_assert_int_eq(count(html, "<html"), 1);
	ck_assert_ptr_nonnull(strstr(html, "</html>"));
	/* the malicious scenario name is escaped everywhere, never live */
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_nonnull(strstr(html, "evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;co"));
	ck_assert_ptr_null(strstr(html, "<b>model differs"));
	ck_assert_ptr_nonnull(strstr(html, "&lt;b&gt;model differs"));
	/* the seed as written, all 20 digits (a double would round it) */
	ck_assert_ptr_nonnull(strstr(html, "18446744073709551557"));
	ck_assert_ptr_nonnull(strstr(html, "abc1234"));
	/* every expectation with its verdict: two PASS, one FAIL, and the overall FAIL */
	ck_assert_ptr_nonnull(strstr(html, "iterations.success"));
	ck_assert_ptr_nonnull(strstr(html, "model.accuracy"));
	ck_assert_ptr_nonnull(strstr(html, "cluster.state"));
	ck_assert_int_eq(count(html, "<td class=\"pass\">PASS"), 2);
	ck_assert_int_eq(count(html, "<td class=\"fail\">FAIL"), 1);
	ck_assert_ptr_nonnull(strstr(html, "<div class=\"banner fail\">"));
	/* the violation and every fault, numbered */
	ck_assert_ptr_nonnull(strstr(html, "agreement"));
	ck_assert_ptr_nonnull(strstr(html, "<td>F4</td>"));
	ck_assert_ptr_null(strstr(html, "<td>F5</td>"));
	ck_assert_ptr_nonnull(strstr(html, "clock_skew"));
	assert_offline(html);
	if (!have_gnuplot()) {
		free(html);
		return;
	}
	/* plots: gnuplot is installed here, so there are SVGs, with the fault markers in them */
	ck_assert_msg(count(html, "<svg") >= 8, "only %d SVGs", count(html, "<svg"));
	ck_assert_ptr_nonnull(strstr(html, "F1 kill server/2"));
	ck_assert_ptr_nonnull(strstr(html, "F3 clock_skew server/1"));
	ck_assert_ptr_null(strstr(html, "<?xml"));
	ck_assert_ptr_null(strstr(html, "id='gpPt1'")); /* ids are made unique per figure */
	ck_assert_ptr_null(strstr(html, "not drawn: gnuplot failed"));
	/* accuracy is plotted because the run evaluated the model */
	char *acc = strstr(html, "id=\"fig-accuracy\"");
	ck_assert_ptr_nonnull(acc);
	char *next = strstr(acc, "<h3");
	char *svg = strstr(acc, "<svg");
	ck_assert_msg(svg && (!next || svg < next), "no accuracy plot");
	free(html);
}
END_TEST

START_TEST(missing_files_are_noted)
{
	rm("metrics.csv");
	rm("servers.csv");
	rm("iterations.jsonl");
	put("events.jsonl", "");
	int rc = report_write(dir, err, sizeof err);
	ck_assert_msg(rc == 0, "report_write: %s", err);
	char *html = slurp("report.html");
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_nonnull(strstr(html, "metrics.csv is missing from the output directory"));
	ck_assert_ptr_nonnull(strstr(html, "servers.csv is missing"));
	ck_assert_ptr_nonnull(strstr(html, "events.jsonl is empty"));
	ck_assert_ptr_nonnull(strstr(html, "iterations.jsonl is missing"));
	ck_assert_ptr_nonnull(strstr(html, "never evaluated")); /* no eval events, no accuracy lines */
	ck_assert_ptr_null(strstr(html, "<svg"));
	free(html);

	rm("summary.json");
	rm("events.jsonl");
	rc = report_write(dir, err, sizeof err);
	ck_assert_msg(rc == 0, "report_write: %s", err);
	html = slurp("report.html");
	ck_assert_ptr_nonnull(strstr(html, "Verdict unknown: summary.json is missing"));
	assert_offline(html);
	free(html);
}
END_TEST

START_TEST(malformed_files_name_file_and_line)
{
	static char m[64 * 1024];
	metrics_rows(m, sizeof m);
	char *third = strchr(strchr(strchr(m, '\n') + 1, '\n') + 1, '\n') + 1; /* line 4 */
	memcpy(third, "3.0,abc", 7);
	put("metrics.csv", m);
	int rc = report_write(dir, err, sizeof err);
	ck_assert_int_eq(rc, REPORT_EINPUT);
	ck_assert_msg(strstr(err, "metrics.csv:4:") && strstr(err, "abc"), "error: %s", err);
	ck_assert_ptr_null(slurp("report.html")); /* no page from half-read data */

	metrics_rows(m, sizeof m);
	strcpy(m + strlen(m), "121.0,1,2\n");
	put("metrics.csv", m);
	rc = report_write(dir, err, sizeof err);
	ck_assert_int_eq(rc, REPORT_EINPUT);
	ck_assert_msg(strstr(err, "metrics.csv:122:") && strstr(err, "3 fields"), "error: %s", err);

	metrics_rows(m, sizeof m);
	put("metrics.csv", m);
	put("events.jsonl", "{\"t\":1,\"kind\":\"state\"}\n\n{\"t\":2,\"kind\":\n");
	rc = report_write(dir, err, sizeof err);
	ck_assert_int_eq(rc, REPORT_EINPUT);
	ck_assert_msg(strstr(err, "events.jsonl:3:"), "error: %s", err);

	put("events.jsonl", events);
	put("summary.json", "{\"scenario\": \"x\",\n \"seed\": 1,\n \"metrics\": {,}\n}");
	rc = report_write(dir, err, sizeof err);
	ck_assert_int_eq(rc, REPORT_EINPUT);
	ck_assert_msg(strstr(err, "summary.json:3:"), "error: %s", err);
}
END_TEST

START_TEST(no_gnuplot_still_writes_tables)
{
	char empty[300];
	snprintf(empty, sizeof empty, "%s/nobin", dir);
	mkdir(empty, 0755);
	setenv("PATH", empty, 1); /* this test runs in its own process (Check forks) */
	int rc = report_write(dir, err, sizeof err);
	rmdir(empty);
	ck_assert_msg(rc == 0, "report_write: %s", err);
	ck_assert_msg(strstr(err, "gnuplot-nox"), "no install hint: '%s'", err);
	char *html = slurp("report.html");
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_nonnull(strstr(html, "apt-get install gnuplot-nox"));
	ck_assert_ptr_null(strstr(html, "<svg"));
	ck_assert_int_eq(count(html, "<td class=\"pass\">PASS"), 2);
	free(html);
}
END_TEST

START_TEST(many_faults_and_stale_tmpdir)
{
	/* 60 faults: too many for labelled lines; ticks along the top edge, and a note */
	static char ev[64 * 1024];
	size_t len = 0;
	for (int i = 0; i < 60; i++)
		len += (size_t)snprintf(ev + len, sizeof ev - len,
					"{\"t\":%d.5,\"kind\":\"fault\",\"action\":\"pause\",\"node\":\"server/%d\",\"event\":%d}\n",
					i * 2, i % 4, i);
	put("events.jsonl", ev);
	setenv("TMPDIR", "/nonexistent/flbench-tmp", 1); /* own process: Check forks per test */
	int rc = report_write(dir, err, sizeof err);
	ck_assert_msg(rc == 0, "report_write: %s", err);
	char *html = slurp("report.html");
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_nonnull(strstr(html, "<td>F60</td>"));
	ck_assert_ptr_nonnull(strstr(html, "short red ticks along the top edge"));
	if (have_gnuplot()) {
		ck_assert_msg(count(html, "<svg") >= 8, "only %d SVGs", count(html, "<svg"));
		ck_assert_ptr_null(strstr(html, "F1 pause")); /* no labels */
	}
	free(html);
}
END_TEST

START_TEST(not_a_directory)
{
	ck_assert_int_eq(report_write("/nonexistent/flbench/run", err, sizeof err), REPORT_EIO);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/flbench/run"));
	ck_assert_int_eq(report_write("/nonexistent/flbench/run", NULL, 0), REPORT_EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, fixture, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, full_run_page);
	tcase_add_test(tc, missing_files_are_noted);
	tcase_add_test(tc, malformed_files_name_file_and_line);
	tcase_add_test(tc, no_gnuplot_still_writes_tables);
	tcase_add_test(tc, many_faults_and_stale_tmpdir);
	tcase_add_test(tc, not_a_directory);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
