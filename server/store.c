/*
 * store: bets.csv and agencies_closed.txt, shared by every replica, and
 * this replica's index of them (bets per agency, which agencies closed).
 *
 * Every operation takes, in this one order, the store mutex (this
 * replica's threads), the bets.csv lock, then the agencies_closed.txt
 * lock, each by the same deadline, and holds all three to its end.  A
 * store holds bets.csv for writing and the closed file for reading; a
 * close holds bets.csv for reading and the closed file for writing; so a
 * store and a close of any replicas exclude each other, and no bet can be
 * accepted after the close that it would follow.  Status and winners read
 * both.  The rules for one shared file (reopen, rewrite, torn tails, I/O
 * errors) live in sfile.c.  The draw's log line is written once for the
 * cluster: whoever writes it does so under the closed file's write lock
 * and then creates draw.logged beside the files, and a replica that sees
 * every agency closed without that marker (the closer died before its
 * line) writes it instead.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "io.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "sfile.h"
#include "sig.h"
#include "store.h"
#include "tmutex.h"
#include "wins.h"

/*
 * How often a draw watcher looks at agencies_closed.txt: inotify tells
 * of a close written on this host at once, so with it the tick only
 * stands in for closes written through another host's mount of a shared
 * filesystem, which no local event reports.
 */
#define STORE_TICK_MS		1	/* without inotify */
#define STORE_TICK_NOTIFY_MS	10	/* with it */
#define STORE_NOTIFY_MASK	(IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | \
				    IN_MOVE_SELF)
#define STORE_DRAW_MARK		"draw.logged"	/* the draw was logged */

struct store {
	struct tmutex		 mu;		/* the index; a deadline wait */
	pthread_mutex_t		 qmu;		/* the queue below */
	struct store_req	*qhead, *qtail;	/* batches waiting */
	int			 leading;	/* a thread writes a group */
	uint32_t		 agencies;
	int			 lock_timeout_ms;
	volatile sig_atomic_t	*stop;
	struct sfile		 bets;
	struct sfile		 closed;
	uint64_t		*stored;	/* [agencies + 1]: rows per agency */
	uint8_t			*is_closed;	/* [agencies + 1] */
	uint32_t		 nclosed;
	struct wins		 wins;		/* each agency's winners */
	size_t			 batch_max;
	/* The draw, and what tells of it. */
	int			 drawn;		/* atomic: read off the store
						   thread */
	int			 logged;	/* atomic: draw.logged seen */
	pthread_mutex_t		 dmu;		/* one draw check at a time */
	int			 ino;		/* inotify on the closed file,
						   or -1: the loop's */
	off_t			 seen;		/* closed file's size at the
						   last draw check */
	char			 closed_path[4096];
	char			 dir[4096];
	char			 mark_path[4096];
	/* The leader's pieces of a group: off the stacks of the threads. */
	struct iovec		 iov[SFILE_IOV_MAX];
};

/* A thread waiting in store_commit: the leader wakes it. */
struct store_waiter {
	pthread_cond_t		 cv;
};

/*
 * The agency a line starts with (its digits up to the first comma or the
 * end), or 0 when it is not one of ours.  Read digit by digit: every
 * replica does this for every row any replica writes.
 */
static uint32_t
line_agency(const struct store *s, const char *line)
{
	uint64_t	a = 0;
	size_t		i;
	int		big = 0;

	for (i = 0; line[i] >= '0' && line[i] <= '9'; i++)
		if (!big && (a = a * 10 + (uint64_t)(line[i] - '0')) >
		    s->agencies)
			big = 1;
	if (i == 0 || (line[i] != ',' && line[i] != '\0') || big || a == 0)
		return 0;
	return (uint32_t)a;
}

/* Out of memory for the winners: their answers would be wrong. */
static void __attribute__((noreturn))
store_fatal_wins(void)
{
	log_event_errno(LOG_LVL_CRITICAL, "index", "fail", "motivo: winners "
	    "index out of memory");
	_exit(1);
}

static void
index_bet(void *arg, char *line, size_t len)
{
	struct store	*s = arg;
	uint32_t	 a;

	if ((a = line_agency(s, line)) == 0)
		return;
	s->stored[a]++;
	if (wins_line(&s->wins, a, line, len) == -1)
		store_fatal_wins();
}

static void
index_close(void *arg, char *line, size_t len)
{
	struct store	*s = arg;
	uint32_t	 a;

	(void)len;	/* a close line is just the agency */
	if ((a = line_agency(s, line)) != 0 && !s->is_closed[a]) {
		s->is_closed[a] = 1;
		s->nclosed++;
	}
}

