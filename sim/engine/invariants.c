/*
 * invariants.c — see invariants.h.
 *
 * Agreement and durability share one table: iteration -> the hash of the first committed model
 * seen for it. Any later sighting (another server, a later time, after a restart) must match.
 * Validity keeps, per iteration, the reference FedAvg of the uploads the fleet saw accepted, in
 * double precision; when a server's committed model for N differs from its model for N-1 (the
 * iteration succeeded), it must match the reference within float tolerance.
 *
 * Validity costs O(1) per accepted upload on big models: the reference is summed over a fixed
 * sample of INV_SAMPLE coordinates (one drawn in each of INV_SAMPLE equal slices of the model),
 * and in full only for the iterations a hash of the iteration number picks (one in
 * INV_FULL_EVERY), so an error in any coordinate is still caught on those. Models up to
 * 4 * INV_SAMPLE floats are always summed in full.
 */
#include "invariants.h"

#include "membership.h"
#include "violations.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITERS 4096
#define INV_SAMPLE 1024
#define INV_FULL_EVERY 8

/* An accepted answer may still be on its way to the device when the model commits: validity is
 * judged only this long after the model was first seen (the fleet's request timeout is 30 s). */
#define VALIDITY_DELAY_NS (31ULL * 1000000000ULL)

typedef struct ref_sum {
	double *acc; /* sum of w * data_size (every coordinate, or the sample), lazily allocated */
	int full;    /* acc covers every coordinate */
	uint64_t first_seen_ns; /* when a committed model for the iteration was first polled */
	double weight;
	long uploads;
	int checked, failed;
	float *model; /* the committed model as first seen, until judged */
	char server[16];
} ref_sum;

struct inv {
	inv_config cfg;
	membership members;
	violations vio;
	uint64_t hash[MAX_ITERS]; /* 0 = not seen */
	char first_server[MAX_ITERS][16];
	ref_sum ref[MAX_ITERS];
	uint64_t last_fault_ns;
	int faults;
	uint64_t last_success_ns; /* when iterations_ok last grew */
	uint64_t last_ok;
	uint64_t validity_checks, agreement_checks;
	size_t *sample;        /* INV_SAMPLE coordinates, ascending; NULL: the model is small */
	int64_t validity_from; /* iterations below are judged */
	int64_t max_seen;      /* highest committed iteration seen */
	uint64_t polls;
};


/* splitmix64's finaliser: the sample and the full-check schedule, the same in every run. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int full_iteration(const inv *v, int64_t it)
{
	return !v->sample || mix64((uint64_t)it ^ 0x5eed) % INV_FULL_EVERY == 0;
}

int inv_new(const inv_config *cfg, recorder *rec, inv **out)
{
	inv *v = calloc(1, sizeof *v);
	if (!v)
		return RT_ENOMEM;
	v->cfg = *cfg;
	membership_init(&v->members, cfg->node_timeout_ns, cfg->heartbeat_ns, 0);
	size_t n = cfg->model_floats;
	if (n > 4 * INV_SAMPLE) {
		if (!(v->sample = malloc(INV_SAMPLE * sizeof *v->sample))) {
			free(v);
			return RT_ENOMEM;
		}
		for (size_t k = 0; k < INV_SAMPLE; k++) {
			size_t lo = k * n / INV_SAMPLE, hi = (k + 1) * n / INV_SAMPLE;
			v->sample[k] = lo + (size_t)(mix64(k + 1) % (hi - lo));
		}
	}
	if (violations_init(&v->vio, rec)) {
		free(v->sample);
		free(v);
		return RT_ENOMEM;
	}
	*out = v;
	return 0;
}

void inv_free(inv *v)
{
	if (!v)
		return;
	for (int i = 0; i < MAX_ITERS; i++) {
		free(v->ref[i].acc);
		free(v->ref[i].model);
	}
	violations_free(&v->vio);
	free(v->sample);
	free(v);
}

void inv_update_accepted(inv *v, int64_t it, double ds, const float *w, size_t n)
{
	if (it < 0 || it >= MAX_ITERS || n != v->cfg.model_floats)
		return;
	ref_sum *r = &v->ref[it];
	if (!r->acc) {
		r->full = full_iteration(v, it);
		if (!(r->acc = calloc(r->full ? n : INV_SAMPLE, sizeof(double))))
			return;
	}
	if (r->full) {
		for (size_t i = 0; i < n; i++)
			r->acc[i] += (double)w[i] * ds;
	} else {
		for (size_t k = 0; k < INV_SAMPLE; k++)
			r->acc[k] += (double)w[v->sample[k]] * ds;
	}
	r->weight += ds;
	r->uploads++;
}

/* Validity: judge iteration `it` against the accepted uploads, with the model kept at its first
 * sighting (the servers' stores keep only the last few models). */
