/*
 * fuzz_config.c — config files: the server's config.json path (srv_config_apply_json, which
 * runs flags_apply_json over the server's flag table, then srv_config_validate) and
 * flags_apply_json over a table of every flag type. Any JSON is applied or refused with a
 * message; a config that validates has values inside the checked ranges.
 */
#include "../../node/server/srv.h"
#include "../../node/util/flags.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	if (!root)
		return 0;
	char err[512];

	/* the server's configuration, as fl-server applies it */
	srv_config cfg;
	flag_def defs[96];
	srv_config_init(&cfg);
	size_t n = srv_config_flags(&cfg, defs, 96);
	FZ_ASSERT(n > 0 && n < 96);
	static const char *const extra[] = {"scheduler_manage_port", "worker_num", NULL};
	err[0] = '\0';
	int rc = srv_config_apply_json(&cfg, defs, n, root, extra, err, sizeof err);
	if (rc) {
		FZ_ASSERT(rc < 0 && err[0]);
	} else {
		err[0] = '\0';
		rc = srv_config_validate(&cfg, err, sizeof err);
		if (rc)
			FZ_ASSERT(rc < 0 && err[0]);
		else
			FZ_ASSERT(srv_config_update_threshold(&cfg) >= 0);
	}

	/* every flag type, each with a default, from the same object */
	char s[FLAG_STR_MAX] = "dflt";
	int64_t i = 7, ms = 1000;
	double d = 0.5;
	int b = 0;
	flag_def all[] = {
		{"s", FLAG_STR, s, "a string", 0},
		{"i", FLAG_INT, &i, "an integer", 0},
		{"d", FLAG_DOUBLE, &d, "a double", 0},
		{"b", FLAG_BOOL, &b, "a bool", 0},
		{"ms", FLAG_MS, &ms, "a duration", 0},
	};
	static const char *const ign[] = {"recovery", NULL};
	err[0] = '\0';
	rc = flags_apply_json(all, 5, root, "fuzz", ign, err, sizeof err);
	if (rc)
		FZ_ASSERT(rc < 0 && err[0]);
	FZ_ASSERT(memchr(s, '\0', sizeof s) != NULL);
	/* a duration string from the input, alone */
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "dur");
	if (cJSON_IsString(v)) {
		int64_t out = 0;
		(void)flags_parse_ms(v->valuestring, &out);
	}
	cJSON_Delete(root);
	return 0;
}
