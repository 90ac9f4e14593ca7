/*
 * rt_sim_disk.c — the simulator's virtual disk: per host, a list of files (insertion order), each
 * with its current contents (what reads see) and its durable contents (what survives a crash).
 *
 * Contents are reference-counted blobs, so a synced file shares one buffer between its current
 * and durable views; an append to a shared blob copies it first (copy on write), an append to an
 * unshared one grows it in place (amortised, for logs).
 *
 * Choices where rt.h is silent: removing a file is durable at once (rt.h offers no way to sync a
 * removal); on a crashed host mutations do nothing and return 0, reads still work.
 */
#include "rt_sim_int.h"

#include <stdlib.h>
#include <string.h>

static struct sim_blob *blob_new(const void *buf, size_t len)
{
	size_t cap = len ? len : 16;
	struct sim_blob *b = malloc(sizeof *b + cap);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	b->cap = cap;
	if (len)
		memcpy(b->data, buf, len);
	return b;
}

static struct sim_blob *blob_ref(struct sim_blob *b)
{
	if (b)
		b->refs++;
	return b;
}

static void blob_unref(struct sim_blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

/* Append to *bp, copying first when the blob is shared; *bp is replaced on success. */
static int blob_append(struct sim_blob **bp, const void *buf, size_t len)
{
	struct sim_blob *b = *bp;
	if (len > SIZE_MAX / 2 - b->len)
		return RT_ETOOBIG;
	size_t need = b->len + len;
	if (b->refs == 1 && need <= b->cap) {
		memcpy(b->data + b->len, buf, len);
		b->len = need;
		return 0;
	}
	/* Grow geometrically from what is needed (not from the old capacity: a copy of a shared
	 * blob after every sync would otherwise double the capacity each time). */
	size_t cap = need + need / 2 + 16;
	struct sim_blob *nb;
	if (b->refs == 1) {
		nb = realloc(b, sizeof *b + cap);
		if (!nb)
			return RT_ENOMEM;
	} else {
		nb = malloc(sizeof *nb + cap);
		if (!nb)
			return RT_ENOMEM;
		nb->refs = 1;
		nb->len = b->len;
		memcpy(nb->data, b->data, b->len);
		b->refs--;
	}
	nb->cap = cap;
	memcpy(nb->data + nb->len, buf, len);
	nb->len = need;
	*bp = nb;
	return 0;
}

static struct sim_file *file_find(struct sim_host *h, const char *name, size_t *idx)
{
	for (size_t i = 0; i < h->nfiles; i++) {
		if (!strcmp(h->files[i]->name, name)) {
			if (idx)
				*idx = i;
			return h->files[i];
		}
	}
	return NULL;
}

static struct sim_file *file_get(struct sim_host *h, const char *name)
{
	struct sim_file *f = file_find(h, name, NULL);
	if (f)
		return f;
	if (h->nfiles == h->cap_files) {
		size_t cap = h->cap_files ? h->cap_files * 2 : 8;
		struct sim_file **nf = realloc(h->files, cap * sizeof *nf);
		if (!nf)
			return NULL;
		h->files = nf;
		h->cap_files = cap;
	}
	f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	snprintf(f->name, sizeof f->name, "%s", name);
	h->files[h->nfiles++] = f;
	return f;
}

static void file_drop(struct sim_host *h, size_t i)
{
	struct sim_file *f = h->files[i];
	blob_unref(f->cur);
	blob_unref(f->dur);
	free(f);
	memmove(&h->files[i], &h->files[i + 1], (h->nfiles - i - 1) * sizeof *h->files);
	h->nfiles--;
}

/* Drop entries that exist neither now nor durably, keeping the order of the rest. */
static void files_compact(struct sim_host *h)
{
	for (size_t i = h->nfiles; i-- > 0;)
		if (!h->files[i]->cur && !h->files[i]->dur)
			file_drop(h, i);
}

static void make_durable(struct sim_file *f)
{
	blob_unref(f->dur);
	f->dur = blob_ref(f->cur);
}

int sim_file_write(rt_host *hh, const char *name, const void *buf, size_t len, int flags)
{
	struct sim_host *h = sim_host_of(hh);
	if (!sim_host_alive(h))
		return 0;
	struct sim_blob *b = blob_new(buf, len);
	if (!b)
		return RT_ENOMEM;
	struct sim_file *f = file_get(h, name);
	if (!f) {
		blob_unref(b);
		return RT_ENOMEM;
	}
	blob_unref(f->cur);
	f->cur = b;
	if (flags & RT_FILE_SYNC)
		make_durable(f);
	return 0;
}

int sim_file_append(rt_host *hh, const char *name, const void *buf, size_t len, int flags)
{
	struct sim_host *h = sim_host_of(hh);
	if (!sim_host_alive(h))
		return 0;
	struct sim_file *f = file_get(h, name);
	if (!f)
		return RT_ENOMEM;
	if (!f->cur) {
		f->cur = blob_new(buf, len);
		if (!f->cur) {
			files_compact(h);
			return RT_ENOMEM;
		}
	} else {
		int rc = blob_append(&f->cur, buf, len);
		if (rc)
			return rc;
	}
	if (flags & RT_FILE_SYNC)
		make_durable(f);
	return 0;
}

int sim_file_fsync(rt_host *hh, const char *name)
{
	struct sim_host *h = sim_host_of(hh);
	struct sim_file *f = file_find(h, name, NULL);
	if (!f || !f->cur)
		return RT_ENOENT;
	if (sim_host_alive(h))
		make_durable(f);
	return 0;
}

int sim_file_read(rt_host *hh, const char *name, uint8_t **buf, size_t *len)
{
	struct sim_file *f = file_find(sim_host_of(hh), name, NULL);
	if (!f || !f->cur)
		return RT_ENOENT;
	uint8_t *out = malloc(f->cur->len + 1);
	if (!out)
		return RT_ENOMEM;
	memcpy(out, f->cur->data, f->cur->len);
	out[f->cur->len] = 0;
	*buf = out;
	*len = f->cur->len;
	return 0;
}

int sim_file_remove(rt_host *hh, const char *name)
{
	struct sim_host *h = sim_host_of(hh);
	size_t i;
	struct sim_file *f = file_find(h, name, &i);
	if (!f || !f->cur)
		return RT_ENOENT;
	if (sim_host_alive(h))
		file_drop(h, i);
	return 0;
}

void sim_disk_lose(struct sim_host *h)
{
	for (size_t i = 0; i < h->nfiles; i++) {
		struct sim_file *f = h->files[i];
		blob_unref(f->cur);
		f->cur = blob_ref(f->dur);
	}
	files_compact(h);
}

void sim_disk_free(struct sim_host *h)
{
	while (h->nfiles)
		file_drop(h, h->nfiles - 1);
	free(h->files);
	h->files = NULL;
	h->cap_files = 0;
}

void rt_sim_disk_lose_unsynced(rt_host *h)
{
	if (h)
		sim_disk_lose(sim_host_of(h));
}

static void flip(struct sim_blob *b, size_t offset)
{
	if (b && b->len)
		b->data[offset % b->len] ^= 0xff;
}

int rt_sim_disk_corrupt(rt_host *hh, const char *name, size_t offset)
{
	if (!hh || rt_file_name_ok(name))
		return RT_EINVAL;
	struct sim_file *f = file_find(sim_host_of(hh), name, NULL);
	if (!f || (!f->cur && !f->dur))
		return RT_ENOENT;
	if ((!f->cur || !f->cur->len) && (!f->dur || !f->dur->len))
		return RT_EINVAL; /* empty: no byte to flip */
	flip(f->cur, offset);
	if (f->dur != f->cur) /* a shared blob is one byte on "disk": flip it once */
		flip(f->dur, offset);
	return 0;
}
