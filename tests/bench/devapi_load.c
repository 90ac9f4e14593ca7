/*
 * devapi_load.c — the load generator of the device-API throughput benchmark (plain libuv and
 * llhttp, no project runtime, so the client costs as little as it can).
 *
 *   devapi_load http IP:PORT [--devices N] [--conns K] [--model M] [--fl_name F] [--prefix P]
 *   devapi_load raw  IP:PORT [--devices N] [--conns K] [--model M]
 *
 * http: against one standalone fl-server (whose start_fl_job_threshold is at least N and whose
 * update_model_ratio is 1, so every upload of the run is accepted). First, untimed, N devices
 * ("bench-000000" ...) pass startFLJob over K keep-alive connections; then, timed, each posts one
 * updateModel envelope carrying every tensor of model M (LeNet-5: 61706 floats, ~247 KB), one
 * request at a time per connection. Every answer's envelope is decoded and its retcode checked.
 * raw: the same K connections push the same number of bytes, in the same request-sized writes
 * (up to RAW_INFLIGHT queued per connection, no answers), to tests/bench/tcp_sink, then
 * half-close and wait for the sink's close, so the clock covers every byte it read.
 *
 * Prints one line, e.g. "devapi http: conns 4 requests 4000 ok 4000 bytes 987... secs 0.81
 * MB/s 1219.5" (MB = 10^6 bytes; bytes count whole requests, head and body, in both modes) and
 * exits 0, or 1 when a request failed or a connection broke (naming the first failure).
 */
#include "bench_util.h"
#include "node/model/model.h"
#include "node/proto/envelope.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#define RAW_INFLIGHT 4
#define READ_BUF (64 * 1024)
#define ID_FMT "bench-%06ld"
#define ID_LEN 12 /* strlen("bench-000000") */
#define MAX_DEVICES 999999L

enum { MODE_RAW, MODE_HTTP };
enum { PH_CONNECT, PH_START, PH_UPDATE, PH_DONE };

typedef struct load load;

typedef struct conn {
	load *L;
	int idx;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq[RAW_INFLIGHT];
	uv_shutdown_t sreq;
	llhttp_t parser;
	long next;   /* next device (http) or chunks still to queue (raw) */
	int inflight;
	int busy;    /* http: a request is out; raw: still working */
	char head[256];
	size_t head_len;
	uint8_t *req;     /* http: this connection's request body (owned); patched per device */
	size_t req_len;
	size_t id_off;    /* where the fl_id digits sit in req */
	uint8_t *resp;    /* the current answer's body (owned, grows) */
	size_t resp_len, resp_cap;
	int msg_done;
} conn;

struct load {
	uv_loop_t *loop;
	uv_timer_t guard;
	int mode, phase;
	char ip[64];
	int port;
	long devices;
	int nconn;
	conn *c;
	model_def def;
	char fl_name[64], prefix[64];
	int pending; /* connections still in this phase */
	int64_t iteration;
	uint8_t *raw_chunk;
	size_t raw_len;
	llhttp_settings_t ps;
	char rbuf[READ_BUF];
	/* results */
	long ok, failed;
	unsigned long long bytes;
	char first_failure[300];
	double t_start, t_setup, t0, t1;
	int broken;
};

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void fail(load *L, const char *fmt, const char *detail)
{
	L->failed++;
	if (!L->first_failure[0])
		snprintf(L->first_failure, sizeof L->first_failure, fmt, detail);
}

static void stop_all(load *L)
{
	L->phase = PH_DONE;
	for (int i = 0; i < L->nconn; i++)
		if (!uv_is_closing((uv_handle_t *)&L->c[i].tcp))
			uv_close((uv_handle_t *)&L->c[i].tcp, NULL);
	if (!uv_is_closing((uv_handle_t *)&L->guard))
		uv_close((uv_handle_t *)&L->guard, NULL);
}

