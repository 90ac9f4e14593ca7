/*
 * srv_config.c — the server's knobs: MindSpore's defaults, one flag table for the command line
 * and config.json, and the checks that stop start-up with a message naming the bad value.
 */
#include "srv_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void srv_config_init(srv_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->node_id, sizeof c->node_id, "0");
	c->fl_server_port = 6668;
	c->server_inter_port = 0;
	snprintf(c->scheduler_ip, sizeof c->scheduler_ip, "127.0.0.1");
	c->scheduler_port = 6667;
	c->server_num = 1;
	snprintf(c->fl_name, sizeof c->fl_name, "Lenet");
	c->start_fl_job_threshold = 1;
	c->start_fl_job_time_window = 300000;
	c->update_model_ratio = 1.0;
	c->update_model_time_window = 300000;
	c->global_iteration_time_window = 3600000;
	c->fl_iteration_num = 20;
	c->client_epoch_num = 25;
	c->client_batch_size = 32;
	c->client_learning_rate = 0.001;
	c->replay_attack_time_diff = 600000;
	snprintf(c->model, sizeof c->model, "lenet5");
	c->model_store_size = 3;
	c->model_seed = 0;
	c->recovery = 0;
	c->sync_timeout = 30000;
	c->allreduce_chunk = 262144;
	c->heartbeat_interval = 3000;
	c->node_timeout = 30000;
	c->connection_num = 10000;
	c->upload_norm_bound = 0;
	c->max_data_size = 100000000;
}

#define F(n, t, p, h) \
	do { \
		if (k < max) \
			defs[k] = (flag_def){ .name = (n), .type = (t), .ptr = (p), .help = (h) }; \
		k++; \
	} while (0)

size_t srv_config_flags(srv_config *c, flag_def *defs, size_t max)
{
	size_t k = 0;

	F("node_id", FLAG_STR, c->node_id, "this server's node id (also MS_NODE_ID)");
	F("server_ip", FLAG_STR, c->server_ip, "address the server listens on (\"\" = host's)");
	F("fl_server_port", FLAG_INT, &c->fl_server_port, "device HTTP port");
	F("server_inter_port", FLAG_INT, &c->server_inter_port,
	  "server<->server port (0 = any free port)");
	F("advertise_ip", FLAG_STR, c->advertise_ip,
	  "inter-node address other servers are told to dial, e.g. a proxy's (\"\" = server_ip)");
	F("advertise_inter_port", FLAG_INT, &c->advertise_inter_port,
	  "inter-node port other servers are told to dial (0 = the port listened on)");
	F("scheduler_ip", FLAG_STR, c->scheduler_ip, "scheduler address");
	F("scheduler_port", FLAG_INT, &c->scheduler_port,
	  "scheduler port (0 = standalone, one server without a scheduler)");
	F("server_num", FLAG_INT, &c->server_num, "servers in the cluster");
	F("fl_name", FLAG_STR, c->fl_name, "name of the federated job");
	F("start_fl_job_threshold", FLAG_INT, &c->start_fl_job_threshold,
	  "devices an iteration needs in startFLJob");
	F("start_fl_job_time_window", FLAG_MS, &c->start_fl_job_time_window,
	  "startFLJob round window (ms or with unit)");
	F("update_model_ratio", FLAG_DOUBLE, &c->update_model_ratio,
	  "updateModel threshold as a fraction of start_fl_job_threshold, in (0, 1]");
	F("update_model_time_window", FLAG_MS, &c->update_model_time_window,
	  "updateModel round window");
	F("global_iteration_time_window", FLAG_MS, &c->global_iteration_time_window,
	  "bound on a whole iteration");
	F("fl_iteration_num", FLAG_INT, &c->fl_iteration_num, "iterations of the job");
	F("client_epoch_num", FLAG_INT, &c->client_epoch_num, "local epochs per device");
	F("client_batch_size", FLAG_INT, &c->client_batch_size, "device mini-batch size");
	F("client_learning_rate", FLAG_DOUBLE, &c->client_learning_rate, "device learning rate");
	F("replay_attack_time_diff", FLAG_MS, &c->replay_attack_time_diff,
	  "largest accepted difference between a request's timestamp and the server clock");
	F("http_url_prefix", FLAG_STR, c->http_url_prefix, "prefix of the device API paths");
	F("model", FLAG_STR, c->model, "lenet5 or synthetic:N");
	F("model_store_size", FLAG_INT, &c->model_store_size, "committed models kept");
	F("model_seed", FLAG_INT, &c->model_seed, "seed of iteration 0's weights (with fl_name)");
	F("recovery", FLAG_BOOL, &c->recovery, "persist state and models and reload them at start");
	F("sync_timeout", FLAG_MS, &c->sync_timeout,
	  "how long the leader waits for the servers in each iteration phase");
	F("allreduce_chunk", FLAG_INT, &c->allreduce_chunk, "floats per all-reduce frame");
	F("heartbeat_interval", FLAG_MS, &c->heartbeat_interval, "heartbeat period to the scheduler");
	F("node_timeout", FLAG_MS, &c->node_timeout, "scheduler silence before it counts as lost");
	F("connection_num", FLAG_INT, &c->connection_num,
	  "device connections served at once; past it a new one is answered 503 and closed");
	F("upload_norm_bound", FLAG_DOUBLE, &c->upload_norm_bound,
	  "an updateModel whose weights have an L2 norm above this is a RequestError (0 = no bound)");
	F("max_data_size", FLAG_INT, &c->max_data_size,
	  "a startFLJob claiming more samples than this is a RequestError");
	F("enable_ssl", FLAG_BOOL, &c->enable_ssl, "serve the device API over TLS (HTTPS)");
	F("server_cert_path", FLAG_STR, c->server_cert_path,
	  "with enable_ssl: the server certificate and key, PKCS#12 (server.p12) or PEM");
	F("server_password", FLAG_STR, c->server_password, "password of server_cert_path");
	F("ca_cert_path", FLAG_STR, c->ca_cert_path,
	  "with enable_ssl: PEM CA; devices must present a certificate it signed (\"\" = no check)");
	F("cipher_list", FLAG_STR, c->cipher_list,
	  "TLS 1.2 cipher suites, OpenSSL syntax (\"\" = OpenSSL's default)");
	return k < max ? k : max;
}

