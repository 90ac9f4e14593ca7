/*
 * srv_peer.c — the links between servers and what travels on them besides counting and the
 * iteration machine: HELLO, the leader's STATE and the follower's SYNCED, and model transfer.
 *
 * One link per pair of servers: the server whose node id sorts higher (numerically for numbers)
 * dials, the other accepts, and both send HELLO first. A newer link for the same pair replaces an
 * older one (a restart: the old one is a corpse waiting for its reset), so everything between two
 * servers stays ordered. Links that fail are redialled from the housekeeping tick.
 *
 * Model transfer (MODEL_REQ / MODEL in chunks) serves three purposes: a follower that joins
 * fetches the committed models it lacks (SYNC), a follower that cannot commit from its own bytes
 * fetches the committed model from the leader (COMMIT), and a new leader whose history is behind
 * a follower's catches up from it (CATCHUP).
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DIAL_TIMEOUT_MS 2000
#define REDIAL_MS 500
#define NS_PER_MS 1000000ULL

static void link_on_open(conn *c, void *data);
static void link_on_frame(conn *c, const frame *f, void *data);
static void link_on_close(conn *c, int err, void *data);
static const conn_cbs link_cbs = { link_on_open, link_on_frame, link_on_close };

/* ---- peers ---- */

int srv_peer_find(const srv *s, const char *node_id)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (strcmp(s->peers[i].node_id, node_id) == 0)
			return (int)i;
	return -1;
}

int srv_peer_get(srv *s, const char *node_id)
{
	int i = srv_peer_find(s, node_id);

	if (i >= 0)
		return i;
	if (strlen(node_id) >= SCHED_ID_MAX)
		return -1;
	if (s->npeers == s->peers_cap) {
		size_t cap = s->peers_cap ? s->peers_cap * 2 : 8;
		srv_peer *p = realloc(s->peers, cap * sizeof *p);
		if (!p)
			return -1;
		s->peers = p;
		s->peers_cap = cap;
	}
	srv_peer *p = &s->peers[s->npeers];
	memset(p, 0, sizeof *p);
	snprintf(p->node_id, sizeof p->node_id, "%s", node_id);
	p->rank = -1;
	p->prepared = -1;
	return (int)s->npeers++;
}

int srv_peer_up(const srv *s, int peer)
{
	if (peer < 0 || (size_t)peer >= s->npeers)
		return 0;
	return peer == s->self || s->peers[peer].link != NULL;
}

/* Node ids that are numbers compare as numbers ("10" > "9"); the rest bytewise. */
static int id_greater(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb && a[strspn(a, "0123456789")] == '\0' && b[strspn(b, "0123456789")] == '\0')
		return la > lb;
	return strcmp(a, b) > 0;
}

/* ---- links ---- */

static void link_free(srv *s, srv_link *l)
{
	srv_link **pp = &s->links;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	free(l);
}

static srv_link *link_new(srv *s)
{
	srv_link *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->s = s;
	l->peer = -1;
	l->dial_peer = -1;
	l->next = s->links;
	s->links = l;
	return l;
}

static void send_hello(srv *s, srv_link *l)
{
	cJSON *m = srv_hello_json(s);
	char *text = m ? cJSON_PrintUnformatted(m) : NULL;

	if (text)
		conn_send(l->c, SRV_MSG_HELLO, 0, text, NULL, 0);
	free(text);
	cJSON_Delete(m);
}

static void on_accept(rt_listener *lis, rt_stream *st, void *data)
{
	srv *s = data;
	srv_link *l = link_new(s);
	(void)lis;

	if (!l) {
		rt_stream_close(st);
		return;
	}
	if (conn_accept(st, &link_cbs, l, &l->c) != 0) {
		link_free(s, l);
		return;
	}
	l->open = 1;
}

static void link_on_open(conn *c, void *data)
{
	srv_link *l = data;
	(void)c;
	l->open = 1;
	send_hello(l->s, l);
}

/* What a lost peer means to the parts that depend on it. */
static void peer_down(srv *s, int peer)
{
	srv_ar_peer_down(s, peer);
	srv_fetch_peer_down(s, peer);
	if (srv_is_leader(s))
		srv_leader_on_peer_down(s, peer);
	if (peer == s->leader_peer && peer != s->self) {
		rt_log(s->h, RT_LOG_WARN, "lost the link to the leader (server %s)",
		       s->peers[peer].node_id);
		srv_api_fail_pending(s, "the leader is unreachable");
		srv_ar_abort(s);
		s->join = SRV_JOIN_NONE;
		srv_update_ready(s);
	}
}