static void broke(load *L, const char *what, int err)
{
	char d[200];

	snprintf(d, sizeof d, "%s: %s", what, uv_strerror(err));
	fail(L, "connection: %s", d);
	L->broken = 1;
	stop_all(L);
}

/* ---- http ---- */

static int make_start(load *L, long dev, uint8_t **out, size_t *len)
{
	char id[32], ts[32];
	cJSON *h = cJSON_CreateObject();
	int rc;

	if (!h)
		return ENV_ENOMEM;
	snprintf(id, sizeof id, ID_FMT, dev);
	snprintf(ts, sizeof ts, "%" PRId64, wall_ms());
	cJSON_AddStringToObject(h, "fl_name", L->fl_name);
	cJSON_AddStringToObject(h, "fl_id", id);
	cJSON_AddNumberToObject(h, "data_size", 32);
	cJSON_AddStringToObject(h, "timestamp", ts);
	rc = envelope_encode(h, NULL, 0, out, len);
	cJSON_Delete(h);
	return rc;
}

/* The updateModel body of device 0 with every tensor of the model; *id_off locates its fl_id. */
static int make_update(load *L, int64_t iteration, uint8_t **out, size_t *len, size_t *id_off)
{
	char id[32], ts[32];
	env_tensor t[MODEL_MAX_TENSORS];
	float *w = malloc(L->def.total * sizeof *w);
	cJSON *h = cJSON_CreateObject();
	int rc = ENV_ENOMEM;

	if (!w || !h)
		goto out;
	for (size_t i = 0; i < L->def.total; i++)
		w[i] = 0.01f * (float)(i % 97) - 0.48f;
	for (size_t i = 0; i < L->def.ntensors; i++)
		t[i] = (env_tensor){ L->def.tensors[i].name, w + L->def.tensors[i].offset,
				     L->def.tensors[i].count };
	snprintf(id, sizeof id, ID_FMT, 0L);
	snprintf(ts, sizeof ts, "%" PRId64, wall_ms());
	cJSON_AddStringToObject(h, "fl_name", L->fl_name);
	cJSON_AddStringToObject(h, "fl_id", id);
	cJSON_AddNumberToObject(h, "iteration", (double)iteration);
	cJSON_AddNumberToObject(h, "data_size", 32);
	cJSON_AddStringToObject(h, "timestamp", ts);
	cJSON_AddNumberToObject(h, "upload_loss", 0.5);
	rc = envelope_encode(h, t, L->def.ntensors, out, len);
	if (!rc) {
		uint8_t *p = memmem(*out, *len, id, ID_LEN);
		if (!p) {
			free(*out);
			rc = ENV_EJSON;
		} else {
			*id_off = (size_t)(p - *out);
		}
	}
out:
	cJSON_Delete(h);
	free(w);
	return rc;
}

static void set_head(load *L, conn *c, const char *round, size_t body_len)
{
	c->head_len = (size_t)snprintf(c->head, sizeof c->head,
				       "POST %s/%s HTTP/1.1\r\nHost: %s:%d\r\n"
				       "Content-Type: application/octet-stream\r\n"
				       "Content-Length: %zu\r\n\r\n",
				       L->prefix, round, L->ip, L->port, body_len);
}

static void on_write(uv_write_t *w, int status);
static void http_next(conn *c);

static void phase_done(load *L);

static void send_http(conn *c, const uint8_t *body, size_t len)
{
	uv_buf_t b[2] = { uv_buf_init(c->head, (unsigned)c->head_len),
			  uv_buf_init((char *)body, (unsigned)len) };
	int rc;

	c->busy = 1;
	c->msg_done = 0;
	c->resp_len = 0;
	rc = uv_write(&c->wreq[0], (uv_stream_t *)&c->tcp, b, 2, on_write);
	if (rc)
		broke(c->L, "write", rc);
}

