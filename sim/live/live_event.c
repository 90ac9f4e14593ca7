/*
 * live_event.c — the scenario's events on real processes (see live.h and docs/live-mode.md):
 * kill = SIGKILL, restart = the same argv again, pause/resume = SIGSTOP/SIGCONT, clock_skew = the
 * node's libfaketime file (the fleet's: fl-fleet's POST /skew), fleet = fl-fleet's POST /resize,
 * partition/link/heal = rules on netem-proxy (servers advertise their endpoints, so links between
 * servers included), scale_out/scale_in = the management API, disk_fault corrupt = a flipped byte
 * in the node's recovery file. What cannot be done on real processes is recorded in the event's
 * "error" and not faked.
 */
#include "live_http.h"
#include "live_int.h"
#include "live_proc.h"
#include "../../netem/link.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Post fault rules and keep their ids for heal. */
static void post_rules(live *l, cJSON *rules, char *err, size_t errlen)
{
	cJSON *r = lv_proxy_call(l, "POST", "/rules", rules, err, errlen);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r, "rules"), *it;
	cJSON_ArrayForEach(it, arr) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (cJSON_IsNumber(id) && l->nrules < sizeof l->rules / sizeof l->rules[0])
			l->rules[l->nrules++] = (long)id->valuedouble;
	}
	cJSON_Delete(r);
}

static void partition(live *l, const sc_event *ev, cJSON *f, char *err, size_t errlen)
{
	cJSON *rules = cJSON_CreateArray();
	for (size_t a = 0; a < ev->n_groups; a++)
		for (size_t b = a + 1; b < ev->n_groups; b++)
			for (size_t i = 0; i < ev->group_len[a]; i++)
				for (size_t j = 0; j < ev->group_len[b]; j++) {
					cJSON *r = cJSON_CreateObject();
					cJSON_AddStringToObject(r, "from", ev->groups[a][i]);
					cJSON_AddStringToObject(r, "to", ev->groups[b][j]);
					cJSON_AddBoolToObject(r, "partition", 1);
					if (ev->for_ns) {
						char d[48];
						snprintf(d, sizeof d, "%" PRIu64 "ns", ev->for_ns);
						cJSON_AddStringToObject(r, "for", d);
					}
					cJSON_AddItemToArray(rules, r);
				}
	cJSON_AddNumberToObject(f, "for_s", (double)ev->for_ns / 1e9);
	if (l->nparts < sizeof l->parts / sizeof l->parts[0]) {
		l->parts[l->nparts].ev = ev;
		l->parts[l->nparts++].until_ns = ev->for_ns ? lv_now(l) + ev->for_ns : 0;
	}
	/* server<->server links included: every server advertises its proxy endpoint */
	post_rules(l, rules, err, errlen);
}

static void add_link(live *l, const sc_event *ev, char *err, size_t errlen)
{
	cJSON *rules = cJSON_CreateArray();
	cJSON_AddItemToArray(rules, lv_link_rule(&ev->link, ev->from, ev->to, 0, ev->for_ns));
	post_rules(l, rules, err, errlen);
}

/* POST to fl-fleet's control API (--control_port): err set unless it answers 200. */
static void fleet_call(live *l, const char *path, const char *body, char *err, size_t errlen)
{
	lh_resp r;
	int rc = lh_request(LV_IP_FLEET, l->fleet_ctl_port, "POST", path, NULL, body, strlen(body),
			    LV_HTTP_MS * 3, &r);
	if (rc) {
		snprintf(err, errlen, "fl-fleet POST %s: %s", path, strerror(-rc));
		return;
	}
	if (r.status != 200)
		snprintf(err, errlen, "fl-fleet POST %s: HTTP %d %.200s", path, r.status, r.body);
	lh_resp_free(&r);
}

static void disk_corrupt(live *l, const sc_event *ev, lv_node *n, cJSON *f, char *err, size_t errlen)
{
	char path[LV_PATH + 64];
	if (n == &l->sched)
		snprintf(path, sizeof path, "%s/fl-scheduler-%u.meta", n->data_dir, n->port);
	else
		snprintf(path, sizeof path, "%s/server_%d/srv_state", n->data_dir, n->id);
	FILE *fp = fopen(path, "r+b");
	if (!fp) {
		snprintf(err, errlen, "%s: %s (is recovery on?)", path, strerror(errno));
		return;
	}
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	/* the byte: from the seed and the event, as reproducible as a live run gets */
	uint64_t z = (l->sc->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(ev->index + 1));
	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
	z ^= z >> 29;
	long off = size > 0 ? (long)(z % (uint64_t)(size < 64 ? size : 64)) : 0;
	int c = size > 0 && !fseek(fp, off, SEEK_SET) ? fgetc(fp) : EOF;
	if (c == EOF || fseek(fp, off, SEEK_SET) || fputc(c ^ 0xff, fp) == EOF)
		snprintf(err, errlen, "%s: could not flip a byte", path);
	fclose(fp);
	cJSON_AddStringToObject(f, "file", strrchr(path, '/') + 1);
	cJSON_AddNumberToObject(f, "offset", (double)off);
}

