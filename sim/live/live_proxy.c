/*
 * live_proxy.c — the netem-proxy client of live mode: calls to its control API, and the JSON
 * rule for a scenario link. A leaf: live_setup.c (endpoints, base rules) and live_event.c
 * (fault rules, heal) use it; it calls only live_http.c.
 */
#include "live_http.h"
#include "live_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *lv_proxy_call(live *l, const char *method, const char *path, cJSON *body, char *err, size_t errlen)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	lh_resp r;
	int rc = lh_request(LV_IP_PROXY_CTL, l->ctl_port, method, path, NULL, text, text ? strlen(text) : 0,
			    LV_HTTP_MS * 3, &r);
	free(text);
	if (rc) {
		snprintf(err, errlen, "netem-proxy %s %s: %s", method, path, strerror(-rc));
		return NULL;
	}
	cJSON *j = cJSON_Parse(r.body);
	if (r.status / 100 != 2 || !j) {
		snprintf(err, errlen, "netem-proxy %s %s: HTTP %d %.200s", method, path, r.status, r.body);
		cJSON_Delete(j);
		j = NULL;
	}
	lh_resp_free(&r);
	return j;
}

cJSON *lv_link_rule(const sc_link *lk, const char *from, const char *to, int base, uint64_t for_ns)
{
	cJSON *o = cJSON_CreateObject();
	char b[48];
	if (from)
		cJSON_AddStringToObject(o, "from", from);
	if (to)
		cJSON_AddStringToObject(o, "to", to);
	if (base)
		cJSON_AddBoolToObject(o, "base", 1);
	snprintf(b, sizeof b, "%" PRIu64 "ns", lk->latency_ns);
	cJSON_AddStringToObject(o, "latency", b);
	if (lk->jitter_ns) {
		snprintf(b, sizeof b, "%" PRIu64 "ns", lk->jitter_ns);
		cJSON_AddStringToObject(o, "jitter", b);
		if (lk->jitter_dist[0])
			cJSON_AddStringToObject(o, "distribution", lk->jitter_dist);
	}
	if (lk->bandwidth_bps) /* the scenario says bits/s, the proxy bytes/s */
		cJSON_AddNumberToObject(o, "bandwidth", (double)(lk->bandwidth_bps / 8 ? lk->bandwidth_bps / 8 : 1));
	if (lk->loss > 0)
		cJSON_AddNumberToObject(o, strcmp(lk->loss_mode, "reset") ? "loss" : "reset", lk->loss);
	if (lk->slices > 1)
		cJSON_AddNumberToObject(o, "slices", lk->slices);
	if (for_ns) {
		snprintf(b, sizeof b, "%" PRIu64 "ns", for_ns);
		cJSON_AddStringToObject(o, "for", b);
	}
	return o;
}
