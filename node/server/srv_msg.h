/*
 * srv_msg.h — server <-> server frame types (64..127; 1..63 belong to the scheduler protocol).
 *
 * Every message is one frame (proto/frame.h) with a JSON meta and, for model bytes, a binary
 * payload of little-endian float32. Between two servers there is exactly one connection (the
 * server whose node id sorts higher dials), so everything between a pair is ordered: a count
 * reply always reaches its server before the aggregation order that follows it. Full
 * description: docs/protocol-server.md.
 *
 *   HELLO       both ways, first on a link: {node_id, rank, nonce, iteration, active,
 *               committed:[[iter,"hash"],...], instance_state, iterations_ok, iterations_failed}
 *   STATE       leader -> follower: {iteration, instance_state, paused, nonce, committed,
 *               iterations_ok, iterations_failed}
 *   SYNCED      follower -> leader: {iteration} (-1: send STATE; then with `report`)
 *   MODEL_REQ   any -> any: {iteration}
 *   MODEL       reply: {iteration, hash, offset, total, missing} + floats [offset, offset+n)
 *   COUNT_REQ   follower -> leader: {id, round, iteration, fl_id, data_size}
 *   COUNT_REP   leader -> follower: {id, result, iteration, data_size, next_req_time}
 *   AGG         leader -> members: {iteration, gen, members:[node_id...], chunk}
 *   RED         chain reduce, position p -> p+1: {gen, iteration, chunk, ds} + floats
 *   FIN         result broadcast, n-1 -> 0 -> ... -> n-2: {gen, iteration, chunk, ds} + floats
 *   AGG_DONE    member -> leader: {iteration, gen, ok, hash, ds}
 *   PREPARE     leader -> members: {iteration, valid, reason}    (enter safe mode)
 *   PREPARE_OK  member -> leader: {iteration, stats}
 *   COMMIT      leader -> members: {iteration, valid, hash, reason}
 *   END         leader -> members: {iteration, hold}              (leave safe mode unless hold)
 *   REPORT_REQ  new leader (after a hand-over) -> all: {}; answered by SYNCED {iteration: -1,
 *               report: HELLO's fields as of now}
 *
 * Every meta also carries `lepoch`, the sender's leader epoch: leadership messages of another
 * epoch than the receiver's are dropped (srv_dispatch).
 */
#ifndef FL_SRV_MSG_H
#define FL_SRV_MSG_H

enum srv_msg_type {
	SRV_MSG_HELLO = 64,
	SRV_MSG_STATE = 65,
	SRV_MSG_SYNCED = 66,
	SRV_MSG_MODEL_REQ = 67,
	SRV_MSG_MODEL = 68,
	SRV_MSG_COUNT_REQ = 69,
	SRV_MSG_COUNT_REP = 70,
	SRV_MSG_AGG = 71,
	SRV_MSG_RED = 72,
	SRV_MSG_FIN = 73,
	SRV_MSG_AGG_DONE = 74,
	SRV_MSG_PREPARE = 75,
	SRV_MSG_PREPARE_OK = 76,
	SRV_MSG_COMMIT = 77,
	SRV_MSG_END = 78,
	SRV_MSG_REPORT_REQ = 79,
	SRV_MSG_MAX = 127,
};

/* Results of a count (COUNT_REP.result). */
enum srv_count_result {
	SRV_CNT_OK = 0,
	SRV_CNT_FULL = 1,    /* the round reached its threshold (or the iteration is closing) */
	SRV_CNT_ITER = 2,    /* the request's iteration is not the current one */
	SRV_CNT_NOMETA = 3,  /* updateModel without a startFLJob in this iteration */
	SRV_CNT_DUP = 4,     /* a second updateModel from the same fl_id in this iteration */
	SRV_CNT_BUSY = 5,    /* the leader cannot count now (starting, syncing, paused, lost) */
};

const char *srv_msg_name(int type);

#endif
