/*
 * fl_fleet.c — the fl-fleet process: a fleet of simulated devices (sim/fleet/) against a live
 * cluster, on one rt_uv host (one uv loop, real TCP).
 *
 *   bin/fl-fleet --scheduler_ip=127.0.0.1 --scheduler_manage_port=11202 --devices=100 \
 *       --training=real --seed=1 --out=DIR
 *   bin/fl-fleet --servers=127.0.0.1:6668,127.0.0.1:6669 --devices=1000
 *
 * Servers come from the scheduler's GET /nodes (polled every --discovery_interval: alive SERVER
 * entries with their ip and flServerPort) or from a static --servers list. With --out, every
 * finished request is a line of DIR/requests.csv, every newly seen model's evaluation (real
 * training) a line of DIR/eval.csv, and DIR/summary.json the totals at exit. On a TTY a progress
 * line is redrawn every second. SIGINT/SIGTERM (or --duration) stop cleanly.
 *
 * With --control_port, a small HTTP API on --ip lets an orchestrator (sim's live mode) change
 * the running fleet as sim mode's events do:
 *   POST /resize {"devices": N}                  fleet_resize: surge or drain
 *   POST /skew   {"share": s, "offset_ms": o}    fleet_skew: devices [0, s*n) get o ms more
 * Both answer 200 {"devices": N} or 400 {"error_message": ...}.
 */
#include "../../node/proto/http.h"
#include "../../node/rt/rt_uv.h"
#include "../../node/util/flags.h"
#include "../fleet/fleet.h"
#include "../fleet/train_real.h"
#ifdef FL_HAVE_CUDA
#include "../fleet/train_cuda.h"
#endif

#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define MAX_SERVERS 256

typedef struct opts {
	char scheduler_ip[FLAG_STR_MAX];
	int64_t scheduler_manage_port;
	char servers[FLAG_STR_MAX];
	int64_t devices;
	char training[FLAG_STR_MAX];
	char train_backend[FLAG_STR_MAX];
	char model[FLAG_STR_MAX];
	int64_t seed;
	char out[FLAG_STR_MAX];
	char ip[FLAG_STR_MAX];
	char fl_name[FLAG_STR_MAX];
	char http_url_prefix[FLAG_STR_MAX];
	char partition[FLAG_STR_MAX];
	double alpha;
	int64_t classes;
	int64_t samples_per_device;
	char data_dir[FLAG_STR_MAX];
	char compute_ms_per_sample[FLAG_STR_MAX];
	char bandwidth_kbps[FLAG_STR_MAX];
	char clock_skew_ms[FLAG_STR_MAX];
	char session_s[FLAG_STR_MAX];
	double online_fraction;
	double dropout;
	int64_t request_timeout;
	int64_t max_wait;
	int64_t discovery_interval;
	int64_t duration;
	char progress[FLAG_STR_MAX];
	int evaluate;
	char log_level[FLAG_STR_MAX];
	int64_t control_port;
} opts;

typedef struct app {
	opts o;
	rt_uv *u;
	rt_host *h;
	fleet *fl;
	model_def def;
	train_real *tr;
	void *cuda; /* train_cuda, when built with CUDA and asked for */
	http_client *disc; /* GET /nodes */
	http_server *ctl;  /* --control_port (NULL without) */
	int disc_busy;
	fleet_server servers[MAX_SERVERS];
	size_t nservers;
	int have_servers; /* a list was set at least once */
	uv_signal_t sigint, sigterm;
	uv_timer_t tick, disc_timer, stop_timer;
	FILE *req_csv, *eval_csv;
	uint64_t t0_ns;
	int tty, stopping;
	int64_t last_eval_iter;
	float acc, loss;
	int has_eval;
	int64_t max_iter;
} app;

