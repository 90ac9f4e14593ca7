/*
 * test_srv_multi.c — four servers and the real scheduler under the simulator, scripted devices
 * spread over the servers: counting on rank 0, the ring all-reduce (every server ends with the
 * same bytes, equal to a FedAvg recomputed here in rank order), the error replies that depend on
 * the leader's counters, the gates, and windows across servers.
 */
#include "test_srv_cluster.h"

static void dev_start(cluster *c, int server, const char *id, int64_t ds)
{
	dev_reply r;
	cl_call(c, server, "startFLJob", hdr_start(id, ds, devs_now(&c->d)), NULL, &r);
	ck_assert_msg(r.retcode == 200, "startFLJob %s at %d: %d %s", id, server, r.retcode, r.body);
	dev_reply_free(&r);
}

static int dev_update(cluster *c, int server, const char *id, int64_t iter, const float *w)
{
	dev_reply r;
	cl_call(c, server, "updateModel", hdr_update(id, iter, devs_now(&c->d)), w, &r);
	int rc = r.retcode;
	dev_reply_free(&r);
	return rc;
}

/* One iteration with `ndev` devices; device k talks to server map[k]. Checks the committed
 * model against the reference on every server and over HTTP. */
static void iteration(cluster *c, int64_t iter, int ndev, const int *map, int64_t start_thr,
		      int64_t upd_thr, uint64_t seed)
{
	size_t n = c->def.total;
	refavg ref;
	float *w = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
	char id[32];

	ref_init(&ref, n);
	for (int k = 0; k < ndev && k < start_thr; k++) {
		snprintf(id, sizeof id, "dev-%d", k);
		dev_start(c, map[k], id, 10 + k);
	}
	for (int k = 0; k < upd_thr; k++) {
		snprintf(id, sizeof id, "dev-%d", k);
		fake_weights(w, n, seed * 1000 + (uint64_t)k);
		ck_assert_int_eq(dev_update(c, map[k], id, iter, w), 200);
		ref_add(&ref, cl_status(c, map[k]).rank, w, 10 + k);
	}
	for (int i = 0; i < c->n; i++)
		if (c->sl[i].s)
			cl_wait_iteration(c, i, iter + 1, 5000);
	int nranks = 0;
	for (int i = 0; i < c->n; i++)
		if (c->sl[i].s)
			nranks++;
	ref_finish(&ref, nranks, want);
	cl_same_model(c, iter);
	size_t m;
	const float *got = srv_get_model(c->sl[0].s, iter, &m, NULL);
	ck_assert_msg(memcmp(got, want, n * sizeof(float)) == 0,
		      "iteration %lld: the committed model is not the reference FedAvg",
		      (long long)iter);
	/* what devices download is the same everywhere */
	for (int i = 0; i < c->n; i++) {
		dev_reply r;
		if (!c->sl[i].s)
			continue;
		cl_call(c, i, "getModel", hdr_get(iter, devs_now(&c->d)), NULL, &r);
		ck_assert_int_eq(r.retcode, 200);
		ck_assert_mem_eq(r.w, want, n * sizeof(float));
		dev_reply_free(&r);
	}
	ref_free(&ref);
	free(w);
	free(want);
}

START_TEST(test_multi_iterations)
{
	cluster c;
	srv_config t;

	cl_tmpl(&t, "synthetic:1000", 4);
	t.start_fl_job_threshold = 8;
	t.allreduce_chunk = 300; /* 4 chunks, the last one short */
	t.fl_iteration_num = 10;
	cl_start(&c, &t, 4, 11);
	cl_wait_ready(&c, 20000);
	for (int i = 0; i < 4; i++) {
		srv_status st = cl_status(&c, i);
		ck_assert_int_eq(st.rank, i);
		ck_assert_int_eq(st.leader, i == 0);
	}
	int spread[8] = { 0, 1, 2, 3, 0, 1, 2, 3 };
	iteration(&c, 1, 8, spread, 8, 8, 1);
	int lopsided[8] = { 3, 3, 3, 1, 1, 3, 3, 3 }; /* servers 0 and 2 contribute zeros */
	iteration(&c, 2, 8, lopsided, 8, 8, 2);
	int one[8] = { 2, 2, 2, 2, 2, 2, 2, 2 };
	iteration(&c, 3, 8, one, 8, 8, 3);
	cl_stop(&c);
}
END_TEST

