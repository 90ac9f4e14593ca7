/*
 * sweep.c — running a sweep or one shard of it (see sweep.h): the grid and the seeds, each run
 * in a forked child that writes its result next to its outputs, collected into sweep.json.
 */
#include "sweep_int.h"

#include "engine.h"
#include "../live/live.h"
#include "swarm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const sweep_fig_names[SWEEP_NFIGS] = {
	"iterations.success",      /* committed iterations */
	"iterations.success_rate", /* committed / (committed + failed) */
	"latency.p99_ms",          /* the slowest round's p99 device latency */
	"time.to_accuracy_s",      /* first evaluation at the target accuracy (real training) */
};

int sweep_mkdirs(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

cJSON *sweep_read_json(const char *path, char *err, size_t errlen)
{
	size_t n;
	char *buf = param_read_file(path, (size_t)1 << 30, &n, err, errlen);
	if (!buf)
		return NULL;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
	if (!j)
		snprintf(err, errlen, "%s: not valid JSON (near byte %ld)", path,
			 end ? (long)(end - buf) : 0L);
	free(buf);
	return j;
}

int sweep_write_json(const char *path, const cJSON *j)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	char *text = cJSON_Print(j);
	if (!text)
		return -ENOMEM;
	FILE *f = fopen(tmp, "w");
	int rc = f ? 0 : -errno;
	if (f && (fputs(text, f) < 0 || fputc('\n', f) < 0))
		rc = -EIO;
	if (f && fclose(f) && !rc)
		rc = -EIO;
	free(text);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

cJSON *sweep_spec_json(const sweep_opts *o, const char *scenario_name)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "file", o->file);
	cJSON_AddStringToObject(s, "scenario", scenario_name);
	cJSON *seeds = cJSON_AddArrayToObject(s, "seeds");
	cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)o->seed_a));
	cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)o->seed_b));
	if (o->duration)
		cJSON_AddStringToObject(s, "duration", o->duration);
	else
		cJSON_AddNullToObject(s, "duration");
	cJSON_AddBoolToObject(s, "swarm", o->swarm);
	cJSON_AddBoolToObject(s, "invariants_only", o->invariants_only);
	cJSON_AddNumberToObject(s, "target_accuracy", o->target_accuracy);
	cJSON *ps = cJSON_AddArrayToObject(s, "params");
	for (size_t i = 0; i < o->naxes; i++) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "path", o->axes[i].path);
		cJSON *v = cJSON_AddArrayToObject(p, "values");
		for (size_t k = 0; k < o->axes[i].n; k++)
			cJSON_AddItemToArray(v, cJSON_CreateString(o->axes[i].values[k]));
		cJSON_AddItemToArray(ps, p);
	}
	return s;
}

int sweep_parse_seeds(const char *s, sweep_opts *o, char *err, size_t errlen)
{
	char *end;
	const char *t;
	errno = 0;
	if (!s || !*s || *s == '-')
		goto bad;
	o->seed_a = strtoull(s, &end, 10);
	if (errno || end == s || strncmp(end, "..", 2))
		goto bad;
	t = end + 2;
	if (*t == '-')
		goto bad;
	o->seed_b = strtoull(t, &end, 10);
	if (errno || end == t || *end)
		goto bad;
	if (o->seed_b < o->seed_a || o->seed_b > SWEEP_MAX_SEED || o->seed_b - o->seed_a >= 100000) {
		snprintf(err, errlen, "--seeds %s: need A <= B <= %llu and at most 100000 seeds", s,
			 (unsigned long long)SWEEP_MAX_SEED);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "--seeds A..B is required (e.g. --seeds 1..50), got '%s'", s ? s : "nothing");
	return -1;
}

/* A whole number in [0, max] from text. 0 or -1. */
static int whole(const char *s, long max, long *v)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	long x = strtol(s, &end, 10);
	if (errno || *end || x < 0 || x > max)
		return -1;
	*v = x;
	return 0;
}

