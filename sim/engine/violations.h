/*
 * violations.h — the record of invariant violations, shared by the sim-mode checker
 * (invariants.c) and the live one (live_inv.c): each violation once per (invariant, node, key),
 * counted, kept for summary.json (the first 1,000) and written to events.jsonl and trace.json.
 */
#ifndef FL_VIOLATIONS_H
#define FL_VIOLATIONS_H

#include "recorder.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define VIOLATIONS_MAX_KEYS 512

typedef struct violations {
	recorder *rec; /* borrowed */
	cJSON *list;   /* owned */
	int count;
	char seen[VIOLATIONS_MAX_KEYS][64];
	int nseen;
} violations;

int violations_init(violations *v, recorder *rec); /* -1 on ENOMEM */
void violations_free(violations *v);
/* Record one, unless (what, node, key) was recorded already. */
void violations_add(violations *v, uint64_t now_ns, const char *what, const char *node, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