/* Send this connection's next request of the phase, or finish its part of the phase. */
static void http_next(conn *c)
{
	load *L = c->L;

	if (L->phase == PH_DONE)
		return;
	if (c->next >= L->devices) {
		c->busy = 0;
		if (--L->pending == 0)
			phase_done(L);
		return;
	}
	long dev = c->next;
	c->next += L->nconn;
	if (L->phase == PH_START) {
		uint8_t *body;
		size_t len;
		if (make_start(L, dev, &body, &len)) {
			broke(L, "startFLJob envelope", UV_ENOMEM);
			return;
		}
		free(c->req);
		c->req = body;
		c->req_len = len;
		set_head(L, c, "startFLJob", len);
		send_http(c, body, len);
	} else {
		char id[32];
		snprintf(id, sizeof id, ID_FMT, dev);
		memcpy(c->req + c->id_off, id, ID_LEN);
		L->bytes += c->head_len + c->req_len;
		send_http(c, c->req, c->req_len);
	}
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	conn *c = p->data;

	if (c->resp_len + len > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : 4096;
		while (cap < c->resp_len + len)
			cap *= 2;
		uint8_t *n = realloc(c->resp, cap);
		if (!n)
			return -1;
		c->resp = n;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, at, len);
	c->resp_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	conn *c = p->data;

	c->msg_done = 1;
	return 0;
}

/* One answer is in: check its status and retcode, then go on. */
static void http_answer(conn *c)
{
	load *L = c->L;
	cJSON *h = NULL;
	char d[200];
	int status = c->parser.status_code;

	if (status != 200) {
		snprintf(d, sizeof d, "HTTP %d", status);
		fail(L, "answer: %s", d);
	} else if (envelope_decode(c->resp, c->resp_len, &h, NULL, NULL)) {
		fail(L, "answer: %s", "not an envelope");
	} else {
		const cJSON *rc = cJSON_GetObjectItemCaseSensitive(h, "retcode");
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(h, "iteration");
		if (!cJSON_IsNumber(rc) || rc->valueint != 200) {
			const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "reason"));
			snprintf(d, sizeof d, "retcode %d: %s", cJSON_IsNumber(rc) ? rc->valueint : -1,
				 why ? why : "?");
			fail(L, "answer: %s", d);
		} else {
			if (L->phase == PH_UPDATE)
				L->ok++;
			if (L->phase == PH_START && cJSON_IsNumber(it))
				L->iteration = (int64_t)it->valuedouble;
		}
	}
	cJSON_Delete(h);
	c->busy = 0;
	http_next(c);
}

/* ---- raw ---- */

static void raw_pump(conn *c)
{
	load *L = c->L;

	while (L->phase != PH_DONE && c->next > 0 && c->inflight < RAW_INFLIGHT) {
		uv_write_t *w = NULL;
		for (int i = 0; i < RAW_INFLIGHT; i++)
			if (!c->wreq[i].data) {
				w = &c->wreq[i];
				break;
			}
		uv_buf_t b = uv_buf_init((char *)L->raw_chunk, (unsigned)L->raw_len);
		w->data = c;
		int rc = uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write);
		if (rc) {
			broke(L, "write", rc);
			return;
		}
		c->inflight++;
		c->next--;
		L->bytes += L->raw_len;
	}
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
	conn *c = s->data;

	if (status && c->L->phase != PH_DONE)
		broke(c->L, "shutdown", status);
}

/* ---- shared ---- */