static void
store_forget_bets(struct store *s)
{
	memset(s->stored, 0, (s->agencies + 1) * sizeof(*s->stored));
	wins_clear(&s->wins);
}

static void
store_forget_closed(struct store *s)
{
	memset(s->is_closed, 0, s->agencies + 1);
	s->nclosed = 0;
	__atomic_store_n(&s->drawn, 0, __ATOMIC_RELEASE);
	metrics_drawn_set(0, 0);
	__atomic_store_n(&s->logged, 0, __ATOMIC_RELEASE);
}

/*
 * Under the mutex, after indexing: publish the draw (the loop reads it
 * through store_drawn when the store thread's work comes back).  The
 * close lines read may be another replica's that died before its sync:
 * synced here first, or a power cut could take back a draw already
 * served.
 */
static void
store_note_draw(struct store *s)
{
	metrics_closed_set(s->nclosed);
	if (s->nclosed != s->agencies ||
	    __atomic_load_n(&s->drawn, __ATOMIC_ACQUIRE))
		return;
	sfile_sync(&s->closed);
	__atomic_store_n(&s->drawn, 1, __ATOMIC_RELEASE);
	metrics_drawn_set(1, (uint64_t)time(NULL));
}

/*
 * Take the mutex and both file locks (bets_type on bets.csv, closed_type
 * on agencies_closed.txt) by one deadline, and bring both indexes up to
 * date.  Returns 0, or -1 (logged) when the deadline passed or a stop was
 * asked: then nothing is held.
 */
static int
store_enter(struct store *s, short bets_type, short closed_type)
{
	long long	deadline = io_now_ms() + s->lock_timeout_ms;
	int		rc;

	if (tmutex_lock_until(&s->mu, deadline) == -1)
		goto busy;
	if ((rc = sfile_lock(&s->bets, bets_type, deadline, s->stop)) == -1)
		goto unlock_mu;
	if (rc == 1)
		store_forget_bets(s);
	if ((rc = sfile_lock(&s->closed, closed_type, deadline, s->stop)) ==
	    -1) {
		sfile_unlock(&s->bets);
		goto unlock_mu;
	}
	if (rc == 1)
		store_forget_closed(s);
	sfile_scan(&s->bets, index_bet, s);
	sfile_scan(&s->closed, index_close, s);
	store_note_draw(s);
	return 0;
unlock_mu:
	tmutex_unlock(&s->mu);
busy:
	metrics_lock_timeout();
	log_warn("lock", "fail", "motivo: %s | timeout_ms: %d",
	    sig_stopped(s->stop) ? "stopping" : "lock wait timed out",
	    s->lock_timeout_ms);
	return -1;
}

static void
store_leave(struct store *s)
{
	sfile_unlock(&s->closed);
	sfile_unlock(&s->bets);
	tmutex_unlock(&s->mu);
}

/* Under the locks: what a batch at pos of n bets must do. */
static enum store_result
store_plan(struct store *s, uint32_t agency, size_t n, uint64_t pos,
    size_t *skip)
{
	uint64_t	have = s->stored[agency];

	*skip = 0;
	if (s->is_closed[agency])
		return STORE_CLOSED;
	if (pos == STORE_NO_POS)
		return STORE_OK;
	if (pos > have)
		return STORE_GAP;
	if (have - pos >= n)
		return STORE_DUPLICATE;
	*skip = (size_t)(have - pos);
	return STORE_OK;
}

/*
 * Under the locks: plan r against the index and, when it has rows to
 * write, add them to iov (the index counts them at once, so a later batch
 * of the same agency in the group sees them).  Returns 1 when r needs a
 * sync without writing (every row was there already).
 */
static int
store_plan_req(struct store *s, struct store_req *r, struct iovec *iov,
    int *niov)
{
	size_t	skip, off;

	r->written = 0;
	if (r->agency == 0 || r->agency > s->agencies || r->n == 0) {
		r->res = STORE_ERR;
		return 0;
	}
	r->res = store_plan(s, r->agency, r->n, r->pos, &skip);
	if (r->res == STORE_DUPLICATE)
		return 1;	/* its writer may have died before its sync */
	if (r->res != STORE_OK)
		return 0;
	off = skip == 0 ? 0 : r->ends[skip - 1];
	iov[*niov].iov_base = (void *)(r->rows + off);
	iov[*niov].iov_len = r->ends[r->n - 1] - off;
	(*niov)++;
	r->written = r->n - skip;
	s->stored[r->agency] += r->written;
	return 0;
}

