/*
 * srv_store.c — the model store (the last model_store_size committed models, by iteration) and
 * the recovery files.
 *
 * Recovery files, under the host's data directory, each ending with a CRC-32 (zlib) of all the
 * bytes before it, so a flipped byte or a torn file is detected and the server refuses to start
 * rather than serve a wrong model:
 *
 *   srv_state       "FLSS" u32 version u32 json_len, JSON {node_id, rank, iteration,
 *                   instance_state, model, floats, iterations_ok, iterations_failed,
 *                   models:[[iter,"hash"],...]}, u32 crc
 *   model_<iter>    "FLSM" u32 version i64 iteration u64 n u64 model_hash, n float32, u32 crc
 *
 * A commit writes the new model file first, fsynced, then the state file that names it
 * (write-temp-and-rename, fsynced), then removes the model files that fell out of the store. A
 * crash between the steps leaves either the old state (the new model file is an unnamed leftover)
 * or the new one; never a state that names a missing or partial model.
 * Integers and floats are stored in the host's byte order (little-endian on every target).
 */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define STATE_FILE "srv_state"
#define STATE_MAGIC "FLSS"
#define MODEL_MAGIC "FLSM"
#define FILE_VERSION 1u
#define MODEL_HDR (4 + 4 + 8 + 8 + 8)

/* ---- models ---- */

srv_model *srv_model_new(size_t n)
{
	srv_model *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->w = calloc(n ? n : 1, sizeof(float));
	if (!m->w) {
		free(m);
		return NULL;
	}
	m->n = n;
	m->refs = 1;
	return m;
}

srv_model *srv_model_ref(srv_model *m)
{
	if (m)
		m->refs++;
	return m;
}

void srv_model_unref(srv_model *m)
{
	if (!m || --m->refs > 0)
		return;
	free(m->w);
	free(m);
}

srv_model *srv_initial_model(const srv *s)
{
	srv_model *m = srv_model_new(s->def.total);

	if (!m)
		return NULL;
	model_init_weights(&s->def, rt_seed_derive((uint64_t)s->cfg.model_seed, s->cfg.fl_name), m->w);
	m->hash = model_hash(m->w, m->n);
	return m;
}

/* ---- the store ---- */

int srv_store_init(srv_store *st, size_t cap)
{
	memset(st, 0, sizeof *st);
	st->cap = cap ? cap : 1;
	st->e = calloc(st->cap + 1, sizeof *st->e);
	return st->e ? 0 : RT_ENOMEM;
}

void srv_store_free(srv_store *st)
{
	for (size_t i = 0; i < st->n; i++)
		srv_model_unref(st->e[i].m);
	free(st->e);
	memset(st, 0, sizeof *st);
}

srv_model *srv_store_get(const srv_store *st, int64_t iter)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->e[i].iter == iter)
			return st->e[i].m;
	return NULL;
}

const srv_store_entry *srv_store_latest(const srv_store *st)
{
	return st->n ? &st->e[st->n - 1] : NULL;
}

int srv_store_put(srv_store *st, int64_t iter, srv_model *m)
{
	size_t i;

	if (!m)
		return RT_EINVAL;
	for (i = 0; i < st->n; i++) {
		if (st->e[i].iter == iter) {
			srv_model_ref(m);
			srv_model_unref(st->e[i].m);
			st->e[i].m = m;
			return 0;
		}
		if (st->e[i].iter > iter)
			break;
	}
	/* e has cap + 1 slots: insert, then trim to cap from the oldest end. */
	memmove(&st->e[i + 1], &st->e[i], (st->n - i) * sizeof *st->e);
	st->e[i].iter = iter;
	st->e[i].m = srv_model_ref(m);
	st->n++;
	while (st->n > st->cap) {
		srv_model_unref(st->e[0].m);
		memmove(&st->e[0], &st->e[1], (st->n - 1) * sizeof *st->e);
		st->n--;
	}
	return 0;
}

