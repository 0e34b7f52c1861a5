/*
 * tmutex_test: the deadline mutex with real threads.  Under the race
 * detector (make SANITIZER=thread) the counter below is a race unless
 * every hand-over of the tmutex orders the threads; in any build a lost
 * hand-over shows as a wrong count, and a lost wake-up as a waiter that
 * sleeps to its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "io.h"
#include "tmutex.h"

#define THREADS	4
#define ROUNDS	20000

static struct tmutex	tm;
static long		counter;	/* under tm */

static int
setup(void **state)
{
	(void)state;
	counter = 0;
	return tmutex_init(&tm);
}

static int
teardown(void **state)
{
	(void)state;
	tmutex_destroy(&tm);
	return 0;
}

/* ROUNDS increments, every other one through the deadline path. */
static void *
bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (i % 2 == 0) {
			if (tmutex_lock_until(&tm, io_now_ms() + 60000) == -1)
				return (void *)1;
		} else
			tmutex_lock(&tm);
		counter++;
		tmutex_unlock(&tm);
	}
	return NULL;
}

static void
test_excludes(void **state)
{
	pthread_t	t[THREADS];
	void		*rc;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bump, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	assert_int_equal(counter, (long)THREADS * ROUNDS);
}

struct try {
	long long	deadline;
	int		rc;
	int		error;
	long long	at;		/* when the call returned */
};

static void *
try_lock(void *arg)
{
	struct try	*t = arg;

	t->rc = tmutex_lock_until(&tm, t->deadline);
	t->error = errno;
	t->at = io_now_ms();
	if (t->rc == 0)
		tmutex_unlock(&tm);
	return NULL;
}

/* Held throughout by this thread: the other gives up at its deadline. */
static void
test_deadline(void **state)
{
	struct try	t = { .deadline = io_now_ms() + 200 };
	pthread_t	th;

	(void)state;
	tmutex_lock(&tm);
	assert_int_equal(pthread_create(&th, NULL, try_lock, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.rc, -1);
	assert_int_equal(t.error, ETIMEDOUT);
	assert_true(t.at >= t.deadline);
	tmutex_unlock(&tm);
	/* Free now: taken at once, even with a deadline already past. */
	assert_int_equal(tmutex_lock_until(&tm, io_now_ms() - 1), 0);
	tmutex_unlock(&tm);
}

/* waiters under mu: how many threads sleep on the tmutex. */
static int
waiting(void)
{
	int	n;

	pthread_mutex_lock(&tm.mu);
	n = tm.waiters;
	pthread_mutex_unlock(&tm.mu);
	return n;
}

/*
 * A waiter asleep on the tmutex is woken by the unlock, long before its
 * deadline; it is seen asleep first, so the wake-up is what is tested.
 */
static void
test_unlock_wakes(void **state)
{
	struct try	t = { .deadline = io_now_ms() + 60000 };
	pthread_t	th;

	(void)state;
	tmutex_lock(&tm);
	assert_int_equal(pthread_create(&th, NULL, try_lock, &t), 0);
	while (waiting() == 0)
		sched_yield();
	tmutex_unlock(&tm);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.rc, 0);
	assert_true(t.at < t.deadline);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_excludes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlock_wakes, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
