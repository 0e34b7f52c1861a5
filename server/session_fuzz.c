/*
 * session_fuzz: libFuzzer entry for the whole request path of a replica:
 * frame reading, decoding, dispatch and the store, on a real state
 * directory.  Each input is the byte stream of one connection: a peer
 * thread writes it into a socketpair, hangs up its write side and reads
 * and discards the replies, while fuzz_serve drives the session the way
 * the event loop does (with a real store thread) on the other end.  The
 * state directory lives under /dev/shm when there is one (the store syncs
 * every append) and is emptied every FUZZ_RESET inputs, so a long run
 * stays small and keeps meeting agencies that have not closed yet.  Built
 * and run by `make fuzz` (clang); any crash or sanitizer report is a bug.
 */
#include <sys/socket.h>

#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "worker.h"

#define FUZZ_INPUT_MAX	(16 * 1024)
#define FUZZ_REPLY_BUF	(64 * 1024 * 1024)
/*
 * Every frame of at least 3 bytes may get a reply of its size plus a
 * header and the kernel's per-write overhead (under 1 KiB): an input of L
 * bytes queues less than L * FUZZ_REPLY_RATIO bytes of replies.
 */
#define FUZZ_REPLY_RATIO 400
#define FUZZ_RESET	64	/* inputs between two state resets */
#define FUZZ_AGENCIES	5	/* few, so closes and the draw are reached */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char			 dir[64];
static struct config		 cfg;
static struct store		*store;
static struct worker		*worker;	/* the store's thread */
static int			 stopping;	/* never set */
static volatile sig_atomic_t	 stop;
static struct session		 sess;	/* large: keep it off the stack */
static unsigned			 inputs;
static struct keys		 fuzz_keys;	/* zero keys; the last revoked */
static size_t			 input_max;	/* what the buffers hold */

static void __attribute__((noreturn))
fuzz_fatal(const char *what, const char *why)
{
	fprintf(stderr, "session_fuzz: %s: %s\n", what, why);
	abort();
}

static void
fuzz_open(void)
{
	struct store_opts	opts;
	char			err[256];

	opts.agencies = FUZZ_AGENCIES;
	opts.lock_timeout_ms = 1000;
	opts.batch_max = PROTO_BATCH_MAX;
	opts.stop = &stop;
	if ((store = store_open(dir, &opts, err, sizeof(err))) == NULL ||
	    (worker = worker_start(store, err, sizeof(err))) == NULL)
		fuzz_fatal(dir, err);
}

/* Remove every file of the state directory, whatever the store keeps. */
static void
fuzz_empty_dir(void)
{
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(dir)) == NULL)
		fuzz_fatal(dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == -1)
			fuzz_fatal(e->d_name, strerror(errno));
	}
	closedir(d);
}

static void
fuzz_cleanup(void)
{
	if (store != NULL)
		store_close(store);
	store = NULL;
	fuzz_empty_dir();
	(void)rmdir(dir);
}

/*
 * A connected pair: sv[0] the peer, sv[1] the session's end.  The replies
 * wait in sv[1]'s send buffer, so it gets FUZZ_REPLY_BUF (the forced
 * variant needs CAP_NET_ADMIN; without it the kernel's maximum); a write
 * that would still block gives up after a second instead of hanging the
 * run.  Returns the bytes of input the buffers hold, or 0 on error.
 */
static size_t
fuzz_pair(int sv[2])
{
	struct timeval	tv = { 1, 0 };
	int		sz = FUZZ_REPLY_BUF;
	socklen_t	len = sizeof(sz);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return 0;
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, len) == -1 &&
	    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, len) == -1)
		goto fail;
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		goto fail;
	if (getsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, &len) == -1)
		goto fail;
	return (size_t)sz / FUZZ_REPLY_RATIO;
fail:
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* Queue the input for the session and hang up the peer's write side. */
static void
fuzz_send(int fd, const uint8_t *data, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fuzz_fatal("send", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
	if (shutdown(fd, SHUT_WR) == -1)
		fuzz_fatal("shutdown", strerror(errno));
}

/* Read and discard every reply queued on fd, up to the session's EOF. */
static void
fuzz_drain(int fd)
{
	char	buf[65536];
	ssize_t	n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0)
		if (n == -1 && errno != EINTR)
			break;
}

