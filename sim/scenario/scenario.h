/*
 * scenario.h — scenario files: parse, validate, print back with defaults filled in.
 *
 * The format: docs/design.md ("The scenario contract") and docs/scenarios.md. Every key is
 * checked: an unknown key, a wrong type or a bad value is an error that names the file, the JSON
 * path and what was expected, e.g.  quickstart.json: $.events[2].at: expected a duration like "30s", got 30
 *
 * `cluster.config` is kept as JSON: its keys are the server's own config.json keys (same names as
 * fl-server's flags), validated by the server's config code when the cluster is built.
 */
#ifndef FL_SCENARIO_H
#define FL_SCENARIO_H

#include "../../node/util/err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define SC_NAME_MAX 128
#define SC_MAX_EVENTS 256
#define SC_MAX_EXPECT 64
#define SC_MAX_IDS 32
#define SC_MAX_GROUPS 8

/* Error codes SC_E*: node/util/err.h (the one error space). */

typedef enum sc_mode { SC_MODE_SIM = 0, SC_MODE_LIVE = 1 } sc_mode;

/* A random quantity: fixed value, or a distribution (each device draws from its own stream). */
typedef enum sc_dist_kind { SC_FIXED = 0, SC_UNIFORM, SC_NORMAL, SC_LOGNORMAL } sc_dist_kind;
typedef struct sc_dist {
	sc_dist_kind kind;
	double a; /* fixed: value; uniform: min; normal: mean; lognormal: median */
	double b; /* uniform: max; normal: stddev; lognormal: sigma */
} sc_dist;

/* Link parameters (network block and "link" events). Durations in ns. */
typedef struct sc_link {
	uint64_t latency_ns, jitter_ns;
	char jitter_dist[16]; /* "uniform" (default), "normal", "pareto" */
	uint64_t bandwidth_bps; /* 0 = unlimited */
	double loss;            /* probability per write */
	char loss_mode[8];      /* "delay" (retransmission timeout, default) or "reset" */
	uint32_t slices;
} sc_link;

typedef enum sc_action {
	SC_KILL = 0, SC_RESTART, SC_PAUSE, SC_RESUME, SC_CLOCK_SKEW, SC_PARTITION, SC_LINK, SC_HEAL,
	SC_SCALE_OUT, SC_SCALE_IN, SC_FLEET, SC_DISK_FAULT, SC_ACTION_COUNT
} sc_action;

const char *sc_action_name(sc_action a);

typedef struct sc_event {
	int index;              /* position in the file */
	int has_at;
	uint64_t at_ns;
	char on[64];            /* "iteration=5", "state=CLUSTER_READY", "round=updateModel" */
	uint64_t after_ns;
	sc_action action;
	char node[64];          /* kill/restart/pause/resume/clock_skew/disk_fault */
	int64_t offset_ms;      /* clock_skew */
	double drift_ppm;       /* clock_skew */
	double share;           /* clock_skew on "fleet": share of devices (default 1) */
	int servers;            /* scale_out */
	size_t n_ids;           /* scale_in */
	char node_ids[SC_MAX_IDS][32];
	size_t n_groups;        /* partition */
	size_t group_len[SC_MAX_GROUPS];
	char groups[SC_MAX_GROUPS][SC_MAX_IDS][32];
	char from[64], to[64];  /* link */
	sc_link link;           /* link */
	uint64_t for_ns;        /* partition, link: 0 = until heal */
	long devices;           /* fleet */
	char kind[32];          /* disk_fault: "lose_unsynced" | "corrupt" */
} sc_event;

typedef struct sc_expect {
	char metric[64];
	int has_min, has_max, has_equals, equals_is_str;
	double min, max, equals_num;
	char equals_str[64];
} sc_expect;

typedef struct sc_data {
	char dataset[32];   /* "fashion-mnist" */
	char partition[16]; /* "iid", "dirichlet", "shards" */
	double alpha;       /* dirichlet */
	int classes;        /* shards: classes per device */
	long samples_per_device;
} sc_data;

typedef struct scenario {
	char file[256];
	char name[SC_NAME_MAX];
	uint64_t seed;
	sc_mode mode;
	uint64_t duration_ns;
	int swarm; /* the seed also picks fault timings and probabilities */
	char tags[8][32]; /* free labels, e.g. "slow" (the CI suite skips those) */
	size_t n_tags;

	/* cluster */
	int server_num;
	char model[64];
	cJSON *config; /* owned: the server config.json keys */
	uint64_t heartbeat_ns, node_timeout_ns; /* scheduler<->server heartbeats */

	/* fleet */
	long devices;
	char training[16]; /* "synthetic" | "real" */
	sc_data data;
	sc_dist compute_ms_per_sample, bandwidth_kbps, clock_skew_ms, session_s;
	double online_fraction, dropout;

	/* network */
	sc_link net_default, net_fleet;

	size_t n_events;
	sc_event events[SC_MAX_EVENTS];
	size_t n_expect;
	sc_expect expect[SC_MAX_EXPECT];
} scenario;

/*
 * Parse scenario text. On error returns SC_EINVAL and writes one line into err ("FILE: $.path:
 * what was expected, got what"). `file` names the source in messages. On success *out is a new
 * scenario owned by the caller (scenario_free).
 */
int scenario_parse(const char *text, size_t len, const char *file, scenario **out, char *err,
		   size_t errlen);
int scenario_load(const char *path, scenario **out, char *err, size_t errlen);
void scenario_free(scenario *sc);

/* The scenario as JSON with every default filled in (for summary.json). Caller deletes. */
cJSON *scenario_to_json(const scenario *sc);

/* Parse "250ms", "30s", "5m", "1h", "200us", "+15m", "-2s" (sign allowed when signed != 0). */
int sc_parse_duration_ns(const char *s, int signed_ok, int64_t *ns);

/* 1 when the scenario has the tag. */
int scenario_has_tag(const scenario *sc, const char *tag);

/* Node names: "scheduler", "server/<id>", "fleet". 0 when valid. */
int sc_node_name_ok(const char *s);

#endif
