/*
 * sched_meta.c — the scheduler's metadata file, for recovery after a crash.
 *
 * Format: one header line, then the JSON body:
 *
 *   FLBSCHED1 <crc32 of the body, 8 hex digits> <body length in bytes>\n
 *   {"version":1,"server_num":4,"epoch":3,"cluster_state":"CLUSTER_READY","nodes":[...],...}
 *
 * It is written with rt_file_write (temporary + rename, fsynced), so a crash leaves either the
 * old or the new file; the checksum and the length catch a file damaged any other way, and a
 * damaged file is refused rather than guessed at.
 */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define META_MAGIC "FLBSCHED1"
#define META_VERSION 1

static cJSON *meta_json(const sched *s)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "version", META_VERSION);
	cJSON_AddStringToObject(j, "node_id", s->cfg.node_id);
	cJSON_AddNumberToObject(j, "server_num", s->server_num);
	cJSON_AddNumberToObject(j, "fl_iteration_num", (double)s->fl_iteration_num);
	cJSON_AddNumberToObject(j, "epoch", (double)s->epoch);
	cJSON_AddNumberToObject(j, "barrier_seq", (double)s->barrier_seq);
	cJSON_AddStringToObject(j, "leader", s->leader);
	cJSON_AddNumberToObject(j, "leader_epoch", (double)s->leader_epoch);
	int st = s->state == CLUSTER_SCHEDULER_RECOVERY ? s->saved_state : s->state;
	cJSON_AddStringToObject(j, "cluster_state", sched_state_name(st));
	cJSON_AddBoolToObject(j, "fls_enabled", s->fls_enabled);
	if (s->op.kind) {
		cJSON *op = cJSON_AddObjectToObject(j, "op");
		cJSON_AddStringToObject(op, "kind",
					s->op.kind == CLUSTER_SCALE_OUT ? "scale_out" : "scale_in");
		cJSON_AddNumberToObject(op, "target", s->op.target);
		cJSON_AddNumberToObject(op, "barrier", (double)s->op.barrier);
		cJSON *rm = cJSON_AddArrayToObject(op, "remove");
		for (size_t i = 0; i < s->op.n_remove; i++)
			cJSON_AddItemToArray(rm, cJSON_CreateString(s->op.remove[i]));
	}
	cJSON *nodes = cJSON_AddArrayToObject(j, "nodes");
	for (size_t i = 0; i < s->n_nodes; i++) {
		const sched_node *n = s->nodes[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node_id", n->node_id);
		cJSON_AddNumberToObject(o, "rank_id", n->rank);
		cJSON_AddStringToObject(o, "role", n->role);
		cJSON_AddStringToObject(o, "ip", n->ip);
		cJSON_AddNumberToObject(o, "port", n->port);
		cJSON_AddNumberToObject(o, "fl_server_port", n->fl_server_port);
		cJSON_AddNumberToObject(o, "pid", (double)n->pid);
		cJSON_AddNumberToObject(o, "fl_iteration_num", (double)n->fl_iteration_num);
		cJSON_AddBoolToObject(o, "alive", n->alive);
		cJSON_AddBoolToObject(o, "pending_join", n->pending_join);
		cJSON_AddNumberToObject(o, "scale_acked", (double)n->scale_acked);
		cJSON_AddItemToArray(nodes, o);
	}
	cJSON *ret = cJSON_AddArrayToObject(j, "retired");
	for (size_t i = 0; i < s->n_retired; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node_id", s->retired[i].node_id);
		cJSON_AddNumberToObject(o, "pid", (double)s->retired[i].pid);
		cJSON_AddItemToArray(ret, o);
	}
	return j;
}

int sched_meta_save(sched *s)
{
	cJSON *j = meta_json(s);
	char *body = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!body) {
		rt_log(s->h, RT_LOG_ERROR, "metadata: out of memory; %s not written", s->cfg.meta_file);
		return RT_ENOMEM;
	}
	size_t blen = strlen(body);
	char hdr[64];
	int hlen = snprintf(hdr, sizeof hdr, "%s %08lx %zu\n", META_MAGIC,
			    (unsigned long)crc32(0L, (const Bytef *)body, (uInt)blen), blen);
	char *buf = malloc((size_t)hlen + blen);
	if (!buf) {
		free(body);
		return RT_ENOMEM;
	}
	memcpy(buf, hdr, (size_t)hlen);
	memcpy(buf + hlen, body, blen);
	free(body);
	int rc = rt_file_write(s->h, s->cfg.meta_file, buf, (size_t)hlen + blen, RT_FILE_SYNC);
	free(buf);
	if (rc)
		rt_log(s->h, RT_LOG_ERROR, "metadata: writing %s failed: %s", s->cfg.meta_file,
		       rt_strerror(rc));
	return rc;
}