static void link_on_close(conn *c, int err, void *data)
{
	srv_link *l = data;
	srv *s = l->s;
	(void)c;

	if (l->dial_peer >= 0 && s->peers[l->dial_peer].dialing == l) {
		s->peers[l->dial_peer].dialing = NULL;
		s->peers[l->dial_peer].next_dial_ns = rt_now_ns(s->h) + REDIAL_MS * NS_PER_MS;
	}
	if (l->peer >= 0) {
		srv_peer *p = &s->peers[l->peer];
		if (p->link == l) {
			p->link = NULL;
			rt_log(s->h, RT_LOG_INFO, "link to server %s closed: %s", p->node_id,
			       err ? rt_strerror(err) : "closed by the peer");
			peer_down(s, l->peer);
		}
	}
	link_free(s, l);
}

static void link_on_frame(conn *c, const frame *f, void *data)
{
	srv_link *l = data;
	srv *s = l->s;
	cJSON *meta = f->meta_len ? cJSON_ParseWithLength(f->meta, f->meta_len) : cJSON_CreateObject();
	(void)c;

	if (!cJSON_IsObject(meta)) {
		rt_log(s->h, RT_LOG_WARN, "bad frame meta (type %u) from a peer: closing", f->type);
		conn_close(l->c);
	} else if (f->type == SRV_MSG_HELLO) {
		srv_on_hello(s, l, meta);
	} else if (l->peer >= 0 && s->peers[l->peer].link == l) {
		srv_dispatch(s, l->peer, f->type, meta, f->payload, f->payload_len);
	}
	cJSON_Delete(meta);
}

cJSON *srv_hello_json(srv *s)
{
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return NULL;
	cJSON_AddStringToObject(m, "node_id", s->cfg.node_id);
	cJSON_AddNumberToObject(m, "rank", s->rank);
	srv_json_add_u64(m, "nonce", s->nonce);
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	cJSON_AddBoolToObject(m, "active", s->acc_n > 0 || s->st.start.accept > 0);
	cJSON_AddStringToObject(m, "instance_state", srv_instance_name(s->instance_state));
	cJSON_AddNumberToObject(m, "iterations_ok", (double)s->iterations_ok);
	cJSON_AddNumberToObject(m, "iterations_failed", (double)s->iterations_failed);
	cJSON_AddItemToObject(m, "committed", srv_store_list_json(&s->store));
	return m;
}

void srv_on_hello(srv *s, srv_link *l, const cJSON *meta)
{
	const char *id = srv_json_str(meta, "node_id");
	int idx = id ? srv_peer_get(s, id) : -1;

	if (idx < 0 || idx == s->self || l->peer >= 0) {
		conn_close(l->c);
		return;
	}
	if (!l->dialer)
		send_hello(s, l);
	srv_peer *p = &s->peers[idx];
	l->peer = idx;
	if (l->dial_peer >= 0 && s->peers[l->dial_peer].dialing == l)
		s->peers[l->dial_peer].dialing = NULL;
	if (p->link && p->link != l) {
		/* a newer link replaces the old one: the old one's close no longer counts */
		srv_link *old = p->link;
		p->link = NULL;
		conn_close(old->c);
		peer_down(s, idx);
	}
	p->link = l;
	p->nonce = srv_json_u64(meta, "nonce");
	p->iteration = srv_json_i64(meta, "iteration", 0);
	p->active = (int)srv_json_i64(meta, "active", 0);
	cJSON_Delete(p->hello);
	p->hello = cJSON_Duplicate(meta, 1);
	p->report_epoch = s->leader_epoch; /* fresh: it was just sent */
	rt_log(s->h, RT_LOG_INFO, "link to server %s up (its iteration %" PRId64 ")", p->node_id,
	       p->iteration);
	if (srv_is_leader(s))
		srv_leader_on_peer_up(s, idx);
}

int srv_peers_listen(srv *s)
{
	int rc = rt_listen(s->h, s->cfg.server_ip[0] ? s->cfg.server_ip : NULL,
			   (uint16_t)s->cfg.server_inter_port, on_accept, s, &s->lis);

	if (rc)
		return rc;
	s->inter_port = rt_listener_port(s->lis);
	return 0;
}

