/*
 * pingpong.h — a small program written only against rt.h, to show that the same node code
 * behaves the same on both backends (rt_uv: real loopback; rt_sim: virtual network).
 *
 * A server echoes lines; a client sends `rounds` lines "ping <i> <r>" (r drawn from the client
 * host's seeded random stream), one every interval_ms, expects "pong <i> <r>" for each, then
 * stores the number of rounds in the file "pingpong.result" (fsynced), reads it back and closes.
 * The client's transcript lists what it saw, in order, without timings: equal transcripts on
 * both backends mean equal behaviour.
 */
#ifndef FL_PINGPONG_H
#define FL_PINGPONG_H

#include "../../node/rt/rt.h"

typedef struct pp_server pp_server;
typedef struct pp_client pp_client;

/* Listen on the host's address, port (0 = any; see pp_server_port). */
int pp_server_start(rt_host *h, uint16_t port, pp_server **out);
uint16_t pp_server_port(const pp_server *s);
/* Streams still open on the server (0 once the client has gone). */
int pp_server_open_streams(const pp_server *s);
void pp_server_stop(pp_server *s);

/* done(err, data) is called once: 0 when every pong matched and the result file read back. */
typedef void (*pp_done_fn)(int err, void *data);
int pp_client_start(rt_host *h, const char *ip, uint16_t port, int rounds, uint64_t interval_ms,
		    pp_done_fn done, void *data, pp_client **out);
/* "connect;pong 0 123;...;file 5;closed" — owned by the client. */
const char *pp_client_transcript(const pp_client *c);
void pp_client_free(pp_client *c);

#endif
