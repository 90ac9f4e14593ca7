/*
 * sched_client.h — a server's side of the membership protocol with the scheduler.
 *
 * The server embeds one sched_client: it registers (node id, role, addresses,
 * fl_iteration_num, is_recover), keeps heartbeats going both ways, reconnects on its own when the
 * scheduler dies and comes back, receives the cluster's address table and state, the scale
 * barriers and the instance commands, and reports its own status (iteration, instance state) in
 * every heartbeat so the scheduler can answer /queryInstance and its own metrics.
 *
 * The scheduler module (node/sched/) owns both ends of this protocol; the frames are defined in
 * node/sched/sched_msg.h. Everything runs on rt.h.
 */
#ifndef FL_SCHED_CLIENT_H
#define FL_SCHED_CLIENT_H

#include "../rt/rt.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define SCHED_ID_MAX 32
#define SCHED_MAX_NODES 256

typedef struct sched_node_info {
	char node_id[SCHED_ID_MAX];
	int rank_id;
	char role[16];          /* "SERVER" */
	char ip[16];            /* inter-node address */
	uint16_t port;          /* inter-node (frame) port */
	uint16_t fl_server_port; /* device HTTP port */
	int alive;
} sched_node_info;

/* The cluster as the scheduler announces it. Nodes sorted by rank. */
typedef struct sched_table {
	char cluster_state[32]; /* "CLUSTER_READY", "CLUSTER_SCALE_OUT", ... */
	int server_num;
	uint64_t epoch;         /* grows by one with every membership change */
	/* Who counts (the leader): rank 0 at first; with failover, the lowest live rank once the
	 * leader is marked dead. leader_epoch grows by one with every hand-over; every message a
	 * leader sends carries it, and a server drops leader messages of any other epoch. */
	char leader[SCHED_ID_MAX]; /* "" = rank 0 (a scheduler without failover) */
	uint64_t leader_epoch;
	int failover;           /* the scheduler hands the role over: leaders hold a lease */
	size_t n;
	sched_node_info nodes[SCHED_MAX_NODES];
} sched_table;

typedef struct sched_client_config {
	char node_id[SCHED_ID_MAX];
	char ip[16];             /* this server's address */
	uint16_t port;           /* this server's inter-node listen port */
	uint16_t fl_server_port;
	char scheduler_ip[16];
	uint16_t scheduler_port;
	int64_t fl_iteration_num;
	int is_recover;          /* restarted with recovery state */
	int64_t pid;             /* reported so fl-finish can stop the process; 0 under simulation */
	uint64_t heartbeat_interval_ms; /* default 3000 */
	uint64_t node_timeout_ms;       /* default 30000: scheduler silent this long → lost */
	int server_num;          /* this server's --server_num, 0 = unknown (the scheduler warns
				    when it differs from the cluster's) */
} sched_client_config;

typedef struct sched_client sched_client;

typedef struct sched_client_cbs {
	/* Registered: our rank. Called on every successful (re-)registration, also after a
	 * reconnect to a restarted scheduler (same rank then). */
	void (*on_registered)(void *data, int rank_id);
	/* The scheduler refused us (e.g. one too many servers): the server logs `reason` and exits. */
	void (*on_refused)(void *data, const char *reason);
	/* A new table (cluster ready, a node died or came back, scaling finished). Only called when
	 * the table differs from the last one; `t` stays valid until the next call. A table without
	 * our own node_id is the final one of a scale-in: we are out (rank -1 from then on). */
	void (*on_table)(void *data, const sched_table *t);
	/* Scaling begins: finish or abandon the running iteration, enter safe mode, then call
	 * sched_client_scale_ready. `next` is the table that will hold afterwards; our own entry may
	 * be missing from it (we are scaled in: stop serving devices). `next` is valid during the
	 * call. Not called again for a barrier already answered. */
	void (*on_scale)(void *data, const char *kind /* "scale_out" | "scale_in" */,
			 const sched_table *next);
	/* newInstance (params: the hyper-parameters JSON), enableFLS, disableFLS. Answer with
	 * sched_client_instance_done (params is valid during the call only). */
	void (*on_instance)(void *data, const char *op, const cJSON *params);
	/* The scheduler has been silent past node_timeout_ms (we keep serving and keep trying). */
	void (*on_scheduler_lost)(void *data);
	/* Fill our status into every heartbeat: {"iteration": N, "instance_state": "...", ...}. */
	void (*fill_status)(void *data, cJSON *status);
} sched_client_cbs;

int sched_client_start(rt_host *h, const sched_client_config *cfg, const sched_client_cbs *cbs,
		       void *data, sched_client **out);
/* Stops heartbeats, closes the connection, frees. Safe from any callback. */
void sched_client_stop(sched_client *c);
int sched_client_scale_ready(sched_client *c);
int sched_client_instance_done(sched_client *c, const char *op, int ok, const char *message);
int sched_client_rank(const sched_client *c); /* -1 until registered */
/*
 * The leader lease: until this time (rt_now_ns) no scheduler can have marked us dead, because it
 * heard from us, or had no process listening, less than its node timeout (minus a heartbeat of
 * margin) ago. A leader commits only inside its lease when the table says failover is on: after
 * it the scheduler may have handed the role to another server. 0 = never held.
 */
uint64_t sched_client_lease_until_ns(const sched_client *c);
const sched_table *sched_client_table(const sched_client *c); /* NULL before the first table */

#endif