void srv_peers_tick(srv *s, uint64_t now)
{
	for (size_t i = 0; i < s->npeers; i++) {
		srv_peer *p = &s->peers[i];
		if ((int)i == s->self || !p->in_table || p->link || p->dialing || !p->port ||
		    now < p->next_dial_ns || !id_greater(s->cfg.node_id, p->node_id))
			continue;
		srv_link *l = link_new(s);
		if (!l)
			return;
		l->dialer = 1;
		l->peer = -1;
		if (conn_connect(s->h, p->ip, p->port, DIAL_TIMEOUT_MS, &link_cbs, l, &l->c) != 0) {
			link_free(s, l);
			p->next_dial_ns = now + REDIAL_MS * NS_PER_MS;
			continue;
		}
		/* HELLO names the link for traffic; until then dial_peer is who we meant to reach. */
		l->dial_peer = (int)i;
		p->dialing = l;
		p->next_dial_ns = now + REDIAL_MS * NS_PER_MS;
	}
}

void srv_peers_apply_table(srv *s, const sched_table *t)
{
	for (size_t i = 0; i < s->npeers; i++)
		s->peers[i].in_table = 0;
	s->leader_peer = -1;
	for (size_t k = 0; k < t->n; k++) {
		const sched_node_info *n = &t->nodes[k];
		int i = srv_peer_get(s, n->node_id);
		if (i < 0)
			continue;
		srv_peer *p = &s->peers[i];
		p->in_table = 1;
		p->rank = n->rank_id;
		p->alive = n->alive;
		if (strcmp(p->ip, n->ip) != 0 || p->port != n->port) {
			snprintf(p->ip, sizeof p->ip, "%s", n->ip);
			p->port = n->port;
			p->next_dial_ns = 0;
		}
		if (t->leader[0] ? !strcmp(t->leader, n->node_id) : n->rank_id == 0)
			s->leader_peer = i;
		if (i == s->self)
			s->rank = n->rank_id;
	}
	for (size_t i = 0; i < s->npeers; i++) {
		srv_peer *p = &s->peers[i];
		if (p->in_table || (int)i == s->self)
			continue;
		p->member = 0;
		if (p->link) {
			srv_link *l = p->link;
			p->link = NULL;
			conn_close(l->c);
			peer_down(s, (int)i);
		}
	}
	srv_peers_tick(s, rt_now_ns(s->h));
}

void srv_peers_close(srv *s)
{
	srv_link *l = s->links;

	/* conn_free: no callback reaches us any more, and nothing is left behind even when the
	 * runtime delivers no on_close (a simulated crash). */
	while (l) {
		srv_link *next = l->next;
		conn_free(l->c);
		free(l);
		l = next;
	}
	s->links = NULL;
	for (size_t i = 0; i < s->npeers; i++) {
		s->peers[i].link = NULL;
		s->peers[i].dialing = NULL;
		cJSON_Delete(s->peers[i].hello);
		s->peers[i].hello = NULL;
	}
	if (s->lis)
		rt_listener_close(s->lis);
	s->lis = NULL;
}

/* ---- STATE / SYNCED ---- */

static void state_apply(srv *s, const cJSON *meta)
{
	int64_t iter = srv_json_i64(meta, "iteration", s->iteration);
	uint64_t nonce = srv_json_u64(meta, "nonce");
	const char *inst = srv_json_str(meta, "instance_state");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(meta, "committed"), *pair;
	int64_t latest = -1;
	int paused = (int)srv_json_i64(meta, "paused", 0);

	cJSON_ArrayForEach(pair, list) {
		int64_t it = (int64_t)cJSON_GetArrayItem(pair, 0)->valuedouble;
		if (it > latest)
			latest = it;
	}
	srv_store_drop_after(&s->store, latest);
	if (iter < s->iteration)
		rt_log(s->h, RT_LOG_ERROR, "the leader is at iteration %" PRId64 ", behind our %"
		       PRId64 ": following it", iter, s->iteration);
	if (iter != s->iteration || nonce != s->leader_nonce)
		srv_reset_iteration(s); /* the counts behind our sums are gone */
	s->iteration = iter;
	s->leader_nonce = nonce;
	if (inst)
		s->instance_state = strcmp(inst, "finish") == 0 ? SRV_INST_FINISH :
				    strcmp(inst, "disable") == 0 ? SRV_INST_DISABLE : SRV_INST_RUNNING;
	s->paused = paused;
	s->safemode = paused;
	/* the job's iteration outcomes are the leader's (we may have missed some commits) */
	s->iterations_ok = (uint64_t)srv_json_i64(meta, "iterations_ok", (int64_t)s->iterations_ok);
	s->iterations_failed = (uint64_t)srv_json_i64(meta, "iterations_failed",
						      (int64_t)s->iterations_failed);
	srv_persist(s);
	s->join = SRV_JOIN_MEMBER;
	rt_log(s->h, RT_LOG_INFO, "in step with the leader at iteration %" PRId64, s->iteration);
	srv_update_ready(s);
	cJSON *m = cJSON_CreateObject();
	if (m) {
		cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
		srv_send_leader(s, SRV_MSG_SYNCED, m, NULL, 0);
	}
	if (paused)
		srv_maybe_scale_ready(s);
}

