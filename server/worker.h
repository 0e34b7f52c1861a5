/*
 * worker: the store thread.  Everything that waits on the disk or on
 * another replica (file locks with their deadlines, pwritev, fdatasync,
 * scans and reindexing) runs here, off the event loop.  The loop hands it
 * jobs through a queue; finished jobs come back through an eventfd the
 * loop watches.  Each round takes every job queued at that moment, and
 * commits the batches of all of them as one group (one lock acquisition,
 * one pwritev, one sync).
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "store.h"

enum worker_kind {
	WORKER_COMMIT,		/* reqs[0..nreqs): store_commit_all */
	WORKER_CLOSE,		/* store_close_agency(agency) */
	WORKER_STATUS,		/* store_status(agency) */
	WORKER_WINNERS,		/* store_winners(agency, start) into docs */
	WORKER_DRAW_CHECK	/* store_check_draw */
};

/*
 * One job.  The submitter owns it and fills kind, owner and the inputs;
 * from worker_submit until it comes back from worker_done only the store
 * thread touches it (and what reqs and docs point to).
 */
struct worker_job {
	enum worker_kind	 kind;
	void			*owner;		/* the submitter's */
	struct worker_job	*next;		/* the queues' */
	uint32_t		 agency;
	uint64_t		 start;		/* WINNERS: first document */
	struct store_req	*reqs;		/* COMMIT */
	size_t			 nreqs;
	proto_doc		*docs;		/* WINNERS: room for max */
	size_t			 max;
	int			 rc;		/* out: the store call's */
	int			 draw;		/* out: CLOSE closed the last */
	uint64_t		 stored;	/* out: STATUS */
	int			 closed;	/* out: STATUS */
	size_t			 count;		/* out: WINNERS */
	uint64_t		 total;		/* out: WINNERS */
};

struct worker;

/* Start the store thread.  NULL with the reason in err. */
struct worker	*worker_start(struct store *, char *err, size_t errlen);
/* The eventfd that turns readable when jobs have come back. */
int		 worker_fd(const struct worker *);
/*
 * Submit a job (loop thread).  Jobs submitted during one turn of the loop
 * are handed to the store thread together by worker_flush, so a round
 * takes every job of that turn: the loop calls it before it sleeps.
 */
void		 worker_submit(struct worker *, struct worker_job *);
void		 worker_flush(struct worker *);
/*
 * The jobs that came back since the last call, oldest first, linked
 * through next (NULL: none); clears the eventfd.
 */
struct worker_job *worker_done(struct worker *);
/*
 * Let the thread finish every job already submitted, join it and free
 * it.  Jobs finished here are not handed back.
 */
void		 worker_stop(struct worker *);

#endif
