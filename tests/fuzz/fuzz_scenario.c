/*
 * fuzz_scenario.c — scenario files (sim/scenario/: scenario_parse and its readers). Any text
 * parses or fails with a message naming what and where; a parsed scenario printed back
 * (scenario_to_json, defaults filled in) parses again to the same printed form.
 */
#include "../../sim/scenario/scenario.h"
#include "fuzz_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print(const scenario *sc)
{
	cJSON *j = scenario_to_json(sc);
	FZ_ASSERT(j != NULL);
	char *t = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	FZ_ASSERT(t != NULL);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	scenario *sc = NULL;
	err[0] = '\0';
	int rc = scenario_parse((const char *)data, size, "fuzz.json", &sc, err, sizeof err);
	if (rc) {
		FZ_ASSERT(rc < 0 && sc == NULL);
		FZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof err)); /* says why */
		return 0;
	}
	FZ_ASSERT(sc != NULL);
	char *t1 = print(sc);
	scenario *sc2 = NULL;
	rc = scenario_parse(t1, strlen(t1), "printed.json", &sc2, err, sizeof err);
	if (rc) {
		fprintf(stderr, "printed scenario does not parse: %s\n%s\n", err, t1);
		FZ_ASSERT(0);
	}
	char *t2 = print(sc2);
	if (strcmp(t1, t2)) {
		fprintf(stderr, "printing is not stable:\n%s\n%s\n", t1, t2);
		FZ_ASSERT(0);
	}
	free(t1);
	free(t2);
	scenario_free(sc2);
	scenario_free(sc);
	return 0;
}
