/*
 * store_test: the shared-state rules against real files in a temporary
 * directory.  Two store handles on one directory stand for two replicas:
 * their OFD locks and indexes are as independent as two processes'.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io.h"
#include "log.h"
#include "store.h"

static char dir[64];

static struct bet
mkbet(uint32_t agency, const char *doc, unsigned number)
{
	struct bet	b;

	memset(&b, 0, sizeof(b));
	b.agency = agency;
	b.number = (uint16_t)number;
	strlcpy(b.first, "Ana María", sizeof(b.first));
	strlcpy(b.last, "O'Brien, \"Jr\"", sizeof(b.last));
	strlcpy(b.doc, doc, sizeof(b.doc));
	strlcpy(b.birth, "1990-02-28", sizeof(b.birth));
	return b;
}

static char *
slurp(const char *name)
{
	static char	buf[65536];
	char		path[128];
	FILE		*fp;
	size_t		n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
setup(void **state)
{
	(void)state;
	strlcpy(dir, "/tmp/store_test.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct store *
open_store(uint32_t agencies)
{
	char		 err[128];
	struct store	*s;

	static volatile sig_atomic_t	 stop;
	struct store_opts		 o = { agencies, 1000, &stop, 500 };

	s = store_open(dir, &o, err, sizeof(err));
	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static void
test_rows_are_python_csv(void **state)
{
	struct store	*s = open_store(2);
	struct bet	 b = mkbet(1, "30904465", 7574);
	size_t		 w;

	(void)state;
	assert_int_equal(store_append(s, 1, &b, 1, STORE_NO_POS, &w),
	    STORE_OK);
	assert_string_equal(slurp("bets.csv"), "1,Ana María,\"O'Brien, "
	    "\"\"Jr\"\"\",30904465,1990-02-28,7574\r\n");
	store_close(s);
}

static void
test_positions_store_each_bet_once(void **state)
{
	struct store	*a = open_store(2), *b = open_store(2);
	struct bet	 bets[3] = { mkbet(1, "1", 1), mkbet(1, "2", 2),
			    mkbet(1, "3", 3) };
	uint64_t	 stored;
	size_t		 w;
	int		 closed;

	(void)state;
	assert_int_equal(store_append(a, 1, bets, 2, 0, &w), STORE_OK);
	assert_int_equal(w, 2);
	/* The same batch again, through the other replica. */
	assert_int_equal(store_append(b, 1, bets, 2, 0, &w), STORE_DUPLICATE);
	/* Overlapping: only the third bet is new. */
	assert_int_equal(store_append(b, 1, bets, 3, 0, &w), STORE_OK);
	assert_int_equal(w, 1);
	assert_int_equal(store_append(a, 1, bets, 1, 7, &w), STORE_GAP);
	assert_int_equal(store_status(a, 1, &stored, &closed), 0);
	assert_int_equal(stored, 3);
	assert_int_equal(closed, 0);
	assert_int_equal(store_status(a, 2, &stored, &closed), 0);
	assert_int_equal(stored, 0);
	store_close(a);
	store_close(b);
}

static void
test_torn_tail_is_cut(void **state)
{
	struct store	*s = open_store(2);
	struct bet	 b = mkbet(2, "9", 9);
	char		 path[128];
	uint64_t	 stored;
	size_t		 w;
	int		 fd, closed;

	(void)state;
	assert_int_equal(store_append(s, 2, &b, 1, 0, &w), STORE_OK);
	/* A replica killed mid-write left half a row. */
	snprintf(path, sizeof(path), "%s/bets.csv", dir);
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) != -1);
	assert_int_equal(write(fd, "2,Half,Row", 10), 10);
	close(fd);
	assert_int_equal(store_status(s, 2, &stored, &closed), 0);
	assert_int_equal(stored, 1);
	b = mkbet(2, "10", 10);
	assert_int_equal(store_append(s, 2, &b, 1, 1, &w), STORE_OK);
	assert_string_equal(slurp("bets.csv"),
	    "2,Ana María,\"O'Brien, \"\"Jr\"\"\",9,1990-02-28,9\r\n"
	    "2,Ana María,\"O'Brien, \"\"Jr\"\"\",10,1990-02-28,10\r\n");
	store_close(s);
}

