/*
 * netem_sim.c — the netem link model as rt_sim's link model (see netem_sim.h).
 */
#include "netem_sim.h"

#include <string.h>

void netem_sim_verdict(const netem_verdict *v, size_t len, rt_sim_verdict *out)
{
	memset(out, 0, sizeof *out);
	out->slices = 1;
	if (v->rules == 0) {
		out->delay_ns = NETEM_SIM_DEFAULT_LATENCY_NS;
		return;
	}
	if (v->hold) {
		/* rt_sim uses the delay of a hold or reset verdict for FIN/RST and for the peer's
		 * reset: netem_decide put the healing (when known) in it */
		out->delay_ns = v->delay_ns;
		if (len == 0 || v->heal_at_ns == 0) {
			out->hold = 1; /* set-up times out; data of an endless partition resets */
			return;
		}
		if (v->heal_reset) {
			out->reset = 1;
			return;
		}
		/* released at healing: delay_ns already counts from the healing */
	}
	out->delay_ns = v->delay_ns;
	out->slices = v->slices ? v->slices : 1;
	out->slice_gap_ns = v->slice_gap_ns;
	out->reset = v->reset;
}

static void link_fn(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
		    uint64_t now_ns, rt_sim_verdict *out)
{
	netem *n = ctx;
	const char *a = rt_host_name(src), *b = rt_host_name(dst);
	netem_verdict v;
	rt_rng *rng = netem_link_rng(n, a, b);
	if (!rng || netem_decide(n, a, b, len, now_ns, rng, &v)) {
		/* out of memory for the link's state: deliver plainly rather than fail the run */
		memset(&v, 0, sizeof v);
		v.slices = 1;
	}
	netem_sim_verdict(&v, len, out);
}

int netem_sim_attach(rt_sim *s, netem *n)
{
	if (!s || !n)
		return RT_EINVAL;
	netem_set_seed(n, rt_seed_derive(rt_sim_seed(s), "netem"));
	rt_sim_set_link_model(s, link_fn, n);
	return 0;
}

void netem_sim_detach(rt_sim *s)
{
	rt_sim_set_link_model(s, NULL, NULL);
}
