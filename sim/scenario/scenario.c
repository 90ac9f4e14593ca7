/*
 * scenario.c — scenario file parser and validator (see scenario.h): the top level, the cluster,
 * fleet and network sections, defaults, loading from a file. The typed readers it is built of are
 * in scenario_read.c, the events and expectations in scenario_event.c (scenario_int.h joins
 * them), printing back in scenario_json.c.
 *
 * Each reader takes the JSON path of what it reads so that every error can say where it is.
 * The first error wins; readers return -1 after it and callers unwind.
 */
#include "scenario_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scenario_has_tag(const scenario *sc, const char *tag)
{
	for (size_t i = 0; i < sc->n_tags; i++)
		if (!strcmp(sc->tags[i], tag))
			return 1;
	return 0;
}

/* ---- sections ---- */

static int parse_cluster(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"server_num", "model", "config", "heartbeat_interval",
					   "node_timeout", NULL};
	const char *path = "$.cluster";
	if (!v)
		return 0;
	long n = sc->server_num;
	if (sc_check_keys(p, v, path, keys) || sc_rd_int(p, v, path, "server_num", &n, 1, 64, 0) ||
	    sc_rd_str(p, v, path, "model", sc->model, sizeof sc->model, 0))
		return -1;
	sc->server_num = (int)n;
	if (strcmp(sc->model, "lenet5") && strncmp(sc->model, "synthetic:", 10))
		return sc_fail(p, "$.cluster.model", "expected \"lenet5\" or \"synthetic:N\", got \"%s\"", sc->model);
	if (!strncmp(sc->model, "synthetic:", 10)) {
		char *end;
		long long m = strtoll(sc->model + 10, &end, 10);
		if (*end || m < 1 || m > (1LL << 28))
			return sc_fail(p, "$.cluster.model", "synthetic:N needs N in [1, 268435456], got \"%s\"", sc->model);
	}
	if (sc_rd_dur(p, v, path, "heartbeat_interval", &sc->heartbeat_ns, 0) ||
	    sc_rd_dur(p, v, path, "node_timeout", &sc->node_timeout_ns, 0))
		return -1;
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");
	if (cfg) {
		char buf[64];
		if (!cJSON_IsObject(cfg))
			return sc_fail(p, "$.cluster.config", "expected an object, got %s", sc_got(cfg, buf, sizeof buf));
		cJSON_Delete(sc->config);
		sc->config = cJSON_Duplicate(cfg, 1);
		if (!sc->config)
			return sc_fail(p, "$.cluster.config", "out of memory");
	}
	return 0;
}

static int parse_fleet(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"devices", "training", "data", "compute_ms_per_sample",
					   "bandwidth_kbps", "online_fraction", "dropout",
					   "clock_skew_ms", "session_s", NULL};
	static const char *const data_keys[] = {"dataset", "partition", "alpha", "classes",
						"samples_per_device", NULL};
	const char *path = "$.fleet";
	if (!v)
		return 0;
	if (sc_check_keys(p, v, path, keys) ||
	    sc_rd_int(p, v, path, "devices", &sc->devices, 0, 10000000, 0) ||
	    sc_rd_str(p, v, path, "training", sc->training, sizeof sc->training, 0) ||
	    sc_rd_dist(p, v, path, "compute_ms_per_sample", &sc->compute_ms_per_sample, 0, 1e6) ||
	    sc_rd_dist(p, v, path, "bandwidth_kbps", &sc->bandwidth_kbps, 1, 1e9) ||
	    sc_rd_dist(p, v, path, "clock_skew_ms", &sc->clock_skew_ms, -1e10, 1e10) ||
	    sc_rd_dist(p, v, path, "session_s", &sc->session_s, 0, 1e9) ||
	    sc_rd_num(p, v, path, "online_fraction", &sc->online_fraction, 0, 1, 0) ||
	    sc_rd_num(p, v, path, "dropout", &sc->dropout, 0, 1, 0))
		return -1;
	if (strcmp(sc->training, "synthetic") && strcmp(sc->training, "real"))
		return sc_fail(p, "$.fleet.training", "expected \"synthetic\" or \"real\", got \"%s\"", sc->training);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
	if (d) {
		const char *dp = "$.fleet.data";
		long classes = sc->data.classes;
		if (sc_check_keys(p, d, dp, data_keys) ||
		    sc_rd_str(p, d, dp, "dataset", sc->data.dataset, sizeof sc->data.dataset, 0) ||
		    sc_rd_str(p, d, dp, "partition", sc->data.partition, sizeof sc->data.partition, 0) ||
		    sc_rd_num(p, d, dp, "alpha", &sc->data.alpha, 1e-6, 1e6, 0) ||
		    sc_rd_int(p, d, dp, "classes", &classes, 1, 10, 0) ||
		    sc_rd_int(p, d, dp, "samples_per_device", &sc->data.samples_per_device, 1, 60000, 0))
			return -1;
		sc->data.classes = (int)classes;
		if (strcmp(sc->data.dataset, "fashion-mnist"))
			return sc_fail(p, "$.fleet.data.dataset", "expected \"fashion-mnist\", got \"%s\"", sc->data.dataset);
		if (strcmp(sc->data.partition, "iid") && strcmp(sc->data.partition, "dirichlet") &&
		    strcmp(sc->data.partition, "shards"))
			return sc_fail(p, "$.fleet.data.partition", "expected \"iid\", \"dirichlet\" or \"shards\", got \"%s\"",
				    sc->data.partition);
	}
	return 0;
}

