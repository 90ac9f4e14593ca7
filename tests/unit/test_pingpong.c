/*
 * The same program (sim/rt/pingpong.c), written only against rt.h, on both backends: the client's
 * transcript (every line it saw, random numbers included) must be identical, and the simulator
 * must be deterministic in the seed.
 */
#include "../../node/rt/rt_uv.h"
#include "../../sim/rt/pingpong.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct outcome {
	int done, err;
	char transcript[4096];
	uint64_t hash;
	rt_uv *uv; /* live runs: stop the loop when the client is done (the listener keeps it alive) */
} outcome;

static void on_done(int err, void *data)
{
	outcome *o = data;
	o->done = 1;
	o->err = err;
	if (o->uv)
		rt_uv_stop(o->uv);
}

static outcome run_sim(uint64_t seed, int rounds)
{
	outcome o = {0};
	rt_sim *s = rt_sim_new(seed);
	rt_host *hs, *hc;
	pp_server *srv;
	pp_client *cli;
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(rt_sim_host_new(s, "server", "10.0.0.1", &hs), 0);
	ck_assert_int_eq(rt_sim_host_new(s, "client", "10.0.0.2", &hc), 0);
	ck_assert_int_eq(pp_server_start(hs, 7000, &srv), 0);
	ck_assert_int_eq(pp_client_start(hc, "10.0.0.1", 7000, rounds, 10, on_done, &o, &cli), 0);
	rt_sim_run_until(s, 60ULL * 1000000000ULL);
	snprintf(o.transcript, sizeof o.transcript, "%s", pp_client_transcript(cli));
	o.hash = rt_sim_trace_hash(s);
	ck_assert_int_eq(pp_server_open_streams(srv), 0);
	pp_client_free(cli);
	pp_server_stop(srv);
	rt_sim_free(s);
	return o;
}

static outcome run_uv(uint64_t seed, int rounds)
{
	outcome o = {0};
	char dir[] = "/tmp/flbench-pp-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	rt_uv *u = rt_uv_new();
	ck_assert_ptr_nonnull(u);
	o.uv = u;
	rt_host *hs, *hc;
	rt_uv_host_config cs = {.name = "server", .ip = "127.0.0.1", .data_dir = dir,
				.seed = rt_seed_derive(seed, "server")};
	rt_uv_host_config cc = {.name = "client", .ip = "127.0.0.1", .data_dir = dir,
				.seed = rt_seed_derive(seed, "client")};
	ck_assert_int_eq(rt_uv_host_new(u, &cs, &hs), 0);
	ck_assert_int_eq(rt_uv_host_new(u, &cc, &hc), 0);
	pp_server *srv;
	pp_client *cli;
	ck_assert_int_eq(pp_server_start(hs, 0, &srv), 0);
	ck_assert_int_eq(pp_client_start(hc, "127.0.0.1", pp_server_port(srv), rounds, 5, on_done, &o, &cli), 0);
	rt_uv_run(u);
	snprintf(o.transcript, sizeof o.transcript, "%s", pp_client_transcript(cli));
	pp_client_free(cli);
	pp_server_stop(srv);
	rt_uv_host_free(hs);
	rt_uv_host_free(hc);
	rt_uv_run(u);
	rt_uv_free(u);
	char path[64];
	snprintf(path, sizeof path, "%s/pingpong.result", dir);
	unlink(path);
	rmdir(dir);
	return o;
}

START_TEST(same_on_both_backends)
{
	outcome s = run_sim(7, 12), u = run_uv(7, 12);
	ck_assert_int_eq(s.done, 1);
	ck_assert_int_eq(s.err, 0);
	ck_assert_int_eq(u.done, 1);
	ck_assert_int_eq(u.err, 0);
	ck_assert_ptr_nonnull(strstr(s.transcript, "connect;pong 0 "));
	ck_assert_ptr_nonnull(strstr(s.transcript, ";file 12;closed"));
	ck_assert_str_eq(s.transcript, u.transcript);
}
END_TEST

START_TEST(sim_is_deterministic_in_the_seed)
{
	outcome a = run_sim(42, 8), b = run_sim(42, 8), c = run_sim(43, 8);
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_str_eq(a.transcript, b.transcript);
	ck_assert_uint_ne(a.hash, c.hash);
	ck_assert_str_ne(a.transcript, c.transcript); /* the random payloads differ */
}
END_TEST

START_TEST(refused_on_both_backends)
{
	/* nobody listens: both backends report a refused connection through done() */
	outcome o = {0};
	rt_sim *s = rt_sim_new(1);
	rt_host *hc;
	pp_client *cli;
	ck_assert_int_eq(rt_sim_host_new(s, "client", "10.0.0.2", &hc), 0);
	ck_assert_int_eq(pp_client_start(hc, "10.0.0.1", 7000, 3, 10, on_done, &o, &cli), 0);
	rt_sim_run_until(s, 10ULL * 1000000000ULL);
	ck_assert_int_eq(o.done, 1);
	ck_assert_int_eq(o.err, RT_ECONNREFUSED);
	pp_client_free(cli);
	rt_sim_free(s);

	outcome ou = {0};
	rt_uv *u = rt_uv_new();
	ou.uv = u;
	rt_host *hu, *hl;
	rt_uv_host_config cc = {.name = "client", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 1};
	rt_uv_host_config cl = {.name = "probe", .ip = "127.0.0.1", .data_dir = "/tmp", .seed = 2};
	ck_assert_int_eq(rt_uv_host_new(u, &cc, &hu), 0);
	ck_assert_int_eq(rt_uv_host_new(u, &cl, &hl), 0);
	/* find a free port: listen on 0, note it, close */
	pp_server *probe;
	ck_assert_int_eq(pp_server_start(hl, 0, &probe), 0);
	uint16_t port = pp_server_port(probe);
	pp_server_stop(probe);
	ck_assert_int_eq(pp_client_start(hu, "127.0.0.1", port, 3, 10, on_done, &ou, &cli), 0);
	rt_uv_run(u);
	ck_assert_int_eq(ou.done, 1);
	ck_assert_int_eq(ou.err, RT_ECONNREFUSED);
	pp_client_free(cli);
	rt_uv_host_free(hu);
	rt_uv_host_free(hl);
	rt_uv_run(u);
	rt_uv_free(u);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("pingpong");
	TCase *tc = tcase_create("both backends");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, same_on_both_backends);
	tcase_add_test(tc, sim_is_deterministic_in_the_seed);
	tcase_add_test(tc, refused_on_both_backends);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
