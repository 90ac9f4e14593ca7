/*
 * flags.c — command-line flags and config.json keys from one table of definitions.
 *
 * A flag's value lives where its definition points (the default is whatever is there before
 * parsing). The command line wins over config.json: flags_parse marks what it set as `seen`, and
 * flags_apply_json skips those.
 */
#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Names compare with '-' and '_' treated alike, so --scheduler-port works as well. */
static int name_eq(const char *a, const char *b, size_t blen)
{
	size_t i;
	for (i = 0; i < blen && a[i]; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return 0;
	}
	return i == blen && a[i] == '\0';
}

static flag_def *find_def(flag_def *defs, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (defs[i].name && name_eq(defs[i].name, name, len))
			return &defs[i];
	return NULL;
}

int flags_parse_ms(const char *s, int64_t *ms)
{
	if (!s || !ms)
		return FLAGS_EINVAL;
	while (*s == ' ')
		s++;
	if (!*s || *s == '-' || *s == '+')
		return FLAGS_EINVAL;
	errno = 0;
	char *end = NULL;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return FLAGS_EINVAL;
	double scale;
	if (!*end || !strcmp(end, "ms"))
		scale = 1.0;
	else if (!strcmp(end, "us"))
		scale = 1e-3;
	else if (!strcmp(end, "s"))
		scale = 1e3;
	else if (!strcmp(end, "m"))
		scale = 60e3;
	else if (!strcmp(end, "h"))
		scale = 3600e3;
	else
		return FLAGS_EINVAL;
	double r = v * scale;
	if (r > 9.0e15)
		return FLAGS_EINVAL;
	int64_t out = (int64_t)llround(r);
	/* A non-zero duration never rounds down to "no time at all". */
	if (out == 0 && r > 0)
		out = 1;
	*ms = out;
	return 0;
}

static int parse_int(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static const char *type_name(flag_type t)
{
	switch (t) {
	case FLAG_STR: return "string";
	case FLAG_INT: return "integer";
	case FLAG_DOUBLE: return "number";
	case FLAG_BOOL: return "boolean";
	case FLAG_MS: return "duration";
	}
	return "value";
}

/* Store a textual value into the flag. `where` names the origin for messages ("--x", "key 'x'"). */
static int set_from_text(flag_def *d, const char *val, const char *where, char *err, size_t errlen)
{
	switch (d->type) {
	case FLAG_STR:
		if (strlen(val) >= FLAG_STR_MAX) {
			set_err(err, errlen, "%s: value too long (max %d bytes)", where, FLAG_STR_MAX - 1);
			return FLAGS_EINVAL;
		}
		snprintf((char *)d->ptr, FLAG_STR_MAX, "%s", val);
		return 0;
	case FLAG_INT: {
		int64_t v;
		if (parse_int(val, &v)) {
			set_err(err, errlen, "%s: expected an integer, got '%s'", where, val);
			return FLAGS_EINVAL;
		}
		*(int64_t *)d->ptr = v;
		return 0;
	}
	case FLAG_DOUBLE: {
		errno = 0;
		char *end = NULL;
		double v = strtod(val, &end);
		if (!*val || end == val || *end || errno || !isfinite(v)) {
			set_err(err, errlen, "%s: expected a number, got '%s'", where, val);
			return FLAGS_EINVAL;
		}
		*(double *)d->ptr = v;
		return 0;
	}
	case FLAG_BOOL: {
		int v;
		if (parse_bool(val, &v)) {
			set_err(err, errlen, "%s: expected true or false, got '%s'", where, val);
			return FLAGS_EINVAL;
		}
		*(int *)d->ptr = v;
		return 0;
	}
	case FLAG_MS: {
		int64_t v;
		if (flags_parse_ms(val, &v)) {
			set_err(err, errlen,
				"%s: expected a duration such as 250ms, 3s, 5m or a number of ms, got '%s'",
				where, val);
			return FLAGS_EINVAL;
		}
		*(int64_t *)d->ptr = v;
		return 0;
	}
	}
	set_err(err, errlen, "%s: unsupported flag type", where);
	return FLAGS_EINVAL;
}

static int is_bool_word(const char *s)
{
	int v;
	return s && parse_bool(s, &v) == 0;
}

int flags_parse(flag_def *defs, size_t n, int argc, char **argv, const char *prog,
		const char *summary, FILE *usage_out, char *err, size_t errlen)
{
	if (!defs && n)
		return FLAGS_EINVAL;
	if (err && errlen)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!a)
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "-help")) {
			if (usage_out)
				flags_usage(usage_out, defs, n, prog, summary);
			return FLAGS_HELP;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			set_err(err, errlen, "unexpected argument '%s' (flags look like --name=value)", a);
			return FLAGS_EINVAL;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		flag_def *d = find_def(defs, n, name, nlen);
		if (!d) {
			set_err(err, errlen, "unknown flag --%.*s (see --help)", (int)nlen, name);
			return FLAGS_EINVAL;
		}
		char where[FLAG_STR_MAX + 8];
		snprintf(where, sizeof where, "--%s", d->name);
		const char *val;
		if (eq) {
			val = eq + 1;
		} else if (d->type == FLAG_BOOL) {
			/* A bare boolean means true; "--flag false" is also understood. */
			if (i + 1 < argc && is_bool_word(argv[i + 1]))
				val = argv[++i];
			else
				val = "true";
		} else {
			if (i + 1 >= argc) {
				set_err(err, errlen, "%s: missing value", where);
				return FLAGS_EINVAL;
			}
			val = argv[++i];
		}
		int rc = set_from_text(d, val, where, err, errlen);
		if (rc)
			return rc;
		d->seen = 1;
	}
	return 0;
}

