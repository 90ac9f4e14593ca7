/*
 * secagg_config.c — MindSpore's encrypt keys: defaults, the cJSON reader, the checks, and the
 * PW_ENCRYPT round thresholds. No state beyond the caller's struct.
 */
#include "secagg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {"NOT_ENCRYPT", "PW_ENCRYPT", "DP_ENCRYPT"};

void secagg_config_defaults(secagg_config *c)
{
	/* MindSpore's defaults (set_fl_context / the server yaml) */
	c->encrypt_type = SECAGG_NOT_ENCRYPT;
	c->share_secrets_ratio = 1.0;
	c->cipher_time_window = 300000;
	c->reconstruct_secrets_threshold = 2000;
	c->dp_eps = 50.0;
	c->dp_delta = 0.01;
	c->dp_norm_clip = 1.0;
}

const char *secagg_encrypt_type_name(secagg_encrypt_type t)
{
	return (unsigned)t < 3 ? type_names[t] : "unknown";
}

int secagg_encrypt_type_parse(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, type_names[i]))
			return i;
	return -1;
}

#define BAD(...)                                       \
	do {                                           \
		snprintf(err, errlen, __VA_ARGS__);    \
		return SECAGG_ECONFIG;                 \
	} while (0)

/* One key of the object (absent: nothing). where: "config" or "config.encrypt.pw_encrypt". */
static int rd_num(const cJSON *o, const char *key, const char *where, double *out, char *err,
		  size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		BAD("%s.%s: expected a number", where, key);
	*out = v->valuedouble;
	return 0;
}

static int rd_int(const cJSON *o, const char *key, const char *where, int64_t *out, char *err,
		  size_t errlen)
{
	double d = (double)*out;
	int rc = rd_num(o, key, where, &d, err, errlen);
	if (rc)
		return rc;
	if (d != floor(d) || fabs(d) > 9e15)
		BAD("%s.%s: expected an integer, got %g", where, key, d);
	*out = (int64_t)d;
	return 0;
}

static int rd_type(const cJSON *o, const char *where, secagg_config *c, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "encrypt_type");
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		BAD("%s.encrypt_type: expected a string", where);
	int t = secagg_encrypt_type_parse(v->valuestring);
	if (t < 0)
		BAD("%s.encrypt_type: '%s' is not supported (NOT_ENCRYPT, PW_ENCRYPT or DP_ENCRYPT)",
		    where, v->valuestring);
	c->encrypt_type = (secagg_encrypt_type)t;
	return 0;
}

static int rd_pw(const cJSON *o, const char *where, secagg_config *c, char *err, size_t errlen)
{
	int rc;
	if ((rc = rd_num(o, "share_secrets_ratio", where, &c->share_secrets_ratio, err, errlen)) ||
	    (rc = rd_int(o, "cipher_time_window", where, &c->cipher_time_window, err, errlen)) ||
	    (rc = rd_int(o, "reconstruct_secrets_threshold", where,
			 &c->reconstruct_secrets_threshold, err, errlen)))
		return rc;
	return 0;
}

static int rd_dp(const cJSON *o, const char *where, secagg_config *c, char *err, size_t errlen)
{
	int rc;
	if ((rc = rd_num(o, "dp_eps", where, &c->dp_eps, err, errlen)) ||
	    (rc = rd_num(o, "dp_delta", where, &c->dp_delta, err, errlen)) ||
	    (rc = rd_num(o, "dp_norm_clip", where, &c->dp_norm_clip, err, errlen)))
		return rc;
	return 0;
}

static int only_keys(const cJSON *o, const char *where, const char *const *keys, char *err,
		     size_t errlen)
{
	if (!cJSON_IsObject(o))
		BAD("%s: expected an object", where);
	for (const cJSON *k = o->child; k; k = k->next) {
		int ok = 0;
		for (size_t i = 0; keys[i] && !ok; i++)
			ok = !strcmp(keys[i], k->string);
		if (!ok)
			BAD("%s: unknown key '%s'", where, k->string);
	}
	return 0;
}

