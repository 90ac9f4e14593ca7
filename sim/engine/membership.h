/*
 * membership.h — the membership invariant, shared by the sim-mode checker (invariants.c) and the
 * live one (live_inv.c). It holds what a correct scheduler promises, nothing more:
 *
 *   - a server the scheduler cannot hear (down, paused, partitioned away) may be shown dead at
 *     once, and must be shown dead once it has been unreachable for node_timeout plus two
 *     heartbeats (plus `slack`, for live processes);
 *   - a server it can hear must be shown alive again within the same bound of becoming
 *     reachable (after a heal, a restart, a resume).
 *
 * A scheduler (re)start begins every timer again (sched_up_since_ns). The caller says, for each
 * server the scheduler lists, what the table shows and whether heartbeats can pass now.
 */
#ifndef FL_MEMBERSHIP_H
#define FL_MEMBERSHIP_H

#include "violations.h"

#include <stddef.h>
#include <stdint.h>

#define MEMBERSHIP_MAX 256

typedef struct member_view {
	const char *name; /* "server/<id>" */
	int listed_alive; /* what the scheduler's table says */
	int reachable;    /* up, running, and no partition between it and the scheduler */
} member_view;

typedef struct membership {
	uint64_t bound_ns; /* node_timeout + 2 heartbeats + slack */
	uint64_t node_timeout_ns;
	size_t n;
	struct {
		char name[32];
		int reachable; /* -1 before the first look */
		uint64_t since_ns;
	} t[MEMBERSHIP_MAX];
} membership;

void membership_init(membership *m, uint64_t node_timeout_ns, uint64_t heartbeat_ns, uint64_t slack_ns);
/* Judge one poll of the table; violations go to vio (once per server and direction). */
void membership_check(membership *m, violations *vio, uint64_t now_ns, uint64_t sched_up_since_ns,
		      const member_view *v, size_t n);

#endif
