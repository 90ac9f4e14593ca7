/*
 * test_srv_scale.c — scale-out and scale-in in the middle of training, with the real scheduler:
 * the running iteration is abandoned, every server waits in safe mode at the barrier, takes the
 * new table and ring, and training continues; a new server serves the same models as the
 * others, a removed one stops answering devices.
 */
#include "test_srv_cluster.h"

static void start_at(cluster *c, int server, const char *id, int64_t ds)
{
	dev_reply r;
	cl_call(c, server, "startFLJob", hdr_start(id, ds, devs_now(&c->d)), NULL, &r);
	ck_assert_msg(r.retcode == 200, "startFLJob %s at %d: %d %s", id, server, r.retcode, r.body);
	dev_reply_free(&r);
}

/* A valid iteration with one device per listed server; checked against the reference. */
static void full_iteration(cluster *c, int64_t iter, const int *servers, int n)
{
	size_t total = c->def.total;
	float *w = malloc(total * sizeof(float)), *want = malloc(total * sizeof(float));
	refavg ref;
	char id[32];
	dev_reply r;
	int nranks = 0;

	ref_init(&ref, total);
	for (int k = 0; k < n; k++) {
		snprintf(id, sizeof id, "it%lld-%d", (long long)iter, k);
		start_at(c, servers[k], id, 2 + k);
	}
	for (int k = 0; k < n; k++) {
		snprintf(id, sizeof id, "it%lld-%d", (long long)iter, k);
		fake_weights(w, total, (uint64_t)(iter * 100 + k));
		cl_call(c, servers[k], "updateModel", hdr_update(id, iter, devs_now(&c->d)), w, &r);
		ck_assert_msg(r.retcode == 200, "updateModel at %d: %s", servers[k], r.body);
		dev_reply_free(&r);
		ref_add(&ref, cl_status(c, servers[k]).rank, w, 2 + k);
	}
	for (int i = 0; i < c->n; i++) {
		if (!c->sl[i].s || !cl_status(c, i).ready)
			continue;
		cl_wait_iteration(c, i, iter + 1, 10000);
		nranks++;
	}
	ref_finish(&ref, nranks, want);
	cl_same_model(c, iter);
	for (int i = 0; i < c->n; i++) {
		if (!c->sl[i].s || !cl_status(c, i).ready)
			continue;
		cl_call(c, i, "getModel", hdr_get(iter, devs_now(&c->d)), NULL, &r);
		ck_assert_int_eq(r.retcode, 200);
		ck_assert_msg(memcmp(r.w, want, total * sizeof(float)) == 0,
			      "server %d: the model is not the reference FedAvg", i);
		dev_reply_free(&r);
	}
	ref_free(&ref);
	free(w);
	free(want);
}

/* Step until some live server is in safe mode; then a device asks it. */
static void expect_safemode(cluster *c)
{
	uint64_t until = rt_sim_now_ns(c->sim) + 10000 * MS;
	int who = -1;

	while (who < 0 && rt_sim_now_ns(c->sim) < until && rt_sim_step(c->sim))
		for (int i = 1; i < c->n && who < 0; i++)
			if (c->sl[i].s && cl_status(c, i).ready && cl_status(c, i).safemode)
				who = i;
	ck_assert_int_ge(who, 0);
	dev_reply r;
	cl_call(c, who, "getModel", hdr_get(1, devs_now(&c->d)), NULL, &r);
	ck_assert(r.text);
	ck_assert_str_eq(r.body, "The cluster is in safemode.");
	dev_reply_free(&r);
}

START_TEST(test_scale_out_and_in)
{
	cluster c;
	srv_config t;
	char err[256];
	dev_reply r;

	cl_tmpl(&t, "synthetic:700", 4);
	t.start_fl_job_threshold = 4;
	t.allreduce_chunk = 200;
	t.model_store_size = 10;
	cl_start(&c, &t, 4, 31);
	cl_wait_ready(&c, 20000);
	int four[4] = { 0, 1, 2, 3 };
	full_iteration(&c, 1, four, 4);
	uint64_t h1 = cl_same_model(&c, 1);

	/* scale out by one in the middle of iteration 2 */
	start_at(&c, 1, "mid-a", 1);
	start_at(&c, 2, "mid-b", 1);
	ck_assert_int_eq(sched_scale_out(c.sch, 1, err, sizeof err), 0);
	t.server_num = 5;
	cl_add_server(&c, &t, 1);
	expect_safemode(&c);
	cl_wait_ready(&c, 20000);
	for (int i = 0; i < 5; i++) {
		srv_status st = cl_status(&c, i);
		ck_assert_int_eq(st.iteration, 3); /* iteration 2 was abandoned */
		ck_assert_int_eq(st.rank, i);
	}
	ck_assert_uint_eq(cl_same_model(&c, 2), h1);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	int five[4] = { 4, 0, 4, 3 };
	full_iteration(&c, 3, five, 4);

	/* scale in server 2 in the middle of iteration 4 */
	start_at(&c, 2, "mid-c", 1);
	const char *gone[1] = { "2" };
	ck_assert_int_eq(sched_scale_in(c.sch, gone, 1, err, sizeof err), 0);
	expect_safemode(&c);
	uint64_t until = rt_sim_now_ns(c.sim) + 20000 * MS;
	while (cl_status(&c, 2).ready && rt_sim_now_ns(c.sim) < until)
		run_for(c.sim, 10);
	ck_assert(!cl_status(&c, 2).ready);
	ck_assert_int_eq(cl_status(&c, 2).http_port, 0);
	/* the removed server answers no device any more */
	dev_post(&c.d, c.sl[2].ip, 6668, "getModel", hdr_get(3, devs_now(&c.d)), NULL, &r);
	dev_wait(&c.d, &r, 5000);
	ck_assert_int_ne(r.err, 0);
	dev_reply_free(&r);
	/* the others carry on with new ranks */
	uint64_t until2 = rt_sim_now_ns(c.sim) + 20000 * MS;
	int ok = 0;
	while (!ok && rt_sim_now_ns(c.sim) < until2) {
		run_for(c.sim, 10);
		ok = 1;
		for (int i = 0; i < 5; i++)
			if (i != 2 && (!cl_status(&c, i).ready || cl_status(&c, i).safemode))
				ok = 0;
	}
	ck_assert(ok);
	ck_assert_int_eq(cl_status(&c, 3).rank, 2);
	ck_assert_int_eq(cl_status(&c, 4).rank, 3);
	int64_t it = cl_status(&c, 0).iteration;
	ck_assert_int_eq(it, 5);
	int rest[4] = { 3, 4, 1, 0 };
	full_iteration(&c, it, rest, 4);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	cl_stop(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("srv_scale");
	TCase *t = tcase_create("scale");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, test_scale_out_and_in);
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
