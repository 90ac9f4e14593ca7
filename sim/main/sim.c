/*
 * sim — the scenario engine's command line.
 *
 *   sim run FILE [--seed N] [--mode sim|live] [--out DIR] [--check-determinism] [--swarm] ...
 *   sim sweep FILE --seeds A..B [--jobs N] [--swarm] [--shard I/N|auto[/N]] [--param k=v1,v2] [--out DIR]
 *   sim sweep-merge DIR... [--out DIR]
 *   sim report DIR
 *   sim compare BASE NEW [...]
 *   sim list [DIR]
 *
 * Exit status: 0 every expectation holds, 1 one fails (saying which, with the replay command),
 * 2 bad input (saying what and where).
 */
#include "../engine/engine.h"
#include "../engine/param.h"
#include "../engine/suite.h"
#include "../engine/sweep.h"
#include "../engine/swarm.h"
#include "../live/live.h"
#include "../scenario/scenario.h"
#include "../../reports/compare.h"
#include "../../reports/report.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One help text per command: `sim --help` prints them all, `sim CMD --help` its own. */
static const struct cmd_help {
	const char *cmd, *text;
} helps[] = {
	{"run",
	 "  sim run FILE [--seed N] [--mode sim|live] [--out DIR] [--check-determinism]\n"
	 "               [--duration D] [--swarm] [--verbose] [--quiet] [--no-report]\n"
	 "      Run a scenario. Exit 0 when every expectation holds and no invariant is violated,\n"
	 "      1 when one fails (the reason and the replay command are printed), 2 on bad input.\n"
	 "      --out DIR   where the outputs go (default reports/out/<scenario name>/)\n"
	 "      --check-determinism   run twice and compare trace hashes and events.jsonl\n"
	 "      --swarm     let the seed also pick fault timings and probabilities (printed)\n"
	 "      --duration D  run for D (e.g. 60s) instead of the scenario's duration\n"
	 "      --invariants-only  pass when no invariant is violated, whatever the expectations\n"
	 "      --param key.path=value  override a key of the scenario (e.g. cluster.server_num=8)\n"},
	{"sweep",
	 "  sim sweep FILE --seeds A..B [--jobs N] [--swarm] [--duration D] [--invariants-only]\n"
	 "                [--param key.path=v1,v2,...]... [--shard I/N | auto | auto/N]\n"
	 "                [--target-accuracy A] [--out DIR]\n"
	 "      Run seeds A to B (times the grid of --param values), each in a forked child; write\n"
	 "      summary.json, junit.xml, failing.txt (replay commands), sweep.csv and, with --param,\n"
	 "      sweep.html (a plot per figure against the parameter) into DIR.\n"
	 "      --shard I/N  run only shard I of N (deterministic split) into DIR/shard-I/; auto takes\n"
	 "                   I from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (docs/at-scale.md)\n"},
	{"sweep-merge",
	 "  sim sweep-merge DIR... [--out DIR]\n"
	 "      Merge shard results (DIR/sweep.json or DIR/shard-*/sweep.json) into the outputs the\n"
	 "      unsharded sweep writes, byte for byte. Default --out: <parent of the first DIR>/merged.\n"},
	{"suite",
	 "  sim suite FILE [--out DIR] [--update-baselines]\n"
	 "      Run a suite (a file in scenarios/suites/): every scenario must pass and not regress\n"
	 "      against its baseline; writes one junit.xml. --update-baselines rewrites them.\n"},
	{"report", "  sim report DIR        write DIR/report.html from a run's outputs\n"},
	{"compare", "  sim compare BASE NEW  compare two runs (or bench.json files); exit 1 on a regression\n"},
	{"list", "  sim list [DIR]        the scenarios in DIR (default scenarios/)\n"},
};
#define NHELPS (sizeof helps / sizeof helps[0])

