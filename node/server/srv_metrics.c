/*
 * srv_metrics.c — what the server tells observers: GET /metrics in the Prometheus text format,
 * and (on rank 0) one line per iteration in iterations.jsonl with the fields of MindSpore's
 * metrics.json.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const round_names[SRV_NROUNDS] = { "startFLJob", "updateModel", "getModel",
						      "pushMetrics", "other" };
static const char *const rc_names[7] = { "200", "201", "300", "400", "500", "gate", "http_error" };

void srv_count_request(srv *s, int round, int retcode)
{
	int k;

	switch (retcode) {
	case 200: k = 0; break;
	case 201: k = 1; break;
	case 300: k = 2; break;
	case 400: k = 3; break;
	case 500: k = 4; break;
	case 1: k = 5; break;
	default: k = 6; break;
	}
	if (round < 0 || round >= SRV_NROUNDS)
		round = SRV_ROUND_OTHER;
	s->req_count[round][k]++;
}

/* ---- per-iteration statistics on the wire ---- */

static void add_round(cJSON *o, const char *name, const srv_round_stats *r)
{
	cJSON *a = cJSON_CreateArray();

	cJSON_AddItemToArray(a, cJSON_CreateNumber((double)r->total));
	cJSON_AddItemToArray(a, cJSON_CreateNumber((double)r->accept));
	cJSON_AddItemToArray(a, cJSON_CreateNumber((double)r->reject));
	cJSON_AddItemToObject(o, name, a);
}

cJSON *srv_stats_to_json(const srv_iter_stats *st)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_round(o, "start", &st->start);
	add_round(o, "update", &st->update);
	add_round(o, "get", &st->get);
	cJSON_AddNumberToObject(o, "upload_loss_sum", st->upload_loss_sum);
	cJSON_AddNumberToObject(o, "upload_loss_n", (double)st->upload_loss_n);
	cJSON_AddNumberToObject(o, "metric_loss_sum", st->metric_loss_sum);
	cJSON_AddNumberToObject(o, "metric_acc_sum", st->metric_acc_sum);
	cJSON_AddNumberToObject(o, "metric_n", (double)st->metric_n);
	return o;
}

static void read_round(const cJSON *o, const char *name, srv_round_stats *r)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_GetArraySize(a) != 3)
		return;
	r->total += (uint64_t)cJSON_GetArrayItem(a, 0)->valuedouble;
	r->accept += (uint64_t)cJSON_GetArrayItem(a, 1)->valuedouble;
	r->reject += (uint64_t)cJSON_GetArrayItem(a, 2)->valuedouble;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void srv_stats_add_json(srv_iter_stats *st, const cJSON *j)
{
	if (!cJSON_IsObject(j))
		return;
	read_round(j, "start", &st->start);
	read_round(j, "update", &st->update);
	read_round(j, "get", &st->get);
	st->upload_loss_sum += num(j, "upload_loss_sum");
	st->upload_loss_n += (uint64_t)num(j, "upload_loss_n");
	st->metric_loss_sum += num(j, "metric_loss_sum");
	st->metric_acc_sum += num(j, "metric_acc_sum");
	st->metric_n += (uint64_t)num(j, "metric_n");
}

/* ---- iterations.jsonl ---- */

