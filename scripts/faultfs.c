/*
 * faultfs: a FUSE passthrough filesystem that fails chosen operations on
 * demand, so the tests can give a replica the errors a network filesystem
 * gives (EIO, ESTALE, ENOTCONN, ENOSPC...) on real system calls.
 *
 *   faultfs BACKING MOUNTPOINT -o ctl=FILE [-f] [FUSE options]
 *
 * Every operation on MOUNTPOINT is done on the same path under BACKING.
 * FILE (outside the mount) holds the faults, one per line, and is read
 * again whenever it changes (inode, size or mtime), which also resets the
 * call counts:
 *
 *   OP ERRNO [after N] [times M] [pid P] [short]
 *   OP pause ms N [after N] [times M] [pid P]
 *   OP hold [after N] [times M] [pid P]
 *
 * OP is getattr, readdir, open, create, read, write, truncate, fsync,
 * fdatasync, flush, release, unlink, rename, mkdir, rmdir, utimens or
 * statfs; ERRNO a name (EIO, ESTALE, ENOSPC...) or a number.  The fault
 * hits from the Nth matching call on (default 1), M times (default: every
 * time).  "short" makes a write's first hit store half of its bytes and
 * report that short count, the way a filling disk does; the hits after it
 * fail.  For read, ERRNO "stale" returns end of file instead of an error:
 * a view of the file older than its size.  "pause" does not fail the
 * call: it holds it N milliseconds first, the way a slow or congested
 * server does.  "hold" holds the call until FILE changes (rewritten,
 * emptied), then does it: a test can keep a replica inside its write or
 * its sync for as long as it needs, with no guess at how long that is.
 * Each held call is logged with the process that made it ("hold (call
 * N, pid P)") and again when it is let go ("released").  "pid P" makes a
 * rule count and hit only the calls of process P (any of its threads),
 * so one replica of several on the mount can be aimed at.  An empty FILE
 * disarms.
 *
 * Locks are left to the kernel (no lock operation), so POSIX and OFD
 * locks work on the mount as on a local filesystem and cannot be failed.
 * Files are opened in direct I/O mode and attributes are never cached:
 * every write, read and size reaches this process, so a fault hits the
 * system call that asked for it, not a later write-back.
 */
#define FUSE_USE_VERSION 31

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAULT_RULES	16
#define FAULT_STALE	(-1)	/* read: report end of file */
#define FAULT_SHORT	(-2)	/* write: store half, report a short count */

struct fault_rule {
	char		op[16];
	int		err;		/* errno; 0 for "stale" */
	unsigned long	after, times;	/* times 0: no limit */
	unsigned long	pause_ms;	/* "pause": hold the call, then do it */
	int		hold;		/* "hold": until the control file changes */
	pid_t		pid;		/* only this process's calls; 0: all */
	int		shortw;
	unsigned long	calls, hits;
};

static struct {
	const char	*ctl;		/* control file */
	const char	*backing;
	int		 bfd;		/* the backing directory */
	pthread_mutex_t	 mu;
	struct stat	 seen;		/* the control file last loaded */
	unsigned long	 gen;		/* loads so far: a held call waits for
					   the next one */
	struct fault_rule rules[FAULT_RULES];
	size_t		 nrules;
} fs = { .bfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static const struct {
	const char	*name;
	int		 err;
} fault_errnos[] = {
	{ "EIO", EIO }, { "ESTALE", ESTALE }, { "ENOTCONN", ENOTCONN },
	{ "EBADFD", EBADFD }, { "EBADF", EBADF }, { "ENOSPC", ENOSPC },
	{ "EDQUOT", EDQUOT }, { "ENOLCK", ENOLCK }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "EINTR", EINTR },
	{ "EAGAIN", EAGAIN }, { "ENOENT", ENOENT }, { "EFBIG", EFBIG },
	{ "ETIMEDOUT", ETIMEDOUT }, { "stale", 0 },
};

static const char *
fault_errname(int err)
{
	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
	    i++)
		if (fault_errnos[i].err == err)
			return fault_errnos[i].name;
	return "?";
}

/* Parse an errno name or number; -1 when it is neither. */
static int
fault_parse_errno(const char *s)
{
	char	*end;
	long	 v;

	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
	    i++)
		if (strcmp(s, fault_errnos[i].name) == 0)
			return fault_errnos[i].err;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0 || v > 4095)
		return -1;
	return (int)v;
}

