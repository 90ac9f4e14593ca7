/*
 * srv.h — the FL Server: device rounds (startFLJob, updateModel, getModel, pushMetrics) over
 * HTTP, the iteration state machine, counting on the server of rank 0, the ring all-reduce that
 * makes every server hold the same FedAvg model, the model store and its recovery files.
 *
 * One srv per rt host; all of its state lives in the struct, so many servers share one process
 * under simulation. Membership (rank, addresses of the other servers, scaling) comes from the
 * scheduler through an embedded sched_client; with scheduler_port 0 the server runs alone as rank
 * 0 (server_num must then be 1: tests and quick local runs).
 *
 * Everything goes through rt.h; nothing here blocks.
 */
#ifndef FL_SRV_H
#define FL_SRV_H

#include "../rt/rt.h"
#include "../sched/sched_client.h"
#include "../util/flags.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

/* Error codes SRV_E*: node/util/err.h (the one error space). */

typedef struct srv srv;

/* Events reported to the owner (the entry point prints and exits on them). */
enum srv_event {
	SRV_EV_READY = 1,   /* serving devices for the first time: "Server started successfully." */
	SRV_EV_REMOVED = 2, /* scaled in: no longer part of the cluster */
	SRV_EV_REFUSED = 3, /* the scheduler refused the registration */
	SRV_EV_FINISHED = 4, /* fl_iteration_num reached */
	SRV_EV_EXIT = 5,    /* the scheduler shut the cluster down (CLUSTER_EXIT) */
};

/*
 * Configuration. Strings are FLAG_STR_MAX buffers and numbers int64/double so that one flag table
 * (srv_config_flags) fills them from the command line and config.json alike.
 */
typedef struct srv_config {
	/* identity and addresses */
	char node_id[FLAG_STR_MAX];     /* "0"; the scheduler keeps its rank across restarts */
	char server_ip[FLAG_STR_MAX];   /* "" = the host's address */
	int64_t fl_server_port;         /* device HTTP port */
	int64_t server_inter_port;      /* server<->server frames; 0 = any free port */
	char scheduler_ip[FLAG_STR_MAX];
	int64_t scheduler_port;         /* 0 = standalone (no scheduler; server_num must be 1) */
	int64_t server_num;

	/* MindSpore Federated knobs, same names and defaults */
	char fl_name[FLAG_STR_MAX];
	int64_t start_fl_job_threshold;
	int64_t start_fl_job_time_window;     /* ms */
	double update_model_ratio;
	int64_t update_model_time_window;     /* ms */
	int64_t global_iteration_time_window; /* ms */
	int64_t fl_iteration_num;
	int64_t client_epoch_num;
	int64_t client_batch_size;
	double client_learning_rate;
	int64_t replay_attack_time_diff;      /* ms */
	char http_url_prefix[FLAG_STR_MAX];   /* "" or "/something" */

	/* flbench knobs */
	char model[FLAG_STR_MAX];   /* "lenet5" or "synthetic:N" */
	int64_t model_store_size;   /* committed models kept (>= 1) */
	int64_t model_seed;         /* iteration 0's weights derive from fl_name and this */
	int recovery;               /* persist state and models (fsynced) and reload them */
	int64_t sync_timeout;       /* ms a leader waits for the members in each iteration phase */
	int64_t allreduce_chunk;    /* floats per all-reduce frame */
	int64_t heartbeat_interval; /* ms, passed to sched_client */
	int64_t node_timeout;       /* ms, passed to sched_client */
	/* guards (docs/security.md) */
	int64_t connection_num;     /* device connections at once (MindSpore's name); default 10000 */
	double upload_norm_bound;   /* L2 norm an upload may have; 0 = no bound */
	int64_t max_data_size;      /* largest data_size a startFLJob may claim; default 1e8 */
	/* TLS on the device API (MindSpore's names). The entry point reads the files and builds
	 * `tls` from them (node code reaches no file but through rt.h). */
	int enable_ssl;
	char server_cert_path[FLAG_STR_MAX]; /* PKCS#12 (server.p12) or PEM certificate + key */
	char server_password[FLAG_STR_MAX];  /* the PKCS#12 / key password */
	char ca_cert_path[FLAG_STR_MAX];     /* set: devices must show a certificate it signed */
	char cipher_list[FLAG_STR_MAX];      /* TLS 1.2 suites; "" = OpenSSL's default */
	int64_t pid;                /* reported to the scheduler (live); 0 under simulation */
	/* what the scheduler's table tells the other servers to dial for this one's inter-node
	 * port (e.g. a proxy in front of it); "" / 0 = the address and port it listens on */
	char advertise_ip[FLAG_STR_MAX];
	int64_t advertise_inter_port;

	/* owner hooks (not flags) */
	struct tls_ctx *tls; /* with enable_ssl: a server tls_ctx (borrowed; outlives the srv) */
	void (*on_event)(void *data, srv *s, int event);
	void *event_data;
} srv_config;