void srv_store_drop_after(srv_store *st, int64_t iter)
{
	while (st->n && st->e[st->n - 1].iter > iter) {
		srv_model_unref(st->e[st->n - 1].m);
		st->n--;
	}
}

cJSON *srv_store_list_json(const srv_store *st)
{
	cJSON *a = cJSON_CreateArray();
	char hex[24];

	for (size_t i = 0; a && i < st->n; i++) {
		cJSON *pair = cJSON_CreateArray();
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)st->e[i].m->hash);
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)st->e[i].iter));
		cJSON_AddItemToArray(pair, cJSON_CreateString(hex));
		cJSON_AddItemToArray(a, pair);
	}
	return a;
}

/* ---- files ---- */

static uint32_t crc_of(const uint8_t *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);

	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		c = crc32(c, p, k);
		p += k;
		n -= k;
	}
	return (uint32_t)c;
}

static void model_file_name(char *buf, size_t len, int64_t iter)
{
	snprintf(buf, len, "model_%lld", (long long)iter);
}

static int write_model_file(srv *s, int64_t iter, const srv_model *m)
{
	size_t len = MODEL_HDR + m->n * sizeof(float) + 4;
	uint8_t *buf = malloc(len);
	uint32_t ver = FILE_VERSION, crc;
	uint64_t n = m->n;
	char name[64];
	int rc;

	if (!buf)
		return RT_ENOMEM;
	memcpy(buf, MODEL_MAGIC, 4);
	memcpy(buf + 4, &ver, 4);
	memcpy(buf + 8, &iter, 8);
	memcpy(buf + 16, &n, 8);
	memcpy(buf + 24, &m->hash, 8);
	memcpy(buf + MODEL_HDR, m->w, m->n * sizeof(float));
	crc = crc_of(buf, len - 4);
	memcpy(buf + len - 4, &crc, 4);
	model_file_name(name, sizeof name, iter);
	rc = rt_file_write(s->h, name, buf, len, RT_FILE_SYNC);
	free(buf);
	return rc;
}

static int read_model_file(srv *s, int64_t iter, uint64_t want_hash, srv_model **out)
{
	char name[64];
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t ver, crc;
	int64_t fiter;
	uint64_t n, hash;
	int rc;

	model_file_name(name, sizeof name, iter);
	rc = rt_file_read(s->h, name, &buf, &len);
	if (rc) {
		rt_log(s->h, RT_LOG_ERROR, "recovery: model file %s of a committed iteration is "
		       "unreadable: %s", name, rt_strerror(rc));
		return SRV_ECORRUPT;
	}
	rc = SRV_ECORRUPT;
	if (len < MODEL_HDR + 4 || memcmp(buf, MODEL_MAGIC, 4) != 0)
		goto bad;
	memcpy(&crc, buf + len - 4, 4);
	if (crc != crc_of(buf, len - 4))
		goto bad;
	memcpy(&ver, buf + 4, 4);
	memcpy(&fiter, buf + 8, 8);
	memcpy(&n, buf + 16, 8);
	memcpy(&hash, buf + 24, 8);
	if (ver != FILE_VERSION || fiter != iter || n != s->def.total ||
	    len != MODEL_HDR + n * sizeof(float) + 4 || hash != want_hash)
		goto bad;
	srv_model *m = srv_model_new(n);
	if (!m) {
		rc = RT_ENOMEM;
		goto out;
	}
	memcpy(m->w, buf + MODEL_HDR, n * sizeof(float));
	m->hash = model_hash(m->w, m->n);
	if (m->hash != want_hash) {
		srv_model_unref(m);
		goto bad;
	}
	*out = m;
	rc = 0;
	goto out;
bad:
	rt_log(s->h, RT_LOG_ERROR, "recovery: model file %s is corrupt (checksum, size or hash "
	       "mismatch); refusing to start rather than serve a wrong model", name);
out:
	free(buf);
	return rc;
}

static const char *const inst_names[] = { "running", "disable", "finish" };