int secagg_config_from_json(secagg_config *c, const cJSON *root, char *err, size_t errlen)
{
	static const char *const enc_keys[] = {"encrypt_type", "pw_encrypt", "dp_encrypt", "signds",
					       NULL};
	static const char *const pw_keys[] = {"share_secrets_ratio", "cipher_time_window",
					      "reconstruct_secrets_threshold", NULL};
	static const char *const dp_keys[] = {"dp_eps", "dp_delta", "dp_norm_clip", NULL};
	int rc;

	if (!c || !cJSON_IsObject(root))
		BAD("config: the top level must be a JSON object");
	if ((rc = rd_type(root, "config", c, err, errlen)) || (rc = rd_pw(root, "config", c, err, errlen)) ||
	    (rc = rd_dp(root, "config", c, err, errlen)))
		return rc;
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(root, "encrypt");
	if (enc) {
		if ((rc = only_keys(enc, "config.encrypt", enc_keys, err, errlen)) ||
		    (rc = rd_type(enc, "config.encrypt", c, err, errlen)))
			return rc;
		const cJSON *pw = cJSON_GetObjectItemCaseSensitive(enc, "pw_encrypt");
		const cJSON *dp = cJSON_GetObjectItemCaseSensitive(enc, "dp_encrypt");
		if (pw && ((rc = only_keys(pw, "config.encrypt.pw_encrypt", pw_keys, err, errlen)) ||
			   (rc = rd_pw(pw, "config.encrypt.pw_encrypt", c, err, errlen))))
			return rc;
		if (dp && ((rc = only_keys(dp, "config.encrypt.dp_encrypt", dp_keys, err, errlen)) ||
			   (rc = rd_dp(dp, "config.encrypt.dp_encrypt", c, err, errlen))))
			return rc;
	}
	return secagg_config_validate(c, err, errlen);
}

int secagg_config_validate(const secagg_config *c, char *err, size_t errlen)
{
	if (!c)
		BAD("no config");
	if ((unsigned)c->encrypt_type > SECAGG_DP_ENCRYPT)
		BAD("encrypt_type %d is not supported", (int)c->encrypt_type);
	/* MindSpore's own ranges: (0, 1], [1, UINT32_MAX], [1, UINT32_MAX], > 0, (0, 1), > 0 */
	if (!(c->share_secrets_ratio > 0 && c->share_secrets_ratio <= 1))
		BAD("share_secrets_ratio must be in (0, 1], got %g", c->share_secrets_ratio);
	if (c->cipher_time_window < 1 || c->cipher_time_window > (int64_t)UINT32_MAX)
		BAD("cipher_time_window must be in 1..%u ms, got %lld", UINT32_MAX,
		    (long long)c->cipher_time_window);
	if (c->reconstruct_secrets_threshold < 1 ||
	    c->reconstruct_secrets_threshold > (int64_t)UINT32_MAX)
		BAD("reconstruct_secrets_threshold must be in 1..%u, got %lld", UINT32_MAX,
		    (long long)c->reconstruct_secrets_threshold);
	if (!(c->dp_eps > 0) || !isfinite(c->dp_eps))
		BAD("dp_eps must be > 0, got %g", c->dp_eps);
	if (!(c->dp_delta > 0 && c->dp_delta < 1))
		BAD("dp_delta must be in (0, 1), got %g", c->dp_delta);
	if (!(c->dp_norm_clip > 0) || !isfinite(c->dp_norm_clip))
		BAD("dp_norm_clip must be > 0, got %g", c->dp_norm_clip);
	return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t ceil_mul(uint64_t n, double r) { return (uint64_t)ceil((double)n * r - 1e-9); }

int secagg_thresholds_compute(const secagg_config *c, uint64_t start_fl_job_threshold,
			      uint64_t update_model_threshold, secagg_thresholds *o, char *err,
			      size_t errlen)
{
	int rc = secagg_config_validate(c, err, errlen);
	if (rc)
		return rc;
	if (!o || start_fl_job_threshold < 1 || update_model_threshold < 1)
		BAD("thresholds need start_fl_job_threshold and the updateModel threshold >= 1");
	double r = c->share_secrets_ratio;
	uint64_t t = (uint64_t)c->reconstruct_secrets_threshold;
	/* each key round may lose a (1 - ratio) share of the last one, never below what updateModel
	 * needs; the client list and reconstruction need t + 1 devices (MindSpore's derivation) */
	o->shares_needed = t;
	o->reconstruct_secrets = t + 1;
	o->exchange_keys = max_u64(ceil_mul(start_fl_job_threshold, r), update_model_threshold);
	o->get_keys = max_u64(ceil_mul(o->exchange_keys, r), update_model_threshold);
	o->share_secrets = max_u64(ceil_mul(o->get_keys, r), update_model_threshold);
	o->get_secrets = max_u64(ceil_mul(o->share_secrets, r), update_model_threshold);
	o->get_client_list = max_u64(ceil_mul(update_model_threshold, r), t + 1);
	if (t + 1 > start_fl_job_threshold)
		BAD("reconstruct_secrets_threshold %llu needs %llu devices to reconstruct, more than "
		    "start_fl_job_threshold %llu: PW_ENCRYPT iterations could never finish",
		    (unsigned long long)t, (unsigned long long)(t + 1),
		    (unsigned long long)start_fl_job_threshold);
	return 0;
}
