/*
 * srv_allreduce.c — every member ends an iteration with the same FedAvg model, bit for bit.
 *
 * The members, ordered by rank (the AGG message lists them), form a ring. The weighted sums are
 * split into chunks of `chunk` floats, and each chunk travels the ring twice:
 *
 *   reduce  position 0 sends its chunk to 1, which adds its own and passes the sum to 2, ... up
 *           to n-1, which adds the last one and divides by the total data size. A chunk's sum is
 *           therefore always ((s0 + s1) + s2) + ... in rank order, whatever the timing.
 *   gather  n-1 sends each finished chunk on to 0, which passes it to 1, ... up to n-2.
 *
 * Chunks are pipelined (position 0 sends them all at once; each position forwards as soon as it
 * has added), so every link carries about twice the model, as in the textbook ring all-reduce;
 * unlike it, the summation order is fixed by rank for every element, so a test (or an auditor) can
 * recompute the committed model exactly from the accepted uploads. The data sizes travel with the
 * chunks as exact integers. Servers without uploads contribute zeros.
 *
 * Chunks that arrive before this server got its AGG (the predecessor may be faster) wait in a
 * queue, tagged with the AGG's generation.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_MAX 65536 /* queued chunks; past it the oldest iteration's are dropped */

static void free_msg(srv_ar_msg *m)
{
	if (m) {
		free(m->data);
		free(m);
	}
}

/* Drop queued chunks of iterations before `iter`. */
static void purge_early(srv *s, int64_t iter)
{
	srv_ar *ar = &s->ar;
	srv_ar_msg **pp = &ar->early;

	ar->early_tail = NULL;
	while (*pp) {
		srv_ar_msg *m = *pp;
		if (m->iteration < iter) {
			*pp = m->next;
			free_msg(m);
			ar->early_n--;
		} else {
			ar->early_tail = m;
			pp = &m->next;
		}
	}
}

void srv_ar_abort(srv *s)
{
	srv_ar *ar = &s->ar;

	free(ar->out);
	ar->out = NULL;
	ar->active = 0;
	purge_early(s, s->iteration);
}

static void agg_done(srv *s, uint64_t gen, int64_t iter, int ok, uint64_t hash, uint64_t ds)
{
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return;
	cJSON_AddNumberToObject(m, "iteration", (double)iter);
	srv_json_add_u64(m, "gen", gen);
	cJSON_AddBoolToObject(m, "ok", ok);
	srv_json_add_u64(m, "hash", hash);
	cJSON_AddNumberToObject(m, "ds", (double)ds);
	srv_send_leader(s, SRV_MSG_AGG_DONE, m, NULL, 0);
}

static void ar_fail(srv *s, const char *why)
{
	srv_ar *ar = &s->ar;

	rt_log(s->h, RT_LOG_WARN, "all-reduce of iteration %" PRId64 " failed: %s", ar->iteration,
	       why);
	agg_done(s, ar->gen, ar->iteration, 0, 0, 0);
	srv_ar_abort(s);
}

static void ar_complete(srv *s)
{
	srv_ar *ar = &s->ar;
	srv_model *m = calloc(1, sizeof *m);

	if (!m) {
		ar_fail(s, "out of memory");
		return;
	}
	m->refs = 1;
	m->n = ar->total;
	m->w = ar->out;
	ar->out = NULL;
	m->hash = model_hash(m->w, m->n);
	srv_model_unref(s->cand);
	s->cand = m;
	s->cand_iter = ar->iteration;
	ar->active = 0;
	rt_log(s->h, RT_LOG_INFO, "all-reduce of iteration %" PRId64 " done: model %016" PRIx64
	       ", data size %" PRIu64, ar->iteration, m->hash, ar->total_ds);
	agg_done(s, ar->gen, ar->iteration, 1, m->hash, ar->total_ds);
}

static size_t chunk_len(const srv_ar *ar, size_t j)
{
	size_t off = j * ar->chunk;
	return ar->total - off < ar->chunk ? ar->total - off : ar->chunk;
}

static int send_chunk(srv *s, int type, size_t j, uint64_t ds, const float *data)
{
	srv_ar *ar = &s->ar;
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return RT_ENOMEM;
	srv_json_add_u64(m, "gen", ar->gen);
	cJSON_AddNumberToObject(m, "iteration", (double)ar->iteration);
	cJSON_AddNumberToObject(m, "chunk", (double)j);
	cJSON_AddNumberToObject(m, "ds", (double)ds);
	return srv_send(s, ar->succ, type, m, data, chunk_len(ar, j) * sizeof(float));
}

/* One chunk for the running all-reduce; 0, or -1 after failing it. */
static int ar_step(srv *s, int type, size_t j, uint64_t ds, const uint8_t *data, size_t len)
{
	srv_ar *ar = &s->ar;

	if (j >= ar->nchunks || len != chunk_len(ar, j) * sizeof(float)) {
		ar_fail(s, "a chunk of the wrong size or number");
		return -1;
	}
	float *o = ar->out + j * ar->chunk;
	size_t n = chunk_len(ar, j);
	if (type == SRV_MSG_RED) {
		if (ar->pos == 0) {
			ar_fail(s, "a reduce chunk reached position 0");
			return -1;
		}
		/* (partial sum of the positions before us) + ours */
		memcpy(o, data, len);
		fedavg_add(o, s->acc + j * ar->chunk, n);
		ds += ar->own_ds;
		if (ar->pos < ar->n - 1)
			return send_chunk(s, SRV_MSG_RED, j, ds, o) ? (ar_fail(s, "send failed"), -1) : 0;
		if (ds == 0 || fedavg_finish(o, n, (double)ds) != 0) {
			ar_fail(s, "the total data size is zero");
			return -1;
		}
		ar->total_ds = ds;
		if (send_chunk(s, SRV_MSG_FIN, j, ds, o)) {
			ar_fail(s, "send failed");
			return -1;
		}
	} else {
		if (ar->pos == ar->n - 1) {
			ar_fail(s, "a result chunk reached the last position");
			return -1;
		}
		memcpy(o, data, len);
		ar->total_ds = ds;
		if (ar->pos < ar->n - 2 && send_chunk(s, SRV_MSG_FIN, j, ds, o)) {
			ar_fail(s, "send failed");
			return -1;
		}
	}
	if (++ar->done_chunks == ar->nchunks)
		ar_complete(s);
	return 0;
}

