/*
 * store: bets.csv and agencies_closed.txt, shared by every replica.
 *
 * Every operation runs under the store mutex (threads of this replica) and
 * an OFD lock on the file it touches (other replicas).  OFD locks belong to
 * the open file description, so closing some other descriptor of the file
 * never drops them, which classic POSIX record locks would.  Each file is
 * only ever appended to, by one write per request, and synced before the
 * request is answered.  A replica killed mid-write leaves at most one
 * incomplete last line; the next writer cuts it off under the lock, and
 * readers never index past the last '\n'.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "store.h"

/* One append-only file and what this replica has indexed of it. */
struct sfile {
	int		 fd;
	const char	*name;
	uint64_t	 scanned;	/* bytes indexed: always a line boundary */
};

struct store {
	pthread_mutex_t	 mu;
	uint32_t	 agencies;
	struct sfile	 bets;
	struct sfile	 closed;
	uint64_t	*stored;	/* [agencies + 1]: rows per agency */
	uint8_t		*is_closed;	/* [agencies + 1] */
	uint32_t	 nclosed;
	char		*rows;		/* one batch formatted as CSV */
	size_t		 rowscap;
	struct csv_reader reader;	/* scratch for scans */
};

/* Called for each whole line of a scan; arg is the caller's. */
typedef void	(*line_fn)(struct store *, void *arg, char *line);

static int
store_lock(struct sfile *f, short type)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(f->fd, F_OFD_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			log_error_errno("lock", "fail", "file: %s", f->name);
			return -1;
		}
	}
	return 0;
}

static void
store_unlock(struct sfile *f)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(f->fd, F_OFD_SETLK, &fl) == -1)
		log_error_errno("unlock", "fail", "file: %s", f->name);
}

/* The agency a line starts with, or 0 when it is not one of ours. */
static uint32_t
line_agency(const struct store *s, const char *line)
{
	uint64_t	a = 0;

	for (; *line >= '0' && *line <= '9'; line++) {
		a = a * 10 + (uint64_t)(*line - '0');
		if (a > s->agencies)
			return 0;
	}
	return *line == ',' || *line == '\0' ? (uint32_t)a : 0;
}

static void
index_bet(struct store *s, void *arg, char *line)
{
	uint32_t	a;

	(void)arg;
	if ((a = line_agency(s, line)) != 0)
		s->stored[a]++;
}

static void
index_close(struct store *s, void *arg, char *line)
{
	uint32_t	a;

	(void)arg;
	if ((a = line_agency(s, line)) != 0 && !s->is_closed[a]) {
		s->is_closed[a] = 1;
		s->nclosed++;
	}
}

/*
 * Read f from byte from to its last '\n', calling fn per whole line.
 * Returns the offset just past the last whole line, or -1.
 */
static int64_t
store_each_line(struct store *s, struct sfile *f, uint64_t from, line_fn fn,
    void *arg)
{
	struct csv_reader	*r = &s->reader;
	uint64_t		 end = from;
	char			*line;
	size_t			 len;
	int			 rc;

	if (lseek(f->fd, (off_t)from, SEEK_SET) == -1) {
		log_error_errno("scan", "fail", "file: %s", f->name);
		return -1;
	}
	csv_reader_init(r, f->fd, from);
	while ((rc = csv_reader_next(r, &line, &len)) == 1) {
		if (r->partial)
			break;
		fn(s, arg, line);
		end = r->offset;
	}
	if (rc == -1) {
		log_error_errno("scan", "fail", "file: %s", f->name);
		return -1;
	}
	return (int64_t)end;
}

/*
 * Bring the index of f up to date (lock held).  A file shorter than what
 * was indexed was reset by hand: start over.  Returns the file size, or -1.
 */
static int64_t
store_scan(struct store *s, struct sfile *f, line_fn fn)
{
	struct stat	st;
	int64_t		end;

	if (fstat(f->fd, &st) == -1) {
		log_error_errno("scan", "fail", "file: %s", f->name);
		return -1;
	}
	if ((uint64_t)st.st_size < f->scanned) {
		f->scanned = 0;
		if (f == &s->bets)
			memset(s->stored, 0, (s->agencies + 1) * sizeof(*s->stored));
		else {
			memset(s->is_closed, 0, s->agencies + 1);
			s->nclosed = 0;
		}
	}
	if ((uint64_t)st.st_size == f->scanned)
		return st.st_size;
	if ((end = store_each_line(s, f, f->scanned, fn, NULL)) == -1)
		return -1;
	f->scanned = (uint64_t)end;
	return st.st_size;
}

