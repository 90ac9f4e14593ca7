/*
 * fuzz_sched_frames.c — inter-node frames as the scheduler receives them (node/proto/conn.c's
 * decoder, then node/sched/sched_members.c's handling of REGISTER, HEARTBEAT, SCALE_READY,
 * INSTANCE_DONE, ... metas): a host connects to the scheduler port and sends the input (after
 * the first byte, which picks the slicing) as raw bytes. Whatever a peer sends, the scheduler
 * answers, refuses or closes the link; its node table stays within bounds.
 */
#include "../../node/sched/sched_int.h"
#include "fuzz_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SCHED_IP "10.0.0.1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	rt_sim *sim = fz_sim(1 + data[0] % 8);
	rt_host *sh = fz_host(sim, "scheduler", SCHED_IP), *ph = fz_host(sim, "server/0", "10.0.1.1");
	sched_config cfg;
	sched_config_init(&cfg);
	snprintf(cfg.ip, sizeof cfg.ip, SCHED_IP);
	cfg.port = 6667;
	cfg.server_num = 1 + (data[0] >> 7);
	cfg.heartbeat_interval_ms = 100;
	cfg.node_timeout_ms = 1000;
	sched *s = NULL;
	FZ_ASSERT(sched_new(sh, &cfg, &s) == 0);
	fz_raw raw = {.send = data + 1, .send_len = size - 1, .close_after = (data[0] & 0x40) != 0};
	FZ_ASSERT(rt_connect(ph, SCHED_IP, 6667, 1000, &fz_raw_cbs, &raw, &raw.s) == 0);
	fz_run_ms(sim, 1500); /* past the node timeout */
	FZ_ASSERT(s->n_nodes <= SCHED_MAX_NODES);
	(void)sched_get_state(s);
	sched_destroy(s);
	rt_sim_free(sim);
	return 0;
}
