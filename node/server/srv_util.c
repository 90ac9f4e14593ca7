/*
 * srv_util.c — the small helpers every file of the server calls: the clock, leadership and the
 * lease, JSON fields, the embedder's events and the readiness reports to the scheduler. A leaf:
 * it calls nothing of the module.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t srv_now_ms(srv *s) { return rt_wall_ms(s->h); }

int srv_is_leader(const srv *s) { return s->phase != SRV_PH_NONE; }

int srv_lease_ok(srv *s)
{
	if (!s->failover)
		return 1;
	int ok = rt_now_ns(s->h) < sched_client_lease_until_ns(s->sc);
	if (!ok && !s->lease_warned)
		rt_log(s->h, RT_LOG_WARN, "leader: the scheduler has not heard us within its node timeout; "
		       "holding every commit (another server may have been given the role)");
	s->lease_warned = !ok;
	return ok;
}

const char *srv_instance_name(int st)
{
	return st == SRV_INST_FINISH ? "finish" : st == SRV_INST_DISABLE ? "disable" : "running";
}

void srv_json_add_u64(cJSON *o, const char *key, uint64_t v)
{
	char hex[24];

	snprintf(hex, sizeof hex, "%016" PRIx64, v);
	cJSON_AddStringToObject(o, key, hex);
}

uint64_t srv_json_u64(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 16);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		return (uint64_t)v->valuedouble;
	return 0;
}

int64_t srv_json_i64(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v)) /* out of int64_t's range (or NaN) converts undefined: the default */
		return v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18 ? (int64_t)v->valuedouble
									 : dflt;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsString(v)) {
		char *end;
		long long x = strtoll(v->valuestring, &end, 10);
		if (end != v->valuestring && !*end)
			return x;
	}
	return dflt;
}

const char *srv_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void srv_event(srv *s, int ev)
{
	if (s->cfg.on_event && !s->destroying)
		s->cfg.on_event(s->cfg.event_data, s, ev);
}

void srv_update_ready(srv *s)
{
	if (s->join == SRV_JOIN_MEMBER && !s->ready_reported && !s->removed) {
		s->ready_reported = 1;
		rt_log(s->h, RT_LOG_INFO, "Server started successfully. (node %s, rank %d, iteration %"
		       PRId64 ", http port %u)", s->cfg.node_id, s->rank, s->iteration,
		       s->http ? http_server_port(s->http) : 0);
		srv_event(s, SRV_EV_READY);
	}
}

void srv_maybe_scale_ready(srv *s)
{
	if (!s->scale_pending || !s->paused || s->scale_ready_sent || !s->sc)
		return;
	s->scale_ready_sent = 1;
	rt_log(s->h, RT_LOG_INFO, "scaling: paused at iteration %" PRId64 ", ready", s->iteration);
	sched_client_scale_ready(s->sc);
}

/* ---- messages ---- */
