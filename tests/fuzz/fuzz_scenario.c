/*
 * fuzz_scenario.c — scenario files (sim/scenario/: scenario_parse and its readers). Any text
 * parses or fails with a message naming what and where; a parsed scenario prints back
 * (scenario_to_json, defaults filled in).
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
	/* printing back (summary.json's form: events and expectations as counts, so not a
	 * scenario file again) */
	free(print(sc));
	scenario_free(sc);
	return 0;
}