#define NFLAGS 31
static void flag_table(opts *o, flag_def *d)
{
	flag_def t[NFLAGS] = {
		{"scheduler_ip", FLAG_STR, o->scheduler_ip, "scheduler address for discovery", 0},
		{"scheduler_manage_port", FLAG_INT, &o->scheduler_manage_port,
		 "scheduler's management port (GET /nodes)", 0},
		{"servers", FLAG_STR, o->servers,
		 "static server list host:port,... (instead of discovery)", 0},
		{"devices", FLAG_INT, &o->devices, "number of simulated devices", 0},
		{"training", FLAG_STR, o->training, "synthetic or real (LeNet-5 on Fashion-MNIST)", 0},
		{"train_backend", FLAG_STR, o->train_backend,
		 "real training on: cpu (one device at a time) or cuda (batched on the GPU)", 0},
		{"model", FLAG_STR, o->model, "model the servers run: lenet5 or synthetic:N", 0},
		{"seed", FLAG_INT, &o->seed, "seed of every device draw and of the partitions", 0},
		{"out", FLAG_STR, o->out, "directory for requests.csv, eval.csv, summary.json", 0},
		{"ip", FLAG_STR, o->ip, "this fleet's address (outgoing connections bind to it)", 0},
		{"fl_name", FLAG_STR, o->fl_name, "fl_name the devices send", 0},
		{"http_url_prefix", FLAG_STR, o->http_url_prefix, "the servers' http_url_prefix", 0},
		{"partition", FLAG_STR, o->partition, "real training: iid, dirichlet or shards", 0},
		{"alpha", FLAG_DOUBLE, &o->alpha, "dirichlet concentration", 0},
		{"classes", FLAG_INT, &o->classes, "shards: classes per device", 0},
		{"samples_per_device", FLAG_INT, &o->samples_per_device,
		 "data size per device (real: 0 divides the 60000 images)", 0},
		{"data_dir", FLAG_STR, o->data_dir, "Fashion-MNIST directory (default: Debian's)", 0},
		{"compute_ms_per_sample", FLAG_STR, o->compute_ms_per_sample,
		 "training time per sample: N, uniform:a:b, normal:m:s or lognormal:median:sigma", 0},
		{"bandwidth_kbps", FLAG_STR, o->bandwidth_kbps,
		 "device bandwidth (same forms): transfer time = bytes / bandwidth", 0},
		{"clock_skew_ms", FLAG_STR, o->clock_skew_ms, "device clock offsets (same forms)", 0},
		{"session_s", FLAG_STR, o->session_s, "offline spell scale in seconds (same forms)", 0},
		{"online_fraction", FLAG_DOUBLE, &o->online_fraction, "share of devices online", 0},
		{"dropout", FLAG_DOUBLE, &o->dropout, "chance a device vanishes mid-round", 0},
		{"request_timeout", FLAG_MS, &o->request_timeout, "bound on one request", 0},
		{"max_wait", FLAG_MS, &o->max_wait,
		 "longest wait for a next_req_time (servers may name the end of the window)", 0},
		{"discovery_interval", FLAG_MS, &o->discovery_interval, "GET /nodes period", 0},
		{"duration", FLAG_MS, &o->duration, "stop after this long (0 = until a signal)", 0},
		{"progress", FLAG_STR, o->progress, "progress line: auto (on a TTY), on, off", 0},
		{"evaluate", FLAG_BOOL, &o->evaluate,
		 "real training: evaluate each new global model on the test set", 0},
		{"log_level", FLAG_STR, o->log_level, "debug, info, warn or error", 0},
		{"control_port", FLAG_INT, &o->control_port,
		 "HTTP control API on --ip (0 = none): POST /resize {\"devices\":N}, "
		 "POST /skew {\"share\":s,\"offset_ms\":o}", 0},
	};
	memcpy(d, t, sizeof t);
}

static void defaults(opts *o)
{
	memset(o, 0, sizeof *o);
	snprintf(o->scheduler_ip, sizeof o->scheduler_ip, "127.0.0.1");
	o->scheduler_manage_port = 11202;
	o->devices = 100;
	snprintf(o->training, sizeof o->training, "synthetic");
	snprintf(o->model, sizeof o->model, "lenet5");
	snprintf(o->train_backend, sizeof o->train_backend, "cpu");
	o->seed = 1;
	snprintf(o->ip, sizeof o->ip, "127.0.0.1");
	snprintf(o->fl_name, sizeof o->fl_name, "Lenet");
	snprintf(o->partition, sizeof o->partition, "iid");
	o->alpha = 0.5;
	o->classes = 2;
	snprintf(o->compute_ms_per_sample, sizeof o->compute_ms_per_sample, "1");
	snprintf(o->bandwidth_kbps, sizeof o->bandwidth_kbps, "10000");
	snprintf(o->clock_skew_ms, sizeof o->clock_skew_ms, "0");
	snprintf(o->session_s, sizeof o->session_s, "60");
	o->online_fraction = 1;
	o->request_timeout = 30000;
	o->max_wait = 10 * 60 * 1000;
	o->discovery_interval = 3000;
	snprintf(o->progress, sizeof o->progress, "auto");
	o->evaluate = 1;
	snprintf(o->log_level, sizeof o->log_level, "warn");
}

