/*
 * keys_test: the agency key file as the operator writes it, good and bad,
 * in real files.
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
	write_keys("1 " K1 "\n2 " K2 K2 K2 K2 K2 "\n", 0600);
	expect_refused(2, ":2: line too long");
	unlink(path);
}

/* A NUL byte in a line is named as such, not as a line too long. */
static void
test_nul_byte(void **state)
{
	const char	 text[] = "1 " K1 "\r\n2 \0" K2 "\r\n";
	FILE		*fp;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/keys_test.%d", (int)getpid());
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, fp),
	    sizeof(text) - 1);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	expect_refused(2, ":2: NUL byte");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_bad_lines_named),
		cmocka_unit_test(test_missing_agency),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_permissions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
