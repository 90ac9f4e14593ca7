/*
 * fl_server.c — the fl-server process: flags and config.json, one rt_uv host per server
 * (node/server/), --local_server_num forking, signals, and two small envelope tools for shell
 * tests and operators.
 *
 *   bin/fl-server --scheduler_ip=127.0.0.1 --scheduler_port=6667 --fl_server_port=6668 \
 *       --server_num=4 --start_fl_job_threshold=8 --local_server_num=3 \
 *       --config_file_path=./config.json
 *
 * With --local_server_num=K the process forks K servers: node ids --node_id (else $MS_NODE_ID,
 * else 0) counting up, device ports fl_server_port+i, data directories <data_dir>/server_<id>.
 * Each prints "Server started successfully." once it serves devices. The parent forwards
 * SIGTERM/SIGINT and exits when the children have.
 *
 * Tools (no cluster involved):
 *   fl-server --make_envelope='{"fl_id":"d1","timestamp":"now",...}' [--envelope_fill=0.5]
 *       writes a device-API body to stdout: the header ("now" becomes the epoch ms) and, with
 *       --envelope_fill, every tensor of --model filled with that value.
 *   fl-server --read_envelope < body
 *       prints the header JSON, then "tensor NAME COUNT HASH" lines and "model_hash HASH" (the
 *       FNV-1a of all tensors in model order, as the servers log it). Exit 3 if not an envelope.
 */
#include "../model/model.h"
#include "../proto/envelope.h"
#include "../proto/tls.h"
#include "../rt/rt_uv.h"
#include "../server/srv.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_LOCAL 64

typedef struct opts {
	int64_t local_server_num;
	char config_file_path[FLAG_STR_MAX];
	char data_dir[FLAG_STR_MAX];
	char log_level[FLAG_STR_MAX];
	char make_envelope[FLAG_STR_MAX]; /* a header of up to 255 bytes */
	double envelope_fill;
	int read_envelope;
} opts;

typedef struct app {
	rt_uv *u;
	rt_host *h;
	srv *s;
	uv_signal_t sigterm, sigint;
	uv_timer_t stop_timer;
	int exit_code;
	int stopping;
} app;

/* Keys of a shared MindSpore config.json that belong to the scheduler or to features we do not
 * have: accepted without a word. */
static const char *const foreign_keys[] = {
	"scheduler_manage_ip", "scheduler_manage_port", "worker_num", "instance_timeout",
	"enable_fl", "server_mode", "ms_role", "encrypt_type", "share_secrets_ratio",
	"cipher_time_window", "reconstruct_secrets_threshold", "dp_eps", "dp_delta",
	"dp_norm_clip", "enable_ssl", "client_password", "server_password", "pki_verify",
	"root_first_ca_path", "root_second_ca_path", "equip_crl_path", "sign_k", "sign_eps",
	"sign_thr_ratio", "sign_global_lr", "sign_dim_out", NULL,
};

/* ---- envelope tools ---- */