/* "5", "uniform:1:3", "normal:0:2000", "lognormal:5:0.6" -> d. 0 or -1. */
static int parse_dist(const char *s, fleet_dist *d)
{
	char kind[16];
	double a, b;
	char extra;
	if (sscanf(s, "%lf%c", &a, &extra) == 1) {
		*d = (fleet_dist){FLEET_FIXED, a, 0};
		return 0;
	}
	if (sscanf(s, "%15[a-z]:%lf:%lf%c", kind, &a, &b, &extra) != 3)
		return -1;
	if (!strcmp(kind, "uniform") && b >= a)
		*d = (fleet_dist){FLEET_UNIFORM, a, b};
	else if (!strcmp(kind, "normal") && b >= 0)
		*d = (fleet_dist){FLEET_NORMAL, a, b};
	else if (!strcmp(kind, "lognormal") && a > 0 && b >= 0)
		*d = (fleet_dist){FLEET_LOGNORMAL, a, b};
	else
		return -1;
	return 0;
}

/* "host:port,host:port" -> list (ids 0, 1, ...). Count, or -1. */
static int parse_servers(const char *s, fleet_server *out, size_t max)
{
	size_t n = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char item[64];
		unsigned port;
		char extra;
		if (!len || len >= sizeof item || n == max)
			return -1;
		memcpy(item, s, len);
		item[len] = '\0';
		char *colon = strrchr(item, ':');
		if (!colon || colon == item || colon - item >= 16 ||
		    sscanf(colon + 1, "%u%c", &port, &extra) != 1 || !port || port > 65535)
			return -1;
		*colon = '\0';
		if (!strcmp(item, "localhost"))
			snprintf(item, sizeof item, "127.0.0.1");
		unsigned q[4];
		if (sscanf(item, "%u.%u.%u.%u%c", &q[0], &q[1], &q[2], &q[3], &extra) != 4 ||
		    q[0] > 255 || q[1] > 255 || q[2] > 255 || q[3] > 255)
			return -1;
		snprintf(out[n].ip, sizeof out[n].ip, "%u.%u.%u.%u", q[0], q[1], q[2], q[3]);
		out[n].port = (uint16_t)port;
		out[n].id = (int)n;
		n++;
		s += len;
		if (*s == ',')
			s++;
	}
	return (int)n;
}

static double since_start_ms(app *a) { return (double)(rt_now_ns(a->h) - a->t0_ns) / 1e6; }

/* ---- observers ---- */

static void obs_request(void *ctx, fleet_round round, int server, int retcode, uint64_t lat_ns,
			size_t out, size_t in)
{
	app *a = ctx;
	if (a->req_csv)
		fprintf(a->req_csv, "%.3f,%s,%d,%d,%.3f,%zu,%zu\n", since_start_ms(a),
			fleet_round_name(round), server, retcode, (double)lat_ns / 1e6, out, in);
}

static void obs_model(void *ctx, int server, int64_t iteration, const float *w, size_t n)
{
	app *a = ctx;
	if (iteration > a->max_iter)
		a->max_iter = iteration;
	if (!a->tr || !a->o.evaluate || iteration <= a->last_eval_iter)
		return;
	a->last_eval_iter = iteration;
	float acc, loss;
	if (train_real_evaluate(a->tr, w, &acc, &loss))
		return;
	a->acc = acc;
	a->loss = loss;
	a->has_eval = 1;
	if (a->eval_csv) {
		fprintf(a->eval_csv, "%.3f,%" PRId64 ",%d,%.6f,%.6f\n", since_start_ms(a), iteration,
			server, acc, loss);
		fflush(a->eval_csv);
	}
	if (!a->tty) {
		printf("fl-fleet: iteration %" PRId64 ": accuracy %.4f loss %.4f\n", iteration, acc,
		       loss);
		fflush(stdout);
	}
}

/* ---- discovery: GET /nodes ---- */

