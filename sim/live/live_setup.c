/*
 * live_setup.c — the start of a live run: the output directory's layout, the shared config.json,
 * the binaries, ports and addresses, netem-proxy with its base rules and the fleet's discovery
 * relay, then the scheduler, the servers and the fleet; and how a node is (re)started and killed.
 * Layout of OUT: see live.c.
 */
#include "live_http.h"
#include "live_int.h"
#include "live_proc.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *const binaries[] = {"fl-scheduler", "fl-server", "fl-fleet", "netem-proxy"};

/* ---- files ---- */

static int mkdirs(const char *path)
{
	char p[LV_PATH];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(p, 0755) && errno != EEXIST ? -errno : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

/* An earlier run into the same directory must not leave recovery files for this one. */
static void rm_tree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

static void file_name(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s", name);
	for (char *s = out; *s; s++)
		if (*s == '/')
			*s = '-';
}

/* ---- processes ---- */

static void add_arg(lv_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_arg(lv_node *n, const char *fmt, ...)
{
	if (n->argc >= LV_MAX_ARGS - 1)
		return;
	char buf[LV_PATH + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	n->argv[n->argc++] = strdup(buf);
	n->argv[n->argc] = NULL;
}

void lv_free_args(lv_node *n)
{
	for (int i = 0; i < n->argc; i++)
		free(n->argv[i]);
	n->argc = 0;
	n->argv[0] = NULL;
}

static int env_skip(const char *e, int skewed)
{
	static const char *const drop[] = {"FAKETIME=", "FAKETIME_", "DONT_FAKE_MONOTONIC=", "TMPDIR=", NULL};
	for (int i = 0; drop[i]; i++)
		if (!strncmp(e, drop[i], strlen(drop[i])))
			return 1;
	return skewed && (!strncmp(e, "LD_PRELOAD=", 11) || !strncmp(e, "ASAN_OPTIONS=", 13));
}

/* The child's environment: ours, TMPDIR in the run, and libfaketime for a node that may be skewed
 * (ASan must then be told that it is not first in the library list). Caller frees with
 * free_env. */
static char **make_env(live *l, const lv_node *n)
{
	size_t cnt = 0;
	while (environ[cnt])
		cnt++;
	char **e = calloc(cnt + 8, sizeof *e);
	if (!e)
		return NULL;
	size_t k = 0;
	char buf[LV_PATH * 2];
	for (size_t i = 0; i < cnt; i++)
		if (!env_skip(environ[i], n->skewable))
			e[k++] = strdup(environ[i]);
	snprintf(buf, sizeof buf, "TMPDIR=%s/tmp", l->out);
	e[k++] = strdup(buf);
	if (n->skewable) {
		const char *pre = getenv("LD_PRELOAD"), *asan = getenv("ASAN_OPTIONS");
		snprintf(buf, sizeof buf, "LD_PRELOAD=%s%s%s", l->ftlib, pre && *pre ? ":" : "", pre ? pre : "");
		e[k++] = strdup(buf);
		snprintf(buf, sizeof buf, "FAKETIME_TIMESTAMP_FILE=%s", n->ft_file);
		e[k++] = strdup(buf);
		e[k++] = strdup("FAKETIME_NO_CACHE=1");
		e[k++] = strdup("DONT_FAKE_MONOTONIC=1");
		snprintf(buf, sizeof buf, "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
			 asan && *asan ? ":" : "");
		e[k++] = strdup(buf);
	}
	e[k] = NULL;
	return e;
}

static void free_env(char **e)
{
	for (size_t i = 0; e && e[i]; i++)
		free(e[i]);
	free(e);
}

int lv_start(live *l, lv_node *n)
{
	if (n->pid)
		lv_kill(l, n);
	n->starts++;
	if (n == &l->sched)
		l->sched_up_ns = lv_now(l);
	FILE *f = fopen(n->log, "a");
	if (f) {
		fprintf(f, "==== sim: %s: start %d at t=%.3f s ====\n", n->name, n->starts, (double)lv_now(l) / 1e9);
		fclose(f);
	}
	char **env = make_env(l, n);
	if (!env)
		return -ENOMEM;
	lp_spec s = {.name = n->name, .path = n->argv[0], .argv = n->argv, .envp = env, .cwd = n->data_dir,
		     .log_path = n->log};
	int rc = lp_spawn(&s, &n->pid);
	free_env(env);
	if (rc) {
		n->pid = 0;
		return rc;
	}
	n->started_ns = lv_now(l);
	n->paused = 0;
	n->polled = 0;
	n->checked_upto = -1; /* a restarted server's stored models are compared again */
	return 0;
}

void lv_kill(live *l, lv_node *n)
{
	(void)l;
	if (!n->pid)
		return;
	lp_kill_wait(n->pid, NULL);
	n->pid = 0;
	n->paused = 0;
	n->polled = 0;
}

/* ---- nodes ---- */

static int skewed_by_events(const live *l, const char *name)
{
	if (!strcmp(name, "fleet")) /* skewed per device through its control API (POST /skew) */
		return 0;
	for (size_t i = 0; i < l->sc->n_events; i++)
		if (l->sc->events[i].action == SC_CLOCK_SKEW && !strcmp(l->sc->events[i].node, name))
			return 1;
	return 0;
}

/* Paths and libfaketime of a node; its data directory made. */
static int node_init(live *l, lv_node *n, const char *name, const char *ip)
{
	snprintf(n->name, sizeof n->name, "%s", name);
	file_name(name, n->file, sizeof n->file);
	snprintf(n->ip, sizeof n->ip, "%s", ip);
	if (!strcmp(name, "fleet"))
		snprintf(n->data_dir, sizeof n->data_dir, "%s", l->fleet_out);
	else
		snprintf(n->data_dir, sizeof n->data_dir, "%s/data/%s", l->out, n->file);
	snprintf(n->log, sizeof n->log, "%s/logs/%s.log", l->out, n->file);
	n->skewable = skewed_by_events(l, name);
	if (n->skewable) {
		snprintf(n->ft_file, sizeof n->ft_file, "%s/tmp/%s.faketime", l->out, n->file);
		write_text(n->ft_file, "+0\n");
	}
	n->checked_upto = -1;
	return mkdirs(n->data_dir);
}

static void bin_arg(live *l, lv_node *n, const char *binary) { add_arg(n, "%s/bin/%s", l->out, binary); }

static void ms_arg(lv_node *n, const char *flag, uint64_t ns)
{
	add_arg(n, "--%s=%llu", flag, (unsigned long long)(ns / 1000000ULL));
}

/* An endpoint `name` on the proxy, listen_ip:(any) -> target_ip:target_port: the port bound, or
 * 0 with err. */
static uint16_t proxy_endpoint(live *l, const char *name, const char *listen_ip, const char *target_ip,
			       uint16_t target_port, char *err, size_t errlen)
{
	cJSON *b = cJSON_CreateObject();
	char a[40];
	cJSON_AddStringToObject(b, "name", name);
	snprintf(a, sizeof a, "%s:0", listen_ip);
	cJSON_AddStringToObject(b, "listen", a);
	snprintf(a, sizeof a, "%s:%u", target_ip, target_port);
	cJSON_AddStringToObject(b, "target", a);
	cJSON *r = lv_proxy_call(l, "POST", "/proxies", b, err, errlen);
	const cJSON *lis = cJSON_GetObjectItemCaseSensitive(r, "listen");
	const char *colon = cJSON_IsString(lis) ? strrchr(lis->valuestring, ':') : NULL;
	uint16_t port = colon ? (uint16_t)atoi(colon + 1) : 0;
	cJSON_Delete(r);
	return port;
}

int lv_add_server(live *l, int64_t server_num, lv_node **out, char *err, size_t errlen)
{
	if (l->nservers >= LV_MAX_SERVERS || l->nservers + LV_SERVER_IP_BASE > 199) {
		snprintf(err, errlen, "live mode runs at most %d servers", LV_MAX_SERVERS);
		return -EINVAL;
	}
	lv_node *n = &l->srv[l->nservers];
	memset(n, 0, sizeof *n);
	n->id = l->nservers;
	char name[32], ip[16];
	snprintf(name, sizeof name, "server/%d", n->id);
	snprintf(ip, sizeof ip, "127.0.0.%d", LV_SERVER_IP_BASE + n->id);
	int rc = node_init(l, n, name, ip);
	if (!rc)
		rc = lp_free_port(ip, &l->port_state, &n->port);
	while (!rc && (!n->inter_port || n->inter_port == n->port))
		rc = lp_free_port(ip, &l->port_state, &n->inter_port);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
		return rc;
	}
	n->server_num = server_num;
	if (l->use_proxy) {
		/* two endpoints of the same name: devices reach its device port through the first;
		 * the other servers its inter-node port through the second, which it advertises */
		snprintf(n->proxy_ip, sizeof n->proxy_ip, "127.0.1.%d", LV_SERVER_IP_BASE + n->id);
		n->proxy_port = proxy_endpoint(l, name, n->proxy_ip, ip, n->port, err, errlen);
		if (n->proxy_port)
			n->proxy_inter_port = proxy_endpoint(l, name, n->proxy_ip, ip, n->inter_port, err, errlen);
		if (!n->proxy_port || !n->proxy_inter_port) {
			if (!err[0])
				snprintf(err, errlen, "netem-proxy: no endpoint for %s", name);
			return -EIO;
		}
	}
	const srv_config *c = &l->cfg;
	bin_arg(l, n, "fl-server");
	add_arg(n, "--scheduler_ip=%s", l->use_proxy ? l->sched.proxy_ip : l->sched.ip);
	add_arg(n, "--scheduler_port=%u", l->use_proxy ? l->sched.proxy_port : l->sched.port);
	add_arg(n, "--server_ip=%s", ip);
	add_arg(n, "--fl_server_port=%u", n->port);
	add_arg(n, "--server_inter_port=%u", n->inter_port);
	if (n->proxy_inter_port) {
		add_arg(n, "--advertise_ip=%s", n->proxy_ip);
		add_arg(n, "--advertise_inter_port=%u", n->proxy_inter_port);
	}
	add_arg(n, "--server_num=%lld", (long long)server_num);
	add_arg(n, "--node_id=%d", n->id);
	add_arg(n, "--data_dir=%s", n->data_dir);
	add_arg(n, "--config_file_path=%s", l->config_path);
	add_arg(n, "--model=%s", c->model);
	ms_arg(n, "heartbeat_interval", l->sc->heartbeat_ns);
	ms_arg(n, "node_timeout", l->sc->node_timeout_ns);
	add_arg(n, "--log_level=info");
	l->nservers++;
	*out = n;
	return 0;
}

static void dist_arg(lv_node *n, const char *flag, const sc_dist *d)
{
	static const char *const kinds[] = {"", "uniform", "normal", "lognormal"};
	if (d->kind == SC_FIXED)
		add_arg(n, "--%s=%.17g", flag, d->a);
	else
		add_arg(n, "--%s=%s:%.17g:%.17g", flag, kinds[d->kind], d->a, d->b);
}

static void fleet_args(live *l, lv_node *n)
{
	const scenario *sc = l->sc;
	bin_arg(l, n, "fl-fleet");
	add_arg(n, "--scheduler_ip=%s", l->relay_fd >= 0 ? LV_IP_RELAY : l->sched.ip);
	add_arg(n, "--scheduler_manage_port=%u", l->relay_fd >= 0 ? l->relay_port : l->manage_port);
	add_arg(n, "--devices=%ld", sc->devices);
	add_arg(n, "--training=%s", sc->training);
	add_arg(n, "--model=%s", sc->model);
	add_arg(n, "--seed=%" PRIu64, sc->seed);
	add_arg(n, "--out=%s", l->fleet_out);
	add_arg(n, "--ip=%s", n->ip);
	add_arg(n, "--fl_name=%s", l->cfg.fl_name);
	if (l->cfg.http_url_prefix[0])
		add_arg(n, "--http_url_prefix=%s", l->cfg.http_url_prefix);
	add_arg(n, "--partition=%s", sc->data.partition);
	add_arg(n, "--alpha=%.17g", sc->data.alpha);
	add_arg(n, "--classes=%d", sc->data.classes);
	add_arg(n, "--samples_per_device=%ld", sc->data.samples_per_device);
	dist_arg(n, "compute_ms_per_sample", &sc->compute_ms_per_sample);
	dist_arg(n, "bandwidth_kbps", &sc->bandwidth_kbps);
	dist_arg(n, "clock_skew_ms", &sc->clock_skew_ms);
	dist_arg(n, "session_s", &sc->session_s);
	add_arg(n, "--online_fraction=%.17g", sc->online_fraction);
	add_arg(n, "--dropout=%.17g", sc->dropout);
	add_arg(n, "--discovery_interval=1000");
	add_arg(n, "--control_port=%u", l->fleet_ctl_port); /* fleet and clock_skew events */
	add_arg(n, "--progress=off");
	add_arg(n, "--log_level=info");
}

static void sched_args(live *l, lv_node *n)
{
	bin_arg(l, n, "fl-scheduler");
	add_arg(n, "--scheduler_ip=%s", n->ip);
	add_arg(n, "--scheduler_port=%u", n->port);
	add_arg(n, "--scheduler_manage_ip=%s", n->ip);
	add_arg(n, "--scheduler_manage_port=%u", l->manage_port);
	add_arg(n, "--server_num=%d", l->sc->server_num);
	add_arg(n, "--config_file_path=%s", l->config_path);
	add_arg(n, "--fl_name=%s", l->cfg.fl_name);
	add_arg(n, "--fl_iteration_num=%lld", (long long)l->cfg.fl_iteration_num);
	ms_arg(n, "heartbeat_interval", l->sc->heartbeat_ns);
	ms_arg(n, "node_timeout", l->sc->node_timeout_ns);
	add_arg(n, "--log_level=info");
}

/* ---- set-up ---- */

static int find_binaries(live *l, char *err, size_t errlen)
{
	const char *env = getenv("FLBENCH_BIN");
	if (env && *env) {
		snprintf(l->bin, sizeof l->bin, "%s", env);
	} else {
		char self[LV_PATH];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0) {
			snprintf(err, errlen, "live mode: cannot find the binaries (set FLBENCH_BIN)");
			return SC_EINVAL;
		}
		self[n] = '\0';
		snprintf(l->bin, sizeof l->bin, "%s", dirname(self));
	}
	for (size_t i = 0; i < sizeof binaries / sizeof binaries[0]; i++) {
		char p[LV_PATH + 64], link[LV_PATH + 64];
		snprintf(p, sizeof p, "%s/%s", l->bin, binaries[i]);
		if (access(p, X_OK)) {
			snprintf(err, errlen, "live mode needs %s (build it: make build)", p);
			return SC_EINVAL;
		}
		snprintf(link, sizeof link, "%s/bin/%s", l->out, binaries[i]);
		unlink(link);
		if (symlink(p, link)) {
			snprintf(err, errlen, "%s: %s", link, strerror(errno));
			return SC_EIO;
		}
	}
	return 0;
}

static int needs_proxy(const scenario *sc)
{
	const sc_link *ls[2] = {&sc->net_default, &sc->net_fleet};
	for (int i = 0; i < 2; i++)
		if (ls[i]->latency_ns || ls[i]->jitter_ns || ls[i]->bandwidth_bps || ls[i]->loss > 0 ||
		    ls[i]->slices > 1)
			return 1;
	for (size_t i = 0; i < sc->n_events; i++)
		if (sc->events[i].action == SC_PARTITION || sc->events[i].action == SC_LINK ||
		    sc->events[i].action == SC_HEAL)
			return 1;
	return 0;
}

static int configure(live *l, char *err, size_t errlen)
{
	const scenario *sc = l->sc;
	srv_config *c = &l->cfg;
	srv_config_init(c);
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	size_t nd = srv_config_flags(c, defs, SRV_CONFIG_MAX_FLAGS);
	char why[400];
	if (srv_config_apply_json(c, defs, nd, sc->config, NULL, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		return SC_EINVAL;
	}
	snprintf(c->model, sizeof c->model, "%s", sc->model);
	c->server_num = sc->server_num;
	c->heartbeat_interval = (int64_t)(sc->heartbeat_ns / 1000000ULL);
	c->node_timeout = (int64_t)(sc->node_timeout_ns / 1000000ULL);
	if (srv_config_validate(c, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		return SC_EINVAL;
	}
	if (model_def_parse(sc->model, &l->model)) {
		snprintf(err, errlen, "%s: $.cluster.model: unknown model \"%s\"", sc->file, sc->model);
		return SC_EINVAL;
	}
	if (!strcmp(sc->training, "real") && strcmp(sc->model, "lenet5")) {
		snprintf(err, errlen, "%s: $.fleet.training: \"real\" needs cluster.model \"lenet5\"", sc->file);
		return SC_EINVAL;
	}
	/* the shared config.json: cluster.config, with recovery as the servers understood it (the
	 * scheduler then keeps its metadata in its working directory) */
	cJSON *cj = cJSON_Duplicate(sc->config, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(cj, "recovery");
	cJSON_AddBoolToObject(cj, "recovery", c->recovery);
	char *text = cJSON_Print(cj);
	cJSON_Delete(cj);
	snprintf(l->config_path, sizeof l->config_path, "%s/config.json", l->out);
	int rc = text ? write_text(l->config_path, text) : -ENOMEM;
	free(text);
	if (rc) {
		snprintf(err, errlen, "%s: %s", l->config_path, strerror(-rc));
		return SC_EIO;
	}
	for (size_t i = 0; i < sc->n_events; i++)
		if (sc->events[i].action == SC_CLOCK_SKEW && strcmp(sc->events[i].node, "fleet")) {
			const char *lib = getenv("FLBENCH_FAKETIME_LIB");
			const char *cands[] = {lib, "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
					       "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
					       "/usr/lib/faketime/libfaketime.so.1"};
			for (size_t k = 0; k < 4 && !l->ftlib[0]; k++)
				if (cands[k] && !access(cands[k], R_OK))
					snprintf(l->ftlib, sizeof l->ftlib, "%s", cands[k]);
			if (!l->ftlib[0]) {
				snprintf(err, errlen, "%s: $.events[%zu]: clock_skew in live mode needs libfaketime "
					 "(apt-get install faketime, or set FLBENCH_FAKETIME_LIB)", sc->file, i);
				return SC_EINVAL;
			}
		}
	l->use_proxy = needs_proxy(sc);
	return 0;
}

/* Wait for a line "control IP:PORT" in the proxy's log. */
static int proxy_control_port(live *l, char *err, size_t errlen)
{
	for (int waited = 0; waited < 10000; waited += 50) {
		FILE *f = fopen(l->proxy.log, "r");
		char line[256];
		unsigned a, b, c, d, port;
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "control %u.%u.%u.%u:%u", &a, &b, &c, &d, &port) == 5)
				l->ctl_port = (uint16_t)port;
		if (f)
			fclose(f);
		if (l->ctl_port)
			return 0;
		if (lp_reap(l->proxy.pid, NULL) == 1) {
			l->proxy.pid = 0;
			break;
		}
		if (lp_stop_signal())
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "netem-proxy did not start (see %s)", l->proxy.log);
	return -EIO;
}

static int start_proxy(live *l, char *err, size_t errlen)
{
	lv_node *p = &l->proxy;
	int rc = node_init(l, p, "netem-proxy", LV_IP_PROXY_CTL);
	if (rc)
		return rc;
	bin_arg(l, p, "netem-proxy");
	add_arg(p, "--control");
	add_arg(p, "%s:0", LV_IP_PROXY_CTL);
	add_arg(p, "--seed");
	add_arg(p, "%" PRIu64, l->sc->seed);
	add_arg(p, "--host");
	add_arg(p, "fleet=%s", LV_IP_FLEET);
	if ((rc = lv_start(l, p)) != 0 || (rc = proxy_control_port(l, err, errlen)) != 0)
		return rc;
	p->port = l->ctl_port;
	/* the ordinary links, as sim mode's base rules: anything, and the fleet's */
	cJSON *rules = cJSON_CreateArray();
	cJSON_AddItemToArray(rules, lv_link_rule(&l->sc->net_default, NULL, NULL, 1, 0));
	cJSON_AddItemToArray(rules, lv_link_rule(&l->sc->net_fleet, "fleet", NULL, 1, 0));
	cJSON *r = lv_proxy_call(l, "POST", "/rules", rules, err, errlen);
	if (!r)
		return -EIO;
	cJSON_Delete(r);
	/* the scheduler's endpoint: servers dial it */
	lv_node *s = &l->sched;
	snprintf(s->proxy_ip, sizeof s->proxy_ip, "127.0.1.2");
	s->proxy_port = proxy_endpoint(l, "scheduler", s->proxy_ip, s->ip, s->port, err, errlen);
	if (!s->proxy_port) {
		if (!err[0])
			snprintf(err, errlen, "netem-proxy: no endpoint for the scheduler");
		return -EIO;
	}
	rc = lh_listen(LV_IP_RELAY, &l->relay_port);
	if (rc < 0) {
		snprintf(err, errlen, "the fleet's discovery relay on %s: %s", LV_IP_RELAY, strerror(-rc));
		return rc;
	}
	l->relay_fd = rc;
	return 0;
}

/* Until GET /state answers (the scheduler is listening). */
static int wait_scheduler(live *l, char *err, size_t errlen)
{
	for (int waited = 0; waited < 15000; waited += 100) {
		lh_resp r;
		if (!lh_request(l->sched.ip, l->manage_port, "GET", "/state", NULL, NULL, 0, 500, &r)) {
			lh_resp_free(&r);
			return 0;
		}
		if (lp_reap(l->sched.pid, NULL) == 1) {
			l->sched.pid = 0;
			break;
		}
		if (lp_stop_signal())
			break;
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "fl-scheduler did not come up (see %s)", l->sched.log);
	return -EIO;
}

/* Wait (up to 3 s) until the scheduler lists `n` servers, so that ranks follow node ids as in
 * sim mode: a scenario's "server/0" is then rank 0, the first leader. Not an error when it
 * takes longer (a slow machine): the ranks are then in registration order. */
static void wait_registered(live *l, int n)
{
	for (int waited = 0; waited < 3000; waited += 20) {
		lh_resp r;
		if (!lh_request(l->sched.ip, l->manage_port, "GET", "/nodes", NULL, NULL, 0, 500, &r)) {
			int servers = 0;
			for (const char *p = r.body; (p = strstr(p, "\"SERVER\"")); p++)
				servers++;
			lh_resp_free(&r);
			if (servers >= n)
				return;
		}
		if (lp_stop_signal())
			return;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int lv_setup(live *l, char *err, size_t errlen)
{
	const scenario *sc = l->sc;
	static const char *const fresh[] = {"data", "logs", "fleet", "tmp", "bin", "pids", NULL};
	/* An earlier live run's files go (its recovery files would be recovered from), but nothing
	 * that a live run did not make: --out may name a directory with other things in it. */
	char marker[LV_PATH + 32];
	snprintf(marker, sizeof marker, "%s/.flbench-live", l->out);
	int ours = access(marker, F_OK) == 0;
	for (int i = 0; fresh[i]; i++) {
		char p[LV_PATH + 16];
		snprintf(p, sizeof p, "%s/%s", l->out, fresh[i]);
		if (!ours && access(p, F_OK) == 0) {
			snprintf(err, errlen, "%s exists and was not made by a live run: use another --out", p);
			return SC_EINVAL;
		}
	}
	for (int i = 0; fresh[i]; i++) {
		char p[LV_PATH + 16];
		snprintf(p, sizeof p, "%s/%s", l->out, fresh[i]);
		if (ours)
			rm_tree(p);
		if (strcmp(fresh[i], "pids") && mkdirs(p)) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			return SC_EIO;
		}
	}
	write_text(marker, "a live run's output directory (sim/live/live.c): its data, logs, fleet, tmp, bin and "
		   "pids are replaced by the next live run into it\n");
	snprintf(l->fleet_out, sizeof l->fleet_out, "%s/fleet", l->out);
	int rc = configure(l, err, errlen);
	if (!rc)
		rc = find_binaries(l, err, errlen);
	if (rc)
		return rc;
	char pids[LV_PATH + 8];
	snprintf(pids, sizeof pids, "%s/pids", l->out);
	if ((rc = lp_install(pids)) != 0) {
		snprintf(err, errlen, "signal handlers: %s", strerror(-rc));
		return rc;
	}
	l->port_state = ((uint64_t)getpid() << 20) ^ (uint64_t)l->t0.tv_nsec ^ sc->seed;
	lv_node *s = &l->sched;
	if ((rc = node_init(l, s, "scheduler", LV_IP_SCHED)) != 0 ||
	    (rc = lp_free_port(s->ip, &l->port_state, &s->port)) != 0)
		goto fail;
	do
		rc = lp_free_port(s->ip, &l->port_state, &l->manage_port);
	while (!rc && l->manage_port == s->port);
	if (rc)
		goto fail;
	if (l->use_proxy && (rc = start_proxy(l, err, errlen)) != 0)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &l->t0); /* t = 0: the cluster starts */
	sched_args(l, s);
	if ((rc = lv_start(l, s)) != 0 || (rc = wait_scheduler(l, err, errlen)) != 0)
		goto fail;
	for (int i = 0; i < sc->server_num; i++) {
		lv_node *n;
		if ((rc = lv_add_server(l, sc->server_num, &n, err, errlen)) != 0 || (rc = lv_start(l, n)) != 0)
			goto fail;
		wait_registered(l, i + 1);
	}
	l->server_total = sc->server_num;
	lv_node *f = &l->fleet;
	if ((rc = node_init(l, f, "fleet", LV_IP_FLEET)) != 0 ||
	    (rc = lp_free_port(LV_IP_FLEET, &l->port_state, &l->fleet_ctl_port)) != 0)
		goto fail;
	f->port = l->fleet_ctl_port; /* its address in summary.json: the control API */
	fleet_args(l, f);
	if ((rc = lv_start(l, f)) != 0)
		goto fail;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "%s: the live cluster could not start: %s", sc->file, strerror(rc < 0 ? -rc : rc));
	return rc;
}
