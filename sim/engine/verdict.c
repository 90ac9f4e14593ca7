/*
 * verdict.c — see verdict.h. Moved out of engine.c so that live mode writes the same files the
 * same way.
 */
#include "verdict.h"

#include "../node/util/flags.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const verdict_columns[VERDICT_NCOLS] = {
	"iteration", "iterations_success", "iterations_failed", "servers_alive", "cluster_state",
	"devices", "devices_online", "req_startFLJob", "req_updateModel", "req_getModel",
	"ok_startFLJob", "ok_updateModel", "ok_getModel", "rej_startFLJob", "rej_updateModel",
	"rej_getModel", "p50_startFLJob_ms", "p90_startFLJob_ms", "p99_startFLJob_ms",
	"p50_updateModel_ms", "p90_updateModel_ms", "p99_updateModel_ms", "p50_getModel_ms",
	"p90_getModel_ms", "p99_getModel_ms", "bytes_in", "bytes_out", "conn_errors"};

int verdict_judge(const sc_expect *x, const cJSON *metrics, cJSON *out, char *why, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(metrics, x->metric);
	cJSON_AddStringToObject(out, "metric", x->metric);
	if (x->has_min)
		cJSON_AddNumberToObject(out, "min", x->min);
	if (x->has_max)
		cJSON_AddNumberToObject(out, "max", x->max);
	if (x->has_equals) {
		if (x->equals_is_str)
			cJSON_AddStringToObject(out, "equals", x->equals_str);
		else
			cJSON_AddNumberToObject(out, "equals", x->equals_num);
	}
	if (!v) {
		cJSON_AddNullToObject(out, "value");
		snprintf(why, len, "%s: no such metric (see docs/outputs.md for the names)", x->metric);
		return 0;
	}
	cJSON_AddItemToObject(out, "value", cJSON_Duplicate(v, 1));
	if (cJSON_IsString(v)) {
		int ok = x->has_equals && x->equals_is_str && !strcmp(v->valuestring, x->equals_str);
		if (!ok)
			snprintf(why, len, "%s is \"%s\", expected \"%s\"", x->metric, v->valuestring,
				 x->equals_is_str ? x->equals_str : "a number");
		return ok;
	}
	double d = v->valuedouble;
	if (x->has_min && d < x->min) {
		snprintf(why, len, "%s = %g, expected at least %g", x->metric, d, x->min);
		return 0;
	}
	if (x->has_max && d > x->max) {
		snprintf(why, len, "%s = %g, expected at most %g", x->metric, d, x->max);
		return 0;
	}
	if (x->has_equals && (x->equals_is_str || fabs(d - x->equals_num) > 1e-9)) {
		snprintf(why, len, "%s = %g, expected %s%g", x->metric, d, x->equals_is_str ? x->equals_str : "",
			 x->equals_is_str ? 0.0 : x->equals_num);
		return 0;
	}
	return 1;
}

static char *xml_escape(const char *s)
{
	size_t n = strlen(s), k = 0;
	char *o = malloc(n * 6 + 1);
	if (!o)
		return NULL;
	for (; *s; s++) {
		const char *rep = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : *s == '"' ? "&quot;" : NULL;
		if (rep) {
			memcpy(o + k, rep, strlen(rep));
			k += strlen(rep);
		} else {
			o[k++] = *s;
		}
	}
	o[k] = '\0';
	return o;
}

static void write_junit(const verdict_in *in, const cJSON *expects, const char *replay)
{
	size_t cap = 65536, len = 0;
	char *x = malloc(cap);
	if (!x)
		return;
	int tests = cJSON_GetArraySize(expects) + 1, failures = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, expects) failures += !cJSON_IsTrue(cJSON_GetObjectItem(it, "ok"));
	failures += in->violations > 0;
	char *name = xml_escape(in->sc->name), *rep = xml_escape(replay);
	len += (size_t)snprintf(x + len, cap - len,
				"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
				"<testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n",
				name, tests, failures, (double)in->now_ns / 1e9);
	cJSON_ArrayForEach(it, expects)
	{
		char *m = xml_escape(cJSON_GetObjectItem(it, "metric")->valuestring);
		len += (size_t)snprintf(x + len, cap - len, "  <testcase classname=\"%s.expect\" name=\"%s\">", name, m);
		if (!cJSON_IsTrue(cJSON_GetObjectItem(it, "ok"))) {
			const cJSON *why = cJSON_GetObjectItem(it, "why");
			char *w = xml_escape(cJSON_IsString(why) ? why->valuestring : "failed");
			len += (size_t)snprintf(x + len, cap - len, "<failure message=\"%s\">replay: %s</failure>", w, rep);
			free(w);
		}
		len += (size_t)snprintf(x + len, cap - len, "</testcase>\n");
		free(m);
		if (len + 4096 > cap)
			break;
	}
	len += (size_t)snprintf(x + len, cap - len, "  <testcase classname=\"%s\" name=\"invariants\">", name);
	if (in->violations) {
		const cJSON *first = cJSON_GetArrayItem(in->violation_list, 0);
		const cJSON *d = first ? cJSON_GetObjectItem(first, "detail") : NULL;
		char *w = xml_escape(cJSON_IsString(d) ? d->valuestring : "violation");
		len += (size_t)snprintf(x + len, cap - len, "<failure message=\"%d violations: %s\">replay: %s</failure>",
					in->violations, w, rep);
		free(w);
	}
	snprintf(x + len, cap - len, "</testcase>\n</testsuite>\n</testsuites>\n");
	recorder_write_file(in->rec, "junit.xml", x);
	free(name);
	free(rep);
	free(x);
}

