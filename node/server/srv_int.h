/*
 * srv_int.h — private to node/server/: the server struct and the functions its files share.
 *
 *   srv.c           lifecycle, scheduler glue, the self mailbox, the housekeeping tick
 *   srv_config.c    defaults, flag table, validation
 *   srv_api.c       the device API (HTTP handlers, envelopes, gates)
 *   srv_count.c     fl_id sets, counting on the leader, pending counts on every server
 *   srv_iter.c      the leader's iteration machine
 *   srv_member.c    every member's side of it: PREPARE, COMMIT, END, the per-iteration reset
 *   srv_allreduce.c the chain-ordered ring all-reduce
 *   srv_peer.c      links between servers, HELLO, STATE/SYNCED, model transfer
 *   srv_store.c     the model store and the recovery files
 *   srv_metrics.c   GET /metrics and iterations.jsonl
 *   srv_send.c      sending between servers (links, the self mailbox's queue)
 *   srv_util.c      clock, leadership and lease, JSON fields, events, readiness reports
 *
 * Left against the one-direction rule (docs/CONTRIBUTING.md): srv_metrics.c -> srv.c
 * (srv_get_status), srv_peer.c -> srv.c (srv_dispatch) and the cycles between the parts.
 */
#ifndef FL_SRV_INT_H
#define FL_SRV_INT_H

#include "srv.h"
#include "srv_msg.h"
#include "../model/model.h"
#include "../proto/conn.h"
#include "../proto/http.h"

#include <cjson/cJSON.h>

/* ---- model store (srv_store.c) ---- */

/* A committed model, shared by reference: an invalid iteration re-stores its predecessor. */
typedef struct srv_model {
	int refs;
	size_t n;
	uint64_t hash;
	float *w; /* owned */
} srv_model;

srv_model *srv_model_new(size_t n); /* zero-filled, refs 1 */
srv_model *srv_model_ref(srv_model *m);
void srv_model_unref(srv_model *m);

typedef struct srv_store_entry {
	int64_t iter;
	srv_model *m; /* one reference */
} srv_store_entry;

typedef struct srv_store {
	size_t cap; /* model_store_size */
	size_t n;
	srv_store_entry *e; /* ascending iterations */
} srv_store;

/* ---- per-iteration statistics of one server ---- */

typedef struct srv_round_stats {
	uint64_t total, accept, reject;
} srv_round_stats;

typedef struct srv_iter_stats {
	srv_round_stats start, update, get;
	double upload_loss_sum;
	uint64_t upload_loss_n;
	double metric_loss_sum, metric_acc_sum;
	uint64_t metric_n;
} srv_iter_stats;

cJSON *srv_stats_to_json(const srv_iter_stats *st);
void srv_stats_add_json(srv_iter_stats *st, const cJSON *j);

/* ---- fl_id sets (srv_count.c): open addressing, FNV-hashed, insertion order kept ---- */

typedef struct srv_idset {
	size_t cap, n; /* cap: power of two */
	int32_t *slots; /* index into keys, -1 empty */
	char **keys;
	int64_t *vals;
	size_t keys_cap;
} srv_idset;

void srv_idset_clear(srv_idset *set);
void srv_idset_free(srv_idset *set);
/* Index of key or -1. */
long srv_idset_find(const srv_idset *set, const char *key);
/* Insert (key must be absent). 0 or RT_ENOMEM. */
int srv_idset_add(srv_idset *set, const char *key, int64_t val);

/* ---- pending device requests that wait for the leader's count (srv_count.c / srv_api.c) ---- */

enum { SRV_ROUND_START = 0, SRV_ROUND_UPDATE, SRV_ROUND_GET, SRV_ROUND_METRICS, SRV_ROUND_OTHER,
       SRV_NROUNDS };

typedef struct srv_pending {
	uint64_t id;
	int round;
	http_request *req;
	int64_t iteration;
	char fl_id[128];
	int64_t data_size;
	float *weights;     /* updateModel: a copy of the upload in model order (owned) */
	double upload_loss;
	int has_loss;
	uint64_t deadline_ns;
	struct srv_pending *next;
} srv_pending;

/* ---- links and peers (srv_peer.c) ---- */

typedef struct srv_link {
	struct srv *s;
	conn *c;
	int peer;   /* index in s->peers once the HELLO named it, else -1 */
	int dialer; /* we opened it */
	int dial_peer; /* the peer we dialled (-1 for accepted links) */
	int open;   /* connected (dialer) / accepted */
	struct srv_link *next;
} srv_link;

