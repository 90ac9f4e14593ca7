/*
 * live_base.c — the leaf every file of a live run uses: the run's monotonic clock, a node's wall
 * clock (its libfaketime offset included), notes for summary.json, finding a node by name. Calls
 * nothing of the module.
 */
#include "live_int.h"
#include "../../netem/link.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lv_now(const live *l)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t ns = (int64_t)(t.tv_sec - l->t0.tv_sec) * 1000000000LL + (t.tv_nsec - l->t0.tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

int64_t lv_node_wall_ms(const lv_node *n)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 + n->offset_ms;
}

void lv_note(live *l, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	const cJSON *it;
	cJSON_ArrayForEach(it, l->notes) if (!strcmp(it->valuestring, buf)) return;
	cJSON_AddItemToArray(l->notes, cJSON_CreateString(buf));
}

lv_node *lv_find(live *l, const char *name)
{
	if (!strcmp(name, "scheduler"))
		return &l->sched;
	if (!strcmp(name, "fleet"))
		return &l->fleet;
	for (int i = 0; i < l->nservers; i++)
		if (!strcmp(l->srv[i].name, name))
			return &l->srv[i];
	return NULL;
}

static int group_of(const sc_event *ev, const char *name)
{
	for (size_t g = 0; g < ev->n_groups; g++)
		for (size_t i = 0; i < ev->group_len[g]; i++)
			if (netem_pattern_match(ev->groups[g][i], name))
				return (int)g;
	return -1;
}

int lv_cut_off(live *l, const char *a, const char *b, uint64_t t)
{
	for (size_t i = 0; i < l->nparts; i++) {
		if (l->parts[i].until_ns && t >= l->parts[i].until_ns)
			continue;
		int ga = group_of(l->parts[i].ev, a), gb = group_of(l->parts[i].ev, b);
		if (ga >= 0 && gb >= 0 && ga != gb)
			return 1;
	}
	return 0;
}
