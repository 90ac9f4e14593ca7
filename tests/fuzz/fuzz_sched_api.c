/*
 * fuzz_sched_api.c — the scheduler's REST management API (node/sched/sched_api.c), the real
 * handler behind the real HTTP server under rt_sim. The input is up to 8 requests separated by
 * "\n@@\n"; each one's first byte picks the path (the nine routes or an unknown one), the method
 * and whether the cluster is READY first (set through sched_int.h: there are no servers, so a
 * relayed instance operation finishes at once); the rest is the JSON body. Each request must get
 * exactly one answer.
 */
#include "../../node/sched/sched_int.h"
#include "fuzz_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SCHED_IP "10.0.0.1"
#define ADMIN_IP "10.0.9.1"

static const char *const paths[] = {"/nodes", "/state", "/queryInstance", "/scaleout",
				     "/scalein", "/scaleoutRollback", "/newInstance", "/enableFLS",
				     "/disableFLS", "/nope"};

typedef struct got {
	int done, err, status;
} got;

static void on_resp(int err, const http_response *resp, void *data)
{
	got *g = data;
	g->done++;
	g->err = err;
	if (resp) {
		g->status = resp->status;
		FZ_ASSERT(resp->status >= 200 && resp->status < 600);
		cJSON *j = cJSON_ParseWithLength((const char *)resp->body, resp->body_len);
		FZ_ASSERT(cJSON_IsObject(j)); /* every answer is a JSON object */
		cJSON_Delete(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rt_sim *sim = fz_sim(1);
	rt_host *sh = fz_host(sim, "scheduler", SCHED_IP), *ah = fz_host(sim, "admin", ADMIN_IP);
	sched_config cfg;
	sched_config_init(&cfg);
	snprintf(cfg.ip, sizeof cfg.ip, SCHED_IP);
	snprintf(cfg.manage_ip, sizeof cfg.manage_ip, SCHED_IP);
	cfg.server_num = 2;
	cfg.instance_timeout_ms = 500;
	sched *s = NULL;
	FZ_ASSERT(sched_new(sh, &cfg, &s) == 0);
	http_client *c = NULL;
	FZ_ASSERT(http_client_new(ah, NULL, &c) == 0);
	const uint8_t *p = data;
	size_t left = size, len;
	const uint8_t *part;
	for (int n = 0; n < 8 && (part = fz_next(&p, &left, "\n@@\n", &len)); n++) {
		if (!len)
			continue;
		uint8_t sel = part[0];
		if ((sel & 0x40) && s->state == CLUSTER_STARTING)
			s->state = CLUSTER_READY;
		const char *method = (sel & 0x80) ? "GET" : "POST";
		got g = {0};
		FZ_ASSERT(http_client_request(c, SCHED_IP, sched_manage_port(s), method,
					      paths[(sel & 0x3f) % 10], "application/json",
					      len > 1 ? part + 1 : NULL, len - 1, NULL, 3000,
					      on_resp, &g) == 0);
		for (int i = 0; i < 40 && !g.done; i++)
			fz_run_ms(sim, 100);
		FZ_ASSERT(g.done == 1 && g.err == 0);
	}
	fz_run_ms(sim, 1000); /* timers armed by the requests (instance timeout) */
	http_client_free(c);
	sched_destroy(s);
	rt_sim_free(sim);
	return 0;
}