static int server_cmp(const void *x, const void *y)
{
	const fleet_server *p = x, *q = y;
	return p->id != q->id ? (p->id < q->id ? -1 : 1) : strcmp(p->ip, q->ip);
}

static int json_int(const cJSON *o, const char *key, long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char *end;
	if (cJSON_IsNumber(v)) {
		*out = (long)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring[0]) {
		*out = strtol(v->valuestring, &end, 10);
		return *end ? -1 : 0;
	}
	return -1;
}

static void set_servers(app *a, fleet_server *list, size_t n)
{
	qsort(list, n, sizeof *list, server_cmp);
	if (a->have_servers && n == a->nservers && !memcmp(list, a->servers, n * sizeof *list))
		return;
	memcpy(a->servers, list, n * sizeof *list);
	a->nservers = n;
	a->have_servers = 1;
	fleet_set_servers(a->fl, a->servers, n);
	char line[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof line - 64; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%d=%s:%u", i ? " " : "",
					list[i].id, list[i].ip, list[i].port);
	rt_log(a->h, RT_LOG_INFO, "servers (%zu): %s", n, line);
	if (a->tty)
		fprintf(stderr, "\r\033[K");
	fprintf(stderr, "fl-fleet: %zu server%s: %s\n", n, n == 1 ? "" : "s", n ? line : "-");
}

static void on_nodes(int err, const http_response *resp, void *data)
{
	app *a = data;
	a->disc_busy = 0;
	if (err || resp->status != 200) {
		rt_log(a->h, RT_LOG_WARN, "GET /nodes: %s",
		       err ? rt_strerror(err) : http_status_text(resp->status));
		return; /* keep the last list: the scheduler may be restarting */
	}
	cJSON *j = cJSON_ParseWithLength((const char *)resp->body, resp->body_len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "nodeIds");
	if (!cJSON_IsArray(arr)) {
		rt_log(a->h, RT_LOG_WARN, "GET /nodes: no nodeIds array");
		cJSON_Delete(j);
		return;
	}
	fleet_server list[MAX_SERVERS];
	size_t n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
		const cJSON *alive = cJSON_GetObjectItemCaseSensitive(it, "alive");
		const cJSON *ip = cJSON_GetObjectItemCaseSensitive(it, "ip");
		long port, id;
		if (!cJSON_IsString(role) || strcmp(role->valuestring, "SERVER"))
			continue;
		if (!(cJSON_IsTrue(alive) ||
		      (cJSON_IsString(alive) && !strcmp(alive->valuestring, "true"))))
			continue;
		if (!cJSON_IsString(ip) || strlen(ip->valuestring) >= sizeof list[0].ip ||
		    json_int(it, "flServerPort", &port) || port < 1 || port > 65535)
			continue;
		/* "server/<node_id>": numeric node ids as they are, else the rank */
		if (json_int(it, "nodeId", &id) && json_int(it, "rankId", &id))
			id = (long)n;
		if (n == MAX_SERVERS)
			break;
		snprintf(list[n].ip, sizeof list[n].ip, "%s", ip->valuestring);
		list[n].port = (uint16_t)port;
		list[n].id = (int)id;
		n++;
	}
	cJSON_Delete(j);
	set_servers(a, list, n);
}

static void discover(uv_timer_t *t)
{
	app *a = t->data;
	if (a->disc_busy || a->stopping)
		return;
	int rc = http_client_request(a->disc, a->o.scheduler_ip, (uint16_t)a->o.scheduler_manage_port,
				     "GET", "/nodes", NULL, NULL, 0, NULL, 5000, on_nodes, a);
	if (!rc)
		a->disc_busy = 1;
}

/* ---- control API (--control_port) ---- */

static int json_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		return -1;
	*out = v->valuedouble;
	return 0;
}