static void on_write(uv_write_t *w, int status)
{
	conn *c = w->handle->data;
	load *L = c->L;

	if (L->phase == PH_DONE)
		return;
	if (status) {
		broke(L, "write", status);
		return;
	}
	if (L->mode == MODE_HTTP)
		return; /* the answer moves the connection on */
	w->data = NULL;
	c->inflight--;
	raw_pump(c);
	if (!c->next && !c->inflight && c->busy == 1) {
		c->busy = 2; /* all written: half-close, then wait for the sink's close */
		c->sreq.data = c;
		int rc = uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown);
		if (rc)
			broke(L, "shutdown", rc);
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	conn *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->L->rbuf, sizeof c->L->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	conn *c = s->data;
	load *L = c->L;

	if (L->phase == PH_DONE || n == 0)
		return;
	if (L->mode == MODE_RAW) {
		if (n == UV_EOF && c->busy == 2) {
			c->busy = 0;
			uv_close((uv_handle_t *)&c->tcp, NULL);
			if (--L->pending == 0)
				phase_done(L);
		} else if (n < 0) {
			broke(L, "read", (int)n);
		}
		return;
	}
	if (n < 0) {
		broke(L, "read", (int)n);
		return;
	}
	llhttp_errno_t e = llhttp_execute(&c->parser, b->base, (size_t)n);
	if (e != HPE_OK) {
		fail(L, "answer: %s", llhttp_errno_name(e));
		L->broken = 1;
		stop_all(L);
		return;
	}
	if (c->msg_done && c->busy)
		http_answer(c);
}

static void start_phase(load *L, int phase)
{
	L->phase = phase;
	L->pending = L->nconn;
	for (int i = 0; i < L->nconn; i++) {
		conn *c = &L->c[i];
		c->next = i;
		if (L->mode == MODE_RAW) {
			c->next = L->devices / L->nconn + (i < L->devices % L->nconn);
			c->busy = 1;
			raw_pump(c);
			if (!c->next && !c->inflight) { /* nothing to send on this one */
				c->busy = 2;
				c->sreq.data = c;
				uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown);
			}
		} else {
			http_next(c);
		}
	}
}

static void phase_done(load *L)
{
	if (L->phase == PH_CONNECT) {
		L->t0 = bench_now_s();
		start_phase(L, L->mode == MODE_RAW ? PH_UPDATE : PH_START);
		return;
	}
	if (L->phase == PH_START) {
		if (L->failed) {
			stop_all(L);
			return;
		}
		L->t_setup = bench_now_s() - L->t0;
		uint8_t *tmpl;
		size_t len, off;
		if (make_update(L, L->iteration, &tmpl, &len, &off)) {
			fail(L, "%s", "cannot build the updateModel envelope");
			stop_all(L);
			return;
		}
		for (int i = 0; i < L->nconn; i++) {
			conn *c = &L->c[i];
			free(c->req);
			c->req = i ? malloc(len) : tmpl;
			if (!c->req) {
				fail(L, "%s", "out of memory");
				stop_all(L);
				return;
			}
			if (i)
				memcpy(c->req, tmpl, len);
			c->req_len = len;
			c->id_off = off;
			set_head(L, c, "updateModel", len);
		}
		L->bytes = 0;
		L->t0 = bench_now_s();
		start_phase(L, PH_UPDATE);
		return;
	}
	L->t1 = bench_now_s();
	stop_all(L);
}

