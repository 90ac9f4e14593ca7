/*
 * test_srv.c — one server (standalone, server_num 1) under the simulator, driven by scripted
 * devices: configuration checks, a full iteration whose model must equal a FedAvg computed here
 * from the accepted uploads, every error reply of the device API, the round and global windows,
 * the replay window, the model store, the finished gate, /metrics and iterations.jsonl.
 */
#include "test_srv_util.h"

#include <math.h>

#define SIP "10.0.0.1"
#define PORT 6668

typedef struct one {
	rt_sim *sim;
	rt_host *h;
	srv *s;
	devs d;
	model_def def;
} one;

static void destroy_hook(void *owner) { srv_destroy(owner); }

static void one_start(one *o, srv_config *c)
{
	memset(o, 0, sizeof *o);
	o->sim = rt_sim_new(7);
	test_log_setup(o->sim);
	ck_assert_int_eq(rt_sim_host_new(o->sim, "server/0", SIP, &o->h), 0);
	c->scheduler_port = 0; /* standalone */
	ck_assert_int_eq(srv_new(o->h, c, &o->s), 0);
	rt_sim_host_set_owner(o->h, destroy_hook, o->s);
	ck_assert_int_eq(model_def_parse(c->model, &o->def), 0);
	devs_init(&o->d, o->sim, "10.0.0.100", &o->def);
	run_for(o->sim, 10);
	srv_status st;
	srv_get_status(o->s, &st);
	ck_assert(st.ready && st.leader);
	ck_assert_int_eq(st.iteration, 1);
}

static void one_stop(one *o)
{
	devs_free(&o->d);
	rt_sim_free(o->sim);
}

static void start_ok(one *o, const char *id, int64_t ds, dev_reply *r)
{
	dev_call(&o->d, SIP, PORT, "startFLJob", hdr_start(id, ds, devs_now(&o->d)), NULL, r);
	ck_assert_msg(r->retcode == 200, "startFLJob %s: %d %s", id, r->retcode, r->body);
}

static void update(one *o, const char *id, int64_t iter, const float *w, dev_reply *r)
{
	dev_call(&o->d, SIP, PORT, "updateModel", hdr_update(id, iter, devs_now(&o->d)), w, r);
}

/* ---- configuration ---- */

START_TEST(test_config)
{
	srv_config c;
	char err[256];
	flag_def defs[SRV_CONFIG_MAX_FLAGS];

	base_cfg(&c, "0", "lenet5");
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), 0);
	c.start_fl_job_threshold = 0;
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), SRV_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "start_fl_job_threshold"));
	base_cfg(&c, "0", "lenet5");
	c.update_model_ratio = 1.5;
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), SRV_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "update_model_ratio"));
	base_cfg(&c, "0", "resnet50");
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), SRV_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "unknown model"));
	base_cfg(&c, "0", "lenet5");
	c.server_num = 4;
	c.scheduler_port = 0;
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), SRV_ECONFIG);

	/* flags: both spellings, and config.json under them */
	base_cfg(&c, "0", "lenet5");
	size_t n = srv_config_flags(&c, defs, SRV_CONFIG_MAX_FLAGS);
	ck_assert_uint_lt(n, SRV_CONFIG_MAX_FLAGS);
	char *argv[] = { "fl-server", "--start_fl_job_threshold=8", "--fl_name", "Mnist",
			 "--update_model_ratio=0.5", "--start_fl_job_time_window", "3s", NULL };
	ck_assert_int_eq(flags_parse(defs, n, 7, argv, "fl-server", "", NULL, err, sizeof err), 0);
	ck_assert_int_eq(c.start_fl_job_threshold, 8);
	ck_assert_str_eq(c.fl_name, "Mnist");
	ck_assert_int_eq(c.start_fl_job_time_window, 3000);
	ck_assert_int_eq(srv_config_update_threshold(&c), 4);
	cJSON *j = cJSON_Parse("{\"start_fl_job_threshold\": 2, \"fl_iteration_num\": 7, "
			       "\"recovery\": {\"storage_type\": 1}}");
	ck_assert_int_eq(srv_config_apply_json(&c, defs, n, j, NULL, err, sizeof err), 0);
	ck_assert_int_eq(c.start_fl_job_threshold, 8); /* the command line wins */
	ck_assert_int_eq(c.fl_iteration_num, 7);
	ck_assert_int_eq(c.recovery, 1);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"no_such_knob\": 1}");
	ck_assert_int_ne(srv_config_apply_json(&c, defs, n, j, NULL, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "no_such_knob"));
	cJSON_Delete(j);
	c.start_fl_job_threshold = 3;
	c.update_model_ratio = 0.5;
	ck_assert_int_eq(srv_config_update_threshold(&c), 2);

	/* srv_new refuses a bad configuration */
	rt_sim *sim = rt_sim_new(1);
	rt_host *h;
	srv *s = NULL;
	test_log_setup(sim);
	ck_assert_int_eq(rt_sim_host_new(sim, "server/0", SIP, &h), 0);
	base_cfg(&c, "0", "synthetic:0");
	c.scheduler_port = 0;
	ck_assert_int_eq(srv_new(h, &c, &s), SRV_ECONFIG);
	ck_assert_ptr_null(s);
	rt_sim_free(sim);
}
END_TEST