/* the keys of a link block (network.default, network.fleet) */
static const char *const link_keys[] = {"latency", "jitter", "jitter_dist", "bandwidth_kbps",
					"loss", "loss_mode", "slices", NULL};

static int parse_network(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"default", "fleet", NULL};
	if (!v)
		return 0;
	if (sc_check_keys(p, v, "$.network", keys))
		return -1;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "default");
	if (d && (sc_check_keys(p, d, "$.network.default", link_keys) ||
		  sc_rd_link_fields(p, d, "$.network.default", &sc->net_default)))
		return -1;
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "fleet");
	if (f && (sc_check_keys(p, f, "$.network.fleet", link_keys) ||
		  sc_rd_link_fields(p, f, "$.network.fleet", &sc->net_fleet)))
		return -1;
	return 0;
}

static void defaults(scenario *sc)
{
	snprintf(sc->name, sizeof sc->name, "unnamed");
	sc->seed = 1;
	sc->mode = SC_MODE_SIM;
	sc->duration_ns = 600ULL * 1000000000ULL;
	sc->server_num = 4;
	snprintf(sc->model, sizeof sc->model, "synthetic:1000");
	sc->heartbeat_ns = 3ULL * 1000000000ULL;
	sc->node_timeout_ns = 30ULL * 1000000000ULL;
	sc->devices = 100;
	snprintf(sc->training, sizeof sc->training, "synthetic");
	snprintf(sc->data.dataset, sizeof sc->data.dataset, "fashion-mnist");
	snprintf(sc->data.partition, sizeof sc->data.partition, "iid");
	sc->data.alpha = 0.5;
	sc->data.classes = 2;
	sc->data.samples_per_device = 600;
	sc->compute_ms_per_sample = (sc_dist){SC_FIXED, 1, 0};
	sc->bandwidth_kbps = (sc_dist){SC_FIXED, 10000, 0};
	sc->clock_skew_ms = (sc_dist){SC_FIXED, 0, 0};
	sc->session_s = (sc_dist){SC_FIXED, 0, 0}; /* 0 = always online while online */
	sc->online_fraction = 1;
	sc->dropout = 0;
	sc_link_defaults(&sc->net_default, 100000);   /* 100 µs */
	sc_link_defaults(&sc->net_fleet, 20000000);   /* 20 ms */
}

