/*
 * proxy_ctl.c — the netem proxy's control API (see proxy_ctl.h): routing, rule edits, JSON
 * answers. The transport is node/proto/http.h; nproxy_ctl_handle itself is plain.
 */
#include "proxy_ctl.h"
#include "rule_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char nproxy_ctl_usage[] =
	"GET    /proxies          endpoints (name, listen, target, counters) and named hosts\n"
	"POST   /proxies          {\"name\":\"server/4\",\"listen\":\"IP:PORT\",\"target\":\"IP:PORT\"}\n"
	"DELETE /proxies/NAME     stop proxying NAME (all its ports); its connections are reset\n"
	"POST   /hosts            {\"name\":\"fleet\",\"ip\":\"127.0.0.50\"}: name a client address\n"
	"GET    /rules            every rule, in id order\n"
	"POST   /rules            a rule object, or an array of them (all or none)\n"
	"GET    /rules/ID         one rule\n"
	"PATCH  /rules/ID         change the keys given (PUT replaces the whole rule)\n"
	"DELETE /rules/ID         remove a rule\n"
	"POST   /reset            remove every rule ({\"connections\":true}: reset connections too)\n"
	"Rule keys: from, to, base, one_way, latency, jitter, distribution (uniform|normal|pareto),\n"
	"bandwidth, queue, loss, rto, reset, partition, heal (release|reset), slices, slice_gap,\n"
	"for. Durations are strings with a unit: \"250ms\", \"30s\". Errors: 400 with\n"
	"{\"error_message\":...,\"code\":\"1\"}.\n";

typedef struct reply {
	int status;
	char *text;
} reply;

static int reply_json(reply *r, int status, cJSON *o)
{
	r->status = status;
	r->text = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return r->text ? 0 : RT_ENOMEM;
}

static int reply_error(reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reply_error(reply *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	if (o && (!cJSON_AddStringToObject(o, "error_message", msg) ||
		  !cJSON_AddStringToObject(o, "code", "1"))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return reply_json(r, status, o);
}

/* The body as JSON; NULL with a 400 reply when it is not. */
static cJSON *parse_body(const uint8_t *body, size_t len, reply *r)
{
	if (!body || !len) {
		reply_error(r, 400, "bad JSON: empty body");
		return NULL;
	}
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0);
	size_t at = end ? (size_t)(end - (const char *)body) : 0;
	while (o && at < len && (body[at] == ' ' || body[at] == '\t' || body[at] == '\r' ||
				 body[at] == '\n'))
		at++;
	if (!o || at < len) {
		cJSON_Delete(o);
		reply_error(r, 400, "bad JSON near byte %zu", at);
		return NULL;
	}
	return o;
}

/* "/rules/17" → 17; 0 when the tail is not a plain positive number. */
static uint32_t parse_id(const char *s)
{
	uint64_t v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > UINT32_MAX / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

static int rules_list(nproxy *px, reply *r)
{
	netem *m = nproxy_model(px);
	uint64_t now = nproxy_now_ns(px);
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "rules");
	if (!arr) {
		cJSON_Delete(o);
		return RT_ENOMEM;
	}
	for (size_t i = 0; i < netem_rule_count(m); i++) {
		const netem_rule *rule = netem_rule_at(m, i);
		if (rule->expires_at_ns && now >= rule->expires_at_ns)
			continue; /* expired, not yet swept */
		cJSON *j = netem_rule_to_json(rule, now);
		if (!j || !cJSON_AddItemToArray(arr, j)) {
			cJSON_Delete(j);
			cJSON_Delete(o);
			return RT_ENOMEM;
		}
	}
	return reply_json(r, 200, o);
}

static int rules_add(nproxy *px, const uint8_t *body, size_t len, reply *r)
{
	cJSON *in = parse_body(body, len, r);
	if (!in)
		return 0;
	netem *m = nproxy_model(px);
	uint64_t now = nproxy_now_ns(px);
	int is_array = cJSON_IsArray(in);
	int n = is_array ? cJSON_GetArraySize(in) : 1;
	netem_rule *rules = calloc((size_t)(n ? n : 1), sizeof *rules);
	if (!rules) {
		cJSON_Delete(in);
		return RT_ENOMEM;
	}
	char err[256];
	int i = 0, rc = 0;
	for (cJSON *it = is_array ? in->child : in; it; it = is_array ? it->next : NULL, i++) {
		netem_rule_init(&rules[i]);
		if (netem_rule_from_json(it, now, &rules[i], err, sizeof err)) {
			if (is_array)
				rc = reply_error(r, 400, "rules[%d]: %s", i, err);
			else
				rc = reply_error(r, 400, "%s", err);
			goto out;
		}
	}
	if (is_array && n == 0) {
		rc = reply_error(r, 400, "no rules given");
		goto out;
	}
	cJSON *o = cJSON_CreateObject(), *arr = is_array ? cJSON_AddArrayToObject(o, "rules") : NULL;
	for (i = 0; i < n; i++) {
		uint32_t id;
		if (netem_rule_add(m, &rules[i], &id)) {
			cJSON_Delete(o);
			rc = reply_error(r, 500, "could not add rule %d", i);
			goto out;
		}
		cJSON *j = netem_rule_to_json(netem_rule_get(m, id), now);
		if (is_array) {
			if (!j || !arr || !cJSON_AddItemToArray(arr, j))
				cJSON_Delete(j);
		} else {
			cJSON_Delete(o);
			o = j;
		}
	}
	nproxy_rules_changed(px);
	rc = reply_json(r, 201, o);
out:
	free(rules);
	cJSON_Delete(in);
	return rc;
}

static int rule_one(nproxy *px, const char *method, const char *idtext, const uint8_t *body,
		    size_t len, reply *r)
{
	netem *m = nproxy_model(px);
	uint64_t now = nproxy_now_ns(px);
	uint32_t id = parse_id(idtext);
	const netem_rule *cur = id ? netem_rule_get(m, id) : NULL;
	if (cur && cur->expires_at_ns && now >= cur->expires_at_ns)
		cur = NULL;
	if (!cur)
		return reply_error(r, 400, "unknown rule \"%s\"", idtext);
	if (strcmp(method, "GET") == 0)
		return reply_json(r, 200, netem_rule_to_json(cur, now));
	if (strcmp(method, "DELETE") == 0) {
		netem_rule_remove(m, id);
		nproxy_rules_changed(px);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "removed", id);
		return reply_json(r, 200, o);
	}
	if (strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0) {
		cJSON *in = parse_body(body, len, r);
		if (!in)
			return 0;
		netem_rule next;
		if (strcmp(method, "PUT") == 0)
			netem_rule_init(&next);
		else
			next = *cur;
		char err[256];
		int rc;
		if (netem_rule_from_json(in, now, &next, err, sizeof err)) {
			rc = reply_error(r, 400, "%s", err);
		} else {
			netem_rule_change(m, id, &next);
			nproxy_rules_changed(px);
			rc = reply_json(r, 200, netem_rule_to_json(netem_rule_get(m, id), now));
		}
		cJSON_Delete(in);
		return rc;
	}
	return reply_error(r, 405, "%s /rules/ID: use GET, PATCH, PUT or DELETE", method);
}