static int skew(live *l, const sc_event *ev, lv_node *n, cJSON *f, char *err, size_t errlen)
{
	cJSON_AddNumberToObject(f, "offset_ms", (double)ev->offset_ms);
	cJSON_AddNumberToObject(f, "drift_ppm", ev->drift_ppm);
	if (n == &l->fleet) { /* as sim mode: fleet_skew, the offset only */
		char body[96];
		cJSON_AddNumberToObject(f, "share", ev->share);
		snprintf(body, sizeof body, "{\"share\":%.17g,\"offset_ms\":%lld}", ev->share,
			 (long long)ev->offset_ms);
		fleet_call(l, "/skew", body, err, errlen);
		return 0;
	}
	if (!n->skewable) {
		snprintf(err, errlen, "%s was not started under libfaketime", n->name);
		return 0;
	}
	char text[96];
	int len = snprintf(text, sizeof text, "%+.3f", (double)ev->offset_ms / 1000.0);
	if (ev->drift_ppm != 0) /* libfaketime's rate; it also scales the node's sleeps by as much */
		snprintf(text + len, sizeof text - (size_t)len, " x%.9f", 1.0 + ev->drift_ppm / 1e6);
	strncat(text, "\n", sizeof text - strlen(text) - 1);
	FILE *fp = fopen(n->ft_file, "w");
	if (!fp || fputs(text, fp) == EOF) {
		snprintf(err, errlen, "%s: %s", n->ft_file, strerror(errno));
		if (fp)
			fclose(fp);
		return 0;
	}
	fclose(fp);
	n->offset_ms = ev->offset_ms;
	n->drift_ppm = ev->drift_ppm;
	return 0;
}

static void scale_out(live *l, const sc_event *ev, cJSON *f, char *err, size_t errlen)
{
	char body[96];
	cJSON_AddNumberToObject(f, "servers", ev->servers);
	snprintf(body, sizeof body, "{\"worker_num\":0,\"server_num\":%d}", ev->servers);
	l->server_total += ev->servers;
	lh_resp r;
	int rc = lh_request(l->sched.ip, l->manage_port, "POST", "/scaleout", NULL, body, strlen(body),
			    LV_HTTP_MS * 5, &r);
	if (rc) {
		snprintf(err, errlen, "POST /scaleout: %s", strerror(-rc));
		return;
	}
	if (r.status != 200) {
		snprintf(err, errlen, "POST /scaleout: HTTP %d %.200s", r.status, r.body);
		lh_resp_free(&r);
		return;
	}
	lh_resp_free(&r);
	for (int i = 0; i < ev->servers; i++) {
		lv_node *n;
		if ((rc = lv_add_server(l, l->server_total, &n, err, errlen)) != 0)
			return;
		if ((rc = lv_start(l, n)) != 0) {
			snprintf(err, errlen, "%s: %s", n->name, strerror(-rc));
			return;
		}
	}
}

static void scale_in(live *l, const sc_event *ev, cJSON *f, char *err, size_t errlen)
{
	char body[1200] = "{\"node_ids\":[";
	cJSON *ids = cJSON_AddArrayToObject(f, "node_ids");
	for (size_t i = 0; i < ev->n_ids; i++) {
		size_t len = strlen(body);
		snprintf(body + len, sizeof body - len, "%s\"%s\"", i ? "," : "", ev->node_ids[i]);
		cJSON_AddItemToArray(ids, cJSON_CreateString(ev->node_ids[i]));
	}
	strncat(body, "]}", sizeof body - strlen(body) - 1);
	lh_resp r;
	int rc = lh_request(l->sched.ip, l->manage_port, "POST", "/scalein", NULL, body, strlen(body),
			    LV_HTTP_MS * 5, &r);
	if (rc) {
		snprintf(err, errlen, "POST /scalein: %s", strerror(-rc));
		return;
	}
	if (r.status != 200)
		snprintf(err, errlen, "POST /scalein: HTTP %d %.200s", r.status, r.body);
	lh_resp_free(&r);
	if (err[0])
		return;
	for (size_t i = 0; i < ev->n_ids; i++) {
		char name[48];
		snprintf(name, sizeof name, "server/%s", ev->node_ids[i]);
		lv_node *n = lv_find(l, name);
		if (n)
			n->scale_in_pending = 1; /* scaled in once /nodes no longer lists it */
	}
}

static void fault_event(live *l, const sc_event *ev, cJSON *f)
{
	uint64_t t = lv_now(l);
	cJSON_AddStringToObject(f, "action", sc_action_name(ev->action));
	cJSON_AddNumberToObject(f, "event", ev->index);
	char name[96];
	snprintf(name, sizeof name, "%s%s%s", sc_action_name(ev->action), ev->node[0] ? " " : "", ev->node);
	recorder_instant(l->rec, ev->node[0] ? ev->node : "engine", name, t, NULL);
	recorder_event(l->rec, t, "fault", f);
	live_inv_fault(l->inv, t);
	if (!l->pending_fault_ns)
		l->pending_fault_ns = t ? t : 1;
}