int sweep_parse_shard(const char *s, sweep_opts *o, char *err, size_t errlen)
{
	long i = 0, n = 0;
	const char *slash = strchr(s, '/');
	char head[32];
	snprintf(head, sizeof head, "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (slash && whole(slash + 1, 100000, &n)) {
		snprintf(err, errlen, "--shard %s: the shard count after / must be a whole number in 1..100000", s);
		return -1;
	}
	if (!strcmp(head, "auto")) {
		const char *k = getenv("JOB_COMPLETION_INDEX"), *from = "JOB_COMPLETION_INDEX";
		if (!k || !*k)
			k = getenv("SLURM_ARRAY_TASK_ID"), from = "SLURM_ARRAY_TASK_ID";
		if (!k || !*k) {
			snprintf(err, errlen, "--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) "
				 "nor SLURM_ARRAY_TASK_ID (Slurm job array) is set; say --shard I/N");
			return -1;
		}
		if (whole(k, 100000, &i)) {
			snprintf(err, errlen, "--shard auto: %s='%s' is not a shard index", from, k);
			return -1;
		}
		if (!strcmp(from, "SLURM_ARRAY_TASK_ID")) {
			long min = 0;
			const char *m = getenv("SLURM_ARRAY_TASK_MIN");
			if (m && *m && whole(m, 100000, &min) == 0 && min <= i)
				i -= min;
			const char *c = getenv("SLURM_ARRAY_TASK_COUNT");
			long cn;
			if (!slash && c && *c && whole(c, 100000, &cn) == 0)
				n = cn;
		}
		if (!n) {
			snprintf(err, errlen, "--shard auto: the shard count is unknown from %s alone: say --shard "
				 "auto/N with N the Job's completions", from);
			return -1;
		}
	} else if (whole(head, 100000, &i) || !slash) {
		snprintf(err, errlen, "--shard %s: expected I/N (0 <= I < N), auto or auto/N", s);
		return -1;
	}
	if (n < 1 || i >= n) {
		snprintf(err, errlen, "--shard %s: shard index %ld is not below the count %ld", s, i, n);
		return -1;
	}
	o->shard_index = (int)i;
	o->shard_count = (int)n;
	return 0;
}

/* The grid: cell c's value index on axis a (the first axis varies slowest). */
static size_t cell_value(const sweep_opts *o, size_t cell, size_t a)
{
	size_t div = 1;
	for (size_t k = a + 1; k < o->naxes; k++)
		div *= o->axes[k].n;
	return cell / div % o->axes[a].n;
}

static size_t cell_count(const sweep_opts *o)
{
	size_t n = 1;
	for (size_t a = 0; a < o->naxes; a++)
		n *= o->axes[a].n;
	return n;
}

static int load_cell(const sweep_opts *o, size_t cell, scenario **sc, char *err, size_t errlen)
{
	const char *paths[PARAM_MAX], *values[PARAM_MAX];
	for (size_t a = 0; a < o->naxes; a++) {
		paths[a] = o->axes[a].path;
		values[a] = o->axes[a].values[cell_value(o, cell, a)];
	}
	return param_load(o->file, paths, values, o->naxes, sc, err, errlen);
}

/* The seed's first evaluation at the target accuracy, from events.jsonl; NaN when none. */
static double time_to_accuracy(const char *dir, double target)
{
	char path[4200], line[4096];
	snprintf(path, sizeof path, "%s/events.jsonl", dir);
	FILE *f = fopen(path, "r");
	double t = NAN;
	while (f && fgets(line, sizeof line, f)) {
		if (!strstr(line, "\"eval\""))
			continue;
		cJSON *e = cJSON_Parse(line);
		const cJSON *acc = cJSON_GetObjectItemCaseSensitive(e, "accuracy");
		const cJSON *et = cJSON_GetObjectItemCaseSensitive(e, "t");
		if (cJSON_IsNumber(acc) && cJSON_IsNumber(et) && acc->valuedouble >= target)
			t = et->valuedouble;
		cJSON_Delete(e);
		if (!isnan(t))
			break;
	}
	if (f)
		fclose(f);
	return t;
}