typedef struct srv_peer {
	char node_id[SCHED_ID_MAX];
	int rank;
	char ip[16];
	uint16_t port;
	int in_table, alive;
	int self;
	srv_link *link; /* the link that carries this pair's traffic (HELLO seen), or NULL */
	srv_link *dialing;
	uint64_t next_dial_ns;
	/* from its last HELLO */
	uint64_t nonce;
	int64_t iteration;
	int active;
	cJSON *hello;       /* its last HELLO, or the report of its last SYNCED */
	uint64_t report_epoch; /* the leader epoch in which `hello` was current */
	/* the leader's view */
	int member;         /* synced: counts come from it, it takes part in transitions */
	int64_t accepted;   /* updates it accepted (counted) in this iteration */
	int in_ring, agg_done, agg_ok;
	uint64_t agg_hash, agg_ds;
	int prepared;
} srv_peer;

/* ---- the all-reduce (srv_allreduce.c) ---- */

typedef struct srv_ar_msg {
	int type; /* RED or FIN */
	uint64_t gen;
	int64_t iteration;
	size_t chunk;
	uint64_t ds;
	float *data; /* owned */
	size_t n;
	struct srv_ar_msg *next;
} srv_ar_msg;

typedef struct srv_ar {
	int active;
	uint64_t gen;
	int64_t iteration;
	int pos, n;          /* position in the chain, members */
	int pred, succ;      /* peer indices */
	size_t total, chunk, nchunks;
	size_t done_chunks;
	uint64_t own_ds, total_ds;
	float *out;          /* the result being built (owned until handed to cand) */
	srv_ar_msg *early, *early_tail; /* arrived before AGG, or before their turn */
	size_t early_n;
} srv_ar;

/* ---- model transfer (srv_peer.c) ---- */

enum { SRV_FETCH_SYNC = 1, SRV_FETCH_COMMIT, SRV_FETCH_CATCHUP };

typedef struct srv_fetch {
	int active;
	int purpose;
	int peer;
	int64_t *iters;      /* to fetch, ascending */
	uint64_t *hashes;
	size_t n, next;      /* next: index being fetched */
	srv_model *cur;      /* being filled */
	size_t have;
	srv_model **got;     /* fetched, by index */
	cJSON *state;        /* SYNC: the STATE that asked for it; COMMIT: the COMMIT meta */
} srv_fetch;

/* ---- the leader's state (srv_iter.c) ---- */

enum srv_phase {
	SRV_PH_NONE = 0, /* not leader */
	SRV_PH_GATHER,   /* just became leader: waiting for the others' HELLO */
	SRV_PH_RUN,      /* counting */
	SRV_PH_AGG,      /* all-reduce running */
	SRV_PH_PREPARE,  /* safe mode, collecting stats */
	SRV_PH_PAUSED,   /* held for scaling */
};

enum { SRV_INST_RUNNING = 0, SRV_INST_DISABLE, SRV_INST_FINISH };

enum srv_join {
	SRV_JOIN_NONE = 0, /* no leader reached yet */
	SRV_JOIN_SYNCING,  /* STATE received, fetching models */
	SRV_JOIN_MEMBER,   /* in step with the leader */
};

#define SRV_REASON_MAX 256

struct srv {
	rt_host *h;
	srv_config cfg;
	model_def def;
	int64_t update_thr;
	uint64_t nonce;
	int destroying;

	/* membership */
	sched_client *sc;
	int rank;
	int registered;
	int have_table;
	int removed;
	int exit_reported;
	char cluster_state[32];
	srv_peer *peers;
	size_t npeers, peers_cap;
	int self; /* index of our own entry */
	int leader_peer; /* index of the leader's entry (the table names it; rank 0 before any
			    failover), -1 unknown */
	uint64_t leader_epoch; /* from the table: every message between servers carries it, and
				  one of another epoch is dropped (a deposed leader is fenced) */
	int failover;     /* the table says the role moves on a leader's death: lease applies */
	int lease_warned;
	srv_link *links;
	rt_listener *lis;
	uint16_t inter_port;
	http_server *http;

	/* scaling */
	int scale_pending;
	int scale_ready_sent;
	int paused; /* the leader held us (END hold) */

