/*
 * worker: the store thread and its two queues (see worker.h).  mu guards
 * todo, done and quit; batch is the loop thread's alone; cv wakes the thread when a job comes or the loop
 * asks it to end.  The eventfd tells the loop that done has jobs: it is
 * written after done is updated under mu, and the loop reads it before
 * taking done, so no completion is missed.  The thread blocks SIGTERM and
 * SIGINT: the stop signal is always handled on the loop thread.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

/* The most connections' batches one group commit takes. */
#define WORKER_GROUP_MAX	1024

struct worker {
	struct store		*store;
	pthread_t		 tid;
	int			 efd;
	pthread_mutex_t		 mu;		/* todo, done, quit */
	pthread_cond_t		 cv;
	struct worker_job	*todo, *todo_tail;
	struct worker_job	*done, *done_tail;
	int			 quit;
	/*
	 * The loop thread's own: jobs submitted this turn, handed over at
	 * once by worker_flush (one lock and one wake-up for all of them).
	 */
	struct worker_job	*batch, *batch_tail;
	/* The thread's own: a group's lists, off its stack. */
	struct store_req	*lists[WORKER_GROUP_MAX];
	size_t			 ns[WORKER_GROUP_MAX];
};

/* Append the list l..ltail to the list head..tail. */
static void
worker_append(struct worker_job **head, struct worker_job **tail,
    struct worker_job *l, struct worker_job *ltail)
{
	if (*tail != NULL)
		(*tail)->next = l;
	else
		*head = l;
	*tail = ltail;
}

/* The commits of a round as groups of up to WORKER_GROUP_MAX lists. */
static void
worker_commits(struct worker *w, struct worker_job *round)
{
	size_t	k = 0;

	for (struct worker_job *j = round; j != NULL; j = j->next) {
		if (j->kind != WORKER_COMMIT || j->nreqs == 0)
			continue;
		w->lists[k] = j->reqs;
		w->ns[k] = j->nreqs;
		if (++k == WORKER_GROUP_MAX) {
			store_commit_all(w->store, w->lists, w->ns, k);
			k = 0;
		}
	}
	if (k > 0)
		store_commit_all(w->store, w->lists, w->ns, k);
}

static void
worker_run(struct worker *w, struct worker_job *j)
{
	switch (j->kind) {
	case WORKER_COMMIT:
		break;	/* done as a group, before */
	case WORKER_CLOSE:
		j->rc = store_close_agency(w->store, j->agency, &j->draw);
		/* A repeated close may follow a closer that died unlogged. */
		if (j->rc == 0 && !j->draw)
			store_draw_log_once(w->store);
		break;
	case WORKER_STATUS:
		j->rc = store_status(w->store, j->agency, &j->stored,
		    &j->closed);
		break;
	case WORKER_WINNERS:
		j->rc = store_winners(w->store, j->agency, j->start, j->docs,
		    j->max, &j->count, &j->total);
		break;
	case WORKER_DRAW_CHECK:
		store_check_draw(w->store);
		j->rc = 0;
		break;
	}
}

/* Tell the loop; a full counter (never, in practice) is readable too. */
static void
worker_post(struct worker *w)
{
	uint64_t	one = 1;

	if (write(w->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn_errno("worker", "fail", "motivo: eventfd write");
}

static void *
worker_thread(void *arg)
{
	struct worker		*w = arg;
	struct worker_job	*round, *tail;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->todo == NULL && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->todo == NULL)
			break;
		round = w->todo;
		tail = w->todo_tail;
		w->todo = w->todo_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		worker_commits(w, round);
		for (struct worker_job *j = round; j != NULL; j = j->next)
			worker_run(w, j);
		pthread_mutex_lock(&w->mu);
		worker_append(&w->done, &w->done_tail, round, tail);
		pthread_mutex_unlock(&w->mu);
		worker_post(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct worker *
worker_start(struct store *store, char *err, size_t errlen)
{
	struct worker	*w;
	sigset_t	 block, old;
	int		 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "worker: %s", strerror(errno));
		return NULL;
	}
	w->store = store;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&w->tid, NULL, worker_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "store thread: %s", strerror(rc));
		(void)close(w->efd);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

int
worker_fd(const struct worker *w)
{
	return w->efd;
}

void
worker_submit(struct worker *w, struct worker_job *j)
{
	j->next = NULL;
	worker_append(&w->batch, &w->batch_tail, j, j);
}

void
worker_flush(struct worker *w)
{
	if (w->batch == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	worker_append(&w->todo, &w->todo_tail, w->batch, w->batch_tail);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->batch = w->batch_tail = NULL;
}

struct worker_job *
worker_done(struct worker *w)
{
	struct worker_job	*l;
	uint64_t		 n;

	/* Before taking the list: a post after this read shows next time. */
	(void)!read(w->efd, &n, sizeof(n));
	pthread_mutex_lock(&w->mu);
	l = w->done;
	w->done = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	return l;
}

void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	worker_flush(w);
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	(void)pthread_join(w->tid, NULL);	/* fails only on a bad id */
	(void)close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
