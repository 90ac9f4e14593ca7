/*
 * test_srv_recovery.c — kills and restarts under the simulator with the real scheduler: rank 1
 * and rank 0 killed mid-iteration and restarted with their recovery files, a server down while
 * the others finish an iteration, a whole-cluster restart, a leader that lost its disk, and
 * corrupt recovery files. Committed models must never be lost or changed.
 */
#include "test_srv_cluster.h"

static void start_at(cluster *c, int server, const char *id, int64_t ds)
{
	dev_reply r;
	cl_call(c, server, "startFLJob", hdr_start(id, ds, devs_now(&c->d)), NULL, &r);
	ck_assert_msg(r.retcode == 200, "startFLJob %s at %d: %d %s", id, server, r.retcode, r.body);
	dev_reply_free(&r);
}

static void upload_at(cluster *c, int server, const char *id, int64_t iter, uint64_t seed)
{
	dev_reply r;
	float *w = malloc(c->def.total * sizeof(float));
	fake_weights(w, c->def.total, seed);
	cl_call(c, server, "updateModel", hdr_update(id, iter, devs_now(&c->d)), w, &r);
	ck_assert_msg(r.retcode == 200, "updateModel %s at %d: %d %s", id, server, r.retcode, r.body);
	dev_reply_free(&r);
	free(w);
}

/* A whole valid iteration over the live servers (4 devices, threshold 4). */
static void full_iteration(cluster *c, int64_t iter, const int *servers)
{
	char id[32];
	for (int k = 0; k < 4; k++) {
		snprintf(id, sizeof id, "it%lld-%d", (long long)iter, k);
		start_at(c, servers[k], id, 3 + k);
	}
	for (int k = 0; k < 4; k++) {
		snprintf(id, sizeof id, "it%lld-%d", (long long)iter, k);
		upload_at(c, servers[k], id, iter, (uint64_t)(iter * 10 + k));
	}
	for (int i = 0; i < c->n; i++)
		if (c->sl[i].s)
			cl_wait_iteration(c, i, iter + 1, 10000);
	cl_same_model(c, iter);
}

static void setup(cluster *c, uint64_t seed)
{
	srv_config t;
	cl_tmpl(&t, "synthetic:500", 4);
	t.start_fl_job_threshold = 4;
	t.allreduce_chunk = 128;
	t.fl_iteration_num = 50;
	t.model_store_size = 5;
	cl_start(c, &t, 4, seed);
	cl_wait_ready(c, 20000);
}

START_TEST(test_kill_rank1)
{
	cluster c;
	int all[4] = { 0, 1, 2, 3 };

	setup(&c, 21);
	full_iteration(&c, 1, all);
	uint64_t h1 = cl_same_model(&c, 1);
	/* iteration 2: server 1 accepts an upload, then dies */
	start_at(&c, 0, "a", 1);
	start_at(&c, 1, "b", 1);
	start_at(&c, 2, "c", 1);
	upload_at(&c, 1, "b", 2, 77);
	cl_kill(&c, 1);
	/* its sum is gone: the iteration cannot be valid; the others move on */
	cl_wait_iteration(&c, 0, 3, 5000);
	ck_assert_int_eq(cl_status(&c, 0).iterations_failed, 1);
	ck_assert_uint_eq(cl_same_model(&c, 2), h1);
	/* back with its files: same rank, same history, in step again */
	ck_assert_int_eq(cl_restart(&c, 1), 0);
	cl_wait_ready(&c, 20000);
	srv_status st = cl_status(&c, 1);
	ck_assert_int_eq(st.rank, 1);
	ck_assert_int_eq(st.iteration, 3);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	cl_same_model(&c, 2);
	full_iteration(&c, 3, all);

	/* a server that dies without uploads does not stop the others */
	start_at(&c, 0, "p", 1);
	start_at(&c, 1, "q", 1);
	start_at(&c, 2, "r", 1);
	start_at(&c, 3, "s", 1);
	cl_kill(&c, 3);
	upload_at(&c, 0, "p", 4, 1);
	upload_at(&c, 1, "q", 4, 2);
	upload_at(&c, 2, "r", 4, 3);
	upload_at(&c, 0, "s", 4, 4); /* s roams to server 0 */
	cl_wait_iteration(&c, 0, 5, 5000);
	ck_assert_int_eq(cl_status(&c, 0).iterations_failed, 1); /* still only the one */
	uint64_t h4 = cl_same_model(&c, 4);
	ck_assert_int_eq(cl_restart(&c, 3), 0);
	cl_wait_ready(&c, 20000);
	ck_assert_uint_eq(cl_same_model(&c, 4), h4);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	cl_stop(&c);
}
END_TEST