/* The append failed: nothing of the group is in the file. */
static void
store_unplan(struct store *s, struct store_req *group)
{
	for (struct store_req *r = group; r != NULL; r = r->next)
		if (r->res == STORE_OK) {
			s->stored[r->agency] -= r->written;
			r->written = 0;
			r->res = STORE_ERR;
		}
}

/* The group is in the file: its winners go into the index. */
static void
store_wins_group(struct store *s, struct store_req *group)
{
	for (struct store_req *r = group; r != NULL; r = r->next) {
		size_t	i = r->n - r->written;
		size_t	o = i == 0 ? 0 : r->ends[i - 1];

		for (; r->res == STORE_OK && i < r->n; o = r->ends[i++])
			if (wins_row(&s->wins, r->agency, r->rows + o,
			    r->ends[i] - o) == -1)
				store_fatal_wins();
	}
}

/* Up to SFILE_IOV_MAX queued requests, off the queue, as a list. */
static struct store_req *
store_take(struct store *s)
{
	struct store_req	*group, *r;
	int			 n = 1;

	pthread_mutex_lock(&s->qmu);
	group = r = s->qhead;
	while (r->next != NULL && n < SFILE_IOV_MAX) {
		r = r->next;
		n++;
	}
	s->qhead = r->next;
	if (s->qhead == NULL)
		s->qtail = NULL;
	r->next = NULL;
	pthread_mutex_unlock(&s->qmu);
	return group;
}

/*
 * Count a group's outcome in the metrics before its waiters are woken, so
 * an agency that has its answer finds its bets counted.
 */
static void
store_count(struct store_req *group)
{
	static const enum metrics_batch	 as[] = {
		[STORE_OK] = METRICS_BATCH_OK,
		[STORE_DUPLICATE] = METRICS_BATCH_DUPLICATE,
		[STORE_CLOSED] = METRICS_BATCH_CLOSED,
		[STORE_GAP] = METRICS_BATCH_GAP,
		[STORE_BUSY] = METRICS_BATCH_BUSY,
		[STORE_ERR] = METRICS_BATCH_ERROR
	};
	uint64_t			 n = 0;

	for (struct store_req *r = group; r != NULL; r = r->next, n++) {
		metrics_batch(as[r->res]);
		if (r->res == STORE_OK)
			metrics_bets_stored(r->agency, r->written);
		else if (r->res != STORE_DUPLICATE)
			metrics_bets_refused(r->agency, r->n);
	}
	metrics_group(n);
}

/*
 * Write one group: every request queued now, one lock acquisition, one
 * pwritev.  The file locks go before the sync, so other replicas append
 * while this one syncs; the replica mutex stays held through the sync so
 * nothing here reopens the file under it.  Then the group's results are
 * published and their waiters woken.
 */
static void
store_lead(struct store *s)
{
	struct iovec		*iov = s->iov;	/* one leader at a time */
	struct store_req	*group = store_take(s), *r;
	void			*woken = NULL;
	int			 niov = 0, sync = 0;

	if (store_enter(s, F_WRLCK, F_RDLCK) == -1) {
		for (r = group; r != NULL; r = r->next) {
			r->res = STORE_BUSY;
			r->written = 0;
		}
		goto publish;
	}
	for (r = group; r != NULL; r = r->next)
		sync |= store_plan_req(s, r, iov, &niov);
	if (niov > 0) {
		if (sfile_appendv(&s->bets, iov, niov) == -1)
			store_unplan(s, group);
		else {
			store_wins_group(s, group);
			sync = 1;
		}
	}
	sfile_unlock(&s->closed);
	sfile_unlock(&s->bets);
	/* Our fd, after our write or another replica's: same file. */
	if (sync)
		sfile_sync_indexed(&s->bets);
	tmutex_unlock(&s->mu);
publish:
	store_count(group);
	pthread_mutex_lock(&s->qmu);
	for (r = group; r != NULL; r = r->next) {
		r->done = 1;
		if (r->waiter != woken)
			pthread_cond_signal(&((struct store_waiter *)
			    r->waiter)->cv);
		woken = r->waiter;
	}
	pthread_mutex_unlock(&s->qmu);
}