/* ---- a full iteration, checked against a FedAvg computed here ---- */

START_TEST(test_full_iteration)
{
	srv_config c;
	one o;
	dev_reply r, r2;

	base_cfg(&c, "0", "lenet5");
	c.start_fl_job_threshold = 3;
	c.fl_iteration_num = 5;
	one_start(&o, &c);
	size_t n = o.def.total;
	float *w[3], *ref = calloc(n, sizeof(float)), *init = calloc(n, sizeof(float));
	int64_t ds[3] = { 10, 25, 7 };
	const char *ids[3] = { "dev-a", "dev-b", "dev-c" };
	model_init_weights(&o.def, rt_seed_derive(0, "Lenet"), init);

	for (int i = 0; i < 3; i++) {
		start_ok(&o, ids[i], ds[i], &r);
		ck_assert_int_eq(hdr_int(&r, "iteration"), 1);
		ck_assert_ptr_nonnull(r.w);
		ck_assert_mem_eq(r.w, init, n * sizeof(float)); /* iteration 0: the initial model */
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(r.hdr, "fl_plan_config");
		ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(plan, "epochs")->valueint, 25);
		ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(plan, "mini_batch")->valueint, 32);
		ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(plan, "iterations")->valueint, 5);
		ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(plan, "fl_name")->valuestring,
				 "Lenet");
		ck_assert(hdr_int(&r, "next_req_time") > devs_now(&o.d));
		dev_reply_free(&r);
	}
	for (int i = 0; i < 3; i++) {
		w[i] = malloc(n * sizeof(float));
		fake_weights(w[i], n, 100 + (uint64_t)i);
	}
	update(&o, ids[0], 1, w[0], &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	/* not committed yet */
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 201);
	ck_assert_ptr_nonnull(strstr(r.body, "The model is not ready yet for iteration 1"));
	dev_reply_free(&r);
	update(&o, ids[2], 1, w[2], &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	update(&o, ids[1], 1, w[1], &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	run_for(o.sim, 50);

	/* the reference, in the server's acceptance order */
	fedavg_accumulate(ref, w[0], n, 10.0f);
	fedavg_accumulate(ref, w[2], n, 7.0f);
	fedavg_accumulate(ref, w[1], n, 25.0f);
	fedavg_finish(ref, n, 42.0);
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r);
	ck_assert_msg(r.retcode == 200, "%d %s", r.retcode, r.body);
	ck_assert_int_eq(hdr_int(&r, "iteration"), 2);
	ck_assert_mem_eq(r.w, ref, n * sizeof(float));
	dev_reply_free(&r);
	/* the next startFLJob gets the model of iteration 1 */
	start_ok(&o, "dev-a", 10, &r2);
	ck_assert_int_eq(hdr_int(&r2, "iteration"), 2);
	ck_assert_mem_eq(r2.w, ref, n * sizeof(float));
	dev_reply_free(&r2);

	srv_status st;
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iterations_ok, 1);
	ck_assert_int_eq(st.last_committed, 1);

	/* iterations.jsonl on rank 0 */
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(o.h, "iterations.jsonl", &buf, &len), 0);
	cJSON *j = cJSON_Parse((char *)buf);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "currentIteration")->valueint, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "iterationResult")->valuestring, "success");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "flName")->valuestring, "Lenet");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "instanceStatus")->valuestring, "running");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "flIterationNum")->valueint, 5);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "instanceName"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "startTime"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "endTime"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "metricsLoss"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "iterationExecutionTime"));
	const cJSON *v = cJSON_GetObjectItem(j, "clientVisitedInfo");
	ck_assert_int_eq(cJSON_GetObjectItem(v, "startFLJobTotalClientNum")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(v, "startFLJobAcceptClientNum")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(v, "updateModelAcceptClientNum")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(v, "getModelTotalClientNum")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(v, "getModelRejectClientNum")->valueint, 1);
	cJSON_Delete(j);
	free(buf);
	for (int i = 0; i < 3; i++)
		free(w[i]);
	free(ref);
	free(init);
	one_stop(&o);
}
END_TEST