static int do_reset(nproxy *px, const uint8_t *body, size_t len, reply *r)
{
	int conns = 0;
	if (body && len) {
		cJSON *in = parse_body(body, len, r);
		if (!in)
			return 0;
		for (cJSON *it = cJSON_IsObject(in) ? in->child : NULL; it; it = it->next) {
			if (strcmp(it->string, "connections") == 0 && cJSON_IsBool(it)) {
				conns = cJSON_IsTrue(it);
				continue;
			}
			cJSON_Delete(in);
			return reply_error(r, 400, "reset: the body may only be {\"connections\": true|false}");
		}
		if (!cJSON_IsObject(in)) {
			cJSON_Delete(in);
			return reply_error(r, 400, "reset: the body must be a JSON object");
		}
		cJSON_Delete(in);
	}
	netem *m = nproxy_model(px);
	size_t n = netem_rule_count(m);
	netem_clear(m);
	if (conns)
		nproxy_reset_connections(px);
	nproxy_rules_changed(px);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "removed", (double)n);
	return reply_json(r, 200, o);
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int only_keys(const cJSON *o, const char *const *keys, reply *r)
{
	for (const cJSON *it = o->child; it; it = it->next) {
		int ok = 0;
		for (const char *const *k = keys; *k; k++)
			ok |= strcmp(it->string, *k) == 0;
		if (!ok) {
			reply_error(r, 400, "unknown key \"%s\"", it->string);
			return 0;
		}
	}
	return 1;
}

