/*
 * link.h — the network link model shared by the simulator (sim/rt/netem_sim.c plugs it into
 * rt_sim) and the live TCP fault proxy (bin/netem-proxy).
 *
 * A netem holds a table of rules. Each rule names a directed link by two patterns (source and
 * destination host) and describes what that link does to the bytes written on it: latency with
 * jitter, bandwidth (serialisation delay through a bounded queue), loss (a retransmission-timeout
 * delay per lost transmission), connection resets, partitions, write slicing. netem_decide asks the
 * model what happens to one write of `len` bytes on the link src → dst at time now; len 0 stands
 * for connection set-up.
 *
 * Patterns (for `from` and `to`) are listed below the comment: a '/' followed by '*' cannot be
 * written inside one.
 *
 * Which rules apply: every rule whose patterns match the link, in either direction unless the
 * rule is one_way (then only from → to), and that has not expired (expires_at_ns == 0 or
 * now < expires_at_ns). Rules come in two kinds:
 *   - base rules (base = 1) describe the ordinary link (a scenario's "network" section): of the
 *     base rules that match, only the most specific applies (exact name > group with the longer
 *     prefix > "*", summed over both ends; ties go to the newer rule);
 *   - fault rules (base = 0, the default) all apply on top, in id order, and compose: latencies
 *     (each with its own jitter draw) add up, the lowest bandwidth wins, loss and reset
 *     probabilities combine as independent events, any partition partitions, the most slices win.
 *
 * Latency distributions (the sampled latency is clamped at 0):
 *   uniform  latency ± jitter, flat (mean latency, standard deviation jitter/√3)
 *   normal   mean latency, standard deviation jitter
 *   pareto   shifted Pareto with shape 3: mean latency, standard deviation jitter, a heavy right
 *            tail and a floor at latency − jitter/√3 (as tc-netem's pareto table)
 *
 * Byte order within a stream is the caller's to keep (rt_sim and the proxy deliver a chunk never
 * before an earlier one of the same stream); the model only says when each write would arrive.
 *
 * Determinism: the model holds no clock and no global state. All random draws come from the rng
 * the caller passes (netem_link_rng gives one per directed link, seeded from the netem's seed and
 * the two names, never from pointers or creation order). Rules are kept and applied in id order.
 *
 * Ownership: netem_new returns a model the caller frees with netem_free. Rules are copied in; a
 * pointer returned by netem_rule_get / netem_rule_at is valid until the next change to the table.
 * Names passed to the functions are borrowed for the call only.
 */
// Patterns:
//   "*"          any host
//   "server/*"   every host whose name starts with "server/"
//   "server"     the host named "server" and every host "server/..." (a bare group name)
//   "server/2"   exactly that host (names without '/' behave as bare group names)
//   "127.0.0.5"  hosts the proxy knows only by address are named by it
#ifndef FL_NETEM_LINK_H
#define FL_NETEM_LINK_H

#include "../node/rt/rt.h"

#include <stddef.h>
#include <stdint.h>

#define NETEM_PATTERN_MAX 64 /* bytes, with the NUL */
#define NETEM_DEFAULT_RTO_NS 200000000ULL /* 200 ms: Linux's minimum retransmission timeout */
#define NETEM_MAX_LOSSES 6 /* consecutive losses of one write drawn at most (RTO doubles each) */

typedef enum netem_dist {
	NETEM_DIST_UNIFORM = 0,
	NETEM_DIST_NORMAL = 1,
	NETEM_DIST_PARETO = 2,
} netem_dist;

typedef struct netem_rule {
	uint32_t id;                   /* assigned by netem_rule_add; ids grow, never reused */
	char from[NETEM_PATTERN_MAX];  /* source pattern */
	char to[NETEM_PATTERN_MAX];    /* destination pattern */
	int base;                      /* 1: a base link description (most specific wins) */
	int one_way;                   /* 1: only from → to; 0: both directions */

	uint64_t latency_ns;
	uint64_t jitter_ns;
	netem_dist dist;

	uint64_t bandwidth_bps;  /* bytes per second; 0 = unlimited */
	uint64_t queue_bytes;    /* bandwidth queue bound; 0 = unbounded. A write that finds the
				    queue over the bound is dropped and retransmitted after an RTO */

	double loss;             /* probability that a transmission of a write is lost (0..1) */
	uint64_t rto_ns;         /* first retransmission timeout; 0 = NETEM_DEFAULT_RTO_NS */
	double reset;            /* probability that a write resets the connection (0..1) */

	int partition;           /* 1: bytes are held and new connections time out */
	int heal_reset;          /* partition: 1 = held connections are reset at healing,
				    0 = held bytes are released */

	uint32_t slices;         /* deliver each write in this many chunks (0 or 1 = whole) */
	uint64_t slice_gap_ns;   /* at least this long between chunks */

	uint64_t expires_at_ns;  /* the rule stops applying at this time; 0 = never */
	uint64_t hits;           /* writes it applied to (statistics; kept across changes) */
} netem_rule;

