/*
 * fuzz_srv_recover.c — the server's recovery files (node/server/srv_store.c, srv_recover), read
 * by srv_new with recovery from rt_sim's virtual disk. The input is the files separated by
 * "@@FILE@@": the first is srv_state, each other one a model file named model_<its header's
 * iteration>. First byte bit 0: the harness rewrites every file's trailing CRC (and srv_state's
 * JSON length) to match, so mutations reach the format checks instead of stopping at the CRC.
 * A server either starts or srv_new fails with an error code; never a crash.
 */
#include "../../node/server/srv.h"
#include "fuzz_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(rt_host *h, const char *name, const uint8_t *p, size_t len, int fix, int state)
{
	uint8_t *f = malloc(len + 1);
	memcpy(f, p, len);
	if (fix && state && len >= 16) {
		uint32_t tl = (uint32_t)(len - 16);
		memcpy(f + 8, &tl, 4);
	}
	if (fix && len >= 4) {
		uint32_t c = fz_crc(f, len - 4);
		memcpy(f + len - 4, &c, 4);
	}
	FZ_ASSERT(rt_file_write(h, name, f, len, RT_FILE_SYNC) == 0);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int fix = data[0] & 1;
	rt_sim *sim = fz_sim(1);
	rt_host *h = fz_host(sim, "server/0", "10.0.1.1");
	const uint8_t *p = data + 1;
	size_t left = size - 1, len;
	const uint8_t *part;
	for (int n = 0; n < 8 && (part = fz_next(&p, &left, "@@FILE@@", &len)); n++) {
		if (n == 0) {
			put(h, "srv_state", part, len, fix, 1);
			continue;
		}
		int64_t iter = 0;
		if (len >= 16)
			memcpy(&iter, part + 8, 8);
		char name[64];
		snprintf(name, sizeof name, "model_%lld", (long long)iter);
		put(h, name, part, len, fix, 0);
	}
	srv_config cfg;
	srv_config_init(&cfg);
	snprintf(cfg.node_id, sizeof cfg.node_id, "0");
	snprintf(cfg.model, sizeof cfg.model, "synthetic:8");
	cfg.fl_server_port = 6668;
	cfg.scheduler_port = 0; /* standalone */
	cfg.server_num = 1;
	cfg.recovery = 1;
	cfg.model_store_size = 3;
	srv *s = NULL;
	int rc = srv_new(h, &cfg, &s);
	if (rc == 0) {
		fz_run_ms(sim, 100);
		srv_destroy(s);
	} else {
		FZ_ASSERT(rc < 0 && s == NULL);
	}
	rt_sim_free(sim);
	return 0;
}
