/*
 * agency_test: the agency file reader on small files: CRLF and LF endings,
 * quoted fields, blank lines, a last line without a newline, bad rows
 * counted once across rewinds, a NUL byte inside a row, the row count, and
 * a missing file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agency.h"

static char	 dir[] = "/tmp/agency_test.XXXXXX";
static char	 path[256];
static struct agency_file file;

static void
write_file(const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Read the whole file; returns the number of valid bets. */
static int
read_all(struct bet *last)
{
	struct bet	 b;
	int		 n = 0, r;

	while ((r = agency_next(&file, &b)) == 1) {
		n++;
		if (last != NULL)
			*last = b;
	}
	assert_int_equal(r, 0);
	return n;
}

static void
test_crlf_and_bad_rows(void **state)
{
	struct bet	 b;
	char		 err[256];

	(void)state;
	write_file("Ana,P\xc3\xa9rez,30904465,1999-03-17,7574\r\n"
	    "Luis,G\xc3\xb3mez,123,1999-02-30,5\r\n"
	    "\r\n"
	    "solo,tres,campos\r\n"
	    "Mara,\"Di, Pietro\",55,2000-01-01,17\r\n");
	assert_int_equal(agency_open(&file, dir, 1, err, sizeof(err)), 0);
	assert_int_equal(read_all(&b), 2);
	assert_string_equal(b.last, "Di, Pietro");
	assert_int_equal(b.number, 17);
	assert_int_equal(b.agency, 1);
	assert_int_equal(file.rejected, 2);
	/* A second pass finds the same bets but counts no bad row again. */
	assert_int_equal(agency_rewind(&file), 0);
	assert_int_equal(read_all(NULL), 2);
	assert_int_equal(file.valid, 2);
	assert_int_equal(file.rejected, 2);
	agency_close(&file);
}

static void
test_lf_no_final_newline(void **state)
{
	struct bet	 b;
	char		 err[256];

	(void)state;
	write_file("\xef\xbb\xbf" "Ana,Paz,1,1999-03-17,1\nEva,Ruiz,77,1970-12-31,42");
	assert_int_equal(agency_open(&file, dir, 1, err, sizeof(err)), 0);
	assert_int_equal(read_all(&b), 2);
	assert_string_equal(b.first, "Eva");
	assert_string_equal(b.doc, "77");
	assert_int_equal(file.rejected, 0);
	agency_close(&file);
}

/* A NUL byte inside a row rejects the row; it is never cut short there. */
static void
test_nul_byte(void **state)
{
	static const char text[] = "Ana,Paz,1,1999-03-17,1\r\n"
	    "Eva,Ruiz,77,1970-12-31,42\0junk\r\n"
	    "Luz,Sol,78,1970-12-31,43\r\n";
	struct bet	 b;
	char		 err[256];
	FILE		*fp;

	(void)state;
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, fp),
	    sizeof(text) - 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(agency_open(&file, dir, 1, err, sizeof(err)), 0);
	assert_int_equal(read_all(&b), 2);
	assert_string_equal(b.first, "Luz");
	assert_int_equal(file.rejected, 1);
	agency_close(&file);
}

/*
 * agency_rows counts every line, blank and bad ones too, and a last one
 * without a newline, across its buffer's edge, and leaves the reading
 * position alone.
 */
static void
test_rows(void **state)
{
	struct bet	 b;
	char		 err[256], *text;
	uint64_t	 n;
	size_t		 i, len = 0;

	(void)state;
	/* 3000 rows of 19 bytes: more than one 16 KiB read. */
	assert_non_null(text = malloc(3000 * 19 + 64));
	for (i = 0; i < 3000; i++)
		len += (size_t)sprintf(text + len, "A,B,1,2000-01-01,%d\n",
		    (int)(i % 10));
	strcpy(text + len, "\nbad\nA,B,1,2000-01-01,7");
	write_file(text);
	free(text);
	assert_int_equal(agency_open(&file, dir, 1, err, sizeof(err)), 0);
	assert_int_equal(agency_next(&file, &b), 1);
	assert_int_equal(agency_rows(&file, &n), 0);
	assert_int_equal(n, 3003);
	/* The stream goes on from its second row. */
	assert_int_equal(read_all(NULL), 3000);
	agency_close(&file);
	write_file("");
	assert_int_equal(agency_open(&file, dir, 1, err, sizeof(err)), 0);
	assert_int_equal(agency_rows(&file, &n), 0);
	assert_int_equal(n, 0);
	agency_close(&file);
}

static void
test_missing(void **state)
{
	char	 err[256];

	(void)state;
	assert_int_equal(agency_open(&file, dir, 99, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "agency-99.csv"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf_and_bad_rows),
		cmocka_unit_test(test_lf_no_final_newline),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_missing),
	};
	int	 rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/agency-1.csv", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