#undef F

int srv_config_apply_json(srv_config *c, flag_def *defs, size_t n, const cJSON *root,
			  const char *const *extra_ignore, char *err, size_t errlen)
{
	const char *ignore[64];
	size_t ni = 0;

	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "config file: the top level must be a JSON object");
		return SRV_ECONFIG;
	}
	ignore[ni++] = "recovery";
	ignore[ni++] = "metrics";
	for (size_t i = 0; extra_ignore && extra_ignore[i] && ni < 63; i++)
		ignore[ni++] = extra_ignore[i];
	ignore[ni] = NULL;
	int rc = flags_apply_json(defs, n, root, "config", ignore, err, errlen);
	if (rc)
		return rc;
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(root, "recovery");
	int seen = 0;
	for (size_t i = 0; i < n; i++)
		if (defs[i].ptr == &c->recovery)
			seen = defs[i].seen;
	if (rec && !seen) {
		if (cJSON_IsBool(rec))
			c->recovery = cJSON_IsTrue(rec);
		else if (cJSON_IsObject(rec))
			c->recovery = 1; /* MindSpore's {"storage_type": 1, "storage_file_path": ...} */
		else {
			snprintf(err, errlen, "config.recovery: expected a bool or an object");
			return SRV_ECONFIG;
		}
	}
	return 0;
}

int64_t srv_config_update_threshold(const srv_config *c)
{
	double t = ceil((double)c->start_fl_job_threshold * c->update_model_ratio - 1e-9);
	return t < 1 ? 1 : (int64_t)t;
}

#define BAD(...) \
	do { \
		snprintf(err, errlen, __VA_ARGS__); \
		return SRV_ECONFIG; \
	} while (0)

static int port_ok(int64_t p, int zero_ok) { return p <= 65535 && (p > 0 || (zero_ok && p == 0)); }

