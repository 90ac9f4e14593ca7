/*
 * sched_msg.h — the scheduler <-> server wire messages (frame types 1..63; 64..127 belong to
 * server <-> server traffic).
 *
 * Every message is one frame (proto/frame.h) whose JSON meta carries the fields below; none has a
 * binary payload. One TCP connection per server, opened by the server to scheduler_port, carries
 * both directions. Full description: docs/protocol-scheduler.md.
 *
 *   REGISTER       server -> scheduler
 *                  {node_id, role:"SERVER", ip, port, fl_server_port, fl_iteration_num,
 *                   is_recover, pid, rank_hint (-1 = none), server_num (optional, checked)}
 *   REGISTER_RESP  scheduler -> server {ok, node_id, rank_id, reason (when !ok),
 *                   cluster_state, epoch, node_timeout_ms}
 *   HEARTBEAT      server -> scheduler {node_id, seq, status:{iteration, instance_state, ...}}
 *   HEARTBEAT_ACK  scheduler -> server {cluster_state, epoch, seq (echoed: the leader lease)}
 *   TABLE          scheduler -> server, the address table with the leader and its epoch
 *                  (see sched_table_to_json)
 *   TABLE_REQ      server -> scheduler {} (the ack showed a state/epoch we have not seen)
 *   SCALE          scheduler -> server {kind:"scale_out"|"scale_in", barrier, table}
 *   SCALE_READY    server -> scheduler {barrier}
 *   INSTANCE       scheduler -> server {op:"newInstance"|"enableFLS"|"disableFLS", req_id, params}
 *   INSTANCE_DONE  server -> scheduler {op, req_id, ok, message}
 */
#ifndef FL_SCHED_MSG_H
#define FL_SCHED_MSG_H

#include "sched_client.h"
#include "../proto/conn.h"

#include <cjson/cJSON.h>

enum sched_msg_type {
	SCHED_MSG_REGISTER = 1,
	SCHED_MSG_REGISTER_RESP = 2,
	SCHED_MSG_HEARTBEAT = 3,
	SCHED_MSG_HEARTBEAT_ACK = 4,
	SCHED_MSG_TABLE = 5,
	SCHED_MSG_TABLE_REQ = 6,
	SCHED_MSG_SCALE = 7,
	SCHED_MSG_SCALE_READY = 8,
	SCHED_MSG_INSTANCE = 9,
	SCHED_MSG_INSTANCE_DONE = 10,
	SCHED_MSG_MAX = 63, /* the last type this module may use */
};

/* Cluster states, by their MindSpore names (sched_state_name). */
typedef enum sched_state {
	CLUSTER_STARTING = 0,
	CLUSTER_READY,
	CLUSTER_EXIT,
	NODE_TIMEOUT,
	CLUSTER_SCALE_OUT,
	CLUSTER_SCALE_IN,
	CLUSTER_NEW_INSTANCE,
	CLUSTER_ENABLE_FLS,
	CLUSTER_DISABLE_FLS,
	CLUSTER_SCHEDULER_RECOVERY,
	SCHED_STATE_COUNT
} sched_state;

const char *sched_state_name(int state);
/* The state for a name, or -1. */
int sched_state_parse(const char *name);

/* Send `meta` (not consumed) as the JSON meta of a frame of `type`. */
int sched_msg_send(conn *c, uint8_t type, const cJSON *meta);

/* Table <-> JSON: {"cluster_state", "server_num", "epoch", "leader", "leader_epoch", "failover",
 * "nodes": [{"node_id", "rank_id", "role", "ip", "port", "fl_server_port", "alive"}]}. from_json
 * checks every field (the three leader fields may be absent: rank 0 leads, no failover) and
 * returns RT_EINVAL on a malformed table (t is then unspecified). */
cJSON *sched_table_to_json(const sched_table *t);
int sched_table_from_json(const cJSON *j, sched_table *t);

/* 1 when s is a dotted-quad IPv4 address. */
int sched_ip_ok(const char *s);

/* Small typed getters for meta fields: 0 when present with the right type. */
int sched_json_str(const cJSON *o, const char *key, char *out, size_t outlen);
int sched_json_int(const cJSON *o, const char *key, int64_t *out);
int sched_json_bool(const cJSON *o, const char *key, int *out);

#endif
