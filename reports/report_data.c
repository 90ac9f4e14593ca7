/*
 * report_data.c — reading a run's output directory for the report (docs/outputs.md), and the
 * small string buffer the page and the gnuplot scripts are built in.
 *
 * Every reader is strict about shape (a bad line is an error naming file and line: a report
 * drawn from half-parsed data would mislead) and lenient about presence (a missing file only
 * leaves a hole in the page).
 */
#include "report.h"
#include "report_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rp_buf ---- */

static int buf_grow(rp_buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void rp_buf_put(rp_buf *b, const char *s, size_t n)
{
	if (buf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void rp_buf_puts(rp_buf *b, const char *s)
{
	if (s)
		rp_buf_put(b, s, strlen(s));
}

void rp_buf_printf(rp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void rp_buf_html(rp_buf *b, const char *s)
{
	if (!s)
		return;
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '&': rp_buf_puts(b, "&amp;"); break;
		case '<': rp_buf_puts(b, "&lt;"); break;
		case '>': rp_buf_puts(b, "&gt;"); break;
		case '"': rp_buf_puts(b, "&quot;"); break;
		case '\'': rp_buf_puts(b, "&#39;"); break;
		default: rp_buf_put(b, p, 1);
		}
	}
}

void rp_buf_free(rp_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

const char *rp_buf_str(const rp_buf *b) { return b->p ? b->p : ""; }

void rp_plain(char *dst, size_t n, const char *s)
{
	size_t j = 0;
	if (!n)
		return;
	for (; s && *s && j + 1 < n; s++) {
		unsigned char c = (unsigned char)*s;
		/* gnuplot enhanced-text and quoting characters and anything not ASCII become '_' */
		dst[j++] = (isalnum(c) || strchr(" /._:=+-,()#[]%*", c)) && c ? (char)c : '_';
	}
	dst[j] = '\0';
}

/* ---- cJSON shortcuts ---- */

double rp_num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *rp_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- files ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Read a whole file. 1 = read (text owned by caller), 0 = missing, <0 = error. */
static int slurp(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	*text = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return REPORT_EIO;
	}
	rp_buf b = { 0 };
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rp_buf_put(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad || b.oom) {
		set_err(err, errlen, "%s: %s", path, bad ? "read error" : "out of memory");
		rp_buf_free(&b);
		return bad ? REPORT_EIO : REPORT_ENOMEM;
	}
	if (!b.p)
		rp_buf_put(&b, "", 0);
	if (b.oom)
		return REPORT_ENOMEM;
	*text = b.p;
	*len = b.len;
	return 1;
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Line number (1-based) of offset off in text. */
static size_t line_of(const char *text, size_t off)
{
	size_t line = 1;
	for (size_t i = 0; i < off && text[i]; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static int load_summary(rp_input *in, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = slurp(path, &text, &len, err, errlen);
	if (rc <= 0)
		return rc;
	if (is_blank(text, len)) {
		in->summary_state = RP_EMPTY;
		free(text);
		return 0;
	}
	const char *end = NULL;
	in->summary = cJSON_ParseWithOpts(text, &end, 1);
	if (!in->summary || !cJSON_IsObject(in->summary)) {
		size_t off = in->summary ? 0 : (size_t)((end ? end : text) - text);
		set_err(err, errlen, "%s:%zu: %s", path, line_of(text, off),
			in->summary ? "not a JSON object" : "malformed JSON");
		free(text);
		return REPORT_EINPUT;
	}
	in->summary_state = RP_PRESENT;
	/* the seed as written: cJSON keeps numbers as doubles, which drop digits past 2^53 */
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(in->summary, "seed");
	if (cJSON_IsNumber(seed) && fabs(seed->valuedouble) < 9007199254740992.0)
		snprintf(in->seed, sizeof in->seed, "%.0f", seed->valuedouble);
	else if (cJSON_IsString(seed))
		snprintf(in->seed, sizeof in->seed, "%s", seed->valuestring);
	if (cJSON_IsNumber(seed) && !in->seed[0]) {
		const char *p = strstr(text, "\"seed\"");
		p = p ? strchr(p, ':') : NULL;
		size_t j = 0;
		for (p = p ? p + 1 : NULL; p && isspace((unsigned char)*p); p++)
			;
		for (; p && (isdigit((unsigned char)*p) || *p == '-') && j + 1 < sizeof in->seed; p++)
			in->seed[j++] = *p;
		in->seed[j] = '\0';
	}
	free(text);
	return 0;
}

static int load_jsonl(rp_jsonl *out, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = slurp(path, &text, &len, err, errlen);
	if (rc <= 0)
		return rc;
	out->state = RP_EMPTY;
	size_t cap = 0, lineno = 0;
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (!is_blank(p, n)) {
			if (nl)
				*nl = '\0';
			cJSON *o = cJSON_ParseWithOpts(p, NULL, 1);
			if (!o || !cJSON_IsObject(o)) {
				set_err(err, errlen, "%s:%zu: %s", path, lineno,
					o ? "not a JSON object" : "malformed JSON");
				cJSON_Delete(o);
				free(text);
				return REPORT_EINPUT;
			}
			if (out->n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				cJSON **ni = realloc(out->items, nc * sizeof *ni);
				if (!ni) {
					cJSON_Delete(o);
					free(text);
					set_err(err, errlen, "%s: out of memory", path);
					return REPORT_ENOMEM;
				}
				out->items = ni;
				cap = nc;
			}
			out->items[out->n++] = o;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	free(text);
	if (out->n)
		out->state = RP_PRESENT;
	return 0;
}

/* Split one CSV line in place on commas; cells are trimmed and unquoted. Returns the count. */
static size_t csv_split(char *line, char **cells, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		while (isspace((unsigned char)*p))
			p++;
		size_t l = strlen(p);
		while (l && isspace((unsigned char)p[l - 1]))
			p[--l] = '\0';
		if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
			p[l - 1] = '\0';
			p++;
		}
		if (n < max)
			cells[n] = p;
		n++;
		if (!comma)
			return n;
		p = comma + 1;
	}
}

static int csv_label(rp_csv *c, const char *s)
{
	for (size_t i = 0; i < c->nlabels; i++)
		if (!strcmp(c->labels[i], s))
			return (int)i;
	char **nl = realloc(c->labels, (c->nlabels + 1) * sizeof *nl);
	if (!nl)
		return -1;
	c->labels = nl;
	if (!(c->labels[c->nlabels] = strdup(s)))
		return -1;
	return (int)c->nlabels++;
}

/* strcol: the name of the one column that holds text (NULL: every column is numeric). */
static int load_csv(rp_csv *c, const char *path, const char *strcol, char *err, size_t errlen)
{
	char *text;
	size_t len;
	c->strcol = -1;
	int rc = slurp(path, &text, &len, err, errlen);
	if (rc <= 0)
		return rc;
	c->state = RP_EMPTY;
	size_t lineno = 0, cap = 0;
	char **cells = NULL;
	rc = 0;
	char *p = text;
	while (*p && rc == 0) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (nl)
			*nl = '\0';
		if (is_blank(p, n))
			goto next;
		if (!c->cols) {
			size_t k = 1;
			for (const char *q = p; *q; q++)
				k += *q == ',';
			c->cols = calloc(k, sizeof *c->cols);
			cells = calloc(k, sizeof *cells);
			if (!c->cols || !cells) {
				rc = REPORT_ENOMEM;
				break;
			}
			csv_split(p, c->cols, k);
			for (size_t i = 0; i < k; i++) {
				if (!(c->cols[i] = strdup(c->cols[i]))) {
					c->ncols = i;
					rc = REPORT_ENOMEM;
					break;
				}
				if (strcol && !strcmp(c->cols[i], strcol))
					c->strcol = (int)i;
				c->ncols = i + 1;
			}
			goto next;
		}
		size_t k = csv_split(p, cells, c->ncols);
		if (k != c->ncols) {
			set_err(err, errlen, "%s:%zu: %zu fields, the header has %zu", path, lineno, k, c->ncols);
			rc = REPORT_EINPUT;
			break;
		}
		if (c->nrows == cap) {
			size_t nc = cap ? cap * 2 : 256;
			double *nv = realloc(c->v, nc * c->ncols * sizeof *nv);
			if (!nv) {
				rc = REPORT_ENOMEM;
				break;
			}
			c->v = nv;
			cap = nc;
		}
		double *row = c->v + c->nrows * c->ncols;
		for (size_t i = 0; i < k && rc == 0; i++) {
			char *end;
			if ((int)i == c->strcol) {
				int l = csv_label(c, cells[i]);
				row[i] = l;
				if (l < 0)
					rc = REPORT_ENOMEM;
				continue;
			}
			if (!cells[i][0]) {
				row[i] = NAN;
				continue;
			}
			errno = 0;
			row[i] = strtod(cells[i], &end);
			if (*end || end == cells[i]) {
				set_err(err, errlen, "%s:%zu: column '%s': '%.40s' is not a number", path,
					lineno, c->cols[i], cells[i]);
				rc = REPORT_EINPUT;
			}
		}
		if (rc == 0)
			c->nrows++;
next:
		if (!nl)
			break;
		p = nl + 1;
	}
	if (rc == REPORT_ENOMEM)
		set_err(err, errlen, "%s: out of memory", path);
	free(cells);
	free(text);
	if (rc == 0 && c->nrows)
		c->state = RP_PRESENT;
	return rc;
}

int rp_csv_col(const rp_csv *c, const char *name)
{
	for (size_t i = 0; i < c->ncols; i++)
		if (!strcmp(c->cols[i], name))
			return (int)i;
	return -1;
}

double rp_csv_at(const rp_csv *c, size_t r, int col)
{
	if (col < 0 || (size_t)col >= c->ncols || r >= c->nrows)
		return NAN;
	return c->v[r * c->ncols + (size_t)col];
}

int rp_input_load(rp_input *in, const char *dir, char *err, size_t errlen)
{
	char path[4200];
	int rc;
	memset(in, 0, sizeof *in);
	in->metrics.strcol = in->servers.strcol = -1;
	snprintf(in->dir, sizeof in->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/summary.json", dir);
	if ((rc = load_summary(in, path, err, errlen)))
		return rc;
	snprintf(path, sizeof path, "%s/events.jsonl", dir);
	if ((rc = load_jsonl(&in->events, path, err, errlen)))
		return rc;
	snprintf(path, sizeof path, "%s/iterations.jsonl", dir);
	if ((rc = load_jsonl(&in->iterations, path, err, errlen)))
		return rc;
	snprintf(path, sizeof path, "%s/metrics.csv", dir);
	if ((rc = load_csv(&in->metrics, path, NULL, err, errlen)))
		return rc;
	snprintf(path, sizeof path, "%s/servers.csv", dir);
	return load_csv(&in->servers, path, "server", err, errlen);
}

static void csv_free(rp_csv *c)
{
	for (size_t i = 0; i < c->ncols; i++)
		free(c->cols[i]);
	for (size_t i = 0; i < c->nlabels; i++)
		free(c->labels[i]);
	free(c->cols);
	free(c->labels);
	free(c->v);
}

static void jsonl_free(rp_jsonl *j)
{
	for (size_t i = 0; i < j->n; i++)
		cJSON_Delete(j->items[i]);
	free(j->items);
}

void rp_input_free(rp_input *in)
{
	cJSON_Delete(in->summary);
	jsonl_free(&in->events);
	jsonl_free(&in->iterations);
	csv_free(&in->metrics);
	csv_free(&in->servers);
	memset(in, 0, sizeof *in);
}

/* ---- faults ---- */

/* "kill server/2", "scale_in node_ids=2,3", "link fleet->server/1 latency=200ms": the action,
 * then the node or the other fields, compact. */
static void fault_label(const cJSON *e, char *dst, size_t n)
{
	rp_buf b = { 0 };
	const char *action = rp_str(e, "action");
	rp_buf_puts(&b, action ? action : "fault");
	const char *node = rp_str(e, "node");
	const char *from = rp_str(e, "from"), *to = rp_str(e, "to");
	if (node)
		rp_buf_printf(&b, " %s", node);
	else if (from && to)
		rp_buf_printf(&b, " %s->%s", from, to);
	const cJSON *f;
	cJSON_ArrayForEach(f, e) {
		const char *k = f->string;
		if (!k || !strcmp(k, "t") || !strcmp(k, "kind") || !strcmp(k, "action") || !strcmp(k, "node") ||
		    !strcmp(k, "event") || ((from && to) && (!strcmp(k, "from") || !strcmp(k, "to"))))
			continue;
		if (cJSON_IsNumber(f))
			rp_buf_printf(&b, " %s=%g", k, f->valuedouble);
		else if (cJSON_IsString(f))
			rp_buf_printf(&b, " %s=%s", k, f->valuestring);
		else if (cJSON_IsArray(f) || cJSON_IsObject(f)) {
			char *s = cJSON_PrintUnformatted(f);
			if (s) {
				/* ["2","3"] -> 2,3: quotes and brackets only add noise in a label */
				rp_buf_printf(&b, " %s=", k);
				for (char *q = s; *q; q++)
					if (!strchr("\"[]{}", *q))
						rp_buf_put(&b, q, 1);
				free(s);
			}
		}
		if (b.len > 80)
			break;
	}
	rp_plain(dst, n, rp_buf_str(&b));
	rp_buf_free(&b);
}

int rp_faults(const rp_input *in, rp_fault **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cnt = 0;
	for (size_t i = 0; i < in->events.n; i++) {
		const char *k = rp_str(in->events.items[i], "kind");
		if (k && !strcmp(k, "fault"))
			cnt++;
	}
	if (!cnt)
		return 0;
	rp_fault *f = calloc(cnt, sizeof *f);
	if (!f)
		return REPORT_ENOMEM;
	for (size_t i = 0; i < in->events.n; i++) {
		const cJSON *e = in->events.items[i];
		const char *k = rp_str(e, "kind");
		if (!k || strcmp(k, "fault"))
			continue;
		f[*n].t = rp_num(e, "t");
		fault_label(e, f[*n].label, sizeof f[*n].label);
		(*n)++;
	}
	*out = f;
	return 0;
}