void srv_on_state(srv *s, int peer, const cJSON *meta)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(meta, "committed"), *pair;
	int64_t iters[SCHED_MAX_NODES];
	uint64_t hashes[SCHED_MAX_NODES];
	size_t n = 0;

	if (peer != s->leader_peer || srv_is_leader(s))
		return;
	srv_fetch_cancel(s);
	s->join = SRV_JOIN_SYNCING;
	srv_update_ready(s);
	cJSON_ArrayForEach(pair, list) {
		const cJSON *ji = cJSON_GetArrayItem(pair, 0), *jh = cJSON_GetArrayItem(pair, 1);
		if (!cJSON_IsNumber(ji) || !cJSON_IsString(jh) || n == SCHED_MAX_NODES)
			continue;
		int64_t it = (int64_t)ji->valuedouble;
		uint64_t h = strtoull(jh->valuestring, NULL, 16);
		srv_model *m = srv_store_get(&s->store, it);
		if (m && m->hash == h)
			continue;
		iters[n] = it;
		hashes[n++] = h;
	}
	if (n) {
		rt_log(s->h, RT_LOG_INFO, "syncing: fetching %zu committed models from the leader", n);
		if (srv_fetch_start(s, peer, SRV_FETCH_SYNC, iters, hashes, n,
				    cJSON_Duplicate(meta, 1)) != 0)
			s->join = SRV_JOIN_NONE;
		return;
	}
	state_apply(s, meta);
}

/* ---- model transfer ---- */

void srv_on_model_req(srv *s, int peer, const cJSON *meta)
{
	int64_t it = srv_json_i64(meta, "iteration", -1);
	srv_model *m = srv_store_get(&s->store, it);
	size_t chunk = (size_t)s->cfg.allreduce_chunk;

	if (!m) {
		cJSON *r = cJSON_CreateObject();
		if (r) {
			cJSON_AddNumberToObject(r, "iteration", (double)it);
			cJSON_AddBoolToObject(r, "missing", 1);
			srv_send(s, peer, SRV_MSG_MODEL, r, NULL, 0);
		}
		return;
	}
	for (size_t off = 0; off < m->n || off == 0; off += chunk) {
		size_t n = m->n - off < chunk ? m->n - off : chunk;
		cJSON *r = cJSON_CreateObject();
		if (!r)
			return;
		cJSON_AddNumberToObject(r, "iteration", (double)it);
		srv_json_add_u64(r, "hash", m->hash);
		cJSON_AddNumberToObject(r, "offset", (double)off);
		cJSON_AddNumberToObject(r, "total", (double)m->n);
		if (srv_send(s, peer, SRV_MSG_MODEL, r, m->w + off, n * sizeof(float)) != 0)
			return;
		if (m->n == 0)
			break;
	}
}

static int fetch_request(srv *s)
{
	srv_fetch *f = &s->fetch;
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return RT_ENOMEM;
	cJSON_AddNumberToObject(m, "iteration", (double)f->iters[f->next]);
	return srv_send(s, f->peer, SRV_MSG_MODEL_REQ, m, NULL, 0);
}

static void fetch_clear(srv *s)
{
	srv_fetch *f = &s->fetch;

	for (size_t i = 0; i < f->n; i++)
		srv_model_unref(f->got ? f->got[i] : NULL);
	srv_model_unref(f->cur);
	free(f->iters);
	free(f->hashes);
	free(f->got);
	cJSON_Delete(f->state);
	memset(f, 0, sizeof *f);
}

void srv_fetch_cancel(srv *s) { fetch_clear(s); }

int srv_fetch_start(srv *s, int peer, int purpose, const int64_t *iters, const uint64_t *hashes,
		    size_t n, cJSON *ctx)
{
	srv_fetch *f = &s->fetch;

	fetch_clear(s);
	f->iters = malloc(n * sizeof *f->iters);
	f->hashes = malloc(n * sizeof *f->hashes);
	f->got = calloc(n, sizeof *f->got);
	f->state = ctx;
	if (!f->iters || !f->hashes || !f->got || !n) {
		fetch_clear(s);
		return RT_ENOMEM;
	}
	memcpy(f->iters, iters, n * sizeof *iters);
	memcpy(f->hashes, hashes, n * sizeof *hashes);
	f->n = n;
	f->peer = peer;
	f->purpose = purpose;
	f->active = 1;
	if (fetch_request(s) != 0) {
		fetch_clear(s);
		return RT_EIO;
	}
	return 0;
}

