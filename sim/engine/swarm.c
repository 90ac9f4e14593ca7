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

void swarm_apply(scenario *sc, char *desc, size_t len)
{
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
