/*
 * sfile: one shared append-only file (see sfile.h).
 *
 * Errors split in two.  A full disk (ENOSPC, EDQUOT) on this replica's own
 * append is answered: the file is cut back to its last whole row and the
 * request refused.  Any other error from the file (EIO, ESTALE, EBADFD,
 * ENOTCONN from a network filesystem whose mount broke or whose lock was
 * lost, a failed fdatasync whose dirty pages the kernel may have dropped)
 * means this descriptor, its lock or its data can no longer be trusted:
 * the replica logs it and exits, so its orchestrator restarts it and it
 * reopens everything, and no reply built on that descriptor leaves.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "metrics.h"
#include "sfile.h"
#include "sig.h"

#define SFILE_TICK_MS	100	/* how often a lock wait looks at the clock */
#define SFILE_REOPENS	8	/* replacements in a row before giving up */
#define SFILE_SIGNAL	(SIGRTMIN + 1)
#ifndef sigev_notify_thread_id	/* glibc before 2.35 does not name it */
#define sigev_notify_thread_id	_sigev_un._tid
#endif

static void __attribute__((noreturn))
sfile_fatal(const struct sfile *f, const char *action)
{
	log_event_errno(LOG_LVL_CRITICAL, action, "fail", "file: %s | motivo: "
	    "shared file unusable, exiting so the replica restarts clean",
	    f->name);
	_exit(1);
}

/* Remember the bytes just before end, where the index stops. */
static void
sfile_keep_tail(struct sfile *f, uint64_t end)
{
	size_t	n = end < SFILE_TAIL ? (size_t)end : SFILE_TAIL;

	if (io_pread_full(f->fd, f->tail, n, (off_t)(end - n)) != (ssize_t)n)
		sfile_fatal(f, "read_tail");
	f->taillen = n;
}

/* The same after appending buf[0..len) at the index end. */
static void
sfile_tail_add(struct sfile *f, const char *buf, size_t len)
{
	size_t	keep;

	if (len >= SFILE_TAIL) {
		memcpy(f->tail, buf + len - SFILE_TAIL, SFILE_TAIL);
		f->taillen = SFILE_TAIL;
		return;
	}
	keep = f->taillen < SFILE_TAIL - len ? f->taillen : SFILE_TAIL - len;
	memmove(f->tail, f->tail + f->taillen - keep, keep);
	memcpy(f->tail + keep, buf, len);
	f->taillen = keep + len;
}

static void
sfile_forget(struct sfile *f)
{
	f->scanned = 0;
	f->synced = 0;
	f->taillen = 0;
}

int
sfile_open(struct sfile *f, const char *dir, const char *name, char *err,
    size_t errlen)
{
	struct stat	st;

	memset(f, 0, sizeof(*f));
	f->name = name;
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", dir, name) >=
	    sizeof(f->path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		f->fd = -1;
		return -1;
	}
	f->fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd == -1 || fstat(f->fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

void
sfile_close(struct sfile *f)
{
	if (f->fd == -1)
		return;
	if (close(f->fd) == -1)
		log_error_errno("close_file", "fail", "file: %s", f->name);
	else
		log_info("close_file", "success", "file: %s", f->name);
	f->fd = -1;
}

static void
sfile_on_tick(int sig)
{
	(void)sig;	/* only there to interrupt F_OFD_SETLKW */
}

/*
 * The tick's handler, installed once for the process.  pthread_once and
 * not a flag: a thread that found the flag set could start its timer
 * while the first one was still in sigaction, and a tick with no handler
 * yet would end the process (SIGRTMIN's default action).
 */
static pthread_once_t	sfile_once = PTHREAD_ONCE_INIT;
static int		sfile_install_errno;	/* written once, under it */

static void
sfile_install(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sfile_on_tick;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SFILE_SIGNAL, &sa, NULL) == -1)
		sfile_install_errno = errno;
}

/*
 * A timer that sends this thread SFILE_SIGNAL every tick, so a blocked
 * F_OFD_SETLKW returns EINTR and the wait can look at its deadline and
 * the stop flag, while the kernel still queues the waiter fairly.
 */
static int
sfile_timer_start(timer_t *t)
{
	struct sigevent		 sev;
	struct itimerspec	 its;

	if ((errno = pthread_once(&sfile_once, sfile_install)) != 0)
		return -1;
	if (sfile_install_errno != 0) {
		errno = sfile_install_errno;
		return -1;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SFILE_SIGNAL;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, t) == -1)
		return -1;
	its.it_value.tv_sec = its.it_interval.tv_sec = 0;
	its.it_value.tv_nsec = its.it_interval.tv_nsec =
	    SFILE_TICK_MS * 1000000L;
	if (timer_settime(*t, 0, &its, NULL) == -1) {
		timer_delete(*t);
		return -1;
	}
	return 0;
}