void
store_commit_all(struct store *s, struct store_req *const *lists,
    const size_t *ns, size_t k)
{
	struct store_waiter	 w;
	struct store_req	*last = NULL;

	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&s->qmu);
	for (size_t j = 0; j < k; j++)
		for (size_t i = 0; i < ns[j]; i++) {
			struct store_req *r = &lists[j][i];

			r->done = 0;
			r->waiter = &w;
			r->next = NULL;
			if (s->qtail != NULL)
				s->qtail->next = r;
			else
				s->qhead = r;
			s->qtail = r;
			last = r;
		}
	/* Groups are taken and published in queue order: the last is last. */
	while (last != NULL && !last->done) {
		if (s->leading) {
			pthread_cond_wait(&w.cv, &s->qmu);
			continue;
		}
		s->leading = 1;
		pthread_mutex_unlock(&s->qmu);
		store_lead(s);
		pthread_mutex_lock(&s->qmu);
		s->leading = 0;
		/* Hand the lead to the oldest waiter still queued. */
		if (s->qhead != NULL)
			pthread_cond_signal(&((struct store_waiter *)
			    s->qhead->waiter)->cv);
	}
	pthread_mutex_unlock(&s->qmu);
	pthread_cond_destroy(&w.cv);
}

void
store_commit(struct store *s, struct store_req *reqs, size_t n)
{
	store_commit_all(s, &reqs, &n, 1);
}

enum store_result
store_append(struct store *s, uint32_t agency, const struct bet *bets,
    size_t n, uint64_t pos, size_t *written)
{
	struct store_req	 r = { .agency = agency, .pos = pos, .n = n };
	uint32_t		*ends = NULL;
	char			*rows = NULL;
	size_t			 len = 0, l;

	*written = 0;
	if (n == 0 || n > s->batch_max)
		return STORE_ERR;
	if ((rows = malloc(n * CSV_ROW_MAX)) == NULL ||
	    (ends = malloc(n * sizeof(*ends))) == NULL) {
		r.res = STORE_ERR;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((l = csv_format_bet(&bets[i], rows + len,
		    n * CSV_ROW_MAX - len)) == 0) {
			r.res = STORE_ERR;
			goto out;
		}
		len += l;
		ends[i] = (uint32_t)len;
	}
	r.rows = rows;
	r.ends = ends;
	store_commit(s, &r, 1);
	*written = r.written;
out:
	free(rows);
	free(ends);
	return r.res;
}

/*
 * Under the closed file's write lock, before the close that closes the
 * last agency is written: a draw.logged left by an earlier lottery (the
 * files were emptied since) must be gone before every agency shows as
 * closed, or it would silence this draw.  0, or -1 (logged).
 */
static int
store_draw_unmark(struct store *s)
{
	if (unlink(s->mark_path) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn_errno("draw_mark", "fail", "path: %s", s->mark_path);
		return -1;
	}
	if (meta_sync_dir(s->dir) == -1) {
		log_warn_errno("sync_dir", "fail", "dir: %s", s->dir);
		return -1;
	}
	return 0;
}

/*
 * Under the closed file's write lock, every agency closed: log the draw
 * unless draw.logged says a replica did.  The line goes out before the
 * marker: a replica killed between them leaves no marker, and the next
 * one to look logs the draw (a kill in the few instructions between the
 * line's write and the marker's create would give a second line; a kill
 * anywhere before the line gives none, and the draw is still logged).
 */
static void
store_draw_log(struct store *s)
{
	int	fd;

	if (access(s->mark_path, F_OK) == 0) {
		__atomic_store_n(&s->logged, 1, __ATOMIC_RELEASE);
		return;
	}
	if (errno != ENOENT) {
		/* Unknown: look again on a later request. */
		log_warn_errno("draw_mark", "fail", "path: %s", s->mark_path);
		return;
	}
	log_info("sorteo", "success", "agencias: %u", s->agencies);
	__atomic_store_n(&s->logged, 1, __ATOMIC_RELEASE);
	fd = open(s->mark_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644);
	if (fd == -1 || meta_sync_dir(s->dir) == -1)
		log_warn_errno("draw_mark", "fail", "path: %s | motivo: "
		    "another replica may log the draw again", s->mark_path);
	if (fd != -1)
		(void)close(fd);
}

/*
 * The waiters the draw wakes all get here at once: dmu lets one take the
 * write locks while the others wait for its answer instead of each taking
 * them in turn.
 */