/* Parse one control line into r; 0, 1 for a blank line, -1 when bad. */
static int
fault_parse_line(char *line, struct fault_rule *r)
{
	char	*tok[8], *save = NULL, *t, *end;
	size_t	 n = 0;

	for (t = strtok_r(line, " \t\r\n", &save); t != NULL && n < 8;
	    t = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = t;
	if (n == 0 || tok[0][0] == '#')
		return 1;
	memset(r, 0, sizeof(*r));
	r->after = 1;
	if (n < 2 || strlen(tok[0]) >= sizeof(r->op))
		return -1;
	r->hold = strcmp(tok[1], "hold") == 0;
	if (strcmp(tok[1], "pause") != 0 && !r->hold &&
	    (r->err = fault_parse_errno(tok[1])) == -1)
		return -1;
	strcpy(r->op, tok[0]);
	for (size_t i = 2; i < n; i++) {
		if (strcmp(tok[i], "short") == 0) {
			r->shortw = 1;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		unsigned long v = strtoul(tok[i + 1], &end, 10);
		if (*tok[i + 1] == '\0' || *end != '\0' || v == 0)
			return -1;
		if (strcmp(tok[i], "after") == 0)
			r->after = v;
		else if (strcmp(tok[i], "times") == 0)
			r->times = v;
		else if (strcmp(tok[i], "pid") == 0 && v <= INT_MAX)
			r->pid = (pid_t)v;
		else if (strcmp(tok[i], "ms") == 0 &&
		    strcmp(tok[1], "pause") == 0)
			r->pause_ms = v;
		else
			return -1;
		i++;
	}
	return strcmp(tok[1], "pause") == 0 && r->pause_ms == 0 ? -1 : 0;
}

/* Reload the rules when the control file changed (mutex held). */
static void
fault_reload(void)
{
	struct stat	 st;
	char		 line[256];
	FILE		*f;
	unsigned	 ln = 0;

	if (stat(fs.ctl, &st) == -1)
		memset(&st, 0, sizeof(st));
	if (st.st_ino == fs.seen.st_ino && st.st_size == fs.seen.st_size &&
	    st.st_mtim.tv_sec == fs.seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == fs.seen.st_mtim.tv_nsec)
		return;
	fs.seen = st;
	fs.nrules = 0;
	fs.gen++;
	if ((f = fopen(fs.ctl, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		int rc;

		ln++;
		if (fs.nrules == FAULT_RULES)
			break;
		rc = fault_parse_line(line, &fs.rules[fs.nrules]);
		if (rc == -1)
			fprintf(stderr, "faultfs: %s:%u: bad line ignored\n",
			    fs.ctl, ln);
		else if (rc == 0)
			fs.nrules++;
	}
	fclose(f);
	fprintf(stderr, "faultfs: %s: %zu fault(s) armed\n", fs.ctl,
	    fs.nrules);
}

/*
 * The process (thread group) of thread tid, from /proc; tid itself when
 * that cannot be read (the thread is gone).
 */
static pid_t
fault_tgid(pid_t tid)
{
	char	 path[64], line[128];
	FILE	*f;
	long	 v = tid;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return tid;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Tgid: %ld", &v) == 1)
			break;
	fclose(f);
	return (pid_t)v;
}

/*
 * Hold a call until the control file is loaded again (gen moves past
 * held_gen).  Polled: a held call may be the only one, so no other call
 * would notice the change for it.
 */
static void
fault_hold(unsigned long held_gen, const char *op, const char *path)
{
	struct timespec	 ts = { 0, 10 * 1000000L };
	int		 done = 0;

	while (!done) {
		while (nanosleep(&ts, NULL) == -1 && errno == EINTR)
			;
		pthread_mutex_lock(&fs.mu);
		fault_reload();
		done = fs.gen != held_gen;
		pthread_mutex_unlock(&fs.mu);
	}
	fprintf(stderr, "faultfs: %s %s: released\n", op, path);
}

/*
 * Should this call of op on path fail?  0: no; an errno; FAULT_STALE or
 * FAULT_SHORT.  The first rule naming op (and, if it names one, the
 * caller's process) decides.
 */
static int
fault(const char *op, const char *path)
{
	struct fault_rule	*r = NULL;
	unsigned long		 pause_ms = 0, held_gen = 0;
	pid_t			 caller = fuse_get_context()->pid;
	int			 res = 0, held = 0;

	pthread_mutex_lock(&fs.mu);
	fault_reload();
	for (size_t i = 0; i < fs.nrules && r == NULL; i++) {
		if (strcmp(fs.rules[i].op, op) != 0)
			continue;
		if (fs.rules[i].pid != 0 &&
		    fault_tgid(caller) != fs.rules[i].pid)
			continue;
		r = &fs.rules[i];
	}
	if (r == NULL || ++r->calls < r->after ||
	    (r->times != 0 && r->hits >= r->times))
		goto out;
	r->hits++;
	if (r->hold) {
		held = 1;
		held_gen = fs.gen;
		fprintf(stderr, "faultfs: %s %s: hold (call %lu, pid %d)\n",
		    op, path, r->calls, (int)fault_tgid(caller));
		goto out;
	}
	if (r->pause_ms != 0) {
		pause_ms = r->pause_ms;
		fprintf(stderr, "faultfs: %s %s: pause %lu ms (call %lu)\n", op,
		    path, pause_ms, r->calls);
		goto out;
	}
	if (r->shortw && r->hits == 1)
		res = FAULT_SHORT;
	else
		res = r->err == 0 ? FAULT_STALE : r->err;
	fprintf(stderr, "faultfs: %s %s: %s%s (call %lu)\n", op, path,
	    fault_errname(r->err), res == FAULT_SHORT ? " short" : "",
	    r->calls);
out:
	pthread_mutex_unlock(&fs.mu);
	/* Outside the mutex: other calls go on while this one is held. */
	if (held)
		fault_hold(held_gen, op, path);
	if (pause_ms != 0) {
		struct timespec	ts = { (time_t)(pause_ms / 1000),
		    (long)(pause_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	return res;
}

/* path under the backing directory, for the *at calls. */
static const char *
rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path == '\0' ? "." : path;
}

/* Fail with the armed errno, if any, for operations without a special. */
#define FAULT_CHECK(op, path) do {				\
	int fc_err = fault(op, path);				\
	if (fc_err > 0)						\
		return -fc_err;					\
} while (0)

static int
ffs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int	rc;

	FAULT_CHECK("getattr", path);
	if (fi != NULL)
		rc = fstat((int)fi->fh, st);
	else
		rc = fstatat(fs.bfd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return rc == -1 ? -errno : 0;
}

static int
ffs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	(void)off;
	(void)fi;
	(void)flags;
	FAULT_CHECK("readdir", path);
	if ((fd = openat(fs.bfd, rel(path), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		int e = errno;

		close(fd);
		return -e;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)de->d_type << 12;
		if (filler(buf, de->d_name, &st, 0, 0) != 0)
			break;
	}
	closedir(d);
	return 0;
}

static int
ffs_open(const char *path, struct fuse_file_info *fi)
{
	int	fd;

	FAULT_CHECK("open", path);
	if ((fd = openat(fs.bfd, rel(path), fi->flags | O_CLOEXEC)) == -1)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int
ffs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int	fd;

	FAULT_CHECK("create", path);
	if ((fd = openat(fs.bfd, rel(path), fi->flags | O_CREAT | O_CLOEXEC,
	    mode)) == -1)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int
ffs_read(const char *path, char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t	n;
	int	f;

	if ((f = fault("read", path)) == FAULT_STALE)
		return 0;
	if (f > 0)
		return -f;
	if ((n = pread((int)fi->fh, buf, len, off)) == -1)
		return -errno;
	return (int)n;
}

static int
ffs_write(const char *path, const char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t	n;
	int	f;

	if ((f = fault("write", path)) > 0)
		return -f;
	if (f == FAULT_SHORT && len > 1)
		len /= 2;
	if ((n = pwrite((int)fi->fh, buf, len, off)) == -1)
		return -errno;
	return (int)n;
}

static int
ffs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int	fd, rc, e;

	FAULT_CHECK("truncate", path);
	if (fi != NULL)
		return ftruncate((int)fi->fh, size) == -1 ? -errno : 0;
	if ((fd = openat(fs.bfd, rel(path), O_WRONLY | O_CLOEXEC)) == -1)
		return -errno;
	rc = ftruncate(fd, size);
	e = errno;
	close(fd);
	return rc == -1 ? -e : 0;
}

static int
ffs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	FAULT_CHECK(datasync ? "fdatasync" : "fsync", path);
	if ((datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) == -1)
		return -errno;
	return 0;
}

static int
ffs_flush(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	FAULT_CHECK("flush", path);
	return 0;
}

static int
ffs_release(const char *path, struct fuse_file_info *fi)
{
	/* The kernel ignores what release returns: count the call only. */
	(void)fault("release", path);
	close((int)fi->fh);
	return 0;
}

static int
ffs_unlink(const char *path)
{
	FAULT_CHECK("unlink", path);
	return unlinkat(fs.bfd, rel(path), 0) == -1 ? -errno : 0;
}

static int
ffs_rmdir(const char *path)
{
	FAULT_CHECK("rmdir", path);
	return unlinkat(fs.bfd, rel(path), AT_REMOVEDIR) == -1 ? -errno : 0;
}

static int
ffs_mkdir(const char *path, mode_t mode)
{
	FAULT_CHECK("mkdir", path);
	return mkdirat(fs.bfd, rel(path), mode) == -1 ? -errno : 0;
}

static int
ffs_rename(const char *from, const char *to, unsigned int flags)
{
	FAULT_CHECK("rename", from);
	if (renameat2(fs.bfd, rel(from), fs.bfd, rel(to), flags) == -1)
		return -errno;
	return 0;
}

static int
ffs_utimens(const char *path, const struct timespec ts[2],
    struct fuse_file_info *fi)
{
	int	rc;

	FAULT_CHECK("utimens", path);
	if (fi != NULL)
		rc = futimens((int)fi->fh, ts);
	else
		rc = utimensat(fs.bfd, rel(path), ts, AT_SYMLINK_NOFOLLOW);
	return rc == -1 ? -errno : 0;
}

static int
ffs_statfs(const char *path, struct statvfs *sv)
{
	FAULT_CHECK("statfs", path);
	return fstatvfs(fs.bfd, sv) == -1 ? -errno : 0;
}

static void *
ffs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->direct_io = 1;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->hard_remove = 1;
	return NULL;
}

static const struct fuse_operations ffs_ops = {
	.init		= ffs_init,
	.getattr	= ffs_getattr,
	.readdir	= ffs_readdir,
	.open		= ffs_open,
	.create		= ffs_create,
	.read		= ffs_read,
	.write		= ffs_write,
	.truncate	= ffs_truncate,
	.fsync		= ffs_fsync,
	.flush		= ffs_flush,
	.release	= ffs_release,
	.unlink		= ffs_unlink,
	.rmdir		= ffs_rmdir,
	.mkdir		= ffs_mkdir,
	.rename		= ffs_rename,
	.utimens	= ffs_utimens,
	.statfs		= ffs_statfs,
};

struct ffs_opts {
	char	*ctl;
};

static const struct fuse_opt ffs_optspec[] = {
	{ "ctl=%s", offsetof(struct ffs_opts, ctl), 0 },
	FUSE_OPT_END
};

/* The first argument that is no option is the backing directory. */
static int
ffs_optproc(void *data, const char *arg, int key, struct fuse_args *out)
{
	(void)data;
	(void)out;
	if (key == FUSE_OPT_KEY_NONOPT && fs.backing == NULL) {
		fs.backing = arg;
		return 0;
	}
	return 1;
}

int
main(int argc, char *argv[])
{
	struct fuse_args	args = FUSE_ARGS_INIT(argc, argv);
	struct ffs_opts		opts = { NULL };
	char			ctl[PATH_MAX];

	if (fuse_opt_parse(&args, &opts, ffs_optspec, ffs_optproc) == -1)
		return 2;
	if (fs.backing == NULL || opts.ctl == NULL) {
		fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT -o ctl=FILE "
		    "[-f] [FUSE options]\n");
		return 2;
	}
	/* fuse_main may chdir to /: keep absolute paths and a dirfd. */
	if (opts.ctl[0] == '/')
		fs.ctl = opts.ctl;
	else if (realpath(opts.ctl, ctl) != NULL)
		fs.ctl = ctl;
	else {
		perror(opts.ctl);
		return 2;
	}
	if ((fs.bfd = open(fs.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
	    == -1) {
		perror(fs.backing);
		return 2;
	}
	/* libfuse 3.14 warns about its own default idle thread count. */
	if (fuse_opt_add_arg(&args, "-ofsname=faultfs,subtype=faultfs") == -1 ||
	    fuse_opt_add_arg(&args, "-omax_idle_threads=10") == -1)
		return 2;
	umask(0);
	return fuse_main(args.argc, args.argv, &ffs_ops, NULL);
}