static void
test_draw_once_and_winners_per_agency(void **state)
{
	struct store	*a = open_store(2), *b = open_store(2);
	struct bet	 one[2] = { mkbet(1, "111", 7574), mkbet(1, "112", 1) };
	struct bet	 two[2] = { mkbet(2, "221", 7574), mkbet(2, "222", 7574) };
	char		 out[4][BET_DOC_MAX + 1];
	size_t		 w, n;
	uint64_t	 t;
	int		 draw;

	(void)state;
	assert_int_equal(store_append(a, 1, one, 2, 0, &w), STORE_OK);
	assert_int_equal(store_append(b, 2, two, 2, 0, &w), STORE_OK);
	assert_int_equal(store_winners(a, 1, 0, out, 4, &n, &t), 0);
	assert_int_equal(store_close_agency(a, 1, &draw), 0);
	assert_int_equal(draw, 0);
	assert_int_equal(store_close_agency(b, 1, &draw), 0);
	assert_int_equal(draw, 0);
	/* A closed agency stores nothing more. */
	assert_int_equal(store_append(b, 1, one, 1, STORE_NO_POS, &w),
	    STORE_CLOSED);
	assert_int_equal(store_winners(b, 2, 0, out, 4, &n, &t), 0);
	assert_int_equal(store_close_agency(b, 2, &draw), 0);
	assert_int_equal(draw, 1);
	assert_int_equal(store_close_agency(a, 2, &draw), 0);
	assert_int_equal(draw, 0);
	assert_string_equal(slurp("agencies_closed.txt"), "1\n2\n");
	assert_int_equal(store_winners(a, 1, 0, out, 4, &n, &t), 1);
	assert_string_equal(out[0], "111");
	assert_int_equal(n, 1);
	assert_int_equal(store_winners(a, 2, 0, out, 4, &n, &t), 1);
	assert_string_equal(out[0], "221");
	assert_string_equal(out[1], "222");
	assert_int_equal(n, 2);
	assert_int_equal(t, 2);
	/* A page holds what the caller has room for; the next starts where
	 * it ended. */
	assert_int_equal(store_winners(a, 2, 0, out, 1, &n, &t), 1);
	assert_string_equal(out[0], "221");
	assert_int_equal(n, 1);
	assert_int_equal(t, 2);
	assert_int_equal(store_winners(a, 2, 1, out, 1, &n, &t), 1);
	assert_string_equal(out[0], "222");
	assert_int_equal(store_winners(a, 2, 2, out, 1, &n, &t), 1);
	assert_int_equal(n, 0);
	assert_int_equal(t, 2);
	store_close(a);
	store_close(b);
}

static void
test_reopen_rebuilds_index(void **state)
{
	struct store	*s = open_store(3);
	struct bet	 b[2] = { mkbet(3, "1", 1), mkbet(3, "2", 2) };
	uint64_t	 stored;
	size_t		 w;
	int		 closed;

	(void)state;
	assert_int_equal(store_append(s, 3, b, 2, 0, &w), STORE_OK);
	store_close(s);
	s = open_store(3);
	assert_int_equal(store_append(s, 3, b, 2, 0, &w), STORE_DUPLICATE);
	assert_int_equal(store_status(s, 3, &stored, &closed), 0);
	assert_int_equal(stored, 2);
	assert_int_equal(store_append(s, 4, b, 2, 0, &w), STORE_ERR);
	store_close(s);
}