static double metric(const cJSON *m, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static cJSON *figures(const char *dir, const scenario *sc, double target)
{
	char path[4200], err[256];
	snprintf(path, sizeof path, "%s/summary.json", dir);
	cJSON *sum = sweep_read_json(path, err, sizeof err);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(sum, "metrics");
	double v[SWEEP_NFIGS];
	v[0] = metric(m, "iterations.success");
	double f = metric(m, "iterations.failed");
	v[1] = v[0] + f > 0 ? v[0] / (v[0] + f) : NAN;
	v[2] = NAN;
	static const char *const rounds[] = {"startFLJob", "updateModel", "getModel"};
	for (int i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof name, "latency.%s.p99_ms", rounds[i]);
		double p = metric(m, name);
		if (!isnan(p) && (isnan(v[2]) || p > v[2]))
			v[2] = p;
	}
	v[3] = strcmp(sc->training, "real") ? NAN : time_to_accuracy(dir, target);
	cJSON_Delete(sum);
	cJSON *o = cJSON_CreateObject();
	for (int i = 0; i < SWEEP_NFIGS; i++)
		if (isfinite(v[i]))
			cJSON_AddNumberToObject(o, sweep_fig_names[i], v[i]);
	return o;
}

/* In a forked child: one run, its result in DIR/sweep-run.json. Returns the exit status. */
static int child_run(const sweep_opts *o, size_t cell, uint64_t seed, const char *dir)
{
	char err[1024] = "";
	scenario *sc = NULL;
	engine_result r;
	memset(&r, 0, sizeof r);
	int code = 2;
	int rc = load_cell(o, cell, &sc, err, sizeof err);
	if (!rc) {
		sc->seed = seed;
		if (o->duration) {
			int64_t ns;
			if (sc_parse_duration_ns(o->duration, 0, &ns) || ns <= 0)
				rc = SC_EINVAL; /* checked before the sweep started */
			else
				sc->duration_ns = (uint64_t)ns;
		}
		if (o->swarm || sc->swarm) {
			char desc[2048];
			swarm_apply(sc, desc, sizeof desc);
		}
	}
	if (!rc) {
		engine_opts eo = {.out_dir = dir};
		rc = sc->mode == SC_MODE_LIVE ? live_run(sc, &eo, &r, err, sizeof err)
					      : engine_run(sc, &eo, &r, err, sizeof err);
	}
	cJSON *res = cJSON_CreateObject();
	if (!rc) {
		int ok = o->invariants_only ? r.violations == 0 : r.ok;
		code = ok ? 0 : 1;
		cJSON_AddNumberToObject(res, "exit", code);
		cJSON_AddStringToObject(res, "failure", ok ? "" : r.first_failure);
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, r.trace_hash);
		cJSON_AddStringToObject(res, "trace_hash", hex);
		cJSON_AddNumberToObject(res, "sim_time_s", r.sim_time_s);
		cJSON_AddNumberToObject(res, "wall_time_s", r.wall_time_s);
		cJSON_AddItemToObject(res, "figures", figures(dir, sc, o->target_accuracy));
	} else {
		fprintf(stderr, "sim sweep: seed %" PRIu64 ": %s\n", seed, err[0] ? err : "the run failed");
		cJSON_AddNumberToObject(res, "exit", 2);
		cJSON_AddStringToObject(res, "failure", err[0] ? err : "the run failed");
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/sweep-run.json", dir);
	if (sweep_mkdirs(dir) || sweep_write_json(path, res))
		fprintf(stderr, "sim sweep: cannot write %s\n", path);
	cJSON_Delete(res);
	scenario_free(sc);
	return code;
}

static void run_dir(const sweep_opts *o, const char *base, size_t cell, uint64_t seed, char *buf, size_t len)
{
	if (o->naxes)
		snprintf(buf, len, "%s/cell-%zu/seed-%" PRIu64, base, cell, seed);
	else
		snprintf(buf, len, "%s/seed-%" PRIu64, base, seed);
}