static void on_connect(uv_connect_t *r, int status)
{
	conn *c = r->data;
	load *L = c->L;

	if (status) {
		broke(L, "connect", status);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (--L->pending == 0)
		phase_done(L);
}

static void on_guard(uv_timer_t *t)
{
	load *L = t->data;

	fail(L, "%s", "timed out");
	L->broken = 1;
	stop_all(L);
}

static int usage(void)
{
	fprintf(stderr, "usage: devapi_load http|raw IP:PORT [--devices N] [--conns K] [--model M]\n"
			"                   [--fl_name F] [--prefix P] [--timeout SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static load L;
	char model[64] = "lenet5";
	double timeout_s = 300;

	if (argc < 3)
		return usage();
	L.mode = !strcmp(argv[1], "raw") ? MODE_RAW : !strcmp(argv[1], "http") ? MODE_HTTP : -1;
	if (L.mode < 0 || bench_parse_addr(argv[2], L.ip, sizeof L.ip, &L.port))
		return usage();
	L.devices = 2000;
	L.nconn = 4;
	snprintf(L.fl_name, sizeof L.fl_name, "Lenet");
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (!strcmp(argv[i], "--devices"))
			L.devices = strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--conns"))
			L.nconn = atoi(v);
		else if (!strcmp(argv[i], "--model"))
			snprintf(model, sizeof model, "%s", v);
		else if (!strcmp(argv[i], "--fl_name"))
			snprintf(L.fl_name, sizeof L.fl_name, "%s", v);
		else if (!strcmp(argv[i], "--prefix"))
			snprintf(L.prefix, sizeof L.prefix, "%s", v);
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atof(v);
		else
			return usage();
		i++;
	}
	if (L.devices < 1 || L.devices > MAX_DEVICES || L.nconn < 1 || L.nconn > 1024 ||
	    timeout_s <= 0 || model_def_parse(model, &L.def)) {
		fprintf(stderr, "devapi_load: bad --devices (1..%ld), --conns (1..1024), --timeout or "
				"--model\n", MAX_DEVICES);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (L.mode == MODE_RAW) {
		/* the chunk is exactly one updateModel request as the http mode sends it */
		conn tmp;
		size_t off;
		if (make_update(&L, 1, &L.raw_chunk, &L.raw_len, &off))
			return 1;
		set_head(&L, &tmp, "updateModel", L.raw_len);
		uint8_t *chunk = malloc(tmp.head_len + L.raw_len);
		if (!chunk)
			return 1;
		memcpy(chunk, tmp.head, tmp.head_len);
		memcpy(chunk + tmp.head_len, L.raw_chunk, L.raw_len);
		free(L.raw_chunk);
		L.raw_chunk = chunk;
		L.raw_len += tmp.head_len;
	}
	L.c = calloc((size_t)L.nconn, sizeof *L.c);
	if (!L.c)
		return 1;
	L.loop = uv_default_loop();
	llhttp_settings_init(&L.ps);
	L.ps.on_body = on_body;
	L.ps.on_message_complete = on_message_complete;
	struct sockaddr_in a;
	if (uv_ip4_addr(L.ip, L.port, &a))
		return usage();
	uv_timer_init(L.loop, &L.guard);
	L.guard.data = &L;
	uv_timer_start(&L.guard, on_guard, (uint64_t)(timeout_s * 1000), 0);
	L.phase = PH_CONNECT;
	L.pending = L.nconn;
	L.t_start = bench_now_s();
	for (int i = 0; i < L.nconn; i++) {
		conn *c = &L.c[i];
		c->L = &L;
		c->idx = i;
		uv_tcp_init(L.loop, &c->tcp);
		c->tcp.data = c;
		c->creq.data = c;
		llhttp_init(&c->parser, HTTP_RESPONSE, &L.ps);
		c->parser.data = c;
		int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, on_connect);
		if (rc) {
			broke(&L, "connect", rc);
			break;
		}
	}
	uv_run(L.loop, UV_RUN_DEFAULT);

	double secs = L.t1 > L.t0 ? L.t1 - L.t0 : 0;
	double mbs = secs > 0 ? (double)L.bytes / secs / 1e6 : 0;
	int bad = L.broken || L.failed || !L.t1;
	if (L.mode == MODE_RAW)
		printf("devapi raw: conns %d requests %ld bytes %llu secs %.4f MB/s %.1f\n", L.nconn,
		       L.devices, L.bytes, secs, bad ? 0.0 : mbs);
	else
		printf("devapi http: conns %d requests %ld ok %ld bytes %llu secs %.4f MB/s %.1f "
		       "setup_s %.3f iteration %" PRId64 "\n", L.nconn, L.devices, L.ok, L.bytes, secs,
		       bad ? 0.0 : mbs, L.t_setup, L.iteration);
	if (bad)
		fprintf(stderr, "devapi_load: %ld failed; first: %s\n", L.failed,
			L.first_failure[0] ? L.first_failure : "the run did not finish");
	for (int i = 0; i < L.nconn; i++) {
		free(L.c[i].req);
		free(L.c[i].resp);
	}
	free(L.c);
	free(L.raw_chunk);
	return bad ? 1 : 0;
}