/* MindSpore writes "2021-12-08 17:30:11.123"; the clock is the host's (skew included). */
static void fmt_time(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void srv_metrics_iteration(srv *s, int64_t iter, int valid, const srv_iter_stats *st,
			   int64_t start_ms, int64_t end_ms)
{
	char a[40], b[40];
	cJSON *j = cJSON_CreateObject(), *v = cJSON_CreateObject();

	if (!j || !v) {
		cJSON_Delete(j);
		cJSON_Delete(v);
		return;
	}
	fmt_time(a, sizeof a, start_ms);
	fmt_time(b, sizeof b, end_ms);
	cJSON_AddStringToObject(j, "instanceName", s->instance_name);
	cJSON_AddStringToObject(j, "startTime", a);
	cJSON_AddStringToObject(j, "endTime", b);
	cJSON_AddStringToObject(j, "flName", s->cfg.fl_name);
	cJSON_AddStringToObject(j, "instanceStatus", srv_instance_name(s->instance_state));
	cJSON_AddNumberToObject(j, "flIterationNum", (double)s->cfg.fl_iteration_num);
	cJSON_AddNumberToObject(j, "currentIteration", (double)iter);
	cJSON_AddNumberToObject(j, "metricsAuc",
				st->metric_n ? st->metric_acc_sum / (double)st->metric_n : 0.0);
	double loss = st->upload_loss_n ? st->upload_loss_sum / (double)st->upload_loss_n :
		      st->metric_n ? st->metric_loss_sum / (double)st->metric_n : 0.0;
	cJSON_AddNumberToObject(j, "metricsLoss", loss);
	cJSON_AddNumberToObject(j, "iterationExecutionTime", (double)(end_ms - start_ms));
	cJSON_AddNumberToObject(v, "startFLJobTotalClientNum", (double)st->start.total);
	cJSON_AddNumberToObject(v, "startFLJobAcceptClientNum", (double)st->start.accept);
	cJSON_AddNumberToObject(v, "startFLJobRejectClientNum", (double)st->start.reject);
	cJSON_AddNumberToObject(v, "updateModelTotalClientNum", (double)st->update.total);
	cJSON_AddNumberToObject(v, "updateModelAcceptClientNum", (double)st->update.accept);
	cJSON_AddNumberToObject(v, "updateModelRejectClientNum", (double)st->update.reject);
	cJSON_AddNumberToObject(v, "getModelTotalClientNum", (double)st->get.total);
	cJSON_AddNumberToObject(v, "getModelAcceptClientNum", (double)st->get.accept);
	cJSON_AddNumberToObject(v, "getModelRejectClientNum", (double)st->get.reject);
	cJSON_AddItemToObject(j, "clientVisitedInfo", v);
	cJSON_AddStringToObject(j, "iterationResult", valid ? "success" : "fail");
	srv_model *m = srv_store_get(&s->store, iter);
	if (m)
		srv_json_add_u64(j, "modelHash", m->hash);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return;
	size_t n = strlen(text);
	char *line = malloc(n + 2);
	if (line) {
		memcpy(line, text, n);
		line[n] = '\n';
		int rc = rt_file_append(s->h, "iterations.jsonl", line, n + 1,
					s->cfg.recovery ? RT_FILE_SYNC : 0);
		if (rc)
			rt_log(s->h, RT_LOG_WARN, "appending iterations.jsonl failed: %s",
			       rt_strerror(rc));
		free(line);
	}
	free(text);
}

/* ---- GET /metrics ---- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || b->oom)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void srv_metrics_respond(srv *s, http_request *r)
{
	sbuf b = { 0 };
	http_server_stats hs = { 0 };
	srv_status st;

	srv_get_status(s, &st);
	if (s->http)
		http_server_get_stats(s->http, &hs);
	sb_printf(&b, "# HELP flserver_requests_total Device requests by round and retcode.\n"
		  "# TYPE flserver_requests_total counter\n");
	for (int i = 0; i < SRV_NROUNDS; i++)
		for (int k = 0; k < 7; k++)
			if (s->req_count[i][k])
				sb_printf(&b, "flserver_requests_total{round=\"%s\",retcode=\"%s\"} %"
					  PRIu64 "\n", round_names[i], rc_names[k], s->req_count[i][k]);
	sb_printf(&b, "# HELP flserver_iteration The iteration being trained.\n"
		  "# TYPE flserver_iteration gauge\nflserver_iteration %" PRId64 "\n", st.iteration);
	sb_printf(&b, "# TYPE flserver_last_committed_iteration gauge\n"
		  "flserver_last_committed_iteration %" PRId64 "\n", st.last_committed);
	sb_printf(&b, "# HELP flserver_iterations_total Iterations ended, by result.\n"
		  "# TYPE flserver_iterations_total counter\n"
		  "flserver_iterations_total{result=\"success\"} %" PRIu64 "\n"
		  "flserver_iterations_total{result=\"fail\"} %" PRIu64 "\n",
		  st.iterations_ok, st.iterations_failed);
	sb_printf(&b, "# HELP flserver_bytes_total Device API bytes (HTTP bodies and headers).\n"
		  "# TYPE flserver_bytes_total counter\n"
		  "flserver_bytes_total{direction=\"in\"} %" PRIu64 "\n"
		  "flserver_bytes_total{direction=\"out\"} %" PRIu64 "\n", hs.bytes_in, hs.bytes_out);
	sb_printf(&b, "# HELP flserver_body_bytes_total Device API bodies (envelopes, gate texts).\n"
		  "# TYPE flserver_body_bytes_total counter\n"
		  "flserver_body_bytes_total{direction=\"in\"} %" PRIu64 "\n"
		  "flserver_body_bytes_total{direction=\"out\"} %" PRIu64 "\n", s->api_bytes_in,
		  s->api_bytes_out);
	sb_printf(&b, "# TYPE flserver_cluster_state gauge\nflserver_cluster_state{state=\"%s\"} 1\n",
		  s->cluster_state[0] ? s->cluster_state : "UNKNOWN");
	sb_printf(&b, "# TYPE flserver_instance_state gauge\n"
		  "flserver_instance_state{state=\"%s\"} 1\n", st.instance_state);
	sb_printf(&b, "# TYPE flserver_safemode gauge\nflserver_safemode %d\n", st.safemode);
	sb_printf(&b, "# TYPE flserver_ready gauge\nflserver_ready %d\n", st.ready);
	sb_printf(&b, "# TYPE flserver_rank gauge\nflserver_rank %d\n", st.rank);
	sb_printf(&b, "# TYPE flserver_leader gauge\nflserver_leader %d\n", st.leader);
	sb_printf(&b, "# TYPE flserver_leader_epoch gauge\nflserver_leader_epoch %llu\n",
		  (unsigned long long)st.leader_epoch);
	sb_printf(&b, "# TYPE flserver_open_connections gauge\nflserver_open_connections %zu\n",
		  hs.open_connections);
	if (b.oom || !b.p)
		http_respond(r, 500, "text/plain", "out of memory\n", 14, NULL);
	else
		http_respond(r, 200, "text/plain; version=0.0.4", b.p, b.len, NULL);
	free(b.p);
}
