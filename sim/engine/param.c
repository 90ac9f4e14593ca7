/* param.c — see param.h. */
#include "param.h"

#include "../../node/server/srv.h"
#include "../../node/util/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int split(const char *arg, const char **eq)
{
	*eq = strchr(arg, '=');
	return *eq && *eq > arg && (size_t)(*eq - arg) < PARAM_PATH_MAX;
}

int param_axis_parse(const char *arg, param_axis *ax, char *err, size_t errlen)
{
	const char *eq;
	memset(ax, 0, sizeof *ax);
	if (!split(arg, &eq)) {
		snprintf(err, errlen, "--param '%s': expected key.path=value[,value...], e.g. "
			 "cluster.server_num=2,4,8", arg);
		return PARAM_EINVAL;
	}
	snprintf(ax->path, sizeof ax->path, "%.*s", (int)(eq - arg), arg);
	const char *v = eq + 1;
	for (;;) {
		size_t l = strcspn(v, ",");
		if (l == 0) {
			snprintf(err, errlen, "--param %s: an empty value in '%s'", ax->path, eq + 1);
			return PARAM_EINVAL;
		}
		if (l >= PARAM_VALUE_MAX) {
			snprintf(err, errlen, "--param %s: a value longer than %d characters", ax->path,
				 PARAM_VALUE_MAX - 1);
			return PARAM_EINVAL;
		}
		if (ax->n == PARAM_MAX_VALUES) {
			snprintf(err, errlen, "--param %s: at most %d values", ax->path, PARAM_MAX_VALUES);
			return PARAM_EINVAL;
		}
		snprintf(ax->values[ax->n], PARAM_VALUE_MAX, "%.*s", (int)l, v);
		for (size_t i = 0; i < ax->n; i++)
			if (!strcmp(ax->values[i], ax->values[ax->n])) {
				snprintf(err, errlen, "--param %s: value '%s' given twice", ax->path, ax->values[i]);
				return PARAM_EINVAL;
			}
		ax->n++;
		if (!v[l])
			break;
		v += l + 1;
	}
	return 0;
}

int param_set_parse(const char *arg, param_axis *ax, char *err, size_t errlen)
{
	const char *eq;
	memset(ax, 0, sizeof *ax);
	if (!split(arg, &eq) || !eq[1] || strlen(eq + 1) >= PARAM_VALUE_MAX) {
		snprintf(err, errlen, "--param '%s': expected key.path=value (one value, under %d "
			 "characters), e.g. cluster.server_num=4", arg, PARAM_VALUE_MAX);
		return PARAM_EINVAL;
	}
	snprintf(ax->path, sizeof ax->path, "%.*s", (int)(eq - arg), arg);
	snprintf(ax->values[0], PARAM_VALUE_MAX, "%s", eq + 1);
	ax->n = 1;
	return 0;
}

char *param_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t n = 0, cap = 0, got;
	do {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = cap <= max + 1 ? realloc(buf, cap) : NULL;
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: larger than %zu bytes or out of memory", path, max);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The keys of obj, comma-separated, for "what is there" in an error. */
static void list_keys(const cJSON *obj, char *buf, size_t len)
{
	buf[0] = '\0';
	size_t l = 0;
	for (const cJSON *k = obj ? obj->child : NULL; k && l + 1 < len; k = k->next) {
		snprintf(buf + l, len - l, "%s%s", l ? ", " : "", k->string ? k->string : "?");
		l = strlen(buf);
	}
	if (!buf[0])
		snprintf(buf, len, "nothing");
}

/* One step of a path: a key, or an index (idx >= 0). Advances *p. 0, or -1 on bad syntax. */
static int next_step(const char **p, char *key, size_t klen, long *idx)
{
	const char *s = *p;
	*idx = -1;
	key[0] = '\0';
	if (*s == '[') {
		char *end;
		errno = 0;
		long v = strtol(s + 1, &end, 10);
		if (errno || end == s + 1 || *end != ']' || v < 0)
			return -1;
		*idx = v;
		s = end + 1;
	} else {
		size_t l = strcspn(s, ".[");
		if (l == 0 || l >= klen)
			return -1;
		snprintf(key, klen, "%.*s", (int)l, s);
		s += l;
	}
	if (*s == '.')
		s++;
	else if (*s && *s != '[')
		return -1;
	*p = s;
	return 0;
}

static int is_server_config_key(const char *key)
{
	if (!strcmp(key, "recovery") || !strcmp(key, "metrics"))
		return 1;
	srv_config c;
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	srv_config_init(&c);
	size_t n = srv_config_flags(&c, defs, SRV_CONFIG_MAX_FLAGS);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(defs[i].name, key))
			return 1;
	return 0;
}

static cJSON *value_json(const char *v, const cJSON *old)
{
	if (old && cJSON_IsString(old))
		return cJSON_CreateString(v);
	cJSON *j = cJSON_Parse(v);
	if (j && (cJSON_IsObject(j) || cJSON_IsArray(j)) && old && !cJSON_IsObject(old) && !cJSON_IsArray(old)) {
		cJSON_Delete(j); /* a scalar key stays scalar: "{...}" there is meant as text */
		j = NULL;
	}
	return j ? j : cJSON_CreateString(v);
}

/*
 * Set path = value in root (the file's JSON). `resolved` is the same scenario with every default
 * filled in (scenario_to_json): a key missing from the file but there is one the format knows.
 */