static int in_list(const char *const *list, const char *key)
{
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], key))
			return 1;
	return 0;
}

/* Apply one JSON value to a flag. */
static int set_from_json(flag_def *d, const cJSON *v, const char *where, char *err, size_t errlen)
{
	char num[64];
	if (cJSON_IsString(v))
		return set_from_text(d, v->valuestring, where, err, errlen);
	switch (d->type) {
	case FLAG_STR:
		if (cJSON_IsNumber(v)) {
			/* Ids are often written as numbers ("node_id": 3); keep them readable. */
			double x = v->valuedouble;
			if (x == floor(x) && fabs(x) < 9.0e15)
				snprintf(num, sizeof num, "%lld", (long long)x);
			else
				snprintf(num, sizeof num, "%.17g", x);
			return set_from_text(d, num, where, err, errlen);
		}
		break;
	case FLAG_INT:
		if (cJSON_IsNumber(v)) {
			double x = v->valuedouble;
			if (x != floor(x) || fabs(x) > 9.0e15) {
				set_err(err, errlen, "%s: expected an integer, got %g", where, x);
				return FLAGS_EINVAL;
			}
			*(int64_t *)d->ptr = (int64_t)x;
			return 0;
		}
		break;
	case FLAG_DOUBLE:
		if (cJSON_IsNumber(v)) {
			*(double *)d->ptr = v->valuedouble;
			return 0;
		}
		break;
	case FLAG_BOOL:
		if (cJSON_IsBool(v)) {
			*(int *)d->ptr = cJSON_IsTrue(v) ? 1 : 0;
			return 0;
		}
		if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
			*(int *)d->ptr = v->valuedouble == 1;
			return 0;
		}
		break;
	case FLAG_MS:
		if (cJSON_IsNumber(v)) {
			double x = v->valuedouble;
			if (x < 0 || x > 9.0e15 || !isfinite(x)) {
				set_err(err, errlen, "%s: expected a non-negative duration, got %g", where,
					x);
				return FLAGS_EINVAL;
			}
			int64_t ms = (int64_t)llround(x);
			*(int64_t *)d->ptr = (ms == 0 && x > 0) ? 1 : ms;
			return 0;
		}
		break;
	}
	set_err(err, errlen, "%s: expected a %s", where, type_name(d->type));
	return FLAGS_EINVAL;
}

