/*
 * live_inv.h — the invariants of docs/design.md that a live run can observe by polling the real
 * processes (docs/live-mode.md says which and how):
 *
 *   agreement + durable: every getModel(N) the run fetched from any server, and every modelHash
 *                        a leader wrote to iterations.jsonl, must have the same hash for N;
 *   monotonic:           a server's iteration (GET /metrics) never goes back, across restarts;
 *   membership:          membership.h's rule, with 1 s more for process start-up: a server
 *                        the scheduler can hear (process running, not stopped, no partition
 *                        of ours between them) is shown alive, one it cannot is shown dead,
 *                        each within node_timeout + 2 heartbeats of the change;
 *   liveness:            an iteration succeeds within the budget after the last fault.
 *
 * Validity and time need what only the simulated fleet reports (each accepted upload's weights,
 * each rejected request's clocks): not observable live.
 *
 * Each violation is recorded once per (invariant, node, key), as an events.jsonl "violation" and a
 * trace instant, in the shape of sim mode's list. The recorder is borrowed.
 */
#ifndef FL_LIVE_INV_H
#define FL_LIVE_INV_H

#include "../engine/membership.h"
#include "../engine/recorder.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef struct live_inv live_inv;

typedef struct live_inv_config {
	uint64_t node_timeout_ns, heartbeat_ns;
	uint64_t liveness_budget_ns;
} live_inv_config;

int live_inv_new(const live_inv_config *cfg, recorder *rec, live_inv **out);
void live_inv_free(live_inv *v);

/* A fault happened now. */
void live_inv_fault(live_inv *v, uint64_t now_ns);
/* An iteration succeeded now. */
void live_inv_success(live_inv *v, uint64_t now_ns);
/* Model `iteration` as `source` ("server/2", "server/0 iterations.jsonl") has hash h. */
void live_inv_model(live_inv *v, uint64_t now_ns, const char *source, int64_t iteration, uint64_t h);
/* Server `name` reports iteration `it` (ready). */
void live_inv_iteration(live_inv *v, uint64_t now_ns, const char *name, int64_t it);
/* /nodes says alive=`listed_alive` for server `name` whose process is up (`up`). */
/* One poll of /nodes: every listed server, what it shows and whether the scheduler can hear it. */
void live_inv_members(live_inv *v, uint64_t now_ns, uint64_t sched_up_since_ns, const member_view *m,
		      size_t n);
/* End of run: liveness (finished: the job reached fl_iteration_num, nothing more to do). */
void live_inv_finish(live_inv *v, uint64_t now_ns, int finished);

int live_inv_count(const live_inv *v);
uint64_t live_inv_agreement_checks(const live_inv *v);
const cJSON *live_inv_list(const live_inv *v); /* borrowed */

#endif
