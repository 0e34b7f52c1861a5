/*
 * keys_test: the agency key file as the operator writes it, good and bad,
 * in real files; and the failed-handshake budget of each address.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"
#include "throttle.h"

#define K1 "1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "2222222222222222222222222222222222222222222222222222222222222222"
#define K3 "3333333333333333333333333333333333333333333333333333333333333333"

static char path[64];

/* Write text to path with the given mode. */
static void
write_keys(const char *text, mode_t mode)
{
	FILE	*fp;

	snprintf(path, sizeof(path), "/tmp/keys_test.%d", (int)getpid());
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

/* Load path for agencies and expect failure with want in the message. */
static void
expect_refused(uint32_t agencies, const char *want)
{
	struct keys	k;
	char		err[512];

	assert_int_equal(keys_load(&k, path, agencies, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_null(k.key);
}

static void
test_load(void **state)
{
	struct keys	 k;
	const uint8_t	*key;
	char		 err[512];

	(void)state;
	write_keys("# agency keys\n\n2 " K2 "\n1\t" K1 "\r\n3 revoked\n",
	    0600);
	assert_int_equal(keys_load(&k, path, 3, err, sizeof(err)), 0);
	assert_non_null(key = keys_get(&k, 1));
	assert_int_equal(key[0], 0x11);
	assert_non_null(key = keys_get(&k, 2));
	assert_int_equal(key[31], 0x22);
	assert_null(keys_get(&k, 3));		/* revoked */
	assert_null(keys_get(&k, 0));
	assert_null(keys_get(&k, 4));
	keys_free(&k);
	unlink(path);
}

static void
test_bad_lines_named(void **state)
{
	(void)state;
	write_keys("1 " K1 "\n2 " K2 "x\n", 0600);
	expect_refused(2, ":2: agency 2: the key is not 64 hex digits");
	write_keys("1 " K1 "\n\n2\n", 0600);
	expect_refused(2, ":3: want");
	write_keys("1 " K1 " extra\n2 " K2 "\n", 0600);
	expect_refused(2, ":1: want");
	write_keys("one " K1 "\n", 0600);
	expect_refused(1, ":1: agency 'one' is not a number");
	write_keys("1 " K1 "\n2 " K2 "\n3 " K3 "\n", 0600);
	expect_refused(2, ":3: agency '3' is not a number from 1 to "
	    "AGENCIES_AMOUNT (2)");
	write_keys("1 " K1 "\n1 " K2 "\n", 0600);
	expect_refused(2, ":2: agency 1 appears twice");
	unlink(path);
}

static void
test_missing_agency(void **state)
{
	(void)state;
	write_keys("1 " K1 "\n3 " K3 "\n", 0600);
	expect_refused(3, "no line for agency 2");
	unlink(path);
}

static void
test_permissions(void **state)
{
	(void)state;
	write_keys("1 " K1 "\n", 0640);
	expect_refused(1, "mode 0640");
	write_keys("1 " K1 "\n", 0604);
	expect_refused(1, "mode 0604");
	write_keys("1 " K1 "\n", 0620);
	expect_refused(1, "mode 0620");
	unlink(path);
	expect_refused(1, "No such file");
	snprintf(path, sizeof(path), "/tmp");
	expect_refused(1, "not a regular file");
}

/* THROTTLE_FREE failures are free; then each one doubles the wait. */
static void
test_throttle(void **state)
{
	long long	now = 1000000;
	int		first, i;

	(void)state;
	for (i = 0; i < THROTTLE_FREE; i++) {
		throttle_fail("10.0.0.1", now);
		assert_int_equal(throttle_wait("10.0.0.1", now, &first), 0);
	}
	throttle_fail("10.0.0.1", now);
	assert_int_equal(throttle_wait("10.0.0.1", now, &first),
	    THROTTLE_BASE_MS);
	assert_int_equal(first, 1);
	assert_int_equal(throttle_wait("10.0.0.1", now + 10, &first),
	    THROTTLE_BASE_MS - 10);
	assert_int_equal(first, 0);		/* reported once */
	assert_int_equal(throttle_wait("10.0.0.2", now, &first), 0);
	now += THROTTLE_BASE_MS;
	assert_int_equal(throttle_wait("10.0.0.1", now, &first), 0);
	throttle_fail("10.0.0.1", now);
	assert_int_equal(throttle_wait("10.0.0.1", now, &first),
	    2 * THROTTLE_BASE_MS);
	for (i = 0; i < 20; i++)
		throttle_fail("10.0.0.1", now);
	assert_int_equal(throttle_wait("10.0.0.1", now, &first),
	    THROTTLE_MAX_MS);
	/* Old failures are forgotten. */
	now += THROTTLE_FORGET_MS + 1;
	assert_int_equal(throttle_wait("10.0.0.1", now, &first), 0);
	throttle_fail("10.0.0.1", now);
	assert_int_equal(throttle_wait("10.0.0.1", now, &first), 0);
}

/* A full table makes room without losing the address being counted. */
static void
test_throttle_full(void **state)
{
	char		host[32];
	long long	now = 5000000;
	int		first, i;

	(void)state;
	for (i = 0; i < THROTTLE_SLOTS + 10; i++) {
		snprintf(host, sizeof(host), "10.1.%d.%d", i / 256, i % 256);
		throttle_fail(host, now + i);
	}
	for (i = 0; i <= THROTTLE_FREE; i++)
		throttle_fail("10.9.9.9", now + THROTTLE_SLOTS + 20);
	assert_true(throttle_wait("10.9.9.9", now + THROTTLE_SLOTS + 20,
	    &first) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_bad_lines_named),
		cmocka_unit_test(test_missing_agency),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_throttle_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
