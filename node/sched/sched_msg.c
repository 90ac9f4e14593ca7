/*
 * sched_msg.c — helpers shared by both ends of the scheduler protocol: state names, the table's
 * JSON form, typed field getters.
 */
#include "sched_msg.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[SCHED_STATE_COUNT] = {
	[CLUSTER_STARTING] = "CLUSTER_STARTING",
	[CLUSTER_READY] = "CLUSTER_READY",
	[CLUSTER_EXIT] = "CLUSTER_EXIT",
	[NODE_TIMEOUT] = "NODE_TIMEOUT",
	[CLUSTER_SCALE_OUT] = "CLUSTER_SCALE_OUT",
	[CLUSTER_SCALE_IN] = "CLUSTER_SCALE_IN",
	[CLUSTER_NEW_INSTANCE] = "CLUSTER_NEW_INSTANCE",
	[CLUSTER_ENABLE_FLS] = "CLUSTER_ENABLE_FLS",
	[CLUSTER_DISABLE_FLS] = "CLUSTER_DISABLE_FLS",
	[CLUSTER_SCHEDULER_RECOVERY] = "CLUSTER_SCHEDULER_RECOVERY",
};

const char *sched_state_name(int state)
{
	if (state < 0 || state >= SCHED_STATE_COUNT)
		return "UNKNOWN";
	return state_names[state];
}

int sched_state_parse(const char *name)
{
	for (int i = 0; name && i < SCHED_STATE_COUNT; i++)
		if (!strcmp(state_names[i], name))
			return i;
	return -1;
}

int sched_msg_send(conn *c, uint8_t type, const cJSON *meta)
{
	if (!c)
		return RT_ECLOSED;
	char *text = meta ? cJSON_PrintUnformatted(meta) : NULL;
	if (meta && !text)
		return RT_ENOMEM;
	int rc = conn_send(c, type, 0, text ? text : "{}", NULL, 0);
	free(text);
	return rc;
}

int sched_ip_ok(const char *s)
{
	struct in_addr a;
	return s && inet_pton(AF_INET, s, &a) == 1;
}

int sched_json_str(const cJSON *o, const char *key, char *out, size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= outlen)
		return RT_EINVAL;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

int sched_json_int(const cJSON *o, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    fabs(v->valuedouble) > 9.0e15)
		return RT_EINVAL;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int sched_json_bool(const cJSON *o, const char *key, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsBool(v))
		return RT_EINVAL;
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

cJSON *sched_table_to_json(const sched_table *t)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *nodes = cJSON_CreateArray();
	if (!j || !nodes) {
		cJSON_Delete(j);
		cJSON_Delete(nodes);
		return NULL;
	}
	cJSON_AddStringToObject(j, "cluster_state", t->cluster_state);
	cJSON_AddNumberToObject(j, "server_num", t->server_num);
	cJSON_AddNumberToObject(j, "epoch", (double)t->epoch);
	cJSON_AddStringToObject(j, "leader", t->leader);
	cJSON_AddNumberToObject(j, "leader_epoch", (double)t->leader_epoch);
	cJSON_AddBoolToObject(j, "failover", t->failover);
	cJSON_AddItemToObject(j, "nodes", nodes);
	for (size_t i = 0; i < t->n && i < SCHED_MAX_NODES; i++) {
		const sched_node_info *n = &t->nodes[i];
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "node_id", n->node_id);
		cJSON_AddNumberToObject(o, "rank_id", n->rank_id);
		cJSON_AddStringToObject(o, "role", n->role);
		cJSON_AddStringToObject(o, "ip", n->ip);
		cJSON_AddNumberToObject(o, "port", n->port);
		cJSON_AddNumberToObject(o, "fl_server_port", n->fl_server_port);
		cJSON_AddBoolToObject(o, "alive", n->alive);
		cJSON_AddItemToArray(nodes, o);
	}
	return j;
}

static int port_of(const cJSON *o, const char *key, uint16_t *out)
{
	int64_t v;
	if (sched_json_int(o, key, &v) || v < 0 || v > 65535)
		return RT_EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int sched_table_from_json(const cJSON *j, sched_table *t)
{
	int64_t v;
	if (!cJSON_IsObject(j) || !t)
		return RT_EINVAL;
	memset(t, 0, sizeof *t);
	if (sched_json_str(j, "cluster_state", t->cluster_state, sizeof t->cluster_state))
		return RT_EINVAL;
	if (sched_json_int(j, "server_num", &v) || v < 0 || v > SCHED_MAX_NODES)
		return RT_EINVAL;
	t->server_num = (int)v;
	if (sched_json_int(j, "epoch", &v) || v < 0)
		return RT_EINVAL;
	t->epoch = (uint64_t)v;
	/* leader fields are optional (a scheduler without failover may leave them out) */
	t->leader[0] = '\0';
	t->leader_epoch = 0;
	t->failover = 0;
	if (cJSON_GetObjectItemCaseSensitive(j, "leader") &&
	    sched_json_str(j, "leader", t->leader, sizeof t->leader))
		return RT_EINVAL;
	if (cJSON_GetObjectItemCaseSensitive(j, "leader_epoch")) {
		if (sched_json_int(j, "leader_epoch", &v) || v < 0)
			return RT_EINVAL;
		t->leader_epoch = (uint64_t)v;
	}
	if (cJSON_GetObjectItemCaseSensitive(j, "failover") && sched_json_bool(j, "failover", &t->failover))
		return RT_EINVAL;
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j, "nodes");
	if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) > SCHED_MAX_NODES)
		return RT_EINVAL;
	const cJSON *o;
	cJSON_ArrayForEach(o, nodes)
	{
		sched_node_info *n = &t->nodes[t->n];
		if (sched_json_str(o, "node_id", n->node_id, sizeof n->node_id) || !n->node_id[0] ||
		    sched_json_int(o, "rank_id", &v) || v < 0 || v >= SCHED_MAX_NODES ||
		    sched_json_str(o, "role", n->role, sizeof n->role) ||
		    sched_json_str(o, "ip", n->ip, sizeof n->ip) || port_of(o, "port", &n->port) ||
		    port_of(o, "fl_server_port", &n->fl_server_port) ||
		    sched_json_bool(o, "alive", &n->alive))
			return RT_EINVAL;
		n->rank_id = (int)v;
		t->n++;
	}
	return 0;
}
