/*
 * bet_test: every rule a bet field must obey, one failing case each, and
 * the edges that must still pass (limits, leap days, accents).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bet.h"

/* Build a bet from five strings; returns bet_from_fields' result. */
static int
mk(struct bet *b, const char *first, const char *last, const char *doc,
    const char *birth, const char *num, char *err, size_t errlen)
{
	char	f0[256], f1[256], f2[256], f3[256], f4[256];
	char	*f[BET_NFIELDS] = { f0, f1, f2, f3, f4 };

	strcpy(f0, first);
	strcpy(f1, last);
	strcpy(f2, doc);
	strcpy(f3, birth);
	strcpy(f4, num);
	err[0] = '\0';
	return bet_from_fields(b, 7, f, err, errlen);
}

static void
test_valid(void **state)
{
	struct bet	b;
	char		err[64];

	(void)state;
	assert_int_equal(mk(&b, "José", "Núñez", "30904465", "1999-03-17",
	    "7574", err, sizeof(err)), 0);
	assert_int_equal(b.agency, 7);
	assert_int_equal(b.number, 7574);
	assert_string_equal(b.first, "José");
	assert_string_equal(b.last, "Núñez");
	assert_string_equal(b.doc, "30904465");
	assert_string_equal(b.birth, "1999-03-17");
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "0", err,
	    sizeof(err)), 0);
	assert_int_equal(b.number, 0);
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "0042", err,
	    sizeof(err)), 0);
	assert_int_equal(b.number, 42);
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "9999", err,
	    sizeof(err)), 0);
	/* Leading zeros, however many, are read as the number they pad. */
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "07574", err,
	    sizeof(err)), 0);
	assert_int_equal(b.number, 7574);
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "00042", err,
	    sizeof(err)), 0);
	assert_int_equal(b.number, 42);
	assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01", "0000000000", err,
	    sizeof(err)), 0);
	assert_int_equal(b.number, 0);
	/* Quotes and commas are legal in a name; only ; and : are not. */
	assert_int_equal(mk(&b, "O\"Brien, Jr", "B", "1", "2000-01-01", "1",
	    err, sizeof(err)), 0);
}