static void judge_validity(inv *v, uint64_t now_ns, int64_t it)
{
	ref_sum *r = &v->ref[it];
	size_t n = v->cfg.model_floats;
	r->checked = 1;
	if (r->failed) {
		free(r->model);
		r->model = NULL;
		return; /* the iteration failed: its predecessor was re-stored */
	}
	if (!r->acc || r->weight <= 0) {
		violations_add(&v->vio, now_ns, "validity", r->server, "", "iteration %lld committed a new model but the "
			"fleet saw no accepted update for it", (long long)it);
	} else {
		double worst = 0;
		size_t at = 0;
		v->validity_checks++;
		size_t m = r->full ? n : INV_SAMPLE;
		for (size_t k = 0; k < m; k++) {
			size_t i = r->full ? k : v->sample[k];
			double ref = r->acc[k] / r->weight;
			double d = fabs((double)r->model[i] - ref) / (fabs(ref) + 1e-3);
			if (d > worst)
				worst = d, at = k;
		}
		size_t i = r->full ? at : v->sample[at];
		if (worst > 1e-3)
			violations_add(&v->vio, now_ns, "validity", r->server, "", "iteration %lld: model[%zu]=%g but the "
				"FedAvg of the %ld accepted updates gives %g (relative error %.2g)", (long long)it,
				i, (double)r->model[i], r->uploads, r->acc[at] / r->weight, worst);
	}
	free(r->model);
	r->model = NULL;
	free(r->acc);
	r->acc = NULL;
}

static void validity_due(inv *v, uint64_t now_ns, int all)
{
	for (int64_t it = v->validity_from; it <= v->max_seen && it < MAX_ITERS; it++) {
		ref_sum *r = &v->ref[it];
		if (r->first_seen_ns && !r->checked && (now_ns >= r->first_seen_ns + VALIDITY_DELAY_NS || all))
			judge_validity(v, now_ns, it);
		/* an iteration never seen (evicted between two polls) does not hold the others up */
		if (it == v->validity_from && (r->checked || !r->first_seen_ns))
			v->validity_from = it + 1;
	}
}

/* First sighting of committed model `it`: remember its hash (agreement, durability) and keep a
 * copy for the validity judgement. */
static void seen_model(inv *v, uint64_t now_ns, const char *server, int64_t it, const float *w, size_t n,
		       uint64_t h)
{
	if (it < 0 || it >= MAX_ITERS)
		return;
	if (!v->hash[it]) {
		v->hash[it] = h;
		if (it > v->max_seen)
			v->max_seen = it;
		snprintf(v->first_server[it], sizeof v->first_server[it], "%s", server);
		ref_sum *r = &v->ref[it];
		r->first_seen_ns = now_ns ? now_ns : 1;
		snprintf(r->server, sizeof r->server, "%s", server);
		if (it == 0 || n != v->cfg.model_floats) {
			r->checked = 1; /* the initial model has no uploads */
			return;
		}
		r->failed = v->hash[it - 1] == h;
		if (!r->failed && (r->model = malloc(n * sizeof(float))))
			memcpy(r->model, w, n * sizeof(float));
		else if (!r->failed)
			r->checked = 1;
		return;
	}
	v->agreement_checks++;
	if (v->hash[it] != h) {
		char key[32];
		snprintf(key, sizeof key, "%lld", (long long)it);
		violations_add(&v->vio, now_ns, "agreement", server, key, "getModel(%lld) from %s has hash %016llx, "
			"but %s served %016llx for it", (long long)it, server, (unsigned long long)h,
			v->first_server[it], (unsigned long long)v->hash[it]);
	}
}

void inv_model_served(inv *v, uint64_t now_ns, const char *server, int64_t it, const float *w, size_t n)
{
	seen_model(v, now_ns, server, it, w, n, model_hash(w, n));
}

void inv_time_rejected(inv *v, uint64_t now_ns, const char *server, int64_t server_ms, int64_t device_ms)
{
	int64_t off = device_ms - server_ms;
	if (off < 0)
		off = -off;
	/* a request inside the window (with a second of slack for transit) must not be rejected */
	if (off + 1000 < v->cfg.replay_ms) {
		char key[32];
		snprintf(key, sizeof key, "%lld", (long long)(device_ms / 60000));
		violations_add(&v->vio, now_ns, "time", server, key, "a request %lld ms off the server's clock was "
			"rejected, but replay_attack_time_diff is %lld ms", (long long)off,
			(long long)v->cfg.replay_ms);
	}
}

