/*
 * fl_scheduler.c — the fl-scheduler process: flags and config.json, one rt_uv host running the
 * scheduler (node/sched/), signals, and the pid file fl-finish reads.
 *
 *   bin/fl-scheduler --scheduler_ip=127.0.0.1 --scheduler_port=6667 \
 *       --scheduler_manage_port=11202 --server_num=4 --config_file_path=./config.json
 *
 * SIGTERM/SIGINT: graceful exit (CLUSTER_EXIT, told to the servers). SIGPIPE is ignored.
 */
#include "../rt/rt_uv.h"
#include "../sched/sched.h"
#include "../util/flags.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

typedef struct opts {
	char scheduler_ip[FLAG_STR_MAX];
	int64_t scheduler_port;
	char scheduler_manage_ip[FLAG_STR_MAX];
	int64_t scheduler_manage_port;
	int64_t server_num;
	int64_t worker_num;
	char node_id[FLAG_STR_MAX];
	char config_file_path[FLAG_STR_MAX];
	char fl_name[FLAG_STR_MAX];
	int64_t fl_iteration_num;
	int64_t heartbeat_interval;
	int64_t node_timeout;
	int64_t instance_timeout;
	int64_t scaleout_timeout;
	char manage_token_file[FLAG_STR_MAX];
	char log_level[FLAG_STR_MAX];
} opts;

typedef struct app {
	rt_uv *u;
	rt_host *h;
	sched *s;
	int port;
	char pid_path[512];
	uv_signal_t sigterm, sigint;
	uv_timer_t exit_timer;
	int exiting;
} app;

#define NFLAGS 16
static void flag_table(opts *o, flag_def *d)
{
	flag_def t[NFLAGS] = {
		{"scheduler_ip", FLAG_STR, o->scheduler_ip, "address the servers connect to", 0},
		{"scheduler_port", FLAG_INT, &o->scheduler_port, "port the servers connect to", 0},
		{"scheduler_manage_ip", FLAG_STR, o->scheduler_manage_ip,
		 "address of the REST management API", 0},
		{"scheduler_manage_port", FLAG_INT, &o->scheduler_manage_port,
		 "port of the REST management API", 0},
		{"server_num", FLAG_INT, &o->server_num, "servers the cluster waits for", 0},
		{"worker_num", FLAG_INT, &o->worker_num, "workers (must be 0: not supported)", 0},
		{"node_id", FLAG_STR, o->node_id,
		 "this scheduler's id (else $MS_NODE_ID, else \"20\")", 0},
		{"config_file_path", FLAG_STR, o->config_file_path,
		 "MindSpore config.json (recovery, timeouts; flags may be set there too)", 0},
		{"fl_name", FLAG_STR, o->fl_name, "name of the FL job (reported by /queryInstance)", 0},
		{"fl_iteration_num", FLAG_INT, &o->fl_iteration_num,
		 "servers must agree on it (0 = take the first server's)", 0},
		{"heartbeat_interval", FLAG_MS, &o->heartbeat_interval, "heartbeat interval", 0},
		{"node_timeout", FLAG_MS, &o->node_timeout, "a server silent this long is dead", 0},
		{"instance_timeout", FLAG_MS, &o->instance_timeout,
		 "how long newInstance/enableFLS/disableFLS wait for the servers", 0},
		{"manage_token_file", FLAG_STR, o->manage_token_file,
		 "file holding the bearer token mutating management calls must send (without it they "
		 "are refused from outside 127.0.0.0/8)", 0},
		{"scaleout_timeout", FLAG_MS, &o->scaleout_timeout,
		 "a scale-out whose servers have not all arrived by then is rolled back (0 = never)", 0},
		{"log_level", FLAG_STR, o->log_level, "debug, info, warn or error", 0},
	};
	memcpy(d, t, sizeof t);
}

/* Keys of MindSpore's config.json that belong to the servers (or the fleet): accepted in a
 * shared config.json without a word. Anything else unknown is reported. */
static const char *const server_keys[] = {
	"enable_fl", "server_mode", "ms_role", "fl_server_port", "server_ip", "server_inter_port",
	"start_fl_job_threshold", "start_fl_job_time_window", "update_model_ratio",
	"update_model_time_window", "global_iteration_time_window", "client_epoch_num",
	"client_batch_size", "client_learning_rate", "replay_attack_time_diff", "http_url_prefix",
	"local_server_num", "model", "model_store_size", "model_seed", "sync_timeout",
	"allreduce_chunk", "encrypt_type", "share_secrets_ratio", "cipher_time_window",
	"reconstruct_secrets_threshold", "dp_eps", "dp_delta", "dp_norm_clip", "enable_ssl",
	"client_password", "server_password", "pki_verify", "root_first_ca_path",
	"root_second_ca_path", "equip_crl_path", "metrics", "pid", NULL,
};

