/*
 * live.h — runs a scenario in live mode: the real binaries as processes on loopback.
 *
 * fl-scheduler, one fl-server per server and fl-fleet, each on its own 127.0.0.x address with its
 * data directory under the run's output directory; bin/netem-proxy in front of the scheduler and
 * of every server's device port (network block as base rules, partition/link events as rules
 * through its control API); kills by SIGKILL, pause by SIGSTOP/SIGCONT, clock skew through
 * libfaketime, scaling through the management API. Time is wall-clock time since the start;
 * "on" conditions, invariants and metrics come from polling the processes and reading their files.
 * The outputs are those of sim mode (docs/outputs.md), plus logs/<node>.log for every process;
 * docs/live-mode.md says what is and is not observable.
 *
 * Whatever ends the run (its duration, an error, SIGINT/SIGTERM/SIGHUP, a crash of sim), no
 * process it started stays running: see live_proc.h. On SIGINT/SIGTERM/SIGHUP the run stops
 * within a tick, kills everything, writes what it has (summary.json says "interrupted") and then
 * dies of that signal.
 */
#ifndef FL_LIVE_H
#define FL_LIVE_H

#include "../engine/engine.h"
#include "../scenario/scenario.h"

/*
 * The contract of engine_run: 0 when the run happened (res->ok tells the verdict), SC_EINVAL with
 * err for input that only shows up at set-up (a bad cluster.config key, a binary or libfaketime
 * missing), another negative code when the cluster could not be started or the outputs not
 * written. The binaries are looked up next to the running sim (or in $FLBENCH_BIN).
 */
int live_run(const scenario *sc, const engine_opts *o, engine_result *res, char *err, size_t errlen);

#endif
