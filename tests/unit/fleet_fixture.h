/*
 * fleet_fixture.h — for test_fleet.c: scripted device-API servers (an http_server on each of
 * NSRV rt_sim hosts that decodes every request, records it and answers from the test's script,
 * or holds it), observers and a training plug that log what the fleet reports, and the set-up of
 * a simulated fleet host. Header-only (static), as each test program is built from one file.
 */
#ifndef FL_TEST_FLEET_FIXTURE_H
#define FL_TEST_FLEET_FIXTURE_H

#include "../../node/proto/envelope.h"
#include "../../node/proto/http.h"
#include "../../sim/fleet/fleet.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define PORT 6666
#define NSRV 2
#define MAXREC 4096
#define NPARAM 8

typedef struct rec {
	uint64_t t_ns;
	int server, round;
	long device;
	int64_t ts, iteration;
	double data_size;
	uint64_t hash; /* of an upload's floats */
	float w0;      /* its first float */
} rec;

struct T;
/* Answer (or hold) request r; *rc is the record just made. Returns nothing; must respond or
 * hold. */
typedef void (*script_fn)(struct T *t, int server, http_request *r, const rec *rc);

typedef struct tsrv {
	struct T *t;
	int id;
	rt_host *h;
	http_server *hs;
	http_request *held[64];
	int nheld;
} tsrv;

typedef struct T {
	rt_sim *sim;
	rt_host *hf;
	tsrv srv[NSRV];
	fleet *f;
	model_def def;
	script_fn script;
	rec recs[MAXREC];
	int nrec;
	/* the "normal" cluster the default script plays: one shared iteration */
	int64_t iter, model_iter;
	int updates, threshold;
	float model[NPARAM];
	/* observer logs */
	int n_timedout, n_refused, n_reset;
	int n_req, n_neg, n_zero, n_upd_obs, n_model_obs, n_time_obs;
	int last_retcode, last_server;
	uint64_t upd_obs_hash;
	float upd_first[NPARAM], upd_last[NPARAM]; /* the first and the latest accepted upload */
	float model_obs[NPARAM];
	int64_t model_obs_iter;
	/* training plug log */
	int n_train, train_epochs, train_batch, n_batches, max_batch_seen;
	float train_lr, train_w0[8];
	/* scratch for scripts */
	int64_t next_req, k;
} T;

/* ---- answers ---- */

static void answer(http_request *r, int retcode, const char *reason, int64_t iteration,
		   int64_t next_req, const float *model, int64_t model_iter, int plan)
{
	cJSON *h = cJSON_CreateObject();
	char buf[32];
	cJSON_AddNumberToObject(h, "retcode", retcode);
	cJSON_AddStringToObject(h, "reason", reason);
	cJSON_AddNumberToObject(h, "iteration", (double)iteration);
	if (next_req) {
		snprintf(buf, sizeof buf, "%" PRId64, next_req);
		cJSON_AddStringToObject(h, "next_req_time", buf);
	}
	if (model_iter >= 0)
		cJSON_AddNumberToObject(h, "model_iteration", (double)model_iter);
	if (plan) {
		cJSON *p = cJSON_AddObjectToObject(h, "fl_plan_config");
		cJSON_AddNumberToObject(p, "epochs", 2);
		cJSON_AddNumberToObject(p, "mini_batch", 16);
		cJSON_AddNumberToObject(p, "lr", 0.5);
		cJSON_AddNumberToObject(p, "iterations", 100);
		cJSON_AddStringToObject(p, "fl_name", "test");
	}
	env_tensor tn = {"weights", model, NPARAM};
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(envelope_encode(h, &tn, model ? 1 : 0, &out, &len), 0);
	cJSON_Delete(h);
	http_respond(r, 200, "application/octet-stream", out, len, NULL);
	free(out);
}

/* The default: a consistent cluster. startFLJob admits everyone; `threshold` accepted uploads
 * of the current iteration commit it; getModel of an uncommitted iteration is SucNotReady. */
static void normal(T *t, int server, http_request *r, const rec *rc)
{
	int64_t now = rt_wall_ms(t->srv[server].h);
	switch (rc->round) {
	case FLEET_START:
		answer(r, 200, "success", t->iter, now + 3000, t->model, -1, 1);
		return;
	case FLEET_UPDATE:
		if (rc->iteration != t->iter) {
			answer(r, 300, "UpdateModel iteration number is invalid", t->iter, now + 1000,
			       NULL, -1, 0);
			return;
		}
		answer(r, 200, "success", t->iter, now + 1000, NULL, -1, 0);
		if (++t->updates >= t->threshold) {
			for (int i = 0; i < NPARAM; i++)
				t->model[i] += 1;
			t->model_iter = t->iter++;
			t->updates = 0;
		}
		return;
	case FLEET_GET:
		if (rc->iteration >= t->iter) {
			answer(r, 201, "The model is not ready yet", t->iter, now + 300, NULL, -1, 0);
			return;
		}
		answer(r, 200, "Get model", t->iter, now + 1000, t->model, t->model_iter, 0);
		return;
	default:
		http_respond(r, 404, "text/plain", "no", 2, NULL);
	}
}

