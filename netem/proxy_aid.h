/*
 * proxy_aid.h — test aids built into bin/netem-proxy, so that the proxy's tests and benchmark
 * need nothing but the binary (no socat, nc or iperf on the machines):
 *
 *   --echo-server IP:PORT   a TCP echo server: every byte read is written back; the peer's EOF is
 *                           answered with EOF once everything was echoed.
 *   --pipe-client IP:PORT   stdin → the server, the server → stdout; stdin's end becomes a
 *                           half-close, and the client exits at the server's EOF (0) or on an
 *                           error (1, with a message). --bind IP picks the source address,
 *                           --gen N sends N bytes of a fixed pattern instead of stdin, discards
 *                           what comes back and reports the throughput on stderr.
 */
#ifndef FL_NETEM_PROXY_AID_H
#define FL_NETEM_PROXY_AID_H

#include <stdint.h>
#include <uv.h>

typedef struct aid_echo aid_echo;

/* Start an echo server on loop (port 0: any free port). RT-style: 0 or a negative libuv code. */
int aid_echo_start(uv_loop_t *loop, const char *ip, uint16_t port, aid_echo **out);
uint16_t aid_echo_port(const aid_echo *e);
/* Close the listener and every connection; the memory goes with the close callbacks (run the
 * loop until it is idle afterwards). */
void aid_echo_stop(aid_echo *e);

/* Run the pipe client to completion (blocking); returns the process exit status. gen_bytes is
 * used when gen is non-zero. bind_ip may be NULL. */
int aid_pipe_client(const char *ip, uint16_t port, const char *bind_ip, int gen,
		    uint64_t gen_bytes);

#endif
