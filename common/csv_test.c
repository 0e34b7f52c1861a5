/*
 * csv_test: QUOTE_MINIMAL rows as Python writes them, splitting them back,
 * and the streaming reader: CRLF and LF endings, a last line without a
 * newline, over-long lines, lines cut across buffer refills, offsets.
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

#include "csv.h"

static void
setbet(struct bet *b, const char *first, const char *last, const char *doc)
{
	memset(b, 0, sizeof(*b));
	b->agency = 3;
	b->number = 7574;
	strcpy(b->first, first);
	strcpy(b->last, last);
	strcpy(b->doc, doc);
	strcpy(b->birth, "1999-03-17");
}

static void
test_format(void **state)
{
	struct bet	b;
	char		row[CSV_ROW_MAX];
	size_t		n;

	(void)state;
	setbet(&b, "Ana", "Pérez", "30904465");
	n = csv_format_bet(&b, row, sizeof(row));
	assert_string_equal(row, "3,Ana,Pérez,30904465,1999-03-17,7574\r\n");
	assert_int_equal(n, strlen(row));
	setbet(&b, "Ana, María", "O\"Brien", "1");
	csv_format_bet(&b, row, sizeof(row));
	assert_string_equal(row,
	    "3,\"Ana, María\",\"O\"\"Brien\",1,1999-03-17,7574\r\n");
	setbet(&b, "\"", "a b", "'x'");
	csv_format_bet(&b, row, sizeof(row));
	assert_string_equal(row, "3,\"\"\"\",a b,'x',1999-03-17,7574\r\n");
	/* Too small a buffer gives 0, never a cut row. */
	setbet(&b, "Ana", "Pérez", "30904465");
	assert_int_equal(csv_format_bet(&b, row, 20), 0);
	assert_int_equal(csv_format_bet(&b, row, n), 0);
	assert_int_equal(csv_format_bet(&b, row, n + 1), n);
}

static void
test_worst_row_fits(void **state)
{
	struct bet	b;
	char		row[CSV_ROW_MAX], q[BET_NAME_MAX + 1];

	(void)state;
	memset(q, '"', BET_NAME_MAX);
	q[BET_NAME_MAX] = '\0';
	setbet(&b, q, q, "\"\"\"\"\"\"\"\"\"\"");
	assert_true(csv_format_bet(&b, row, sizeof(row)) > 0);
}

static void
test_split(void **state)
{
	char	 line[256], *f[8];

	(void)state;
	strcpy(line, "Ana,Pérez,30904465,1999-03-17,7574");
	assert_int_equal(csv_split(line, f, 8), 5);
	assert_string_equal(f[0], "Ana");
	assert_string_equal(f[1], "Pérez");
	assert_string_equal(f[4], "7574");
	strcpy(line, "3,\"Ana, María\",\"O\"\"Brien\",1,,\"\"");
	assert_int_equal(csv_split(line, f, 8), 6);
	assert_string_equal(f[0], "3");
	assert_string_equal(f[1], "Ana, María");
	assert_string_equal(f[2], "O\"Brien");
	assert_string_equal(f[3], "1");
	assert_string_equal(f[4], "");
	assert_string_equal(f[5], "");
	strcpy(line, "\"\"\"\"");
	assert_int_equal(csv_split(line, f, 8), 1);
	assert_string_equal(f[0], "\"");
	strcpy(line, "");
	assert_int_equal(csv_split(line, f, 8), 1);
	assert_string_equal(f[0], "");
	strcpy(line, "a,b,c");
	assert_int_equal(csv_split(line, f, 2), -1);
	strcpy(line, "a,\"b");
	assert_int_equal(csv_split(line, f, 8), -1);
	strcpy(line, "a,\"b\"x,c");
	assert_int_equal(csv_split(line, f, 8), -1);
}

static void
test_format_split_roundtrip(void **state)
{
	struct bet	b;
	char		row[CSV_ROW_MAX], *f[8];
	size_t		n;

	(void)state;
	setbet(&b, "a,\"b\",c", "\"", "x,y");
	n = csv_format_bet(&b, row, sizeof(row));
	row[n - 2] = '\0';
	assert_int_equal(csv_split(row, f, 8), 6);
	assert_string_equal(f[1], "a,\"b\",c");
	assert_string_equal(f[2], "\"");
	assert_string_equal(f[3], "x,y");
	assert_string_equal(f[5], "7574");
}