static void do_event(live *l, const sc_event *ev)
{
	cJSON *f = cJSON_CreateObject();
	char err[512] = "";
	if (ev->node[0])
		cJSON_AddStringToObject(f, "node", ev->node);
	lv_node *n = ev->node[0] ? lv_find(l, ev->node) : NULL;
	int needs_node = ev->action == SC_KILL || ev->action == SC_RESTART || ev->action == SC_PAUSE ||
			 ev->action == SC_RESUME || ev->action == SC_CLOCK_SKEW || ev->action == SC_DISK_FAULT;
	int rc = 0;
	if (needs_node && !n) {
		snprintf(err, sizeof err, "no such node");
	} else if ((ev->action == SC_KILL || ev->action == SC_RESTART || ev->action == SC_DISK_FAULT) &&
		   n == &l->fleet) {
		snprintf(err, sizeof err, "no such node"); /* as in sim mode: the fleet is no cluster node */
	} else {
		switch (ev->action) {
		case SC_KILL:
			lv_kill(l, n);
			break;
		case SC_RESTART:
			if ((rc = lv_start(l, n)) != 0)
				snprintf(err, sizeof err, "%s", strerror(-rc));
			break;
		case SC_PAUSE:
		case SC_RESUME:
			if (!n->pid) {
				snprintf(err, sizeof err, "%s is not running", n->name);
				break;
			}
			lp_signal(n->pid, ev->action == SC_PAUSE ? SIGSTOP : SIGCONT);
			n->paused = ev->action == SC_PAUSE;
			break;
		case SC_CLOCK_SKEW:
			skew(l, ev, n, f, err, sizeof err);
			break;
		case SC_PARTITION:
			partition(l, ev, f, err, sizeof err);
			break;
		case SC_LINK:
			cJSON_AddStringToObject(f, "from", ev->from);
			cJSON_AddStringToObject(f, "to", ev->to);
			cJSON_AddNumberToObject(f, "for_s", (double)ev->for_ns / 1e9);
			add_link(l, ev, err, sizeof err);
			break;
		case SC_HEAL:
			for (size_t i = 0; i < l->nrules; i++) {
				char path[48], e2[256] = "";
				snprintf(path, sizeof path, "/rules/%ld", l->rules[i]);
				cJSON_Delete(lv_proxy_call(l, "DELETE", path, NULL, e2, sizeof e2));
			}
			l->nrules = 0;
			l->nparts = 0;
			break;
		case SC_SCALE_OUT:
			scale_out(l, ev, f, err, sizeof err);
			break;
		case SC_SCALE_IN:
			scale_in(l, ev, f, err, sizeof err);
			break;
		case SC_FLEET: {
			char body[64];
			cJSON_AddNumberToObject(f, "devices", (double)ev->devices);
			snprintf(body, sizeof body, "{\"devices\":%ld}", (long)ev->devices);
			fleet_call(l, "/resize", body, err, sizeof err);
			break;
		}
		case SC_DISK_FAULT:
			cJSON_AddStringToObject(f, "fault_kind", ev->kind);
			if (!strcmp(ev->kind, "lose_unsynced")) {
				snprintf(err, sizeof err, "unsupported live: unsynced writes sit in the kernel's page "
					 "cache, which a killed process does not lose");
				lv_note(l, "disk_fault lose_unsynced: %s", err);
			} else {
				disk_corrupt(l, ev, n, f, err, sizeof err);
			}
			break;
		default:
			break;
		}
	}
	if (err[0])
		cJSON_AddStringToObject(f, "error", err);
	fault_event(l, ev, f);
}

void lv_events_tick(live *l)
{
	const scenario *sc = l->sc;
	uint64_t t = lv_now(l);
	for (size_t i = 0; i < sc->n_events; i++) {
		const sc_event *ev = &sc->events[i];
		if (l->armed[i])
			continue;
		if (ev->has_at) {
			l->due_ns[i] = ev->at_ns + ev->after_ns;
			l->armed[i] = 1;
		} else if (lv_condition(l, ev->on)) {
			l->due_ns[i] = t + ev->after_ns;
			l->armed[i] = 1;
		}
	}
	/* what is due, earliest first (file order among equals) */
	for (;;) {
		size_t best = sc->n_events;
		for (size_t i = 0; i < sc->n_events; i++)
			if (l->armed[i] && !l->fired[i] && l->due_ns[i] <= t &&
			    (best == sc->n_events || l->due_ns[i] < l->due_ns[best]))
				best = i;
		if (best == sc->n_events)
			return;
		l->fired[best] = 1;
		do_event(l, &sc->events[best]);
	}
}