	/* our own iteration state (every server, the leader too) */
	int join;
	int ready_reported;
	int64_t iteration;
	int instance_state;
	int safemode;
	int recovered;    /* started from recovery files */
	int cluster_ready_seen;
	char instance_name[64];
	uint64_t leader_nonce;
	srv_store store;
	int64_t *disk_iters;  /* model files the last state file named */
	uint64_t *disk_hashes;
	size_t disk_n;
	float *acc;       /* weighted sum of accepted uploads, def.total floats */
	uint64_t acc_ds;
	int64_t acc_n;
	srv_iter_stats st;
	int64_t iter_begin_ms;
	srv_model *cand;  /* the all-reduce result of cand_iter */
	int64_t cand_iter;
	/* PREPARE of this iteration seen from the leader (-1: none): a server that takes over the
	 * role finishes that commit the same way instead of abandoning it */
	int64_t prepared_iter;
	int prepared_valid;
	char prepared_reason[SRV_REASON_MAX];
	srv_ar ar;
	srv_fetch fetch;
	int end_pending;  /* END arrived while a commit was fetching its model */
	int end_hold;
	srv_pending *pend;
	uint64_t next_pend_id;

	/* the leader (phase != NONE) */
	int phase;
	srv_idset starts;  /* fl_id -> data_size */
	srv_idset updates;
	uint64_t total_ds;
	int64_t first_count_ms;
	int64_t next_req_ms;
	int valid;
	char reason[SRV_REASON_MAX];
	uint64_t agg_gen;
	int hold;          /* pause after the running transition (scaling) */
	uint64_t phase_deadline_ns;
	srv_iter_stats agg_stats;
	rt_timer *t_start, *t_update, *t_global;

	/* timers and the mailbox to ourselves */
	rt_timer *tick;
	rt_timer *mbox_timer;
	struct srv_mail *mbox, *mbox_tail;

	/* metrics */
	uint64_t req_count[SRV_NROUNDS][7];
	uint64_t iterations_ok, iterations_failed;
	uint64_t api_bytes_in, api_bytes_out; /* device API bodies */
};

/* ---- the self mailbox: srv_send.c queues, srv.c delivers ---- */
struct srv_mail {
	int type;
	char *meta;
	uint8_t *payload;
	size_t len;
	struct srv_mail *next;
};


/* ---- srv.c: srv_dispatch; srv_send.c: srv_send, srv_send_leader; srv_util.c: the rest of
 * this section (leaves every file may call) ---- */
void srv_event(srv *s, int ev);
/* Messages: to a peer index (ourselves through the mailbox). meta is consumed (cJSON_Delete). */
int srv_send(srv *s, int peer, int type, cJSON *meta, const void *payload, size_t len);
int srv_send_leader(srv *s, int type, cJSON *meta, const void *payload, size_t len);
void srv_dispatch(srv *s, int peer, int type, const cJSON *meta, const uint8_t *payload,
		  size_t len);
int srv_is_leader(const srv *s);
/* The leader may commit: failover is off, or its lease with the scheduler holds. */
int srv_lease_ok(srv *s);
void srv_update_ready(srv *s);
void srv_maybe_scale_ready(srv *s);
const char *srv_instance_name(int st);
int64_t srv_now_ms(srv *s);
/* uint64 <-> hex string in JSON (doubles cannot carry 64 bits). */
void srv_json_add_u64(cJSON *o, const char *key, uint64_t v);
uint64_t srv_json_u64(const cJSON *o, const char *key);
int64_t srv_json_i64(const cJSON *o, const char *key, int64_t dflt);
const char *srv_json_str(const cJSON *o, const char *key);

/* ---- srv_config.c: nothing beyond srv.h ---- */

/* ---- srv_store.c ---- */
int srv_store_init(srv_store *st, size_t cap);
void srv_store_free(srv_store *st);
srv_model *srv_store_get(const srv_store *st, int64_t iter);
const srv_store_entry *srv_store_latest(const srv_store *st);
/* Put iter (replacing an entry of the same number), dropping the oldest beyond cap. Takes a new
 * reference. */
int srv_store_put(srv_store *st, int64_t iter, srv_model *m);
void srv_store_drop_after(srv_store *st, int64_t iter);
cJSON *srv_store_list_json(const srv_store *st); /* [[iter, "hash"], ...] */
/* Recovery: persist the state file (and every model it names that is not on disk yet). */
int srv_persist(srv *s);
/* Reload; 0 and s->recovered = 1 when found, 0 when nothing to reload, SRV_ECORRUPT, ... */
int srv_recover(srv *s);
/* Iteration 0: deterministic from fl_name and model_seed. */
srv_model *srv_initial_model(const srv *s);

/* ---- srv_api.c ---- */
void srv_http_handler(http_server *hs, http_request *r, void *data);
void srv_api_count_done(srv *s, srv_pending *p, int result, int64_t leader_iter, int64_t ds,
			int64_t next_req);