START_TEST(test_multi_ratio_and_cross_server)
{
	cluster c;
	srv_config t;
	dev_reply r;
	float w[64];

	cl_tmpl(&t, "synthetic:64", 4);
	t.start_fl_job_threshold = 4;
	t.update_model_ratio = 0.5; /* 2 uploads end the iteration */
	cl_start(&c, &t, 4, 12);
	cl_wait_ready(&c, 20000);
	int map[4] = { 1, 2, 3, 0 };
	iteration(&c, 1, 4, map, 4, 2, 5);

	/* the leader keeps the devices' metadata: start at server 1, upload at server 3 */
	dev_start(&c, 1, "roamer", 5);
	dev_start(&c, 2, "other", 5);
	/* the round is full for everyone once 4 have started */
	dev_start(&c, 0, "x3", 5);
	dev_start(&c, 3, "x4", 5);
	cl_call(&c, 2, "startFLJob", hdr_start("late", 5, devs_now(&c.d)), NULL, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_ptr_nonnull(strstr(r.body, "reached the threshold"));
	dev_reply_free(&r);
	/* a device the leader never saw */
	fake_weights(w, 64, 9);
	cl_call(&c, 1, "updateModel", hdr_update("stranger", 2, devs_now(&c.d)), w, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_str_eq(r.body, "devices_meta for stranger is not set. Please retry later.");
	dev_reply_free(&r);
	ck_assert_int_eq(dev_update(&c, 3, "roamer", 2, w), 200);
	/* a duplicate from another server */
	ck_assert_int_eq(dev_update(&c, 2, "roamer", 2, w), 400);
	ck_assert_int_eq(dev_update(&c, 0, "other", 2, w), 200);
	for (int i = 0; i < 4; i++)
		cl_wait_iteration(&c, i, 3, 5000);
	cl_same_model(&c, 2);
	/* an upload for the finished iteration */
	cl_call(&c, 1, "updateModel", hdr_update("x3", 2, devs_now(&c.d)), w, &r);
	ck_assert_int_eq(r.retcode, 300);
	ck_assert_ptr_nonnull(strstr(r.body, "UpdateModel iteration number is invalid:2, current "
					     "iteration:3"));
	dev_reply_free(&r);
	cl_stop(&c);
}
END_TEST

START_TEST(test_multi_gates_and_windows)
{
	cluster c;
	srv_config t;
	dev_reply r;

	cl_tmpl(&t, "synthetic:64", 4);
	t.start_fl_job_threshold = 4;
	t.start_fl_job_time_window = 2000;
	t.fl_iteration_num = 2;
	/* three of four servers: the cluster is not complete */
	memset(&c, 0, sizeof c);
	cl_start(&c, &t, 3, 13);
	run_for(c.sim, 3000);
	cl_call(&c, 1, "startFLJob", hdr_start("a", 1, devs_now(&c.d)), NULL, &r);
	ck_assert(r.text);
	ck_assert_str_eq(r.body, "The server's training job is not ready.");
	dev_reply_free(&r);
	cl_add_server(&c, &t, 1);
	cl_wait_ready(&c, 20000);

	/* a startFLJob window that runs out, counted on the leader, seen everywhere */
	dev_start(&c, 1, "a", 1);
	dev_start(&c, 2, "b", 1);
	run_for(c.sim, 2500);
	for (int i = 0; i < 4; i++) {
		srv_status st = cl_status(&c, i);
		ck_assert_int_eq(st.iteration, 2);
		ck_assert_int_eq(st.iterations_failed, 1);
	}
	ck_assert_uint_eq(cl_same_model(&c, 1), cl_same_model(&c, 0));
	/* the leader logs the failed iteration */
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(c.sl[0].h, "iterations.jsonl", &buf, &len), 0);
	cJSON *j = cJSON_Parse((char *)buf);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "iterationResult")->valuestring, "fail");
	const cJSON *v = cJSON_GetObjectItem(j, "clientVisitedInfo");
	ck_assert_int_eq(cJSON_GetObjectItem(v, "startFLJobAcceptClientNum")->valueint, 2);
	cJSON_Delete(j);
	free(buf);
	/* followers do not write it */
	ck_assert_int_eq(rt_file_read(c.sl[1].h, "iterations.jsonl", &buf, &len), RT_ENOENT);

	/* the last iteration: then every server is finished; getModel stays open */
	float w[64];
	fake_weights(w, 64, 4);
	for (int k = 0; k < 4; k++) {
		char id[16];
		snprintf(id, sizeof id, "d%d", k);
		dev_start(&c, k, id, 2);
	}
	for (int k = 0; k < 4; k++) {
		char id[16];
		snprintf(id, sizeof id, "d%d", k);
		ck_assert_int_eq(dev_update(&c, (k + 1) % 4, id, 2, w), 200);
	}
	for (int i = 0; i < 4; i++)
		cl_wait_iteration(&c, i, 3, 5000);
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(cl_status(&c, i).instance_state, "finish");
		cl_call(&c, i, "startFLJob", hdr_start("z", 1, devs_now(&c.d)), NULL, &r);
		ck_assert_str_eq(r.body, "The server's training job is disabled or finished.");
		dev_reply_free(&r);
		cl_call(&c, i, "getModel", hdr_get(2, devs_now(&c.d)), NULL, &r);
		ck_assert_int_eq(r.retcode, 200);
		ck_assert_mem_eq(r.w, srv_get_model(c.sl[0].s, 2, NULL, NULL), sizeof w);
		dev_reply_free(&r);
	}
	cl_stop(&c);
}
END_TEST