/*
 * Append buf to f at its end (write lock held, index current).  A torn
 * tail left by a killed writer is cut first; a failed write is cut back so
 * no partial line stays.  0, or -1 with nothing added.
 */
static int
store_write(struct sfile *f, uint64_t size, const char *buf, size_t len)
{
	if (size > f->scanned) {
		if (ftruncate(f->fd, (off_t)f->scanned) == -1) {
			log_error_errno("recover_tail", "fail", "file: %s",
			    f->name);
			return -1;
		}
		log_warn("recover_tail", "success", "file: %s | bytes: %llu",
		    f->name, (unsigned long long)(size - f->scanned));
	}
	if (lseek(f->fd, (off_t)f->scanned, SEEK_SET) == -1 ||
	    io_write_full(f->fd, buf, len) == -1 || fdatasync(f->fd) == -1) {
		log_error_errno("write", "fail", "file: %s | bytes: %zu",
		    f->name, len);
		if (ftruncate(f->fd, (off_t)f->scanned) == -1)
			log_error_errno("rollback", "fail", "file: %s", f->name);
		return -1;
	}
	f->scanned += len;
	return 0;
}

/* Rows of bets[0..n) into s->rows; returns their length, 0 if too long. */
static size_t
store_format(struct store *s, const struct bet *bets, size_t n)
{
	size_t	len = 0, l;

	for (size_t i = 0; i < n; i++) {
		if ((l = csv_format_bet(&bets[i], s->rows + len,
		    s->rowscap - len)) == 0)
			return 0;
		len += l;
	}
	return len;
}

/* Is agency closed?  Takes the closed file's read lock briefly. */
static int
store_check_closed(struct store *s, uint32_t agency, int *closed)
{
	int	rc = 0;

	if (store_lock(&s->closed, F_RDLCK) == -1)
		return -1;
	if (store_scan(s, &s->closed, index_close) == -1)
		rc = -1;
	store_unlock(&s->closed);
	*closed = s->is_closed[agency];
	return rc;
}

enum store_result
store_append(struct store *s, uint32_t agency, const struct bet *bets,
    size_t n, uint64_t pos, size_t *written)
{
	enum store_result	 res = STORE_ERR;
	uint64_t		 have;
	size_t			 skip = 0, len;
	int64_t			 size;
	int			 closed;

	*written = 0;
	if (agency == 0 || agency > s->agencies || n == 0)
		return STORE_ERR;
	pthread_mutex_lock(&s->mu);
	if (store_lock(&s->bets, F_WRLCK) == -1)
		goto out;
	/* Under the bets lock, so a close cannot slip in before the write. */
	if (store_check_closed(s, agency, &closed) == -1 ||
	    (size = store_scan(s, &s->bets, index_bet)) == -1)
		goto unlock;
	if (closed) {
		res = STORE_CLOSED;
		goto unlock;
	}
	have = s->stored[agency];
	if (pos != STORE_NO_POS) {
		if (pos > have) {
			res = STORE_GAP;
			goto unlock;
		}
		if (have - pos >= n) {
			res = STORE_DUPLICATE;
			goto unlock;
		}
		skip = (size_t)(have - pos);
	}
	if ((len = store_format(s, bets + skip, n - skip)) == 0 ||
	    store_write(&s->bets, (uint64_t)size, s->rows, len) == -1)
		goto unlock;
	s->stored[agency] += n - skip;
	*written = n - skip;
	res = STORE_OK;
unlock:
	store_unlock(&s->bets);
out:
	pthread_mutex_unlock(&s->mu);
	return res;
}