/* The run's entry of sweep.json, from what its child left (or how it ended). */
static cJSON *collect(size_t r, size_t cell, uint64_t seed, const char *dir, int status)
{
	char path[4200], err[512];
	snprintf(path, sizeof path, "%s/sweep-run.json", dir);
	cJSON *res = sweep_read_json(path, err, sizeof err);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "run", (double)r);
	cJSON_AddNumberToObject(e, "cell", (double)cell);
	cJSON_AddNumberToObject(e, "seed", (double)seed);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	cJSON_AddNumberToObject(e, "exit", code);
	const cJSON *fl = cJSON_GetObjectItemCaseSensitive(res, "failure");
	char why[600];
	if (WIFSIGNALED(status))
		snprintf(why, sizeof why, "the run was killed by signal %d", WTERMSIG(status));
	else if (cJSON_IsString(fl))
		snprintf(why, sizeof why, "%s", fl->valuestring);
	else
		snprintf(why, sizeof why, code ? "the run left no result (exit %d)" : "", code);
	cJSON_AddStringToObject(e, "failure", why);
	static const char *const keep[] = {"trace_hash", "sim_time_s", "wall_time_s", "figures"};
	for (int i = 0; i < 4; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, keep[i]);
		if (v)
			cJSON_AddItemToObject(e, keep[i], cJSON_Duplicate(v, 1));
	}
	cJSON_AddStringToObject(e, "outputs", dir);
	cJSON_Delete(res);
	return e;
}