int flags_apply_json(flag_def *defs, size_t n, const cJSON *obj, const char *path,
		     const char *const *ignore, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path)
		path = "config";
	if (!cJSON_IsObject(obj)) {
		set_err(err, errlen, "%s: expected a JSON object", path);
		return FLAGS_EINVAL;
	}
	/* Unknown keys first, all of them in one message, so one run shows every typo. */
	char unknown[512];
	size_t ulen = 0;
	int nunknown = 0;
	unknown[0] = '\0';
	for (const cJSON *it = obj->child; it; it = it->next) {
		const char *key = it->string ? it->string : "";
		if (in_list(ignore, key) || find_def(defs, n, key, strlen(key)))
			continue;
		nunknown++;
		if (ulen < sizeof unknown) {
			int w = snprintf(unknown + ulen, sizeof unknown - ulen, "%s'%s'",
					 nunknown > 1 ? ", " : "", key);
			if (w > 0)
				ulen += (size_t)w;
		}
	}
	if (nunknown) {
		set_err(err, errlen, "%s: unknown key%s %s", path, nunknown > 1 ? "s" : "", unknown);
		return FLAGS_EINVAL;
	}
	for (const cJSON *it = obj->child; it; it = it->next) {
		const char *key = it->string ? it->string : "";
		if (in_list(ignore, key))
			continue;
		flag_def *d = find_def(defs, n, key, strlen(key));
		if (!d || d->seen)
			continue;
		char where[FLAG_STR_MAX + 64];
		snprintf(where, sizeof where, "%s: key '%s'", path, d->name);
		int rc = set_from_json(d, it, where, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static void format_default(const flag_def *d, char *buf, size_t len)
{
	switch (d->type) {
	case FLAG_STR:
		snprintf(buf, len, "\"%s\"", (const char *)d->ptr);
		return;
	case FLAG_INT:
		snprintf(buf, len, "%lld", (long long)*(const int64_t *)d->ptr);
		return;
	case FLAG_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)d->ptr);
		return;
	case FLAG_BOOL:
		snprintf(buf, len, "%s", *(const int *)d->ptr ? "true" : "false");
		return;
	case FLAG_MS: {
		int64_t ms = *(const int64_t *)d->ptr;
		if (ms && ms % 3600000 == 0)
			snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
		else if (ms && ms % 60000 == 0)
			snprintf(buf, len, "%lldm", (long long)(ms / 60000));
		else if (ms && ms % 1000 == 0)
			snprintf(buf, len, "%llds", (long long)(ms / 1000));
		else
			snprintf(buf, len, "%lldms", (long long)ms);
		return;
	}
	}
	snprintf(buf, len, "?");
}

void flags_usage(FILE *out, const flag_def *defs, size_t n, const char *prog, const char *summary)
{
	if (!out)
		return;
	fprintf(out, "Usage: %s [--flag=value | --flag value]...\n", prog ? prog : "prog");
	if (summary && *summary)
		fprintf(out, "%s\n", summary);
	fprintf(out, "\nFlags:\n");
	size_t w = 4;
	for (size_t i = 0; i < n; i++)
		if (defs[i].name && strlen(defs[i].name) > w)
			w = strlen(defs[i].name);
	for (size_t i = 0; i < n; i++) {
		if (!defs[i].name)
			continue;
		char def[FLAG_STR_MAX + 8];
		format_default(&defs[i], def, sizeof def);
		fprintf(out, "  --%-*s  %s (%s, default %s)\n", (int)w, defs[i].name,
			defs[i].help ? defs[i].help : "", type_name(defs[i].type), def);
	}
	fprintf(out, "  --%-*s  %s\n", (int)w, "help", "print this help and exit");
}
