/*
 * live_inv.c — see live_inv.h.
 */
#include "live_inv.h"
#include "../engine/violations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LI_MAX_ITERS 65536
#define LI_MAX_NODES 80

struct live_inv {
	live_inv_config cfg;
	membership members;
	violations vio;
	uint64_t *hash;            /* iteration -> first hash seen (0: none) */
	char (*first)[48];         /* iteration -> who served it first */
	uint64_t agreement_checks;
	char names[LI_MAX_NODES][32];
	int64_t last_it[LI_MAX_NODES];
	int nnames;
	int faults;
	uint64_t last_fault_ns, last_success_ns;
};


int live_inv_new(const live_inv_config *cfg, recorder *rec, live_inv **out)
{
	live_inv *v = calloc(1, sizeof *v);
	if (!v)
		return -1;
	v->cfg = *cfg;
	membership_init(&v->members, cfg->node_timeout_ns, cfg->heartbeat_ns, 1000000000ULL);
	int vrc = violations_init(&v->vio, rec);
	v->hash = calloc(LI_MAX_ITERS, sizeof *v->hash);
	v->first = calloc(LI_MAX_ITERS, sizeof *v->first);
	if (vrc || !v->hash || !v->first) {
		live_inv_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

void live_inv_free(live_inv *v)
{
	if (!v)
		return;
	violations_free(&v->vio);
	free(v->hash);
	free(v->first);
	free(v);
}

void live_inv_fault(live_inv *v, uint64_t now_ns)
{
	v->faults++;
	v->last_fault_ns = now_ns;
}

void live_inv_success(live_inv *v, uint64_t now_ns) { v->last_success_ns = now_ns; }

void live_inv_model(live_inv *v, uint64_t now_ns, const char *source, int64_t it, uint64_t h)
{
	if (it < 0 || it >= LI_MAX_ITERS)
		return;
	if (!v->hash[it]) {
		v->hash[it] = h ? h : 1;
		snprintf(v->first[it], sizeof v->first[it], "%s", source);
		return;
	}
	v->agreement_checks++;
	if (v->hash[it] != h) {
		char key[32];
		snprintf(key, sizeof key, "%lld", (long long)it);
		violations_add(&v->vio, now_ns, "agreement", source, key, "getModel(%lld) from %s has hash %016llx, but %s "
			"had %016llx for it", (long long)it, source, (unsigned long long)h, v->first[it],
			(unsigned long long)v->hash[it]);
	}
}

void live_inv_iteration(live_inv *v, uint64_t now_ns, const char *name, int64_t it)
{
	int i;
	for (i = 0; i < v->nnames && strcmp(v->names[i], name); i++)
		;
	if (i == v->nnames) {
		if (v->nnames == LI_MAX_NODES)
			return;
		snprintf(v->names[v->nnames], sizeof v->names[0], "%s", name);
		v->last_it[v->nnames++] = it;
		return;
	}
	if (it < v->last_it[i]) {
		char key[32];
		snprintf(key, sizeof key, "%lld", (long long)it);
		violations_add(&v->vio, now_ns, "monotonic", name, key, "iteration went back from %lld to %lld",
			(long long)v->last_it[i], (long long)it);
	}
	if (it > v->last_it[i])
		v->last_it[i] = it;
}

void live_inv_members(live_inv *v, uint64_t now_ns, uint64_t sched_up_since_ns, const member_view *m,
		      size_t n)
{
	membership_check(&v->members, &v->vio, now_ns, sched_up_since_ns, m, n);
}

void live_inv_finish(live_inv *v, uint64_t now_ns, int finished)
{
	if (v->faults && now_ns > v->last_fault_ns + v->cfg.liveness_budget_ns &&
	    v->last_success_ns <= v->last_fault_ns && !finished)
		violations_add(&v->vio, now_ns, "liveness", "cluster", "", "no iteration succeeded in the %.0f s since the "
			"last fault at %.1f s", (double)(now_ns - v->last_fault_ns) / 1e9,
			(double)v->last_fault_ns / 1e9);
}

int live_inv_count(const live_inv *v) { return v->vio.count; }
uint64_t live_inv_agreement_checks(const live_inv *v) { return v->agreement_checks; }
const cJSON *live_inv_list(const live_inv *v) { return v->vio.list; }
