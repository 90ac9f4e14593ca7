/*
 * seedgen.c — writes the recovery-file seeds of tests/fuzz/corpus/ with the real code: a
 * standalone server with recovery (srv_state and model_0 as srv_new persists them) and a
 * scheduler with recovery after a scale-out request (its metadata file). Built and run by hand:
 * `make fuzz-seeds` (not part of any test).
 */
#include "../../node/sched/sched_int.h"
#include "../../node/server/srv.h"
#include "fuzz_util.h"

#include <stdio.h>

static void dump(const char *path, const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
		 const uint8_t *c, size_t cl)
{
	FILE *f = fopen(path, "wb");
	if (!f) { perror(path); exit(1); }
	fwrite(a, 1, al, f);
	if (b) fwrite(b, 1, bl, f);
	if (c) fwrite(c, 1, cl, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) { fprintf(stderr, "usage: seedgen CORPUS_DIR\n"); return 2; }
	char path[512];
	uint8_t *st, *m0, *meta;
	size_t stl, m0l, metal;
	rt_sim *sim = fz_sim(1);
	rt_host *h = fz_host(sim, "server/0", "10.0.1.1");
	srv_config cfg;
	srv_config_init(&cfg);
	snprintf(cfg.node_id, sizeof cfg.node_id, "0");
	snprintf(cfg.model, sizeof cfg.model, "synthetic:8");
	cfg.fl_server_port = 6668;
	cfg.scheduler_port = 0;
	cfg.server_num = 1;
	cfg.recovery = 1;
	cfg.model_store_size = 3;
	srv *s = NULL;
	if (srv_new(h, &cfg, &s)) { fprintf(stderr, "srv_new failed\n"); return 1; }
	if (rt_file_read(h, "srv_state", &st, &stl) || rt_file_read(h, "model_0", &m0, &m0l))
		return 1;
	const uint8_t flag = 1, sep[] = "@@FILE@@";
	snprintf(path, sizeof path, "%s/srv_recover/real-iter1", argv[1]);
	FILE *f = fopen(path, "wb");
	if (!f) { perror(path); return 1; }
	fwrite(&flag, 1, 1, f); fwrite(st, 1, stl, f); fwrite(sep, 1, 8, f); fwrite(m0, 1, m0l, f);
	fclose(f);
	srv_destroy(s);
	free(st); free(m0);

	rt_host *sh = fz_host(sim, "scheduler", "10.0.0.1");
	sched_config sc;
	sched_config_init(&sc);
	sc.server_num = 2;
	sc.recovery = 1;
	snprintf(sc.meta_file, sizeof sc.meta_file, "scheduler.meta");
	sched *sd = NULL;
	if (sched_new(sh, &sc, &sd)) return 1;
	sd->epoch = 3;
	sched_meta_save(sd);
	if (rt_file_read(sh, "scheduler.meta", &meta, &metal)) return 1;
	snprintf(path, sizeof path, "%s/sched_meta/real-starting", argv[1]);
	dump(path, &flag, 1, meta, metal, NULL, 0);
	free(meta);
	sched_destroy(sd);
	rt_sim_free(sim);
	return 0;
}