static void rest(cluster *c, const char *path, const char *body, dev_reply *r)
{
	memset(r, 0, sizeof *r);
	ck_assert_int_eq(http_client_request(c->d.c, SCHED_IP, sched_manage_port(c->sch), "POST",
					     path, "application/json", body, strlen(body),
					     "Authorization: Bearer " TEST_MANAGE_TOKEN "\r\n", 30000, dev_on_resp, r), 0);
	dev_wait(&c->d, r, 30000);
}

START_TEST(test_multi_instance)
{
	cluster c;
	srv_config t;
	dev_reply r;

	cl_tmpl(&t, "synthetic:32", 4);
	t.start_fl_job_threshold = 4;
	cl_start(&c, &t, 4, 14);
	cl_wait_ready(&c, 20000);
	int map[4] = { 0, 1, 2, 3 };
	iteration(&c, 1, 4, map, 4, 4, 7);

	rest(&c, "/disableFLS", "{}", &r);
	ck_assert_msg(r.status == 200, "disableFLS: %d %s", r.status, r.body);
	dev_reply_free(&r);
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(cl_status(&c, i).instance_state, "disable");
		cl_call(&c, i, "getModel", hdr_get(1, devs_now(&c.d)), NULL, &r);
		ck_assert_str_eq(r.body, "The server's training job is disabled or finished.");
		dev_reply_free(&r);
	}
	rest(&c, "/enableFLS", "{}", &r);
	ck_assert_int_eq(r.status, 200);
	dev_reply_free(&r);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(cl_status(&c, i).instance_state, "running");
	iteration(&c, 2, 4, map, 4, 4, 8);

	/* a new instance: iteration 1 again, new hyper-parameters, the initial model */
	uint64_t h0 = cl_same_model(&c, 0);
	rest(&c, "/newInstance", "{\"start_fl_job_threshold\": 2, \"fl_iteration_num\": 3}", &r);
	ck_assert_msg(r.status == 200, "newInstance: %d %s", r.status, r.body);
	dev_reply_free(&r);
	cl_wait_ready(&c, 10000);
	for (int i = 0; i < 4; i++) {
		srv_status st = cl_status(&c, i);
		ck_assert_int_eq(st.iteration, 1);
		ck_assert_int_eq(st.last_committed, 0);
	}
	ck_assert_uint_eq(cl_same_model(&c, 0), h0);
	int two[2] = { 3, 1 };
	iteration(&c, 1, 2, two, 2, 2, 9);
	cl_stop(&c);
}
END_TEST

/* The same seed gives the same run, event for event. */
static uint64_t small_run(uint64_t seed)
{
	cluster c;
	srv_config t;

	cl_tmpl(&t, "synthetic:100", 4);
	t.start_fl_job_threshold = 4;
	t.allreduce_chunk = 30;
	cl_start(&c, &t, 4, seed);
	cl_wait_ready(&c, 20000);
	int map[4] = { 2, 0, 3, 1 };
	iteration(&c, 1, 4, map, 4, 4, 3);
	iteration(&c, 2, 4, map, 4, 4, 4);
	uint64_t h = rt_sim_trace_hash(c.sim);
	cl_stop(&c);
	return h;
}

START_TEST(test_multi_determinism)
{
	uint64_t a = small_run(99), b = small_run(99);
	ck_assert_uint_eq(a, b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("srv_multi");
	TCase *t = tcase_create("multi");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, test_multi_iterations);
	tcase_add_test(t, test_multi_ratio_and_cross_server);
	tcase_add_test(t, test_multi_gates_and_windows);
	tcase_add_test(t, test_multi_instance);
	tcase_add_test(t, test_multi_determinism);
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
