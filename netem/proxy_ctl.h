/*
 * proxy_ctl.h — the netem proxy's HTTP JSON control API (served with node/proto/http.h on the
 * rt_uv backend, on the proxy's own port).
 *
 *   GET    /proxies          {"endpoints": [...], "hosts": [...]} (see nproxy_list_json)
 *   POST   /proxies          {"name": "server/4", "listen": "127.0.1.6:0", "target": "127.0.0.6:6004"}
 *                            → 201, the endpoint
 *   DELETE /proxies/NAME     stop proxying NAME (e.g. /proxies/server/4; every endpoint of that
 *                            name); its connections reset
 *   POST   /hosts            {"name": "fleet", "ip": "127.0.0.50"}: name a client address
 *   GET    /rules            {"rules": [rule, ...]} in id order
 *   POST   /rules            a rule object (→ 201, the rule with its id) or an array of them
 *                            (→ 201, {"rules": [...]}; all or none are added)
 *   GET    /rules/ID         the rule
 *   PATCH  /rules/ID         change the keys given; PUT /rules/ID replaces the whole rule
 *   DELETE /rules/ID         remove it (held bytes are released or reset, as it said)
 *   POST   /reset            remove every rule; body {"connections": true} also resets every
 *                            open connection → {"removed": N}
 *   GET    /                 this list
 *
 * Rules are JSON as in rule_json.h. Errors: 400 with {"error_message": "...", "code": "1"} for
 * bad JSON, bad fields (the message names the key) and unknown rule ids; 404 for unknown paths;
 * 405 for a method a path does not take.
 */
#ifndef FL_NETEM_PROXY_CTL_H
#define FL_NETEM_PROXY_CTL_H

#include "proxy.h"
#include "../node/proto/http.h"

/*
 * Answer one request (transport-free, for tests too). body may be NULL when len is 0. On return
 * *status is the HTTP status and *resp a malloc'd NUL-terminated JSON text the caller frees
 * (NULL only on ENOMEM, then RT_ENOMEM is returned).
 */
int nproxy_ctl_handle(nproxy *px, const char *method, const char *path, const uint8_t *body,
		      size_t len, int *status, char **resp);

/* Serve the API on ip:port (port 0: any free port) from host h. *out is stopped and freed with
 * http_server_stop. */
int nproxy_ctl_start(nproxy *px, rt_host *h, const char *ip, uint16_t port, http_server **out);

/* The text of GET / (also printed by --help). */
extern const char nproxy_ctl_usage[];

#endif