static uint8_t *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);

	while (buf) {
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int make_envelope(const srv_config *cfg, const opts *o, int fill)
{
	cJSON *h = cJSON_Parse(o->make_envelope);
	model_def def;
	env_tensor t[MODEL_MAX_TENSORS];
	float *w = NULL;
	size_t nt = 0, len = 0;
	uint8_t *out = NULL;

	if (!cJSON_IsObject(h)) {
		fprintf(stderr, "fl-server: --make_envelope: not a JSON object\n");
		cJSON_Delete(h);
		return 2;
	}
	cJSON *ts = cJSON_GetObjectItemCaseSensitive(h, "timestamp");
	if (cJSON_IsString(ts) && !strcmp(ts->valuestring, "now")) {
		char buf[32];
		snprintf(buf, sizeof buf, "%" PRId64, wall_ms());
		cJSON_ReplaceItemInObjectCaseSensitive(h, "timestamp", cJSON_CreateString(buf));
	}
	if (fill) {
		if (model_def_parse(cfg->model, &def)) {
			fprintf(stderr, "fl-server: unknown model '%s'\n", cfg->model);
			cJSON_Delete(h);
			return 2;
		}
		w = malloc(def.total * sizeof(float));
		for (size_t i = 0; w && i < def.total; i++)
			w[i] = (float)o->envelope_fill;
		for (size_t i = 0; w && i < def.ntensors; i++) {
			t[i].name = def.tensors[i].name;
			t[i].data = w + def.tensors[i].offset;
			t[i].count = def.tensors[i].count;
		}
		nt = w ? def.ntensors : 0;
	}
	int rc = envelope_encode(h, t, nt, &out, &len);
	cJSON_Delete(h);
	free(w);
	if (rc) {
		fprintf(stderr, "fl-server: %s\n", envelope_strerror(rc));
		return 1;
	}
	fwrite(out, 1, len, stdout);
	free(out);
	return 0;
}

static int read_envelope(void)
{
	size_t len = 0;
	uint8_t *buf = read_all(stdin, &len);
	cJSON *h = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;

	if (!buf) {
		fprintf(stderr, "fl-server: out of memory\n");
		return 1;
	}
	if (envelope_decode(buf, len, &h, &t, &nt) != 0) {
		fwrite(buf, 1, len, stdout);
		fputc('\n', stdout);
		free(buf);
		return 3;
	}
	char *text = cJSON_PrintUnformatted(h);
	printf("%s\n", text ? text : "{}");
	free(text);
	uint64_t all = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < nt; i++) {
		float *w = malloc(t[i].count * sizeof(float) + 1);
		if (!w)
			break;
		memcpy(w, t[i].data, t[i].count * sizeof(float));
		printf("tensor %s %zu %016" PRIx64 "\n", t[i].name, t[i].count,
		       model_hash(w, t[i].count));
		/* FNV-1a continued over the tensors in order = model_hash of the flat model */
		for (size_t k = 0; k < t[i].count; k++) {
			uint32_t u;
			memcpy(&u, &w[k], 4);
			for (int b = 0; b < 4; b++) {
				all ^= (u >> (8 * b)) & 0xffu;
				all *= 0x100000001b3ULL;
			}
		}
		free(w);
	}
	if (nt)
		printf("model_hash %016" PRIx64 "\n", all);
	cJSON_Delete(h);
	free(t);
	free(buf);
	return 0;
}

/* ---- one server ---- */

static void stop_now(uv_timer_t *t)
{
	app *a = t->data;
	srv_destroy(a->s);
	a->s = NULL;
	rt_uv_stop(a->u);
}

static void stop_soon(app *a)
{
	if (a->stopping)
		return;
	a->stopping = 1;
	/* Never inside a server callback: the server is freed from a clean stack. */
	uv_timer_start(&a->stop_timer, stop_now, 0, 0);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	app *a = sig->data;
	rt_log(a->h, RT_LOG_INFO, "signal %d: stopping", signum);
	stop_soon(a);
}

static void on_event(void *data, srv *s, int ev)
{
	app *a = data;
	(void)s;
	switch (ev) {
	case SRV_EV_READY:
		printf("Server started successfully.\n");
		fflush(stdout);
		break;
	case SRV_EV_REFUSED:
		a->exit_code = 1;
		stop_soon(a);
		break;
	case SRV_EV_EXIT:
		stop_soon(a);
		break;
	case SRV_EV_REMOVED:
		/* A scaled-in server stays up (idle) until it is told to stop, as MindSpore's. */
		rt_log(a->h, RT_LOG_INFO, "scaled in: idle until SIGTERM");
		break;
	default:
		break;
	}
}

static int run_server(srv_config *cfg, const opts *o)
{
	app a;
	char dir[FLAG_STR_MAX * 2 + 16], name[64];
	int rc;

	memset(&a, 0, sizeof a);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof dir, "%s/server_%s", o->data_dir, cfg->node_id);
	snprintf(name, sizeof name, "server/%.40s", cfg->node_id); /* ids are < 32 bytes */
	a.u = rt_uv_new();
	if (!a.u) {
		fprintf(stderr, "fl-server: out of memory\n");
		return 1;
	}
	rt_uv_host_config hc = {
		.name = name,
		.ip = cfg->server_ip[0] ? cfg->server_ip : "127.0.0.1",
		.data_dir = dir,
		.seed = (uint64_t)wall_ms() ^ ((uint64_t)getpid() << 32),
	};
	rc = rt_uv_host_new(a.u, &hc, &a.h);
	if (rc) {
		fprintf(stderr, "fl-server: node %s: cannot use data directory %s: %s\n",
			cfg->node_id, dir, rt_strerror(rc));
		rt_uv_free(a.u);
		return 1;
	}
	rt_uv_host_set_log_level(a.h, rt_log_level_parse(o->log_level));
	cfg->pid = getpid();
	cfg->on_event = on_event;
	cfg->event_data = &a;
	uv_loop_t *loop = rt_uv_loop(a.u);
	uv_timer_init(loop, &a.stop_timer);
	a.stop_timer.data = &a;
	rc = srv_new(a.h, cfg, &a.s);
	if (rc) {
		if (rc == RT_EADDRINUSE)
			fprintf(stderr, "fl-server: node %s: fl_server_port %lld or server_inter_port "
				"%lld is already in use\n", cfg->node_id, (long long)cfg->fl_server_port,
				(long long)cfg->server_inter_port);
		else
			fprintf(stderr, "fl-server: node %s: cannot start: %s (see the log above)\n",
				cfg->node_id, fl_strerror(rc));
		rt_uv_free(a.u);
		return 1;
	}
	uv_signal_init(loop, &a.sigterm);
	uv_signal_init(loop, &a.sigint);
	a.sigterm.data = a.sigint.data = &a;
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	rt_uv_run(a.u);
	srv_destroy(a.s);
	a.s = NULL;
	rt_uv_free(a.u);
	return a.exit_code;
}