static void drain_early(srv *s)
{
	srv_ar *ar = &s->ar;
	srv_ar_msg **pp = &ar->early;

	while (ar->active && *pp) {
		srv_ar_msg *m = *pp;
		if (m->gen != ar->gen) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		ar->early_n--;
		ar_step(s, m->type, m->chunk, m->ds, (const uint8_t *)m->data, m->n * sizeof(float));
		free_msg(m);
	}
	ar->early_tail = NULL;
	for (srv_ar_msg *m = ar->early; m; m = m->next)
		ar->early_tail = m;
}

void srv_on_agg(srv *s, int peer, const cJSON *meta)
{
	srv_ar *ar = &s->ar;
	int64_t iter = srv_json_i64(meta, "iteration", -1);
	uint64_t gen = srv_json_u64(meta, "gen");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(meta, "members"), *it;
	int64_t chunk = srv_json_i64(meta, "chunk", 0);
	int n = cJSON_GetArraySize(mem), pos = -1, k = 0;

	if (peer != s->leader_peer)
		return;
	if (iter != s->iteration || s->join != SRV_JOIN_MEMBER || chunk < 1 || n < 1) {
		agg_done(s, gen, iter, 0, 0, 0);
		return;
	}
	srv_ar_abort(s);
	cJSON_ArrayForEach(it, mem) {
		if (cJSON_IsString(it) && strcmp(it->valuestring, s->cfg.node_id) == 0)
			pos = k;
		k++;
	}
	memset(ar, 0, offsetof(srv_ar, early));
	ar->gen = gen;
	ar->iteration = iter;
	ar->n = n;
	ar->pos = pos;
	ar->total = s->def.total;
	ar->chunk = (size_t)chunk;
	ar->nchunks = (ar->total + ar->chunk - 1) / ar->chunk;
	ar->own_ds = s->acc_ds;
	if (pos < 0) {
		agg_done(s, gen, iter, 0, 0, 0);
		return;
	}
	ar->pred = srv_peer_find(s, cJSON_GetArrayItem(mem, (pos + n - 1) % n)->valuestring);
	ar->succ = srv_peer_find(s, cJSON_GetArrayItem(mem, (pos + 1) % n)->valuestring);
	ar->out = malloc(ar->total * sizeof(float));
	ar->active = 1;
	if (!ar->out || ar->pred < 0 || ar->succ < 0 ||
	    (n > 1 && (!srv_peer_up(s, ar->pred) || !srv_peer_up(s, ar->succ)))) {
		ar_fail(s, !ar->out ? "out of memory" : "a ring neighbour is not connected");
		return;
	}
	if (n == 1) {
		memcpy(ar->out, s->acc, ar->total * sizeof(float));
		if (ar->own_ds == 0 || fedavg_finish(ar->out, ar->total, (double)ar->own_ds)) {
			ar_fail(s, "the total data size is zero");
			return;
		}
		ar->total_ds = ar->own_ds;
		ar_complete(s);
		return;
	}
	if (pos == 0) {
		for (size_t j = 0; j < ar->nchunks; j++) {
			if (send_chunk(s, SRV_MSG_RED, j, ar->own_ds, s->acc + j * ar->chunk)) {
				ar_fail(s, "send failed");
				return;
			}
		}
	}
	drain_early(s);
}

void srv_on_ar_chunk(srv *s, int peer, int type, const cJSON *meta, const uint8_t *payload,
		     size_t len)
{
	srv_ar *ar = &s->ar;
	uint64_t gen = srv_json_u64(meta, "gen");
	int64_t iter = srv_json_i64(meta, "iteration", -1);
	size_t j = (size_t)srv_json_i64(meta, "chunk", -1);
	uint64_t ds = (uint64_t)srv_json_i64(meta, "ds", 0);

	if (ar->active && gen == ar->gen) {
		if (peer != ar->pred) {
			ar_fail(s, "a chunk from a server that is not our predecessor");
			return;
		}
		ar_step(s, type, j, ds, payload, len);
		return;
	}
	if (iter < s->iteration || len % sizeof(float))
		return; /* an abandoned all-reduce */
	if (ar->early_n >= EARLY_MAX)
		purge_early(s, iter);
	srv_ar_msg *m = calloc(1, sizeof *m);
	if (!m)
		return;
	m->data = malloc(len ? len : 1);
	if (!m->data) {
		free(m);
		return;
	}
	memcpy(m->data, payload, len);
	m->type = type;
	m->gen = gen;
	m->iteration = iter;
	m->chunk = j;
	m->ds = ds;
	m->n = len / sizeof(float);
	if (ar->early_tail)
		ar->early_tail->next = m;
	else
		ar->early = m;
	ar->early_tail = m;
	ar->early_n++;
}

void srv_ar_peer_down(srv *s, int peer)
{
	srv_ar *ar = &s->ar;

	if (ar->active && ar->n > 1 && (peer == ar->pred || peer == ar->succ))
		ar_fail(s, "a ring neighbour was lost");
}

void srv_ar_free(srv *s)
{
	srv_ar_abort(s);
	purge_early(s, INT64_MAX);
}