/* ---- load ---- */

static int corrupt(sched *s, const char *why)
{
	rt_log(s->h, RT_LOG_ERROR,
	       "metadata file %s is corrupt: %s. Refusing to start rather than guess the cluster; "
	       "move the file away to start a new cluster.", s->cfg.meta_file, why);
	return SCHED_EMETA;
}

static int load_node(sched *s, const cJSON *o, char *why, size_t whylen)
{
	sched_node *n = calloc(1, sizeof *n);
	int64_t v, port, flp;
	if (!n)
		return RT_ENOMEM;
	if (sched_json_str(o, "node_id", n->node_id, sizeof n->node_id) || !n->node_id[0] ||
	    sched_json_int(o, "rank_id", &v) || v < 0 || v >= SCHED_MAX_NODES ||
	    sched_json_str(o, "role", n->role, sizeof n->role) ||
	    sched_json_str(o, "ip", n->ip, sizeof n->ip) || sched_json_int(o, "port", &port) ||
	    port < 0 || port > 65535 || sched_json_int(o, "fl_server_port", &flp) || flp < 0 ||
	    flp > 65535 || sched_json_int(o, "pid", &n->pid) ||
	    sched_json_int(o, "fl_iteration_num", &n->fl_iteration_num) ||
	    sched_json_bool(o, "alive", &n->alive) ||
	    sched_json_bool(o, "pending_join", &n->pending_join)) {
		snprintf(why, whylen, "node entry %zu is malformed", s->n_nodes);
		free(n);
		return SCHED_EMETA;
	}
	int64_t acked = 0;
	if (!sched_json_int(o, "scale_acked", &acked) && acked > 0)
		n->scale_acked = (uint64_t)acked;
	n->rank = (int)v;
	n->port = (uint16_t)port;
	n->fl_server_port = (uint16_t)flp;
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!strcmp(s->nodes[i]->node_id, n->node_id) || s->nodes[i]->rank == n->rank) {
			snprintf(why, whylen, "node %s repeats a node_id or rank", n->node_id);
			free(n);
			return SCHED_EMETA;
		}
	s->nodes[s->n_nodes++] = n;
	return 0;
}