void inv_fault(inv *v, uint64_t now_ns)
{
	v->last_fault_ns = now_ns;
	v->faults++;
}

void inv_check(inv *v, uint64_t now_ns, cluster *c)
{
	v->polls++;
	srv_status lead;
	if (cluster_leader_status(c, &lead) && lead.iterations_ok > v->last_ok) {
		v->last_ok = lead.iterations_ok;
		v->last_success_ns = now_ns;
	}
	for (int i = 0; i < c->nservers; i++) {
		cl_server *s = &c->servers[i];
		if (!s->node)
			continue;
		srv_status st;
		srv_get_status(s->node, &st);
		if (!st.ready)
			continue;
		/* monotonic: across restarts too (last_iteration survives in the cluster) */
		if (st.iteration < s->last_iteration) {
			char key[32];
			snprintf(key, sizeof key, "%lld", (long long)st.iteration);
			violations_add(&v->vio, now_ns, "monotonic", s->name, key, "iteration went back from %lld to %lld",
				(long long)s->last_iteration, (long long)st.iteration);
		}
		if (st.iteration > s->last_iteration)
			s->last_iteration = st.iteration;
		/* agreement, durability and validity over the models this server still stores */
		/* The server keeps each model's hash; the bytes of one (server, stored model) pair
		 * per poll are hashed again, in rotation, so a model changed behind its hash is caught
		 * too (durability) within nservers * 9 polls — O(1) hashes per poll, not 9 * nservers
		 * every 10th poll. */
		size_t slots = (size_t)c->nservers * 9;
		for (int64_t it = st.last_committed - 8; it <= st.last_committed; it++) {
			size_t n = 0;
			uint64_t h = 0;
			const float *w = it >= 0 ? srv_get_model(s->node, it, &n, &h) : NULL;
			size_t slot = (size_t)i * 9 + (size_t)(it - (st.last_committed - 8));
			int rehash = slots && slot == v->polls % slots;
			if (w)
				seen_model(v, now_ns, s->name, it, w, n,
					   rehash || it < 0 || it >= MAX_ITERS || !v->hash[it] ? model_hash(w, n) : h);
		}
	}
	validity_due(v, now_ns, 0);
	if (c->sched && !c->sched_paused) {
		sched_table t;
		inv_member m[SCHED_MAX_NODES];
		size_t n = 0;
		sched_get_table(c->sched, &t);
		for (size_t k = 0; k < t.n; k++) {
			char name[48];
			snprintf(name, sizeof name, "server/%s", t.nodes[k].node_id);
			cl_server *s = cluster_server(c, name);
			if (!s || s->scaled_in)
				continue;
			int reach = s->node && !s->paused;
			if (reach && v->cfg.reachable)
				reach = v->cfg.reachable(v->cfg.reach_ctx, "scheduler", s->name, now_ns);
			m[n++] = (inv_member){s->name, t.nodes[k].alive, reach};
		}
		inv_membership(v, now_ns, c->sched_up_since_ns, m, n);
	}
}

void inv_membership(inv *v, uint64_t now_ns, uint64_t sched_up_since_ns, const inv_member *m, size_t n)
{
	membership_check(&v->members, &v->vio, now_ns, sched_up_since_ns, m, n);
}

void inv_finish(inv *v, uint64_t now_ns, cluster *c)
{
	inv_check(v, now_ns, c);
	if (v->faults && now_ns > v->last_fault_ns + v->cfg.liveness_budget_ns &&
	    v->last_success_ns <= v->last_fault_ns) {
		srv_status lead;
		int finished = cluster_leader_status(c, &lead) && !strcmp(lead.instance_state, "finish");
		if (!finished)
			violations_add(&v->vio, now_ns, "liveness", "cluster", "", "no iteration succeeded in the %.0f s "
				"since the last fault at %.1f s", (double)(now_ns - v->last_fault_ns) / 1e9,
				(double)v->last_fault_ns / 1e9);
	}
}

int inv_count(const inv *v) { return v->vio.count; }
uint64_t inv_validity_checks(const inv *v) { return v->validity_checks; }
uint64_t inv_agreement_checks(const inv *v) { return v->agreement_checks; }
const cJSON *inv_list(const inv *v) { return v->vio.list; }
