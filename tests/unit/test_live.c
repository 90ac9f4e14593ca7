/* Live mode's pieces without a cluster: children started, stopped, killed and reaped (and killed
 * by the kernel when their parent dies), free ports, the small HTTP client and relay server, the
 * live invariants, and the expectation judge shared with sim mode. */
#include "../../sim/live/live_http.h"
#include "../../sim/live/live_inv.h"
#include "../../sim/live/live_proc.h"
#include "../../sim/engine/verdict.h"
#include "../../node/server/srv.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char tmpdir[] = "/tmp/test_live.XXXXXX";

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(tmpdir)); }
static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_live.XXXXXX");
}

static pid_t spawn_sh(const char *script, const char *log)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	lp_spec s = {.name = "test", .path = "/bin/sh", .argv = argv, .envp = environ, .cwd = tmpdir,
		     .log_path = log};
	pid_t pid = 0;
	ck_assert_int_eq(lp_spawn(&s, &pid), 0);
	ck_assert_int_gt(pid, 0);
	return pid;
}

static char state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

START_TEST(spawn_log_exit_status)
{
	char log[300];
	snprintf(log, sizeof log, "%s/a.log", tmpdir);
	pid_t pid = spawn_sh("echo hello from $PWD; echo oops >&2; exit 3", log);
	int st = 0;
	ck_assert_int_eq(lp_wait_exit(pid, 10000, &st), 1);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	ck_assert_int_eq(lp_running(), 0);
	FILE *f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	char line[400], want[400];
	snprintf(want, sizeof want, "hello from %s\n", tmpdir);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	ck_assert_str_eq(line, want); /* ran in cwd, stdout into the log */
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	ck_assert_str_eq(line, "oops\n"); /* and stderr */
	fclose(f);
}
END_TEST

START_TEST(stop_cont_kill_group)
{
	char log[300];
	snprintf(log, sizeof log, "%s/b.log", tmpdir);
	/* a shell with a child of its own: a kill must reach the whole group */
	pid_t pid = spawn_sh("sleep 60 & echo $! > child.pid; wait", log);
	ck_assert_int_eq(lp_running(), 1);
	ck_assert_int_eq(getpgid(pid), pid);
	char cpath[300];
	snprintf(cpath, sizeof cpath, "%s/child.pid", tmpdir);
	int child = 0;
	for (int i = 0; i < 500 && !child; i++) {
		FILE *f = fopen(cpath, "r");
		if (f && fscanf(f, "%d", &child) != 1)
			child = 0;
		if (f)
			fclose(f);
		if (!child)
			usleep(10000);
	}
	ck_assert_int_gt(child, 0);
	ck_assert_int_eq(lp_signal(pid, SIGSTOP), 0);
	char s = 0;
	for (int i = 0; i < 500 && s != 'T'; i++, usleep(10000))
		s = state_of(pid);
	ck_assert_int_eq(s, 'T');
	ck_assert_int_eq(lp_signal(pid, SIGCONT), 0);
	for (int i = 0; i < 500 && s == 'T'; i++, usleep(10000))
		s = state_of(pid);
	ck_assert_int_ne(s, 'T');
	int st = 0;
	ck_assert_int_eq(lp_kill_wait(pid, &st), 0);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
	ck_assert_int_eq(lp_running(), 0);
	/* the grandchild got SIGKILL too (it is a zombie of init's, or gone) */
	for (int i = 0; i < 500 && state_of(child) && state_of(child) != 'Z'; i++)
		usleep(10000);
	ck_assert(state_of(child) == 0 || state_of(child) == 'Z');
}
END_TEST

START_TEST(children_die_with_their_parent)
{
	/* we adopt orphans, so the child of a dead parent is ours to wait for */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		char log[300];
		snprintf(log, sizeof log, "%s/c.log", tmpdir);
		char *argv[] = {"/bin/sleep", "60", NULL};
		lp_spec s = {.name = "sleeper", .path = "/bin/sleep", .argv = argv, .envp = environ,
			     .cwd = NULL, .log_path = log};
		pid_t pid = 0;
		if (lp_spawn(&s, &pid) || write(fds[1], &pid, sizeof pid) != sizeof pid)
			_exit(1);
		_exit(0); /* dies without cleaning up: the kernel must */
	}
	pid_t pid = 0;
	ck_assert_int_eq(read(fds[0], &pid, sizeof pid), (ssize_t)sizeof pid);
	int st = 0;
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

START_TEST(free_port_is_bindable)
{
	uint64_t state = 42;
	uint16_t port = 0;
	ck_assert_int_eq(lp_free_port("127.0.0.1", &state, &port), 0);
	ck_assert_int_ge(port, 20000);
	ck_assert_int_lt(port, 32000);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	uint16_t again = 0;
	for (int i = 0; i < 50; i++) { /* never the port that is taken */
		ck_assert_int_eq(lp_free_port("127.0.0.1", &state, &again), 0);
		ck_assert_int_ne(again, port);
	}
	close(fd);
	ck_assert_int_eq(lp_free_port("not an ip", &state, &again), -EINVAL);
}
END_TEST