int srv_persist(srv *s)
{
	srv_store *st = &s->store;
	int rc;

	if (!s->cfg.recovery)
		return 0;
	/* 1. model files not yet on disk (a file per committed iteration; same iteration and
	 * hash means same bytes, so a file once written is never rewritten). */
	for (size_t i = 0; i < st->n; i++) {
		int found = 0;
		for (size_t j = 0; j < s->disk_n; j++)
			if (s->disk_iters[j] == st->e[i].iter && s->disk_hashes[j] == st->e[i].m->hash)
				found = 1;
		if (found)
			continue;
		rc = write_model_file(s, st->e[i].iter, st->e[i].m);
		if (rc) {
			rt_log(s->h, RT_LOG_ERROR, "recovery: writing model %lld failed: %s",
			       (long long)st->e[i].iter, rt_strerror(rc));
			return rc;
		}
	}
	/* 2. the state file naming exactly the stored models */
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return RT_ENOMEM;
	cJSON_AddStringToObject(j, "node_id", s->cfg.node_id);
	cJSON_AddNumberToObject(j, "rank", s->rank);
	cJSON_AddNumberToObject(j, "iteration", (double)s->iteration);
	cJSON_AddStringToObject(j, "instance_state", inst_names[s->instance_state]);
	cJSON_AddStringToObject(j, "model", s->cfg.model);
	cJSON_AddNumberToObject(j, "floats", (double)s->def.total);
	cJSON_AddNumberToObject(j, "iterations_ok", (double)s->iterations_ok);
	cJSON_AddNumberToObject(j, "iterations_failed", (double)s->iterations_failed);
	cJSON_AddItemToObject(j, "models", srv_store_list_json(st));
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return RT_ENOMEM;
	size_t tl = strlen(text), len = 12 + tl + 4;
	uint8_t *buf = malloc(len);
	if (!buf) {
		free(text);
		return RT_ENOMEM;
	}
	uint32_t ver = FILE_VERSION, tl32 = (uint32_t)tl, crc;
	memcpy(buf, STATE_MAGIC, 4);
	memcpy(buf + 4, &ver, 4);
	memcpy(buf + 8, &tl32, 4);
	memcpy(buf + 12, text, tl);
	crc = crc_of(buf, len - 4);
	memcpy(buf + len - 4, &crc, 4);
	free(text);
	rc = rt_file_write(s->h, STATE_FILE, buf, len, RT_FILE_SYNC);
	free(buf);
	if (rc) {
		rt_log(s->h, RT_LOG_ERROR, "recovery: writing %s failed: %s", STATE_FILE,
		       rt_strerror(rc));
		return rc;
	}
	/* 3. forget model files that are no longer named */
	for (size_t k = 0; k < s->disk_n; k++) {
		if (!srv_store_get(st, s->disk_iters[k])) {
			char name[64];
			model_file_name(name, sizeof name, s->disk_iters[k]);
			rt_file_remove(s->h, name);
		}
	}
	free(s->disk_iters);
	free(s->disk_hashes);
	s->disk_n = st->n;
	s->disk_iters = calloc(st->n + 1, sizeof *s->disk_iters);
	s->disk_hashes = calloc(st->n + 1, sizeof *s->disk_hashes);
	if (!s->disk_iters || !s->disk_hashes) {
		s->disk_n = 0;
		return RT_ENOMEM;
	}
	for (size_t i = 0; i < st->n; i++) {
		s->disk_iters[i] = st->e[i].iter;
		s->disk_hashes[i] = st->e[i].m->hash;
	}
	return 0;
}

static uint64_t parse_hex(const char *x)
{
	return x ? strtoull(x, NULL, 16) : 0;
}