/* A temporary file holding data[0..len), opened for reading. */
static int
tmpfd(const void *data, size_t len)
{
	char	path[] = "/tmp/csv_test.XXXXXX";
	int	fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static struct csv_reader	rd;

static void
test_reader_endings(void **state)
{
	const char	*data = "a,b\r\nc\n\r\nlast";
	char		*line;
	size_t		 len;
	int		 fd;

	(void)state;
	fd = tmpfd(data, strlen(data));
	csv_reader_init(&rd, fd, 0);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "a,b");
	assert_int_equal(len, 3);
	assert_int_equal(rd.lineno, 1);
	assert_int_equal(rd.offset, 5);
	assert_false(rd.partial);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "c");
	assert_int_equal(rd.offset, 7);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "");
	assert_int_equal(len, 0);
	assert_int_equal(rd.offset, 9);
	assert_false(rd.toolong);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "last");
	assert_true(rd.partial);
	assert_int_equal(rd.lineno, 4);
	assert_int_equal(rd.offset, strlen(data));
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	close(fd);

	/* Empty file. */
	fd = tmpfd("", 0);
	csv_reader_init(&rd, fd, 0);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	close(fd);

	/* Read error. */
	csv_reader_init(&rd, -1, 0);
	assert_int_equal(csv_reader_next(&rd, &line, &len), -1);
}

static void
test_reader_base(void **state)
{
	const char	*data = "skip\nx,y\r\nz\n";
	char		*line;
	size_t		 len;
	int		 fd;

	(void)state;
	fd = tmpfd(data, strlen(data));
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
	csv_reader_init(&rd, fd, 5);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "x,y");
	assert_int_equal(rd.offset, 10);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "z");
	assert_int_equal(rd.offset, 12);
	assert_false(rd.partial);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	close(fd);
}

static void
test_reader_toolong(void **state)
{
	size_t	 cap = 300000, n = 0, len;
	char	*data = malloc(cap), *line;
	int	 fd;

	(void)state;
	if (data == NULL) {
		fail();
		return;
	}
	n += (size_t)sprintf(data + n, "first\r\n");
	memset(data + n, 'x', 2000);		/* long, within one buffer */
	n += 2000;
	n += (size_t)sprintf(data + n, "\r\nsecond\n");
	memset(data + n, 'y', CSV_LINE_MAX);	/* exactly the limit, CRLF */
	n += CSV_LINE_MAX;
	n += (size_t)sprintf(data + n, "\r\n");
	memset(data + n, 'z', 150000);		/* spans several refills */
	n += 150000;
	n += (size_t)sprintf(data + n, "\nthird\n");
	memset(data + n, 'w', 5000);		/* long and unterminated */
	n += 5000;
	fd = tmpfd(data, n);
	csv_reader_init(&rd, fd, 0);

	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "first");
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_true(rd.toolong);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
	assert_int_equal(rd.lineno, 2);
	assert_int_equal(rd.offset, 7 + 2002);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_false(rd.toolong);
	assert_string_equal(line, "second");
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_false(rd.toolong);
	assert_int_equal(len, CSV_LINE_MAX);
	assert_int_equal(line[0], 'y');
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_true(rd.toolong);
	assert_int_equal(len, 0);
	assert_int_equal(rd.lineno, 5);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_false(rd.toolong);
	assert_string_equal(line, "third");
	assert_int_equal(rd.lineno, 6);
	assert_int_equal(rd.offset, n - 5000);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_true(rd.toolong);
	assert_true(rd.partial);
	assert_int_equal(len, 0);
	assert_int_equal(rd.lineno, 7);
	assert_int_equal(rd.offset, n);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	close(fd);
	free(data);
}

