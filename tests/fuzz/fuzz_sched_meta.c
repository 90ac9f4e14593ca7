/*
 * fuzz_sched_meta.c — the scheduler's metadata file (node/sched/sched_meta.c, sched_meta_load),
 * read by sched_new with recovery from rt_sim's virtual disk. First byte bit 0: the harness
 * rewrites the header line's checksum and length to match the body (the rest of the input after
 * its first newline), so mutations reach the JSON checks instead of stopping at the CRC; else
 * the file is the input as is. A file either loads or sched_new fails with SCHED_EMETA; a
 * loaded scheduler then runs a little (timeouts of the reloaded nodes).
 */
#include "../../node/sched/sched_int.h"
#include "fuzz_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int fix = data[0] & 1;
	data++;
	size--;
	uint8_t *file = NULL;
	size_t flen = size;
	const uint8_t *nl = memchr(data, '\n', size);
	if (fix && nl) {
		const uint8_t *body = nl + 1;
		size_t blen = size - (size_t)(body - data);
		char hdr[64];
		int hl = snprintf(hdr, sizeof hdr, "FLBSCHED1 %08lx %zu\n",
				  (unsigned long)fz_crc(body, blen), blen);
		file = malloc((size_t)hl + blen + 1);
		memcpy(file, hdr, (size_t)hl);
		memcpy(file + hl, body, blen);
		flen = (size_t)hl + blen;
	} else {
		file = malloc(size + 1);
		memcpy(file, data, size);
	}
	rt_sim *sim = fz_sim(1);
	rt_host *sh = fz_host(sim, "scheduler", "10.0.0.1");
	FZ_ASSERT(rt_file_write(sh, "scheduler.meta", file, flen, RT_FILE_SYNC) == 0);
	free(file);
	sched_config cfg;
	sched_config_init(&cfg);
	cfg.server_num = 2;
	cfg.recovery = 1;
	cfg.node_timeout_ms = 1000;
	snprintf(cfg.meta_file, sizeof cfg.meta_file, "scheduler.meta");
	sched *s = NULL;
	int rc = sched_new(sh, &cfg, &s);
	if (rc == 0) {
		FZ_ASSERT(s->n_nodes <= SCHED_MAX_NODES);
		fz_run_ms(sim, 1500);
		sched_destroy(s);
	} else {
		FZ_ASSERT(rc < 0 && s == NULL);
	}
	rt_sim_free(sim);
	return 0;
}