static uint64_t hash_floats(const float *w, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *b = (const uint8_t *)w;
	for (size_t i = 0; i < n * sizeof(float); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static int round_of(const char *path)
{
	for (int i = 0; i < FLEET_ROUNDS; i++)
		if (!strcmp(path + 1, fleet_round_name((fleet_round)i)))
			return i;
	return -1;
}

static void handler(http_server *hs, http_request *r, void *data)
{
	tsrv *s = data;
	T *t = s->t;
	cJSON *h = NULL;
	env_tensor *tn = NULL;
	size_t nt = 0;
	ck_assert_int_eq(envelope_decode(r->body, r->body_len, &h, &tn, &nt), 0);
	/* past MAXREC (long runs) only the last slot is reused */
	rec *rc = &t->recs[t->nrec < MAXREC ? t->nrec++ : MAXREC - 1];
	memset(rc, 0, sizeof *rc);
	rc->t_ns = rt_sim_now_ns(t->sim);
	rc->server = s->id;
	rc->round = round_of(r->path);
	ck_assert_int_ge(rc->round, 0);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "fl_id");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(h, "timestamp");
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(h, "iteration");
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(h, "fl_name");
	ck_assert(cJSON_IsString(id) && !strncmp(id->valuestring, "device-", 7));
	ck_assert(cJSON_IsString(ts)); /* MindSpore's type: a decimal string */
	ck_assert(cJSON_IsString(fn));
	rc->device = strtol(id->valuestring + 7, NULL, 10);
	rc->ts = strtoll(ts->valuestring, NULL, 10);
	if (rc->round == FLEET_START) {
		const cJSON *ds = cJSON_GetObjectItemCaseSensitive(h, "data_size");
		ck_assert(cJSON_IsNumber(ds));
		rc->data_size = ds->valuedouble;
	} else {
		ck_assert(cJSON_IsNumber(it));
		rc->iteration = (int64_t)it->valuedouble;
	}
	if (rc->round == FLEET_UPDATE) {
		ck_assert_uint_eq(nt, 1);
		ck_assert_uint_eq(tn[0].count, NPARAM);
		float w[NPARAM];
		memcpy(w, tn[0].data, sizeof w);
		rc->hash = hash_floats(w, NPARAM);
		rc->w0 = w[0];
		ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(h, "upload_loss")));
	}
	free(tn);
	cJSON_Delete(h);
	t->script(t, s->id, r, rc);
}

static void hold(T *t, int server, http_request *r)
{
	tsrv *s = &t->srv[server];
	ck_assert_int_lt(s->nheld, 64);
	s->held[s->nheld++] = r;
}

/* ---- observers and the training plug ---- */

static void obs_request(void *ctx, fleet_round round, int server, int retcode, uint64_t lat,
			size_t out, size_t in)
{
	T *t = ctx;
	t->n_req++;
	t->n_neg += retcode < 0;
	t->n_zero += retcode == 0;
	t->n_timedout += retcode == RT_ETIMEDOUT;
	t->n_refused += retcode == RT_ECONNREFUSED;
	t->n_reset += retcode == RT_ECONNRESET;
	t->last_retcode = retcode;
	t->last_server = server;
	ck_assert_uint_gt(out, 0);
}

static void obs_update(void *ctx, int server, long device, int64_t iteration, double ds,
		       const float *w, size_t n)
{
	T *t = ctx;
	ck_assert_uint_eq(n, NPARAM);
	t->n_upd_obs++;
	t->upd_obs_hash = hash_floats(w, n);
	if (t->n_upd_obs == 1)
		memcpy(t->upd_first, w, sizeof t->upd_first);
	memcpy(t->upd_last, w, sizeof t->upd_last);
}

static void obs_model(void *ctx, int server, int64_t iteration, const float *w, size_t n)
{
	T *t = ctx;
	ck_assert_uint_eq(n, NPARAM);
	t->n_model_obs++;
	memcpy(t->model_obs, w, sizeof t->model_obs);
	t->model_obs_iter = iteration;
}

static void obs_time(void *ctx, int server, long device, int64_t wall)
{
	T *t = ctx;
	t->n_time_obs++;
}

static int train(void *ctx, long device, int64_t iteration, int epochs, int batch, float lr,
		 float *w, size_t n, float *loss)
{
	T *t = ctx;
	t->n_train++;
	t->train_epochs = epochs;
	t->train_batch = batch;
	t->train_lr = lr;
	if (t->n_train <= 8)
		t->train_w0[t->n_train - 1] = w[0];
	for (size_t i = 0; i < n; i++)
		w[i] += lr * (float)(i + 1) + (float)device;
	*loss = 1.5f;
	return 0;
}