static void
test_lengths(void **state)
{
	struct bet	b;
	char		err[64], name[128], acc[128];
	int		i;

	(void)state;
	memset(name, 'x', 50);
	name[50] = '\0';
	assert_int_equal(mk(&b, name, name, "1234567890", "2000-01-01", "1",
	    err, sizeof(err)), 0);
	assert_string_equal(b.first, name);
	name[50] = 'x';
	name[51] = '\0';
	assert_int_equal(mk(&b, name, "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "first name too long");
	assert_int_equal(mk(&b, "A", name, "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "last name too long");
	assert_int_equal(mk(&b, "A", "B", "12345678901", "2000-01-01", "1",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "document too long");
	/* The limit is in bytes: 25 "é" fit, 26 do not. */
	acc[0] = '\0';
	for (i = 0; i < 25; i++)
		strcat(acc, "é");
	assert_int_equal(mk(&b, acc, "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), 0);
	strcat(acc, "é");
	assert_int_equal(mk(&b, acc, "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_int_equal(mk(&b, "", "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "empty first name");
	assert_int_equal(mk(&b, "A", "", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_int_equal(mk(&b, "A", "B", "", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "empty document");
}

static void
test_bad_bytes(void **state)
{
	struct bet	b;
	char		err[64];

	(void)state;
	assert_int_equal(mk(&b, "A;B", "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "separator in first name");
	assert_int_equal(mk(&b, "A", "B:C", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "separator in last name");
	assert_int_equal(mk(&b, "A", "B", "1;2", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "separator in document");
	assert_int_equal(mk(&b, "A\tB", "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "control byte in first name");
	assert_int_equal(mk(&b, "A", "B\x7f", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "control byte in last name");
	assert_int_equal(mk(&b, "A", "B", "1\r", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "control byte in document");
	assert_int_equal(mk(&b, "A\xc3", "B", "1", "2000-01-01", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad UTF-8 in first name");
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(bet_valid_utf8("", 0));
	assert_true(bet_valid_utf8("abc", 3));
	assert_true(bet_valid_utf8("\xc3\xa9", 2));		/* é */
	assert_true(bet_valid_utf8("\xe2\x82\xac", 3));		/* € */
	assert_true(bet_valid_utf8("\xf0\x9f\x98\x80", 4));	/* U+1F600 */
	assert_true(bet_valid_utf8("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	assert_false(bet_valid_utf8("\xc0\xaf", 2));		/* overlong / */
	assert_false(bet_valid_utf8("\xc1\xbf", 2));		/* overlong */
	assert_false(bet_valid_utf8("\xe0\x80\xaf", 3));	/* overlong */
	assert_false(bet_valid_utf8("\xf0\x80\x80\xaf", 4));	/* overlong */
	assert_false(bet_valid_utf8("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(bet_valid_utf8("\xed\xbf\xbf", 3));	/* surrogate */
	assert_false(bet_valid_utf8("\xf4\x90\x80\x80", 4));	/* > 10FFFF */
	assert_false(bet_valid_utf8("\xf8\x88\x80\x80\x80", 5));
	assert_false(bet_valid_utf8("\x80", 1));		/* lone cont. */
	assert_false(bet_valid_utf8("\xc3", 1));		/* cut short */
	assert_false(bet_valid_utf8("\xe2\x82", 2));
	assert_false(bet_valid_utf8("\xc3\x28", 2));		/* bad cont. */
	assert_false(bet_valid_utf8("\xff", 1));
	/* Length is honoured: the bad byte past len is not looked at. */
	assert_true(bet_valid_utf8("ab\xff", 2));
}

static void
test_dates(void **state)
{
	(void)state;
	assert_true(bet_valid_date("1999-03-17"));
	assert_true(bet_valid_date("2000-02-29"));	/* div by 400 */
	assert_true(bet_valid_date("2024-02-29"));
	assert_false(bet_valid_date("1900-02-29"));	/* div by 100 */
	assert_false(bet_valid_date("2023-02-29"));
	assert_true(bet_valid_date("2023-02-28"));
	assert_false(bet_valid_date("2023-02-30"));
	assert_false(bet_valid_date("2023-04-31"));
	assert_true(bet_valid_date("2023-12-31"));
	assert_false(bet_valid_date("2023-12-32"));
	assert_false(bet_valid_date("2023-13-01"));
	assert_false(bet_valid_date("2023-00-10"));
	assert_false(bet_valid_date("2023-01-00"));
	assert_true(bet_valid_date("0001-01-01"));
	assert_true(bet_valid_date("9999-12-31"));
	assert_false(bet_valid_date("0000-01-01"));
	assert_false(bet_valid_date("2023-1-01"));
	assert_false(bet_valid_date("2023/01/01"));
	assert_false(bet_valid_date("2023-01-011"));
	assert_false(bet_valid_date("+023-01-01"));
	assert_false(bet_valid_date("2023-01- 1"));
	assert_false(bet_valid_date(""));
}

static void
test_days_in_month(void **state)
{
	(void)state;
	assert_int_equal(bet_days_in_month(2023, 1), 31);
	assert_int_equal(bet_days_in_month(2023, 2), 28);
	assert_int_equal(bet_days_in_month(2024, 2), 29);
	assert_int_equal(bet_days_in_month(1900, 2), 28);
	assert_int_equal(bet_days_in_month(2000, 2), 29);
	assert_int_equal(bet_days_in_month(2023, 4), 30);
	assert_int_equal(bet_days_in_month(2023, 12), 31);
	assert_int_equal(bet_days_in_month(2023, 0), 0);
	assert_int_equal(bet_days_in_month(2023, 13), 0);
}

static void
test_bad_date_and_number(void **state)
{
	struct bet	b;
	char		err[64];
	const char	*badnum[] = { "10000", "-1", "+1", " 1", "1 ", "",
	    "1a", "0x1", "12345", "010000", "0;1", "1.0" };
	size_t		i;

	(void)state;
	assert_int_equal(mk(&b, "A", "B", "1", "2023-02-29", "1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad birthdate");
	for (i = 0; i < sizeof(badnum) / sizeof(badnum[0]); i++) {
		assert_int_equal(mk(&b, "A", "B", "1", "2000-01-01",
		    badnum[i], err, sizeof(err)), -1);
		assert_string_equal(err, "bad number");
	}
}

static void
test_agency(void **state)
{
	uint32_t	a = 0;

	(void)state;
	assert_int_equal(bet_parse_agency("1", &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(bet_parse_agency("2147483647", &a), 0);
	assert_int_equal(a, UINT32_MAX / 2);
	assert_int_equal(bet_parse_agency("2147483648", &a), -1);
	assert_int_equal(bet_parse_agency("4294967297", &a), -1);
	assert_int_equal(bet_parse_agency("99999999999999999999999", &a), -1);
	assert_int_equal(bet_parse_agency("0", &a), -1);
	assert_int_equal(bet_parse_agency("", &a), -1);
	assert_int_equal(bet_parse_agency("-1", &a), -1);
	assert_int_equal(bet_parse_agency("+1", &a), -1);
	assert_int_equal(bet_parse_agency(" 1", &a), -1);
	assert_int_equal(bet_parse_agency("1 ", &a), -1);
	assert_int_equal(bet_parse_agency("1a", &a), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_days_in_month),
		cmocka_unit_test(test_bad_date_and_number),
		cmocka_unit_test(test_agency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
