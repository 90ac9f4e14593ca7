/* violations.c — see violations.h. */
#include "violations.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int violations_init(violations *v, recorder *rec)
{
	memset(v, 0, sizeof *v);
	v->rec = rec;
	v->list = cJSON_CreateArray();
	return v->list ? 0 : -1;
}

void violations_free(violations *v)
{
	cJSON_Delete(v->list);
	v->list = NULL;
}

void violations_add(violations *v, uint64_t now_ns, const char *what, const char *node, const char *key,
		    const char *fmt, ...)
{
	char k[64];
	snprintf(k, sizeof k, "%s|%s|%s", what, node, key);
	for (int i = 0; i < v->nseen; i++)
		if (!strcmp(v->seen[i], k))
			return;
	if (v->nseen < VIOLATIONS_MAX_KEYS)
		snprintf(v->seen[v->nseen++], sizeof v->seen[0], "%s", k);
	char detail[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	v->count++;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "t", (double)now_ns / 1e9);
	cJSON_AddStringToObject(j, "invariant", what);
	cJSON_AddStringToObject(j, "node", node);
	cJSON_AddStringToObject(j, "detail", detail);
	if (cJSON_GetArraySize(v->list) < 1000)
		cJSON_AddItemToArray(v->list, cJSON_Duplicate(j, 1));
	recorder_event(v->rec, now_ns, "violation", j);
	recorder_instant(v->rec, node, what, now_ns, NULL);
}
