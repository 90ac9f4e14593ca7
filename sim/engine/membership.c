/* membership.c — see membership.h. */
#include "membership.h"

#include <stdio.h>
#include <string.h>

void membership_init(membership *m, uint64_t node_timeout_ns, uint64_t heartbeat_ns, uint64_t slack_ns)
{
	memset(m, 0, sizeof *m);
	m->node_timeout_ns = node_timeout_ns;
	m->bound_ns = node_timeout_ns + 2 * heartbeat_ns + slack_ns;
}

/* The server's entry (added on first sight), or NULL when the table is full. */
static size_t find(membership *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return i;
	if (m->n == MEMBERSHIP_MAX)
		return MEMBERSHIP_MAX;
	snprintf(m->t[m->n].name, sizeof m->t[m->n].name, "%s", name);
	m->t[m->n].reachable = -1;
	return m->n++;
}

void membership_check(membership *m, violations *vio, uint64_t now_ns, uint64_t sched_up_since_ns,
		      const member_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = find(m, v[i].name);
		if (k == MEMBERSHIP_MAX)
			continue;
		if (m->t[k].reachable != v[i].reachable) {
			m->t[k].reachable = v[i].reachable;
			m->t[k].since_ns = now_ns;
		}
		uint64_t since = m->t[k].since_ns > sched_up_since_ns ? m->t[k].since_ns : sched_up_since_ns;
		if (now_ns <= since + m->bound_ns)
			continue; /* the scheduler may still be right either way */
		double for_s = (double)(now_ns - since) / 1e9, timeout_s = (double)m->node_timeout_ns / 1e9;
		if (v[i].reachable && !v[i].listed_alive)
			violations_add(vio, now_ns, "membership", v[i].name, "dead", "/nodes says alive=false, but "
				"the scheduler has been able to hear the server for %.1f s (node_timeout %.1f s)",
				for_s, timeout_s);
		else if (!v[i].reachable && v[i].listed_alive)
			violations_add(vio, now_ns, "membership", v[i].name, "alive", "/nodes says alive=true, but "
				"the server has been down or cut off from the scheduler for %.1f s (node_timeout "
				"%.1f s)", for_s, timeout_s);
	}
}
