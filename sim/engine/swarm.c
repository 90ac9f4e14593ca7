/* swarm.c — see swarm.h. */
#include "swarm.h"

#include <stdio.h>
#include <string.h>

static double factor(rt_rng *r) { return 0.5 + rt_rng_double(r); }

static void append(char *desc, size_t len, const char *fmt, double a, double b, int i)
{
	size_t l = strlen(desc);
	if (l + 1 < len)
		snprintf(desc + l, len - l, fmt, i, a, b);
}

/*
 * A restart (resume) keeps following the kill (pause) of the same node that precedes it in the
 * file: moved independently, a restart could land before its kill and leave the node down for
 * the rest of the run, which tests nothing but the scenario. It keeps at least half its gap.
 */
static void keep_pairs_in_order(scenario *sc, const uint64_t *orig_at, char *desc, size_t len)
{
	for (size_t i = 0; i < sc->n_events; i++) {
		sc_event *e = &sc->events[i];
		if (!e->has_at || (e->action != SC_RESTART && e->action != SC_RESUME))
			continue;
		int first = e->action == SC_RESTART ? SC_KILL : SC_PAUSE;
		for (size_t k = i; k-- > 0;) {
			const sc_event *x = &sc->events[k];
			if (!x->has_at || (int)x->action != first || strcmp(x->node, e->node))
				continue;
			uint64_t gap = orig_at[i] > orig_at[k] ? (orig_at[i] - orig_at[k]) / 2 : 0;
			if (e->at_ns < x->at_ns + gap) {
				append(desc, len, "events[%d].at %.1fs->%.1fs (after its kill/pause); ",
				       (double)e->at_ns / 1e9, (double)(x->at_ns + gap) / 1e9, (int)i);
				e->at_ns = x->at_ns + gap;
			}
			break;
		}
	}
}

void swarm_apply(scenario *sc, char *desc, size_t len)
{
	uint64_t orig_at[SC_MAX_EVENTS];
	for (size_t i = 0; i < sc->n_events; i++)
		orig_at[i] = sc->events[i].at_ns;
	rt_rng r;
	rt_rng_seed(&r, rt_seed_derive(sc->seed, "swarm"));
	desc[0] = '\0';
	sc->swarm = 1;
	for (size_t i = 0; i < sc->n_events; i++) {
		sc_event *e = &sc->events[i];
		if (e->has_at) {
			double f = factor(&r);
			uint64_t at = (uint64_t)((double)e->at_ns * f);
			append(desc, len, "events[%d].at %.1fs->%.1fs; ", (double)e->at_ns / 1e9, (double)at / 1e9, (int)i);
			e->at_ns = at;
		}
		if (e->for_ns) {
			double f = factor(&r);
			uint64_t d = (uint64_t)((double)e->for_ns * f);
			append(desc, len, "events[%d].for %.1fs->%.1fs; ", (double)e->for_ns / 1e9, (double)d / 1e9, (int)i);
			e->for_ns = d;
		}
		if (e->action == SC_LINK && e->link.loss > 0) {
			double l = e->link.loss * factor(&r);
			l = l > 1 ? 1 : l;
			append(desc, len, "events[%d].loss %.3f->%.3f; ", e->link.loss, l, (int)i);
			e->link.loss = l;
		}
	}
	keep_pairs_in_order(sc, orig_at, desc, len);
	if (sc->dropout > 0) {
		double d = sc->dropout * factor(&r);
		d = d > 1 ? 1 : d;
		size_t l = strlen(desc);
		if (l + 1 < len)
			snprintf(desc + l, len - l, "fleet.dropout %.3f->%.3f; ", sc->dropout, d);
		sc->dropout = d;
	}
	if (!desc[0])
		snprintf(desc, len, "nothing to vary");
}
