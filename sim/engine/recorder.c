/*
 * recorder.c — see recorder.h.
 */
#include "recorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TRACKS 256

struct recorder {
	char dir[512];
	FILE *events, *metrics, *servers;
	size_t ncols;
	uint64_t hash, nevents;
	char **lines; /* every event line, for determinism diffs */
	size_t lines_cap;
	cJSON *trace; /* traceEvents array */
	char tracks[MAX_TRACKS][64];
	int ntracks;
};

static int mkdir_p(const char *path)
{
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static FILE *open_in(const char *dir, const char *name)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return fopen(path, "w");
}

int recorder_new(const char *dir, const char *const *cols, size_t ncols, recorder **out)
{
	recorder *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->hash = 0xcbf29ce484222325ULL;
	r->ncols = ncols;
	r->trace = cJSON_CreateArray();
	if (dir) {
		snprintf(r->dir, sizeof r->dir, "%s", dir);
		if (mkdir_p(dir) || !(r->events = open_in(dir, "events.jsonl")) ||
		    !(r->metrics = open_in(dir, "metrics.csv")) || !(r->servers = open_in(dir, "servers.csv"))) {
			int e = errno ? -errno : -EIO;
			recorder_free(r);
			return e;
		}
		fprintf(r->metrics, "t");
		for (size_t i = 0; i < ncols; i++)
			fprintf(r->metrics, ",%s", cols[i]);
		fputc('\n', r->metrics);
		fprintf(r->servers, "t,server,requests,bytes_in,bytes_out,iteration,clock_offset_ms\n");
	}
	*out = r;
	return 0;
}

static int track(recorder *r, const char *node)
{
	for (int i = 0; i < r->ntracks; i++)
		if (!strcmp(r->tracks[i], node))
			return i + 1;
	if (r->ntracks == MAX_TRACKS)
		return MAX_TRACKS;
	snprintf(r->tracks[r->ntracks++], 64, "%s", node);
	return r->ntracks;
}

void recorder_event(recorder *r, uint64_t t_ns, const char *kind, cJSON *fields)
{
	/* virtual time first: build the line by hand, then append the fields' members */
	char head[96];
	snprintf(head, sizeof head, "{\"t\":%.6f,\"kind\":\"%s\"", (double)t_ns / 1e9, kind);
	char *rest = fields ? cJSON_PrintUnformatted(fields) : NULL;
	cJSON_Delete(fields);
	size_t len = strlen(head) + (rest ? strlen(rest) : 0) + 4;
	char *line = malloc(len);
	if (!line) {
		free(rest);
		return;
	}
	if (rest && strlen(rest) > 2)
		snprintf(line, len, "%s,%s", head, rest + 1); /* rest is "{...}": drop its '{' */
	else
		snprintf(line, len, "%s}", head);
	free(rest);
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		r->hash = (r->hash ^ *p) * 0x100000001b3ULL;
	r->hash = (r->hash ^ '\n') * 0x100000001b3ULL;
	if (r->events)
		fprintf(r->events, "%s\n", line);
	if (r->nevents == r->lines_cap) {
		size_t cap = r->lines_cap ? r->lines_cap * 2 : 1024;
		char **nl = realloc(r->lines, cap * sizeof *nl);
		if (!nl) {
			free(line);
			r->nevents++;
			return;
		}
		r->lines = nl;
		r->lines_cap = cap;
	}
	r->lines[r->nevents++] = line;
}

uint64_t recorder_events_hash(const recorder *r) { return r->hash; }
uint64_t recorder_events_count(const recorder *r) { return r->nevents; }
const char *recorder_event_line(const recorder *r, uint64_t i)
{
	return i < r->nevents && i < r->lines_cap ? r->lines[i] : NULL;
}

void recorder_metrics_row(recorder *r, uint64_t t_ns, const double *values)
{
	if (!r->metrics)
		return;
	fprintf(r->metrics, "%.3f", (double)t_ns / 1e9);
	for (size_t i = 0; i < r->ncols; i++)
		fprintf(r->metrics, ",%.6g", values[i]);
	fputc('\n', r->metrics);
}

void recorder_server_row(recorder *r, uint64_t t_ns, const char *server, uint64_t requests,
			 uint64_t bytes_in, uint64_t bytes_out, int64_t iteration, int64_t clock_offset_ms)
{
	if (!r->servers)
		return;
	fprintf(r->servers, "%.3f,%s,%llu,%llu,%llu,%lld,%lld\n", (double)t_ns / 1e9, server,
		(unsigned long long)requests, (unsigned long long)bytes_in, (unsigned long long)bytes_out,
		(long long)iteration, (long long)clock_offset_ms);
}

static void trace_add(recorder *r, const char *node, const char *name, const char *ph, uint64_t ts_ns,
		      uint64_t dur_ns, cJSON *args)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "ph", ph);
	cJSON_AddNumberToObject(e, "ts", (double)ts_ns / 1e3); /* microseconds */
	if (!strcmp(ph, "X"))
		cJSON_AddNumberToObject(e, "dur", (double)dur_ns / 1e3);
	else
		cJSON_AddStringToObject(e, "s", "p");
	cJSON_AddNumberToObject(e, "pid", track(r, node));
	cJSON_AddNumberToObject(e, "tid", 1);
	if (args)
		cJSON_AddItemToObject(e, "args", args);
	cJSON_AddItemToArray(r->trace, e);
}

void recorder_span(recorder *r, const char *node, const char *name, uint64_t start_ns, uint64_t end_ns,
		   cJSON *args)
{
	trace_add(r, node, name, "X", start_ns, end_ns > start_ns ? end_ns - start_ns : 0, args);
}

void recorder_instant(recorder *r, const char *node, const char *name, uint64_t t_ns, cJSON *args)
{
	trace_add(r, node, name, "i", t_ns, 0, args);
}

const char *recorder_dir(const recorder *r) { return r->dir[0] ? r->dir : NULL; }

int recorder_write_file(const recorder *r, const char *name, const char *text)
{
	if (!r->dir[0])
		return 0;
	FILE *f = open_in(r->dir, name);
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -EIO : 0;
}

void recorder_free(recorder *r)
{
	if (!r)
		return;
	if (r->dir[0] && r->trace) {
		/* name the tracks, then write the whole trace */
		for (int i = 0; i < r->ntracks; i++) {
			cJSON *m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "name", "process_name");
			cJSON_AddStringToObject(m, "ph", "M");
			cJSON_AddNumberToObject(m, "pid", i + 1);
			cJSON *a = cJSON_AddObjectToObject(m, "args");
			cJSON_AddStringToObject(a, "name", r->tracks[i]);
			cJSON_AddItemToArray(r->trace, m);
		}
		cJSON *root = cJSON_CreateObject();
		cJSON_AddItemToObject(root, "traceEvents", r->trace);
		r->trace = NULL;
		cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
		char *s = cJSON_PrintUnformatted(root);
		if (s) {
			recorder_write_file(r, "trace.json", s);
			free(s);
		}
		cJSON_Delete(root);
	}
	cJSON_Delete(r->trace);
	if (r->events)
		fclose(r->events);
	if (r->metrics)
		fclose(r->metrics);
	if (r->servers)
		fclose(r->servers);
	for (uint64_t i = 0; i < r->nevents && i < r->lines_cap; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r);
}