/* The batched interface on the CPU: the same training, job by job. */
static void train_batch(void *ctx, fleet_train_job *jobs, size_t nj, size_t n)
{
	T *t = ctx;
	t->n_batches++;
	if ((int)nj > t->max_batch_seen)
		t->max_batch_seen = (int)nj;
	for (size_t i = 0; i < nj; i++)
		jobs[i].rc = train(ctx, jobs[i].device, jobs[i].iteration, jobs[i].epochs,
				   jobs[i].batch, jobs[i].lr, jobs[i].weights, n, &jobs[i].loss);
}

static double samples_of(void *ctx, long device)
{
	return (double)(10 * device + 5);
}

/* ---- fixture ---- */

static void srv_destroy(void *owner)
{
	tsrv *s = owner;
	http_server_stop(s->hs); /* frees the held requests */
	s->hs = NULL;
	s->nheld = 0;
}

static void fleet_owner_destroy(void *owner)
{
	T *t = owner;
	fleet_destroy(t->f);
	t->f = NULL;
}

static void fleet_cfg(T *t, fleet_config *c, long devices, uint64_t seed)
{
	memset(c, 0, sizeof *c);
	c->seed = seed;
	c->devices = devices;
	c->model = &t->def;
	snprintf(c->fl_name, sizeof c->fl_name, "test");
	c->compute_ms_per_sample = (fleet_dist){FLEET_FIXED, 1, 0};
	c->samples = (fleet_dist){FLEET_FIXED, 100, 0};
	c->request_timeout_ms = 5000;
	c->obs = (fleet_observer){.on_request = obs_request, .on_update_accepted = obs_update,
				  .on_model = obs_model, .on_time_rejected = obs_time, .ctx = t};
}

static T *setup(uint64_t seed, script_fn script)
{
	T *t = calloc(1, sizeof *t);
	ck_assert_ptr_nonnull(t);
	t->sim = rt_sim_new(seed);
	t->script = script;
	t->iter = 1;
	t->model_iter = 0;
	t->threshold = 1;
	for (int i = 0; i < NPARAM; i++)
		t->model[i] = (float)i;
	ck_assert_int_eq(model_def_parse("synthetic:8", &t->def), 0);
	ck_assert_int_eq(rt_sim_host_new(t->sim, "fleet", "10.0.1.1", &t->hf), 0);
	for (int i = 0; i < NSRV; i++) {
		char name[32], ip[32];
		snprintf(name, sizeof name, "server/%d", i & 7);
		snprintf(ip, sizeof ip, "10.0.0.%d", (i & 7) + 1);
		tsrv *s = &t->srv[i];
		s->t = t;
		s->id = i;
		ck_assert_int_eq(rt_sim_host_new(t->sim, name, ip, &s->h), 0);
		ck_assert_int_eq(http_server_start(s->h, NULL, PORT, NULL, handler, s, &s->hs), 0);
		rt_sim_host_set_owner(s->h, srv_destroy, s);
	}
	return t;
}

static void start_fleet(T *t, const fleet_config *c, int nservers)
{
	ck_assert_int_eq(fleet_new(t->hf, c, &t->f), 0);
	rt_sim_host_set_owner(t->hf, fleet_owner_destroy, t);
	fleet_server sv[NSRV];
	for (int i = 0; i < nservers; i++) {
		snprintf(sv[i].ip, sizeof sv[i].ip, "10.0.0.%d", (i & 7) + 1);
		sv[i].port = PORT;
		sv[i].id = i;
	}
	ck_assert_int_eq(fleet_set_servers(t->f, sv, (size_t)nservers), 0);
}

static void teardown(T *t)
{
	if (getenv("FLEET_TEST_DUMP")) /* FLEET_TEST_DUMP=1 CK_RUN_CASE=... to see the requests */
		for (int i = 0; i < t->nrec; i++)
			fprintf(stderr, "%10.3f srv%d %-11s dev%-3ld it%-3" PRId64 " ts=%" PRId64 "\n",
				(double)t->recs[i].t_ns / 1e9, t->recs[i].server,
				fleet_round_name((fleet_round)t->recs[i].round), t->recs[i].device,
				t->recs[i].iteration, t->recs[i].ts);
	rt_sim_free(t->sim); /* the owners' hooks free the fleet and the servers */
	free(t);
}

static void run_ms(T *t, uint64_t ms)
{
	rt_sim_run_until(t->sim, rt_sim_now_ns(t->sim) + ms * MS);
}

static int count(const T *t, int round, long device)
{
	int n = 0;
	for (int i = 0; i < t->nrec; i++)
		n += (round < 0 || t->recs[i].round == round) &&
		     (device < 0 || t->recs[i].device == device);
	return n;
}

static uint64_t last_upload_hash(const T *t)
{
	for (int i = t->nrec - 1; i >= 0; i--)
		if (t->recs[i].round == FLEET_UPDATE)
			return t->recs[i].hash;
	return 0;
}

static fleet_stats stats(const T *t)
{
	fleet_stats st;
	fleet_get_stats(t->f, &st);
	return st;
}

#endif
