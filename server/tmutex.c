/*
 * tmutex: the deadline mutex (see tmutex.h).  The flag held is the lock;
 * mu only guards it for the instant it is tested or changed, so a thread
 * holding the tmutex holds no pthread mutex while it works.  A waiter
 * sleeps on cv until the holder lets go or its deadline passes; the one
 * that lets go wakes one waiter, and a waiter whose deadline passed takes
 * the tmutex anyway if it is free by then, so no wake-up is ever lost to
 * a timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "io.h"
#include "tmutex.h"

int
tmutex_init(struct tmutex *t)
{
	pthread_condattr_t	ca;
	int			rc;

	t->held = 0;
	t->waiters = 0;
	if ((rc = pthread_mutex_init(&t->mu, NULL)) != 0)
		goto fail;
	if ((rc = pthread_condattr_init(&ca)) != 0)
		goto fail_mu;
	/* The deadline is io_now_ms() time: the cv's clock must be it too. */
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(&t->cv, &ca);
	(void)pthread_condattr_destroy(&ca);
	if (rc != 0)
		goto fail_mu;
	return 0;
fail_mu:
	(void)pthread_mutex_destroy(&t->mu);
fail:
	errno = rc;
	return -1;
}

void
tmutex_destroy(struct tmutex *t)
{
	(void)pthread_cond_destroy(&t->cv);
	(void)pthread_mutex_destroy(&t->mu);
}

int
tmutex_lock_until(struct tmutex *t, long long deadline)
{
	struct timespec	ts = { deadline / 1000, (deadline % 1000) * 1000000L };
	int		rc = 0;

	pthread_mutex_lock(&t->mu);
	/* 0 is a wake-up, maybe spurious: look again. */
	while (t->held && rc == 0) {
		t->waiters++;
		rc = pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		t->waiters--;
	}
	if (t->held) {
		pthread_mutex_unlock(&t->mu);
		errno = rc;	/* ETIMEDOUT */
		return -1;
	}
	t->held = 1;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

void
tmutex_lock(struct tmutex *t)
{
	pthread_mutex_lock(&t->mu);
	while (t->held) {
		t->waiters++;
		pthread_cond_wait(&t->cv, &t->mu);
		t->waiters--;
	}
	t->held = 1;
	pthread_mutex_unlock(&t->mu);
}

void
tmutex_unlock(struct tmutex *t)
{
	pthread_mutex_lock(&t->mu);
	t->held = 0;
	if (t->waiters > 0)
		pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}