/* ---- the parent of --local_server_num children ---- */

static pid_t children[MAX_LOCAL];
static int nchildren;

static void forward(int sig)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], sig);
}

static int run_local(srv_config *cfg, const opts *o)
{
	int k = (int)o->local_server_num, worst = 0;
	char *end;
	long long base = strtoll(cfg->node_id, &end, 10);
	int numeric = *cfg->node_id && !*end && base >= 0;
	char id0[FLAG_STR_MAX];

	snprintf(id0, sizeof id0, "%s", cfg->node_id);
	struct sigaction sa = { 0 };
	sa.sa_handler = forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fflush(stdout);
	for (int i = 0; i < k; i++) {
		srv_config c = *cfg;
		if (numeric)
			snprintf(c.node_id, sizeof c.node_id, "%lld", base + i);
		else if (i)
			snprintf(c.node_id, sizeof c.node_id, "%.200s-%d", id0, i);
		c.fl_server_port += i;
		if (c.server_inter_port)
			c.server_inter_port += i;
		if (c.advertise_inter_port) /* one proxy endpoint per child, numbered as its ports */
			c.advertise_inter_port += i;
		pid_t p = fork();
		if (p < 0) {
			fprintf(stderr, "fl-server: fork: %s\n", strerror(errno));
			forward(SIGTERM);
			worst = 1;
			break;
		}
		if (p == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			exit(run_server(&c, o));
		}
		children[nchildren++] = p;
	}
	for (int left = nchildren; left > 0;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < nchildren; i++)
			if (children[i] == p)
				children[i] = -1;
		left--;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (code && !worst && WIFEXITED(st)) {
			/* one server could not start: do not leave a half cluster behind */
			worst = code;
			forward(SIGTERM);
		}
	}
	return worst;
}

/* ---- main ---- */