static void on_control(http_server *srv, http_request *r, void *data)
{
	app *a = data;
	(void)srv;
	if (strcmp(r->path, "/resize") && strcmp(r->path, "/skew")) {
		http_respond_error(r, 404, "POST /resize {\"devices\": N} or POST /skew {\"share\": s, "
				   "\"offset_ms\": o}");
		return;
	}
	if (strcmp(r->method, "POST")) {
		http_respond_error(r, 405, "POST only");
		return;
	}
	if (!a->fl || a->stopping) {
		http_respond_error(r, 503, "the fleet is stopping");
		return;
	}
	cJSON *j = cJSON_ParseWithLength((const char *)r->body, r->body_len);
	double devices = 0, share = 0, offset = 0;
	const char *bad = NULL;
	if (!strcmp(r->path, "/resize")) {
		if (json_num(j, "devices", &devices) || devices < 0 || devices > 10000000 ||
		    devices != (double)(long)devices)
			bad = "expected {\"devices\": N} with N an integer in 0..10000000";
		else if (fleet_resize(a->fl, (long)devices))
			bad = "the fleet could not be resized (out of memory?)";
		else
			rt_log(a->h, RT_LOG_INFO, "control: resized to %ld devices", (long)devices);
	} else {
		if (json_num(j, "share", &share) || !(share >= 0 && share <= 1) ||
		    json_num(j, "offset_ms", &offset) || !(offset > -1e12 && offset < 1e12))
			bad = "expected {\"share\": s, \"offset_ms\": o} with s in [0, 1]";
		else {
			fleet_skew(a->fl, share, (int64_t)offset);
			rt_log(a->h, RT_LOG_INFO, "control: share %g of the devices skewed by %lld ms",
			       share, (long long)offset);
		}
	}
	cJSON_Delete(j);
	if (bad) {
		http_respond_error(r, 400, bad);
		return;
	}
	fleet_stats st;
	fleet_get_stats(a->fl, &st);
	char body[64];
	int len = snprintf(body, sizeof body, "{\"devices\":%ld}", st.devices);
	http_respond(r, 200, NULL, body, (size_t)len, NULL);
}

/* ---- progress, stop ---- */

static void progress(app *a, int final)
{
	fleet_stats st;
	fleet_get_stats(a->fl, &st);
	char ev[64] = "";
	if (a->has_eval)
		snprintf(ev, sizeof ev, " acc %.3f", a->acc);
	fprintf(stderr, "%s[%7.1fs] dev %ld on %ld train %ld fly %ld | start %" PRIu64 "/%" PRIu64
		" upd %" PRIu64 "/%" PRIu64 " get %" PRIu64 "/%" PRIu64 " | conn_err %" PRIu64
		" time_rej %" PRIu64 " | it %" PRId64 "%s%s",
		a->tty ? "\r\033[K" : "", since_start_ms(a) / 1e3, st.devices, st.online,
		st.training, st.in_request, st.ok[FLEET_START], st.requests[FLEET_START],
		st.ok[FLEET_UPDATE], st.requests[FLEET_UPDATE], st.ok[FLEET_GET],
		st.requests[FLEET_GET], st.conn_errors, st.time_rejected, a->max_iter, ev,
		final || !a->tty ? "\n" : "");
}

static void on_tick(uv_timer_t *t)
{
	app *a = t->data;
	if (a->tty)
		progress(a, 0);
	if (a->req_csv)
		fflush(a->req_csv);
}

static void write_summary(app *a)
{
	fleet_stats st;
	fleet_get_stats(a->fl, &st);
	char path[FLAG_STR_MAX + 32];
	snprintf(path, sizeof path, "%s/summary.json", a->o.out);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "seed", (double)a->o.seed);
	cJSON_AddStringToObject(j, "training", a->o.training);
	cJSON_AddStringToObject(j, "model", a->o.model);
	cJSON_AddNumberToObject(j, "wall_time_s", since_start_ms(a) / 1e3);
	cJSON_AddNumberToObject(j, "devices", (double)st.devices);
	cJSON_AddNumberToObject(j, "bytes_per_device", (double)st.bytes_per_device);
	cJSON *r = cJSON_AddObjectToObject(j, "rounds");
	for (int i = 0; i < FLEET_ROUNDS; i++) {
		cJSON *o = cJSON_AddObjectToObject(r, fleet_round_name((fleet_round)i));
		cJSON_AddNumberToObject(o, "requests", (double)st.requests[i]);
		cJSON_AddNumberToObject(o, "ok", (double)st.ok[i]);
		cJSON_AddNumberToObject(o, "rejected", (double)st.rejected[i]);
	}
	cJSON_AddNumberToObject(j, "updates_accepted", (double)st.updates_accepted);
	cJSON_AddNumberToObject(j, "conn_errors", (double)st.conn_errors);
	cJSON_AddNumberToObject(j, "time_rejected", (double)st.time_rejected);
	cJSON_AddNumberToObject(j, "dropouts", (double)st.dropouts);
	cJSON_AddNumberToObject(j, "bytes_out", (double)st.bytes_out);
	cJSON_AddNumberToObject(j, "bytes_in", (double)st.bytes_in);
	cJSON_AddNumberToObject(j, "last_iteration", (double)a->max_iter);
	if (a->has_eval) {
		cJSON_AddNumberToObject(j, "accuracy", a->acc);
		cJSON_AddNumberToObject(j, "loss", a->loss);
	}
	char *text = cJSON_Print(j);
	FILE *f = text ? fopen(path, "w") : NULL;
	if (f) {
		fprintf(f, "%s\n", text);
		fclose(f);
	}
	free(text);
	cJSON_Delete(j);
}

