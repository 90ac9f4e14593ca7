/*
 * swarm.h — swarm testing: let the seed also pick fault timings and probabilities.
 *
 * Every "at" time is scaled by a factor in [0.5, 1.5], every "for" duration likewise, and the
 * fleet's dropout and each link event's loss by [0.5, 1.5] (clamped to [0, 1]), all drawn from a
 * stream derived from the scenario's seed — so a failing seed replays the same choices.
 */
#ifndef FL_SWARM_H
#define FL_SWARM_H

#include "../scenario/scenario.h"
#include "../../node/rt/rt.h"

/* Modify sc in place; describe what was chosen in desc (one line). */
void swarm_apply(scenario *sc, char *desc, size_t len);

#endif
