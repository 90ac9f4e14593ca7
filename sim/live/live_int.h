/*
 * live_int.h — the state of a live run, shared by live.c (the loop, the end), live_setup.c
 * (the layout and the processes), live_event.c (the scenario's events), live_obs.c (polling the
 * processes and reading their files) and live_base.c (clock, notes, lookup). Not an API: see
 * live.h.
 */
#ifndef FL_LIVE_INT_H
#define FL_LIVE_INT_H

#include "../engine/engine.h"
#include "live_inv.h"
#include "../engine/recorder.h"
#include "../scenario/scenario.h"
#include "../engine/stats.h"
#include "../../node/model/model.h"
#include "../../node/sched/sched_msg.h"
#include "../../node/server/srv.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define LV_MAX_SERVERS 64
#define LV_PATH 1024
#define LV_MAX_ARGS 48
#define LV_HTTP_MS 1000 /* bound on one request of the run's own (polls, management calls) */
#define LV_SEC_NS 1000000000ULL

/* Addresses: every node has its own loopback address; its netem-proxy endpoint the same last
 * byte on 127.0.1.x. */
#define LV_IP_SCHED "127.0.0.2"
#define LV_IP_RELAY "127.0.0.3"
#define LV_IP_PROXY_CTL "127.0.0.4"
#define LV_IP_FLEET "127.0.0.200"
#define LV_SERVER_IP_BASE 10 /* server/<id> on 127.0.0.(10 + id) */

typedef struct lv_node {
	char name[32];         /* "scheduler", "server/3", "fleet", "netem-proxy" */
	char file[32];         /* the same with '/' as '-': log and data directory names */
	char ip[16];
	uint16_t port;         /* scheduler: its port for servers; server: its device port; fleet:
				* its control API */
	char proxy_ip[16];
	uint16_t proxy_port;   /* its endpoint on netem-proxy, 0 when none */
	char data_dir[LV_PATH];
	char log[LV_PATH];
	char *argv[LV_MAX_ARGS]; /* owned, NULL-terminated */
	int argc;
	int skewable;          /* started under libfaketime */
	char ft_file[LV_PATH]; /* its FAKETIME_TIMESTAMP_FILE */
	int64_t offset_ms;     /* the skew written there */
	double drift_ppm;
	pid_t pid;             /* 0 while not running */
	int starts;
	uint64_t started_ns;
	int paused;
	/* servers */
	int id;
	uint16_t inter_port;       /* its server<->server listener (--server_inter_port) */
	uint16_t proxy_inter_port; /* its endpoint for that on netem-proxy (--advertise_*), 0: none */
	int64_t server_num;    /* the --server_num it starts with */
	int scaled_in, scale_in_pending;
	/* the last GET /metrics (servers) */
	int polled, ready, rank;
	int64_t iteration, last_committed;
	int64_t checked_upto;  /* agreement: getModel fetched up to this iteration */
	long jsonl_off;        /* how far its iterations.jsonl was read */
	uint64_t req, bytes_in, bytes_out; /* this second, from the fleet's records */
} lv_node;