START_TEST(http_request_and_relay)
{
	/* two listeners, one answering 200 and one 503: lh_serve answers every connection that is
	 * pending with the same status, so one listener taking both requests in turn raced (the
	 * second request, sent quickly, was pending when the first call looped and got 200) */
	uint16_t port = 0, port2 = 0;
	int lfd = lh_listen("127.0.0.1", &port);
	int lfd2 = lh_listen("127.0.0.1", &port2);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(lfd2, 0);
	ck_assert_int_gt(port, 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) { /* answer one request on each */
		int n = 0, n2 = 0;
		while (n < 1 || n2 < 1) {
			struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = lfd2, .events = POLLIN}};
			if (poll(p, 2, 10000) <= 0)
				_exit(1);
			if (p[0].revents)
				n += lh_serve(lfd, 200, "{\"nodeIds\":[]}");
			if (p[1].revents)
				n2 += lh_serve(lfd2, 503, "{\"code\":\"1\"}");
		}
		_exit(n == 1 && n2 == 1 ? 0 : 1);
	}
	lh_resp r;
	ck_assert_int_eq(lh_request("127.0.0.1", port, "GET", "/nodes", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"nodeIds\":[]}");
	ck_assert_uint_eq(r.len, 14);
	lh_resp_free(&r);
	ck_assert_int_eq(lh_request("127.0.0.1", port2, "POST", "/x", NULL, "{}", 2, 5000, &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "{\"code\":\"1\"}");
	lh_resp_free(&r);
	int st;
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(lfd);
	close(lfd2);
	/* nobody listens there any more */
	ck_assert_int_eq(lh_request("127.0.0.1", port, "GET", "/", NULL, NULL, 0, 2000, &r), -ECONNREFUSED);
}
END_TEST

START_TEST(http_timeout)
{
	uint16_t port = 0;
	int lfd = lh_listen("127.0.0.1", &port); /* listens, never answers */
	ck_assert_int_ge(lfd, 0);
	lh_resp r;
	ck_assert_int_eq(lh_request("127.0.0.1", port, "GET", "/", NULL, NULL, 0, 100, &r), -ETIMEDOUT);
	ck_assert_ptr_null(r.body);
	close(lfd);
}
END_TEST

static int count_kind(const char *dir, const char *kind)
{
	char path[400], line[2048], want[64];
	snprintf(path, sizeof path, "%s/events.jsonl", dir);
	snprintf(want, sizeof want, "\"kind\":\"%s\"", kind);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, want) != NULL;
	if (f)
		fclose(f);
	return n;
}

START_TEST(invariants)
{
	static const char *const cols[] = {"x"};
	recorder *rec;
	ck_assert_int_eq(recorder_new(tmpdir, cols, 1, &rec), 0);
	live_inv_config cfg = {.node_timeout_ns = 5000000000ULL, .heartbeat_ns = 1000000000ULL,
			       .liveness_budget_ns = 120000000000ULL};
	live_inv *v;
	ck_assert_int_eq(live_inv_new(&cfg, rec, &v), 0);
	/* agreement: the first sighting sets the hash; equal ones are checks, a different one is a
	 * violation, recorded once */
	live_inv_model(v, 1, "server/0", 3, 0xabc);
	live_inv_model(v, 2, "server/1", 3, 0xabc);
	ck_assert_int_eq(live_inv_count(v), 0);
	ck_assert_uint_eq(live_inv_agreement_checks(v), 1);
	live_inv_model(v, 3, "server/2", 3, 0xdef);
	live_inv_model(v, 4, "server/2", 3, 0xdef);
	ck_assert_int_eq(live_inv_count(v), 1);
	const cJSON *first = cJSON_GetArrayItem(live_inv_list(v), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "invariant")->valuestring, "agreement");
	ck_assert_str_eq(cJSON_GetObjectItem(first, "node")->valuestring, "server/2");
	/* monotonic: forward is fine, back is not */
	live_inv_iteration(v, 5, "server/0", 4);
	live_inv_iteration(v, 6, "server/0", 5);
	ck_assert_int_eq(live_inv_count(v), 1);
	live_inv_iteration(v, 7, "server/0", 2);
	ck_assert_int_eq(live_inv_count(v), 2);
	/* membership (membership.h; live: +1 s): timeout 5 s + 2 heartbeats + 1 s = 8 s of slack */
	live_inv_fault(v, 10000000000ULL);
	member_view up = {"server/1", 1, 1}, gone = {"server/1", 1, 0};
	live_inv_members(v, 9000000000ULL, 0, &up, 1);
	live_inv_members(v, 10000000000ULL, 0, &gone, 1); /* killed at 10 s, still listed alive */
	live_inv_members(v, 17900000000ULL, 0, &gone, 1);
	ck_assert_int_eq(live_inv_count(v), 2);
	live_inv_members(v, 18100000000ULL, 0, &gone, 1);
	ck_assert_int_eq(live_inv_count(v), 3);
	/* liveness: a success after the last fault, or the budget not yet spent, is fine */
	live_inv_finish(v, 100000000000ULL, 0);
	ck_assert_int_eq(live_inv_count(v), 3);
	live_inv_finish(v, 200000000000ULL, 1); /* finished: nothing left to do */
	ck_assert_int_eq(live_inv_count(v), 3);
	live_inv_finish(v, 200000000000ULL, 0);
	ck_assert_int_eq(live_inv_count(v), 4);
	live_inv_free(v);
	recorder_free(rec);
	ck_assert_int_eq(count_kind(tmpdir, "violation"), 4);
}
END_TEST