static int in_list(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (!strcmp(*l, k))
			return 1;
	return 0;
}

static char *read_text(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			char *nb = cap > (16u << 20) ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf) {
		snprintf(err, errlen, "%s: too big or out of memory", path);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Read config.json into the flags not set on the command line, and its recovery section into
 * cfg. Returns 0 or -1 with err set. */
static int apply_config(opts *o, flag_def *defs, sched_config *cfg, char *meta_path,
			size_t meta_len, char *err, size_t errlen)
{
	char *text = read_text(o->config_file_path, err, errlen);
	if (!text)
		return -1;
	cJSON *root = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object", o->config_file_path);
		cJSON_Delete(root);
		return -1;
	}
	const char *ignore[64];
	size_t ni = 0;
	ignore[ni++] = "recovery";
	for (const cJSON *it = root->child; it; it = it->next) {
		int known = in_list(server_keys, it->string);
		for (size_t i = 0; i < NFLAGS && !known; i++)
			known = !strcmp(defs[i].name, it->string);
		if (!known && !in_list(ignore, it->string)) {
			fprintf(stderr, "fl-scheduler: warning: %s: unknown key '%s' (ignored)\n",
				o->config_file_path, it->string);
		}
		if ((in_list(server_keys, it->string) || !known) && ni < 63)
			ignore[ni++] = it->string;
	}
	ignore[ni] = NULL;
	int rc = flags_apply_json(defs, NFLAGS, root, o->config_file_path, ignore, err, errlen);
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(root, "recovery");
	if (!rc && cJSON_IsTrue(rec)) {
		cfg->recovery = 1;
		snprintf(meta_path, meta_len, "fl-scheduler-%lld.meta", (long long)o->scheduler_port);
	} else if (!rc && cJSON_IsObject(rec)) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(rec, "storage_type");
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(rec, "storage_file_path");
		const cJSON *typo = cJSON_GetObjectItemCaseSensitive(rec, "storge_file_path");
		for (const cJSON *it = rec->child; it; it = it->next)
			if (strcmp(it->string, "storage_type") && strcmp(it->string, "storage_file_path") &&
			    strcmp(it->string, "storge_file_path"))
				fprintf(stderr, "fl-scheduler: warning: %s: unknown key 'recovery.%s' "
					"(ignored)\n", o->config_file_path, it->string);
		if (!path && typo) {
			fprintf(stderr, "fl-scheduler: warning: %s: 'recovery.storge_file_path' is a "
				"misspelling of 'storage_file_path' (accepted)\n", o->config_file_path);
			path = typo;
		}
		if (type && (!cJSON_IsNumber(type) || type->valuedouble != 1)) {
			snprintf(err, errlen, "%s: recovery.storage_type must be 1 (file)",
				 o->config_file_path);
			rc = -1;
		} else if (!cJSON_IsString(path) || !path->valuestring[0]) {
			snprintf(err, errlen, "%s: recovery.storage_file_path must be a file path",
				 o->config_file_path);
			rc = -1;
		} else {
			cfg->recovery = 1;
			/* The scheduler's own file next to it: the docs point storage_file_path at
			 * config.json itself, which must not be overwritten. */
			snprintf(meta_path, meta_len, "%s.scheduler-%lld", path->valuestring,
				 (long long)o->scheduler_port);
		}
	} else if (!rc && rec && !cJSON_IsFalse(rec) && !cJSON_IsNull(rec)) {
		snprintf(err, errlen, "%s: recovery must be an object or a boolean",
			 o->config_file_path);
		rc = -1;
	}
	cJSON_Delete(root);
	return rc ? -1 : 0;
}

/* ---- the pid file fl-finish reads ---- */

static void write_pid_file(app *a)
{
	if (!a->pid_path[0])
		return;
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", a->pid_path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "# flbench cluster of scheduler_port %d: what node_id pid\n", a->port);
	if (!a->exiting)
		fprintf(f, "scheduler - %d\n", (int)getpid());
	if (a->s) {
		sched_pid pids[SCHED_MAX_NODES * 2];
		size_t n = sched_get_pids(a->s, pids, SCHED_MAX_NODES * 2);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s %s %lld\n", pids[i].what, pids[i].node_id,
				(long long)pids[i].pid);
	}
	if (fclose(f) == 0)
		rename(tmp, a->pid_path);
	else
		unlink(tmp);
}

static void on_change(void *data, sched *s)
{
	app *a = data;
	a->s = s;
	write_pid_file(a);
}

/* ---- signals ---- */

