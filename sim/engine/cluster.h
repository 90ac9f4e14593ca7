/*
 * cluster.h — the real scheduler and servers, built on rt_sim hosts from a scenario (sim mode).
 *
 * Hosts: "scheduler" (10.0.0.1), "server/<id>" (10.0.1.<id+1>), "operator" (10.0.3.1, sends the
 * management calls an operator's curl would). The node structs are owned here; a kill crashes the
 * host (rt_sim runs the destroy hook), a restart creates the node again on the same host with the
 * same configuration and the files that survived.
 */
#ifndef FL_CLUSTER_H
#define FL_CLUSTER_H

#include "../../node/sched/sched.h"
#include "../../node/proto/http.h"
#include "../../node/server/srv.h"
#include "../fleet/fleet.h"
#include "../rt/rt_sim.h"
#include "../scenario/scenario.h"

#define CLUSTER_MAX_SERVERS 64

typedef struct cl_server {
	struct cluster *c;
	int id;           /* node id as a number */
	char name[32];    /* "server/<id>" */
	rt_host *host;
	srv *node;        /* NULL while down */
	int scaled_in;    /* removed by a scale-in (stays up, serves nobody) */
	int paused;       /* stopped by a "pause" event (SIGSTOP-like) */
	int64_t last_iteration; /* for the monotonic invariant */
	int64_t server_num;     /* the --server_num it was started with */
} cl_server;

typedef struct cluster {
	rt_sim *sim;
	const scenario *sc;
	rt_host *sched_host, *op_host;
	sched *sched; /* NULL while down */
	int sched_paused;
	uint64_t sched_up_since_ns; /* when the scheduler last started */
	sched_config sched_cfg;
	srv_config srv_base; /* from cluster.config; per-server fields set at start */
	cl_server servers[CLUSTER_MAX_SERVERS];
	int nservers;
	http_client *op; /* the operator's HTTP client */
	int server_total; /* what the cluster should have after scaling */
	char last_op[256]; /* the last management answer, for events */
	void (*on_op_done)(void *ctx, const char *what, int status, const char *body);
	void *op_ctx;
} cluster;

/* Build and start everything. SC_EINVAL with err for a bad cluster.config (names the key). */
int cluster_new(rt_sim *sim, const scenario *sc, cluster **out, char *err, size_t errlen);
void cluster_free(cluster *c);

/* "scheduler" or "server/<id>": the host, or NULL. */
rt_host *cluster_host(cluster *c, const char *node);
cl_server *cluster_server(cluster *c, const char *node);
int cluster_kill(cluster *c, const char *node);
int cluster_restart(cluster *c, const char *node);
/* POST /scaleout then start the new servers; POST /scalein. */
int cluster_scale_out(cluster *c, int servers);
int cluster_scale_in(cluster *c, char ids[][32], size_t n);

/* Servers devices may use now: up, not scaled in. Returns how many were written. */
size_t cluster_device_servers(cluster *c, fleet_server *out, size_t max);
/* The scheduler's state name ("CLUSTER_READY"), or "SCHEDULER_DOWN". */
const char *cluster_state(const cluster *c);
int cluster_state_code(const cluster *c); /* sched_state, or -1 when down */
/* The leader's status (rank 0 among the up servers); 0 when none. */
int cluster_leader_status(const cluster *c, srv_status *st);
int cluster_servers_up(const cluster *c);

#endif