/* The OFD lock itself: 0, or -1 past the deadline or on a stop. */
static int
sfile_lock_wait(struct sfile *f, short type, long long deadline,
    volatile sig_atomic_t *stop)
{
	struct flock	fl;
	timer_t		t;
	int		rc = -1;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	if (fcntl(f->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES && errno != EINTR)
		sfile_fatal(f, "lock");
	metrics_lock_wait();
	if (sfile_timer_start(&t) == -1) {
		log_error_errno("lock", "fail", "file: %s", f->name);
		return -1;
	}
	while (!sig_stopped(stop) && io_now_ms() < deadline) {
		if (fcntl(f->fd, F_OFD_SETLKW, &fl) == 0) {
			rc = 0;
			break;
		}
		if (errno != EINTR)
			sfile_fatal(f, "lock");
	}
	timer_delete(t);
	return rc;
}

void
sfile_unlock(struct sfile *f)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(f->fd, F_OFD_SETLK, &fl) == -1)
		sfile_fatal(f, "unlock");
}

/* 1 when the path still names the open file, 0 when it names another. */
static int
sfile_same(struct sfile *f)
{
	struct stat	st;

	if (stat(f->path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		sfile_fatal(f, "stat");
	}
	return st.st_dev == f->dev && st.st_ino == f->ino;
}

/*
 * The name now pointing at a file we are about to write (made by us or
 * renamed into place by someone else) is synced in its directory before
 * anything written there is acknowledged: else a power cut brings back
 * the old name and loses the acknowledged rows.
 */
static void
sfile_sync_dir(struct sfile *f)
{
	char	dir[PATH_MAX], *slash;
	int	fd;

	memcpy(dir, f->path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		sfile_fatal(f, "sync_dir");
	if (fsync(fd) == -1 && errno != EINVAL)
		sfile_fatal(f, "sync_dir");
	close(fd);
}

/* Open what the path names now, in place of the descriptor held. */
static void
sfile_reopen(struct sfile *f)
{
	struct stat	st;
	int		fd;

	fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1 || fstat(fd, &st) == -1)
		sfile_fatal(f, "reopen");
	/* Closing drops the lock on the old file: nobody else reads it. */
	if (close(f->fd) == -1)
		log_warn_errno("close_file", "fail", "file: %s", f->name);
	/* Atomic: the draw's watcher reads it without the mutex. */
	__atomic_store_n(&f->fd, fd, __ATOMIC_RELAXED);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	sfile_forget(f);
	sfile_sync_dir(f);
	log_warn("reopen", "success", "file: %s | motivo: the path names "
	    "another file now", f->name);
}

/* 1 when the bytes just before the index end are still those indexed. */
static int
sfile_intact(struct sfile *f)
{
	char	buf[SFILE_TAIL];
	ssize_t	n;

	if (f->scanned == 0)
		return 1;
	n = io_pread_full(f->fd, buf, f->taillen,
	    (off_t)(f->scanned - f->taillen));
	if (n == -1)
		sfile_fatal(f, "read_tail");
	return (size_t)n == f->taillen && memcmp(buf, f->tail, f->taillen) == 0;
}

int
sfile_lock(struct sfile *f, short type, long long deadline,
    volatile sig_atomic_t *stop)
{
	int	reset = 0;

	for (int i = 0; i < SFILE_REOPENS; i++) {
		if (sfile_lock_wait(f, type, deadline, stop) == -1)
			return -1;
		if (sfile_same(f)) {
			if (!sfile_intact(f)) {
				log_warn("reindex", "in_progress", "file: %s | "
				    "motivo: indexed rows were rewritten",
				    f->name);
				sfile_forget(f);
				reset = 1;
			}
			return reset;
		}
		sfile_reopen(f);
		reset = 1;
	}
	sfile_unlock(f);
	log_error("lock", "fail", "file: %s | motivo: replaced %d times in a "
	    "row", f->name, SFILE_REOPENS);
	return -1;
}

void
sfile_scan(struct sfile *f, sfile_line_fn fn, void *arg)
{
	struct csv_reader	*r = &f->reader;
	struct stat		 st;
	uint64_t		 end = f->scanned;
	char			*line;
	size_t			 len;
	int			 rc;

	if (fstat(f->fd, &st) == -1)
		sfile_fatal(f, "scan");
	/* A stale smaller size only delays indexing: appends reread. */
	if ((uint64_t)st.st_size <= f->scanned)
		return;
	if (lseek(f->fd, (off_t)f->scanned, SEEK_SET) == -1)
		sfile_fatal(f, "scan");
	csv_reader_init(r, f->fd, f->scanned);
	while ((rc = csv_reader_next(r, &line, &len)) == 1 && !r->partial) {
		fn(arg, line, len);
		end = r->offset;
	}
	if (rc == -1)
		sfile_fatal(f, "scan");
	if (end != f->scanned) {
		f->scanned = end;
		sfile_keep_tail(f, end);
	}
}

void
sfile_each_line(struct sfile *f, sfile_line_fn fn, void *arg)
{
	struct csv_reader	*r = &f->reader;
	char			*line;
	size_t			 len;
	int			 rc;

	if (lseek(f->fd, 0, SEEK_SET) == -1)
		sfile_fatal(f, "read");
	csv_reader_init(r, f->fd, 0);
	while ((rc = csv_reader_next(r, &line, &len)) == 1 && !r->partial &&
	    r->offset <= f->scanned)
		fn(arg, line, len);
	if (rc == -1)
		sfile_fatal(f, "read");
}

/*
 * What lies past the indexed end, reread under the write lock whatever
 * fstat said (a network filesystem may report a stale size): 0 nothing,
 * 1 an incomplete row left by a writer that died (safe to cut), -1 whole
 * rows (another replica's, not indexed yet), which must never be cut or
 * written over.
 */
static int
sfile_past_end(struct sfile *f)
{
	char		buf[4096];
	uint64_t	off;
	ssize_t		n;

	for (off = f->scanned;; off += (uint64_t)n) {
		n = io_pread_full(f->fd, buf, sizeof(buf), (off_t)off);
		if (n == -1)
			sfile_fatal(f, "read_tail");
		if (n == 0)
			return off > f->scanned;
		if (memchr(buf, '\n', (size_t)n) != NULL)
			return -1;
	}
}

/* Cut the file back to the index end after a full disk. */
static void
sfile_rollback(struct sfile *f, size_t len)
{
	log_error_errno("write", "fail", "file: %s | bytes: %zu", f->name, len);
	if (ftruncate(f->fd, (off_t)f->scanned) == -1)
		sfile_fatal(f, "rollback");
}

static int
sfile_disk_full(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

/*
 * Write iov[0..n), len bytes in all, at the indexed end (write lock held,
 * index current), after cutting a torn tail.  0; -1 when whole rows lie
 * past the index (nothing written) or the disk is full (cut back).
 */
static int
sfile_write_end(struct sfile *f, struct iovec *iov, int n, size_t len)
{
	struct stat	st;

	switch (sfile_past_end(f)) {
	case -1:
		log_error("recover_tail", "fail", "file: %s | motivo: whole "
		    "rows past the index, not cut", f->name);
		return -1;
	case 1:
		if (fstat(f->fd, &st) == -1 ||
		    ftruncate(f->fd, (off_t)f->scanned) == -1)
			sfile_fatal(f, "recover_tail");
		log_warn("recover_tail", "success", "file: %s | bytes: %llu",
		    f->name, (unsigned long long)st.st_size - f->scanned);
		break;
	}
	/* pwritev: no lseek, and one call for every batch of a group. */
	if (io_pwritev_full(f->fd, iov, n, (off_t)f->scanned) == -1) {
		if (!sfile_disk_full(errno))
			sfile_fatal(f, "write");
		sfile_rollback(f, len);
		return -1;
	}
	return 0;
}

int
sfile_appendv(struct sfile *f, const struct iovec *iov, int n)
{
	size_t		 len = 0;

	if (n > SFILE_IOV_MAX)
		return -1;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	/* A short write advances the copy; iov stays whole for the tail. */
	memcpy(f->iov, iov, (size_t)n * sizeof(*iov));
	if (sfile_write_end(f, f->iov, n, len) == -1)
		return -1;
	f->scanned += len;
	for (int i = 0; i < n; i++)
		sfile_tail_add(f, iov[i].iov_base, iov[i].iov_len);
	return 0;
}

/* fdatasync, its latency counted in the metrics. */
static int
sfile_datasync(struct sfile *f)
{
	uint64_t	t0 = metrics_now_ns();
	int		rc = fdatasync(f->fd);

	metrics_sync(metrics_now_ns() - t0);
	return rc;
}

int
sfile_append(struct sfile *f, const char *buf, size_t len)
{
	struct iovec	iov = { (void *)buf, len };

	if (sfile_write_end(f, &iov, 1, len) == -1)
		return -1;
	if (sfile_datasync(f) == -1) {
		if (!sfile_disk_full(errno))
			sfile_fatal(f, "write");
		sfile_rollback(f, len);
		return -1;
	}
	f->scanned += len;
	sfile_tail_add(f, buf, len);
	return 0;
}

void
sfile_sync(struct sfile *f)
{
	uint64_t	end = f->scanned;	/* written before the call */

	if (sfile_datasync(f) == -1)
		sfile_fatal(f, "sync");
	if (end > f->synced)
		f->synced = end;
}

void
sfile_sync_indexed(struct sfile *f)
{
	if (f->scanned > f->synced)
		sfile_sync(f);
}