START_TEST(test_kill_rank0)
{
	cluster c;
	int all[4] = { 0, 1, 2, 3 };
	dev_reply r;

	setup(&c, 22);
	full_iteration(&c, 1, all);
	full_iteration(&c, 2, all);
	uint64_t h1 = cl_same_model(&c, 1), h2 = cl_same_model(&c, 2);
	start_at(&c, 1, "a", 1);
	start_at(&c, 2, "b", 1);
	upload_at(&c, 2, "b", 3, 5);
	cl_kill(&c, 0);
	run_for(c.sim, 200);
	/* without the counting role the others cannot take uploads */
	cl_call(&c, 1, "startFLJob", hdr_start("x", 1, devs_now(&c.d)), NULL, &r);
	ck_assert(r.text || r.retcode == 300);
	dev_reply_free(&r);
	ck_assert_int_eq(cl_restart(&c, 0), 0);
	cl_wait_ready(&c, 20000);
	/* the iteration in progress was declared invalid; nothing committed was lost */
	for (int i = 0; i < 4; i++) {
		srv_status st = cl_status(&c, i);
		ck_assert_int_eq(st.iteration, 4);
		ck_assert_int_eq(st.rank, i);
	}
	ck_assert(cl_status(&c, 0).leader);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	ck_assert_uint_eq(cl_same_model(&c, 2), h2);
	ck_assert_uint_eq(cl_same_model(&c, 3), h2);
	full_iteration(&c, 4, all);
	ck_assert_uint_eq(cl_same_model(&c, 2), h2);
	/* the job's outcome counters survived the leader's restart and agree everywhere */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(cl_status(&c, i).iterations_ok, 3);
		ck_assert_int_eq(cl_status(&c, i).iterations_failed, 1);
	}
	/* the new leader's iterations.jsonl continues */
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(c.sl[0].h, "iterations.jsonl", &buf, &len), 0);
	ck_assert_ptr_nonnull(strstr((char *)buf, "\"currentIteration\":4"));
	free(buf);
	cl_stop(&c);
}
END_TEST

START_TEST(test_whole_cluster_restart)
{
	cluster c;
	int all[4] = { 3, 2, 1, 0 };

	setup(&c, 23);
	full_iteration(&c, 1, all);
	full_iteration(&c, 2, all);
	uint64_t h1 = cl_same_model(&c, 1), h2 = cl_same_model(&c, 2);
	start_at(&c, 3, "z", 1);
	for (int i = 0; i < 4; i++)
		cl_kill(&c, i);
	run_for(c.sim, 1000);
	for (int i = 3; i >= 0; i--)
		ck_assert_int_eq(cl_restart(&c, i), 0);
	cl_wait_ready(&c, 20000);
	ck_assert_uint_eq(cl_same_model(&c, 1), h1);
	ck_assert_uint_eq(cl_same_model(&c, 2), h2);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(cl_status(&c, i).iteration, 4);
	full_iteration(&c, 4, all);
	cl_stop(&c);
}
END_TEST

START_TEST(test_leader_without_disk)
{
	cluster c;
	int all[4] = { 0, 1, 2, 3 };

	setup(&c, 24);
	full_iteration(&c, 1, all);
	full_iteration(&c, 2, all);
	uint64_t h2 = cl_same_model(&c, 2);
	cl_kill(&c, 0);
	/* rank 0 comes back on a blank disk: it learns the history from the others */
	ck_assert_int_eq(rt_sim_restart(c.sl[0].h), 0);
	ck_assert_int_eq(rt_file_remove(c.sl[0].h, "srv_state"), 0);
	cl_server_up(&c, 0);
	cl_wait_ready(&c, 20000);
	ck_assert_uint_eq(cl_same_model(&c, 2), h2);
	ck_assert_int_ge(cl_status(&c, 0).iteration, 3);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(cl_status(&c, i).iteration, cl_status(&c, 0).iteration);
	full_iteration(&c, cl_status(&c, 0).iteration, all);
	ck_assert_uint_eq(cl_same_model(&c, 2), h2);
	cl_stop(&c);
}
END_TEST

START_TEST(test_corrupt_files)
{
	cluster c;
	int all[4] = { 0, 1, 2, 3 };
	srv *s = NULL;

	setup(&c, 25);
	full_iteration(&c, 1, all);
	cl_kill(&c, 2);
	ck_assert_int_eq(rt_sim_disk_corrupt(c.sl[2].h, "srv_state", 20), 0);
	ck_assert_int_eq(rt_sim_restart(c.sl[2].h), 0);
	ck_assert_int_eq(srv_new(c.sl[2].h, &c.sl[2].cfg, &s), SRV_ECORRUPT);
	ck_assert_ptr_null(s);
	cl_kill(&c, 3);
	ck_assert_int_eq(rt_sim_disk_corrupt(c.sl[3].h, "model_1", 100), 0);
	ck_assert_int_eq(rt_sim_restart(c.sl[3].h), 0);
	ck_assert_int_eq(srv_new(c.sl[3].h, &c.sl[3].cfg, &s), SRV_ECORRUPT);
	ck_assert_ptr_null(s);
	/* files of another node id are refused too */
	cl_kill(&c, 1);
	ck_assert_int_eq(rt_sim_restart(c.sl[1].h), 0);
	srv_config other = c.sl[1].cfg;
	snprintf(other.node_id, sizeof other.node_id, "7");
	ck_assert_int_eq(srv_new(c.sl[1].h, &other, &s), SRV_EOWNER);
	cl_stop(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("srv_recovery");
	TCase *t = tcase_create("recovery");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, test_kill_rank1);
	tcase_add_test(t, test_kill_rank0);
	tcase_add_test(t, test_whole_cluster_restart);
	tcase_add_test(t, test_leader_without_disk);
	tcase_add_test(t, test_corrupt_files);
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
