/*
 * netem_sim.h — plug the netem link model (link.h) into the simulator (sim/rt/rt_sim.h).
 *
 * Every write and every connection set-up rt_sim makes on a directed link src → dst is decided by
 * netem_decide on the hosts' names, with a random stream per directed link seeded from the run's
 * seed and the two names (not from pointers or creation order), so a run is the same for the same
 * seed and the same rules.
 *
 * How netem's verdict maps onto rt_sim's:
 *   - no rule applies: NETEM_SIM_DEFAULT_LATENCY_NS, like rt_sim's own default model;
 *   - latency, bandwidth, loss (as RTO delays) and slicing: delay_ns, slices, slice_gap_ns;
 *   - a reset draw: reset;
 *   - a partition: connection set-up is held (rt_sim times it out). Data written into a partition
 *     that is known to heal (the rule expires) arrives after the healing when the rule releases; when
 *     it resets, the peer sees the reset at the healing (the writer, as rt_sim does for every reset
 *     verdict, at once). FIN and RST packets cross a known-to-heal partition at the healing. Data written into a partition with no known
 *     end is held, which rt_sim turns into a reset of the stream: the simulator cannot hold bytes
 *     for an unknown time (give partitions a "for" to have them released).
 */
#ifndef FL_NETEM_SIM_H
#define FL_NETEM_SIM_H

#include "../../netem/link.h"
#include "rt_sim.h"

#define NETEM_SIM_DEFAULT_LATENCY_NS 100000ULL

/* Install n as s's link model and reseed n's link streams from s's seed. n is borrowed: it must
 * outlive the attachment (until netem_sim_detach or rt_sim_free). Rules may change at any time. */
int netem_sim_attach(rt_sim *s, netem *n);
/* Put rt_sim's default link model back. */
void netem_sim_detach(rt_sim *s);

/* The mapping above, for one write (exposed for tests). */
void netem_sim_verdict(const netem_verdict *v, size_t len, rt_sim_verdict *out);

#endif
