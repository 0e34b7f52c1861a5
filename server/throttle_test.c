/*
 * throttle_test: the failed-handshake budget of each (address, agency)
 * pair and of each address, on a clock the test sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "throttle.h"

static int
reset(void **state)
{
	(void)state;
	throttle_reset();
	return 0;
}

/* THROTTLE_FREE failures are free; then each one doubles the wait. */
static void
test_throttle(void **state)
{
	long long	now = 1000000;
	int		first, i;

	(void)state;
	for (i = 0; i < THROTTLE_FREE; i++) {
		throttle_fail("10.0.0.1", 1, now);
		assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first), 0);
	}
	throttle_fail("10.0.0.1", 1, now);
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first),
	    THROTTLE_BASE_MS);
	assert_int_equal(first, 1);
	assert_int_equal(throttle_wait("10.0.0.1", 1, now + 10, &first),
	    THROTTLE_BASE_MS - 10);
	assert_int_equal(first, 0);		/* reported once */
	assert_int_equal(throttle_wait("10.0.0.2", 1, now, &first), 0);
	now += THROTTLE_BASE_MS;
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first), 0);
	throttle_fail("10.0.0.1", 1, now);
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first),
	    2 * THROTTLE_BASE_MS);
	for (i = 0; i < 20; i++)
		throttle_fail("10.0.0.1", 1, now);
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first),
	    THROTTLE_MAX_MS);
	/* Old failures are forgotten. */
	now += THROTTLE_FORGET_MS + 1;
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first), 0);
	throttle_fail("10.0.0.1", 1, now);
	assert_int_equal(throttle_wait("10.0.0.1", 1, now, &first), 0);
}

/*
 * A forger failing for one agency, however often, never delays another
 * agency's handshake from the same address.
 */
static void
test_throttle_other_agency(void **state)
{
	long long	now = 2000000;
	int		first, i;

	(void)state;
	for (i = 0; i < 100; i++)
		throttle_fail("127.0.0.1", 3, now);
	assert_int_equal(throttle_wait("127.0.0.1", 3, now, &first),
	    THROTTLE_MAX_MS);
	assert_int_equal(throttle_wait("127.0.0.1", 1, now, &first), 0);
	assert_int_equal(throttle_wait("127.0.0.1", 2, now, &first), 0);
	/* Their own failures stay their own, too. */
	throttle_fail("127.0.0.1", 1, now);
	assert_int_equal(throttle_wait("127.0.0.1", 2, now, &first), 0);
}

/*
 * An address failing for THROTTLE_SPREAD distinct agencies has its further
 * failures counted against the address: then every agency there waits.
 */
static void
test_throttle_spread(void **state)
{
	long long	now = 3000000;
	uint32_t	a;
	int		first, i;

	(void)state;
	for (a = 1; a < THROTTLE_SPREAD; a++)
		throttle_fail("10.2.0.1", a, now);
	for (i = 0; i < 10; i++)
		throttle_fail("10.2.0.1", 1, now);
	/* Fewer distinct agencies than THROTTLE_SPREAD: the others go. */
	assert_int_equal(throttle_wait("10.2.0.1", 50, now, &first), 0);
	/* The last of the spread counts, and THROTTLE_FREE more are free. */
	for (a = 100; a < 100 + THROTTLE_FREE; a++) {
		throttle_fail("10.2.0.1", a, now);
		assert_int_equal(throttle_wait("10.2.0.1", 50, now, &first),
		    0);
	}
	throttle_fail("10.2.0.1", 200, now);
	assert_int_equal(throttle_wait("10.2.0.1", 50, now, &first),
	    THROTTLE_BASE_MS);
	assert_int_equal(first, 1);
	/* Another address is not touched. */
	assert_int_equal(throttle_wait("10.2.0.2", 50, now, &first), 0);
}

/* A full table makes room without losing the pair being counted. */
static void
test_throttle_full(void **state)
{
	char		host[32];
	long long	now = 5000000;
	int		first, i;

	(void)state;
	for (i = 0; i < THROTTLE_SLOTS + 10; i++) {
		snprintf(host, sizeof(host), "10.1.%d.%d", i / 256, i % 256);
		throttle_fail(host, 1, now + i);
	}
	for (i = 0; i <= THROTTLE_FREE; i++)
		throttle_fail("10.9.9.9", 1, now + THROTTLE_SLOTS + 20);
	assert_true(throttle_wait("10.9.9.9", 1, now + THROTTLE_SLOTS + 20,
	    &first) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_throttle, reset),
		cmocka_unit_test_setup(test_throttle_other_agency, reset),
		cmocka_unit_test_setup(test_throttle_spread, reset),
		cmocka_unit_test_setup(test_throttle_full, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