static void stop(app *a)
{
	if (a->stopping)
		return;
	a->stopping = 1;
	progress(a, 1);
	if (a->o.out[0])
		write_summary(a);
	uv_timer_stop(&a->tick);
	uv_timer_stop(&a->disc_timer);
	uv_timer_stop(&a->stop_timer);
	uv_signal_stop(&a->sigint);
	uv_signal_stop(&a->sigterm);
	if (a->ctl)
		http_server_stop(a->ctl);
	a->ctl = NULL;
	/* The clients complete what is in flight with RT_ECANCELED inside these calls. */
	fleet_destroy(a->fl);
	a->fl = NULL;
	http_client_free(a->disc);
	a->disc = NULL;
	rt_uv_stop(a->u);
}

static void on_signal(uv_signal_t *s, int signum)
{
	app *a = s->data;
	rt_log(a->h, RT_LOG_INFO, "signal %d: stopping", signum);
	stop(a);
}

static void on_stop_timer(uv_timer_t *t) { stop(t->data); }

/* ---- main ---- */

static int open_out(app *a, char *err, size_t errlen)
{
	if (mkdir(a->o.out, 0777) && errno != EEXIST) {
		snprintf(err, errlen, "--out %s: %s", a->o.out, strerror(errno));
		return -1;
	}
	char path[FLAG_STR_MAX + 32];
	snprintf(path, sizeof path, "%s/requests.csv", a->o.out);
	a->req_csv = fopen(path, "w");
	if (!a->req_csv) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(a->req_csv, "time_ms,round,server,retcode,latency_ms,bytes_out,bytes_in\n");
	if (a->tr) {
		snprintf(path, sizeof path, "%s/eval.csv", a->o.out);
		a->eval_csv = fopen(path, "w");
		if (!a->eval_csv) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		fprintf(a->eval_csv, "time_ms,iteration,server,accuracy,loss\n");
	}
	return 0;
}