/* ---- every error reply ---- */

START_TEST(test_errors)
{
	srv_config c;
	one o;
	dev_reply r;
	cJSON *h;

	base_cfg(&c, "0", "synthetic:16");
	c.start_fl_job_threshold = 2;
	one_start(&o, &c);
	float w[16];
	fake_weights(w, 16, 1);

	/* startFLJob: missing fields */
	h = hdr_start("x", 5, devs_now(&o.d));
	cJSON_DeleteItemFromObject(h, "fl_id");
	dev_call(&o.d, SIP, PORT, "startFLJob", h, NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	h = hdr_start("x", 5, devs_now(&o.d));
	cJSON_DeleteItemFromObject(h, "timestamp");
	dev_call(&o.d, SIP, PORT, "startFLJob", h, NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	h = hdr_start("x", 5, devs_now(&o.d));
	cJSON_DeleteItemFromObject(h, "fl_name");
	dev_call(&o.d, SIP, PORT, "startFLJob", h, NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* data size */
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("x", 0, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_str_eq(r.body, "FL job data size is not enough.");
	ck_assert(hdr_int(&r, "next_req_time") > 0);
	dev_reply_free(&r);
	/* updateModel without startFLJob */
	update(&o, "ghost", 1, w, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_str_eq(r.body, "devices_meta for ghost is not set. Please retry later.");
	dev_reply_free(&r);
	/* the round fills; a repeated fl_id counts once */
	start_ok(&o, "a", 3, &r);
	dev_reply_free(&r);
	start_ok(&o, "a", 3, &r);
	dev_reply_free(&r);
	start_ok(&o, "b", 4, &r);
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("c", 4, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_str_eq(r.body, "Current amount for startFLJob has reached the threshold. Please "
		       "startFLJob later.");
	ck_assert(hdr_int(&r, "next_req_time") > devs_now(&o.d));
	dev_reply_free(&r);
	/* iteration mismatch */
	update(&o, "a", 5, w, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_ptr_nonnull(strstr(r.body, "UpdateModel iteration number is invalid:5, current "
					     "iteration:1"));
	ck_assert(hdr_int(&r, "next_req_time") > 0);
	dev_reply_free(&r);
	/* feature map: wrong size, unknown name, none */
	{
		cJSON *hh = hdr_update("a", 1, devs_now(&o.d));
		env_tensor t = { "weights", w, 15 };
		uint8_t *body;
		size_t len;
		ck_assert_int_eq(envelope_encode(hh, &t, 1, &body, &len), 0);
		cJSON_Delete(hh);
		memset(&r, 0, sizeof r);
		r.def = &o.def;
		http_client_request(o.d.c, SIP, PORT, "POST", "/updateModel", NULL, body, len, NULL,
				    10000, dev_on_resp, &r);
		free(body);
		dev_wait(&o.d, &r, 1000);
		ck_assert_int_eq(r.retcode, 400);
		ck_assert_ptr_nonnull(strstr(r.body, "has 15 floats"));
		dev_reply_free(&r);
		hh = hdr_update("a", 1, devs_now(&o.d));
		env_tensor t2 = { "conv1.weight", w, 16 };
		ck_assert_int_eq(envelope_encode(hh, &t2, 1, &body, &len), 0);
		cJSON_Delete(hh);
		memset(&r, 0, sizeof r);
		http_client_request(o.d.c, SIP, PORT, "POST", "/updateModel", NULL, body, len, NULL,
				    10000, dev_on_resp, &r);
		free(body);
		dev_wait(&o.d, &r, 1000);
		ck_assert_int_eq(r.retcode, 400);
		dev_reply_free(&r);
	}
	update(&o, "a", 1, NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* a value that is not finite, anywhere in the tensor (NaN, then inf last) */
	for (int k = 0; k < 2; k++) {
		float bad[16];
		memcpy(bad, w, sizeof bad);
		if (k == 0)
			bad[7] = NAN;
		else
			bad[15] = -INFINITY;
		update(&o, "a", 1, bad, &r);
		ck_assert_int_eq(r.retcode, 400);
		ck_assert_ptr_nonnull(strstr(r.body, "not finite"));
		dev_reply_free(&r);
	}
	/* garbage body */
	memset(&r, 0, sizeof r);
	http_client_request(o.d.c, SIP, PORT, "POST", "/getModel", NULL, "xx", 2, NULL, 10000,
			    dev_on_resp, &r);
	dev_wait(&o.d, &r, 1000);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* accepted, then a duplicate */
	update(&o, "a", 1, w, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	update(&o, "a", 1, w, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* the last upload and one more in the same instant: the second finds the round full
	 * (two pooled connections first, so both requests arrive together) */
	dev_reply r3;
	dev_post(&o.d, SIP, PORT, "getModel", hdr_get(0, devs_now(&o.d)), NULL, &r);
	dev_post(&o.d, SIP, PORT, "getModel", hdr_get(0, devs_now(&o.d)), NULL, &r3);
	dev_wait(&o.d, &r, 1000);
	dev_wait(&o.d, &r3, 1000);
	dev_reply_free(&r);
	dev_reply_free(&r3);
	dev_post(&o.d, SIP, PORT, "updateModel", hdr_update("b", 1, devs_now(&o.d)), w, &r);
	dev_post(&o.d, SIP, PORT, "updateModel", hdr_update("c", 1, devs_now(&o.d)), w, &r3);
	dev_wait(&o.d, &r, 1000);
	dev_wait(&o.d, &r3, 1000);
	ck_assert_int_eq(r.retcode, 200);
	ck_assert_int_eq(r3.retcode, 300);
	ck_assert_str_eq(r3.body, "Current amount for updateModel is enough. Please retry later.");
	dev_reply_free(&r);
	dev_reply_free(&r3);
	run_for(o.sim, 20);
	/* getModel for a future iteration is not ready; a past one is served */
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(3, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 201);
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	/* pushMetrics */
	h = cJSON_CreateObject();
	cJSON_AddNumberToObject(h, "loss", 0.5);
	cJSON_AddNumberToObject(h, "accuracy", 0.75);
	add_ts(h, devs_now(&o.d));
	dev_call(&o.d, SIP, PORT, "pushMetrics", h, NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	h = cJSON_CreateObject();
	add_ts(h, devs_now(&o.d));
	dev_call(&o.d, SIP, PORT, "pushMetrics", h, NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* unknown round */
	dev_call(&o.d, SIP, PORT, "nope", hdr_get(1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.status, 404);
	dev_reply_free(&r);
	one_stop(&o);
}
END_TEST

/* ---- guards: data_size cap, non-finite and oversized uploads, the connection limit ---- */

START_TEST(test_guards)
{
	srv_config c;
	one o;
	dev_reply r, r2;
	float w[16], big[16], bad[16];

	base_cfg(&c, "0", "synthetic:16");
	c.start_fl_job_threshold = 1;
	c.max_data_size = 1000;
	fake_weights(w, 16, 3);
	double norm = 0;
	for (int i = 0; i < 16; i++) {
		norm += (double)w[i] * w[i];
		big[i] = w[i] * 100;
		bad[i] = w[i];
	}
	bad[7] = NAN;
	c.upload_norm_bound = 2 * sqrt(norm);
	c.connection_num = 1;
	one_start(&o, &c);
	/* a claim of more samples than max_data_size would outweigh everyone: refused, not counted */
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("a", 1001, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	ck_assert_str_eq(r.body, "data_size 1001 is above max_data_size 1000.");
	dev_reply_free(&r);
	start_ok(&o, "a", 1000, &r);
	dev_reply_free(&r);
	/* NaN and a norm 100 times the honest one never reach the sum */
	update(&o, "a", 1, bad, &r);
	ck_assert_int_eq(r.retcode, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "not finite"));
	dev_reply_free(&r);
	update(&o, "a", 1, big, &r);
	ck_assert_int_eq(r.retcode, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "is above upload_norm_bound"));
	dev_reply_free(&r);
	update(&o, "a", 1, w, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	run_for(o.sim, 20);
	size_t n;
	uint64_t hash;
	const float *m = srv_get_model(o.s, 1, &n, &hash);
	ck_assert_ptr_nonnull(m);
	for (int i = 0; i < 16; i++) /* the FedAvg of the one accepted upload (w * 1000 / 1000) */
		ck_assert_msg(fabsf(m[i] - w[i]) <= 1e-6f * (fabsf(w[i]) + 1e-6f), "m[%d]=%g, w=%g", i, m[i], w[i]);
	/* connection_num 1: the pooled connection holds the slot, a second one at once gets 503 */
	dev_post(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r);
	dev_post(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r2);
	dev_wait(&o.d, &r, 1000);
	dev_wait(&o.d, &r2, 1000);
	ck_assert_int_eq(r.retcode, 200);
	ck_assert_int_eq(r2.status, 503);
	ck_assert_str_eq(r2.body, "The server has reached its connection limit. Retry later");
	dev_reply_free(&r);
	dev_reply_free(&r2);
	one_stop(&o);
}
END_TEST

/* ---- the replay window ---- */

START_TEST(test_timestamps)
{
	srv_config c;
	one o;
	dev_reply r;

	base_cfg(&c, "0", "synthetic:4");
	c.start_fl_job_threshold = 5;
	one_start(&o, &c);
	int64_t now = devs_now(&o.d);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("in1", 1, now + 599000), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("in2", 1, now - 599000), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("out1", 1, now + 601000), NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	char want[64];
	snprintf(want, sizeof want, "%lld", (long long)(now + 601000));
	ck_assert_ptr_nonnull(strstr(r.body, want));           /* the request's time */
	ck_assert_ptr_nonnull(strstr(r.body, "server's time")); /* and ours */
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(0, now - 700000), NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	/* a skewed server clock: the device is honest, the server is 10 minutes ahead */
	rt_sim_set_clock(o.h, 10 * 60 * 1000 + 5000, 0);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("in3", 1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 400);
	dev_reply_free(&r);
	rt_sim_set_clock(o.h, 30000, 0);
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("in3", 1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	one_stop(&o);
}
END_TEST

/* ---- windows ---- */

static void check_failed_iteration(one *o, int64_t iter)
{
	size_t n1, n0;
	uint64_t h1, h0;
	ck_assert_ptr_nonnull(srv_get_model(o->s, iter, &n1, &h1));
	ck_assert_ptr_nonnull(srv_get_model(o->s, iter - 1, &n0, &h0));
	ck_assert_uint_eq(h1, h0); /* the previous model, re-stored */
}

START_TEST(test_windows)
{
	srv_config c;
	one o;
	dev_reply r;
	srv_status st;
	float w[8];
	fake_weights(w, 8, 3);

	base_cfg(&c, "0", "synthetic:8");
	c.start_fl_job_threshold = 3;
	c.start_fl_job_time_window = 3000;
	c.update_model_time_window = 2000;
	c.global_iteration_time_window = 60000;
	one_start(&o, &c);
	/* startFLJob window: 2 of 3 devices, then silence */
	start_ok(&o, "a", 1, &r);
	dev_reply_free(&r);
	start_ok(&o, "b", 1, &r);
	dev_reply_free(&r);
	run_for(o.sim, 2900);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 1);
	run_for(o.sim, 200);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 2);
	ck_assert_int_eq(st.iterations_failed, 1);
	check_failed_iteration(&o, 1);
	/* an upload for the failed iteration is refused */
	update(&o, "a", 1, w, &r);
	ck_assert_int_eq(r.retcode, 300);
	dev_reply_free(&r);
	/* updateModel window: all start, one uploads */
	start_ok(&o, "a", 1, &r);
	dev_reply_free(&r);
	start_ok(&o, "b", 1, &r);
	dev_reply_free(&r);
	start_ok(&o, "c", 1, &r);
	dev_reply_free(&r);
	run_for(o.sim, 2500); /* the startFLJob window stopped at the threshold */
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 2);
	update(&o, "a", 2, w, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	run_for(o.sim, 2100);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 3);
	ck_assert_int_eq(st.iterations_failed, 2);
	check_failed_iteration(&o, 2);

	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(o.h, "iterations.jsonl", &buf, &len), 0);
	ck_assert_ptr_nonnull(strstr((char *)buf, "\"iterationResult\":\"fail\""));
	free(buf);
	one_stop(&o);

	/* the global window bounds the iteration: everyone started, nobody uploads */
	base_cfg(&c, "0", "synthetic:8");
	c.start_fl_job_threshold = 2;
	c.start_fl_job_time_window = 10000;
	c.update_model_time_window = 10000;
	c.global_iteration_time_window = 5000;
	one_start(&o, &c);
	start_ok(&o, "a", 1, &r);
	dev_reply_free(&r);
	start_ok(&o, "b", 1, &r);
	dev_reply_free(&r);
	run_for(o.sim, 4900);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 1);
	run_for(o.sim, 200);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 2);
	ck_assert_int_eq(st.iterations_failed, 1);
	/* an idle cluster does not churn through iterations */
	run_for(o.sim, 60000);
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 2);
	one_stop(&o);
}
END_TEST

/* ---- store, finish, metrics ---- */

static void run_iteration(one *o, int64_t iter, const float *w)
{
	dev_reply r;
	start_ok(o, "a", 2, &r);
	dev_reply_free(&r);
	update(o, "a", iter, w, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);
	run_for(o->sim, 20);
}

START_TEST(test_store_finish_metrics)
{
	srv_config c;
	one o;
	dev_reply r;
	float w[8];

	base_cfg(&c, "0", "synthetic:8");
	c.start_fl_job_threshold = 1;
	c.fl_iteration_num = 4;
	c.model_store_size = 2;
	one_start(&o, &c);
	for (int64_t i = 1; i <= 4; i++) {
		fake_weights(w, 8, (uint64_t)i);
		run_iteration(&o, i, w);
	}
	srv_status st;
	srv_get_status(o.s, &st);
	ck_assert_int_eq(st.iteration, 5);
	ck_assert_str_eq(st.instance_state, "finish");
	ck_assert_ptr_null(srv_get_model(o.s, 2, NULL, NULL)); /* fell out of the store */
	ck_assert_ptr_nonnull(srv_get_model(o.s, 3, NULL, NULL));
	/* the model for an iteration no longer stored: the latest */
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(1, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	ck_assert_int_eq(hdr_int(&r, "model_iteration"), 4);
	ck_assert_mem_eq(r.w, w, sizeof w); /* one upload: FedAvg is the upload itself */
	dev_reply_free(&r);
	/* finished: rounds are gated, getModel is not */
	dev_call(&o.d, SIP, PORT, "startFLJob", hdr_start("z", 1, devs_now(&o.d)), NULL, &r);
	ck_assert(r.text);
	ck_assert_str_eq(r.body, "The server's training job is disabled or finished.");
	dev_reply_free(&r);
	dev_call(&o.d, SIP, PORT, "getModel", hdr_get(4, devs_now(&o.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 200);
	dev_reply_free(&r);

	/* /metrics */
	memset(&r, 0, sizeof r);
	http_client_request(o.d.c, SIP, PORT, "GET", "/metrics", NULL, NULL, 0, NULL, 10000,
			    dev_on_resp, &r);
	dev_wait(&o.d, &r, 1000);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.text);
	ck_assert_ptr_nonnull(strstr(r.body, "flserver_requests_total{round=\"startFLJob\","
					     "retcode=\"200\"} 4"));
	dev_reply_free(&r);
	one_stop(&o);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("srv");
	TCase *t = tcase_create("core");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_config);
	tcase_add_test(t, test_full_iteration);
	tcase_add_test(t, test_errors);
	tcase_add_test(t, test_timestamps);
	tcase_add_test(t, test_guards);
	tcase_add_test(t, test_windows);
	tcase_add_test(t, test_store_finish_metrics);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
