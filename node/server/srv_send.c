/*
 * srv_send.c — sending a message between servers: to a peer's link, or to ourselves through the
 * mailbox (delivered by srv.c's mbox_run, so the leader talks to itself exactly as to the
 * others). A leaf: it calls nothing of the module.
 */
#include "srv_int.h"

#include <stdlib.h>
#include <string.h>

int srv_send(srv *s, int peer, int type, cJSON *meta, const void *payload, size_t len)
{
	if (meta)
		cJSON_AddNumberToObject(meta, "lepoch", (double)s->leader_epoch);
	char *text = meta ? cJSON_PrintUnformatted(meta) : NULL;
	int rc;

	cJSON_Delete(meta);
	if (meta && !text)
		return RT_ENOMEM;
	if (peer == s->self && peer >= 0) {
		struct srv_mail *m = calloc(1, sizeof *m);
		if (!m || (len && !(m->payload = malloc(len)))) {
			free(m);
			free(text);
			return RT_ENOMEM;
		}
		m->type = type;
		m->meta = text;
		if (len)
			memcpy(m->payload, payload, len);
		m->len = len;
		if (s->mbox_tail)
			s->mbox_tail->next = m;
		else
			s->mbox = m;
		s->mbox_tail = m;
		if (!rt_timer_active(s->mbox_timer))
			rt_timer_start(s->mbox_timer, 0, 0);
		return 0;
	}
	if (peer < 0 || (size_t)peer >= s->npeers || !s->peers[peer].link) {
		free(text);
		return RT_ECLOSED;
	}
	rc = conn_send(s->peers[peer].link->c, (uint8_t)type, 0, text, payload, len);
	free(text);
	return rc;
}

int srv_send_leader(srv *s, int type, cJSON *meta, const void *payload, size_t len)
{
	if (s->leader_peer < 0) {
		cJSON_Delete(meta);
		return RT_ECLOSED;
	}
	return srv_send(s, s->leader_peer, type, meta, payload, len);
}