START_TEST(judge)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "iterations.success", 12);
	cJSON_AddStringToObject(m, "cluster.state", "CLUSTER_READY");
	sc_expect x;
	char why[300];
	memset(&x, 0, sizeof x);
	snprintf(x.metric, sizeof x.metric, "iterations.success");
	x.has_min = 1;
	x.min = 10;
	cJSON *o = cJSON_CreateObject();
	ck_assert_int_eq(verdict_judge(&x, m, o, why, sizeof why), 1);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "value")->valuedouble, 12);
	cJSON_Delete(o);
	x.min = 13;
	o = cJSON_CreateObject();
	ck_assert_int_eq(verdict_judge(&x, m, o, why, sizeof why), 0);
	ck_assert_str_eq(why, "iterations.success = 12, expected at least 13");
	cJSON_Delete(o);
	memset(&x, 0, sizeof x);
	snprintf(x.metric, sizeof x.metric, "cluster.state");
	x.has_equals = x.equals_is_str = 1;
	snprintf(x.equals_str, sizeof x.equals_str, "CLUSTER_EXIT");
	o = cJSON_CreateObject();
	ck_assert_int_eq(verdict_judge(&x, m, o, why, sizeof why), 0);
	ck_assert_str_eq(why, "cluster.state is \"CLUSTER_READY\", expected \"CLUSTER_EXIT\"");
	cJSON_Delete(o);
	snprintf(x.metric, sizeof x.metric, "devices.online.mean");
	o = cJSON_CreateObject();
	ck_assert_int_eq(verdict_judge(&x, m, o, why, sizeof why), 0);
	ck_assert_ptr_nonnull(strstr(why, "no such metric"));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "value")));
	cJSON_Delete(o);
	cJSON_Delete(m);
}
END_TEST

/* live_setup.c makes every server advertise its proxy endpoint: the flags exist, default to
 * "advertise what you listen on", and are checked. */
START_TEST(server_advertise_flags)
{
	srv_config c;
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	char err[300];
	srv_config_init(&c);
	ck_assert_str_eq(c.advertise_ip, "");
	ck_assert_int_eq(c.advertise_inter_port, 0);
	size_t n = srv_config_flags(&c, defs, SRV_CONFIG_MAX_FLAGS);
	char a0[] = "fl-server", a1[] = "--advertise_ip=127.0.1.12", a2[] = "--advertise_inter_port=40123";
	char *argv[] = {a0, a1, a2, NULL};
	ck_assert_int_eq(flags_parse(defs, n, 3, argv, "fl-server", "", NULL, err, sizeof err), 0);
	ck_assert_str_eq(c.advertise_ip, "127.0.1.12");
	ck_assert_int_eq(c.advertise_inter_port, 40123);
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), 0);
	c.advertise_inter_port = 70000;
	ck_assert_int_eq(srv_config_validate(&c, err, sizeof err), SRV_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "advertise_inter_port"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("live");
	TCase *p = tcase_create("proc");
	tcase_add_checked_fixture(p, setup, teardown);
	tcase_set_timeout(p, 30);
	tcase_add_test(p, spawn_log_exit_status);
	tcase_add_test(p, stop_cont_kill_group);
	tcase_add_test(p, children_die_with_their_parent);
	tcase_add_test(p, free_port_is_bindable);
	suite_add_tcase(s, p);
	TCase *h = tcase_create("http");
	tcase_set_timeout(h, 30);
	tcase_add_test(h, http_request_and_relay);
	tcase_add_test(h, http_timeout);
	suite_add_tcase(s, h);
	TCase *v = tcase_create("verdict");
	tcase_add_checked_fixture(v, setup, teardown);
	tcase_add_test(v, invariants);
	tcase_add_test(v, judge);
	tcase_add_test(v, server_advertise_flags);
	suite_add_tcase(s, v);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
