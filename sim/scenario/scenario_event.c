/*
 * scenario_event.c — the run's timeline in a scenario file: "events" (an action at a time or on a
 * condition: the keys each action takes and their checks) and "expect" (metric bounds), plus the
 * action names. Called by scenario.c's scenario_parse, one entry at a time; reads through the
 * readers of scenario_int.h.
 */
#include "scenario_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sc_parse_event(pctx *p, const cJSON *v, const char *path, sc_event *e)
{
	static const char *const common[] = {"at", "on", "after", "action", NULL};
	char action[32] = "";
	if (sc_rd_str(p, v, path, "action", action, sizeof action, 1))
		return -1;
	int a = -1;
	for (int i = 0; i < SC_ACTION_COUNT; i++)
		if (!strcmp(action, sc_action_name((sc_action)i)))
			a = i;
	if (a < 0) {
		char where[256];
		sc_subpath(where, sizeof where, path, "action");
		return sc_fail(p, where, "unknown action \"%s\" (known: kill, restart, pause, resume, "
			    "clock_skew, partition, link, heal, scale_out, scale_in, fleet, disk_fault)", action);
	}
	e->action = (sc_action)a;

	/* the keys each action takes, beyond the common ones */
	static const char *const k_node[] = {"node", NULL};
	static const char *const k_skew[] = {"node", "offset", "drift_ppm", "share", NULL};
	static const char *const k_part[] = {"groups", "for", NULL};
	static const char *const k_link[] = {"from", "to", "for", "latency", "jitter", "jitter_dist",
					     "bandwidth_kbps", "loss", "loss_mode", "slices", NULL};
	static const char *const k_none[] = {NULL};
	static const char *const k_sout[] = {"servers", NULL};
	static const char *const k_sin[] = {"node_ids", NULL};
	static const char *const k_fleet[] = {"devices", NULL};
	static const char *const k_disk[] = {"node", "kind", "file", NULL};
	const char *const *extra = k_none;
	switch (e->action) {
	case SC_KILL: case SC_RESTART: case SC_PAUSE: case SC_RESUME: extra = k_node; break;
	case SC_CLOCK_SKEW: extra = k_skew; break;
	case SC_PARTITION: extra = k_part; break;
	case SC_LINK: extra = k_link; break;
	case SC_HEAL: extra = k_none; break;
	case SC_SCALE_OUT: extra = k_sout; break;
	case SC_SCALE_IN: extra = k_sin; break;
	case SC_FLEET: extra = k_fleet; break;
	case SC_DISK_FAULT: extra = k_disk; break;
	default: break;
	}
	const char *allowed[24];
	size_t na = 0;
	for (const char *const *k = common; *k; k++)
		allowed[na++] = *k;
	for (const char *const *k = extra; *k && na < 23; k++)
		allowed[na++] = *k;
	allowed[na] = NULL;
	if (sc_check_keys(p, v, path, allowed))
		return -1;

	if (sc_rd_dur(p, v, path, "at", &e->at_ns, 0) || sc_rd_str(p, v, path, "on", e->on, sizeof e->on, 0) ||
	    sc_rd_dur(p, v, path, "after", &e->after_ns, 0))
		return -1;
	e->has_at = cJSON_GetObjectItemCaseSensitive(v, "at") != NULL;
	if (e->has_at == (e->on[0] != 0))
		return sc_fail(p, path, "an event needs exactly one of \"at\" (a time) or \"on\" (a condition)");
	if (e->on[0]) {
		const char *eq = strchr(e->on, '=');
		char where[256];
		sc_subpath(where, sizeof where, path, "on");
		if (!eq || eq == e->on || !eq[1] ||
		    (strncmp(e->on, "iteration=", 10) && strncmp(e->on, "state=", 6) &&
		     strncmp(e->on, "round=", 6) && strncmp(e->on, "iterations.success=", 19)))
			return sc_fail(p, where, "expected \"iteration=N\", \"state=STATE\" or \"round=NAME\", got \"%s\"", e->on);
		if (!strncmp(e->on, "iteration=", 10)) {
			char *end;
			long it = strtol(e->on + 10, &end, 10);
			if (*end || it < 0)
				return sc_fail(p, where, "iteration=N needs a whole number, got \"%s\"", e->on);
		}
	}

	char where[256];
	switch (e->action) {
	case SC_KILL: case SC_RESTART: case SC_PAUSE: case SC_RESUME:
		return sc_rd_node(p, v, path, "node", e->node, sizeof e->node, e->action != SC_KILL && e->action != SC_RESTART);
	case SC_CLOCK_SKEW: {
		if (sc_rd_node(p, v, path, "node", e->node, sizeof e->node, 1))
			return -1;
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "offset");
		int64_t ns = 0;
		char buf[64];
		sc_subpath(where, sizeof where, path, "offset");
		if (o && (!cJSON_IsString(o) || sc_parse_duration_ns(o->valuestring, 1, &ns)))
			return sc_fail(p, where, "expected a signed duration like \"+15m\" or \"-2s\", got %s", sc_got(o, buf, sizeof buf));
		e->offset_ms = ns / 1000000;
		e->share = 1;
		if (sc_rd_num(p, v, path, "drift_ppm", &e->drift_ppm, -1e6, 1e6, 0) ||
		    sc_rd_num(p, v, path, "share", &e->share, 0, 1, 0))
			return -1;
		if (!o && !cJSON_GetObjectItemCaseSensitive(v, "drift_ppm"))
			return sc_fail(p, path, "clock_skew needs \"offset\" or \"drift_ppm\"");
		return 0;
	}
	case SC_PARTITION: {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(v, "groups");
		char buf[64];
		sc_subpath(where, sizeof where, path, "groups");
		if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) < 2)
			return sc_fail(p, where, "expected an array of at least two arrays of node names, got %s", sc_got(g, buf, sizeof buf));
		int i = 0;
		for (const cJSON *c = g->child; c; c = c->next, i++) {
			char w[300];
			snprintf(w, sizeof w, "%s[%d]", where, i);
			if ((size_t)i >= SC_MAX_GROUPS)
				return sc_fail(p, w, "at most %d groups", SC_MAX_GROUPS);
			if (sc_rd_id_list(p, c, w, e->groups[i], SC_MAX_IDS, &e->group_len[i], 1))
				return -1;
		}
		e->n_groups = (size_t)i;
		return sc_rd_dur(p, v, path, "for", &e->for_ns, 0);
	}
	case SC_LINK:
		sc_link_defaults(&e->link, 0);
		if (sc_rd_pattern(p, v, path, "from", e->from, sizeof e->from) ||
		    sc_rd_pattern(p, v, path, "to", e->to, sizeof e->to) ||
		    sc_rd_dur(p, v, path, "for", &e->for_ns, 0))
			return -1;
		return sc_rd_link_fields(p, v, path, &e->link);
	case SC_HEAL:
		return 0;
	case SC_SCALE_OUT: {
		long n = 0;
		if (sc_rd_int(p, v, path, "servers", &n, 1, 32, 1))
			return -1;
		e->servers = (int)n;
		return 0;
	}
	case SC_SCALE_IN: {
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(v, "node_ids");
		sc_subpath(where, sizeof where, path, "node_ids");
		if (!ids)
			return sc_fail(p, where, "required array of node ids is missing");
		return sc_rd_id_list(p, ids, where, e->node_ids, SC_MAX_IDS, &e->n_ids, 0);
	}
	case SC_FLEET:
		return sc_rd_int(p, v, path, "devices", &e->devices, 0, 10000000, 1);
	case SC_DISK_FAULT:
		if (sc_rd_node(p, v, path, "node", e->node, sizeof e->node, 0) ||
		    sc_rd_str(p, v, path, "kind", e->kind, sizeof e->kind, 1))
			return -1;
		if (strcmp(e->kind, "lose_unsynced") && strcmp(e->kind, "corrupt")) {
			sc_subpath(where, sizeof where, path, "kind");
			return sc_fail(p, where, "expected \"lose_unsynced\" or \"corrupt\", got \"%s\"", e->kind);
		}
		return 0;
	default:
		return 0;
	}
}

