/*
 * link.c — the link model: a rule table, per-directed-link state (bandwidth queue, random
 * stream) and the decision for one write. See link.h for the semantics.
 */
#include "link.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* State of one directed link, keyed by "src\ndst". Kept in an open-addressing table hashed by
 * the names' bytes (never by pointers), so lookups are deterministic. */
typedef struct netem_link {
	char *key;            /* owned; NULL = empty slot */
	uint64_t next_free_ns; /* when the bandwidth queue will have sent everything queued */
	rt_rng rng;
	int rng_ready;
} netem_link;

struct netem {
	uint64_t seed;
	netem_rule *rules; /* sorted by id (appended in id order) */
	size_t nrules, cap_rules;
	uint32_t next_id;
	netem_link *links;
	size_t nlinks, cap_links; /* cap_links is 0 or a power of two */
};

netem *netem_new(uint64_t seed)
{
	netem *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->seed = seed;
	n->next_id = 1;
	return n;
}

static void links_free(netem *n)
{
	for (size_t i = 0; i < n->cap_links; i++)
		free(n->links[i].key);
	free(n->links);
	n->links = NULL;
	n->nlinks = n->cap_links = 0;
}

void netem_free(netem *n)
{
	if (!n)
		return;
	links_free(n);
	free(n->rules);
	free(n);
}

void netem_set_seed(netem *n, uint64_t seed)
{
	n->seed = seed;
	for (size_t i = 0; i < n->cap_links; i++)
		n->links[i].rng_ready = 0; /* reseeded lazily from the new seed */
}

uint64_t netem_seed(const netem *n) { return n->seed; }

/* ---- patterns ---- */

int netem_pattern_ok(const char *p)
{
	if (!p || !p[0])
		return 0;
	size_t len = strlen(p);
	if (len >= NETEM_PATTERN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 0x7f)
			return 0;
		/* '*' only alone or as the last character after a '/' */
		if (c == '*' && !(i == len - 1 && (len == 1 || p[i - 1] == '/')))
			return 0;
	}
	return 1;
}

/* How specifically `pat` names `name`: -1 no match, 0 "*", 100 + prefix length for a group,
 * 1000 for the exact name. */
static int pattern_score(const char *pat, const char *name)
{
	size_t plen = strlen(pat);
	if (plen == 1 && pat[0] == '*')
		return 0;
	if (plen >= 2 && pat[plen - 1] == '*')
		return strncmp(name, pat, plen - 1) == 0 ? 100 + (int)plen - 1 : -1;
	if (strcmp(pat, name) == 0)
		return 1000;
	/* a bare group name: "fleet" names "fleet/17" too */
	if (!strchr(pat, '/') && strncmp(name, pat, plen) == 0 && name[plen] == '/')
		return 100 + (int)plen + 1;
	return -1;
}

int netem_pattern_match(const char *pattern, const char *name)
{
	return pattern && name && pattern_score(pattern, name) >= 0;
}

/* The score with which rule r applies to src → dst (-1: it does not). */
static int rule_score(const netem_rule *r, const char *src, const char *dst, uint64_t now)
{
	if (r->expires_at_ns && now >= r->expires_at_ns)
		return -1;
	int best = -1;
	int a = pattern_score(r->from, src), b = pattern_score(r->to, dst);
	if (a >= 0 && b >= 0)
		best = a + b;
	if (!r->one_way) {
		a = pattern_score(r->from, dst);
		b = pattern_score(r->to, src);
		if (a >= 0 && b >= 0 && a + b > best)
			best = a + b;
	}
	return best;
}

/* Index of the base rule that applies (most specific, newest on ties), or -1. */
static long best_base(const netem *n, const char *src, const char *dst, uint64_t now)
{
	long best = -1;
	int best_score = -1;
	for (size_t i = 0; i < n->nrules; i++) {
		const netem_rule *r = &n->rules[i];
		if (!r->base)
			continue;
		int s = rule_score(r, src, dst, now);
		if (s >= 0 && s >= best_score) {
			best = (long)i;
			best_score = s;
		}
	}
	return best;
}