static int load_body(sched *s, const cJSON *j, char *why, size_t whylen)
{
	int64_t v;
	char state[48];
	if (sched_json_int(j, "version", &v) || v != META_VERSION) {
		snprintf(why, whylen, "unknown version");
		return SCHED_EMETA;
	}
	if (sched_json_int(j, "server_num", &v) || v < 1 || v > SCHED_MAX_NODES) {
		snprintf(why, whylen, "server_num missing or out of range");
		return SCHED_EMETA;
	}
	s->server_num = (int)v;
	if (sched_json_int(j, "fl_iteration_num", &s->fl_iteration_num) ||
	    sched_json_int(j, "epoch", &v) || v < 0) {
		snprintf(why, whylen, "fl_iteration_num or epoch missing");
		return SCHED_EMETA;
	}
	s->epoch = (uint64_t)v;
	if (sched_json_int(j, "barrier_seq", &v) || v < 0) {
		snprintf(why, whylen, "barrier_seq missing");
		return SCHED_EMETA;
	}
	s->barrier_seq = (uint64_t)v;
	/* the leader (absent in files written before failover existed: rank 0, chosen again) */
	s->leader[0] = '\0';
	s->leader_epoch = 0;
	if (cJSON_GetObjectItemCaseSensitive(j, "leader")) {
		if (sched_json_str(j, "leader", s->leader, sizeof s->leader) ||
		    sched_json_int(j, "leader_epoch", &v) || v < 0) {
			snprintf(why, whylen, "leader or leader_epoch malformed");
			return SCHED_EMETA;
		}
		s->leader_epoch = (uint64_t)v;
	}
	if (sched_json_str(j, "cluster_state", state, sizeof state) ||
	    (s->saved_state = sched_state_parse(state)) < 0) {
		snprintf(why, whylen, "cluster_state missing or unknown");
		return SCHED_EMETA;
	}
	if (sched_json_bool(j, "fls_enabled", &s->fls_enabled)) {
		snprintf(why, whylen, "fls_enabled missing");
		return SCHED_EMETA;
	}
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
	if (op && !cJSON_IsNull(op)) {
		char kind[16];
		const cJSON *rm = cJSON_GetObjectItemCaseSensitive(op, "remove");
		if (sched_json_str(op, "kind", kind, sizeof kind) ||
		    (strcmp(kind, "scale_out") && strcmp(kind, "scale_in")) ||
		    sched_json_int(op, "target", &v) || v < 1 || v > SCHED_MAX_NODES ||
		    !cJSON_IsArray(rm) || cJSON_GetArraySize(rm) > SCHED_MAX_NODES) {
			snprintf(why, whylen, "scaling operation malformed");
			return SCHED_EMETA;
		}
		s->op.kind = strcmp(kind, "scale_out") ? CLUSTER_SCALE_IN : CLUSTER_SCALE_OUT;
		s->op.target = (int)v;
		if (sched_json_int(op, "barrier", &v) || v < 0) {
			snprintf(why, whylen, "scaling barrier malformed");
			return SCHED_EMETA;
		}
		s->op.barrier = (uint64_t)v;
		const cJSON *id;
		cJSON_ArrayForEach(id, rm)
		{
			if (!cJSON_IsString(id) || strlen(id->valuestring) >= SCHED_ID_MAX) {
				snprintf(why, whylen, "scaling node list malformed");
				return SCHED_EMETA;
			}
			snprintf(s->op.remove[s->op.n_remove++], SCHED_ID_MAX, "%s", id->valuestring);
		}
	}
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j, "nodes");
	if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) > SCHED_MAX_NODES) {
		snprintf(why, whylen, "node list missing or too long");
		return SCHED_EMETA;
	}
	const cJSON *o;
	cJSON_ArrayForEach(o, nodes)
	{
		int rc = load_node(s, o, why, whylen);
		if (rc)
			return rc;
	}
	const cJSON *ret = cJSON_GetObjectItemCaseSensitive(j, "retired");
	if (!cJSON_IsArray(ret) || cJSON_GetArraySize(ret) > SCHED_MAX_NODES) {
		snprintf(why, whylen, "retired list missing or too long");
		return SCHED_EMETA;
	}
	cJSON_ArrayForEach(o, ret)
	{
		sched_retired *r = &s->retired[s->n_retired];
		if (sched_json_str(o, "node_id", r->node_id, sizeof r->node_id) ||
		    sched_json_int(o, "pid", &r->pid)) {
			snprintf(why, whylen, "retired entry malformed");
			return SCHED_EMETA;
		}
		s->n_retired++;
	}
	return 0;
}

int sched_meta_load(sched *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = rt_file_read(s->h, s->cfg.meta_file, &buf, &len);
	if (rc == RT_ENOENT)
		return RT_ENOENT;
	if (rc) {
		rt_log(s->h, RT_LOG_ERROR, "metadata: reading %s failed: %s", s->cfg.meta_file,
		       rt_strerror(rc));
		return rc;
	}
	char why[160];
	const char *nl = memchr(buf, '\n', len < 64 ? len : 64);
	unsigned long crc = 0;
	size_t blen = 0;
	char magic[16];
	int pos = 0;
	if (!nl || sscanf((const char *)buf, "%15s %8lx %zu%n", magic, &crc, &blen, &pos) != 3 ||
	    strcmp(magic, META_MAGIC) || (const char *)buf + pos != nl) {
		free(buf);
		return corrupt(s, len ? "bad header line (not a scheduler metadata file?)"
				      : "the file is empty");
	}
	const uint8_t *body = (const uint8_t *)nl + 1;
	size_t have = len - (size_t)(body - buf);
	if (have != blen) {
		snprintf(why, sizeof why, "truncated or padded: the header says %zu bytes, the file "
			 "holds %zu", blen, have);
		free(buf);
		return corrupt(s, why);
	}
	unsigned long actual = crc32(0L, body, (uInt)blen);
	if (actual != crc) {
		snprintf(why, sizeof why, "checksum mismatch (header %08lx, contents %08lx)", crc,
			 actual);
		free(buf);
		return corrupt(s, why);
	}
	cJSON *j = cJSON_ParseWithLength((const char *)body, blen);
	free(buf);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return corrupt(s, "the body is not a JSON object");
	}
	why[0] = '\0';
	rc = load_body(s, j, why, sizeof why);
	cJSON_Delete(j);
	if (rc == SCHED_EMETA)
		return corrupt(s, why);
	return rc;
}
