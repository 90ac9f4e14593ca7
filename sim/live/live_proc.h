/*
 * live_proc.h — the processes of a live run: start, signal, reap, and the guarantee that none
 * outlives the run.
 *
 * Every child is started in its own process group (so a kill reaches anything it forks), with
 * PR_SET_PDEATHSIG = SIGKILL (if sim dies, however it dies, the kernel kills the child), stdin
 * from /dev/null, stdout and stderr appended to its log file, and no other inherited descriptor.
 * Every running child is in a process-wide table that the signal handlers and the atexit hook
 * read: SIGINT/SIGTERM/SIGHUP ask the run to stop (a second one kills every child and exits at
 * once), a crash signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) kills every child before sim
 * dies. The table is the one piece of global state: a signal handler has nowhere else to look.
 *
 * Ownership: strings in lp_spec are borrowed for the call. Functions return 0 or a negative errno.
 */
#ifndef FL_LIVE_PROC_H
#define FL_LIVE_PROC_H

#include <stdint.h>
#include <sys/types.h>

#define LP_MAX 256

typedef struct lp_spec {
	const char *name;      /* "server/2", for the pid file */
	const char *path;      /* the executable */
	char *const *argv;     /* NULL-terminated, argv[0] included */
	char *const *envp;     /* the whole environment */
	const char *cwd;       /* working directory */
	const char *log_path;  /* stdout and stderr are appended here */
} lp_spec;

/* Install the handlers and the atexit hook (once per process); every start is appended to
 * pid_file as "NAME PID" (may be NULL). */
int lp_install(const char *pid_file);
/* Put back the signal dispositions found at lp_install. */
void lp_uninstall(void);

/* Start a child; *pid gets its pid (also its process group id). */
int lp_spawn(const lp_spec *s, pid_t *pid);
/* Send sig to the child's process group. */
int lp_signal(pid_t pid, int sig);
/* SIGKILL the child's group and wait for it; *status (may be NULL) gets the wait status. */
int lp_kill_wait(pid_t pid, int *status);
/* 1 when the child has exited (reaped; *status set), 0 while it runs, negative on error. */
int lp_reap(pid_t pid, int *status);
/* Wait up to timeout_ms for the child to exit by itself (1 exited, 0 still running). */
int lp_wait_exit(pid_t pid, int timeout_ms, int *status);
/* SIGKILL every child's group that is still in the table (async-signal-safe). */
void lp_kill_all(void);
/* How many children are in the table. */
int lp_running(void);
/* The signal that asked the run to stop (SIGINT, SIGTERM, SIGHUP), 0 if none. */
int lp_stop_signal(void);

/* A free TCP port on ip (bind-tested, 20000..31999, drawn from *state). 0 or -EADDRINUSE. */
int lp_free_port(const char *ip, uint64_t *state, uint16_t *port);

#endif