static int apply_one(cJSON *root, const cJSON *resolved, const char *file, const char *path,
		     const char *value, char *err, size_t errlen)
{
	cJSON *at = root;
	const cJSON *ra = resolved;
	const char *p = path;
	char done[PARAM_PATH_MAX + 8] = "$", key[PARAM_PATH_MAX], keys[400];
	int in_config = 0; /* at $.cluster.config: the server's keys */
	while (*p) {
		long idx;
		if (next_step(&p, key, sizeof key, &idx)) {
			snprintf(err, errlen, "--param %s: bad path (expected keys in dots, [N] for an array "
				 "element, e.g. cluster.config.start_fl_job_threshold)", path);
			return SC_EINVAL;
		}
		int last = !*p;
		cJSON *child;
		if (idx >= 0) {
			if (!cJSON_IsArray(at)) {
				snprintf(err, errlen, "--param %s: %s: %s is not an array", path, file, done);
				return SC_EINVAL;
			}
			child = cJSON_GetArrayItem(at, (int)idx);
			if (!child) {
				snprintf(err, errlen, "--param %s: %s: %s has %d elements, no [%ld]", path, file,
					 done, cJSON_GetArraySize(at), idx);
				return SC_EINVAL;
			}
			ra = NULL; /* the resolved form keeps counts, not the arrays */
			size_t l = strlen(done);
			snprintf(done + l, sizeof done - l, "[%ld]", idx);
		} else {
			if (!cJSON_IsObject(at)) {
				snprintf(err, errlen, "--param %s: %s: %s is not an object", path, file, done);
				return SC_EINVAL;
			}
			child = cJSON_GetObjectItemCaseSensitive(at, key);
			const cJSON *rc = ra && cJSON_IsObject(ra) ? cJSON_GetObjectItemCaseSensitive(ra, key) : NULL;
			int known = rc != NULL || (in_config && is_server_config_key(key));
			if (!child && !known) {
				if (in_config)
					snprintf(err, errlen, "--param %s: %s: %s has no key \"%s\" and it is not a "
						 "server config key (fl-server --help lists them)", path, file, done, key);
				else {
					list_keys(ra ? ra : at, keys, sizeof keys);
					snprintf(err, errlen, "--param %s: %s: %s has no key \"%s\" (known: %s)", path,
						 file, done, key, keys);
				}
				return SC_EINVAL;
			}
			if (!child && !last) {
				child = cJSON_AddObjectToObject(at, key);
				if (!child)
					goto oom;
			}
			in_config = !strcmp(done, "$.cluster") && !strcmp(key, "config");
			ra = rc;
			size_t l = strlen(done);
			snprintf(done + l, sizeof done - l, ".%s", key);
		}
		if (last) {
			cJSON *nv = value_json(value, child);
			if (!nv)
				goto oom;
			if (idx >= 0)
				cJSON_ReplaceItemInArray(at, (int)idx, nv);
			else if (child)
				cJSON_ReplaceItemInObjectCaseSensitive(at, key, nv);
			else
				cJSON_AddItemToObject(at, key, nv);
			return 0;
		}
		at = child;
	}
	snprintf(err, errlen, "--param %s: empty path", path);
	return SC_EINVAL;
oom:
	snprintf(err, errlen, "--param %s: out of memory", path);
	return SC_ENOMEM;
}

/* The server's own checks of cluster.config, the way the cluster will apply it. */
static int check_config(const scenario *sc, char *err, size_t errlen)
{
	srv_config c;
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	char why[400];
	srv_config_init(&c);
	size_t n = srv_config_flags(&c, defs, SRV_CONFIG_MAX_FLAGS);
	if (srv_config_apply_json(&c, defs, n, sc->config, NULL, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		return SC_EINVAL;
	}
	c.server_num = sc->server_num;
	if (srv_config_validate(&c, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		return SC_EINVAL;
	}
	return 0;
}

int param_load(const char *file, const char *const *paths, const char *const *values, size_t n,
	       scenario **out, char *err, size_t errlen)
{
	if (n == 0)
		return scenario_load(file, out, err, errlen);
	size_t len;
	char *text = param_read_file(file, 16u << 20, &len, err, errlen);
	if (!text)
		return SC_EIO;
	scenario *plain;
	int rc = scenario_parse(text, len, file, &plain, err, errlen);
	if (rc) {
		free(text);
		return rc;
	}
	cJSON *resolved = scenario_to_json(plain);
	scenario_free(plain);
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root || !resolved) {
		cJSON_Delete(root);
		cJSON_Delete(resolved);
		snprintf(err, errlen, "%s: out of memory", file);
		return SC_ENOMEM;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = apply_one(root, resolved, file, paths[i], values[i], err, errlen);
	cJSON_Delete(resolved);
	char *changed = rc ? NULL : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (rc)
		return rc;
	if (!changed) {
		snprintf(err, errlen, "%s: out of memory", file);
		return SC_ENOMEM;
	}
	char parse_err[1024];
	rc = scenario_parse(changed, strlen(changed), file, out, parse_err, sizeof parse_err);
	free(changed);
	if (rc) {
		/* the message names the path; say that an override put the value there */
		snprintf(err, errlen, "%s (with --param)", parse_err);
		return rc;
	}
	rc = check_config(*out, err, errlen);
	if (rc) {
		scenario_free(*out);
		*out = NULL;
	}
	return rc;
}