int
store_close_agency(struct store *s, uint32_t agency, int *draw)
{
	char	line[16];
	int	len, rc = -1;
	int64_t	size;

	*draw = 0;
	if (agency == 0 || agency > s->agencies)
		return -1;
	pthread_mutex_lock(&s->mu);
	if (store_lock(&s->closed, F_WRLCK) == -1)
		goto out;
	if ((size = store_scan(s, &s->closed, index_close)) == -1)
		goto unlock;
	if (s->is_closed[agency]) {
		rc = 0;
		goto unlock;
	}
	len = snprintf(line, sizeof(line), "%u\n", agency);
	if (store_write(&s->closed, (uint64_t)size, line, (size_t)len) == -1)
		goto unlock;
	s->is_closed[agency] = 1;
	s->nclosed++;
	*draw = s->nclosed == s->agencies;
	rc = 0;
unlock:
	store_unlock(&s->closed);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_status(struct store *s, uint32_t agency, uint64_t *stored, int *closed)
{
	int	rc = -1;

	if (agency == 0 || agency > s->agencies)
		return -1;
	pthread_mutex_lock(&s->mu);
	if (store_check_closed(s, agency, closed) == -1)
		goto out;
	if (store_lock(&s->bets, F_RDLCK) == -1)
		goto out;
	if (store_scan(s, &s->bets, index_bet) != -1) {
		*stored = s->stored[agency];
		rc = 0;
	}
	store_unlock(&s->bets);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Where store_winners collects one agency's winning documents. */
struct winners {
	uint32_t	 agency;
	uint64_t	 start;		/* winners to pass over first */
	char		*out;
	size_t		 cap, len, count;
	uint64_t	 total;		/* every winner of the agency */
	int		 full;		/* out took its last document */
};

static void
collect_winner(struct store *s, void *arg, char *line)
{
	struct winners	*w = arg;
	char		*f[6];
	size_t		 dl;

	if (line_agency(s, line) != w->agency ||
	    csv_split(line, f, 6) != 6 || strcmp(f[5], "7574") != 0)
		return;
	if (w->total++ < w->start || w->full)
		return;
	dl = strlen(f[3]);
	if (w->len + dl + (w->count > 0) + 1 > w->cap) {
		w->full = 1;
		return;
	}
	if (w->count > 0)
		w->out[w->len++] = ';';
	memcpy(w->out + w->len, f[3], dl);
	w->len += dl;
	w->out[w->len] = '\0';
	w->count++;
}

int
store_winners(struct store *s, uint32_t agency, uint64_t start, char *out,
    size_t cap, size_t *len, size_t *count, uint64_t *total)
{
	struct winners	w = { agency, start, out, cap, 0, 0, 0, 0 };
	int		closed, rc = -1;

	if (agency == 0 || agency > s->agencies || cap == 0)
		return -1;
	out[0] = '\0';
	pthread_mutex_lock(&s->mu);
	if (store_check_closed(s, agency, &closed) == -1)
		goto out;
	if (s->nclosed < s->agencies) {
		rc = 0;
		goto out;
	}
	if (store_lock(&s->bets, F_RDLCK) == -1)
		goto out;
	if (store_each_line(s, &s->bets, 0, collect_winner, &w) != -1)
		rc = 1;
	store_unlock(&s->bets);
out:
	pthread_mutex_unlock(&s->mu);
	*len = w.len;
	*count = w.count;
	*total = w.total;
	return rc;
}

static int
sfile_open(struct sfile *f, int dirfd, const char *name, char *err,
    size_t errlen)
{
	f->name = name;
	f->scanned = 0;
	f->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

struct store *
store_open(const char *dir, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store	*s;
	uint32_t	 agencies = o->agencies;
	int		 dirfd;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	s->bets.fd = s->closed.fd = -1;
	s->agencies = agencies;
	s->rowscap = (size_t)PROTO_BATCH_MAX * CSV_ROW_MAX;
	s->stored = calloc(agencies + 1, sizeof(*s->stored));
	s->is_closed = calloc(agencies + 1, 1);
	s->rows = malloc(s->rowscap);
	if (s->stored == NULL || s->is_closed == NULL || s->rows == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (sfile_open(&s->bets, dirfd, "bets.csv", err, errlen) == -1 ||
	    sfile_open(&s->closed, dirfd, "agencies_closed.txt", err,
	    errlen) == -1) {
		close(dirfd);
		goto fail;
	}
	/* The files' names must survive a crash as well as their rows. */
	if (fsync(dirfd) == -1)
		log_warn_errno("sync_dir", "fail", "dir: %s", dir);
	close(dirfd);
	pthread_mutex_init(&s->mu, NULL);
	return s;
fail:
	store_close(s);
	return NULL;
}

static void
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

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sfile_close(&s->bets);
	sfile_close(&s->closed);
	free(s->stored);
	free(s->is_closed);
	free(s->rows);
	free(s);
}
