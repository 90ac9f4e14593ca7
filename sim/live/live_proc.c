/*
 * live_proc.c — see live_proc.h.
 */
#include "live_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The running children, for the signal handlers and the atexit hook (see the header). */
static volatile pid_t lp_table[LP_MAX];
static volatile sig_atomic_t lp_stop;
static int lp_pid_fd = -1;
static int lp_installed, lp_atexit_done;

static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSTOP (sizeof stop_sigs / sizeof stop_sigs[0])
#define NCRASH (sizeof crash_sigs / sizeof crash_sigs[0])
static struct sigaction old_stop[NSTOP], old_crash[NCRASH];

void lp_kill_all(void)
{
	for (int i = 0; i < LP_MAX; i++) {
		pid_t p = lp_table[i];
		if (p > 0) {
			kill(-p, SIGKILL);
			kill(p, SIGKILL); /* in case it has not made its group yet */
		}
	}
}

static void on_stop(int sig)
{
	if (lp_stop) { /* asked twice: no more waiting */
		lp_kill_all();
		_exit(128 + sig);
	}
	lp_stop = sig;
}

static void on_crash(int sig)
{
	/* SA_RESETHAND made the disposition the default again; SA_NODEFER lets raise() deliver now */
	lp_kill_all();
	raise(sig);
}

int lp_install(const char *pid_file)
{
	if (pid_file) {
		if (lp_pid_fd >= 0)
			close(lp_pid_fd);
		lp_pid_fd = open(pid_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	}
	if (lp_installed)
		return 0;
	lp_stop = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	/* Installed even where the shell left the signal ignored (background jobs of a
	 * non-interactive sh ignore SIGINT): a stop request must always be heard. */
	for (size_t i = 0; i < NSTOP; i++)
		if (sigaction(stop_sigs[i], &sa, &old_stop[i]))
			return -errno;
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (size_t i = 0; i < NCRASH; i++)
		if (sigaction(crash_sigs[i], &sa, &old_crash[i]))
			return -errno;
	if (!lp_atexit_done && atexit(lp_kill_all) == 0)
		lp_atexit_done = 1;
	lp_installed = 1;
	return 0;
}

void lp_uninstall(void)
{
	if (!lp_installed)
		return;
	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_sigs[i], &old_stop[i], NULL);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_sigs[i], &old_crash[i], NULL);
	if (lp_pid_fd >= 0)
		close(lp_pid_fd);
	lp_pid_fd = -1;
	lp_installed = 0;
}

int lp_stop_signal(void) { return lp_stop; }

int lp_running(void)
{
	int n = 0;
	for (int i = 0; i < LP_MAX; i++)
		n += lp_table[i] > 0;
	return n;
}

static void table_remove(pid_t pid)
{
	for (int i = 0; i < LP_MAX; i++)
		if (lp_table[i] == pid)
			lp_table[i] = 0;
}

static void say(const char *a, const char *b)
{
	/* async-signal-safe: the child of a (possibly threaded) fork must not call stdio */
	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0)
		return;
}

/* The child between fork and exec: only async-signal-safe calls. */
static void child_exec(const lp_spec *s, pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* sim died before the death signal was armed */
		_exit(127);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_sigs[i], &dfl, NULL);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_sigs[i], &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL); /* sim ignores it; an ignored signal survives exec */
	int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	int nul = open("/dev/null", O_RDONLY);
	if (nul >= 0 && nul != 0) {
		dup2(nul, 0);
		close(nul);
	}
	/* nothing of sim's (sockets, output files) may stay open in a node */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
		for (int i = 3; i < 4096; i++)
			close(i);
	if (s->cwd && chdir(s->cwd)) {
		say("sim: cannot enter ", s->cwd);
		_exit(127);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(s->path, s->argv, s->envp);
	say("sim: cannot execute ", s->path);
	_exit(127);
}

int lp_spawn(const lp_spec *s, pid_t *pid)
{
	int slot = -1;
	for (int i = 0; i < LP_MAX && slot < 0; i++)
		if (lp_table[i] == 0)
			slot = i;
	if (slot < 0)
		return -EAGAIN;
	/* No handler may run between fork and the table entry: block everything meanwhile. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0)
		child_exec(s, parent);
	int err = p < 0 ? -errno : 0;
	if (p > 0) {
		setpgid(p, p); /* also here: whichever side runs first makes the group */
		lp_table[slot] = p;
		if (lp_pid_fd >= 0) {
			char line[128];
			int n = snprintf(line, sizeof line, "%s %d\n", s->name, (int)p);
			if (n > 0 && write(lp_pid_fd, line, (size_t)n) < 0)
				err = 0; /* the pid file is a convenience for tests; the table is what counts */
		}
		*pid = p;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int lp_signal(pid_t pid, int sig)
{
	if (pid <= 0)
		return -EINVAL;
	if (kill(-pid, sig) && kill(pid, sig))
		return -errno;
	return 0;
}

int lp_kill_wait(pid_t pid, int *status)
{
	if (pid <= 0)
		return -EINVAL;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	table_remove(pid);
	if (status)
		*status = st;
	return r < 0 && errno != ECHILD ? -errno : 0;
}

int lp_reap(pid_t pid, int *status)
{
	int st = 0;
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r == 0)
		return 0;
	if (r < 0 && errno != ECHILD)
		return -errno;
	table_remove(pid);
	if (status)
		*status = st;
	return 1;
}

int lp_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	for (int waited = 0;; waited += 20) {
		int r = lp_reap(pid, status);
		if (r != 0 || waited >= timeout_ms)
			return r;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int lp_free_port(const char *ip, uint64_t *state, uint16_t *port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	for (int i = 0; i < 1000; i++) {
		/* splitmix64: a spread of candidates, so that parallel runs rarely try the same */
		uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		uint16_t p = (uint16_t)(20000 + z % 12000);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		a.sin_port = htons(p);
		/* no SO_REUSEADDR: a port still in TIME_WAIT is skipped too */
		int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (ok) {
			*port = p;
			return 0;
		}
	}
	return -EADDRINUSE;
}
