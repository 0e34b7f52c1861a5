/*
 * backoff_test: every delay lies in [d/2, d] for d = min(max, base*2^n),
 * the cap holds however many attempts, no shift overflows, reset starts
 * over, and a sleep ends early when the stop flag is raised.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_bounds(void **state)
{
	struct backoff	b;
	unsigned	d, v, n, round;

	(void)state;
	for (round = 0; round < 200; round++) {
		backoff_init(&b, 100, 5000);
		for (n = 0; n < 10; n++) {
			d = 100u << n;
			if (d > 5000)
				d = 5000;
			v = backoff_next(&b);
			assert_in_range(v, d / 2, d);
		}
	}
}

static void
test_cap(void **state)
{
	struct backoff	b;
	unsigned	v, n, seen_low = 0, seen_high = 0;

	(void)state;
	backoff_init(&b, 100, 5000);
	for (n = 0; n < 10000; n++) {
		v = backoff_next(&b);
		if (n >= 6) {
			assert_in_range(v, 2500, 5000);
			seen_low |= v < 3000;
			seen_high |= v > 4500;
		}
	}
	/* Jitter actually spreads the values. */
	assert_true(seen_low && seen_high);

	/* Huge base and max: no overflow past max, ever. */
	backoff_init(&b, UINT32_MAX / 2, UINT32_MAX);
	for (n = 0; n < 200; n++) {
		v = backoff_next(&b);
		assert_true(v >= UINT32_MAX / 2 / 2);
	}
	backoff_init(&b, 1, UINT32_MAX);
	for (n = 0; n < 200; n++)
		v = backoff_next(&b);
	assert_true(v >= UINT32_MAX / 2);

	/* Base above max is clamped to max. */
	backoff_init(&b, 10000, 300);
	assert_in_range(backoff_next(&b), 150, 300);

	backoff_init(&b, 0, 1000);
	assert_int_equal(backoff_next(&b), 0);
}

static void
test_reset(void **state)
{
	struct backoff	b;
	int		n;

	(void)state;
	backoff_init(&b, 10, 100000);
	for (n = 0; n < 8; n++)
		(void)backoff_next(&b);
	assert_true(backoff_next(&b) >= 1280);
	backoff_reset(&b);
	assert_in_range(backoff_next(&b), 5, 10);
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static volatile sig_atomic_t	stop;

static void
on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

static void
test_sleep(void **state)
{
	struct timespec		t0;
	struct sigaction	sa;
	struct itimerval	it;

	(void)state;
	stop = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(backoff_sleep(250, &stop), 0);
	assert_true(elapsed_ms(&t0) >= 250);

	stop = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(backoff_sleep(5000, &stop), 1);
	assert_true(elapsed_ms(&t0) < 50);

	/* A signal raising the flag mid-sleep ends it within a slice. */
	stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 150000;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(backoff_sleep(10000, &stop), 1);
	assert_true(elapsed_ms(&t0) < 1000);

	assert_int_equal(backoff_sleep(0, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