/* Wait for s's job to come back from the store thread, and complete it. */
static int
fuzz_job(struct session *s)
{
	struct pollfd	 pfd = { worker_fd(worker), POLLIN, 0 };

	worker_flush(worker);
	while (worker_done(worker) == NULL)
		(void)poll(&pfd, 1, -1);
	return session_complete(s);
}

/*
 * Serve s as net.c does, one connection: read when readable, hand its
 * jobs to the store thread and complete them, wake a parked wait at once
 * (its cap is a few ms anyway), until it ends.
 */
static void
fuzz_serve(struct session *s)
{
	struct pollfd	 pfd = { s->fd, POLLIN, 0 };
	int		 rc = SESSION_OK;

	session_open(s);
	while (rc == SESSION_OK && !(s->ending && !s->busy &&
	    !session_pending_out(s))) {
		if (s->busy)
			rc = fuzz_job(s);
		else if (s->parked)
			rc = session_wake(s);
		else if (!s->eof && session_can_read(s) &&
		    poll(&pfd, 1, -1) == 1)
			rc = session_input(s);
		else if (s->eof || !session_can_read(s))
			break;	/* nothing more can come */
	}
	while (!session_finish(s))
		(void)fuzz_job(s);
	(void)shutdown(s->fd, SHUT_RDWR);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*base;
	int		 fd, sv[2];

	(void)argc;
	(void)argv;
	/* Log lines go to stdout; libFuzzer reports on stderr. */
	if ((fd = open("/dev/null", O_WRONLY)) == -1 || dup2(fd, 1) == -1)
		fuzz_fatal("/dev/null", strerror(errno));
	close(fd);
	log_set_level(LOG_LVL_INFO);
	/* A session that hangs up early must not kill the peer's writes. */
	signal(SIGPIPE, SIG_IGN);
	base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    (getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	snprintf(dir, sizeof(dir), "%.40s/session_fuzz.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		fuzz_fatal(dir, strerror(errno));
	cfg.agencies = FUZZ_AGENCIES;
	if (auth_init() == -1)
		fuzz_fatal("libsodium", "cannot initialise");
	fuzz_keys.agencies = FUZZ_AGENCIES;
	fuzz_keys.key = calloc(FUZZ_AGENCIES + 1, sizeof(*fuzz_keys.key));
	fuzz_keys.revoked = calloc(FUZZ_AGENCIES + 1, 1);
	if (fuzz_keys.key == NULL || fuzz_keys.revoked == NULL)
		fuzz_fatal("calloc", strerror(errno));
	fuzz_keys.revoked[FUZZ_AGENCIES] = 1;
	cfg.conn_timeout_ms = 1000;
	cfg.lock_timeout_ms = 1000;
	cfg.wait_cap_ms = 5;	/* a WinnersWait must not outlast a run */
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	fuzz_open();
	atexit(fuzz_cleanup);
	if ((input_max = fuzz_pair(sv)) == 0)
		fuzz_fatal("socketpair", strerror(errno));
	close(sv[0]);
	close(sv[1]);
	if (input_max > FUZZ_INPUT_MAX)
		input_max = FUZZ_INPUT_MAX;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	int	sv[2];

	if (len > input_max)
		return -1;	/* not added to the corpus */
	if (++inputs % FUZZ_RESET == 0) {
		worker_stop(worker);
		store_close(store);
		fuzz_empty_dir();
		fuzz_open();
	}
	if (fuzz_pair(sv) == 0)
		fuzz_fatal("socketpair", strerror(errno));
	fuzz_send(sv[0], data, len);
	memset(&sess, 0, sizeof(sess));
	sess.fd = sv[1];
	snprintf(sess.peer, sizeof(sess.peer), "fuzz");
	sess.store = store;
	sess.cfg = &cfg;
	sess.stop = &stop;
	sess.stopping = &stopping;
	sess.worker = worker;
	/*
	 * A third of the inputs meet a replica without keys, a third one
	 * with keys, and a third a connection already authenticated as
	 * agency 1 (no input can forge a proof).
	 */
	if (inputs % 3 != 0)
		sess.keys = &fuzz_keys;
	if (inputs % 3 == 2)
		sess.agency = 1;
	fuzz_serve(&sess);
	/* fuzz_serve shut its end down, so the drain ends at EOF. */
	fuzz_drain(sv[0]);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
