/*
 * scenario_int.h — private to the scenario parser (sim/scenario/): the parse context and the
 * typed readers of scenario_read.c, the event and expectation parsers of scenario_event.c. The
 * direction is one way: scenario.c calls both; scenario_event.c calls the readers; the readers
 * call nothing of the others.
 *
 * Every reader takes the JSON path of what it reads (for "$.events[2].at"-style errors), keeps
 * the caller's default when the key is absent (unless required), and on the first error writes
 * "file: path: what" into p->err and returns -1; callers unwind.
 */
#ifndef FL_SCENARIO_INT_H
#define FL_SCENARIO_INT_H

#include "scenario.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pctx {
	const char *file;
	char *err;
	size_t errlen;
} pctx;

/* ---- scenario_read.c ---- */
int sc_fail(pctx *p, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A short rendering of a JSON value for "got ..." (into buf, or a constant). */
const char *sc_got(const cJSON *v, char *buf, size_t len);
void sc_subpath(char *dst, size_t len, const char *path, const char *key); /* path.key */
/* obj must be an object whose keys are all in allowed (NULL-terminated). */
int sc_check_keys(pctx *p, const cJSON *obj, const char *path, const char *const *allowed);
int sc_rd_str(pctx *p, const cJSON *obj, const char *path, const char *key, char *dst,
	      size_t len, int required);
int sc_rd_num(pctx *p, const cJSON *obj, const char *path, const char *key, double *dst,
	      double lo, double hi, int required);
int sc_rd_int(pctx *p, const cJSON *obj, const char *path, const char *key, long *dst,
	      long lo, long hi, int required);
int sc_rd_dur(pctx *p, const cJSON *obj, const char *path, const char *key, uint64_t *dst,
	      int required);
/* A number or a {"dist": ...} object, its parameters within [lo, hi]. */
int sc_rd_dist(pctx *p, const cJSON *obj, const char *path, const char *key, sc_dist *d,
	       double lo, double hi);
/* Link fields shared by the network block and link events (extra keys checked by the caller). */
int sc_rd_link_fields(pctx *p, const cJSON *v, const char *where, sc_link *l);
void sc_link_defaults(sc_link *l, uint64_t latency_ns);
/* A node name ("scheduler", "server/<id>", "fleet" when allow_fleet). */
int sc_rd_node(pctx *p, const cJSON *v, const char *path, const char *key, char *dst, size_t len,
	       int allow_fleet);
/* A node name or a wildcard ("server/" + "*", "*"). */
int sc_rd_pattern(pctx *p, const cJSON *v, const char *path, const char *key, char *dst,
		  size_t len);
/* An array of at most max short strings into ids (node names when names). */
int sc_rd_id_list(pctx *p, const cJSON *arr, const char *where, char ids[][32], size_t max,
		  size_t *n, int names);

/* ---- scenario_event.c ---- */
int sc_parse_event(pctx *p, const cJSON *v, const char *path, sc_event *e);
int sc_parse_expect(pctx *p, const cJSON *v, const char *path, sc_expect *x);

#endif