typedef struct live {
	const scenario *sc;
	const engine_opts *opts;
	recorder *rec;
	live_inv *inv;
	char out[LV_PATH], bin[LV_PATH], config_path[LV_PATH], fleet_out[LV_PATH];
	char **env;            /* the environment children start from (owned) */
	size_t nenv;
	char ftlib[LV_PATH];   /* libfaketime, when a node may be skewed */
	srv_config cfg;        /* the servers' configuration, as cluster.c builds it */
	model_def model;
	struct timespec t0;
	uint64_t port_state;
	lv_node sched, fleet, proxy;
	lv_node srv[LV_MAX_SERVERS];
	int nservers, server_total;
	uint16_t manage_port;
	int use_proxy;
	uint16_t ctl_port;     /* netem-proxy's control API */
	uint16_t fleet_ctl_port; /* fl-fleet's control API (resize, skew) */
	int relay_fd;          /* the fleet's /nodes, rewritten to the proxies (-1: none) */
	uint16_t relay_port;
	/* events */
	uint64_t due_ns[SC_MAX_EVENTS]; /* when it fires; 0: not (yet) due */
	int fired[SC_MAX_EVENTS], armed[SC_MAX_EVENTS];
	long rules[1024];      /* fault rules on the proxy, for heal */
	size_t nrules;
	/* partitions in force (membership: who the scheduler can hear); until 0 = until heal */
	struct { const sc_event *ev; uint64_t until_ns; } parts[16];
	size_t nparts;
	uint64_t sched_up_ns; /* when the scheduler last started */
	/* the cluster as polled */
	int sched_up;
	char state[48];
	int state_code, last_state;
	char *nodes_body;      /* the last GET /nodes answer (owned) */
	char *relay_body;      /* the same with the servers' addresses those of their proxies */
	int leader_found, leader_finished;
	int64_t leader_iteration;
	/* what has been observed ("on" conditions are judged on these, not on who is up now) */
	int64_t seen_iteration;  /* the highest iteration a ready server reported */
	int seen_state[SCHED_STATE_COUNT + 1]; /* by sched_state; the last: SCHEDULER_DOWN */
	/* iterations, from the servers' iterations.jsonl */
	unsigned char *iter_seen;
	size_t iter_cap;
	cJSON *iter_lines;     /* the lines, as read */
	uint64_t iter_ok, iter_failed;
	int64_t iter_last;
	uint64_t pending_fault_ns, max_recovery_ns;
	/* device requests, from the fleet's requests.csv and eval.csv */
	long req_off, eval_off;
	req_tally run, tick;
	int seen_round[TALLY_ROUNDS];
	int has_eval;
	double accuracy, loss;
	cJSON *evals;          /* {"<iteration>": {accuracy, loss}} */
	uint64_t last_sec_ns;
	double last_progress;
	cJSON *notes;          /* what a live run cannot do or see, for summary.json */
} live;

/*
 * Who calls whom: live.c (the core) calls every part; live_event.c calls live_setup.c (start,
 * kill, add a server) and live_obs.c (conditions); every file calls the leaves live_base.c,
 * live_http.c, live_proc.c, live_proxy.c (the netem-proxy client) and live_inv.c, which call
 * nothing of the module but the other leaves. The layers (scripts/deps-check.sh checks them: a
 * file calls only files on lines below its own):
 *   live.c
 *   live_event.c
 *   live_setup.c live_obs.c
 *   live_proxy.c live_inv.c live_proc.c live_base.c
 *   live_http.c
 */

/* live_base.c: nanoseconds since the run's start (monotonic). */
uint64_t lv_now(const live *l);
/* Wall-clock ms as the node sees it (its libfaketime offset included). */
int64_t lv_node_wall_ms(const lv_node *n);
void lv_note(live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
lv_node *lv_find(live *l, const char *name);

/* live_setup.c: the layout, the configuration, netem-proxy and the nodes, all started. */
int lv_setup(live *l, char *err, size_t errlen);
void lv_free_args(lv_node *n);
/* (Re)start a node with its argv; a marker line goes to its log first. 0 or negative errno. */
int lv_start(live *l, lv_node *n);
/* SIGKILL and reap. */
void lv_kill(live *l, lv_node *n);
/* Create server/<id> (data dir, port, proxy endpoint, argv) for a cluster of server_num. */
int lv_add_server(live *l, int64_t server_num, lv_node **out, char *err, size_t errlen);

/* live_event.c */
void lv_events_tick(live *l);
/* live_base.c: 1 when a partition of ours separates nodes a and b at t. */
int lv_cut_off(live *l, const char *a, const char *b, uint64_t t);
/* live_proxy.c: a JSON object for a base or fault rule from a scenario link (taken by the
 * caller). */
cJSON *lv_link_rule(const sc_link *lk, const char *from, const char *to, int base, uint64_t for_ns);
/* A call to the proxy's control API: the answer's JSON on a 2xx (the caller deletes it), else
 * NULL with err. Takes body (may be NULL). */
cJSON *lv_proxy_call(live *l, const char *method, const char *path, cJSON *body, char *err,
		     size_t errlen);

/* live_obs.c */
void lv_reap(live *l);
void lv_poll(live *l, int full);
void lv_read_iterations(live *l);
void lv_read_fleet(live *l);
void lv_check_models(live *l);
void lv_metrics_row(live *l);
void lv_relay(live *l);
int lv_condition(live *l, const char *on);

#endif
