/*
 * test_srv_util.h — scripted devices for the server tests: an HTTP client on a fleet host of the
 * simulator that builds envelopes like a device would and waits for the answers.
 *
 * Everything is static inline so each test program takes only what it uses.
 */
#ifndef TEST_SRV_UTIL_H
#define TEST_SRV_UTIL_H

#include "server/srv.h"
#include "model/model.h"
#include "proto/envelope.h"
#include "proto/http.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL

typedef struct dev_reply {
	int done, err, status;
	int text;            /* a plain-text gate answer */
	char body[512];      /* the text, or the envelope's reason */
	cJSON *hdr;          /* envelope header (owned) */
	float *w;            /* returned tensors in model order (owned), NULL without a model */
	int retcode;
	const model_def *def;
} dev_reply;

typedef struct devs {
	rt_sim *sim;
	rt_host *h;
	http_client *c;
	const model_def *def;
} devs;

static inline void dev_reply_free(dev_reply *r)
{
	cJSON_Delete(r->hdr);
	free(r->w);
	memset(r, 0, sizeof *r);
}

static inline void dev_on_resp(int err, const http_response *resp, void *data)
{
	dev_reply *r = data;
	cJSON *hdr = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;

	r->done = 1;
	r->err = err;
	if (err || !resp)
		return;
	r->status = resp->status;
	if (envelope_decode(resp->body, resp->body_len, &hdr, &t, &nt) != 0) {
		r->text = 1;
		snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_len, (const char *)resp->body);
		return;
	}
	r->hdr = hdr;
	const cJSON *rc = cJSON_GetObjectItemCaseSensitive(hdr, "retcode");
	const cJSON *re = cJSON_GetObjectItemCaseSensitive(hdr, "reason");
	r->retcode = cJSON_IsNumber(rc) ? rc->valueint : -1;
	if (cJSON_IsString(re))
		snprintf(r->body, sizeof r->body, "%s", re->valuestring);
	if (nt && r->def) {
		r->w = calloc(r->def->total, sizeof(float));
		for (size_t i = 0; i < nt && r->w; i++) {
			int k = model_def_find(r->def, t[i].name);
			if (k >= 0 && t[i].count == r->def->tensors[k].count)
				memcpy(r->w + r->def->tensors[k].offset, t[i].data,
				       t[i].count * sizeof(float));
		}
	}
	free(t);
}

static inline void devs_init(devs *d, rt_sim *sim, const char *ip, const model_def *def)
{
	ck_assert_int_eq(rt_sim_host_new(sim, "fleet", ip, &d->h), 0);
	ck_assert_int_eq(http_client_new(d->h, NULL, &d->c), 0);
	d->sim = sim;
	d->def = def;
}

static inline void devs_free(devs *d)
{
	http_client_free(d->c);
	d->c = NULL;
}

static inline int64_t devs_now(devs *d) { return rt_wall_ms(d->h); }

/* POST an envelope (hdr consumed; w in model order or NULL) to ip:port/round. */
static inline void dev_post(devs *d, const char *ip, uint16_t port, const char *round, cJSON *hdr,
			    const float *w, dev_reply *out)
{
	env_tensor t[MODEL_MAX_TENSORS];
	size_t nt = 0;
	uint8_t *body = NULL;
	size_t len = 0;
	char path[128];

	memset(out, 0, sizeof *out);
	out->def = d->def;
	if (w) {
		for (size_t i = 0; i < d->def->ntensors; i++) {
			t[i].name = d->def->tensors[i].name;
			t[i].data = w + d->def->tensors[i].offset;
			t[i].count = d->def->tensors[i].count;
		}
		nt = d->def->ntensors;
	}
	ck_assert_int_eq(envelope_encode(hdr, t, nt, &body, &len), 0);
	cJSON_Delete(hdr);
	snprintf(path, sizeof path, "/%s", round);
	ck_assert_int_eq(http_client_request(d->c, ip, port, "POST", path,
					     "application/octet-stream", body, len, NULL, 60000,
					     dev_on_resp, out), 0);
	free(body);
}

/* Run the simulation until r is answered (or max_ms of virtual time pass). */
static inline void dev_wait(devs *d, dev_reply *r, uint64_t max_ms)
{
	uint64_t until = rt_sim_now_ns(d->sim) + max_ms * MS;

	while (!r->done && rt_sim_now_ns(d->sim) < until && rt_sim_step(d->sim))
		;
	ck_assert_msg(r->done, "no answer within %llu ms", (unsigned long long)max_ms);
}

static inline void run_for(rt_sim *sim, uint64_t ms)
{
	rt_sim_run_until(sim, rt_sim_now_ns(sim) + ms * MS);
}

static inline void dev_call(devs *d, const char *ip, uint16_t port, const char *round, cJSON *hdr,
			    const float *w, dev_reply *out)
{
	dev_post(d, ip, port, round, hdr, w, out);
	dev_wait(d, out, 120000);
}

static inline void add_ts(cJSON *h, int64_t ts)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)ts);
	cJSON_AddStringToObject(h, "timestamp", buf);
}

static inline cJSON *hdr_start(const char *fl_id, int64_t ds, int64_t ts)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "fl_name", "Lenet");
	cJSON_AddStringToObject(h, "fl_id", fl_id);
	cJSON_AddNumberToObject(h, "data_size", (double)ds);
	add_ts(h, ts);
	return h;
}

static inline cJSON *hdr_update(const char *fl_id, int64_t iter, int64_t ts)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "fl_name", "Lenet");
	cJSON_AddStringToObject(h, "fl_id", fl_id);
	cJSON_AddNumberToObject(h, "iteration", (double)iter);
	add_ts(h, ts);
	return h;
}

static inline cJSON *hdr_get(int64_t iter, int64_t ts)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "fl_name", "Lenet");
	cJSON_AddNumberToObject(h, "iteration", (double)iter);
	add_ts(h, ts);
	return h;
}

static inline int64_t hdr_int(const dev_reply *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->hdr, key);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	return -1;
}

/* A device's upload: deterministic pseudo-weights from (seed, i). */
static inline void fake_weights(float *w, size_t n, uint64_t seed)
{
	rt_rng r;
	rt_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(rt_rng_double(&r) * 2.0 - 1.0);
}

static inline void base_cfg(srv_config *c, const char *node_id, const char *model)
{
	srv_config_init(c);
	snprintf(c->node_id, sizeof c->node_id, "%s", node_id);
	snprintf(c->model, sizeof c->model, "%s", model);
	c->fl_server_port = 6668;
}

/* Quiet unless SRV_TEST_LOG is set. */
static inline void test_log_setup(rt_sim *sim)
{
	rt_sim_set_log_file(sim, getenv("SRV_TEST_LOG") ? stderr : NULL);
}

#endif