/* A cluster.config key in ms (a number, or a duration string); dflt when absent or bad. */
static int64_t config_ms(const scenario *sc, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(sc->config, key);
	int64_t ms;
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v) && flags_parse_ms(v->valuestring, &ms) == 0)
		return ms;
	return dflt;
}

/*
 * When no iteration succeeded and some failed, the likeliest cause is the one MindSpore's
 * defaults make easy: a device trains client_epoch_num epochs over its samples, and a window
 * shorter than that times every round out. Say so with both figures (empty when it does not fit).
 */
static void all_failed_hint(const scenario *sc, const cJSON *metrics, char *out, size_t len)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(metrics, "iterations.success");
	const cJSON *failed = cJSON_GetObjectItemCaseSensitive(metrics, "iterations.failed");
	out[0] = '\0';
	if (!cJSON_IsNumber(ok) || !cJSON_IsNumber(failed) || ok->valuedouble > 0 || failed->valuedouble < 1)
		return;
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(sc->config, "client_epoch_num");
	double epochs = cJSON_IsNumber(ep) ? ep->valuedouble : 25; /* MindSpore's default */
	const sc_dist *c = &sc->compute_ms_per_sample;
	double ms_per_sample = c->kind == SC_UNIFORM ? (c->a + c->b) / 2 : c->a;
	double train_s = epochs * (double)sc->data.samples_per_device * ms_per_sample / 1000.0;
	double window_s = (double)config_ms(sc, "update_model_time_window", 300000) / 1000.0;
	if (train_s <= 0 || train_s < window_s)
		return;
	snprintf(out, len, "no iteration succeeded: a typical device trains for %.1f s (client_epoch_num %g x "
		 "%ld samples x %g ms/sample) but update_model_time_window is %.1f s, so every round times out "
		 "(lower client_epoch_num or widen the window)", train_s, epochs, sc->data.samples_per_device,
		 ms_per_sample, window_s);
}

void verdict_write(const verdict_in *in, cJSON *metrics, engine_result *res)
{
	const scenario *sc = in->sc;
	cJSON *expects = cJSON_CreateArray();
	for (size_t i = 0; i < sc->n_expect; i++) {
		cJSON *x = cJSON_CreateObject();
		char why[300] = "";
		int ok = verdict_judge(&sc->expect[i], metrics, x, why, sizeof why);
		cJSON_AddBoolToObject(x, "ok", ok);
		if (!ok) {
			cJSON_AddStringToObject(x, "why", why);
			if (!res->expect_failed++)
				snprintf(res->first_failure, sizeof res->first_failure, "expectation failed: %s", why);
		}
		cJSON *ev = cJSON_Duplicate(x, 1);
		recorder_event(in->rec, in->now_ns, "expect", ev);
		cJSON_AddItemToArray(expects, x);
	}
	res->violations = in->violations;
	if (res->violations && !res->expect_failed) {
		const cJSON *first = cJSON_GetArrayItem(in->violation_list, 0);
		snprintf(res->first_failure, sizeof res->first_failure, "invariant %s violated at %.3f s on %s: %s",
			 cJSON_GetObjectItem(first, "invariant")->valuestring,
			 cJSON_GetObjectItem(first, "t")->valuedouble,
			 cJSON_GetObjectItem(first, "node")->valuestring,
			 cJSON_GetObjectItem(first, "detail")->valuestring);
	}
	res->ok = !res->expect_failed && !res->violations;
	all_failed_hint(sc, metrics, res->hint, sizeof res->hint);
	res->events_hash = recorder_events_hash(in->rec);
	res->events = recorder_events_count(in->rec);

	char replay[700], hex[32];
	snprintf(replay, sizeof replay, "bin/sim run %s --seed %" PRIu64 "%s", sc->file, sc->seed,
		 strcmp(in->mode, "sim") ? " --mode live" : "");
	cJSON *sum = cJSON_CreateObject();
	cJSON_AddStringToObject(sum, "scenario", sc->name);
	cJSON_AddNumberToObject(sum, "seed", (double)sc->seed);
	cJSON_AddStringToObject(sum, "commit", FL_COMMIT);
	cJSON_AddStringToObject(sum, "mode", in->mode);
	snprintf(hex, sizeof hex, "%016" PRIx64, res->trace_hash);
	cJSON_AddStringToObject(sum, "trace_hash", hex);
	snprintf(hex, sizeof hex, "%016" PRIx64, res->events_hash);
	cJSON_AddStringToObject(sum, "events_hash", hex);
	cJSON_AddNumberToObject(sum, "sim_time_s", res->sim_time_s);
	cJSON_AddNumberToObject(sum, "wall_time_s", res->wall_time_s);
	cJSON_AddNumberToObject(sum, "speedup", res->wall_time_s > 0 ? res->sim_time_s / res->wall_time_s : 0);
	cJSON_AddItemToObject(sum, "metrics", metrics);
	cJSON_AddItemToObject(sum, "expect", expects);
	cJSON_AddItemToObject(sum, "violations", cJSON_Duplicate(in->violation_list, 1));
	cJSON_AddItemToObject(sum, "scenario_resolved", scenario_to_json(sc));
	cJSON_AddBoolToObject(sum, "ok", res->ok);
	if (res->hint[0])
		cJSON_AddStringToObject(sum, "hint", res->hint);
	cJSON_AddStringToObject(sum, "replay", replay);
	if (in->extra)
		cJSON_AddItemToObject(sum, in->extra_key ? in->extra_key : "extra", in->extra);
	char *text = cJSON_Print(sum);
	if (text) {
		recorder_write_file(in->rec, "summary.json", text);
		free(text);
	}
	write_junit(in, expects, replay);
	cJSON_Delete(sum);
}
