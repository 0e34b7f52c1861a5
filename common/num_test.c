/*
 * num_test: the decimal parser's contract, one case per rule: what it
 * accepts (digits, leading zeros, both bounds, the full 64-bit range) and
 * what it refuses with which reason (empty, sign, space, other bytes, out
 * of bounds, overflow however long the input).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "num.h"

/* Parse s in [min, max]; returns the reason, NULL on success. */
static const char *
why(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	const char	*e = "unset";

	*v = 12345;
	if (num_parse(s, min, max, v, &e) == 0) {
		assert_null(e);
		return NULL;
	}
	assert_non_null(e);
	assert_int_equal(*v, 12345);	/* untouched on failure */
	return e;
}

static void
test_accepts(void **state)
{
	uint64_t	v;

	(void)state;
	assert_null(why("0", 0, 9999, &v));
	assert_int_equal(v, 0);
	assert_null(why("7574", 0, 9999, &v));
	assert_int_equal(v, 7574);
	assert_null(why("9999", 0, 9999, &v));
	assert_int_equal(v, 9999);
	assert_null(why("1", 1, 1, &v));
	assert_int_equal(v, 1);
	/* Leading zeros are part of the contract. */
	assert_null(why("0042", 0, 9999, &v));
	assert_int_equal(v, 42);
	assert_null(why("000000000000000000000000000001", 1, 1, &v));
	assert_int_equal(v, 1);
	assert_null(why("18446744073709551615", 0, UINT64_MAX, &v));
	assert_int_equal(v, UINT64_MAX);
}

static void
test_refuses(void **state)
{
	uint64_t	v;

	(void)state;
	assert_string_equal(why("", 0, 10, &v), "empty");
	assert_string_equal(why("+1", 0, 10, &v), "invalid");
	assert_string_equal(why("-1", 0, 10, &v), "invalid");
	assert_string_equal(why("-0", 0, 10, &v), "invalid");
	assert_string_equal(why(" 1", 0, 10, &v), "invalid");
	assert_string_equal(why("1 ", 0, 10, &v), "invalid");
	assert_string_equal(why("1\n", 0, 10, &v), "invalid");
	assert_string_equal(why("0x1", 0, 10, &v), "invalid");
	assert_string_equal(why("1e3", 0, 10000, &v), "invalid");
	assert_string_equal(why("١", 0, 10, &v), "invalid");
	assert_string_equal(why("0", 1, 10, &v), "too small");
	assert_string_equal(why("11", 0, 10, &v), "too large");
	assert_string_equal(why("10000", 0, 9999, &v), "too large");
	/* Bytes past a too-large value are still checked. */
	assert_string_equal(why("99999x", 0, 9999, &v), "invalid");
}

static void
test_overflow(void **state)
{
	uint64_t	v;

	(void)state;
	/* One past UINT64_MAX, and its multiples mod 2^64 that would wrap. */
	assert_string_equal(why("18446744073709551616", 0, UINT64_MAX, &v),
	    "too large");
	assert_string_equal(why("36893488147419103232", 0, UINT64_MAX, &v),
	    "too large");
	assert_string_equal(why("99999999999999999999999999999999999999", 0,
	    UINT64_MAX, &v), "too large");
	/* 2^64 + 5 would wrap to 5, inside the bounds. */
	assert_string_equal(why("18446744073709551621", 0, 10, &v),
	    "too large");
}

static void
test_len(void **state)
{
	uint64_t	v = 0;
	const char	*e;

	(void)state;
	/* Only the len bytes count: a prefix up to a separator. */
	assert_int_equal(num_parse_len("12,Ana", 2, 1, 99, &v, &e), 0);
	assert_int_equal(v, 12);
	assert_null(e);
	assert_int_equal(num_parse_len("12,Ana", 3, 1, 99, &v, &e), -1);
	assert_string_equal(e, "invalid");
	assert_int_equal(num_parse_len(",Ana", 0, 0, 99, &v, &e), -1);
	assert_string_equal(e, "empty");
	/* No NUL needed after the digits. */
	assert_int_equal(num_parse_len("2024-03", 4, 1, 9999, &v, NULL), 0);
	assert_int_equal(v, 2024);
	/* A NUL inside the span is not a digit. */
	assert_int_equal(num_parse_len("1\0002", 3, 0, 999, &v, &e), -1);
	assert_string_equal(e, "invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