static void fetch_failed(srv *s, const char *why)
{
	int purpose = s->fetch.purpose, peer = s->fetch.peer;

	rt_log(s->h, RT_LOG_WARN, "fetching committed models failed: %s", why);
	fetch_clear(s);
	if (purpose == SRV_FETCH_CATCHUP) {
		cJSON_Delete(s->peers[peer].hello);
		s->peers[peer].hello = NULL; /* do not try that one again */
		srv_leader_gather_check(s);
		return;
	}
	s->join = SRV_JOIN_NONE;
	srv_update_ready(s);
	if (srv_peer_up(s, s->leader_peer))
		srv_ask_state(s);
}

void srv_ask_state(srv *s)
{
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return;
	cJSON_AddNumberToObject(m, "iteration", -1);
	cJSON_AddItemToObject(m, "report", srv_hello_json(s));
	srv_send_leader(s, SRV_MSG_SYNCED, m, NULL, 0);
}

void srv_fetch_peer_down(srv *s, int peer)
{
	if (s->fetch.active && s->fetch.peer == peer)
		fetch_failed(s, "the peer was lost");
}

static void fetch_done(srv *s)
{
	srv_fetch *f = &s->fetch;

	f->active = 0;
	if (f->purpose == SRV_FETCH_COMMIT) {
		srv_model *m = srv_model_ref(f->got[0]);
		srv_commit_fetched(s, m);
		srv_model_unref(m);
		fetch_clear(s);
		return;
	}
	for (size_t i = 0; i < f->n; i++)
		srv_store_put(&s->store, f->iters[i], f->got[i]);
	if (f->purpose == SRV_FETCH_SYNC) {
		cJSON *st = f->state;
		f->state = NULL;
		fetch_clear(s);
		state_apply(s, st);
		cJSON_Delete(st);
		return;
	}
	/* CATCHUP: adopt the follower's history as ours, then lead from there. */
	const srv_store_entry *l = srv_store_latest(&s->store);
	const cJSON *hello = s->peers[f->peer].hello;
	s->iteration = l->iter + 1;
	s->iterations_ok = (uint64_t)srv_json_i64(hello, "iterations_ok", (int64_t)s->iterations_ok);
	s->iterations_failed = (uint64_t)srv_json_i64(hello, "iterations_failed",
						      (int64_t)s->iterations_failed);
	srv_reset_iteration(s);
	s->recovered = 1; /* whatever that iteration held is not ours to count */
	srv_persist(s);
	fetch_clear(s);
	srv_leader_gather_check(s);
}

void srv_on_model(srv *s, int peer, const cJSON *meta, const uint8_t *payload, size_t len)
{
	srv_fetch *f = &s->fetch;
	int64_t it = srv_json_i64(meta, "iteration", -1);

	if (!f->active || peer != f->peer || it != f->iters[f->next])
		return;
	if (srv_json_i64(meta, "missing", 0)) {
		fetch_failed(s, "the peer does not hold the model");
		return;
	}
	size_t off = (size_t)srv_json_i64(meta, "offset", -1);
	size_t total = (size_t)srv_json_i64(meta, "total", -1);
	if (total != s->def.total || len % sizeof(float) || off != f->have ||
	    off + len / sizeof(float) > total) {
		fetch_failed(s, "a malformed model chunk");
		return;
	}
	if (!f->cur) {
		f->cur = srv_model_new(total);
		if (!f->cur) {
			fetch_failed(s, "out of memory");
			return;
		}
	}
	memcpy(f->cur->w + off, payload, len);
	f->have += len / sizeof(float);
	if (f->have < total)
		return;
	f->cur->hash = model_hash(f->cur->w, f->cur->n);
	if (f->cur->hash != f->hashes[f->next] || srv_json_u64(meta, "hash") != f->cur->hash) {
		fetch_failed(s, "the model's hash does not match");
		return;
	}
	f->got[f->next++] = f->cur;
	f->cur = NULL;
	f->have = 0;
	if (f->next < f->n) {
		if (fetch_request(s) != 0)
			fetch_failed(s, "send failed");
		return;
	}
	fetch_done(s);
}