static int apply_config(srv_config *cfg, flag_def *defs, size_t n, const char *path)
{
	char err[512];
	FILE *f = fopen(path, "rb");
	size_t len;

	if (!f) {
		fprintf(stderr, "fl-server: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *text = read_all(f, &len);
	fclose(f);
	cJSON *root = text ? cJSON_ParseWithLength((const char *)text, len) : NULL;
	free(text);
	if (!cJSON_IsObject(root)) {
		fprintf(stderr, "fl-server: %s: not a JSON object\n", path);
		cJSON_Delete(root);
		return -1;
	}
	const char *ignore[128];
	size_t ni = 0;
	for (size_t i = 0; foreign_keys[i] && ni < 100; i++)
		ignore[ni++] = foreign_keys[i];
	for (const cJSON *it = root->child; it && ni < 127; it = it->next) {
		int known = !strcmp(it->string, "recovery") || !strcmp(it->string, "metrics");
		for (size_t i = 0; i < n && !known; i++)
			known = !strcmp(defs[i].name, it->string);
		for (size_t i = 0; foreign_keys[i] && !known; i++)
			known = !strcmp(foreign_keys[i], it->string);
		if (!known) {
			fprintf(stderr, "fl-server: warning: %s: unknown key '%s' (ignored)\n", path,
				it->string);
			ignore[ni++] = it->string;
		}
	}
	ignore[ni] = NULL;
	int rc = srv_config_apply_json(cfg, defs, n, root, ignore, err, sizeof err);
	cJSON_Delete(root);
	if (rc) {
		fprintf(stderr, "fl-server: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

/* The whole of a small file (certificates, secrets: at most 1 MiB), malloc'd, NUL-terminated
 * one past *len; NULL with err set. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap + 1);
	size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > cap) {
		snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" : bad ? "read error"
									 : "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* --enable_ssl: read the certificate files (node code reaches files only through rt.h) and make
 * the tls_ctx the device API serves with. 0, or -1 with err. */
static int load_tls(srv_config *cfg, char *err, size_t errlen)
{
	size_t cert_len = 0, ca_len = 0;
	uint8_t *ca = NULL, *cert = slurp(cfg->server_cert_path, &cert_len, err, errlen);
	if (!cert)
		return -1;
	if (cfg->ca_cert_path[0] && !(ca = slurp(cfg->ca_cert_path, &ca_len, err, errlen))) {
		free(cert);
		return -1;
	}
	tls_ctx_config tc = { .server = 1, .cert = cert, .cert_len = cert_len,
			      .password = cfg->server_password, .ca = ca, .ca_len = ca_len,
			      .cipher_list = cfg->cipher_list };
	char why[256];
	int rc = tls_ctx_new(&tc, &cfg->tls, why, sizeof why);
	free(cert);
	free(ca);
	if (rc)
		snprintf(err, errlen, "enable_ssl: %s: %s", cfg->server_cert_path, why);
	return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
	srv_config cfg;
	opts o;
	flag_def defs[SRV_CONFIG_MAX_FLAGS + 8];
	char err[512];

	signal(SIGPIPE, SIG_IGN);
	srv_config_init(&cfg);
	memset(&o, 0, sizeof o);
	o.local_server_num = 1;
	snprintf(o.data_dir, sizeof o.data_dir, "./fl-server-data");
	snprintf(o.log_level, sizeof o.log_level, "info");
	size_t n = srv_config_flags(&cfg, defs, SRV_CONFIG_MAX_FLAGS);
	size_t nsrv = n;
	defs[n++] = (flag_def){ "local_server_num", FLAG_INT, &o.local_server_num,
				"servers this process starts (forked), ids and ports counting up", 0 };
	defs[n++] = (flag_def){ "config_file_path", FLAG_STR, o.config_file_path,
				"config.json: any knob above by name, plus recovery", 0 };
	defs[n++] = (flag_def){ "data_dir", FLAG_STR, o.data_dir,
				"recovery files and iterations.jsonl go to <data_dir>/server_<id>", 0 };
	defs[n++] = (flag_def){ "log_level", FLAG_STR, o.log_level, "debug, info, warn or error", 0 };
	defs[n++] = (flag_def){ "make_envelope", FLAG_STR, o.make_envelope,
				"tool: write an envelope with this JSON header to stdout", 0 };
	defs[n++] = (flag_def){ "envelope_fill", FLAG_DOUBLE, &o.envelope_fill,
				"tool: with --make_envelope, add every tensor of --model filled with "
				"this value", 0 };
	defs[n++] = (flag_def){ "read_envelope", FLAG_BOOL, &o.read_envelope,
				"tool: print the header and tensor hashes of an envelope on stdin", 0 };
	int rc = flags_parse(defs, n, argc, argv, "fl-server",
			     "An FL Server of an flbench (MindSpore Federated style) cluster.", stdout,
			     err, sizeof err);
	if (rc == FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "fl-server: %s\n", err);
		return 2;
	}
	if (o.read_envelope)
		return read_envelope();
	if (o.make_envelope[0]) {
		int fill = 0;
		for (size_t i = 0; i < n; i++)
			if (defs[i].ptr == &o.envelope_fill)
				fill = defs[i].seen;
		return make_envelope(&cfg, &o, fill);
	}
	if (o.config_file_path[0] && apply_config(&cfg, defs, n, o.config_file_path))
		return 2;
	int id_seen = 0;
	for (size_t i = 0; i < nsrv; i++)
		if (defs[i].ptr == cfg.node_id)
			id_seen = defs[i].seen;
	const char *env = getenv("MS_NODE_ID");
	if (!id_seen && env && *env)
		snprintf(cfg.node_id, sizeof cfg.node_id, "%s", env);
	if (srv_config_validate(&cfg, err, sizeof err)) {
		fprintf(stderr, "fl-server: %s\n", err);
		return 2;
	}
	if (o.local_server_num < 1 || o.local_server_num > MAX_LOCAL ||
	    cfg.fl_server_port + o.local_server_num - 1 > 65535) {
		fprintf(stderr, "fl-server: --local_server_num must be in 1..%d (and the ports must "
			"fit below 65536)\n", MAX_LOCAL);
		return 2;
	}
	if (rt_log_level_parse(o.log_level) < 0) {
		fprintf(stderr, "fl-server: --log_level must be debug, info, warn or error\n");
		return 2;
	}
	if (cfg.enable_ssl && load_tls(&cfg, err, sizeof err)) {
		fprintf(stderr, "fl-server: %s\n", err);
		return 2;
	}
	if (mkdir(o.data_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "fl-server: cannot create %s: %s\n", o.data_dir, strerror(errno));
		return 1;
	}
	if (o.local_server_num == 1)
		return run_server(&cfg, &o);
	return run_local(&cfg, &o);
}
