/*
 * recorder.h — what a run leaves behind in its output directory (docs/outputs.md):
 * events.jsonl (one event per line, virtual time first), metrics.csv (time series),
 * trace.json (Chrome trace format: one pid per node, spans and instant events; opens in
 * Perfetto). summary.json and junit.xml are written by the engine from its verdicts.
 *
 * Ownership: the recorder owns its files; strings passed in are copied.
 */
#ifndef FL_RECORDER_H
#define FL_RECORDER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

typedef struct recorder recorder;

/* Create DIR if needed and open the files. NULL dir = record nothing (every call is a no-op). */
int recorder_new(const char *dir, const char *const *metric_columns, size_t ncolumns, recorder **out);
/* Flush and close everything (writes trace.json). */
void recorder_free(recorder *r);

/* One line of events.jsonl: {"t": seconds, "kind": kind, ...fields}. Takes `fields` (may be NULL). */
void recorder_event(recorder *r, uint64_t t_ns, const char *kind, cJSON *fields);
/* A hash over every event line written (stable across runs with the same seed). */
uint64_t recorder_events_hash(const recorder *r);
uint64_t recorder_events_count(const recorder *r);
/* The i-th events line kept in memory for determinism diffs (NULL past the end). */
const char *recorder_event_line(const recorder *r, uint64_t i);

/* One row of metrics.csv: values in the order of the columns given at creation. */
void recorder_metrics_row(recorder *r, uint64_t t_ns, const double *values);

/* One row of servers.csv: t, server, requests, bytes_in, bytes_out, iteration, clock_offset_ms. */
void recorder_server_row(recorder *r, uint64_t t_ns, const char *server, uint64_t requests,
			 uint64_t bytes_in, uint64_t bytes_out, int64_t iteration, int64_t clock_offset_ms);

/* Chrome trace: a complete span ("X") or an instant ("i") on the track of `node`. */
void recorder_span(recorder *r, const char *node, const char *name, uint64_t start_ns, uint64_t end_ns,
		   cJSON *args);
void recorder_instant(recorder *r, const char *node, const char *name, uint64_t t_ns, cJSON *args);

/* Write a whole file into the output directory (summary.json, junit.xml, ...). */
int recorder_write_file(const recorder *r, const char *name, const char *text);
const char *recorder_dir(const recorder *r);

#endif