int sc_parse_expect(pctx *p, const cJSON *v, const char *path, sc_expect *x)
{
	static const char *const keys[] = {"metric", "min", "max", "equals", NULL};
	if (sc_check_keys(p, v, path, keys) || sc_rd_str(p, v, path, "metric", x->metric, sizeof x->metric, 1) ||
	    sc_rd_num(p, v, path, "min", &x->min, -1e300, 1e300, 0) ||
	    sc_rd_num(p, v, path, "max", &x->max, -1e300, 1e300, 0))
		return -1;
	x->has_min = cJSON_GetObjectItemCaseSensitive(v, "min") != NULL;
	x->has_max = cJSON_GetObjectItemCaseSensitive(v, "max") != NULL;
	const cJSON *eq = cJSON_GetObjectItemCaseSensitive(v, "equals");
	if (eq) {
		char where[256], buf[64];
		sc_subpath(where, sizeof where, path, "equals");
		x->has_equals = 1;
		if (cJSON_IsString(eq)) {
			x->equals_is_str = 1;
			snprintf(x->equals_str, sizeof x->equals_str, "%s", eq->valuestring);
		} else if (cJSON_IsNumber(eq)) {
			x->equals_num = eq->valuedouble;
		} else if (cJSON_IsBool(eq)) {
			x->equals_num = cJSON_IsTrue(eq) ? 1 : 0;
		} else {
			return sc_fail(p, where, "expected a string, number or boolean, got %s", sc_got(eq, buf, sizeof buf));
		}
	}
	if (!x->has_min && !x->has_max && !x->has_equals)
		return sc_fail(p, path, "an expectation needs \"min\", \"max\" or \"equals\"");
	return 0;
}

const char *sc_action_name(sc_action a)
{
	static const char *const names[SC_ACTION_COUNT] = {
		"kill", "restart", "pause", "resume", "clock_skew", "partition", "link", "heal",
		"scale_out", "scale_in", "fleet", "disk_fault"};
	return a >= 0 && a < SC_ACTION_COUNT ? names[a] : "?";
}