/* cmd NULL: every command's text. */
static void print_usage(FILE *f, const char *cmd)
{
	fputs("usage:\n", f);
	for (size_t i = 0; i < NHELPS; i++)
		if (!cmd || !strcmp(cmd, helps[i].cmd))
			fputs(helps[i].text, f);
	fputs("\nScenario format, outputs and invariants: docs/design.md, docs/outputs.md, "
	      "docs/scenarios.md.\n", f);
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

typedef struct run_opts {
	const char *file, *out;
	int64_t seed; /* -1: the scenario's */
	const char *duration; /* overrides the scenario's */
	const char *mode;
	int determinism, swarm, verbose, quiet, no_report;
	int invariants_only; /* the verdict looks at invariants, not at the expectations */
	size_t nparams;      /* --param settings, applied in order */
	param_axis params[PARAM_MAX];
} run_opts;

static int is_tty(void) { return isatty(2); }

static int load(const run_opts *ro, scenario **sc)
{
	char err[1024];
	const char *paths[PARAM_MAX], *values[PARAM_MAX];
	for (size_t i = 0; i < ro->nparams; i++) {
		paths[i] = ro->params[i].path;
		values[i] = ro->params[i].values[0];
	}
	if (param_load(ro->file, paths, values, ro->nparams, sc, err, sizeof err)) {
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (ro->seed >= 0)
		(*sc)->seed = (uint64_t)ro->seed;
	if (ro->duration) {
		int64_t ns;
		if (sc_parse_duration_ns(ro->duration, 0, &ns) || ns <= 0) {
			fprintf(stderr, "sim: --duration: expected a duration like \"60s\", got '%s'\n", ro->duration);
			scenario_free(*sc);
			return 2;
		}
		(*sc)->duration_ns = (uint64_t)ns;
	}
	if (ro->mode) {
		if (!strcmp(ro->mode, "sim"))
			(*sc)->mode = SC_MODE_SIM;
		else if (!strcmp(ro->mode, "live"))
			(*sc)->mode = SC_MODE_LIVE;
		else {
			fprintf(stderr, "sim: --mode: expected sim or live, got '%s'\n", ro->mode);
			scenario_free(*sc);
			return 2;
		}
	}
	if ((*sc)->mode == SC_MODE_LIVE && ro->determinism) {
		fprintf(stderr, "sim: %s: --check-determinism compares two sim-mode runs; a live run is not "
			"reproducible\n", ro->file);
		scenario_free(*sc);
		return 2;
	}
	if (ro->swarm || (*sc)->swarm) {
		char desc[2048];
		swarm_apply(*sc, desc, sizeof desc);
		if (!ro->quiet)
			fprintf(stderr, "swarm (seed %" PRIu64 "): %s\n", (*sc)->seed, desc);
	}
	return 0;
}

static int run_once(const run_opts *ro, scenario *sc, const char *out, engine_result *res)
{
	char err[1024] = "";
	engine_opts eo = {.out_dir = out, .progress = !ro->quiet && is_tty(), .verbose = ro->verbose};
	int rc = sc->mode == SC_MODE_LIVE ? live_run(sc, &eo, res, err, sizeof err)
					  : engine_run(sc, &eo, res, err, sizeof err);
	if (rc) {
		fprintf(stderr, "sim: %s\n", err[0] ? err : "the run failed");
		return rc == SC_EINVAL ? 2 : 2;
	}
	return 0;
}

static void default_out(const scenario *sc, char *buf, size_t len)
{
	snprintf(buf, len, "reports/out/%s", sc->name);
}

/* The first line where two events.jsonl files differ (1-based), 0 when equal. */
static long first_diff(const char *a, const char *b, char *la, char *lb, size_t len)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	long line = 0, diff = 0;
	if (!fa || !fb) {
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		return -1;
	}
	for (;;) {
		line++;
		char *ra = fgets(la, (int)len, fa), *rb = fgets(lb, (int)len, fb);
		if (!ra && !rb)
			break;
		if (!ra || !rb || strcmp(la, lb)) {
			if (!ra)
				snprintf(la, len, "(end of file)\n");
			if (!rb)
				snprintf(lb, len, "(end of file)\n");
			diff = line;
			break;
		}
	}
	fclose(fa);
	fclose(fb);
	return diff;
}

/* The run's verdict under the options: expectations count unless --invariants-only. */
static int passed(const run_opts *ro, const engine_result *r)
{
	return ro->invariants_only ? r->violations == 0 : r->ok;
}

static void print_verdict(const run_opts *ro, const scenario *sc, const engine_result *r, const char *out)
{
	int ok = passed(ro, r);
	if (sc->mode == SC_MODE_LIVE)
		printf("%s: seed %" PRIu64 ": %s — live run of %.1f s\n", sc->name, sc->seed,
		       ok ? "PASS" : "FAIL", r->wall_time_s);
	else
		printf("%s: seed %" PRIu64 ": %s — %.1f s simulated in %.2f s wall (x%.0f), trace %016" PRIx64 "\n",
		       sc->name, sc->seed, ok ? "PASS" : "FAIL", r->sim_time_s, r->wall_time_s,
		       r->wall_time_s > 0 ? r->sim_time_s / r->wall_time_s : 0, r->trace_hash);
	if (!r->ok && ro->invariants_only && ok)
		printf("  (expectations not judged with --invariants-only: %s)\n", r->first_failure);
	else if (!r->ok) {
		printf("  %s\n", r->first_failure);
		if (r->hint[0])
			printf("  likely cause: %s\n", r->hint);
		if (r->expect_failed + (r->violations > 0) > 1)
			printf("  (%d expectations failed, %d invariant violations: see %s/summary.json)\n",
			       r->expect_failed, r->violations, out ? out : "the summary");
		printf("  replay: bin/sim run %s --seed %" PRIu64 "%s%s%s%s", sc->file, sc->seed, sc->swarm ? " --swarm" : "",
		       ro->duration ? " --duration " : "", ro->duration ? ro->duration : "",
		       ro->invariants_only ? " --invariants-only" : "");
		for (size_t i = 0; i < ro->nparams; i++)
			printf(" --param %s=%s", ro->params[i].path, ro->params[i].values[0]);
		printf("\n");
	}
}

static int cmd_run(const run_opts *ro)
{
	scenario *sc;
	int rc = load(ro, &sc);
	if (rc)
		return rc;
	char out[600];
	if (ro->out)
		snprintf(out, sizeof out, "%s", ro->out);
	else
		default_out(sc, out, sizeof out);
	engine_result r;
	if (!ro->determinism) {
		rc = run_once(ro, sc, out, &r);
		if (!rc) {
			if (!ro->no_report) {
				char err[512] = "";
				if (report_write(out, err, sizeof err))
					fprintf(stderr, "sim: report: %s\n", err);
				else if (err[0] && !ro->quiet)
					fprintf(stderr, "sim: report: %s\n", err);
			}
			print_verdict(ro, sc, &r, out);
			printf("  outputs: %s/ (summary.json, events.jsonl, metrics.csv, trace.json, junit.xml%s)\n",
			       out, ro->no_report ? "" : ", report.html");
			rc = passed(ro, &r) ? 0 : 1;
		}
		scenario_free(sc);
		return rc;
	}
	/* --check-determinism: the same scenario and seed twice, compared */
	char o1[700], o2[700];
	snprintf(o1, sizeof o1, "%s/determinism-1", out);
	snprintf(o2, sizeof o2, "%s/determinism-2", out);
	engine_result r2;
	rc = run_once(ro, sc, o1, &r);
	if (!rc)
		rc = run_once(ro, sc, o2, &r2);
	if (!rc) {
		char e1[700], e2[700], la[2048], lb[2048];
		snprintf(e1, sizeof e1, "%s/events.jsonl", o1);
		snprintf(e2, sizeof e2, "%s/events.jsonl", o2);
		long d = first_diff(e1, e2, la, lb, sizeof la);
		if (r.trace_hash == r2.trace_hash && d == 0) {
			printf("%s: seed %" PRIu64 ": deterministic: trace hash %016" PRIx64 " both times, %" PRIu64
			       " identical events\n", sc->name, sc->seed, r.trace_hash, r.events);
			rc = 0;
		} else {
			printf("%s: seed %" PRIu64 ": NOT deterministic: trace hashes %016" PRIx64 " and %016" PRIx64 "\n",
			       sc->name, sc->seed, r.trace_hash, r2.trace_hash);
			if (d > 0)
				printf("  first diverging event, line %ld of events.jsonl:\n    run 1: %s    run 2: %s", d, la, lb);
			else
				printf("  events.jsonl is identical: the divergence is below the recorded events\n");
			rc = 1;
		}
	}
	scenario_free(sc);
	return rc;
}

static int cmd_list(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "sim list: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	char *names[512];
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 512) {
		size_t l = strlen(de->d_name);
		if (l > 5 && !strcmp(de->d_name + l - 5, ".json"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (int i = 0; i < n; i++) {
		char path[1024], err[512];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		scenario *sc;
		if (scenario_load(path, &sc, err, sizeof err) == 0) {
			printf("%-28s %-5s %4d servers %8ld devices  %6.0f s  %zu events  %zu expectations\n",
			       path, sc->mode == SC_MODE_LIVE ? "live" : "sim", sc->server_num, sc->devices,
			       (double)sc->duration_ns / 1e9, sc->n_events, sc->n_expect);
			scenario_free(sc);
		} else {
			printf("%-28s INVALID: %s\n", path, err);
		}
		free(names[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || is_help(argv[1]) || !strcmp(argv[1], "help")) {
		print_usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	int known = 0;
	for (size_t i = 0; i < NHELPS; i++)
		known |= !strcmp(cmd, helps[i].cmd);
	if (!known) {
		fprintf(stderr, "sim: unknown command '%s'\n", cmd);
		print_usage(stderr, NULL);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (is_help(argv[i])) {
			print_usage(stdout, cmd);
			return 0;
		}
	if (!strcmp(cmd, "report")) {
		if (argc != 3) {
			fprintf(stderr, "usage: sim report DIR\n");
			return 2;
		}
		char err[512] = "";
		if (report_write(argv[2], err, sizeof err)) {
			fprintf(stderr, "sim report: %s\n", err);
			return 2;
		}
		if (err[0])
			fprintf(stderr, "sim report: %s\n", err);
		printf("%s/report.html\n", argv[2]);
		return 0;
	}
	if (!strcmp(cmd, "compare"))
		return compare_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc > 2 ? argv[2] : "scenarios");
	if (!strcmp(cmd, "suite")) {
		const char *file = NULL, *out = NULL;
		int update = 0;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--update-baselines"))
				update = 1;
			else if (!strcmp(argv[i], "--out") && i + 1 < argc)
				out = argv[++i];
			else if (!strncmp(argv[i], "--out=", 6))
				out = argv[i] + 6;
			else if (argv[i][0] != '-' && !file)
				file = argv[i];
			else {
				fprintf(stderr, "sim suite: unexpected argument '%s'\nusage: sim suite FILE [--out DIR] [--update-baselines]\n", argv[i]);
				return 2;
			}
		}
		if (!file) {
			fprintf(stderr, "usage: sim suite FILE [--out DIR] [--update-baselines]\n");
			return 2;
		}
		return suite_main(file, out, 1, update, 0);
	}
	if (!strcmp(cmd, "sweep-merge")) {
		const char *out = NULL, *dirs[256];
		size_t nd = 0;
		int quiet = 0;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--out") && i + 1 < argc)
				out = argv[++i];
			else if (!strncmp(argv[i], "--out=", 6))
				out = argv[i] + 6;
			else if (!strcmp(argv[i], "--quiet"))
				quiet = 1;
			else if (argv[i][0] != '-' && nd < 256)
				dirs[nd++] = argv[i];
			else {
				fprintf(stderr, "sim sweep-merge: unexpected argument '%s'\nusage: sim sweep-merge DIR... [--out DIR]\n", argv[i]);
				return 2;
			}
		}
		if (!nd) {
			fprintf(stderr, "usage: sim sweep-merge DIR... [--out DIR]  (each DIR a shard's, or one holding shard-N/)\n");
			return 2;
		}
		return sweep_merge(dirs, nd, out, quiet);
	}
	int sweep = !strcmp(cmd, "sweep");
	run_opts ro = {.seed = -1};
	sweep_opts so = {.jobs = 1, .target_accuracy = 0.7};
	const char *seeds = NULL;
	char err[1024];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		char flag[64] = "";
		if (!strncmp(a, "--", 2)) {
			const char *eq = strchr(a, '=');
			snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
			val = eq ? eq + 1 : NULL;
		}
		int takes = !strcmp(flag, "--seed") || !strcmp(flag, "--mode") || !strcmp(flag, "--out") ||
			    !strcmp(flag, "--seeds") || !strcmp(flag, "--jobs") || !strcmp(flag, "--duration") ||
			    !strcmp(flag, "--param") || !strcmp(flag, "--shard") || !strcmp(flag, "--target-accuracy");
		int sweep_only = !strcmp(flag, "--seeds") || !strcmp(flag, "--jobs") || !strcmp(flag, "--shard") ||
				 !strcmp(flag, "--target-accuracy");
		int run_only = !strcmp(flag, "--seed") || !strcmp(flag, "--mode") || !strcmp(a, "--check-determinism");
		if ((sweep_only && !sweep) || (run_only && sweep)) {
			fprintf(stderr, "sim %s: %s belongs to sim %s\n", cmd, flag[0] ? flag : a, sweep ? "run" : "sweep");
			return 2;
		}
		if (takes && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sim: %s needs a value\n", flag);
				return 2;
			}
			val = argv[++i];
		}
		if (!strcmp(flag, "--seed")) {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(val, &end, 10);
			if (errno || *end || val[0] == '-') {
				fprintf(stderr, "sim: --seed: expected a whole number, got '%s'\n", val);
				return 2;
			}
			ro.seed = (int64_t)s;
		} else if (!strcmp(flag, "--mode")) {
			ro.mode = val;
		} else if (!strcmp(flag, "--duration")) {
			ro.duration = val;
		} else if (!strcmp(flag, "--out")) {
			ro.out = val;
		} else if (!strcmp(flag, "--seeds")) {
			seeds = val;
		} else if (!strcmp(flag, "--jobs")) {
			so.jobs = atoi(val);
			if (so.jobs < 1 || so.jobs > 64) {
				fprintf(stderr, "sim: --jobs: expected 1..64, got '%s'\n", val);
				return 2;
			}
		} else if (!strcmp(flag, "--param")) {
			param_axis *ax = sweep ? &so.axes[so.naxes] : &ro.params[ro.nparams];
			if ((sweep ? so.naxes : ro.nparams) == PARAM_MAX) {
				fprintf(stderr, "sim %s: at most %d --param options\n", cmd, PARAM_MAX);
				return 2;
			}
			if (sweep ? param_axis_parse(val, ax, err, sizeof err) : param_set_parse(val, ax, err, sizeof err)) {
				fprintf(stderr, "sim %s: %s\n", cmd, err);
				return 2;
			}
			size_t n = sweep ? so.naxes++ : ro.nparams++;
			for (size_t k = 0; k < n; k++)
				if (!strcmp((sweep ? so.axes : ro.params)[k].path, ax->path)) {
					fprintf(stderr, "sim %s: --param %s given twice\n", cmd, ax->path);
					return 2;
				}
		} else if (!strcmp(flag, "--shard")) {
			if (sweep_parse_shard(val, &so, err, sizeof err)) {
				fprintf(stderr, "sim sweep: %s\n", err);
				return 2;
			}
		} else if (!strcmp(flag, "--target-accuracy")) {
			char *end;
			so.target_accuracy = strtod(val, &end);
			if (*end || !(so.target_accuracy > 0 && so.target_accuracy <= 1)) {
				fprintf(stderr, "sim sweep: --target-accuracy: expected a number in (0, 1], got '%s'\n", val);
				return 2;
			}
		} else if (!strcmp(a, "--check-determinism")) {
			ro.determinism = 1;
		} else if (!strcmp(a, "--swarm")) {
			ro.swarm = 1;
		} else if (!strcmp(a, "--verbose")) {
			ro.verbose = 1;
		} else if (!strcmp(a, "--quiet")) {
			ro.quiet = 1;
		} else if (!strcmp(a, "--invariants-only")) {
			ro.invariants_only = 1;
		} else if (!strcmp(a, "--no-report")) {
			ro.no_report = 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "sim %s: unknown option '%s'\n", cmd, a);
			print_usage(stderr, cmd);
			return 2;
		} else if (!ro.file) {
			ro.file = a;
		} else {
			fprintf(stderr, "sim: one scenario file at a time ('%s' and '%s')\n", ro.file, a);
			return 2;
		}
	}
	if (!ro.file) {
		fprintf(stderr, "sim %s: which scenario file?\n", cmd);
		print_usage(stderr, cmd);
		return 2;
	}
	if (!sweep)
		return cmd_run(&ro);
	if (sweep_parse_seeds(seeds, &so, err, sizeof err)) {
		fprintf(stderr, "sim sweep: %s\n", err);
		return 2;
	}
	if (!so.shard_count)
		so.shard_count = 1;
	so.file = ro.file;
	so.out = ro.out;
	so.duration = ro.duration;
	so.swarm = ro.swarm;
	so.invariants_only = ro.invariants_only;
	so.quiet = ro.quiet;
	return sweep_run(&so);
}
