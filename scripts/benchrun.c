/*
 * benchrun: starts the clients of one benchmark run and times them, so
 * that the clock measures the clients and not a shell forking around
 * each one.
 *
 *   benchrun CLIENT DIR N [WATCH]
 *   benchrun -floor N
 *
 * Spawns N clients at once, the a-th as `CLIENT -c DIR/client-a.yaml`
 * with its output appended to DIR/client-a.log (the log files are
 * created before the clock starts), and reaps each as it exits.  Prints one line per client, "a status exit_time peak_kB" (the
 * exit status, or 128+signal; the wall-clock time in seconds when it was
 * reaped; its peak resident set from wait4), then "start end": the wall
 * clock before the first spawn and after the last exit.  While it waits
 * it stats WATCH every WATCH_MS: a file whose time is looked at gets a
 * fine-grained time on its next change, where it would otherwise get a
 * coarse one, up to a tick early.  Exit 0 when every client exited 0.
 *
 * With -floor it starts and reaps N copies of itself that return at once
 * (benchrun is linked whole, as the client is) the same way, and prints
 * the seconds that took: the floor under any run of N clients, what this
 * machine spends on processes alone.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MS	20	/* how often WATCH is looked at */

extern char **environ;

/* One spawned client. */
struct child {
	pid_t	 pid;
	int	 status;
	double	 when;
	long	 kb;
};

static double
benchrun_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* DIR/client-a.log into logf[PATH_MAX]. */
static void
benchrun_logname(char *logf, const char *dir, int a)
{
	if (snprintf(logf, PATH_MAX, "%s/client-%d.log", dir, a) >= PATH_MAX)
		errx(1, "%s: path too long", dir);
}

/*
 * Create every client's log file before the clock starts.  Making a new
 * file is the launcher's redirection, not the client's work, and on ext4
 * a thousand of them, right after the previous run's were deleted, cost
 * as much CPU as a replica (the inode allocator scans past recently
 * deleted inodes).  Each spawn then only opens an existing file.
 */
static void
benchrun_logs(const char *dir, int n)
{
	char	logf[PATH_MAX];
	int	fd;

	for (int a = 1; a <= n; a++) {
		benchrun_logname(logf, dir, a);
		if ((fd = open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644)) == -1)
			err(1, "%s", logf);
		if (close(fd) == -1)
			err(1, "close %s", logf);
	}
}

/* Spawn client a with its output appended to DIR/client-a.log. */
static pid_t
benchrun_spawn(const char *client, const char *dir, int a)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none;
	char				 conf[PATH_MAX], logf[PATH_MAX];
	char				*argv[4];
	pid_t				 pid;
	int				 e;

	if (snprintf(conf, sizeof(conf), "%s/client-%d.yaml", dir, a) >=
	    (int)sizeof(conf))
		errx(1, "%s: path too long", dir);
	benchrun_logname(logf, dir, a);
	if ((e = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (e = posix_spawn_file_actions_addopen(&fa, 1, logf,
	    O_WRONLY | O_CREAT | O_APPEND, 0644)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, 1, 2)) != 0)
		errc(1, e, "posix_spawn_file_actions");
	/* The client gets SIGCHLD unblocked, as from a shell. */
	if (sigemptyset(&none) == -1)
		err(1, "sigemptyset");
	if ((e = posix_spawnattr_init(&at)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK)) != 0)
		errc(1, e, "posix_spawnattr");
	argv[0] = (char *)client;
	argv[1] = (char *)"-c";
	argv[2] = conf;
	argv[3] = NULL;
	if ((e = posix_spawn(&pid, client, &fa, &at, argv, environ)) != 0)
		errc(1, e, "spawn %s", client);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return pid;
}

/* Reap every client that has exited; returns how many. */
static int
benchrun_reap(struct child *c, int n)
{
	struct rusage	 ru;
	pid_t		 pid;
	int		 i, st, got = 0;

	while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
		for (i = 0; i < n && c[i].pid != pid; i++)
			continue;
		if (i == n)
			continue;
		c[i].when = benchrun_now();
		c[i].status = WIFEXITED(st) ? WEXITSTATUS(st) :
		    128 + WTERMSIG(st);
		c[i].kb = ru.ru_maxrss;
		got++;
	}
	if (pid == -1 && errno != ECHILD)
		err(1, "wait4");
	return got;
}

/* Spawn a copy of this program that only returns. */
static pid_t
benchrun_spawn_noop(void)
{
	char	*argv[] = { (char *)"benchrun", (char *)"-noop", NULL };
	pid_t	 pid;
	int	 e;

	if ((e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv,
	    environ)) != 0)
		errc(1, e, "spawn /proc/self/exe");
	return pid;
}

/* -floor N: the time to start and reap N processes that do nothing. */
static int
benchrun_floor(const char *count)
{
	const char	*errstr;
	double		 start;
	int		 n, st;

	n = (int)strtonum(count, 1, 100000, &errstr);
	if (errstr != NULL)
		errx(2, "N is %s: %s", errstr, count);
	start = benchrun_now();
	for (int a = 0; a < n; a++)
		(void)benchrun_spawn_noop();
	for (int a = 0; a < n; a++) {
		if (wait(&st) == -1)
			err(1, "wait");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			errx(1, "a do-nothing process failed");
	}
	printf("%.6f\n", benchrun_now() - start);
	return fflush(stdout) == EOF;
}

int
main(int argc, char *argv[])
{
	struct timespec	 tick = { 0, WATCH_MS * 1000000L };
	struct child	*c;
	struct stat	 sb;
	sigset_t	 chld;
	double		 start, end;
	const char	*errstr;
	int		 n, a, left, bad = 0;

	if (argc == 2 && strcmp(argv[1], "-noop") == 0)
		return 0;
	if (argc == 3 && strcmp(argv[1], "-floor") == 0)
		return benchrun_floor(argv[2]);
	if (argc != 4 && argc != 5)
		errx(2, "usage: benchrun CLIENT DIR N [WATCH] | -floor N");
	n = (int)strtonum(argv[3], 1, 100000, &errstr);
	if (errstr != NULL)
		errx(2, "N is %s: %s", errstr, argv[3]);
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		err(1, "calloc");
	/* SIGCHLD stays pending for sigtimedwait: no reap is missed. */
	if (sigemptyset(&chld) == -1 || sigaddset(&chld, SIGCHLD) == -1 ||
	    sigprocmask(SIG_BLOCK, &chld, NULL) == -1)
		err(1, "sigprocmask");
	benchrun_logs(argv[2], n);
	start = benchrun_now();
	for (a = 0; a < n; a++)
		c[a].pid = benchrun_spawn(argv[1], argv[2], a + 1);
	for (left = n; left > 0;) {
		if (argc == 5)
			(void)stat(argv[4], &sb);	/* absent until a close */
		if (sigtimedwait(&chld, NULL, &tick) == -1 &&
		    errno != EAGAIN && errno != EINTR)
			err(1, "sigtimedwait");
		left -= benchrun_reap(c, n);
	}
	end = benchrun_now();
	for (a = 0; a < n; a++) {
		printf("%d %d %.6f %ld\n", a + 1, c[a].status, c[a].when,
		    c[a].kb);
		bad |= c[a].status != 0;
	}
	printf("%.6f %.6f\n", start, end);
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	free(c);
	return bad;
}