int srv_recover(srv *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	cJSON *j = NULL;
	int rc = rt_file_read(s->h, STATE_FILE, &buf, &len);

	if (rc == RT_ENOENT)
		return 0;
	if (rc) {
		rt_log(s->h, RT_LOG_ERROR, "recovery: reading %s failed: %s", STATE_FILE,
		       rt_strerror(rc));
		return rc;
	}
	rc = SRV_ECORRUPT;
	uint32_t ver, tl, crc;
	if (len < 16 || memcmp(buf, STATE_MAGIC, 4) != 0)
		goto corrupt;
	memcpy(&ver, buf + 4, 4);
	memcpy(&tl, buf + 8, 4);
	memcpy(&crc, buf + len - 4, 4);
	if (ver != FILE_VERSION || (size_t)tl + 16 != len || crc != crc_of(buf, len - 4))
		goto corrupt;
	j = cJSON_ParseWithLength((const char *)buf + 12, tl);
	if (!cJSON_IsObject(j))
		goto corrupt;
	const char *node = srv_json_str(j, "node_id");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(j, "models");
	int64_t iteration = srv_json_i64(j, "iteration", -1);
	const char *inst = srv_json_str(j, "instance_state");
	if (!node || !cJSON_IsArray(models) || iteration < 1 || !inst)
		goto corrupt;
	if (strcmp(node, s->cfg.node_id) != 0) {
		rt_log(s->h, RT_LOG_ERROR, "recovery: the files in this data directory belong to node "
		       "'%s', not '%s'", node, s->cfg.node_id);
		rc = SRV_EOWNER;
		goto out;
	}
	if ((size_t)srv_json_i64(j, "floats", -1) != s->def.total) {
		rt_log(s->h, RT_LOG_ERROR, "recovery: the saved models are '%s' (%lld floats), not "
		       "'%s'", srv_json_str(j, "model") ? srv_json_str(j, "model") : "?",
		       (long long)srv_json_i64(j, "floats", -1), s->cfg.model);
		rc = SRV_ECONFIG;
		goto out;
	}
	s->instance_state = SRV_INST_RUNNING;
	for (int i = 0; i < 3; i++)
		if (strcmp(inst, inst_names[i]) == 0)
			s->instance_state = i;
	srv_store_drop_after(&s->store, -1);
	const cJSON *pair;
	size_t nm = (size_t)cJSON_GetArraySize(models);
	s->disk_iters = calloc(nm + 1, sizeof *s->disk_iters);
	s->disk_hashes = calloc(nm + 1, sizeof *s->disk_hashes);
	if (!s->disk_iters || !s->disk_hashes) {
		rc = RT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(pair, models) {
		const cJSON *ji = cJSON_GetArrayItem(pair, 0), *jh = cJSON_GetArrayItem(pair, 1);
		/* an iteration out of int64_t's range would convert undefined */
		if (!cJSON_IsNumber(ji) || !cJSON_IsString(jh) || !(ji->valuedouble >= 0) ||
		    ji->valuedouble > 9.0e15)
			goto corrupt;
		srv_model *m = NULL;
		int64_t it = (int64_t)ji->valuedouble;
		rc = read_model_file(s, it, parse_hex(jh->valuestring), &m);
		if (rc)
			goto out;
		s->disk_iters[s->disk_n] = it;
		s->disk_hashes[s->disk_n++] = m->hash;
		rc = srv_store_put(&s->store, it, m);
		srv_model_unref(m);
		if (rc)
			goto out;
	}
	if (!s->store.n || srv_store_latest(&s->store)->iter != iteration - 1)
		goto corrupt;
	s->iteration = iteration;
	s->rank = (int)srv_json_i64(j, "rank", -1);
	s->iterations_ok = (uint64_t)srv_json_i64(j, "iterations_ok", 0);
	s->iterations_failed = (uint64_t)srv_json_i64(j, "iterations_failed", 0);
	s->recovered = 1;
	rt_log(s->h, RT_LOG_INFO, "recovery: reloaded iteration %lld, %zu committed models (latest "
	       "%lld), instance %s", (long long)iteration, s->store.n,
	       (long long)srv_store_latest(&s->store)->iter, inst);
	rc = 0;
	goto out;
corrupt:
	rc = SRV_ECORRUPT;
	rt_log(s->h, RT_LOG_ERROR, "recovery: %s is corrupt (checksum or format mismatch); "
	       "refusing to start rather than serve a wrong model", STATE_FILE);
out:
	cJSON_Delete(j);
	free(buf);
	return rc;
}