int scenario_parse(const char *text, size_t len, const char *file, scenario **out, char *err,
		   size_t errlen)
{
	pctx p = {file ? file : "scenario", err, errlen};
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t off = end ? (size_t)(end - text) : 0, line = 1, col = 1;
		for (size_t i = 0; i < off && i < len; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		snprintf(err, errlen, "%s: line %zu, column %zu: not valid JSON", p.file, line, col);
		return SC_EINVAL;
	}
	scenario *sc = calloc(1, sizeof *sc);
	if (!sc) {
		cJSON_Delete(root);
		snprintf(err, errlen, "%s: out of memory", p.file);
		return SC_ENOMEM;
	}
	snprintf(sc->file, sizeof sc->file, "%s", p.file);
	defaults(sc);
	static const char *const keys[] = {"name", "seed", "mode", "duration", "swarm", "cluster",
					   "fleet", "network", "events", "expect", "description", "tags", NULL};
	double seed = (double)sc->seed;
	char mode[16] = "sim";
	const cJSON *swarm;
	int rc = sc_check_keys(&p, root, "$", keys);
	if (!rc)
		rc = sc_rd_str(&p, root, "$", "name", sc->name, sizeof sc->name, 1);
	if (!rc)
		rc = sc_rd_num(&p, root, "$", "seed", &seed, 0, 9007199254740991.0, 0);
	if (!rc && seed != floor(seed))
		rc = sc_fail(&p, "$.seed", "expected a whole number");
	if (!rc)
		rc = sc_rd_str(&p, root, "$", "mode", mode, sizeof mode, 0);
	if (!rc && strcmp(mode, "sim") && strcmp(mode, "live"))
		rc = sc_fail(&p, "$.mode", "expected \"sim\" or \"live\", got \"%s\"", mode);
	if (!rc)
		rc = sc_rd_dur(&p, root, "$", "duration", &sc->duration_ns, 0);
	if (!rc && (swarm = cJSON_GetObjectItemCaseSensitive(root, "swarm")) && !cJSON_IsBool(swarm))
		rc = sc_fail(&p, "$.swarm", "expected true or false");
	else if (!rc && swarm)
		sc->swarm = cJSON_IsTrue(swarm);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
	if (!rc && tags)
		rc = sc_rd_id_list(&p, tags, "$.tags", sc->tags, 8, &sc->n_tags, 0);
	if (!rc)
		rc = parse_cluster(&p, cJSON_GetObjectItemCaseSensitive(root, "cluster"), sc);
	if (!rc)
		rc = parse_fleet(&p, cJSON_GetObjectItemCaseSensitive(root, "fleet"), sc);
	if (!rc)
		rc = parse_network(&p, cJSON_GetObjectItemCaseSensitive(root, "network"), sc);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
	if (!rc && ev) {
		if (!cJSON_IsArray(ev)) {
			rc = sc_fail(&p, "$.events", "expected an array of events");
		} else {
			int i = 0;
			for (const cJSON *c = ev->child; c && !rc; c = c->next, i++) {
				char path[64];
				snprintf(path, sizeof path, "$.events[%d]", i);
				if (i >= SC_MAX_EVENTS)
					rc = sc_fail(&p, path, "at most %d events", SC_MAX_EVENTS);
				else if (!cJSON_IsObject(c))
					rc = sc_fail(&p, path, "expected an object");
				else {
					sc->events[i].index = i;
					rc = sc_parse_event(&p, c, path, &sc->events[i]);
					sc->n_events = (size_t)i + 1;
				}
			}
		}
	}
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "expect");
	if (!rc && ex) {
		if (!cJSON_IsArray(ex)) {
			rc = sc_fail(&p, "$.expect", "expected an array of expectations");
		} else {
			int i = 0;
			for (const cJSON *c = ex->child; c && !rc; c = c->next, i++) {
				char path[64];
				snprintf(path, sizeof path, "$.expect[%d]", i);
				if (i >= SC_MAX_EXPECT)
					rc = sc_fail(&p, path, "at most %d expectations", SC_MAX_EXPECT);
				else
					rc = sc_parse_expect(&p, c, path, &sc->expect[sc->n_expect++]);
			}
		}
	}
	cJSON_Delete(root);
	if (rc) {
		scenario_free(sc);
		return SC_EINVAL;
	}
	sc->seed = (uint64_t)seed;
	sc->mode = strcmp(mode, "live") ? SC_MODE_SIM : SC_MODE_LIVE;
	if (!sc->config)
		sc->config = cJSON_CreateObject();
	*out = sc;
	return 0;
}

int scenario_load(const char *path, scenario **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return SC_EIO;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (16u << 20)) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: larger than 16 MiB", path);
				return SC_EINVAL;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: out of memory", path);
				return SC_ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	int ioerr = ferror(f);
	fclose(f);
	if (ioerr) {
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		return SC_EIO;
	}
	int rc = scenario_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

void scenario_free(scenario *sc)
{
	if (!sc)
		return;
	cJSON_Delete(sc->config);
	free(sc);
}
