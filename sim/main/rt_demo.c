/*
 * rt-demo — runs one small program written only against node/rt/rt.h (sim/rt/pingpong.c) on both
 * runtime backends and shows they behave the same: the smallest proof of the seam.
 */
#include "../../node/rt/rt_uv.h"
#include "../rt/pingpong.h"
#include "../rt/rt_sim.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct result {
	int done, err;
	char transcript[4096];
	rt_uv *uv; /* live run: stop the loop when the client is done (the listener keeps it alive) */
} result;

static void on_done(int err, void *data)
{
	result *r = data;
	r->done = 1;
	r->err = err;
	if (r->uv)
		rt_uv_stop(r->uv);
}

static int run_sim(uint64_t seed, int rounds, result *r, uint64_t *hash, double *virt_s)
{
	rt_sim *s = rt_sim_new(seed);
	rt_host *hs, *hc;
	pp_server *srv;
	pp_client *cli;
	if (!s || rt_sim_host_new(s, "server", "10.0.0.1", &hs) || rt_sim_host_new(s, "client", "10.0.0.2", &hc))
		return -1;
	rt_sim_set_default_latency(s, 200000); /* 200 µs each way */
	if (pp_server_start(hs, 7000, &srv) ||
	    pp_client_start(hc, "10.0.0.1", 7000, rounds, 10, on_done, r, &cli))
		return -1;
	rt_sim_run_until(s, UINT64_MAX);
	snprintf(r->transcript, sizeof r->transcript, "%s", pp_client_transcript(cli));
	*hash = rt_sim_trace_hash(s);
	*virt_s = (double)rt_sim_now_ns(s) / 1e9;
	pp_client_free(cli);
	pp_server_stop(srv);
	rt_sim_free(s);
	return r->done ? 0 : -1;
}

static int run_uv(uint64_t seed, int rounds, result *r)
{
	char dir[] = "/tmp/flbench-rt-demo-XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	rt_uv *u = rt_uv_new();
	r->uv = u;
	rt_host *hs, *hc;
	rt_uv_host_config cs = {.name = "server", .ip = "127.0.0.1", .data_dir = dir,
				.seed = rt_seed_derive(seed, "server")};
	rt_uv_host_config cc = {.name = "client", .ip = "127.0.0.1", .data_dir = dir,
				.seed = rt_seed_derive(seed, "client")};
	pp_server *srv;
	pp_client *cli;
	if (!u || rt_uv_host_new(u, &cs, &hs) || rt_uv_host_new(u, &cc, &hc))
		return -1;
	if (pp_server_start(hs, 0, &srv) ||
	    pp_client_start(hc, "127.0.0.1", pp_server_port(srv), rounds, 10, on_done, r, &cli))
		return -1;
	rt_uv_run(u);
	snprintf(r->transcript, sizeof r->transcript, "%s", pp_client_transcript(cli));
	pp_client_free(cli);
	pp_server_stop(srv);
	rt_uv_host_free(hs);
	rt_uv_host_free(hc);
	rt_uv_run(u); /* let close callbacks run */
	rt_uv_free(u);
	char path[sizeof dir + 32];
	snprintf(path, sizeof path, "%s/pingpong.result", dir);
	unlink(path);
	rmdir(dir);
	return r->done ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	int rounds = 20;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seed=", 7))
			seed = strtoull(argv[i] + 7, NULL, 10);
		else if (!strncmp(argv[i], "--rounds=", 9))
			rounds = atoi(argv[i] + 9);
		else {
			printf("usage: rt-demo [--seed=N] [--rounds=N]\n"
			       "Runs sim/rt/pingpong.c, written only against node/rt/rt.h, on the deterministic\n"
			       "simulator and on real loopback TCP, and compares what the client saw.\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "rt-demo: --rounds must be 1..1000\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("flbench rt-demo: one small program written only against the runtime seam\n"
	       "(node/rt/rt.h), run on both backends. Scenarios run with bin/sim.\n\n");
	result rs = {0}, ru = {0};
	uint64_t hash = 0;
	double virt = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int sim_rc = run_sim(seed, rounds, &rs, &hash, &virt);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double sim_wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int uv_rc = run_uv(seed, rounds, &ru);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double uv_wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("rt_sim  (virtual network, seed %" PRIu64 "): %s, %d rounds in %.3f s virtual, "
	       "%.4f s wall, trace hash %016" PRIx64 "\n",
	       seed, sim_rc || rs.err ? "FAILED" : "ok", rounds, virt, sim_wall, hash);
	printf("rt_uv   (real loopback TCP):          %s, %d rounds in %.3f s wall\n",
	       uv_rc || ru.err ? "FAILED" : "ok", rounds, uv_wall);
	int same = !strcmp(rs.transcript, ru.transcript);
	printf("client transcript (sim): %.120s%s\n", rs.transcript, strlen(rs.transcript) > 120 ? "..." : "");
	printf("same behaviour on both backends: %s\n", same ? "yes" : "NO");
	if (!same)
		printf("client transcript (uv):  %s\n", ru.transcript);
	return sim_rc || uv_rc || rs.err || ru.err || !same ? 1 : 0;
}
