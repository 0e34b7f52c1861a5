/*
 * store: the state every replica shares, two files in the state directory
 * guarded by fcntl open-file-description locks.  bets.csv holds one CSV row
 * per stored bet; agencies_closed.txt one line per closed agency.  A
 * replica keeps an index of both (bets per agency, which agencies closed)
 * that it brings up to date from the files' tails under the lock, so no
 * request rereads what it has already seen.
 */
#ifndef STORE_H
#define STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"

#define STORE_NO_POS	UINT64_MAX	/* a request without a position */

enum store_result {
	STORE_OK,		/* written and synced to disk */
	STORE_DUPLICATE,	/* every bet was stored before: nothing written */
	STORE_CLOSED,		/* the agency has closed */
	STORE_GAP,		/* pos is past what the agency has stored */
	STORE_BUSY,		/* a lock was not had by the deadline, or a
				   stop was asked: nothing written */
	STORE_ERR		/* I/O error, already logged; nothing written */
};

struct store;

/*
 * One batch for store_commit: n bets of one agency already formatted as
 * CSV rows, back to back in rows; ends[i] is the offset just past row i
 * (so a batch that overlaps what is stored writes only its tail).  The
 * caller owns rows, ends and the request; the store fills res and
 * written, and uses the rest while the request is queued.
 */
struct store_req {
	uint32_t		 agency;
	uint64_t		 pos;		/* STORE_NO_POS, or the first
						   bet's position */
	size_t			 n;
	const char		*rows;
	const uint32_t		*ends;
	enum store_result	 res;		/* out */
	size_t			 written;	/* out: rows added */
	struct store_req	*next;		/* queue: the store's */
	void			*waiter;	/* the store's */
	int			 done;		/* the store's */
};

/* What store_open needs besides the directory. */
struct store_opts {
	uint32_t		 agencies;	/* AGENCIES_AMOUNT */
	int			 lock_timeout_ms; /* bound on every lock wait */
	volatile sig_atomic_t	*stop;		/* set: lock waits give up */
	size_t			 batch_max;	/* most bets one append takes */
};

/*
 * The draw.  store_drawn: 1 once this replica has seen every agency
 * closed; safe from any thread.  store_draw_fd: the descriptor that turns
 * readable when agencies_closed.txt changes on this host (inotify), or -1;
 * the event loop owns it and calls store_draw_events when it is readable.
 * store_draw_tick_ms: how often to check anyway (closes written through
 * another host's mount raise no local event).  store_check_draw, on the
 * store thread: look at the file and index it when it grew or the path
 * now names another file (replaced), which may publish the draw.
 */
int		 store_drawn(struct store *);
int		 store_draw_fd(const struct store *);
int		 store_draw_tick_ms(const struct store *);
void		 store_draw_events(struct store *);
void		 store_check_draw(struct store *);
/*
 * Open (creating) the files in dir and check the cluster's agency count
 * recorded there.  NULL with a reason in err.
 */
struct store	*store_open(const char *dir, const struct store_opts *,
		    char *err, size_t errlen);
void		 store_close(struct store *);

/*
 * Append bets[0..n) of one agency as one write, synced before returning.
 * With pos != STORE_NO_POS the bets the agency already has are skipped
 * (see docs/protocol.md).  *written gets the number of rows added.
 */
enum store_result store_append(struct store *, uint32_t agency,
		    const struct bet *bets, size_t n, uint64_t pos,
		    size_t *written);
/*
 * Group commit.  Queue reqs[0..n) and return once each has its result:
 * one thread at a time leads, writing every batch queued at that moment
 * (from all connections) with one lock acquisition and one pwritev, then
 * syncing once after letting the file lock go; a STORE_OK or
 * STORE_DUPLICATE result is only given after a sync that covers its rows.
 */
void		 store_commit(struct store *, struct store_req *reqs, size_t n);
/*
 * store_commit of k lists at once (lists[j] holds ns[j] requests): the
 * store thread's group, every connection's batches queued at that moment.
 */
void		 store_commit_all(struct store *, struct store_req *const *lists,
		    const size_t *ns, size_t k);
/*
 * Record that agency closed (a second close changes nothing).  *draw is
 * set to 1 when this call closed the last agency: exactly one call across
 * all replicas sees that, and it logs the draw (action: sorteo).  0, or
 * -1 on I/O error or STORE_BUSY's causes.
 */
int		 store_close_agency(struct store *, uint32_t agency, int *draw);
/*
 * Once every agency has closed, make sure one replica logged the draw:
 * the close that closes the last agency logs it, and creates draw.logged
 * in the state directory after the line; a replica that finds every
 * agency closed and no marker (that closer died before its line) logs it
 * now.  Cheap once this replica has seen the marker.  store_winners calls
 * it; so does a close that found its agency already closed.
 */
void		 store_draw_log_once(struct store *);
/* Bets stored for agency and whether it closed.  0 or -1. */
int		 store_status(struct store *, uint32_t agency, uint64_t *stored,
		    int *closed);
/*
 * Once every agency has closed: the agency's winning documents, in the
 * order they were stored, from the start-th (0-based) on, into
 * docs[0..max) (each NUL-terminated); *count of them, *total of all the
 * agency's winners; returns 1.  Before the draw returns 0.  -1 on I/O
 * error or STORE_BUSY's causes.
 */
int		 store_winners(struct store *, uint32_t agency, uint64_t start,
		    char (*docs)[BET_DOC_MAX + 1], size_t max, size_t *count,
		    uint64_t *total);

#endif
