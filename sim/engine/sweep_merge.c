/*
 * sweep_merge.c — `sim sweep-merge`: shard results (sweep.json, sweep_int.h) checked to be one
 * sweep with every shard there once, merged in run order, and written as summary.json,
 * junit.xml, failing.txt, sweep.csv and (with parameters) sweep.html. An unsharded sweep goes
 * through the same code with its one result, which is what makes the two byte for byte equal.
 */
#include "sweep_int.h"

#include "../../reports/sweep_report.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MERGE_MAX_FILES 100000

typedef struct merge {
	sweep_opts o;          /* the sweep, as its spec says */
	char name[SC_NAME_MAX];
	char file[1024];       /* o.file points here */
	char duration[64];     /* o.duration points here when set */
	size_t cells, nseeds, total;
	cJSON **runs;          /* [total], borrowed from the parsed files */
} merge;

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The result files a DIR argument names: DIR/sweep.json, else DIR/shard-N/sweep.json. */
static int find_files(const char *dir, char ***files, size_t *n, size_t *cap)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/sweep.json", dir);
	char *one[1];
	char **found = one;
	size_t nf = 0;
	if (exists(path)) {
		one[nf++] = strdup(path);
	} else {
		DIR *d = opendir(dir);
		if (!d) {
			fprintf(stderr, "sim sweep-merge: %s: %s\n", dir, strerror(errno));
			return 2;
		}
		found = NULL;
		size_t fc = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, "shard-", 6))
				continue;
			snprintf(path, sizeof path, "%s/%s/sweep.json", dir, e->d_name);
			if (!exists(path))
				continue;
			if (nf == fc) {
				fc = fc ? fc * 2 : 16;
				char **nb = realloc(found, fc * sizeof *nb);
				if (!nb)
					break;
				found = nb;
			}
			found[nf++] = strdup(path);
		}
		closedir(d);
		if (!nf) {
			fprintf(stderr, "sim sweep-merge: %s: no sweep.json there, nor in shard-N/ directories below it\n", dir);
			free(found);
			return 2;
		}
		qsort(found, nf, sizeof *found, cmp_str);
	}
	for (size_t i = 0; i < nf; i++) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			char **nb = *n < MERGE_MAX_FILES ? realloc(*files, *cap * sizeof *nb) : NULL;
			if (!nb) {
				fprintf(stderr, "sim sweep-merge: too many result files\n");
				for (; i < nf; i++)
					free(found[i]);
				if (found != one)
					free(found);
				return 2;
			}
			*files = nb;
		}
		(*files)[(*n)++] = found[i];
	}
	if (found != one)
		free(found);
	return 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The sweep's options back from its spec. 0, or -1 with err. */
static int spec_read(const cJSON *s, merge *m, char *err, size_t errlen)
{
	memset(&m->o, 0, sizeof m->o);
	const char *file = jstr(s, "file"), *name = jstr(s, "scenario"), *dur = jstr(s, "duration");
	const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(s, "seeds");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(s, "params");
	if (!file || !name || cJSON_GetArraySize(seeds) != 2 || !cJSON_IsArray(params)) {
		snprintf(err, errlen, "\"sweep\" lacks file, scenario, seeds or params");
		return -1;
	}
	snprintf(m->file, sizeof m->file, "%s", file);
	snprintf(m->name, sizeof m->name, "%s", name);
	m->o.file = m->file;
	if (dur) {
		snprintf(m->duration, sizeof m->duration, "%s", dur);
		m->o.duration = m->duration;
	}
	double a = cJSON_GetArrayItem(seeds, 0)->valuedouble, b = cJSON_GetArrayItem(seeds, 1)->valuedouble;
	if (!(a >= 0 && b >= a && b - a < 100000 && b <= (double)SWEEP_MAX_SEED)) {
		snprintf(err, errlen, "\"sweep\".seeds: expected [A, B] with A <= B");
		return -1;
	}
	m->o.seed_a = (uint64_t)a;
	m->o.seed_b = (uint64_t)b;
	m->o.swarm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "swarm"));
	m->o.invariants_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "invariants_only"));
	m->o.target_accuracy = jnum(s, "target_accuracy", 0);
	const cJSON *p;
	cJSON_ArrayForEach(p, params) {
		const char *path = jstr(p, "path");
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(p, "values");
		int nv = cJSON_GetArraySize(vals);
		if (m->o.naxes == PARAM_MAX || !path || nv < 1 || nv > PARAM_MAX_VALUES) {
			snprintf(err, errlen, "\"sweep\".params: a bad entry");
			return -1;
		}
		param_axis *ax = &m->o.axes[m->o.naxes++];
		snprintf(ax->path, sizeof ax->path, "%s", path);
		const cJSON *v;
		cJSON_ArrayForEach(v, vals) {
			if (!cJSON_IsString(v)) {
				snprintf(err, errlen, "\"sweep\".params: a value that is not a string");
				return -1;
			}
			snprintf(ax->values[ax->n++], PARAM_VALUE_MAX, "%s", v->valuestring);
		}
	}
	m->cells = 1;
	for (size_t i = 0; i < m->o.naxes; i++)
		m->cells *= m->o.axes[i].n;
	m->nseeds = (size_t)(m->o.seed_b - m->o.seed_a + 1);
	m->total = m->cells * m->nseeds;
	if (m->total > SWEEP_MAX_RUNS) {
		snprintf(err, errlen, "more than %d runs", SWEEP_MAX_RUNS);
		return -1;
	}
	return 0;
}