/* What happens to one write (or one connection set-up when len was 0). */
typedef struct netem_verdict {
	uint64_t delay_ns;     /* from now until the first (or only) chunk arrives. With hold: the
				  arrival after a release at heal_at_ns when that is known (for a
				  reset at healing, or len 0: healing + latency), else the latency */
	uint32_t slices;       /* chunks to deliver the write in (1 = whole) */
	uint64_t slice_gap_ns; /* between chunks */
	int reset;             /* 1: the connection is reset instead of delivering */
	int hold;              /* 1: partitioned: bytes are held; connection set-up times out */
	uint64_t heal_at_ns;   /* hold: when the partition is known to expire (0 = when removed) */
	int heal_reset;        /* hold: at healing the connection is reset, not released */
	uint32_t losses;       /* transmissions lost (their RTOs are in delay_ns) */
	int queue_drop;        /* the bandwidth queue was full (one loss counted for it) */
	uint32_t rules;        /* how many rules applied */
} netem_verdict;

typedef struct netem netem;

/* A model with no rules (every link: no delay, no faults). NULL on ENOMEM. */
netem *netem_new(uint64_t seed);
void netem_free(netem *n);
/* Change the seed of the per-link random streams (they restart from the new seed). */
void netem_set_seed(netem *n, uint64_t seed);
uint64_t netem_seed(const netem *n);

/* A rule with defaults: from "*" to "*", rto NETEM_DEFAULT_RTO_NS, nothing else. */
void netem_rule_init(netem_rule *r);
/* RT_EINVAL (and a short reason in *why if non-NULL) when a field is out of range. */
int netem_rule_check(const netem_rule *r, const char **why);

/* Add a copy of *r (its id and hits are ignored); *id_out (may be NULL) gets the new id. */
int netem_rule_add(netem *n, const netem_rule *r, uint32_t *id_out);
/* Replace rule `id` by a copy of *r, keeping its id and hits. RT_ENOENT if there is none. */
int netem_rule_change(netem *n, uint32_t id, const netem_rule *r);
/* RT_ENOENT if there is no such rule. */
int netem_rule_remove(netem *n, uint32_t id);
const netem_rule *netem_rule_get(const netem *n, uint32_t id); /* NULL if none */
size_t netem_rule_count(const netem *n);
const netem_rule *netem_rule_at(const netem *n, size_t i); /* in id order; NULL past the end */
/* Remove every rule and forget every link's bandwidth state (ids keep growing). */
void netem_clear(netem *n);
/* Remove the rules that have expired by now; returns how many. */
size_t netem_expire(netem *n, uint64_t now_ns);
/* The earliest expiry after now among the rules (0 = none): when to look again. */
uint64_t netem_next_expiry(const netem *n, uint64_t now_ns);

/*
 * Decide the fate of a write of len bytes (0 = connection set-up) on src → dst at now_ns,
 * drawing from rng, and update the link's bandwidth state. Returns 0 and fills *out, or RT_EINVAL
 * on NULL arguments (then *out, if given, is a plain "deliver now" verdict). Should the link's
 * bandwidth state not fit in memory, the write goes unshaped rather than failing.
 */
int netem_decide(netem *n, const char *src, const char *dst, size_t len, uint64_t now_ns,
		 rt_rng *rng, netem_verdict *out);

/* 1 when a partition (or a rule that resets connections) applies to src → dst now: nothing gets
 * through. Draws nothing and changes no state, so observers may ask at any time. */
int netem_blocked(netem *n, const char *src, const char *dst, uint64_t now_ns);

/* The random stream of the directed link src → dst, created on first use and seeded from the
 * netem's seed and the two names. Owned by the netem; NULL on ENOMEM. */
rt_rng *netem_link_rng(netem *n, const char *src, const char *dst);
/* Bytes waiting in the bandwidth queue of src → dst at now (0 if the link is not shaped). The
 * proxy stops reading while this is near the queue bound (back-pressure instead of drops). */
uint64_t netem_backlog(netem *n, const char *src, const char *dst, uint64_t now_ns);
/* The queue bound that applies to src → dst now (0 = unbounded or not shaped). */
uint64_t netem_queue_limit(netem *n, const char *src, const char *dst, uint64_t now_ns);

// Patterns: 1 if `pattern` is well formed (non-empty, printable, no spaces, '*' only as "*" or
// after a trailing '/', as in "server/*"; shorter than NETEM_PATTERN_MAX).
int netem_pattern_ok(const char *pattern);
int netem_pattern_match(const char *pattern, const char *name);

const char *netem_dist_name(netem_dist d); /* "uniform", "normal", "pareto" */
int netem_dist_parse(const char *s, netem_dist *out); /* RT_EINVAL if unknown */

#endif
