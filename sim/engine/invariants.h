/*
 * invariants.h — the seven invariants of docs/design.md, checked while a sim-mode run goes.
 *
 * Observations come from two sides: what the fleet saw (accepted uploads, served models,
 * timestamp rejections) and what the nodes report when polled (srv_get_status, srv_get_model,
 * the scheduler's table). The engine polls every tick (100 ms of virtual time) and after every
 * fault, so a violation is caught within a tick of the event that caused it.
 * Each violation is recorded once per (invariant, node, iteration) with time, node and detail.
 */
#ifndef FL_INVARIANTS_H
#define FL_INVARIANTS_H

#include "cluster.h"
#include "membership.h"
#include "recorder.h"

#include <cjson/cJSON.h>

typedef struct inv inv;

typedef struct inv_config {
	size_t model_floats;
	int64_t replay_ms;          /* replay_attack_time_diff */
	uint64_t node_timeout_ns;   /* membership: how stale the scheduler's view may be */
	uint64_t heartbeat_ns;
	uint64_t liveness_budget_ns; /* an iteration must succeed this long after the last fault */
	/* membership: 1 when heartbeats can pass between hosts a and b now (no partition between
	 * them). NULL: always. */
	int (*reachable)(void *ctx, const char *a, const char *b, uint64_t now_ns);
	void *reach_ctx;
} inv_config;

int inv_new(const inv_config *cfg, recorder *rec, inv **out);
void inv_free(inv *v);

/* Fleet observations. */
void inv_update_accepted(inv *v, int64_t iteration, double data_size, const float *w, size_t n);
void inv_model_served(inv *v, uint64_t now_ns, const char *server, int64_t iteration, const float *w, size_t n);
void inv_time_rejected(inv *v, uint64_t now_ns, const char *server, int64_t server_wall_ms,
		       int64_t device_wall_ms);

/* Membership (membership.h): inv_check calls this with the cluster's view; tests call it
 * directly. sched_up_since_ns: when the scheduler last (re)started. */
typedef member_view inv_member;
void inv_membership(inv *v, uint64_t now_ns, uint64_t sched_up_since_ns, const inv_member *m, size_t n);

/* A fault happened now (membership and liveness checks take it into account). */
void inv_fault(inv *v, uint64_t now_ns);
/* Poll the nodes. */
void inv_check(inv *v, uint64_t now_ns, cluster *c);
/* End of run: liveness. */
void inv_finish(inv *v, uint64_t now_ns, cluster *c);

int inv_count(const inv *v);
/* How many models were compared with their reference FedAvg / with another sighting: proof
 * that the checks ran, not only that they found nothing. */
uint64_t inv_validity_checks(const inv *v);
uint64_t inv_agreement_checks(const inv *v);
/* The violations as a JSON array (borrowed). */
const cJSON *inv_list(const inv *v);

#endif
