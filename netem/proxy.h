/*
 * proxy.h — the live TCP fault proxy behind bin/netem-proxy (a libuv tool: it is outside the
 * determinism lint's scope and uses libuv directly, for speed).
 *
 * The proxy listens on one address per proxied node ("endpoint") and forwards each accepted
 * connection to the node's real address, applying the netem link model (link.h) per directed
 * link: client source name → endpoint name for the bytes going in, endpoint name → client source
 * name for the bytes coming back. A client's name is found from its source address: the
 * addresses named with nproxy_add_host, then the endpoints' target addresses (a node binds its
 * outgoing connections to its own address, so its traffic is named after it), else the address
 * itself ("127.0.0.9").
 *
 * Forwarding is byte-exact and keeps order per direction. A half-close (EOF) is passed on once
 * everything before it was delivered; a reset or error on either side resets the other. Bytes are
 * dropped only by a configured fault (a reset draw, a partition that heals by resetting). Reading
 * from a side stops while too much of its data waits (4 MiB, or the rule's bandwidth queue bound),
 * so a slow or partitioned link pushes back on the sender as TCP would.
 *
 * Partitions: data is held; a connection accepted while its link is partitioned is held too (its
 * upstream connection is made only after healing; the client sees an established connection that
 * answers nothing, the closest a user-space proxy gets to a connect timeout). When rules change or
 * expire (nproxy_rules_changed, and the proxy's own expiry timer), held bytes are released or the
 * connections reset, as the partition rule said.
 *
 * Ownership: nproxy_new creates the proxy on a loop the caller owns. nproxy_shutdown closes every
 * handle (pending bytes are dropped); the caller then runs the loop until it is idle and calls
 * nproxy_free.
 */
#ifndef FL_NETEM_PROXY_H
#define FL_NETEM_PROXY_H

#include "link.h"

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct nproxy nproxy;

int nproxy_new(uv_loop_t *loop, uint64_t seed, nproxy **out);
void nproxy_shutdown(nproxy *px);
void nproxy_free(nproxy *px);

/* The proxy's model: change rules through it, then call nproxy_rules_changed. Owned by px. */
netem *nproxy_model(nproxy *px);
/* Monotonic time in ns, the clock the proxy's rules run on (for "for" durations). */
uint64_t nproxy_now_ns(const nproxy *px);
/* Re-examine held connections and bytes, and re-arm the expiry timer. */
void nproxy_rules_changed(nproxy *px);

/*
 * Start proxying listen_ip:listen_port (port 0: any free port) to target_ip:target_port under
 * `name` (a host name such as "server/0"; a node with several ports has several endpoints of the
 * same name). *port_out (may be NULL) gets the port bound. RT_EINVAL on a bad name or address,
 * RT_EADDRINUSE when the port is taken; err (if errlen > 0) says why.
 */
int nproxy_add_endpoint(nproxy *px, const char *name, const char *listen_ip, uint16_t listen_port,
			const char *target_ip, uint16_t target_port, uint16_t *port_out, char *err,
			size_t errlen);
/* Stop proxying `name` (every endpoint of that name): close the listeners and reset their
 * connections. RT_ENOENT if unknown. */
int nproxy_remove_endpoint(nproxy *px, const char *name);
/* The port the first endpoint of that name listens on (0 if unknown). */
uint16_t nproxy_endpoint_port(const nproxy *px, const char *name);
/* Name clients coming from `ip` (replaces an earlier name for it). */
int nproxy_add_host(nproxy *px, const char *name, const char *ip);

/* Reset every open connection (the control API's reset with "connections": true). */
void nproxy_reset_connections(nproxy *px);

/* {"endpoints": [{"name", "listen", "target", "connections_open", "connections_total",
 *  "bytes_in", "bytes_out"}], "hosts": [{"name", "ip"}]}; the caller frees it. NULL on ENOMEM. */
cJSON *nproxy_list_json(const nproxy *px);

/* "a.b.c.d:port" → ip (16 bytes) and port; port may be 0 only if allow_zero. */
int nproxy_parse_addr(const char *s, char ip[16], uint16_t *port, int allow_zero);

#endif
