/*
 * meta_test: cluster.meta in a temporary directory, through the module
 * alone: the first check records the count, a later check with another
 * count is refused, and a peek (`server -n`) compares without writing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	strlcpy(dir, "/tmp/meta_test.XXXXXX", sizeof(dir));
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
	unlink(path);
	return rmdir(dir);
}

/* 1 when the directory holds cluster.meta. */
static int
recorded(void)
{
	char	path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
	return access(path, F_OK) == 0;
}

static void
test_peek_writes_nothing(void **state)
{
	char	err[512];

	(void)state;
	assert_int_equal(meta_peek(dir, 5, err, sizeof(err)), 0);
	assert_false(recorded());
	assert_int_equal(meta_peek("/nonexistent/state", 5, err,
	    sizeof(err)), 0);
}

static void
test_peek_compares_the_record(void **state)
{
	char	err[512];

	(void)state;
	assert_int_equal(meta_check(dir, 5, err, sizeof(err)), 0);
	assert_true(recorded());
	assert_int_equal(meta_peek(dir, 5, err, sizeof(err)), 0);
	assert_int_equal(meta_peek(dir, 100, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AGENCIES_AMOUNT=5"));
	assert_non_null(strstr(err, "AGENCIES_AMOUNT=100"));
	/* The check refuses the same way the peek does. */
	assert_int_equal(meta_check(dir, 100, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AGENCIES_AMOUNT=5"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_peek_writes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_peek_compares_the_record,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("meta", tests, NULL, NULL);
}