/* MindSpore's defaults for every knob. */
void srv_config_init(srv_config *cfg);

/* The flag table over cfg's fields. Returns how many definitions were written (at most max;
 * SRV_CONFIG_MAX_FLAGS always suffices). */
#define SRV_CONFIG_MAX_FLAGS 52
size_t srv_config_flags(srv_config *cfg, flag_def *defs, size_t max);

/* Apply a config.json object to the flags not given on the command line. Besides the flag keys,
 * "recovery" may be a bool or MindSpore's {"storage_type", "storage_file_path"} object (which
 * means on), and "metrics" is ignored, as are the keys in extra_ignore (NULL-terminated, may be
 * NULL). Other unknown keys are errors (err names them). */
int srv_config_apply_json(srv_config *cfg, flag_def *defs, size_t n, const cJSON *root,
			  const char *const *extra_ignore, char *err, size_t errlen);

/* 0, or SRV_ECONFIG with err saying which value is wrong and why. */
int srv_config_validate(const srv_config *cfg, char *err, size_t errlen);

/* ceil(start_fl_job_threshold * update_model_ratio), at least 1. */
int64_t srv_config_update_threshold(const srv_config *cfg);

/*
 * Create a server on host h: validate, reload the recovery files (with cfg.recovery), listen on
 * the device port and the inter-node port, register with the scheduler. *out is owned by the
 * caller (srv_destroy). Errors: SRV_ECONFIG, SRV_ECORRUPT, SRV_EOWNER, RT_EADDRINUSE, RT_ENOMEM,
 * RT_EIO. The reason is logged on h.
 */
int srv_new(rt_host *h, const srv_config *cfg, srv **out);
/* Free everything. Safe from rt_sim's crash hook and from outside callbacks. */
void srv_destroy(srv *s);
const char *srv_strerror(int err);

/* ---- observation (tests, the scenario engine, the entry point) ---- */

typedef struct srv_status {
	int ready;              /* serving devices */
	int leader;             /* counting role (rank 0, or who the scheduler named after a failover) */
	uint64_t leader_epoch;  /* the table's leader epoch as this server knows it */
	int rank;               /* -1 before registration */
	int safemode;
	int64_t iteration;      /* current iteration (the one being trained) */
	int64_t last_committed; /* latest iteration in the model store */
	const char *instance_state; /* "running", "disable", "finish" */
	/* iterations of the job that ended valid / invalid: persisted with recovery and taken from
	 * the leader when joining, so they survive restarts and agree across servers */
	uint64_t iterations_ok, iterations_failed;
	uint16_t http_port, inter_port;
} srv_status;
void srv_get_status(const srv *s, srv_status *st);

/* The committed model of `iteration` (NULL when not stored). *n gets the float count; the
 * pointer stays valid until the next event on this host. */
const float *srv_get_model(const srv *s, int64_t iteration, size_t *n, uint64_t *hash);

#endif