static int proxies_add(nproxy *px, const uint8_t *body, size_t len, reply *r)
{
	static const char *const keys[] = {"name", "listen", "target", NULL};
	cJSON *in = parse_body(body, len, r);
	if (!in)
		return 0;
	int rc = 0;
	char lip[16], tip[16], err[200];
	uint16_t lport, tport;
	const char *name = get_str(in, "name"), *l = get_str(in, "listen"), *t = get_str(in, "target");
	if (!cJSON_IsObject(in))
		rc = reply_error(r, 400, "expected a JSON object");
	else if (!only_keys(in, keys, r))
		rc = 0;
	else if (!name)
		rc = reply_error(r, 400, "name: expected a host name such as \"server/4\"");
	else if (!l || nproxy_parse_addr(l, lip, &lport, 1))
		rc = reply_error(r, 400, "listen: expected \"IP:PORT\" (port 0: any free port)");
	else if (!t || nproxy_parse_addr(t, tip, &tport, 0))
		rc = reply_error(r, 400, "target: expected \"IP:PORT\"");
	else if (nproxy_add_endpoint(px, name, lip, lport, tip, tport, &lport, err, sizeof err))
		rc = reply_error(r, 400, "%s", err);
	else {
		cJSON *o = cJSON_CreateObject();
		char buf[32];
		snprintf(buf, sizeof buf, "%s:%u", lip, lport);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "listen", buf);
		cJSON_AddStringToObject(o, "target", t);
		rc = reply_json(r, 201, o);
	}
	cJSON_Delete(in);
	return rc;
}

static int hosts_add(nproxy *px, const uint8_t *body, size_t len, reply *r)
{
	static const char *const keys[] = {"name", "ip", NULL};
	cJSON *in = parse_body(body, len, r);
	if (!in)
		return 0;
	int rc = 0;
	const char *name = get_str(in, "name"), *ip = get_str(in, "ip");
	if (!cJSON_IsObject(in))
		rc = reply_error(r, 400, "expected a JSON object");
	else if (!only_keys(in, keys, r))
		rc = 0;
	else if (!name || !ip || nproxy_add_host(px, name, ip))
		rc = reply_error(r, 400, "expected {\"name\": HOST, \"ip\": \"a.b.c.d\"}");
	else
		rc = reply_json(r, 200, nproxy_list_json(px));
	cJSON_Delete(in);
	return rc;
}

static int route(nproxy *px, const char *method, const char *path, const uint8_t *body,
		 size_t len, reply *r)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	if (strcmp(path, "/") == 0 || strcmp(path, "/help") == 0) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "usage", nproxy_ctl_usage);
		return reply_json(r, 200, o);
	}
	if (strcmp(path, "/rules") == 0) {
		if (get)
			return rules_list(px, r);
		if (post)
			return rules_add(px, body, len, r);
		return reply_error(r, 405, "%s /rules: use GET or POST", method);
	}
	if (strncmp(path, "/rules/", 7) == 0)
		return rule_one(px, method, path + 7, body, len, r);
	if (strcmp(path, "/proxies") == 0) {
		if (get)
			return reply_json(r, 200, nproxy_list_json(px));
		if (post)
			return proxies_add(px, body, len, r);
		return reply_error(r, 405, "%s /proxies: use GET or POST", method);
	}
	if (strncmp(path, "/proxies/", 9) == 0) {
		if (strcmp(method, "DELETE") != 0)
			return reply_error(r, 405, "%s /proxies/NAME: use DELETE", method);
		if (nproxy_remove_endpoint(px, path + 9))
			return reply_error(r, 400, "unknown proxy \"%s\"", path + 9);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "removed", path + 9);
		return reply_json(r, 200, o);
	}
	if (strcmp(path, "/hosts") == 0) {
		if (post)
			return hosts_add(px, body, len, r);
		return reply_error(r, 405, "%s /hosts: use POST (GET /proxies lists them)", method);
	}
	if (strcmp(path, "/reset") == 0) {
		if (post)
			return do_reset(px, body, len, r);
		return reply_error(r, 405, "%s /reset: use POST", method);
	}
	return reply_error(r, 404, "no such path: %s (GET / lists the API)", path);
}

int nproxy_ctl_handle(nproxy *px, const char *method, const char *path, const uint8_t *body,
		      size_t len, int *status, char **resp)
{
	reply r = {500, NULL};
	int rc = route(px, method, path, body, len, &r);
	if (rc && !r.text)
		reply_error(&r, 500, "%s", rt_strerror(rc));
	*status = r.status;
	*resp = r.text;
	return r.text ? 0 : RT_ENOMEM;
}

static void on_request(http_server *srv, http_request *req, void *data)
{
	int status;
	char *text;
	if (nproxy_ctl_handle(data, req->method, req->path, req->body, req->body_len, &status,
			      &text)) {
		http_respond(req, 500, NULL, NULL, 0, NULL);
		return;
	}
	size_t n = strlen(text);
	char *body = malloc(n + 2);
	if (body) { /* one answer per line: friendlier to curl in a terminal */
		memcpy(body, text, n);
		body[n] = '\n';
		body[n + 1] = '\0';
	}
	http_respond(req, status, "application/json", body ? body : text, body ? n + 1 : n, NULL);
	free(body);
	free(text);
}

int nproxy_ctl_start(nproxy *px, rt_host *h, const char *ip, uint16_t port, http_server **out)
{
	return http_server_start(h, ip, port, NULL, on_request, px, out);
}
