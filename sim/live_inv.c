/*
 * live_inv.c — see live_inv.h.
 */
#include "live_inv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LI_MAX_ITERS 65536
#define LI_MAX_NODES 80
#define LI_MAX_SEEN 512

struct live_inv {
	live_inv_config cfg;
	recorder *rec;
	cJSON *list;
	int count;
	uint64_t *hash;            /* iteration -> first hash seen (0: none) */
	char (*first)[48];         /* iteration -> who served it first */
	uint64_t agreement_checks;
	char names[LI_MAX_NODES][32];
	int64_t last_it[LI_MAX_NODES];
	int nnames;
	int faults;
	uint64_t last_fault_ns, last_success_ns;
	char seen[LI_MAX_SEEN][64];
	int nseen;
};

static void violate(live_inv *v, uint64_t now_ns, const char *what, const char *node, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void violate(live_inv *v, uint64_t now_ns, const char *what, const char *node, const char *key,
		    const char *fmt, ...)
{
	char k[64];
	snprintf(k, sizeof k, "%s|%s|%s", what, node, key);
	for (int i = 0; i < v->nseen; i++)
		if (!strcmp(v->seen[i], k))
			return;
	if (v->nseen < LI_MAX_SEEN)
		snprintf(v->seen[v->nseen++], sizeof v->seen[0], "%s", k);
	char detail[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	v->count++;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "t", (double)now_ns / 1e9);
	cJSON_AddStringToObject(j, "invariant", what);
	cJSON_AddStringToObject(j, "node", node);
	cJSON_AddStringToObject(j, "detail", detail);
	if (cJSON_GetArraySize(v->list) < 1000)
		cJSON_AddItemToArray(v->list, cJSON_Duplicate(j, 1));
	recorder_event(v->rec, now_ns, "violation", j);
	recorder_instant(v->rec, node, what, now_ns, NULL);
}

int live_inv_new(const live_inv_config *cfg, recorder *rec, live_inv **out)
{
	live_inv *v = calloc(1, sizeof *v);
	if (!v)
		return -1;
	v->cfg = *cfg;
	v->rec = rec;
	v->list = cJSON_CreateArray();
	v->hash = calloc(LI_MAX_ITERS, sizeof *v->hash);
	v->first = calloc(LI_MAX_ITERS, sizeof *v->first);
	if (!v->list || !v->hash || !v->first) {
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
	cJSON_Delete(v->list);
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
		violate(v, now_ns, "agreement", source, key, "getModel(%lld) from %s has hash %016llx, but %s "
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
		violate(v, now_ns, "monotonic", name, key, "iteration went back from %lld to %lld",
			(long long)v->last_it[i], (long long)it);
	}
	if (it > v->last_it[i])
		v->last_it[i] = it;
}

int live_inv_quiet(const live_inv *v, uint64_t now_ns)
{
	/* live processes take a moment to start and register: a second more than sim mode */
	uint64_t window = v->cfg.node_timeout_ns + 2 * v->cfg.heartbeat_ns + 1000000000ULL;
	return !v->faults || now_ns > v->last_fault_ns + window;
}

void live_inv_member(live_inv *v, uint64_t now_ns, const char *name, int listed_alive, int up)
{
	if (listed_alive != up)
		violate(v, now_ns, "membership", name, up ? "up" : "down",
			"/nodes says alive=%s but the server's process is %s", listed_alive ? "true" : "false",
			up ? "running" : "not running");
}

void live_inv_finish(live_inv *v, uint64_t now_ns, int finished)
{
	if (v->faults && now_ns > v->last_fault_ns + v->cfg.liveness_budget_ns &&
	    v->last_success_ns <= v->last_fault_ns && !finished)
		violate(v, now_ns, "liveness", "cluster", "", "no iteration succeeded in the %.0f s since the "
			"last fault at %.1f s", (double)(now_ns - v->last_fault_ns) / 1e9,
			(double)v->last_fault_ns / 1e9);
}

int live_inv_count(const live_inv *v) { return v->count; }
uint64_t live_inv_agreement_checks(const live_inv *v) { return v->agreement_checks; }
const cJSON *live_inv_list(const live_inv *v) { return v->list; }