/* Many lines of varying length: every line across refills comes back. */
static void
test_reader_refills(void **state)
{
	size_t		 cap = 1 << 20, n = 0, len, i, count = 0;
	uint64_t	 off = 0;
	char		*data = malloc(cap), *line, want[600];
	int		 fd;

	(void)state;
	if (data == NULL) {
		fail();
		return;
	}
	for (i = 0; n + 700 < cap && i < 5000; i++) {
		int k = sprintf(data + n, "%zu,", i);

		memset(data + n + k, 'a' + (int)(i % 26), i % 500);
		k += (int)(i % 500);
		n += (size_t)k;
		n += (size_t)sprintf(data + n, "%s", i % 2 ? "\r\n" : "\n");
	}
	fd = tmpfd(data, n);
	csv_reader_init(&rd, fd, 0);
	while (csv_reader_next(&rd, &line, &len) == 1) {
		int k = sprintf(want, "%zu,", count);

		memset(want + k, 'a' + (int)(count % 26), count % 500);
		want[k + (int)(count % 500)] = '\0';
		assert_string_equal(line, want);
		assert_int_equal(len, strlen(want));
		off += len + (count % 2 ? 2 : 1);
		assert_int_equal(rd.offset, off);
		assert_false(rd.toolong);
		assert_false(rd.partial);
		count++;
		assert_int_equal(rd.lineno, count);
	}
	assert_int_equal(count, i);
	assert_int_equal(rd.offset, n);
	assert_true(n > 2 * CSV_BUF_SIZE);
	close(fd);
	free(data);
}

/* A pipe delivers a line in pieces: the reader must join them. */
static void
test_reader_pipe(void **state)
{
	int	 p[2];
	char	*line;
	size_t	 len;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "ab", 2), 2);
	csv_reader_init(&rd, p[0], 0);
	assert_int_equal(write(p[1], "c\r", 2), 2);
	assert_int_equal(write(p[1], "\nd", 2), 2);
	close(p[1]);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "abc");
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "d");
	assert_true(rd.partial);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	close(p[0]);
}

/*
 * A reader held to a small share of its buffer: lines cross many refills,
 * a longest line still fits, a longer one is reported, and nothing is
 * read past the share.
 */
static void
test_reader_cap(void **state)
{
	static char	 data[40000];
	char		*line, want[CSV_LINE_MAX + 1];
	size_t		 len, off = 0;
	int		 fd, i;

	(void)state;
	memset(want, 'w', CSV_LINE_MAX);
	want[CSV_LINE_MAX] = '\0';
	for (i = 0; i < 2000; i++)
		off += (size_t)snprintf(data + off, sizeof(data) - off,
		    "row-%d\n", i);
	off += (size_t)snprintf(data + off, sizeof(data) - off, "%s\n", want);
	memset(data + off, 'x', CSV_LINE_MAX + 1);
	off += CSV_LINE_MAX + 1;
	data[off++] = '\n';
	off += (size_t)snprintf(data + off, sizeof(data) - off, "end");
	fd = tmpfd(data, off);
	memset(rd.buf, 0, sizeof(rd.buf));
	csv_reader_init(&rd, fd, 0);
	csv_reader_cap(&rd, 1);		/* raised to the least */
	assert_int_equal(rd.cap, CSV_READER_MIN);
	for (i = 0; i < 2000; i++) {
		char	 row[16];

		snprintf(row, sizeof(row), "row-%d", i);
		assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
		assert_string_equal(line, row);
	}
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_false(rd.toolong);
	assert_string_equal(line, want);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_true(rd.toolong);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 1);
	assert_string_equal(line, "end");
	assert_true(rd.partial);
	assert_int_equal(rd.offset, off);
	assert_int_equal(csv_reader_next(&rd, &line, &len), 0);
	/* Nothing landed past the share. */
	for (size_t k = CSV_READER_MIN; k < sizeof(rd.buf); k++)
		assert_int_equal(rd.buf[k], 0);
	csv_reader_cap(&rd, 1 << 30);
	assert_int_equal(rd.cap, sizeof(rd.buf));
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_worst_row_fits),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_format_split_roundtrip),
		cmocka_unit_test(test_reader_endings),
		cmocka_unit_test(test_reader_base),
		cmocka_unit_test(test_reader_toolong),
		cmocka_unit_test(test_reader_refills),
		cmocka_unit_test(test_reader_cap),
		cmocka_unit_test(test_reader_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
