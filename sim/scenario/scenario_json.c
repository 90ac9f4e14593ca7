/*
 * scenario_json.c — a parsed scenario printed back as JSON with every default filled in (the
 * "scenario_resolved" part of summary.json), so a run's outputs say exactly what ran.
 */
#include "scenario.h"

#include <stdio.h>

static cJSON *dist_json(const sc_dist *d)
{
	static const char *const names[] = {"fixed", "uniform", "normal", "lognormal"};
	static const char *const an[] = {"value", "min", "mean", "median"};
	static const char *const bn[] = {NULL, "max", "stddev", "sigma"};
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "dist", names[d->kind]);
	cJSON_AddNumberToObject(o, an[d->kind], d->a);
	if (bn[d->kind])
		cJSON_AddNumberToObject(o, bn[d->kind], d->b);
	return o;
}

static void dur_str(char *buf, size_t len, uint64_t ns)
{
	if (ns % 1000000000ULL == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / 1000000000ULL));
	else if (ns % 1000000ULL == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000ULL));
	else
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000ULL));
}

static cJSON *link_json(const sc_link *l)
{
	char b[32];
	cJSON *o = cJSON_CreateObject();
	dur_str(b, sizeof b, l->latency_ns);
	cJSON_AddStringToObject(o, "latency", b);
	dur_str(b, sizeof b, l->jitter_ns);
	cJSON_AddStringToObject(o, "jitter", b);
	cJSON_AddStringToObject(o, "jitter_dist", l->jitter_dist);
	cJSON_AddNumberToObject(o, "bandwidth_kbps", (double)l->bandwidth_bps / 1000.0);
	cJSON_AddNumberToObject(o, "loss", l->loss);
	cJSON_AddStringToObject(o, "loss_mode", l->loss_mode);
	cJSON_AddNumberToObject(o, "slices", l->slices);
	return o;
}

cJSON *scenario_to_json(const scenario *sc)
{
	char b[32];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", sc->name);
	cJSON_AddNumberToObject(o, "seed", (double)sc->seed);
	cJSON_AddStringToObject(o, "mode", sc->mode == SC_MODE_LIVE ? "live" : "sim");
	dur_str(b, sizeof b, sc->duration_ns);
	cJSON_AddStringToObject(o, "duration", b);
	cJSON_AddBoolToObject(o, "swarm", sc->swarm);
	cJSON *c = cJSON_AddObjectToObject(o, "cluster");
	cJSON_AddNumberToObject(c, "server_num", sc->server_num);
	cJSON_AddStringToObject(c, "model", sc->model);
	dur_str(b, sizeof b, sc->heartbeat_ns);
	cJSON_AddStringToObject(c, "heartbeat_interval", b);
	dur_str(b, sizeof b, sc->node_timeout_ns);
	cJSON_AddStringToObject(c, "node_timeout", b);
	cJSON_AddItemToObject(c, "config", cJSON_Duplicate(sc->config, 1));
	cJSON *f = cJSON_AddObjectToObject(o, "fleet");
	cJSON_AddNumberToObject(f, "devices", (double)sc->devices);
	cJSON_AddStringToObject(f, "training", sc->training);
	cJSON *d = cJSON_AddObjectToObject(f, "data");
	cJSON_AddStringToObject(d, "dataset", sc->data.dataset);
	cJSON_AddStringToObject(d, "partition", sc->data.partition);
	cJSON_AddNumberToObject(d, "alpha", sc->data.alpha);
	cJSON_AddNumberToObject(d, "classes", sc->data.classes);
	cJSON_AddNumberToObject(d, "samples_per_device", (double)sc->data.samples_per_device);
	cJSON_AddItemToObject(f, "compute_ms_per_sample", dist_json(&sc->compute_ms_per_sample));
	cJSON_AddItemToObject(f, "bandwidth_kbps", dist_json(&sc->bandwidth_kbps));
	cJSON_AddItemToObject(f, "clock_skew_ms", dist_json(&sc->clock_skew_ms));
	cJSON_AddItemToObject(f, "session_s", dist_json(&sc->session_s));
	cJSON_AddNumberToObject(f, "online_fraction", sc->online_fraction);
	cJSON_AddNumberToObject(f, "dropout", sc->dropout);
	cJSON *n = cJSON_AddObjectToObject(o, "network");
	cJSON_AddItemToObject(n, "default", link_json(&sc->net_default));
	cJSON_AddItemToObject(n, "fleet", link_json(&sc->net_fleet));
	cJSON_AddNumberToObject(o, "events", (double)sc->n_events);
	cJSON_AddNumberToObject(o, "expectations", (double)sc->n_expect);
	return o;
}