static const char *axis_value(const merge *m, size_t cell, size_t a)
{
	size_t div = 1;
	for (size_t k = a + 1; k < m->o.naxes; k++)
		div *= m->o.axes[k].n;
	return m->o.axes[a].values[cell / div % m->o.axes[a].n];
}

/* Append s to buf, single-quoted for a POSIX shell when it holds anything but safe characters. */
static void shell_word(char *buf, size_t len, const char *s)
{
	size_t l = strlen(buf);
	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/=+-@%,[]")]) {
		snprintf(buf + l, len - l, "'");
		for (; *s; s++) {
			l = strlen(buf);
			snprintf(buf + l, len - l, *s == '\'' ? "'\\''" : "%c", *s);
		}
		l = strlen(buf);
		snprintf(buf + l, len - l, "'");
	} else {
		snprintf(buf + l, len - l, "%s", s);
	}
}

static void replay_cmd(const merge *m, size_t cell, uint64_t seed, char *buf, size_t len)
{
	snprintf(buf, len, "bin/sim run ");
	shell_word(buf, len, m->o.file);
	size_t l = strlen(buf);
	snprintf(buf + l, len - l, " --seed %" PRIu64 "%s", seed, m->o.swarm ? " --swarm" : "");
	if (m->o.duration) {
		l = strlen(buf);
		snprintf(buf + l, len - l, " --duration ");
		shell_word(buf, len, m->o.duration);
	}
	if (m->o.invariants_only) {
		l = strlen(buf);
		snprintf(buf + l, len - l, " --invariants-only");
	}
	for (size_t a = 0; a < m->o.naxes; a++) {
		char set[PARAM_PATH_MAX + PARAM_VALUE_MAX + 2];
		snprintf(set, sizeof set, "%s=%s", m->o.axes[a].path, axis_value(m, cell, a));
		l = strlen(buf);
		snprintf(buf + l, len - l, " --param ");
		shell_word(buf, len, set);
	}
}

/* "cell 3 (cluster.server_num=4, fleet.devices=100) seed 7", or "seed 7" without parameters. */
static void run_label(const merge *m, size_t cell, uint64_t seed, char *buf, size_t len)
{
	buf[0] = '\0';
	if (m->o.naxes) {
		snprintf(buf, len, "cell %zu (", cell);
		for (size_t a = 0; a < m->o.naxes; a++) {
			size_t l = strlen(buf);
			snprintf(buf + l, len - l, "%s%s=%s", a ? ", " : "", m->o.axes[a].path, axis_value(m, cell, a));
		}
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, ") ");
	}
	size_t l = strlen(buf);
	snprintf(buf + l, len - l, "seed %" PRIu64, seed);
}