void srv_api_fail_pending(srv *s, const char *why);
void srv_api_sweep(srv *s, uint64_t now_ns);

/* ---- srv_count.c ---- */
/* The leader counts one request (from peer, possibly ourselves). */
int srv_leader_count(srv *s, int peer, int round, int64_t iter, const char *fl_id, int64_t ds,
		     int64_t *out_ds);
void srv_count_submit(srv *s, srv_pending *p);
void srv_on_count_req(srv *s, int peer, const cJSON *meta);
void srv_on_count_rep(srv *s, const cJSON *meta);
void srv_pending_free(srv_pending *p);
void srv_accumulate(srv *s, const float *w, int64_t ds);

/* ---- srv_iter.c ---- */
void srv_leader_begin(srv *s);      /* became rank 0: GATHER */
void srv_leader_end(srv *s);        /* no longer rank 0 */
void srv_leader_gather_check(srv *s);
void srv_leader_fail(srv *s, const char *reason);
void srv_leader_threshold(srv *s);  /* updateModel threshold reached: start the all-reduce */
void srv_leader_on_peer_up(srv *s, int peer);
void srv_leader_on_peer_down(srv *s, int peer);
void srv_leader_on_synced(srv *s, int peer, const cJSON *meta);
void srv_leader_on_agg_done(srv *s, int peer, const cJSON *meta);
void srv_leader_on_prepare_ok(srv *s, int peer, const cJSON *meta);
void srv_leader_tick(srv *s, uint64_t now_ns);
void srv_leader_scale(srv *s);
void srv_leader_table(srv *s);
void srv_leader_instance(srv *s, const char *op);
void srv_leader_send_state(srv *s, int peer);
void srv_on_prepare(srv *s, int peer, const cJSON *meta);
void srv_on_commit(srv *s, int peer, const cJSON *meta);
void srv_on_end(srv *s, int peer, const cJSON *meta);
void srv_commit_fetched(srv *s, srv_model *m);
void srv_reset_iteration(srv *s);
void srv_iter_free(srv *s);
int srv_iter_init(srv *s);

/* ---- srv_member.c (srv_on_prepare, srv_on_commit, srv_on_end, srv_commit_fetched and
 * srv_reset_iteration are declared above) ---- */
/* Store model m as iteration c's (valid or not), move to c + 1, persist. m is borrowed (the
 * store takes its own reference). */
void srv_commit_local(srv *s, int64_t c, srv_model *m, int valid, const char *reason);
/* Leave safe mode, or stay paused for scaling (hold). */
void srv_apply_end(srv *s, int hold);

/* ---- srv_allreduce.c ---- */
void srv_on_agg(srv *s, int peer, const cJSON *meta);
void srv_on_ar_chunk(srv *s, int peer, int type, const cJSON *meta, const uint8_t *payload,
		     size_t len);
void srv_ar_abort(srv *s);
void srv_ar_peer_down(srv *s, int peer);
void srv_ar_free(srv *s);

/* ---- srv_peer.c ---- */
int srv_peer_find(const srv *s, const char *node_id);
int srv_peer_get(srv *s, const char *node_id); /* find or add; -1 on ENOMEM */
int srv_peers_listen(srv *s);
void srv_peers_apply_table(srv *s, const sched_table *t);
void srv_peers_tick(srv *s, uint64_t now_ns);
void srv_peers_close(srv *s);
int srv_peer_up(const srv *s, int peer);
cJSON *srv_hello_json(srv *s);
/* Follower: ask the leader for STATE (SYNCED {iteration: -1, report: our HELLO as of now}). */
void srv_ask_state(srv *s);
void srv_on_hello(srv *s, srv_link *l, const cJSON *meta);
void srv_on_state(srv *s, int peer, const cJSON *meta);
void srv_on_model_req(srv *s, int peer, const cJSON *meta);
void srv_on_model(srv *s, int peer, const cJSON *meta, const uint8_t *payload, size_t len);
int srv_fetch_start(srv *s, int peer, int purpose, const int64_t *iters, const uint64_t *hashes,
		    size_t n, cJSON *ctx);
void srv_fetch_cancel(srv *s);
void srv_fetch_peer_down(srv *s, int peer);

/* ---- srv_metrics.c ---- */
void srv_metrics_respond(srv *s, http_request *r);
void srv_metrics_iteration(srv *s, int64_t iter, int valid, const srv_iter_stats *st,
			   int64_t start_ms, int64_t end_ms);
void srv_count_request(srv *s, int round, int retcode);

#endif