/* Write text as the whole of name, as an operator's tool would. */
static void
spit(const char *name, const char *text)
{
	char	path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void
test_rewrite_is_reindexed(void **state)
{
	struct store	*s = open_store(2);
	struct bet	 b[2] = { mkbet(1, "11", 1), mkbet(1, "12", 2) };
	uint64_t	 stored;
	size_t		 w;
	int		 closed;

	(void)state;
	assert_int_equal(store_append(s, 1, b, 2, 0, &w), STORE_OK);
	/* Emptied and regrown past the index by other rows. */
	spit("bets.csv", "2,Eva,Paz,21,1990-01-01,1\r\n"
	    "2,Eva,Paz,22,1990-01-01,2\r\n2,Eva,Paz,23,1990-01-01,3\r\n"
	    "2,Eva,Paz,24,1990-01-01,4\r\n2,Eva,Paz,25,1990-01-01,5\r\n");
	assert_int_equal(store_status(s, 1, &stored, &closed), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(store_status(s, 2, &stored, &closed), 0);
	assert_int_equal(stored, 5);
	assert_int_equal(store_append(s, 1, b, 2, 0, &w), STORE_OK);
	assert_int_equal(w, 2);
	store_close(s);
}

static void
test_replaced_file_is_reopened(void **state)
{
	struct store	*s = open_store(2);
	struct bet	 b[2] = { mkbet(1, "11", 1), mkbet(1, "12", 2) };
	char		 from[128], to[128];
	size_t		 w;

	(void)state;
	assert_int_equal(store_append(s, 1, b, 1, 0, &w), STORE_OK);
	spit("copy", slurp("bets.csv"));
	snprintf(from, sizeof(from), "%s/copy", dir);
	snprintf(to, sizeof(to), "%s/bets.csv", dir);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(store_append(s, 1, b + 1, 1, 1, &w), STORE_OK);
	assert_int_equal(w, 1);
	assert_non_null(strstr(slurp("bets.csv"), ",12,"));
	/* Removed altogether: a new one is made. */
	assert_int_equal(unlink(to), 0);
	b[0] = mkbet(2, "21", 1);
	assert_int_equal(store_append(s, 2, b, 1, 0, &w), STORE_OK);
	assert_string_equal(slurp("bets.csv"), "2,Ana María,\"O'Brien, "
	    "\"\"Jr\"\"\",21,1990-02-28,1\r\n");
	store_close(s);
}

static void
test_agency_count_is_recorded(void **state)
{
	static volatile sig_atomic_t	 stop;
	struct store_opts		 o = { 3, 1000, &stop, 500 };
	struct store			*s = open_store(2);
	char				 err[256];

	(void)state;
	store_close(s);
	assert_string_equal(slurp("cluster.meta"), "AGENCIES_AMOUNT=2\n");
	assert_null(store_open(dir, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "AGENCIES_AMOUNT=2"));
	assert_non_null(strstr(err, "AGENCIES_AMOUNT=3"));
	s = open_store(2);
	store_close(s);
}

/* Hold a write lock on bets.csv from another open file, as a replica would. */
static int
hold_bets_lock(void)
{
	struct flock	fl;
	char		path[128];
	int		fd;

	snprintf(path, sizeof(path), "%s/bets.csv", dir);
	assert_true((fd = open(path, O_RDWR)) != -1);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	return fd;
}

static void
test_lock_wait_has_a_deadline(void **state)
{
	static volatile sig_atomic_t	 stop;
	struct store_opts		 o = { 2, 300, &stop, 500 };
	struct store			*s;
	struct bet			 b = mkbet(1, "11", 1);
	char				 err[128];
	uint64_t			 stored;
	long long			 t0;
	size_t				 w;
	int				 closed, fd;

	(void)state;
	assert_non_null(s = store_open(dir, &o, err, sizeof(err)));
	fd = hold_bets_lock();
	t0 = io_now_ms();
	assert_int_equal(store_append(s, 1, &b, 1, 0, &w), STORE_BUSY);
	assert_int_equal(store_status(s, 1, &stored, &closed), -1);
	assert_true(io_now_ms() - t0 >= 600);
	stop = 1;
	assert_int_equal(store_append(s, 1, &b, 1, 0, &w), STORE_BUSY);
	stop = 0;
	close(fd);
	assert_int_equal(store_append(s, 1, &b, 1, 0, &w), STORE_OK);
	store_close(s);
}

static int
marked(void)
{
	char	path[128];

	snprintf(path, sizeof(path), "%s/draw.logged", dir);
	return access(path, F_OK) == 0;
}

/*
 * The last close marks the draw logged; with the marker gone (its closer
 * died between the close and the line), the next replica to serve
 * winners logs and marks it; a reset lottery's last close clears an old
 * marker before its own draw.
 */
static void
test_draw_logged_once(void **state)
{
	struct store	*a = open_store(2), *b = open_store(2);
	char		 out[1][BET_DOC_MAX + 1], path[128], closed[128];
	struct timeval	 old[2] = { { 0, 0 }, { 0, 0 } };
	struct stat	 st;
	size_t		 n;
	uint64_t	 t;
	int		 draw;

	(void)state;
	assert_int_equal(store_close_agency(a, 1, &draw), 0);
	assert_false(marked());
	assert_int_equal(store_close_agency(b, 2, &draw), 0);
	assert_int_equal(draw, 1);
	assert_true(marked());
	snprintf(path, sizeof(path), "%s/draw.logged", dir);
	assert_int_equal(unlink(path), 0);
	/* b logged it: it does not look again. */
	assert_int_equal(store_winners(b, 1, 0, out, 1, &n, &t), 1);
	assert_false(marked());
	/* a never saw a marker: it looks, finds none, logs and marks. */
	assert_int_equal(store_winners(a, 1, 0, out, 1, &n, &t), 1);
	assert_true(marked());
	/*
	 * A reset: the old marker (dated 1970 here) stays until the new last
	 * close, which replaces it with its own.
	 */
	assert_int_equal(utimes(path, old), 0);
	snprintf(closed, sizeof(closed), "%s/agencies_closed.txt", dir);
	assert_int_equal(truncate(closed, 0), 0);
	assert_int_equal(store_close_agency(a, 2, &draw), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtime, 0);
	assert_int_equal(store_winners(a, 1, 0, out, 1, &n, &t), 0);
	assert_int_equal(store_close_agency(b, 1, &draw), 0);
	assert_int_equal(draw, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mtime != 0);
	store_close(a);
	store_close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rows_are_python_csv,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_positions_store_each_bet_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_is_cut,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_draw_once_and_winners_per_agency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_draw_logged_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_rebuilds_index,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_is_reindexed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_file_is_reopened,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_agency_count_is_recorded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait_has_a_deadline,
		    setup, teardown),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
