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
 * errors) live in sfile.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "io.h"
#include "log.h"
#include "meta.h"
#include "num.h"
#include "sfile.h"
#include "store.h"

struct store {
	pthread_mutex_t		 mu;
	uint32_t		 agencies;
	int			 lock_timeout_ms;
	volatile sig_atomic_t	*stop;
	struct sfile		 bets;
	struct sfile		 closed;
	uint64_t		*stored;	/* [agencies + 1]: rows per agency */
	uint8_t			*is_closed;	/* [agencies + 1] */
	uint32_t		 nclosed;
	char			*rows;		/* one batch formatted as CSV */
	size_t			 rowscap;
};

/* The agency a line starts with, or 0 when it is not one of ours. */
static uint32_t
line_agency(const struct store *s, const char *line)
{
	uint64_t	a;

	if (num_parse_len(line, strcspn(line, ","), 1, s->agencies, &a,
	    NULL) == -1)
		return 0;
	return (uint32_t)a;
}

static void
index_bet(void *arg, char *line)
{
	struct store	*s = arg;
	uint32_t	 a;

	if ((a = line_agency(s, line)) != 0)
		s->stored[a]++;
}

static void
index_close(void *arg, char *line)
{
	struct store	*s = arg;
	uint32_t	 a;

	if ((a = line_agency(s, line)) != 0 && !s->is_closed[a]) {
		s->is_closed[a] = 1;
		s->nclosed++;
	}
}

static void
store_forget_bets(struct store *s)
{
	memset(s->stored, 0, (s->agencies + 1) * sizeof(*s->stored));
}

static void
store_forget_closed(struct store *s)
{
	memset(s->is_closed, 0, s->agencies + 1);
	s->nclosed = 0;
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
	struct timespec	ts;
	int		rc;

	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000L;
	if ((rc = pthread_mutex_clocklock(&s->mu, CLOCK_MONOTONIC, &ts)) != 0)
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
	return 0;
unlock_mu:
	pthread_mutex_unlock(&s->mu);
busy:
	log_warn("lock", "fail", "motivo: %s | timeout_ms: %d",
	    s->stop != NULL && *s->stop ? "stopping" : "lock wait timed out",
	    s->lock_timeout_ms);
	return -1;
}

static void
store_leave(struct store *s)
{
	sfile_unlock(&s->closed);
	sfile_unlock(&s->bets);
	pthread_mutex_unlock(&s->mu);
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

enum store_result
store_append(struct store *s, uint32_t agency, const struct bet *bets,
    size_t n, uint64_t pos, size_t *written)
{
	enum store_result	 res;
	size_t			 skip, len;

	*written = 0;
	if (agency == 0 || agency > s->agencies || n == 0)
		return STORE_ERR;
	if (store_enter(s, F_WRLCK, F_RDLCK) == -1)
		return STORE_BUSY;
	res = store_plan(s, agency, n, pos, &skip);
	if (res == STORE_DUPLICATE)
		/* Another replica may have died before its sync: sync now. */
		sfile_sync(&s->bets);
	if (res != STORE_OK)
		goto out;
	if ((len = store_format(s, bets + skip, n - skip)) == 0 ||
	    sfile_append(&s->bets, s->rows, len) == -1) {
		res = STORE_ERR;
		goto out;
	}
	s->stored[agency] += n - skip;
	*written = n - skip;
out:
	store_leave(s);
	return res;
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
	len = snprintf(line, sizeof(line), "%u\n", agency);
	if (sfile_append(&s->closed, line, (size_t)len) == -1) {
		rc = -1;
		goto out;
	}
	s->is_closed[agency] = 1;
	s->nclosed++;
	*draw = s->nclosed == s->agencies;
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
	store_leave(s);
	return 0;
}

/* Where store_winners collects one agency's winning documents. */
struct winners {
	struct store	*s;
	uint32_t	 agency;
	uint64_t	 start;		/* winners to pass over first */
	char		(*docs)[BET_DOC_MAX + 1];
	size_t		 max, count;
	uint64_t	 total;		/* every winner of the agency */
};

static void
collect_winner(void *arg, char *line)
{
	struct winners	*w = arg;
	char		*f[6];
	uint64_t	 num;

	if (line_agency(w->s, line) != w->agency ||
	    csv_split(line, f, 6) != 6 ||
	    num_parse(f[5], 0, BET_NUMBER_MAX, &num, NULL) == -1 ||
	    num != BET_WINNING_NUMBER)
		return;
	if (w->total++ < w->start || w->count == w->max)
		return;
	/* A stored document is at most BET_DOC_MAX bytes; longer is cut. */
	snprintf(w->docs[w->count++], sizeof(w->docs[0]), "%s", f[3]);
}

int
store_winners(struct store *s, uint32_t agency, uint64_t start,
    char (*docs)[BET_DOC_MAX + 1], size_t max, size_t *count,
    uint64_t *total)
{
	struct winners	w = { s, agency, start, docs, max, 0, 0 };
	int		rc = 0;

	*count = 0;
	*total = 0;
	if (agency == 0 || agency > s->agencies)
		return -1;
	if (store_enter(s, F_RDLCK, F_RDLCK) == -1)
		return -1;
	if (s->nclosed == s->agencies) {
		sfile_each_line(&s->bets, collect_winner, &w);
		rc = 1;
	}
	store_leave(s);
	*count = w.count;
	*total = w.total;
	return rc;
}

struct store *
store_open(const char *dir, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	s->bets.fd = s->closed.fd = -1;
	s->agencies = o->agencies;
	s->lock_timeout_ms = o->lock_timeout_ms;
	s->stop = o->stop;
	s->rowscap = o->batch_max * CSV_ROW_MAX;
	s->stored = calloc(s->agencies + 1, sizeof(*s->stored));
	s->is_closed = calloc(s->agencies + 1, 1);
	s->rows = malloc(s->rowscap);
	if (s->stored == NULL || s->is_closed == NULL || s->rows == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (meta_check(dir, s->agencies, err, errlen) == -1 ||
	    sfile_open(&s->bets, dir, "bets.csv", err, errlen) == -1 ||
	    sfile_open(&s->closed, dir, "agencies_closed.txt", err,
	    errlen) == -1)
		goto fail;
	/* The files' names must survive a crash as well as their rows. */
	if (meta_sync_dir(dir) == -1)
		log_warn_errno("sync_dir", "fail", "dir: %s", dir);
	pthread_mutex_init(&s->mu, NULL);
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
	free(s->stored);
	free(s->is_closed);
	free(s->rows);
	free(s);
}