static void xml_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\n': fputs("&#10;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void csv_put(FILE *f, const char *s)
{
	if (!s[strcspn(s, ",\"\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int run_exit(const cJSON *r) { return (int)jnum(r, "exit", 2); }

static int write_outputs(const merge *m, const char *out, int *failed_out)
{
	char path[4200];
	int failed = 0;
	for (size_t r = 0; r < m->total; r++)
		failed += run_exit(m->runs[r]) != 0;
	*failed_out = failed;

	/* failing.txt: one line per failing run, in run order */
	snprintf(path, sizeof path, "%s/failing.txt", out);
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	for (size_t r = 0; r < m->total; r++) {
		const cJSON *e = m->runs[r];
		int code = run_exit(e);
		if (!code)
			continue;
		char label[1024], cmd[2048];
		size_t cell = r / m->nseeds;
		uint64_t seed = m->o.seed_a + r % m->nseeds;
		run_label(m, cell, seed, label, sizeof label);
		replay_cmd(m, cell, seed, cmd, sizeof cmd);
		const char *why = jstr(e, "failure");
		fprintf(f, "%s: FAIL (exit %d) %s  replay: %s\n", label, code, why ? why : "", cmd);
	}
	if (fclose(f))
		return -EIO;

	/* sweep.csv: one row per run */
	snprintf(path, sizeof path, "%s/sweep.csv", out);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs("run,cell", f);
	for (size_t a = 0; a < m->o.naxes; a++) {
		fputc(',', f);
		csv_put(f, m->o.axes[a].path);
	}
	fputs(",seed,exit,ok", f);
	for (int i = 0; i < SWEEP_NFIGS; i++)
		fprintf(f, ",%s", sweep_fig_names[i]);
	fputc('\n', f);
	for (size_t r = 0; r < m->total; r++) {
		const cJSON *e = m->runs[r];
		size_t cell = r / m->nseeds;
		fprintf(f, "%zu,%zu", r, cell);
		for (size_t a = 0; a < m->o.naxes; a++) {
			fputc(',', f);
			csv_put(f, axis_value(m, cell, a));
		}
		fprintf(f, ",%" PRIu64 ",%d,%d", m->o.seed_a + r % m->nseeds, run_exit(e), run_exit(e) == 0);
		const cJSON *figs = cJSON_GetObjectItemCaseSensitive(e, "figures");
		for (int i = 0; i < SWEEP_NFIGS; i++) {
			double v = jnum(figs, sweep_fig_names[i], NAN);
			if (isfinite(v))
				fprintf(f, ",%.10g", v);
			else
				fputc(',', f);
		}
		fputc('\n', f);
	}
	if (fclose(f))
		return -EIO;

	/* junit.xml: a testcase per run */
	snprintf(path, sizeof path, "%s/junit.xml", out);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	double total_t = 0;
	for (size_t r = 0; r < m->total; r++)
		total_t += jnum(m->runs[r], "sim_time_s", 0);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"sweep ");
	xml_put(f, m->name);
	fprintf(f, "\" tests=\"%zu\" failures=\"%d\" time=\"%.3f\">\n", m->total, failed, total_t);
	for (size_t r = 0; r < m->total; r++) {
		const cJSON *e = m->runs[r];
		char label[1024], cmd[2048];
		size_t cell = r / m->nseeds;
		uint64_t seed = m->o.seed_a + r % m->nseeds;
		run_label(m, cell, seed, label, sizeof label);
		fprintf(f, "  <testcase classname=\"sweep.");
		xml_put(f, m->name);
		fprintf(f, "\" name=\"");
		xml_put(f, label);
		fprintf(f, "\" time=\"%.3f\">", jnum(e, "sim_time_s", 0));
		if (run_exit(e)) {
			replay_cmd(m, cell, seed, cmd, sizeof cmd);
			char msg[3200];
			const char *why = jstr(e, "failure");
			snprintf(msg, sizeof msg, "exit %d: %s (replay: %s)", run_exit(e), why ? why : "", cmd);
			fprintf(f, "<failure message=\"");
			xml_put(f, msg);
			fprintf(f, "\"/>");
		}
		fprintf(f, "</testcase>\n");
	}
	fprintf(f, "</testsuite>\n</testsuites>\n");
	if (fclose(f))
		return -EIO;

	/* summary.json */
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "scenario", m->name);
	cJSON_AddItemToObject(s, "sweep", sweep_spec_json(&m->o, m->name));
	cJSON_AddNumberToObject(s, "runs", (double)m->total);
	cJSON_AddNumberToObject(s, "passed", (double)(m->total - (size_t)failed));
	cJSON_AddNumberToObject(s, "failed", failed);
	cJSON_AddBoolToObject(s, "ok", failed == 0);
	cJSON *cells = cJSON_AddArrayToObject(s, "cells");
	for (size_t c = 0; c < m->cells; c++) {
		cJSON *cj = cJSON_CreateObject();
		cJSON_AddNumberToObject(cj, "cell", (double)c);
		cJSON *pj = cJSON_AddObjectToObject(cj, "params");
		for (size_t a = 0; a < m->o.naxes; a++)
			cJSON_AddStringToObject(pj, m->o.axes[a].path, axis_value(m, c, a));
		int cf = 0;
		for (size_t k = 0; k < m->nseeds; k++)
			cf += run_exit(m->runs[c * m->nseeds + k]) != 0;
		cJSON_AddNumberToObject(cj, "runs", (double)m->nseeds);
		cJSON_AddNumberToObject(cj, "failed", cf);
		cJSON *fj = cJSON_AddObjectToObject(cj, "figures");
		for (int i = 0; i < SWEEP_NFIGS; i++) {
			double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
			size_t n = 0;
			for (size_t k = 0; k < m->nseeds; k++) {
				const cJSON *figs = cJSON_GetObjectItemCaseSensitive(m->runs[c * m->nseeds + k], "figures");
				double v = jnum(figs, sweep_fig_names[i], NAN);
				if (!isfinite(v))
					continue;
				n++;
				sum += v;
				mn = v < mn ? v : mn;
				mx = v > mx ? v : mx;
			}
			if (!n)
				continue;
			double mean = sum / (double)n;
			for (size_t k = 0; k < m->nseeds; k++) {
				const cJSON *figs = cJSON_GetObjectItemCaseSensitive(m->runs[c * m->nseeds + k], "figures");
				double v = jnum(figs, sweep_fig_names[i], NAN);
				if (isfinite(v))
					sq += (v - mean) * (v - mean);
			}
			cJSON *g = cJSON_AddObjectToObject(fj, sweep_fig_names[i]);
			cJSON_AddNumberToObject(g, "n", (double)n);
			cJSON_AddNumberToObject(g, "mean", mean);
			cJSON_AddNumberToObject(g, "sd", n > 1 ? sqrt(sq / (double)(n - 1)) : 0);
			cJSON_AddNumberToObject(g, "min", mn);
			cJSON_AddNumberToObject(g, "max", mx);
		}
		cJSON_AddItemToArray(cells, cj);
	}
	cJSON *fl = cJSON_AddArrayToObject(s, "failing");
	for (size_t r = 0; r < m->total; r++) {
		const cJSON *e = m->runs[r];
		if (!run_exit(e))
			continue;
		size_t cell = r / m->nseeds;
		uint64_t seed = m->o.seed_a + r % m->nseeds;
		char cmd[2048];
		replay_cmd(m, cell, seed, cmd, sizeof cmd);
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "run", (double)r);
		cJSON_AddNumberToObject(x, "cell", (double)cell);
		cJSON_AddNumberToObject(x, "seed", (double)seed);
		cJSON_AddNumberToObject(x, "exit", run_exit(e));
		cJSON_AddStringToObject(x, "failure", jstr(e, "failure") ? jstr(e, "failure") : "");
		cJSON_AddStringToObject(x, "replay", cmd);
		cJSON_AddItemToArray(fl, x);
	}
	snprintf(path, sizeof path, "%s/summary.json", out);
	int rc = sweep_write_json(path, s);
	cJSON_Delete(s);
	return rc;
}

static void parent_dir(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s", dir);
	size_t l = strlen(buf);
	while (l > 1 && buf[l - 1] == '/')
		buf[--l] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		snprintf(buf, len, ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

int sweep_merge(const char *const *dirs, size_t ndirs, const char *out, int quiet)
{
	char **files = NULL;
	size_t nfiles = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < ndirs && !rc; i++)
		rc = find_files(dirs[i], &files, &nfiles, &cap);
	cJSON **docs = rc ? NULL : calloc(nfiles, sizeof *docs);
	char *spec0 = NULL, err[1024];
	merge m;
	memset(&m, 0, sizeof m);
	int count = 0;
	size_t *shard_of = NULL; /* shard index -> file index + 1 */
	if (!rc && !docs) {
		fprintf(stderr, "sim sweep-merge: out of memory\n");
		rc = 2;
	}
	for (size_t i = 0; i < nfiles && !rc; i++) {
		docs[i] = sweep_read_json(files[i], err, sizeof err);
		if (!docs[i]) {
			fprintf(stderr, "sim sweep-merge: %s\n", err);
			rc = 2;
			break;
		}
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(docs[i], "sweep");
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(docs[i], "shard");
		const char *fmt = jstr(docs[i], "format");
		if (!fmt || strcmp(fmt, SWEEP_FORMAT) || !cJSON_IsObject(spec) || !cJSON_IsObject(sh) ||
		    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(docs[i], "runs"))) {
			fprintf(stderr, "sim sweep-merge: %s: not a sweep result file (format %s expected)\n",
				files[i], SWEEP_FORMAT);
			rc = 2;
			break;
		}
		char *text = cJSON_PrintUnformatted(spec);
		double idx = jnum(sh, "index", -1), cnt = jnum(sh, "count", 0);
		if (i == 0) {
			spec0 = text;
			if (spec_read(spec, &m, err, sizeof err)) {
				fprintf(stderr, "sim sweep-merge: %s: %s\n", files[i], err);
				rc = 2;
				break;
			}
			if (!(cnt >= 1 && cnt <= 100000)) {
				fprintf(stderr, "sim sweep-merge: %s: bad shard count\n", files[i]);
				rc = 2;
				break;
			}
			count = (int)cnt;
			shard_of = calloc((size_t)count, sizeof *shard_of);
			m.runs = calloc(m.total, sizeof *m.runs);
			if (!shard_of || !m.runs) {
				fprintf(stderr, "sim sweep-merge: out of memory\n");
				rc = 2;
				break;
			}
		} else {
			int same = text && spec0 && !strcmp(text, spec0);
			free(text);
			if (!same) {
				fprintf(stderr, "sim sweep-merge: %s is not the same sweep as %s (scenario, seeds, "
					"options or parameters differ)\n", files[i], files[0]);
				rc = 2;
				break;
			}
			if ((int)cnt != count) {
				fprintf(stderr, "sim sweep-merge: %s is one of %d shards, %s one of %d\n", files[i],
					(int)cnt, files[0], count);
				rc = 2;
				break;
			}
		}
		if (!(idx >= 0 && idx < count)) {
			fprintf(stderr, "sim sweep-merge: %s: shard index %g is not below %d\n", files[i], idx, count);
			rc = 2;
			break;
		}
		size_t si = (size_t)idx;
		if (shard_of[si]) {
			fprintf(stderr, "sim sweep-merge: shard %zu/%d is given twice: %s and %s\n", si, count,
				files[shard_of[si] - 1], files[i]);
			rc = 2;
			break;
		}
		shard_of[si] = i + 1;
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(docs[i], "runs")) {
			double r = jnum(e, "run", -1);
			if (!(r >= 0 && r < (double)m.total) || (size_t)r % (size_t)count != si || m.runs[(size_t)r]) {
				fprintf(stderr, "sim sweep-merge: %s: run %g does not belong to shard %zu/%d or is there "
					"twice\n", files[i], r, si, count);
				rc = 2;
				break;
			}
			m.runs[(size_t)r] = (cJSON *)e;
		}
	}
	for (int s = 0; !rc && s < count; s++)
		if (!shard_of[s]) {
			fprintf(stderr, "sim sweep-merge: shard %d/%d is missing: give its directory too (%zu of %d "
				"shards found)\n", s, count, nfiles, count);
			rc = 2;
		}
	for (size_t r = 0; !rc && r < m.total; r++)
		if (!m.runs[r]) {
			fprintf(stderr, "sim sweep-merge: run %zu (seed %" PRIu64 ") is in no result file: a shard "
				"did not finish\n", r, m.o.seed_a + r % m.nseeds);
			rc = 2;
		}
	char outdir[4200];
	if (!rc) {
		if (out)
			snprintf(outdir, sizeof outdir, "%s", out);
		else {
			char p[4096];
			parent_dir(dirs[0], p, sizeof p);
			snprintf(outdir, sizeof outdir, "%s/merged", p);
		}
		int mk = sweep_mkdirs(outdir);
		int failed = 0;
		int w = mk ? mk : write_outputs(&m, outdir, &failed);
		if (w) {
			fprintf(stderr, "sim sweep-merge: cannot write into %s: %s\n", outdir, strerror(-w));
			rc = 2;
		} else {
			int rep = 0;
			if (m.o.naxes) {
				char rerr[512] = "";
				rep = sweep_report_write(outdir, rerr, sizeof rerr);
				if (rep || rerr[0])
					fprintf(stderr, "sim sweep: report: %s\n", rerr);
			}
			if (!quiet && failed) {
				char path[4300];
				snprintf(path, sizeof path, "%s/failing.txt", outdir);
				FILE *f = fopen(path, "r");
				char line[4096];
				while (f && fgets(line, sizeof line, f))
					fputs(line, stdout);
				if (f)
					fclose(f);
			}
			if (m.o.naxes)
				printf("sweep %s: %zu cells x %zu seeds = %zu runs, %d failed; outputs: %s/ (summary.json, "
				       "junit.xml, failing.txt, sweep.csv%s)\n", m.o.file, m.cells, m.nseeds, m.total, failed,
				       outdir, rep ? "" : ", sweep.html");
			else
				printf("sweep %s: %zu seeds, %d failed; outputs: %s/ (summary.json, junit.xml, failing.txt, "
				       "sweep.csv)\n", m.o.file, m.total, failed, outdir);
			rc = failed ? 1 : 0;
		}
	}
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i]);
		if (docs)
			cJSON_Delete(docs[i]);
	}
	free(files);
	free(docs);
	free(spec0);
	free(shard_of);
	free(m.runs);
	return rc;
}