/* Whether rule i applies (given the chosen base rule). */
static int applies(const netem *n, size_t i, long base, const char *src, const char *dst,
		   uint64_t now)
{
	const netem_rule *r = &n->rules[i];
	if (r->base)
		return (long)i == base;
	return rule_score(r, src, dst, now) >= 0;
}

/* ---- distributions ---- */

const char *netem_dist_name(netem_dist d)
{
	switch (d) {
	case NETEM_DIST_NORMAL: return "normal";
	case NETEM_DIST_PARETO: return "pareto";
	default: return "uniform";
	}
}

int netem_dist_parse(const char *s, netem_dist *out)
{
	if (!s)
		return RT_EINVAL;
	if (strcmp(s, "uniform") == 0)
		*out = NETEM_DIST_UNIFORM;
	else if (strcmp(s, "normal") == 0)
		*out = NETEM_DIST_NORMAL;
	else if (strcmp(s, "pareto") == 0)
		*out = NETEM_DIST_PARETO;
	else
		return RT_EINVAL;
	return 0;
}

/* A latency sample in ns (see link.h for the shapes). Uses one or two draws. */
static uint64_t sample_latency(const netem_rule *r, rt_rng *rng)
{
	if (r->jitter_ns == 0)
		return r->latency_ns;
	double lat = (double)r->latency_ns, j = (double)r->jitter_ns, v;
	switch (r->dist) {
	case NETEM_DIST_NORMAL: {
		double u1 = 1.0 - rt_rng_double(rng); /* (0, 1]: log is finite */
		double u2 = rt_rng_double(rng);
		v = lat + j * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		break;
	}
	case NETEM_DIST_PARETO: {
		/* Pareto(xm, 3): mean 1.5 xm, sd xm·√3/2. Scale so sd = j, shift so mean = lat. */
		double xm = 2.0 * j / sqrt(3.0);
		double u = 1.0 - rt_rng_double(rng);
		v = lat - sqrt(3.0) * j + xm / cbrt(u);
		break;
	}
	default:
		v = lat + j * (2.0 * rt_rng_double(rng) - 1.0);
		break;
	}
	if (!(v > 0.0))
		return 0;
	if (v >= 1.8e19)
		return UINT64_MAX / 4;
	return (uint64_t)llround(v);
}

/* ---- rules ---- */

void netem_rule_init(netem_rule *r)
{
	memset(r, 0, sizeof *r);
	strcpy(r->from, "*");
	strcpy(r->to, "*");
	r->dist = NETEM_DIST_UNIFORM;
	r->rto_ns = NETEM_DEFAULT_RTO_NS;
}

static int prob_ok(double p) { return p >= 0.0 && p <= 1.0; } /* false for NaN */

int netem_rule_check(const netem_rule *r, const char **why)
{
	const char *w = NULL;
	if (!r)
		w = "no rule";
	else if (!netem_pattern_ok(r->from))
		w = "from: bad pattern";
	else if (!netem_pattern_ok(r->to))
		w = "to: bad pattern";
	else if (r->dist != NETEM_DIST_UNIFORM && r->dist != NETEM_DIST_NORMAL &&
		 r->dist != NETEM_DIST_PARETO)
		w = "distribution: unknown";
	else if (!prob_ok(r->loss))
		w = "loss: must be a probability in [0, 1]";
	else if (!prob_ok(r->reset))
		w = "reset: must be a probability in [0, 1]";
	else if (r->slices > 65536)
		w = "slices: at most 65536";
	else if (r->latency_ns > 86400ULL * 1000000000ULL || r->jitter_ns > 86400ULL * 1000000000ULL ||
		 r->rto_ns > 86400ULL * 1000000000ULL || r->slice_gap_ns > 3600ULL * 1000000000ULL)
		w = "duration too long";
	if (why)
		*why = w;
	return w ? RT_EINVAL : 0;
}

int netem_rule_add(netem *n, const netem_rule *r, uint32_t *id_out)
{
	if (!n || netem_rule_check(r, NULL))
		return RT_EINVAL;
	if (n->nrules == n->cap_rules) {
		size_t cap = n->cap_rules ? n->cap_rules * 2 : 8;
		netem_rule *nr = realloc(n->rules, cap * sizeof *nr);
		if (!nr)
			return RT_ENOMEM;
		n->rules = nr;
		n->cap_rules = cap;
	}
	netem_rule *dst = &n->rules[n->nrules++];
	*dst = *r;
	dst->id = n->next_id++;
	dst->hits = 0;
	if (id_out)
		*id_out = dst->id;
	return 0;
}

