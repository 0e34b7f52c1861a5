/*
 * faultfs: a FUSE passthrough filesystem that fails chosen operations on
 * demand, so the tests can give a replica the errors a network filesystem
 * gives (EIO, ESTALE, ENOTCONN, ENOSPC...) on real system calls.
 *
 *   faultfs BACKING MOUNTPOINT -o ctl=FILE [-o powercut=DIR] [-f] [...]
 *
 * Every operation on MOUNTPOINT is done on the same path under BACKING.
 * FILE (outside the mount) holds the faults, one per line, and is read
 * again whenever it changes (inode, size or mtime), which also resets the
 * call counts:
 *
 *   OP ERRNO [after N] [times M] [short] [path P] [pid P]
 *   OP pause ms N [after N] [times M] [path P] [pid P]
 *   OP hold [after N] [times M] [path P] [pid P]
 *
 * OP is getattr, readdir, open, create, read, write, truncate, fsync,
 * fdatasync, fsyncdir, flush, release, unlink, link, rename, mkdir, rmdir,
 * utimens or statfs; ERRNO a name (EIO, ESTALE, ENOSPC...) or a number.
 * The fault hits from the Nth matching call on (default 1), M times
 * (default: every time).  "short" makes a write's first hit store half of
 * its bytes and report that short count, the way a filling disk does; the
 * hits after it fail.  For read, ERRNO "stale" returns end of file instead
 * of an error: a view of the file older than its size.  "pause" does not
 * fail the call: it holds it N milliseconds first, the way a slow or
 * congested server does, so a test can freeze a writer inside its write.
 * "hold" holds the call until FILE changes, however long that takes, and
 * then does it: a test that must act while a process is inside a chosen
 * call (kill it after its write and before its sync returns) waits for
 * the "held (hold N, call C, pid P)" message, P the calling process, acts,
 * and rewrites FILE; "released (hold N)" follows.  "path P" limits a rule
 * to calls on P (as seen in the mount, "/bets.csv"), "pid P" to the calls
 * of process P (any of its threads), so one replica of several on the
 * mount can be aimed at; the first rule naming op and matching both
 * decides.  An empty FILE disarms.
 *
 * With -o powercut=DIR faultfs also keeps what a power cut would keep
 * (pcut_* below, for the files at the top of BACKING): for each file its
 * "durable image", the content at its last completed fsync or fdatasync,
 * in DIR (outside the mount, DIR empty or new), and the top directory's
 * entries as of its last fsync.  A control line
 *
 *   cut [tear] [seed N]
 *
 * acts once, when the file holding it is loaded (any operation on the
 * mount loads it; a test runs stat on the mount and then finds the
 * "faultfs: cut" line in the log): every file goes back to its durable
 * image and every entry made, renamed, linked or removed since the last
 * directory sync is undone, as if the power had gone.  With "tear" the
 * last unsynced write of each file that survives is kept up to a random
 * byte, as a disk that loses power mid-write does.  Run the cut only
 * while nothing writes to the mount (its processes killed and reaped).
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
	int		hold;		/* "hold": until the rules change */
	char		path[256];	/* only calls on it; "" for any */
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
	unsigned long	 gen;		/* loads so far: a hold's release */
	unsigned long	 nholds;	/* holds so far: each one's name */
	struct fault_rule rules[FAULT_RULES];
	size_t		 nrules;
} fs = { .bfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static void	pcut_line(char *);

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
		if (strcmp(tok[i], "path") == 0) {
			if (strlen(tok[i + 1]) >= sizeof(r->path))
				return -1;
			strcpy(r->path, tok[i + 1]);
			i++;
			continue;
		}
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
		if (strncmp(line, "cut", 3) == 0 &&
		    (line[3] == '\0' || strchr(" \t\r\n", line[3]) != NULL)) {
			pcut_line(line);
			continue;
		}
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
 * Hold a call (hold number id) until the control file is loaded again
 * (gen moves past held_gen).  Polled: a held call may be the only one, so
 * no other call would notice the change for it.
 */
static void
fault_hold(unsigned long held_gen, unsigned long id, const char *op,
    const char *path)
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
	fprintf(stderr, "faultfs: %s %s: released (hold %lu)\n", op, path,
	    id);
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
	unsigned long		 pause_ms = 0, held_gen = 0, hold_id = 0;
	pid_t			 caller = fuse_get_context()->pid;
	int			 res = 0, held = 0;

	pthread_mutex_lock(&fs.mu);
	fault_reload();
	for (size_t i = 0; i < fs.nrules && r == NULL; i++) {
		if (strcmp(fs.rules[i].op, op) != 0)
			continue;
		if (fs.rules[i].path[0] != '\0' &&
		    strcmp(fs.rules[i].path, path) != 0)
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
		hold_id = ++fs.nholds;
		fprintf(stderr, "faultfs: %s %s: held (hold %lu, call %lu, "
		    "pid %d)\n", op, path, hold_id, r->calls,
		    (int)fault_tgid(caller));
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
		fault_hold(held_gen, hold_id, op, path);
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

/* ---- power-cut mode: what a power cut keeps (see the opening comment) ---- */

#define PCUT_FILES	256	/* files tracked at once; tests make a few */

struct pcut_file {
	unsigned long	 serial;	/* names its image: DIR/SERIAL */
	ino_t		 ino;		/* 0: the inode is gone from BACKING */
	int		 imaged;	/* an image exists (synced once) */
	off_t		 dirty;		/* lowest offset changed since; -1 none */
	char		*last;		/* the last unsynced write, for a tear */
	size_t		 lastlen;
	off_t		 lastoff;
};

struct pcut_name {
	char		 name[NAME_MAX + 1];
	unsigned long	 serial;
};

static struct {
	int		 on;
	int		 dfd;		/* the image directory */
	pthread_mutex_t	 mu;		/* all below; held across each change */
	struct pcut_file files[PCUT_FILES];
	size_t		 nfiles;
	struct pcut_name names[PCUT_FILES];	/* the top as last synced */
	size_t		 nnames;
	unsigned long	 serial;	/* the last one given */
	unsigned long	 cuts;
} pc = { .dfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static void __attribute__((noreturn))
pcut_fatal(const char *what)
{
	/* A wrong model would pass tests it should fail: stop instead. */
	fprintf(stderr, "faultfs: powercut: %s: %s\n", what, strerror(errno));
	abort();
}

static struct pcut_file *
pcut_by_serial(unsigned long serial)
{
	for (size_t i = 0; i < pc.nfiles; i++)
		if (pc.files[i].serial == serial)
			return &pc.files[i];
	return NULL;
}

static int
pcut_named(unsigned long serial)
{
	for (size_t i = 0; i < pc.nnames; i++)
		if (pc.names[i].serial == serial)
			return 1;
	return 0;
}

static void
pcut_forget_last(struct pcut_file *f)
{
	free(f->last);
	f->last = NULL;
	f->lastlen = 0;
}

/* Drop the files nothing can bring back: gone, and no synced name. */
static void
pcut_compact(void)
{
	char	img[32];
	size_t	n = 0;

	for (size_t i = 0; i < pc.nfiles; i++) {
		struct pcut_file *f = &pc.files[i];

		if (f->ino == 0 && !pcut_named(f->serial)) {
			snprintf(img, sizeof(img), "%lu", f->serial);
			(void)unlinkat(pc.dfd, img, 0);
			pcut_forget_last(f);
			continue;
		}
		pc.files[n++] = *f;
	}
	pc.nfiles = n;
}

/* The file of inode ino, tracked from now on if it was not. */
static struct pcut_file *
pcut_get(ino_t ino)
{
	struct pcut_file	*f;

	for (size_t i = 0; i < pc.nfiles; i++)
		if (pc.files[i].ino == ino)
			return &pc.files[i];
	if (pc.nfiles == PCUT_FILES)
		pcut_compact();
	if (pc.nfiles == PCUT_FILES) {
		errno = ENFILE;
		pcut_fatal("too many files");
	}
	f = &pc.files[pc.nfiles++];
	memset(f, 0, sizeof(*f));
	f->serial = ++pc.serial;
	f->ino = ino;
	f->dirty = -1;		/* no image yet: a cut leaves it empty */
	return f;
}

static struct pcut_file *
pcut_get_fd(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		pcut_fatal("fstat");
	return pcut_get(st.st_ino);
}

/* Copy [off, end) of from into to at the same offsets. */
static int
pcut_copy(int from, int to, off_t off, off_t end)
{
	char	buf[65536];
	ssize_t	n;

	while (off < end) {
		size_t want = end - off < (off_t)sizeof(buf) ?
		    (size_t)(end - off) : sizeof(buf);

		if ((n = pread(from, buf, want, off)) == -1)
			return -1;
		if (n == 0)
			break;
		if (pwrite(to, buf, (size_t)n, off) != n)
			return -1;
		off += n;
	}
	return 0;
}

/* A write of len bytes at off through fd was done (pc.mu held). */
static void
pcut_wrote(int fd, const char *buf, size_t len, off_t off)
{
	struct pcut_file	*f = pcut_get_fd(fd);
	char			*copy;

	if (f->dirty == -1 || off < f->dirty)
		f->dirty = off;
	if ((copy = malloc(len ? len : 1)) == NULL)
		pcut_fatal("malloc");
	memcpy(copy, buf, len);
	pcut_forget_last(f);
	f->last = copy;
	f->lastlen = len;
	f->lastoff = off;
}

/* The file behind fd was cut to size (pc.mu held). */
static void
pcut_truncated(int fd, off_t size)
{
	struct pcut_file	*f = pcut_get_fd(fd);

	if (f->dirty == -1 || size < f->dirty)
		f->dirty = size;
	pcut_forget_last(f);
}

/*
 * fd was synced: its image becomes its content (pc.mu held).  0 or -1.
 * fd may be write-only: the content is read through a new descriptor.
 */
static int
pcut_synced(int fd)
{
	struct pcut_file	*f = pcut_get_fd(fd);
	struct stat		 st;
	char			 img[32], self[64];
	int			 rfd, ifd, rc = -1;

	if (f->dirty == -1 && f->imaged)
		return 0;
	snprintf(img, sizeof(img), "%lu", f->serial);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if ((rfd = open(self, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(rfd, &st) == -1 ||
	    (ifd = openat(pc.dfd, img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600))
	    == -1) {
		close(rfd);
		return -1;
	}
	if (pcut_copy(rfd, ifd, f->imaged ? f->dirty : 0, st.st_size) == 0 &&
	    ftruncate(ifd, st.st_size) == 0)
		rc = 0;
	close(ifd);
	close(rfd);
	if (rc == 0) {
		f->imaged = 1;
		f->dirty = -1;
		pcut_forget_last(f);
	}
	return rc;
}

/*
 * Call fn for every regular file at the top of BACKING with its name and
 * inode.  A name in the top directory is what a directory sync keeps.
 */
static void
pcut_list(void (*fn)(const char *, ino_t, void *), void *arg)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if ((fd = openat(fs.bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL)
		pcut_fatal("list");
	while ((de = readdir(d)) != NULL) {
		if (fstatat(fs.bfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			pcut_fatal(de->d_name);
		if (S_ISREG(st.st_mode))
			fn(de->d_name, st.st_ino, arg);
	}
	closedir(d);
}

static void
pcut_name_add(const char *name, ino_t ino, void *arg)
{
	struct pcut_name	*n;

	(void)arg;
	if (pc.nnames == PCUT_FILES || strlen(name) > NAME_MAX) {
		errno = ENFILE;
		pcut_fatal(name);
	}
	n = &pc.names[pc.nnames++];
	strcpy(n->name, name);
	n->serial = pcut_get(ino)->serial;
}

/* The top directory was synced: its entries now are what survives. */
static void
pcut_dir_synced(void)
{
	pc.nnames = 0;
	pcut_list(pcut_name_add, NULL);
}

/* Take one file as durable whole (the start, and after a cut). */
static void
pcut_take(const char *name, ino_t ino, void *arg)
{
	int	fd;

	(void)arg;
	if ((fd = openat(fs.bfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		pcut_fatal(name);
	(void)pcut_get(ino);
	if (pcut_synced(fd) == -1)
		pcut_fatal(name);
	close(fd);
}

/* Everything in BACKING now is durable (pc.mu held). */
static void
pcut_snapshot(void)
{
	for (size_t i = 0; i < pc.nfiles; i++) {
		pcut_forget_last(&pc.files[i]);
		pc.files[i].ino = 0;
	}
	pc.nnames = 0;
	pcut_compact();
	pcut_list(pcut_take, NULL);
	pcut_dir_synced();
}

/* What a cut did, for its log line. */
struct pcut_report {
	char	dropped[512];	/* names made since the last directory sync */
	char	reverted[512];	/* files with writes since their last sync */
};

static void
pcut_note(char *list, size_t cap, const char *name)
{
	size_t	len = strlen(list);

	snprintf(list + len, cap - len, "%s%s", len ? "," : "", name);
}

static void
pcut_remove(const char *name, ino_t ino, void *arg)
{
	struct pcut_report	*rep = arg;
	struct pcut_file	*f = pcut_get(ino);

	if (unlinkat(fs.bfd, name, 0) == -1)
		pcut_fatal(name);
	for (size_t i = 0; i < pc.nnames; i++)
		if (strcmp(pc.names[i].name, name) == 0) {
			if (f->dirty != -1 && pc.names[i].serial == f->serial)
				pcut_note(rep->reverted,
				    sizeof(rep->reverted), name);
			return;
		}
	pcut_note(rep->dropped, sizeof(rep->dropped), name);
}

/*
 * Bring back durable name i: a hard link when an earlier name is the
 * same file, else a new file holding its image and, with keep > 0, that
 * many bytes of its last unsynced write.  Returns the bytes kept so.
 */
static size_t
pcut_restore(size_t i, int tear, unsigned *seed)
{
	struct pcut_name	*n = &pc.names[i];
	struct pcut_file	*f = pcut_by_serial(n->serial);
	char			 img[32];
	size_t			 keep = 0;
	int			 fd, ifd;
	struct stat		 st;

	for (size_t j = 0; j < i; j++)
		if (pc.names[j].serial == n->serial) {
			if (linkat(fs.bfd, pc.names[j].name, fs.bfd, n->name,
			    0) == -1)
				pcut_fatal(n->name);
			return 0;
		}
	if ((fd = openat(fs.bfd, n->name, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0644)) == -1)
		pcut_fatal(n->name);
	if (f != NULL && f->imaged) {
		snprintf(img, sizeof(img), "%lu", f->serial);
		if ((ifd = openat(pc.dfd, img, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(ifd, &st) == -1 ||
		    pcut_copy(ifd, fd, 0, st.st_size) == -1)
			pcut_fatal(img);
		close(ifd);
	}
	if (tear && f != NULL && f->last != NULL) {
		keep = (size_t)rand_r(seed) % f->lastlen;
		if (pwrite(fd, f->last, keep, f->lastoff) != (ssize_t)keep)
			pcut_fatal(n->name);
	}
	close(fd);
	return keep;
}

/* The power goes: see the opening comment.  fs.mu held. */
static void
pcut_cut(int tear, unsigned seed)
{
	struct pcut_report	rep = { "", "" };
	size_t			torn = 0, kept = 0;

	pthread_mutex_lock(&pc.mu);
	pcut_list(pcut_remove, &rep);
	for (size_t i = 0; i < pc.nnames; i++) {
		size_t k = pcut_restore(i, tear, &seed);

		if (k > 0) {
			torn++;
			kept += k;
		}
	}
	pc.cuts++;
	fprintf(stderr, "faultfs: cut %lu: names kept: %zu | dropped: %s | "
	    "reverted: %s | torn: %zu (%zu bytes kept)\n", pc.cuts,
	    pc.nnames, rep.dropped, rep.reverted, torn, kept);
	pcut_snapshot();
	pthread_mutex_unlock(&pc.mu);
}

/* A "cut [tear] [seed N]" control line, run as it is loaded. */
static void
pcut_line(char *line)
{
	char		*tok, *save = NULL, *end;
	unsigned	 seed = (unsigned)time(NULL);
	int		 tear = 0;

	if (!pc.on) {
		fprintf(stderr, "faultfs: cut: not mounted with -o powercut\n");
		return;
	}
	(void)strtok_r(line, " \t\r\n", &save);
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if (strcmp(tok, "tear") == 0)
			tear = 1;
		else if (strcmp(tok, "seed") == 0 &&
		    (tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			seed = (unsigned)strtoul(tok, &end, 10);
			if (*end != '\0')
				goto bad;
		} else
			goto bad;
	}
	pcut_cut(tear, seed);
	return;
bad:
	fprintf(stderr, "faultfs: cut: bad line ignored\n");
}

/* Start the mode with image directory dir: 0, or -1 with errno. */
static int
pcut_start(const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((pc.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	pc.on = 1;
	pthread_mutex_lock(&pc.mu);
	pcut_snapshot();
	pthread_mutex_unlock(&pc.mu);
	return 0;
}

/* Around a change: the mode's mutex, so a cut sees it whole. */
static void
pcut_enter(void)
{
	if (pc.on)
		pthread_mutex_lock(&pc.mu);
}

static void
pcut_leave(void)
{
	if (pc.on)
		pthread_mutex_unlock(&pc.mu);
}

/*
 * A create is about to make path: an inode number it may reuse from a
 * file gone since names a new file, not the old one (pc.mu held).
 */
static void
pcut_created(const char *path, int existed, int fd)
{
	struct stat	st;

	if (!pc.on || existed)
		return;
	if (fstat(fd, &st) == -1)
		pcut_fatal(path);
	for (size_t i = 0; i < pc.nfiles; i++)
		if (pc.files[i].ino == st.st_ino)
			pc.files[i].ino = 0;
	(void)pcut_get(st.st_ino);
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
	pcut_enter();
	if ((fd = openat(fs.bfd, rel(path), fi->flags | O_CLOEXEC)) == -1) {
		fd = -errno;
		pcut_leave();
		return fd;
	}
	if (pc.on && (fi->flags & O_TRUNC))
		pcut_truncated(fd, 0);
	pcut_leave();
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int
ffs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct stat	st;
	int		fd, existed;

	FAULT_CHECK("create", path);
	pcut_enter();
	existed = fstatat(fs.bfd, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0;
	if ((fd = openat(fs.bfd, rel(path), fi->flags | O_CREAT | O_CLOEXEC,
	    mode)) == -1) {
		fd = -errno;
		pcut_leave();
		return fd;
	}
	pcut_created(path, existed, fd);
	if (pc.on && existed && (fi->flags & O_TRUNC))
		pcut_truncated(fd, 0);
	pcut_leave();
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
	pcut_enter();
	n = pwrite((int)fi->fh, buf, len, off);
	if (n == -1)
		n = -errno;
	else if (pc.on)
		pcut_wrote((int)fi->fh, buf, (size_t)n, off);
	pcut_leave();
	return (int)n;
}

static int
ffs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int	fd, rc, e;

	FAULT_CHECK("truncate", path);
	pcut_enter();
	if (fi != NULL)
		fd = (int)fi->fh;
	else if ((fd = openat(fs.bfd, rel(path), O_WRONLY | O_CLOEXEC)) ==
	    -1) {
		e = errno;
		pcut_leave();
		return -e;
	}
	rc = ftruncate(fd, size);
	e = errno;
	if (rc == 0 && pc.on)
		pcut_truncated(fd, size);
	if (fi == NULL)
		close(fd);
	pcut_leave();
	return rc == -1 ? -e : 0;
}

static int
ffs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int	rc = 0;

	FAULT_CHECK(datasync ? "fdatasync" : "fsync", path);
	pcut_enter();
	if ((datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) == -1)
		rc = -errno;
	else if (pc.on && pcut_synced((int)fi->fh) == -1)
		rc = -EIO;
	pcut_leave();
	return rc;
}

/*
 * Directories have no descriptor here (no opendir): sync the backing
 * one by path.  In power-cut mode a sync of the top directory is what
 * keeps its entries.
 */
static int
ffs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	int	fd, rc = 0;

	(void)fi;
	FAULT_CHECK("fsyncdir", path);
	if ((fd = openat(fs.bfd, rel(path), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -errno;
	pcut_enter();
	if ((datasync ? fdatasync(fd) : fsync(fd)) == -1)
		rc = -errno;
	else if (pc.on && strcmp(rel(path), ".") == 0)
		pcut_dir_synced();
	pcut_leave();
	close(fd);
	return rc;
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
	int	rc;

	FAULT_CHECK("unlink", path);
	pcut_enter();
	rc = unlinkat(fs.bfd, rel(path), 0) == -1 ? -errno : 0;
	pcut_leave();
	return rc;
}

static int
ffs_link(const char *from, const char *to)
{
	int	rc;

	FAULT_CHECK("link", from);
	pcut_enter();
	rc = linkat(fs.bfd, rel(from), fs.bfd, rel(to), 0) == -1 ? -errno : 0;
	pcut_leave();
	return rc;
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
	int	rc = 0;

	FAULT_CHECK("rename", from);
	pcut_enter();
	if (renameat2(fs.bfd, rel(from), fs.bfd, rel(to), flags) == -1)
		rc = -errno;
	pcut_leave();
	return rc;
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
	.fsyncdir	= ffs_fsyncdir,
	.link		= ffs_link,
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
	char	*powercut;	/* the image directory */
};

static const struct fuse_opt ffs_optspec[] = {
	{ "ctl=%s", offsetof(struct ffs_opts, ctl), 0 },
	{ "powercut=%s", offsetof(struct ffs_opts, powercut), 0 },
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
	struct ffs_opts		opts = { NULL, NULL };
	char			ctl[PATH_MAX];

	if (fuse_opt_parse(&args, &opts, ffs_optspec, ffs_optproc) == -1)
		return 2;
	if (fs.backing == NULL || opts.ctl == NULL) {
		fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT -o ctl=FILE "
		    "[-o powercut=DIR] [-f] [FUSE options]\n");
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
	if (opts.powercut != NULL && pcut_start(opts.powercut) == -1) {
		perror(opts.powercut);
		return 2;
	}
	/* libfuse 3.14 warns about its own default idle thread count. */
	if (fuse_opt_add_arg(&args, "-ofsname=faultfs,subtype=faultfs") == -1 ||
	    fuse_opt_add_arg(&args, "-omax_idle_threads=10") == -1)
		return 2;
	umask(0);
	return fuse_main(args.argc, args.argv, &ffs_ops, NULL);
}
