/*
 * sched_table.c — what every file of the scheduler reads or marks: lookups in the node table,
 * the cluster state's setter (it only marks what changed; sched_reconcile in sched.c acts on it),
 * and the table sent to servers (building it, sending it or the scale barrier's to one node).
 * A leaf: it calls nothing of the module but sched_msg.c.
 */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sched_node *sched_find(const sched *s, const char *node_id)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!strcmp(s->nodes[i]->node_id, node_id))
			return s->nodes[i];
	return NULL;
}

int sched_all_alive(const sched *s)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!s->nodes[i]->alive)
			return 0;
	return 1;
}

void sched_node_free(sched_node *n)
{
	if (!n)
		return;
	cJSON_Delete(n->status);
	free(n);
}

void sched_set_state(sched *s, int state)
{
	if (s->state == state)
		return;
	rt_log(s->h, RT_LOG_INFO, "cluster state %s -> %s", sched_state_name(s->state),
	       sched_state_name(state));
	s->state = state;
	s->state_dirty = 1;
	s->meta_dirty = 1;
}

static int in_remove_list(const sched *s, const char *node_id)
{
	for (size_t i = 0; i < s->op.n_remove; i++)
		if (!strcmp(s->op.remove[i], node_id))
			return 1;
	return 0;
}

/* Nodes sorted by rank (insertion order breaks ties, which cannot happen in a sane table). */
static size_t nodes_by_rank(const sched *s, const sched_node **out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		const sched_node *x = s->nodes[i];
		size_t j = n;
		while (j > 0 && out[j - 1]->rank > x->rank) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = x;
		n++;
	}
	return n;
}

/*
 * The table now (next = 0: committed members, without servers still joining), or the one a
 * scaling operation will leave (next = 1: joiners in, the removed out, ranks compacted).
 */
void sched_build_table(const sched *s, sched_table *t, int next)
{
	const sched_node *sorted[SCHED_MAX_NODES];
	size_t n = nodes_by_rank(s, sorted);
	memset(t, 0, sizeof *t);
	t->server_num = s->server_num;
	t->epoch = s->epoch;
	snprintf(t->leader, sizeof t->leader, "%s", s->leader);
	t->leader_epoch = s->leader_epoch;
	t->failover = s->cfg.recovery;
	snprintf(t->cluster_state, sizeof t->cluster_state, "%s", sched_state_name(s->state));
	if (next && s->op.kind) {
		t->server_num = s->op.target;
		t->epoch = s->epoch + 1;
		snprintf(t->cluster_state, sizeof t->cluster_state, "CLUSTER_READY");
	}
	int rank = 0;
	for (size_t i = 0; i < n; i++) {
		const sched_node *x = sorted[i];
		if (!next && x->pending_join)
			continue;
		if (next && s->op.kind == CLUSTER_SCALE_IN && in_remove_list(s, x->node_id))
			continue;
		sched_node_info *o = &t->nodes[t->n++];
		snprintf(o->node_id, sizeof o->node_id, "%s", x->node_id);
		o->rank_id = (next && s->op.kind == CLUSTER_SCALE_IN) ? rank++ : x->rank;
		snprintf(o->role, sizeof o->role, "%s", x->role);
		snprintf(o->ip, sizeof o->ip, "%s", x->ip);
		o->port = x->port;
		o->fl_server_port = x->fl_server_port;
		o->alive = x->alive;
	}
}

static int table_visible(const sched *s, const sched_node *n)
{
	return n->peer && n->peer->c && !n->pending_join && s->state != CLUSTER_STARTING &&
	       s->state != CLUSTER_SCHEDULER_RECOVERY;
}

int sched_send_table(sched *s, sched_node *n)
{
	if (!table_visible(s, n))
		return 0;
	sched_table *t = malloc(sizeof *t);
	if (!t)
		return RT_ENOMEM;
	sched_build_table(s, t, 0);
	cJSON *j = sched_table_to_json(t);
	free(t);
	if (!j)
		return RT_ENOMEM;
	int rc = sched_msg_send(n->peer->c, SCHED_MSG_TABLE, j);
	cJSON_Delete(j);
	return rc;
}

void sched_send_scale(sched *s, sched_node *n)
{
	if (!s->op.kind || !s->op.barrier || !n->peer || !n->peer->c)
		return;
	sched_table *t = malloc(sizeof *t);
	if (!t)
		return;
	sched_build_table(s, t, 1);
	cJSON *j = cJSON_CreateObject();
	cJSON *tj = sched_table_to_json(t);
	free(t);
	if (!j || !tj) {
		cJSON_Delete(j);
		cJSON_Delete(tj);
		return;
	}
	cJSON_AddStringToObject(j, "kind", s->op.kind == CLUSTER_SCALE_OUT ? "scale_out" : "scale_in");
	cJSON_AddNumberToObject(j, "barrier", (double)s->op.barrier);
	cJSON_AddItemToObject(j, "table", tj);
	sched_msg_send(n->peer->c, SCHED_MSG_SCALE, j);
	cJSON_Delete(j);
}

/* The steady state the table implies when no operation is running. */
uint16_t sched_port(const sched *s) { return rt_listener_port(s->lis); }
