/*
 * reply_test: the client's strict reply parsers: counts are digits only
 * and bounded, status and store bodies are exact, and winner pages hold
 * well-formed documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

static void
test_uint(void **state)
{
	uint64_t	 v;

	(void)state;
	assert_int_equal(reply_uint("0", 1, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(reply_uint("10", 2, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(reply_uint("11", 2, 10, &v), -1);
	assert_int_equal(reply_uint("", 0, 10, &v), -1);
	assert_int_equal(reply_uint("-5", 2, 10, &v), -1);
	assert_int_equal(reply_uint("+5", 2, 10, &v), -1);
	assert_int_equal(reply_uint(" 5", 2, 10, &v), -1);
	assert_int_equal(reply_uint("18446744073709551616", 20, UINT64_MAX,
	    &v), -1);
	assert_int_equal(reply_uint("18446744073709551615", 20, UINT64_MAX,
	    &v), 0);
	assert_true(v == UINT64_MAX);
}

static void
test_status(void **state)
{
	uint64_t	 n;
	int		 closed;

	(void)state;
	assert_int_equal(reply_status("12;0", &n, &closed), 0);
	assert_int_equal(n, 12);
	assert_int_equal(closed, 0);
	assert_int_equal(reply_status("0;1", &n, &closed), 0);
	assert_int_equal(closed, 1);
	assert_int_equal(reply_status("-5;0", &n, &closed), -1);
	assert_int_equal(reply_status("5;2", &n, &closed), -1);
	assert_int_equal(reply_status("5;01", &n, &closed), -1);
	assert_int_equal(reply_status("5;", &n, &closed), -1);
	assert_int_equal(reply_status(";0", &n, &closed), -1);
	assert_int_equal(reply_status("5", &n, &closed), -1);
	assert_int_equal(reply_status("5;0;0", &n, &closed), -1);
	assert_int_equal(reply_status("9007199254740993;0", &n, &closed), -1);
}

static void
test_store(void **state)
{
	int	 ok;

	(void)state;
	assert_int_equal(reply_store("0", &ok), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(reply_store("1", &ok), 0);
	assert_int_equal(ok, 0);
	assert_int_equal(reply_store("", &ok), -1);
	assert_int_equal(reply_store("00", &ok), -1);
	assert_int_equal(reply_store("2", &ok), -1);
}

static void
test_page(void **state)
{
	uint64_t	 total;
	size_t		 n;

	(void)state;
	assert_int_equal(reply_page("0", &total, &n), 0);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);
	assert_int_equal(reply_page("3;30904465;1;Pérez", &total, &n), 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 3);
	assert_int_equal(reply_page("", &total, &n), -1);
	assert_int_equal(reply_page("3;", &total, &n), -1);
	assert_int_equal(reply_page("3;a;;b", &total, &n), -1);
	assert_int_equal(reply_page("x;1", &total, &n), -1);
	assert_int_equal(reply_page("1;12345678901", &total, &n), -1);
	assert_int_equal(reply_page("1;a:b", &total, &n), -1);
	assert_int_equal(reply_page("1;a\x01", &total, &n), -1);
	assert_int_equal(reply_page("1;\xe9", &total, &n), -1);
	assert_int_equal(reply_docs("", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(reply_docs("1;2", &n), 0);
	assert_int_equal(n, 2);
}

static void
test_body(void **state)
{
	(void)state;
	assert_string_equal(reply_body("StoreResponse:0", "StoreResponse"),
	    "0");
	assert_null(reply_body("StoreResponse0", "StoreResponse"));
	assert_null(reply_body("Store:0", "StoreResponse"));
	assert_string_equal(reply_body("NotReadyResponse:",
	    "NotReadyResponse"), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
