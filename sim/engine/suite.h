/*
 * suite.h — `sim suite FILE`: run a list of scenarios, gate each against its baseline, and write
 * one junit.xml for CI systems.
 *
 * A suite file (one JSON file in scenarios/suites/):
 *   {"name": "ci",
 *    "scenarios": [{"file": "scenarios/quickstart.json", "seed": 1, "duration": "60s",
 *                   "baseline": "scenarios/baselines/quickstart.json",
 *                   "thresholds": {"iterations.success": 0.2}}, ...]}
 * Paths are relative to the repository root (the working directory). A scenario passes when its
 * expectations hold, no invariant is violated, and — with a baseline (a summary.json kept in the
 * tree) — `sim compare BASELINE RUN` finds no regression. Wall-clock figures (wall_time_s,
 * speedup, sim.speedup) are never gated here: machines differ; `make bench` measures speed.
 */
#ifndef FL_SUITE_H
#define FL_SUITE_H

/* Returns the exit status: 0 all passed, 1 a scenario failed, 2 bad input. With update != 0 the
 * baselines are (re)written from this run instead of compared. */
int suite_main(const char *file, const char *out_dir, int jobs_unused, int update, int quiet);

#endif
