/*
 * suite.c — see suite.h.
 */
#include "suite.h"

#include "engine.h"
#include "../scenario/scenario.h"
#include "../../reports/compare.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SUITE_MAX 64

typedef struct suite_case {
	char file[512], baseline[512], duration[32];
	int64_t seed; /* -1: the scenario's */
	char thresholds[16][96];
	int nthresholds;
	/* results */
	int ran, ok, gate_failed;
	char name[128], why[640];
	double wall;
} suite_case;

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static int parse_suite(const char *file, char *name, size_t nlen, suite_case *cases, int *n)
{
	size_t len;
	char *text = read_all(file, &len);
	if (!text) {
		fprintf(stderr, "sim suite: %s: cannot read: %s\n", file, strerror(errno));
		return 2;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *list = root ? cJSON_GetObjectItemCaseSensitive(root, "scenarios") : NULL;
	const cJSON *nm = root ? cJSON_GetObjectItemCaseSensitive(root, "name") : NULL;
	if (!cJSON_IsObject(root) || !cJSON_IsArray(list) || !cJSON_IsString(nm)) {
		fprintf(stderr, "sim suite: %s: expected {\"name\": \"...\", \"scenarios\": [...]}\n", file);
		cJSON_Delete(root);
		return 2;
	}
	for (const cJSON *k = root->child; k; k = k->next)
		if (strcmp(k->string, "name") && strcmp(k->string, "scenarios") && strcmp(k->string, "description")) {
			fprintf(stderr, "sim suite: %s: $.%s: unknown key (known: name, description, scenarios)\n", file, k->string);
			cJSON_Delete(root);
			return 2;
		}
	snprintf(name, nlen, "%s", nm->valuestring);
	*n = 0;
	int i = 0;
	for (const cJSON *c = list->child; c; c = c->next, i++) {
		if (*n >= SUITE_MAX) {
			fprintf(stderr, "sim suite: %s: at most %d scenarios\n", file, SUITE_MAX);
			cJSON_Delete(root);
			return 2;
		}
		suite_case *sc = &cases[(*n)++];
		memset(sc, 0, sizeof *sc);
		sc->seed = -1;
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "file");
		if (!cJSON_IsString(f)) {
			fprintf(stderr, "sim suite: %s: $.scenarios[%d].file: required string is missing\n", file, i);
			cJSON_Delete(root);
			return 2;
		}
		for (const cJSON *k = c->child; k; k = k->next) {
			if (!strcmp(k->string, "file")) {
				snprintf(sc->file, sizeof sc->file, "%s", k->valuestring);
			} else if (!strcmp(k->string, "baseline") && cJSON_IsString(k)) {
				snprintf(sc->baseline, sizeof sc->baseline, "%s", k->valuestring);
			} else if (!strcmp(k->string, "duration") && cJSON_IsString(k)) {
				snprintf(sc->duration, sizeof sc->duration, "%s", k->valuestring);
			} else if (!strcmp(k->string, "seed") && cJSON_IsNumber(k) && k->valuedouble >= 0) {
				sc->seed = (int64_t)k->valuedouble;
			} else if (!strcmp(k->string, "thresholds") && cJSON_IsObject(k)) {
				for (const cJSON *t = k->child; t && sc->nthresholds < 16; t = t->next) {
					if (cJSON_IsNumber(t))
						snprintf(sc->thresholds[sc->nthresholds++], 96, "%s=%g", t->string, t->valuedouble);
					else if (cJSON_IsString(t))
						snprintf(sc->thresholds[sc->nthresholds++], 96, "%s=%s", t->string, t->valuestring);
				}
			} else {
				fprintf(stderr, "sim suite: %s: $.scenarios[%d].%s: unknown key or wrong type "
					"(known: file, seed, duration, baseline, thresholds)\n", file, i, k->string);
				cJSON_Delete(root);
				return 2;
			}
		}
	}
	cJSON_Delete(root);
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *text = read_all(from, &len);
	if (!text)
		return -1;
	FILE *f = fopen(to, "wb");
	int rc = f && fwrite(text, 1, len, f) == len ? 0 : -1;
	if (f && fclose(f))
		rc = -1;
	free(text);
	return rc;
}

static void xml_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

