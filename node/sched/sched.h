/*
 * sched.h — the Scheduler: membership, heartbeats, cluster state, the REST management API,
 * scaling and recovery, in the manner of MindSpore Federated's scheduler.
 *
 * One sched per rt host; all of its state lives in the struct (many nodes share a process under
 * simulation). Servers connect to it with sched_client (sched_client.h); the wire protocol is in
 * sched_msg.h and docs/protocol-scheduler.md.
 *
 * Recovery: with cfg.recovery set, the scheduler writes its metadata (server_num, the node table
 * with ranks, addresses and pids, the cluster state and any scaling in progress) to cfg.meta_file
 * atomically on every change, with a CRC-32. A later sched_new on the same host reloads it, enters
 * CLUSTER_SCHEDULER_RECOVERY until the servers have reconnected on their own, and returns to the
 * state it had. A corrupt or truncated file makes sched_new fail with SCHED_EMETA.
 */
#ifndef FL_SCHED_H
#define FL_SCHED_H

#include "sched_client.h"
#include "sched_msg.h"
#include "../rt/rt.h"

#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

/* Error codes SCHED_E*: node/util/err.h (the one error space). */

typedef struct sched sched;

#define SCHED_TOKEN_MAX 256

typedef struct sched_config {
	char node_id[SCHED_ID_MAX]; /* the scheduler's own id in /nodes ("20") */
	char ip[16];                /* frame listen address; "" = the host's address */
	uint16_t port;              /* scheduler_port; 0 = any (tests) */
	char manage_ip[16];         /* management API address; "" = 127.0.0.1 */
	uint16_t manage_port;       /* scheduler_manage_port; 0 = any (tests) */
	int server_num;             /* servers the cluster waits for (>= 1) */
	int64_t fl_iteration_num;   /* servers must agree on it; 0 = take the first server's */
	char fl_name[64];           /* reported by /queryInstance */
	uint64_t heartbeat_interval_ms; /* default 3000 */
	uint64_t node_timeout_ms;       /* default 30000 */
	uint64_t instance_timeout_ms;   /* newInstance/enableFLS/disableFLS relay; default 10000 */
	uint64_t scale_out_timeout_ms;  /* a scale-out still waiting for its servers after this long
					   is rolled back (sched_scale_out_rollback); 0 = never;
					   default 300000 */
	int recovery;               /* 1: persist metadata to meta_file and reload it at start */
	char meta_file[128];        /* plain file name under the host's data dir */
	/* Mutating management calls (POST /scaleout, ...) need "Authorization: Bearer <token>"
	 * when set; when "" they are refused from any address outside 127.0.0.0/8. */
	char manage_token[SCHED_TOKEN_MAX];
	/* Called after every change of membership, ranks, pids or state (the entry point rewrites
	 * its pid file there). May be NULL. Must not destroy the scheduler. */
	void (*on_change)(void *data, sched *s);
	void *cb_data;
} sched_config;

/* Defaults for every field (node_id "20", ports 6667/11202, server_num 1, 3 s / 30 s / 10 s,
 * scale-out timeout 5 min). */
void sched_config_init(sched_config *cfg);

/*
 * Start listening (frames on ip:port, HTTP on manage_ip:manage_port) and, with recovery, reload
 * the metadata. *out is owned by the caller (sched_destroy). Errors: RT_EINVAL (bad config),
 * RT_EADDRINUSE (port), SCHED_EMANAGE_INUSE (manage_port), SCHED_EMETA (corrupt metadata, see
 * the log), RT_ENOMEM, RT_EIO.
 */
int sched_new(rt_host *h, const sched_config *cfg, sched **out);
/* Free everything. Safe from rt_sim's crash hook (makes no observable call then) and from
 * outside callbacks; not from inside on_change. */
void sched_destroy(sched *s);
/* Graceful exit: state CLUSTER_EXIT, persisted, told to every server. The caller destroys the
 * scheduler a little later (so the frames leave). */
void sched_shutdown(sched *s);

const char *sched_strerror(int err);

/* ---- observation ---- */
int sched_get_state(const sched *s); /* a sched_state */
int sched_get_server_num(const sched *s);
uint64_t sched_get_epoch(const sched *s);
uint16_t sched_port(const sched *s);
uint16_t sched_manage_port(const sched *s);
/* The current table (servers by rank, with alive flags). */
void sched_get_table(const sched *s, sched_table *out);

/* Processes the cluster knows of, for the pid file: live and dead members and the servers that
 * were scaled in (they stay up until SIGTERM). */
typedef struct sched_pid {
	char node_id[SCHED_ID_MAX];
	int64_t pid;
	const char *what; /* "server", "dead-server", "scaled-in-server" */
} sched_pid;
size_t sched_get_pids(const sched *s, sched_pid *out, size_t max);

/* ---- operations (the REST API calls these; scenario code may too) ---- */
/* Add `servers` servers. 0, or SCHED_ESTATE / RT_EINVAL with a message in err. */
int sched_scale_out(sched *s, int servers, char *err, size_t errlen);
/* Abandon a scale-out whose new servers have not all arrived (POST /scaleoutRollback, or the
 * scheduler itself after scale_out_timeout_ms): the joiners are told they are out, server_num
 * stays, the servers leave safe mode. 0, or SCHED_ESTATE with a message in err when no scale-out
 * is waiting (one whose barrier has begun completes: dead servers are not waited for). */
int sched_scale_out_rollback(sched *s, const char *why, char *err, size_t errlen);
/* Remove the servers named. 0, or SCHED_ESTATE / RT_EINVAL with a message in err. */
int sched_scale_in(sched *s, const char *const *node_ids, size_t n, char *err, size_t errlen);

#endif