static void on_exit_timer(uv_timer_t *t)
{
	app *a = t->data;
	sched_destroy(a->s);
	a->s = NULL;
	rt_uv_stop(a->u);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	app *a = sig->data;
	if (a->exiting) {
		if (signum == SIGINT) /* a second Ctrl-C: now */
			on_exit_timer(&a->exit_timer);
		return;
	}
	a->exiting = 1;
	rt_log(a->h, RT_LOG_INFO, "signal %d: the cluster exits", signum);
	sched_shutdown(a->s);
	write_pid_file(a);
	/* Let CLUSTER_EXIT reach the servers before the connections go. */
	uv_timer_start(&a->exit_timer, on_exit_timer, 300, 0);
}

/* Lengths were checked; the precision only tells the compiler so. */
static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%.*s", (int)(n - 1), src);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	opts o;
	memset(&o, 0, sizeof o);
	snprintf(o.scheduler_ip, sizeof o.scheduler_ip, "127.0.0.1");
	o.scheduler_port = 6667;
	snprintf(o.scheduler_manage_ip, sizeof o.scheduler_manage_ip, "127.0.0.1");
	o.scheduler_manage_port = 11202;
	o.server_num = 1;
	o.heartbeat_interval = 3000;
	o.node_timeout = 30000;
	o.instance_timeout = 10000;
	o.scaleout_timeout = 300000;
	snprintf(o.fl_name, sizeof o.fl_name, "Lenet");
	snprintf(o.log_level, sizeof o.log_level, "info");
	flag_def defs[NFLAGS];
	flag_table(&o, defs);
	char err[512];
	int rc = flags_parse(defs, NFLAGS, argc, argv, "fl-scheduler",
			     "The Scheduler of an flbench (MindSpore Federated style) FL cluster.",
			     stdout, err, sizeof err);
	if (rc == FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "fl-scheduler: %s\n", err);
		return 2;
	}
	sched_config cfg;
	sched_config_init(&cfg);
	char meta_path[FLAG_STR_MAX + 64] = "";
	if (o.config_file_path[0] &&
	    apply_config(&o, defs, &cfg, meta_path, sizeof meta_path, err, sizeof err)) {
		fprintf(stderr, "fl-scheduler: %s\n", err);
		return 2;
	}
	if (!o.node_id[0]) {
		const char *env = getenv("MS_NODE_ID");
		snprintf(o.node_id, sizeof o.node_id, "%s", env && *env ? env : "20");
	}
	const char *bad = NULL;
	if (o.scheduler_port < 1 || o.scheduler_port > 65535)
		bad = "--scheduler_port must be 1..65535";
	else if (o.scheduler_manage_port < 0 || o.scheduler_manage_port > 65535)
		bad = "--scheduler_manage_port must be 0..65535";
	else if (o.server_num < 1 || o.server_num > SCHED_MAX_NODES)
		bad = "--server_num must be 1..256";
	else if (o.worker_num != 0)
		bad = "--worker_num must be 0 (the Worker is not supported)";
	else if (strlen(o.node_id) >= SCHED_ID_MAX)
		bad = "--node_id is too long (31 bytes at most)";
	else if (strlen(o.scheduler_ip) >= sizeof cfg.ip || !sched_ip_ok(o.scheduler_ip))
		bad = "--scheduler_ip must be an IPv4 address";
	else if (strlen(o.scheduler_manage_ip) >= sizeof cfg.manage_ip ||
		 !sched_ip_ok(o.scheduler_manage_ip))
		bad = "--scheduler_manage_ip must be an IPv4 address";
	else if (o.heartbeat_interval < 1 || o.node_timeout < 1 || o.instance_timeout < 1)
		bad = "heartbeat_interval, node_timeout and instance_timeout must be positive";
	else if (o.scaleout_timeout < 0)
		bad = "--scaleout_timeout must not be negative";
	else if (strlen(o.fl_name) >= sizeof cfg.fl_name)
		bad = "--fl_name is too long (63 bytes at most)";
	else if (o.fl_iteration_num < 0)
		bad = "--fl_iteration_num must not be negative";
	else if (rt_log_level_parse(o.log_level) < 0)
		bad = "--log_level must be debug, info, warn or error";
	if (bad) {
		fprintf(stderr, "fl-scheduler: %s\n", bad);
		return 2;
	}
	copy_str(cfg.node_id, sizeof cfg.node_id, o.node_id);
	copy_str(cfg.ip, sizeof cfg.ip, o.scheduler_ip);
	copy_str(cfg.manage_ip, sizeof cfg.manage_ip, o.scheduler_manage_ip);
	cfg.port = (uint16_t)o.scheduler_port;
	cfg.manage_port = (uint16_t)o.scheduler_manage_port;
	cfg.server_num = (int)o.server_num;
	cfg.fl_iteration_num = o.fl_iteration_num;
	copy_str(cfg.fl_name, sizeof cfg.fl_name, o.fl_name);
	cfg.heartbeat_interval_ms = (uint64_t)o.heartbeat_interval;
	cfg.node_timeout_ms = (uint64_t)o.node_timeout;
	cfg.instance_timeout_ms = (uint64_t)o.instance_timeout;
	cfg.scale_out_timeout_ms = (uint64_t)o.scaleout_timeout;
	if (o.manage_token_file[0]) {
		char terr[300];
		char *tok = read_text(o.manage_token_file, terr, sizeof terr);
		size_t n = tok ? strlen(tok) : 0;
		while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			tok[--n] = '\0';
		const char *bad_tok = !tok ? terr : !n ? "the file is empty" :
				      n >= sizeof cfg.manage_token ? "the token is longer than 255 bytes" :
				      strpbrk(tok, " \t\r\n") ? "the token holds white space" : NULL;
		if (bad_tok) {
			fprintf(stderr, "fl-scheduler: --manage_token_file=%s: %s\n", o.manage_token_file, bad_tok);
			free(tok);
			return 2;
		}
		memcpy(cfg.manage_token, tok, n + 1);
		free(tok);
	}

	/* Metadata lives in the directory of its path, under its base name. */
	char dir_buf[sizeof meta_path], base_buf[sizeof meta_path];
	const char *data_dir = ".";
	if (cfg.recovery) {
		snprintf(dir_buf, sizeof dir_buf, "%s", meta_path);
		snprintf(base_buf, sizeof base_buf, "%s", meta_path);
		data_dir = dirname(dir_buf);
		const char *base = basename(base_buf);
		if (strlen(base) >= sizeof cfg.meta_file || base[0] == '.') {
			fprintf(stderr, "fl-scheduler: recovery file name %s is not usable\n", base);
			return 2;
		}
		snprintf(cfg.meta_file, sizeof cfg.meta_file, "%s", base);
	}

	app a;
	memset(&a, 0, sizeof a);
	a.port = (int)o.scheduler_port;
	const char *tmpdir = getenv("TMPDIR");
	snprintf(a.pid_path, sizeof a.pid_path, "%s/flbench-%d.pids",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", a.port);
	a.u = rt_uv_new();
	if (!a.u) {
		fprintf(stderr, "fl-scheduler: out of memory\n");
		return 1;
	}
	rt_uv_host_config hc = {
		.name = "scheduler",
		.ip = o.scheduler_ip,
		.data_dir = data_dir,
		.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32),
	};
	rc = rt_uv_host_new(a.u, &hc, &a.h);
	if (rc) {
		fprintf(stderr, "fl-scheduler: cannot use data directory %s: %s\n", data_dir,
			rt_strerror(rc));
		rt_uv_free(a.u);
		return 1;
	}
	rt_uv_host_set_log_level(a.h, rt_log_level_parse(o.log_level));
	cfg.on_change = on_change;
	cfg.cb_data = &a;
	rc = sched_new(a.h, &cfg, &a.s);
	if (rc) {
		if (rc == RT_EADDRINUSE)
			fprintf(stderr, "fl-scheduler: scheduler_port %d is already in use\n", a.port);
		else if (rc == SCHED_EMANAGE_INUSE)
			fprintf(stderr, "fl-scheduler: scheduler_manage_port %lld is already in use\n",
				(long long)o.scheduler_manage_port);
		else if (rc == SCHED_EMETA)
			fprintf(stderr, "fl-scheduler: the recovery metadata %s/%s is corrupt or "
				"truncated (see above); refusing to start. Move it away to start a new "
				"cluster.\n", data_dir, cfg.meta_file);
		else
			fprintf(stderr, "fl-scheduler: cannot start: %s\n", fl_strerror(rc));
		rt_uv_free(a.u);
		return 1;
	}
	write_pid_file(&a);
	printf("fl-scheduler: node %s, servers connect to %s:%d, management API on http://%s:%u, "
	       "server_num=%lld%s\n", o.node_id, o.scheduler_ip, a.port, o.scheduler_manage_ip,
	       sched_manage_port(a.s), (long long)o.server_num,
	       cfg.recovery ? " (recovery on)" : "");
	fflush(stdout);

	uv_loop_t *loop = rt_uv_loop(a.u);
	uv_signal_init(loop, &a.sigterm);
	uv_signal_init(loop, &a.sigint);
	uv_timer_init(loop, &a.exit_timer);
	a.sigterm.data = a.sigint.data = a.exit_timer.data = &a;
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	rt_uv_run(a.u);
	if (a.s) {
		sched_destroy(a.s);
		a.s = NULL;
	}
	rt_uv_free(a.u);
	return 0;
}