int suite_main(const char *file, const char *out_dir, int jobs_unused, int update, int quiet)
{
	(void)jobs_unused;
	static suite_case cases[SUITE_MAX];
	char name[128];
	int n = 0;
	int rc = parse_suite(file, name, sizeof name, cases, &n);
	if (rc)
		return rc;
	char out[512];
	snprintf(out, sizeof out, "%s", out_dir ? out_dir : "reports/out/suites");
	char cmd[700];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", out, name);
	if (system(cmd)) {
		fprintf(stderr, "sim suite: cannot create %s/%s\n", out, name);
		return 2;
	}
	int failed = 0;
	for (int i = 0; i < n; i++) {
		suite_case *c = &cases[i];
		char err[1024] = "";
		scenario *sc;
		if (scenario_load(c->file, &sc, err, sizeof err)) {
			fprintf(stderr, "sim suite: %s\n", err);
			return 2;
		}
		if (c->seed >= 0)
			sc->seed = (uint64_t)c->seed;
		if (c->duration[0]) {
			int64_t ns;
			if (sc_parse_duration_ns(c->duration, 0, &ns) || ns <= 0) {
				fprintf(stderr, "sim suite: %s: duration of %s: expected e.g. \"60s\"\n", file, c->file);
				scenario_free(sc);
				return 2;
			}
			sc->duration_ns = (uint64_t)ns;
		}
		snprintf(c->name, sizeof c->name, "%s", sc->name);
		char dir[700];
		snprintf(dir, sizeof dir, "%s/%s/%s", out, name, sc->name);
		engine_opts eo = {.out_dir = dir};
		engine_result r;
		rc = engine_run(sc, &eo, &r, err, sizeof err);
		if (rc) {
			fprintf(stderr, "sim suite: %s\n", err[0] ? err : "the run failed");
			scenario_free(sc);
			return 2;
		}
		c->ran = 1;
		c->ok = r.ok;
		c->wall = r.wall_time_s;
		char why[sizeof c->why] = ""; /* built apart, then copied: c->why is not a printf source */
		if (!r.ok)
			snprintf(why, sizeof why, "%s (replay: bin/sim run %s --seed %" PRIu64 ")",
				 r.first_failure, sc->file, sc->seed);
		char summary[760];
		snprintf(summary, sizeof summary, "%s/summary.json", dir);
		if (c->baseline[0] && update) {
			if (copy_file(summary, c->baseline))
				fprintf(stderr, "sim suite: cannot write baseline %s\n", c->baseline);
			else if (!quiet)
				printf("  baseline written: %s\n", c->baseline);
		} else if (c->baseline[0]) {
			/* the regression gate, on the figures that do not depend on the machine */
			char *argv[48];
			int argc = 0;
			argv[argc++] = "compare";
			argv[argc++] = c->baseline;
			argv[argc++] = summary;
			static char off[3][64] = {"wall_time_s=off", "speedup=off", "sim.speedup=off"};
			for (int k = 0; k < 3; k++) {
				argv[argc++] = "--threshold";
				argv[argc++] = off[k];
			}
			for (int k = 0; k < c->nthresholds; k++) {
				argv[argc++] = "--threshold";
				argv[argc++] = c->thresholds[k];
			}
			char table[760];
			snprintf(table, sizeof table, "%s/compare.txt", dir);
			FILE *tf = fopen(table, "w");
			int g = compare_run(argc, argv, tf ? tf : stdout, stderr);
			if (tf)
				fclose(tf);
			if (g == 2) {
				fprintf(stderr, "sim suite: %s: baseline %s could not be compared\n", file, c->baseline);
				scenario_free(sc);
				return 2;
			}
			if (g == 1) {
				c->gate_failed = 1;
				size_t l = strlen(why);
				snprintf(why + l, sizeof why - l, "%sregressed against %s (see %s)", l ? "; " : "",
					 c->baseline, table);
			}
		}
		memcpy(c->why, why, sizeof why);
		int pass = c->ok && !c->gate_failed;
		failed += !pass;
		printf("%-24s %s  %.1f s wall%s%s\n", sc->name, pass ? "PASS" : "FAIL", c->wall,
		       pass ? "" : "  ", pass ? "" : c->why);
		fflush(stdout);
		scenario_free(sc);
	}
	char junit[700];
	snprintf(junit, sizeof junit, "%s/%s/junit.xml", out, name);
	FILE *j = fopen(junit, "w");
	if (j) {
		double total = 0;
		for (int i = 0; i < n; i++)
			total += cases[i].wall;
		fprintf(j, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"");
		xml_put(j, name);
		fprintf(j, "\" tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n", n, failed, total);
		for (int i = 0; i < n; i++) {
			fprintf(j, "  <testcase classname=\"");
			xml_put(j, name);
			fprintf(j, "\" name=\"");
			xml_put(j, cases[i].name);
			fprintf(j, "\" time=\"%.3f\">", cases[i].wall);
			if (!cases[i].ok || cases[i].gate_failed) {
				fprintf(j, "<failure message=\"");
				xml_put(j, cases[i].why);
				fprintf(j, "\"/>");
			}
			fprintf(j, "</testcase>\n");
		}
		fprintf(j, "</testsuite>\n</testsuites>\n");
		fclose(j);
	}
	printf("suite %s: %d scenarios, %d passed, %d failed; junit: %s\n", name, n, n - failed, failed, junit);
	return failed ? 1 : 0;
}
