/*
 * log_test: the log line format, level parsing and filtering, errno
 * text, truncation of oversized lines and log_clean.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static int	saved_fd = -1;
static FILE	*capfile;

/* Send fd 1 to a temporary file until capture_end. */
static void
capture_begin(void)
{
	fflush(stdout);
	capfile = tmpfile();
	assert_non_null(capfile);
	saved_fd = dup(1);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(capfile), 1) == 1);
}

/* Restore fd 1 and return what was written (NUL-terminated). */
static size_t
capture_end(char *out, size_t cap)
{
	size_t	n;

	assert_true(dup2(saved_fd, 1) == 1);
	close(saved_fd);
	rewind(capfile);
	n = fread(out, 1, cap - 1, capfile);
	out[n] = '\0';
	fclose(capfile);
	return n;
}

static void
test_level_parse(void **state)
{
	enum log_level	l;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("INFO", &l), 0);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_int_equal(log_level_parse("Warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARNING);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LVL_WARNING);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("CRITICAL", &l), 0);
	assert_int_equal(l, LOG_LVL_CRITICAL);
	assert_int_equal(log_level_parse("LOUD", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_string_equal(log_level_name(LOG_LVL_WARNING), "WARNING");
	assert_string_equal(log_level_name(LOG_LVL_CRITICAL), "CRITICAL");
}

/* "YYYY-MM-DD HH:MM:SS " prefix with digits where digits belong. */
static void
assert_timestamp(const char *s)
{
	const char	*pat = "dddd-dd-dd dd:dd:dd ";
	size_t		 i;

	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else
			assert_int_equal(s[i], pat[i]);
	}
}

static void
test_format(void **state)
{
	char	out[4096];

	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	log_info("apuesta_almacenada", "success", "dni: %s | numero: %d",
	    "30904465", 7574);
	capture_end(out, sizeof(out));
	assert_timestamp(out);
	assert_string_equal(out + 20, "INFO action: apuesta_almacenada | "
	    "result: success | dni: 30904465 | numero: 7574\n");
}

static void
test_empty_tail(void **state)
{
	char	out[4096];

	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	log_info("sorteo", "success", "");
	log_info("sorteo", "success", "%s", "");
	capture_end(out, sizeof(out));
	/* Two lines, neither with a dangling separator. */
	assert_int_equal(strlen(out), 2 * 58);
	assert_memory_equal(out + 20, "INFO action: sorteo | result: success\n",
	    38);
	assert_string_equal(out + 58 + 20,
	    "INFO action: sorteo | result: success\n");
}

static void
test_errno(void **state)
{
	char	out[4096];
	size_t	n;

	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	errno = ENOENT;
	log_error_errno("open", "fail", "path: %s", "/x");
	assert_int_equal(errno, ENOENT);
	n = capture_end(out, sizeof(out));
	assert_true(n > 20);
	assert_string_equal(out + 20, "ERROR action: open | result: fail | "
	    "path: /x | error: No such file or directory\n");
}

static int	evaluated;

static int
side_effect(void)
{
	evaluated++;
	return 1;
}

static void
test_threshold(void **state)
{
	char	out[4096];
	size_t	n;

	(void)state;
	evaluated = 0;
	log_set_level(LOG_LVL_WARNING);
	capture_begin();
	log_info("x", "success", "v: %d", side_effect());
	log_debug("x", "success", "v: %d", side_effect());
	n = capture_end(out, sizeof(out));
	assert_int_equal(n, 0);
	assert_int_equal(evaluated, 0);
	capture_begin();
	log_warn("x", "fail", "v: %d", side_effect());
	n = capture_end(out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(evaluated, 1);
	assert_non_null(strstr(out, " WARNING action: x | result: fail | v: 1\n"));
	log_set_level(LOG_LVL_INFO);
}

static void
test_truncation(void **state)
{
	char	 out[8192], *big;
	size_t	 n;

	(void)state;
	big = malloc(5000);
	if (big == NULL) {
		fail();
		return;
	}
	memset(big, 'a', 4999);
	big[4999] = '\0';
	capture_begin();
	log_info("x", "success", "v: %s", big);
	n = capture_end(out, sizeof(out));
	free(big);
	assert_true(n <= 1024);
	assert_true(n > 1000);
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\n', n - 1));
}

static void
test_clean(void **state)
{
	char	dst[LOG_VALUE_MAX], src[200];

	(void)state;
	assert_string_equal(log_clean(dst, "a|b\nc\x7f" "d"), "a_b_c_d");
	assert_string_equal(log_clean(dst, "José"), "José");
	memset(src, 'x', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	assert_int_equal(strlen(log_clean(dst, src)), LOG_VALUE_MAX - 1);
	/* 62 ASCII bytes then "é": the 2-byte char does not fit whole. */
	memset(src, 'y', 62);
	strcpy(src + 62, "éz");
	log_clean(dst, src);
	assert_int_equal(strlen(dst), 62);
}

/* Held lines go out whole, in order, at log_release or when full. */
static void
test_hold(void **state)
{
	char	buf[256], hold[200];
	size_t	n;

	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	log_hold(hold, sizeof(hold));
	log_info("uno", "success", "n: %d", 1);
	log_info("dos", "success", "n: %d", 2);
	assert_int_equal(lseek(1, 0, SEEK_CUR), 0);	/* nothing out yet */
	log_release();
	n = capture_end(buf, sizeof(buf));
	assert_non_null(strstr(buf, "action: uno | result: success | n: 1\n"));
	assert_non_null(strstr(buf, "action: dos | result: success | n: 2\n"));
	assert_true(strstr(buf, "uno") < strstr(buf, "dos"));
	assert_int_equal(buf[n - 1], '\n');
	/* Released: lines go out at once again. */
	capture_begin();
	log_info("tres", "success", "%s", "");
	assert_true(lseek(1, 0, SEEK_CUR) > 0);
	n = capture_end(buf, sizeof(buf));
	assert_non_null(strstr(buf, "action: tres"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_empty_tail),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