/* Validate the options and fill the fleet config; 0 or -1 with err. */
static int configure(app *a, fleet_config *fc, char *err, size_t errlen)
{
	opts *o = &a->o;
	memset(fc, 0, sizeof *fc);
	if (o->devices < 0 || o->devices > 10000000) {
		snprintf(err, errlen, "--devices must be 0..10000000");
		return -1;
	}
	if (model_def_parse(o->model, &a->def)) {
		snprintf(err, errlen, "--model: unknown model '%s' (lenet5 or synthetic:N)", o->model);
		return -1;
	}
	if (strcmp(o->training, "synthetic") && strcmp(o->training, "real")) {
		snprintf(err, errlen, "--training must be synthetic or real");
		return -1;
	}
	if (!strcmp(o->training, "real") && strcmp(o->model, "lenet5")) {
		snprintf(err, errlen, "--training=real needs --model=lenet5");
		return -1;
	}
	const struct { const char *name, *val; fleet_dist *d; } dists[] = {
		{"compute_ms_per_sample", o->compute_ms_per_sample, &fc->compute_ms_per_sample},
		{"bandwidth_kbps", o->bandwidth_kbps, &fc->bandwidth_kbps},
		{"clock_skew_ms", o->clock_skew_ms, &fc->clock_skew_ms},
		{"session_s", o->session_s, &fc->session_s},
	};
	for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++)
		if (parse_dist(dists[i].val, dists[i].d)) {
			snprintf(err, errlen, "--%s: expected N, uniform:a:b, normal:m:s or "
				 "lognormal:median:sigma, got '%s'", dists[i].name, dists[i].val);
			return -1;
		}
	if (!(o->online_fraction > 0 && o->online_fraction <= 1) ||
	    !(o->dropout >= 0 && o->dropout <= 1)) {
		snprintf(err, errlen, "--online_fraction must be in (0, 1], --dropout in [0, 1]");
		return -1;
	}
	if (o->samples_per_device < 0 || o->scheduler_manage_port < 1 ||
	    o->scheduler_manage_port > 65535 || o->discovery_interval < 1 || o->control_port < 0 ||
	    o->control_port > 65535) {
		snprintf(err, errlen, "--samples_per_device must be >= 0, --scheduler_manage_port "
			 "1..65535, --discovery_interval positive, --control_port 0..65535");
		return -1;
	}
	if (strlen(o->fl_name) >= sizeof fc->fl_name ||
	    strlen(o->http_url_prefix) >= sizeof fc->url_prefix) {
		snprintf(err, errlen, "--fl_name or --http_url_prefix is too long (63 bytes at most)");
		return -1;
	}
	if (rt_log_level_parse(o->log_level) < 0 || (strcmp(o->progress, "auto") && strcmp(o->progress, "on") &&
					   strcmp(o->progress, "off"))) {
		snprintf(err, errlen, "--log_level: debug, info, warn or error; --progress: auto, on "
			 "or off");
		return -1;
	}
	fc->seed = rt_seed_derive((uint64_t)o->seed, "fleet-devices"); /* as the sim engine */
	fc->devices = o->devices;
	fc->model = &a->def;
	snprintf(fc->fl_name, sizeof fc->fl_name, "%.63s", o->fl_name);
	snprintf(fc->url_prefix, sizeof fc->url_prefix, "%.63s", o->http_url_prefix);
	fc->samples = (fleet_dist){FLEET_FIXED, o->samples_per_device ? (double)o->samples_per_device
								     : 600, 0};
	fc->online_fraction = o->online_fraction;
	fc->dropout = o->dropout;
	fc->request_timeout_ms = (uint64_t)o->request_timeout;
	fc->max_wait_ms = (uint64_t)o->max_wait;
	fc->obs = (fleet_observer){.on_request = obs_request, .on_model = obs_model, .ctx = a};
	if (!strcmp(o->training, "real")) {
		train_real_config tc = {.seed = (uint64_t)o->seed,
					.devices = o->devices > 0 ? o->devices : 1,
					.alpha = o->alpha, .classes = (int)o->classes,
					.samples_per_device = o->samples_per_device,
					.data_dir = o->data_dir[0] ? o->data_dir : NULL};
		snprintf(tc.partition, sizeof tc.partition, "%.15s", o->partition);
		char why[256];
		if (train_real_new(&tc, &a->tr, why, sizeof why)) {
			snprintf(err, errlen, "real training: %s", why);
			return -1;
		}
		fc->train = train_real_fn;
		fc->train_samples = train_real_samples;
		fc->train_ctx = a->tr;
	}
	if (!strcmp(o->train_backend, "cuda")) {
#ifdef FL_HAVE_CUDA
		train_cuda *tc = NULL;
		char why[256];
		if (a->tr && train_cuda_new(a->tr, &tc, why, sizeof why)) {
			snprintf(err, errlen, "--train_backend=cuda: %s", why);
			return -1;
		}
		if (tc) {
			a->cuda = tc;
			fc->train = NULL;
			fc->train_batch = train_cuda_batch_fn;
			fc->train_samples = train_cuda_samples;
			fc->train_ctx = tc;
		}
#else
		snprintf(err, errlen, "--train_backend=cuda: this build has no CUDA (no nvcc)");
		return -1;
#endif
	} else if (strcmp(o->train_backend, "cpu")) {
		snprintf(err, errlen, "--train_backend must be cpu or cuda");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	openblas_set_num_threads(1); /* reproducible training (lenet.h); one device at a time */
	app a;
	memset(&a, 0, sizeof a);
	defaults(&a.o);
	a.last_eval_iter = -1;
	flag_def defs[NFLAGS];
	flag_table(&a.o, defs);
	char err[512];
	int rc = flags_parse(defs, NFLAGS, argc, argv, "fl-fleet",
			     "A fleet of simulated FL devices (startFLJob, local training, updateModel, "
			     "getModel) against a live flbench cluster.",
			     stdout, err, sizeof err);
	if (rc == FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "fl-fleet: %s\n", err);
		return 2;
	}
	fleet_config fc;
	fleet_server statics[MAX_SERVERS];
	int nstatic = 0;
	if (configure(&a, &fc, err, sizeof err) ||
	    (a.o.servers[0] && (nstatic = parse_servers(a.o.servers, statics, MAX_SERVERS)) < 0)) {
		if (nstatic < 0)
			snprintf(err, sizeof err, "--servers: expected ip:port[,ip:port...], got '%s'",
				 a.o.servers);
		fprintf(stderr, "fl-fleet: %s\n", err);
		train_real_free(a.tr);
		return 2;
	}
	if (a.o.out[0] && open_out(&a, err, sizeof err)) {
		fprintf(stderr, "fl-fleet: %s\n", err);
		train_real_free(a.tr);
		return 1;
	}
	a.tty = !strcmp(a.o.progress, "on") || (!strcmp(a.o.progress, "auto") && isatty(2));
	a.u = rt_uv_new();
	rt_uv_host_config hc = {.name = "fleet", .ip = a.o.ip, .data_dir = a.o.out[0] ? a.o.out : ".",
				.seed = (uint64_t)a.o.seed};
	if (!a.u || (rc = rt_uv_host_new(a.u, &hc, &a.h)) != 0) {
		fprintf(stderr, "fl-fleet: cannot start: %s\n", a.u ? rt_strerror(rc) : "out of memory");
		train_real_free(a.tr);
		return 1;
	}
	rt_uv_host_set_log_level(a.h, rt_log_level_parse(a.o.log_level));
	a.t0_ns = rt_now_ns(a.h);
	if ((rc = fleet_new(a.h, &fc, &a.fl)) != 0 || (rc = http_client_new(a.h, NULL, &a.disc))) {
		fprintf(stderr, "fl-fleet: cannot start the fleet (%d)\n", rc);
		fleet_destroy(a.fl);
		rt_uv_free(a.u);
		train_real_free(a.tr);
		return 1;
	}
	if (a.o.control_port &&
	    (rc = http_server_start(a.h, a.o.ip, (uint16_t)a.o.control_port, NULL, on_control, &a,
				    &a.ctl)) != 0) {
		fprintf(stderr, "fl-fleet: --control_port %s:%lld: %s\n", a.o.ip,
			(long long)a.o.control_port, rt_strerror(rc));
		http_client_free(a.disc);
		fleet_destroy(a.fl);
		rt_uv_free(a.u);
		train_real_free(a.tr);
		return 1;
	}
	if (a.ctl)
		printf("fl-fleet: control API on http://%s:%u (POST /resize, POST /skew)\n", a.o.ip,
		       http_server_port(a.ctl));
	uv_loop_t *loop = rt_uv_loop(a.u);
	uv_signal_init(loop, &a.sigint);
	uv_signal_init(loop, &a.sigterm);
	uv_timer_init(loop, &a.tick);
	uv_timer_init(loop, &a.disc_timer);
	uv_timer_init(loop, &a.stop_timer);
	a.sigint.data = a.sigterm.data = a.tick.data = a.disc_timer.data = a.stop_timer.data = &a;
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	uv_timer_start(&a.tick, on_tick, 1000, 1000);
	if (a.o.duration > 0)
		uv_timer_start(&a.stop_timer, on_stop_timer, (uint64_t)a.o.duration, 0);
	if (nstatic > 0) {
		set_servers(&a, statics, (size_t)nstatic);
	} else {
		fprintf(stderr, "fl-fleet: discovering servers at http://%s:%lld/nodes every %lld ms\n",
			a.o.scheduler_ip, (long long)a.o.scheduler_manage_port,
			(long long)a.o.discovery_interval);
		uv_timer_start(&a.disc_timer, discover, 0, (uint64_t)a.o.discovery_interval);
	}
	printf("fl-fleet: %lld devices, %s training, model %s, seed %lld\n", (long long)a.o.devices,
	       a.o.training, a.o.model, (long long)a.o.seed);
	fflush(stdout);
	rt_uv_run(a.u);
	stop(&a); /* when the loop ran dry */
	if (a.req_csv)
		fclose(a.req_csv);
	if (a.eval_csv)
		fclose(a.eval_csv);
	rt_uv_free(a.u);
#ifdef FL_HAVE_CUDA
	train_cuda_free(a.cuda);
#endif
	train_real_free(a.tr);
	return 0;
}