int sweep_run(const sweep_opts *o)
{
	char err[1024];
	size_t cells = cell_count(o), nseeds = (size_t)(o->seed_b - o->seed_a + 1);
	if (cells * nseeds > SWEEP_MAX_RUNS) {
		fprintf(stderr, "sim sweep: %zu cells x %zu seeds is more than %d runs\n", cells, nseeds, SWEEP_MAX_RUNS);
		return 2;
	}
	if (o->duration) {
		int64_t ns;
		if (sc_parse_duration_ns(o->duration, 0, &ns) || ns <= 0) {
			fprintf(stderr, "sim sweep: --duration: expected a duration like \"60s\", got '%s'\n", o->duration);
			return 2;
		}
	}
	/* every cell loads before anything runs: a bad value fails now, naming the cell */
	char name[SC_NAME_MAX] = "";
	for (size_t c = 0; c < cells; c++) {
		scenario *sc;
		if (load_cell(o, c, &sc, err, sizeof err)) {
			char cellname[1024] = "";
			for (size_t a = 0; a < o->naxes; a++) {
				size_t l = strlen(cellname);
				snprintf(cellname + l, sizeof cellname - l, "%s%s=%s", a ? ", " : "", o->axes[a].path,
					 o->axes[a].values[cell_value(o, c, a)]);
			}
			if (o->naxes && strncmp(err, "--param", 7))
				fprintf(stderr, "sim sweep: cell %zu (%s): %s\n", c, cellname, err);
			else
				fprintf(stderr, "sim sweep: %s\n", err);
			return 2;
		}
		if (!c)
			snprintf(name, sizeof name, "%s", sc->name);
		scenario_free(sc);
	}
	char top[3000], base[3100];
	if (o->out)
		snprintf(top, sizeof top, "%s", o->out);
	else
		snprintf(top, sizeof top, "reports/out/%s/sweep", name);
	if (o->shard_count > 1)
		snprintf(base, sizeof base, "%s/shard-%d", top, o->shard_index);
	else
		snprintf(base, sizeof base, "%s", top);
	int mk = sweep_mkdirs(base);
	if (mk) {
		fprintf(stderr, "sim sweep: cannot create %s: %s\n", base, strerror(-mk));
		return 2;
	}
	size_t total = cells * nseeds, mine = 0;
	for (size_t r = (size_t)o->shard_index; r < total; r += (size_t)o->shard_count)
		mine++;
	pid_t *pids = calloc(mine ? mine : 1, sizeof *pids);
	cJSON **entries = calloc(mine ? mine : 1, sizeof *entries);
	if (!pids || !entries) {
		free(pids);
		free(entries);
		fprintf(stderr, "sim sweep: out of memory\n");
		return 2;
	}
	int jobs = o->jobs < 1 ? 1 : o->jobs, running = 0, failed = 0;
	size_t next = 0, done = 0;
	fflush(stdout);
	fflush(stderr);
	while (done < mine) {
		while (running < jobs && next < mine) {
			size_t r = (size_t)o->shard_index + next * (size_t)o->shard_count;
			size_t cell = r / nseeds;
			uint64_t seed = o->seed_a + r % nseeds;
			char dir[4200];
			run_dir(o, base, cell, seed, dir, sizeof dir);
			pid_t p = fork();
			if (p == 0)
				_exit(child_run(o, cell, seed, dir));
			if (p < 0) {
				perror("sim sweep: fork");
				if (!running)
					goto out; /* nothing left to wait for: give up on the rest */
				break;
			}
			pids[next++] = p;
			running++;
		}
		int status;
		pid_t p = wait(&status);
		if (p < 0) {
			perror("sim sweep: wait");
			break;
		}
		for (size_t k = 0; k < next; k++) {
			if (pids[k] != p)
				continue;
			pids[k] = 0;
			size_t r = (size_t)o->shard_index + k * (size_t)o->shard_count;
			size_t cell = r / nseeds;
			uint64_t seed = o->seed_a + r % nseeds;
			char dir[4200];
			run_dir(o, base, cell, seed, dir, sizeof dir);
			entries[k] = collect(r, cell, seed, dir, status);
			running--;
			done++;
			int code = (int)cJSON_GetObjectItemCaseSensitive(entries[k], "exit")->valuedouble;
			if (code) {
				failed++;
				if (!o->quiet) {
					const char *why = cJSON_GetObjectItemCaseSensitive(entries[k], "failure")->valuestring;
					if (o->naxes)
						printf("cell %zu seed %" PRIu64 ": FAIL (exit %d) %s  outputs: %s\n", cell, seed, code, why, dir);
					else
						printf("seed %" PRIu64 ": FAIL (exit %d) %s  outputs: %s\n", seed, code, why, dir);
				}
			}
			fflush(stdout);
		}
	}
out:;
	int rc = done < mine ? 2 : failed ? 1 : 0;
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "format", SWEEP_FORMAT);
	cJSON_AddItemToObject(root, "sweep", sweep_spec_json(o, name));
	cJSON *sh = cJSON_AddObjectToObject(root, "shard");
	cJSON_AddNumberToObject(sh, "index", o->shard_index);
	cJSON_AddNumberToObject(sh, "count", o->shard_count);
	cJSON *runs = cJSON_AddArrayToObject(root, "runs");
	for (size_t k = 0; k < mine; k++)
		if (entries[k])
			cJSON_AddItemToArray(runs, entries[k]);
	free(entries);
	free(pids);
	char path[3200];
	snprintf(path, sizeof path, "%s/sweep.json", base);
	if (done < mine) {
		fprintf(stderr, "sim sweep: %zu of %zu runs did not finish; no %s written\n", mine - done, mine, path);
		cJSON_Delete(root);
		return 2;
	}
	int w = sweep_write_json(path, root);
	cJSON_Delete(root);
	if (w) {
		fprintf(stderr, "sim sweep: cannot write %s: %s\n", path, strerror(-w));
		return 2;
	}
	if (o->shard_count > 1) {
		printf("sweep %s: shard %d/%d: %zu of %zu runs, %d failed; result: %s\n"
		       "  merge the shards with: bin/sim sweep-merge %s\n",
		       o->file, o->shard_index, o->shard_count, mine, total, failed, path, top);
		return rc;
	}
	const char *dirs[1] = {base};
	return sweep_merge(dirs, 1, base, 1);
}
