/*
 * fl_finish.c — fl-finish: stop every node of the cluster of one scheduler_port on this host.
 *
 *   bin/fl-finish --scheduler_port=6667
 *
 * The nodes come from the pid file the scheduler keeps ($TMPDIR or /tmp, flbench-<port>.pids:
 * the scheduler and the pids the servers reported at registration), and, so that it also works
 * when the scheduler is dead or never wrote the file, from a scan of /proc for fl-scheduler and
 * fl-server processes started with that scheduler_port. A pid is only signalled when its command
 * is fl-scheduler or fl-server (a stale file must not kill a stranger that reused the pid).
 * SIGTERM first; SIGKILL to whatever is still up after the grace period. Prints "killed PID" for
 * each node as it ends, as MindSpore's finish script does.
 */
#include "../util/flags.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 1024

typedef struct target {
	pid_t pid;
	int done;
} target;

/* argv of a process, NUL-separated, into buf; the number of bytes, or -1. */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (ssize_t)n;
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* 1 when pid runs fl-scheduler or fl-server; *port gets its scheduler_port (default 6667). */
static int is_node(pid_t pid, long *port)
{
	char buf[8192];
	ssize_t n = read_cmdline(pid, buf, sizeof buf);
	if (n <= 0)
		return 0;
	const char *b = base_of(buf);
	if (strcmp(b, "fl-scheduler") && strcmp(b, "fl-server"))
		return 0;
	*port = 6667;
	for (const char *a = buf + strlen(buf) + 1; a < buf + n; a += strlen(a) + 1) {
		const char *v = NULL;
		if (!strncmp(a, "--scheduler_port=", 17) || !strncmp(a, "--scheduler-port=", 17))
			v = a + 17;
		else if ((!strcmp(a, "--scheduler_port") || !strcmp(a, "--scheduler-port")) &&
			 a + strlen(a) + 1 < buf + n)
			v = a + strlen(a) + 1;
		if (v)
			*port = strtol(v, NULL, 10);
	}
	return 1;
}

/* Gone, or a zombie waiting for its parent: either way it no longer runs. */
static int gone(pid_t pid)
{
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static int add(target *t, size_t *n, pid_t pid)
{
	if (pid <= 1 || pid == getpid())
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (t[i].pid == pid)
			return 0;
	if (*n == MAX_PIDS)
		return -1;
	t[*n].pid = pid;
	t[*n].done = 0;
	(*n)++;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait up to ms for the targets to end, printing each that does. Returns how many are left. */
static size_t reap(target *t, size_t n, long ms)
{
	size_t left = 0;
	for (long waited = 0;; waited += 50) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (t[i].done)
				continue;
			if (gone(t[i].pid)) {
				t[i].done = 1;
				printf("killed %d\n", (int)t[i].pid);
				fflush(stdout);
			} else {
				left++;
			}
		}
		if (!left || waited >= ms)
			return left;
		sleep_ms(50);
	}
}

int main(int argc, char **argv)
{
	int64_t port = 6667, grace = 10000;
	char pid_file[FLAG_STR_MAX] = "";
	flag_def defs[] = {
		{"scheduler_port", FLAG_INT, &port, "scheduler_port of the cluster to stop", 0},
		{"grace_period", FLAG_MS, &grace, "time between SIGTERM and SIGKILL", 0},
		{"pid_file", FLAG_STR, pid_file,
		 "the scheduler's pid file (\"\" = $TMPDIR or /tmp, flbench-<port>.pids)", 0},
	};
	char err[512];
	int rc = flags_parse(defs, 3, argc, argv, "fl-finish",
			     "Stop every node (scheduler and servers) of one flbench cluster on this "
			     "host: SIGTERM, then SIGKILL after the grace period.",
			     stdout, err, sizeof err);
	if (rc == FLAGS_HELP)
		return 0;
	if (rc) {
		fprintf(stderr, "fl-finish: %s\n", err);
		return 2;
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "fl-finish: --scheduler_port must be 1..65535\n");
		return 2;
	}
	if (!pid_file[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(pid_file, sizeof pid_file, "%s/flbench-%lld.pids", tmp && *tmp ? tmp : "/tmp",
			 (long long)port);
	}
	static target t[MAX_PIDS];
	size_t n = 0;
	long p;
	FILE *f = fopen(pid_file, "r");
	if (f) {
		char line[256], what[64], id[64];
		long long pid;
		while (fgets(line, sizeof line, f))
			if (line[0] != '#' && sscanf(line, "%63s %63s %lld", what, id, &pid) == 3 &&
			    pid > 0 && pid < 1LL << 31 && is_node((pid_t)pid, &p))
				add(t, &n, (pid_t)pid);
		fclose(f);
	}
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		if (is_node(pid, &p) && p == port && !gone(pid))
			add(t, &n, pid);
	}
	if (d)
		closedir(d);
	if (!n) {
		printf("fl-finish: no running node of the cluster of scheduler_port %lld\n",
		       (long long)port);
		unlink(pid_file);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (kill(t[i].pid, SIGTERM) != 0 && errno != ESRCH)
			fprintf(stderr, "fl-finish: cannot signal %d: %s\n", (int)t[i].pid,
				strerror(errno));
	size_t left = reap(t, n, (long)grace);
	if (left) {
		for (size_t i = 0; i < n; i++)
			if (!t[i].done)
				kill(t[i].pid, SIGKILL);
		left = reap(t, n, 5000);
	}
	for (size_t i = 0; i < n; i++)
		if (!t[i].done)
			fprintf(stderr, "fl-finish: %d is still running\n", (int)t[i].pid);
	unlink(pid_file);
	return left ? 1 : 0;
}