int srv_config_validate(const srv_config *c, char *err, size_t errlen)
{
	model_def def;

	if (!c->node_id[0] || strlen(c->node_id) >= SCHED_ID_MAX)
		BAD("node_id must have 1 to %d characters", SCHED_ID_MAX - 1);
	if (c->server_ip[0] && strlen(c->server_ip) >= 16)
		BAD("server_ip '%s' is not an IPv4 address", c->server_ip);
	if (!port_ok(c->fl_server_port, 0))
		BAD("fl_server_port must be in 1..65535, got %lld", (long long)c->fl_server_port);
	if (!port_ok(c->server_inter_port, 1))
		BAD("server_inter_port must be in 0..65535, got %lld", (long long)c->server_inter_port);
	if (c->advertise_ip[0] && strlen(c->advertise_ip) >= 16)
		BAD("advertise_ip '%s' is not an IPv4 address", c->advertise_ip);
	if (!port_ok(c->advertise_inter_port, 1))
		BAD("advertise_inter_port must be in 0..65535, got %lld",
		    (long long)c->advertise_inter_port);
	if (!port_ok(c->scheduler_port, 1))
		BAD("scheduler_port must be in 0..65535, got %lld", (long long)c->scheduler_port);
	if (strlen(c->scheduler_ip) >= 16)
		BAD("scheduler_ip '%s' is not an IPv4 address", c->scheduler_ip);
	if (c->server_num < 1 || c->server_num > SCHED_MAX_NODES)
		BAD("server_num must be in 1..%d, got %lld", SCHED_MAX_NODES, (long long)c->server_num);
	if (c->scheduler_port == 0 && c->server_num != 1)
		BAD("scheduler_port 0 (standalone) needs server_num 1, got %lld",
		    (long long)c->server_num);
	if (!c->fl_name[0] || strlen(c->fl_name) > 127)
		BAD("fl_name must have 1 to 127 characters");
	if (c->start_fl_job_threshold < 1)
		BAD("start_fl_job_threshold must be greater than 0, got %lld",
		    (long long)c->start_fl_job_threshold);
	if (c->start_fl_job_time_window < 1)
		BAD("start_fl_job_time_window must be greater than 0");
	if (!(c->update_model_ratio > 0) || c->update_model_ratio > 1.0)
		BAD("update_model_ratio must be in (0, 1], got %g", c->update_model_ratio);
	if (c->update_model_time_window < 1)
		BAD("update_model_time_window must be greater than 0");
	if (c->global_iteration_time_window < 1)
		BAD("global_iteration_time_window must be greater than 0");
	if (c->fl_iteration_num < 1)
		BAD("fl_iteration_num must be greater than 0, got %lld", (long long)c->fl_iteration_num);
	if (c->client_epoch_num < 1)
		BAD("client_epoch_num must be greater than 0");
	if (c->client_batch_size < 1)
		BAD("client_batch_size must be greater than 0");
	if (!(c->client_learning_rate > 0) || !isfinite(c->client_learning_rate))
		BAD("client_learning_rate must be greater than 0");
	if (c->replay_attack_time_diff < 1)
		BAD("replay_attack_time_diff must be greater than 0");
	if (c->http_url_prefix[0] &&
	    (c->http_url_prefix[0] != '/' || c->http_url_prefix[strlen(c->http_url_prefix) - 1] == '/'))
		BAD("http_url_prefix must be empty or start with '/' and not end with '/', got '%s'",
		    c->http_url_prefix);
	if (strlen(c->http_url_prefix) > 100)
		BAD("http_url_prefix is too long");
	if (model_def_parse(c->model, &def) != 0)
		BAD("unknown model '%s' (expected lenet5 or synthetic:N with 1 <= N <= 2^28)", c->model);
	if (c->model_store_size < 1 || c->model_store_size > 1000)
		BAD("model_store_size must be in 1..1000, got %lld", (long long)c->model_store_size);
	if (c->sync_timeout < 1)
		BAD("sync_timeout must be greater than 0");
	if (c->allreduce_chunk < 1 || c->allreduce_chunk > (int64_t)(FRAME_DEFAULT_MAX_PAYLOAD / 4))
		BAD("allreduce_chunk must be in 1..%u", FRAME_DEFAULT_MAX_PAYLOAD / 4);
	if (c->heartbeat_interval < 1 || c->node_timeout < 1)
		BAD("heartbeat_interval and node_timeout must be greater than 0");
	if (c->enable_ssl && !c->server_cert_path[0])
		BAD("enable_ssl needs server_cert_path (the server's certificate and key)");
	if (c->connection_num < 1)
		BAD("connection_num must be greater than 0");
	if (!(c->upload_norm_bound >= 0) || isinf(c->upload_norm_bound))
		BAD("upload_norm_bound must be 0 (no bound) or a positive number");
	if (c->max_data_size < 1)
		BAD("max_data_size must be greater than 0");
	return 0;
}

#undef BAD