void
store_draw_log_once(struct store *s)
{
	if (!__atomic_load_n(&s->drawn, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&s->logged, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&s->dmu);
	if (__atomic_load_n(&s->logged, __ATOMIC_ACQUIRE) ||
	    store_enter(s, F_RDLCK, F_WRLCK) == -1)
		goto out;	/* logged, or a later request looks again */
	if (s->nclosed == s->agencies &&
	    !__atomic_load_n(&s->logged, __ATOMIC_ACQUIRE))
		store_draw_log(s);
	store_leave(s);
out:
	pthread_mutex_unlock(&s->dmu);
}

int
store_close_agency(struct store *s, uint32_t agency, int *draw)
{
	char	line[16];
	int	len, rc = 0;

	*draw = 0;
	if (agency == 0 || agency > s->agencies)
		return -1;
	if (store_enter(s, F_RDLCK, F_WRLCK) == -1)
		return -1;
	if (s->is_closed[agency]) {
		/* Its writer may have died before its sync. */
		sfile_sync(&s->closed);
		goto out;
	}
	if (s->nclosed + 1 == s->agencies && store_draw_unmark(s) == -1) {
		rc = -1;
		goto out;
	}
	len = snprintf(line, sizeof(line), "%u\n", agency);
	if (sfile_append(&s->closed, line, (size_t)len) == -1) {
		rc = -1;
		goto out;
	}
	s->is_closed[agency] = 1;
	s->nclosed++;
	*draw = s->nclosed == s->agencies;
	store_note_draw(s);
	if (*draw)
		store_draw_log(s);
out:
	store_leave(s);
	return rc;
}

int
store_status(struct store *s, uint32_t agency, uint64_t *stored, int *closed)
{
	if (agency == 0 || agency > s->agencies)
		return -1;
	if (store_enter(s, F_RDLCK, F_RDLCK) == -1)
		return -1;
	*stored = s->stored[agency];
	*closed = s->is_closed[agency];
	sfile_unlock(&s->closed);
	sfile_unlock(&s->bets);
	/*
	 * Another replica syncs after letting the lock go: rows it wrote may
	 * not be on disk yet, and an agency told they are stored skips them.
	 * A thousand agencies starting at once ask this once each: when no
	 * row came in since our last sync, that sync already covers them.
	 */
	sfile_sync_indexed(&s->bets);
	tmutex_unlock(&s->mu);
	return 0;
}

int
store_winners(struct store *s, uint32_t agency, uint64_t start,
    char (*docs)[BET_DOC_MAX + 1], size_t max, size_t *count,
    uint64_t *total)
{
	int		rc = 0;

	*count = 0;
	*total = 0;
	if (agency == 0 || agency > s->agencies)
		return -1;
	/*
	 * After the draw no row or close can be added: the index is the
	 * answer, and the mutex keeps a reindex out.  So a thousand waiters
	 * woken by the draw do not queue for the file locks one by one.
	 */
	if (__atomic_load_n(&s->drawn, __ATOMIC_ACQUIRE)) {
		tmutex_lock(&s->mu);
		if (s->nclosed == s->agencies) {
			*count = wins_copy(&s->wins, agency, start, docs, max,
			    total);
			rc = 1;
		}
		tmutex_unlock(&s->mu);
		if (rc == 1) {
			store_draw_log_once(s);
			return 1;
		}
	}
	if (store_enter(s, F_RDLCK, F_RDLCK) == -1)
		return -1;
	if (s->nclosed == s->agencies) {
		*count = wins_copy(&s->wins, agency, start, docs, max, total);
		rc = 1;
	}
	store_leave(s);
	if (rc == 1)
		store_draw_log_once(s);
	return rc;
}

int
store_drawn(struct store *s)
{
	return __atomic_load_n(&s->drawn, __ATOMIC_ACQUIRE);
}

int
store_draw_fd(const struct store *s)
{
	return s->ino;
}

int
store_draw_tick_ms(const struct store *s)
{
	return s->ino == -1 ? STORE_TICK_MS : STORE_TICK_NOTIFY_MS;
}

/*
 * Drain the events: the caller only wants to know that it should look.
 * When the file was replaced (moved over, or removed) the watch follows
 * the old file, so it is set up again on the path, which names the new
 * one; until that works the tick covers it.
 */
void
store_draw_events(struct store *s)
{
	char	buf[4096] __attribute__((aligned(8)));
	ssize_t	n;
	int	moved = 0;

	if (s->ino == -1)
		return;
	while ((n = read(s->ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;

			moved |= (ev->mask & (IN_IGNORED | IN_MOVE_SELF |
			    IN_DELETE_SELF | IN_ATTRIB)) != 0;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (moved)
		(void)inotify_add_watch(s->ino, s->closed_path,
		    STORE_NOTIFY_MASK);
}

/*
 * 1 when the path no longer names the file we hold open: it was moved
 * over or removed, so what other replicas write goes to another file.
 */
static int
store_closed_replaced(const struct store *s, const struct stat *held)
{
	struct stat	st;

	if (stat(s->closed_path, &st) == -1)
		return errno == ENOENT;
	return st.st_dev != held->st_dev || st.st_ino != held->st_ino;
}

/*
 * Store thread.  Look at agencies_closed.txt (one fstat, one stat) and
 * only when it grew or was replaced take the locks, which reopen it the
 * way every other operation does and index what is new.
 */
void
store_check_draw(struct store *s)
{
	struct stat	st;

	if (__atomic_load_n(&s->drawn, __ATOMIC_ACQUIRE))
		return;
	if (fstat(s->closed.fd, &st) == 0 && st.st_size == s->seen &&
	    !store_closed_replaced(s, &st))
		return;
	s->seen = fstat(s->closed.fd, &st) == 0 ? st.st_size : -1;
	if (store_enter(s, F_RDLCK, F_RDLCK) == 0)
		store_leave(s);
	/* Reopened: what we hold now is the file to watch. */
	if (fstat(s->closed.fd, &st) == 0)
		s->seen = st.st_size;
}

/* inotify on the closed file where the kernel offers it, else the tick. */
static void
store_notify_init(struct store *s, const char *dir)
{
	int	n;

	n = snprintf(s->closed_path, sizeof(s->closed_path),
	    "%s/agencies_closed.txt", dir);
	if (n < 0 || (size_t)n >= sizeof(s->closed_path))
		return;
	s->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ino == -1 || inotify_add_watch(s->ino, s->closed_path,
	    STORE_NOTIFY_MASK) == -1) {
		log_warn_errno("inotify", "fail", "motivo: draw watched by a "
		    "%d ms tick", STORE_TICK_MS);
		if (s->ino != -1)
			(void)close(s->ino);
		s->ino = -1;
	}
}

/*
 * The files' names must survive a power cut as well as their rows: a
 * replica that cannot make them durable acknowledges nothing.  EINVAL is
 * a filesystem that has no directory sync at all: warned, not fatal.
 */
static int
store_sync_dir(const char *dir, char *err, size_t errlen)
{
	int	e;

	if (meta_sync_dir(dir) == 0)
		return 0;
	e = errno;
	if (e == EINVAL) {
		log_warn_errno("sync_dir", "fail", "dir: %s | motivo: this "
		    "filesystem cannot sync a directory", dir);
		return 0;
	}
	log_error_errno("sync_dir", "fail", "dir: %s", dir);
	snprintf(err, errlen, "%s: directory sync: %s", dir, strerror(e));
	return -1;
}

struct store *
store_open(const char *dir, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store		*s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    tmutex_init(&s->mu) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(s);
		return NULL;
	}
	s->bets.fd = s->closed.fd = s->ino = -1;
	s->seen = -1;
	s->agencies = o->agencies;
	s->lock_timeout_ms = o->lock_timeout_ms;
	s->stop = o->stop;
	s->batch_max = o->batch_max;
	s->stored = calloc(s->agencies + 1, sizeof(*s->stored));
	s->is_closed = calloc(s->agencies + 1, 1);
	if (s->stored == NULL || s->is_closed == NULL ||
	    wins_init(&s->wins, s->agencies) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >=
	    sizeof(s->dir) || (size_t)snprintf(s->mark_path,
	    sizeof(s->mark_path), "%s/%s", dir, STORE_DRAW_MARK) >=
	    sizeof(s->mark_path)) {
		snprintf(err, errlen, "state directory path too long");
		goto fail;
	}
	if (meta_check(dir, s->agencies, err, errlen) == -1 ||
	    sfile_open(&s->bets, dir, "bets.csv", err, errlen) == -1 ||
	    sfile_open(&s->closed, dir, "agencies_closed.txt", err,
	    errlen) == -1)
		goto fail;
	store_notify_init(s, dir);
	if (store_sync_dir(dir, err, errlen) == -1)
		goto fail;
	pthread_mutex_init(&s->qmu, NULL);
	pthread_mutex_init(&s->dmu, NULL);
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sfile_close(&s->bets);
	sfile_close(&s->closed);
	if (s->ino != -1)
		(void)close(s->ino);
	free(s->stored);
	free(s->is_closed);
	wins_free(&s->wins);
	tmutex_destroy(&s->mu);
	free(s);
}
