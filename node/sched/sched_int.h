/*
 * sched_int.h — private to node/sched/sched*.c: the scheduler's state and the functions its
 * files share.
 */
#ifndef FL_SCHED_INT_H
#define FL_SCHED_INT_H

#include "sched.h"
#include "../proto/conn.h"
#include "../proto/http.h"

#include <cjson/cJSON.h>

typedef struct sched_peer sched_peer;

/* One member server, known by node_id. */
typedef struct sched_node {
	char node_id[SCHED_ID_MAX];
	char role[16];
	int rank;
	char ip[16];
	uint16_t port, fl_server_port;
	int64_t pid;
	int64_t fl_iteration_num;
	int alive;          /* 0 once silent past node_timeout */
	int reconnected;    /* registered with this incarnation (recovery waits for it) */
	int pending_join;   /* joined during a scale-out not yet committed */
	uint64_t last_heard_ns;
	sched_peer *peer;   /* its connection, NULL when none */
	cJSON *status;      /* last heartbeat status (owned), NULL before the first */
	uint64_t scale_acked; /* the last scale barrier it reported ready for */
	int inst;           /* instance relay: 0 not asked, 1 waiting, 2 ok, 3 failed */
	char inst_msg[256];
} sched_node;

/* One accepted connection. */
struct sched_peer {
	sched *s;
	conn *c;
	sched_node *node; /* bound at registration */
	sched_peer *next;
};

/* A server that was scaled in: it stays up until SIGTERM, so fl-finish must still know it. */
typedef struct sched_retired {
	char node_id[SCHED_ID_MAX];
	int64_t pid;
} sched_retired;

/* A scaling operation in progress. */
typedef struct sched_op {
	int kind;        /* 0, CLUSTER_SCALE_OUT or CLUSTER_SCALE_IN */
	int target;      /* server_num after it */
	uint64_t barrier; /* 0 until the barrier starts, then its id */
	uint64_t started_ns; /* when it began (or when a restarted scheduler reloaded it) */
	size_t n_remove;
	char remove[SCHED_MAX_NODES][SCHED_ID_MAX];
} sched_op;

enum { INST_NONE = 0, INST_NEW, INST_ENABLE, INST_DISABLE };

struct sched {
	rt_host *h;
	sched_config cfg;
	int state;
	int saved_state;   /* recovery: the state to return to */
	int server_num;    /* committed */
	int64_t fl_iteration_num;
	uint64_t epoch;
	char leader[SCHED_ID_MAX]; /* the node that counts ("" before the cluster is ready) */
	uint64_t leader_epoch;     /* one more with every hand-over (sched_elect) */
	uint64_t barrier_seq;
	int fls_enabled;
	size_t n_nodes;
	sched_node *nodes[SCHED_MAX_NODES]; /* insertion order */
	size_t n_retired;
	sched_retired retired[SCHED_MAX_NODES];
	sched_op op;
	rt_listener *lis;
	http_server *http;
	sched_peer *peers;
	rt_timer *tick;
	/* instance relay (one at a time) */
	int inst_op;
	http_request *inst_req;
	uint64_t inst_req_id;
	uint64_t req_seq;
	int64_t inst_new_iters; /* newInstance's fl_iteration_num, applied when it succeeds */
	rt_timer *inst_timer;
	/* what the current event changed (sched_reconcile acts on them) */
	int members_dirty; /* the table changed: epoch++ and broadcast */
	int state_dirty;   /* broadcast even without a membership change */
	int meta_dirty;    /* persist and call on_change */
	int in_change;     /* inside on_change */
	/* sched_reconcile, set by sched_new: the parts (sched_api.c, sched_members.c) end an event
	 * through it, the one call they make up into sched.c */
	void (*reconcile)(sched *s);
};

/*
 * Who calls whom, top first (scripts/deps-check.sh node/sched:node/sched/sched_int.h measures
 * it in make lint). The parts reach sched_reconcile only through s->reconcile, set by the core:
 *   sched.c
 *   sched_api.c
 *   sched_members.c
 *   sched_table.c sched_meta.c sched_client.c
 *   sched_msg.c
 */

/* sched.c */
void sched_reconcile(sched *s);

/* sched_table.c: lookups, the state's setter (marks dirty), the table sent to servers */
void sched_set_state(sched *s, int state);
void sched_build_table(const sched *s, sched_table *t, int next);
int sched_send_table(sched *s, sched_node *n);
void sched_send_scale(sched *s, sched_node *n);
sched_node *sched_find(const sched *s, const char *node_id);
int sched_all_alive(const sched *s);
void sched_node_free(sched_node *n);

/* sched.c: (re)choose the leader; marks the table dirty when it changes. */
void sched_elect(sched *s);

/* sched_members.c */
void sched_on_frame(sched_peer *p, const frame *f);
void sched_on_peer_gone(sched_peer *p);
void sched_check_timeouts(sched *s);
void sched_start_barrier(sched *s);
int sched_barrier_complete(const sched *s);
void sched_commit_scale(sched *s);

/* sched_api.c */
void sched_api_handle(http_server *srv, http_request *r, void *data);
void sched_inst_check(sched *s);
void sched_inst_abort(sched *s);

/* sched_meta.c: 0 loaded, RT_ENOENT none, SCHED_EMETA corrupt (logged), RT_EIO/ENOMEM. */
int sched_meta_load(sched *s);
int sched_meta_save(sched *s);

#endif
