/*
 * rt_uv_impl.h — private to the libuv backend (node/rt/rt_uv.c, node/rt/rt_uv_file.c): the host
 * struct and the pieces the split files share. Nothing else includes it.
 */
#ifndef FL_RT_UV_IMPL_H
#define FL_RT_UV_IMPL_H

#include "rt_impl.h"
#include "rt_uv.h"

#include <stdint.h>
#include <stdio.h>

/* Intrusive doubly linked list (a head is a link that points to itself when empty). */
struct rtu_link {
	struct rtu_link *prev, *next;
};
void rtu_link_init(struct rtu_link *l);
int rtu_link_empty(const struct rtu_link *l);
void rtu_link_add_tail(struct rtu_link *head, struct rtu_link *l);
void rtu_link_del(struct rtu_link *l);

/* A libuv host: the common head first, then what the backend tracks for it. */
struct uvh {
	struct rt_host head;
	rt_uv *u;
	struct rtu_link link; /* in the runtime's host list */
	struct rtu_link timers, listeners, streams; /* live objects, in creation order */
	int64_t clock_offset_ms;
	FILE *log; /* NULL = stderr; not owned */
	char *dir; /* data directory, owned */
};

/* Files (rt_uv_file.c): synchronous POSIX I/O under h->dir; see rt.h for the contracts. */
int rtu_mkdir_p(const char *dir);
int rtu_file_write(rt_host *h, const char *name, const void *buf, size_t len, int flags);
int rtu_file_append(rt_host *h, const char *name, const void *buf, size_t len, int flags);
int rtu_file_fsync(rt_host *h, const char *name);
int rtu_file_read(rt_host *h, const char *name, uint8_t **buf, size_t *len);
int rtu_file_remove(rt_host *h, const char *name);

#endif