static long rule_index(const netem *n, uint32_t id)
{
	/* ids are sorted: binary search */
	size_t lo = 0, hi = n->nrules;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n->rules[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n->nrules && n->rules[lo].id == id ? (long)lo : -1;
}

int netem_rule_change(netem *n, uint32_t id, const netem_rule *r)
{
	if (!n || netem_rule_check(r, NULL))
		return RT_EINVAL;
	long i = rule_index(n, id);
	if (i < 0)
		return RT_ENOENT;
	uint64_t hits = n->rules[i].hits;
	n->rules[i] = *r;
	n->rules[i].id = id;
	n->rules[i].hits = hits;
	return 0;
}

int netem_rule_remove(netem *n, uint32_t id)
{
	if (!n)
		return RT_EINVAL;
	long i = rule_index(n, id);
	if (i < 0)
		return RT_ENOENT;
	memmove(&n->rules[i], &n->rules[i + 1], (n->nrules - (size_t)i - 1) * sizeof *n->rules);
	n->nrules--;
	return 0;
}

const netem_rule *netem_rule_get(const netem *n, uint32_t id)
{
	long i = n ? rule_index(n, id) : -1;
	return i < 0 ? NULL : &n->rules[i];
}

size_t netem_rule_count(const netem *n) { return n ? n->nrules : 0; }

const netem_rule *netem_rule_at(const netem *n, size_t i)
{
	return n && i < n->nrules ? &n->rules[i] : NULL;
}

void netem_clear(netem *n)
{
	n->nrules = 0;
	links_free(n);
}

size_t netem_expire(netem *n, uint64_t now_ns)
{
	size_t w = 0, removed = 0;
	for (size_t i = 0; i < n->nrules; i++) {
		const netem_rule *r = &n->rules[i];
		if (r->expires_at_ns && now_ns >= r->expires_at_ns) {
			removed++;
			continue;
		}
		n->rules[w++] = *r;
	}
	n->nrules = w;
	return removed;
}

uint64_t netem_next_expiry(const netem *n, uint64_t now_ns)
{
	uint64_t best = 0;
	for (size_t i = 0; i < n->nrules; i++) {
		uint64_t e = n->rules[i].expires_at_ns;
		if (e > now_ns && (!best || e < best))
			best = e;
	}
	return best;
}

/* ---- per-link state ---- */

static uint64_t key_hash(const char *src, const char *dst)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ '\n') * 0x100000001b3ULL;
	for (const unsigned char *p = (const unsigned char *)dst; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

static int key_eq(const char *key, const char *src, const char *dst)
{
	size_t sl = strlen(src);
	return strncmp(key, src, sl) == 0 && key[sl] == '\n' && strcmp(key + sl + 1, dst) == 0;
}

static netem_link *link_find(const netem *n, const char *src, const char *dst)
{
	if (!n->cap_links)
		return NULL;
	size_t mask = n->cap_links - 1;
	for (size_t i = key_hash(src, dst) & mask;; i = (i + 1) & mask) {
		netem_link *l = &n->links[i];
		if (!l->key)
			return NULL;
		if (key_eq(l->key, src, dst))
			return l;
	}
}

static int links_grow(netem *n)
{
	size_t cap = n->cap_links ? n->cap_links * 2 : 64;
	netem_link *nl = calloc(cap, sizeof *nl);
	if (!nl)
		return RT_ENOMEM;
	for (size_t i = 0; i < n->cap_links; i++) {
		netem_link *l = &n->links[i];
		if (!l->key)
			continue;
		/* the key's bytes are exactly what key_hash(src, dst) hashes */
		uint64_t h = 0xcbf29ce484222325ULL;
		for (const unsigned char *p = (const unsigned char *)l->key; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		size_t j = h & (cap - 1);
		while (nl[j].key)
			j = (j + 1) & (cap - 1);
		nl[j] = *l;
	}
	free(n->links);
	n->links = nl;
	n->cap_links = cap;
	return 0;
}

static netem_link *link_get(netem *n, const char *src, const char *dst)
{
	netem_link *l = link_find(n, src, dst);
	if (l)
		return l;
	if ((n->nlinks + 1) * 10 > n->cap_links * 7 && links_grow(n))
		return NULL;
	size_t sl = strlen(src), dl = strlen(dst);
	char *key = malloc(sl + dl + 2);
	if (!key)
		return NULL;
	memcpy(key, src, sl);
	key[sl] = '\n';
	memcpy(key + sl + 1, dst, dl + 1);
	size_t mask = n->cap_links - 1, i = key_hash(src, dst) & mask;
	while (n->links[i].key)
		i = (i + 1) & mask;
	l = &n->links[i];
	memset(l, 0, sizeof *l);
	l->key = key;
	n->nlinks++;
	return l;
}

rt_rng *netem_link_rng(netem *n, const char *src, const char *dst)
{
	if (!n || !src || !dst)
		return NULL;
	netem_link *l = link_get(n, src, dst);
	if (!l)
		return NULL;
	if (!l->rng_ready) {
		/* seeded by the key's contents: "src\ndst" */
		rt_rng_seed(&l->rng, rt_seed_derive(n->seed, l->key));
		l->rng_ready = 1;
	}
	return &l->rng;
}

/* ---- the decision ---- */

/* What the applicable rules add up to (before the random draws). */
typedef struct agg {
	uint64_t bandwidth, queue, rto, slice_gap, heal_at;
	double keep, no_reset; /* probabilities that a transmission is not lost / not reset */
	uint32_t slices, rules;
	int hold, heal_reset, heal_unknown;
} agg;

static void aggregate(netem *n, const char *src, const char *dst, uint64_t now, agg *a,
		      int count_hits)
{
	memset(a, 0, sizeof *a);
	a->keep = a->no_reset = 1.0;
	a->slices = 1;
	long base = best_base(n, src, dst, now);
	int rto_from_loss = 0;
	for (size_t i = 0; i < n->nrules; i++) {
		if (!applies(n, i, base, src, dst, now))
			continue;
		netem_rule *r = &n->rules[i];
		a->rules++;
		if (count_hits)
			r->hits++;
		if (r->bandwidth_bps && (!a->bandwidth || r->bandwidth_bps < a->bandwidth))
			a->bandwidth = r->bandwidth_bps;
		if (r->queue_bytes && (!a->queue || r->queue_bytes < a->queue))
			a->queue = r->queue_bytes;
		/* the RTO of the rules that lose bytes (loss, queue bound) wins over the others' */
		uint64_t rto = r->rto_ns ? r->rto_ns : NETEM_DEFAULT_RTO_NS;
		int loses = r->loss > 0.0 || r->queue_bytes;
		if (loses > rto_from_loss || (loses == rto_from_loss && rto > a->rto)) {
			a->rto = rto;
			rto_from_loss = loses;
		}
		a->keep *= 1.0 - r->loss;
		a->no_reset *= 1.0 - r->reset;
		if (r->slices > a->slices)
			a->slices = r->slices;
		if (r->slice_gap_ns > a->slice_gap)
			a->slice_gap = r->slice_gap_ns;
		if (r->partition) {
			a->hold = 1;
			if (r->heal_reset)
				a->heal_reset = 1;
			if (!r->expires_at_ns)
				a->heal_unknown = 1;
			else if (r->expires_at_ns > a->heal_at)
				a->heal_at = r->expires_at_ns;
		}
	}
	if (!a->rto)
		a->rto = NETEM_DEFAULT_RTO_NS;
	if (a->heal_unknown)
		a->heal_at = 0;
}

int netem_blocked(netem *n, const char *src, const char *dst, uint64_t now_ns)
{
	agg a;
	if (!n || !src || !dst)
		return 0;
	aggregate(n, src, dst, now_ns, &a, 0);
	return a.hold || a.no_reset < 1.0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static uint64_t bytes_to_ns(uint64_t bytes, uint64_t bps)
{
	unsigned __int128 t = (unsigned __int128)bytes * 1000000000u;
	t = (t + bps - 1) / bps;
	return t > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)t;
}

static uint64_t backlog_bytes(const netem_link *l, uint64_t bps, uint64_t now)
{
	if (!l || !bps || l->next_free_ns <= now)
		return 0;
	unsigned __int128 b = (unsigned __int128)(l->next_free_ns - now) * bps / 1000000000u;
	return b > UINT64_MAX ? UINT64_MAX : (uint64_t)b;
}

int netem_decide(netem *n, const char *src, const char *dst, size_t len, uint64_t now_ns,
		 rt_rng *rng, netem_verdict *out)
{
	if (!out)
		return RT_EINVAL;
	memset(out, 0, sizeof *out);
	out->slices = 1;
	if (!n || !src || !dst || !rng)
		return RT_EINVAL;
	if (n->nrules == 0)
		return 0; /* the common live case: no rules, no cost */

	agg a;
	aggregate(n, src, dst, now_ns, &a, 1);
	out->rules = a.rules;
	if (!a.rules)
		return 0;

	/* Latency: the base rule and every fault rule draw in id order and add up. */
	long base = best_base(n, src, dst, now_ns);
	uint64_t latency = 0;
	for (size_t i = 0; i < n->nrules; i++)
		if (applies(n, i, base, src, dst, now_ns))
			latency = sat_add(latency, sample_latency(&n->rules[i], rng));

	/* When the write enters the link: now, or at healing for bytes a partition releases. */
	uint64_t t0 = now_ns;
	if (a.hold) {
		out->hold = 1;
		out->heal_at_ns = a.heal_at;
		out->heal_reset = a.heal_reset;
		/* Control packets (len 0) and bytes a healing resets or releases at an unknown
		 * time carry only a nominal delay: at the known healing plus latency, else the
		 * latency. Connection set-up under hold times out whatever the delay. */
		if (len == 0 || a.heal_reset || !a.heal_at) {
			out->delay_ns = sat_add(a.heal_at > now_ns ? a.heal_at - now_ns : 0, latency);
			return 0;
		}
		t0 = a.heal_at;
	}

	uint64_t loss_delay = 0;
	if (!a.hold) {
		if (a.no_reset < 1.0 && rt_rng_double(rng) >= a.no_reset) {
			out->reset = 1;
			return 0;
		}
		double p = 1.0 - a.keep;
		uint64_t rto = a.rto;
		while (p > 0.0 && out->losses < NETEM_MAX_LOSSES && rt_rng_double(rng) < p) {
			out->losses++;
			loss_delay = sat_add(loss_delay, rto);
			rto = sat_add(rto, rto); /* exponential backoff */
		}
	}

	uint32_t slices = len > 1 ? a.slices : 1;
	if (slices > len)
		slices = (uint32_t)len;
	uint64_t first = t0, gap = a.slice_gap;
	if (a.bandwidth && len) {
		netem_link *l = link_get(n, src, dst);
		if (l) {
			if (a.queue && backlog_bytes(l, a.bandwidth, t0) > 0 &&
			    backlog_bytes(l, a.bandwidth, t0) + len > a.queue) {
				/* tail drop: the write is sent again after an RTO */
				out->queue_drop = 1;
				out->losses++;
				t0 = sat_add(t0, a.rto);
			}
			uint64_t start = l->next_free_ns > t0 ? l->next_free_ns : t0;
			uint64_t tx = bytes_to_ns(len, a.bandwidth);
			l->next_free_ns = sat_add(start, tx);
			first = sat_add(start, tx / slices);
			if (tx / slices > gap)
				gap = tx / slices;
		}
	}
	first = sat_add(sat_add(first, latency), loss_delay);
	out->delay_ns = first - now_ns;
	out->slices = slices;
	out->slice_gap_ns = slices > 1 ? gap : 0;
	return 0;
}

uint64_t netem_backlog(netem *n, const char *src, const char *dst, uint64_t now_ns)
{
	if (!n || !src || !dst || !n->nrules)
		return 0;
	agg a;
	aggregate(n, src, dst, now_ns, &a, 0);
	return backlog_bytes(link_find(n, src, dst), a.bandwidth, now_ns);
}

uint64_t netem_queue_limit(netem *n, const char *src, const char *dst, uint64_t now_ns)
{
	if (!n || !src || !dst || !n->nrules)
		return 0;
	agg a;
	aggregate(n, src, dst, now_ns, &a, 0);
	return a.bandwidth ? a.queue : 0;
}
