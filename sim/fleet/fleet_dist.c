/*
 * fleet_dist.c — the leaf of the fleet module: drawing from a fleet_dist and the rounds' names.
 */
#include "fleet_int.h"

#include <math.h>

const char *fleet_round_name(fleet_round r)
{
	static const char *const n[] = {"startFLJob", "updateModel", "getModel", "pushMetrics"};
	return (unsigned)r < FLEET_ROUNDS ? n[r] : "?";
}

static double gauss(rt_rng *r)
{
	double u1 = rt_rng_double(r), u2 = rt_rng_double(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double fleet_dist_draw(const fleet_dist *d, rt_rng *r)
{
	switch (d->kind) {
	case FLEET_UNIFORM: return d->a + (d->b - d->a) * rt_rng_double(r);
	case FLEET_NORMAL: return d->a + d->b * gauss(r);
	case FLEET_LOGNORMAL: return d->a * exp(d->b * gauss(r));
	default: return d->a;
	}
}
