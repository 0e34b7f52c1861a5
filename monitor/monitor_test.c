/*
 * monitor_test: the monitor's reading of a state directory (rows counted
 * once as the file grows, a row still being written left for later, a
 * replaced file counted again, closes and winners), the figures it picks
 * out of a replica's /metrics, and that no document of the rows reaches
 * its page or its JSON.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "page.h"
#include "scrape.h"
#include "tally.h"

static char	dir[64];

static void
put(const char *name, const char *text, const char *mode)
{
	char	path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, mode));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/monitor_test.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
render(int (*fn)(FILE *, const struct tally *, const struct scrape *,
    const struct page_history *, time_t), const struct tally *t,
    const struct scrape *s, const struct page_history *h)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(fn(fp, t, s, h, 0), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void
test_tally(void **state)
{
	static struct scrape		s;
	static struct page_history	h;
	struct tally			t;
	char				err[256], *json, *frag;

	(void)state;
	assert_int_equal(tally_init(&t, dir, dir, 2), 0);
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.stored, 0);		/* no file yet */
	put("agency-1.csv", "A,B,30111222,1990-01-01,7574\n"
	    "C,D,30111223,1990-01-01,1\nE,F,30111224,1990-01-01,2\n", "w");
	put("bets.csv", "1,A,B,30111222,1990-01-01,7574\r\n"
	    "2,\"Ana, Maria\",B,30999888,1990-01-01,7574\r\n"
	    "1,C,D,30111223,1990-01-01,1\r\n1,E,F,3011", "w");
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.stored, 3);		/* the fourth is partial */
	assert_int_equal(t.a[1].stored, 2);
	assert_int_equal(t.a[1].total, 3);
	assert_int_equal(t.a[2].total, -1);	/* no agency-2.csv */
	assert_int_equal(t.a[1].winners, 1);
	assert_int_equal(t.a[2].winners, 1);
	put("bets.csv", "1224,1990-01-01,2\r\n", "a");
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.a[1].stored, 3);	/* finished: counted once */
	assert_int_equal(t.stored, 4);
	put("agencies_closed.txt", "1\n1\n", "w");
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.nclosed, 1);
	assert_int_equal(t.draw_time, 0);
	put("agencies_closed.txt", "2\n", "a");
	put("draw.logged", "", "w");
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.nclosed, 2);
	assert_true(t.draw_time > 0);
	/* Nothing of a row but counts on the page and in the JSON. */
	page_history_add(&h, 0, 0);
	page_history_add(&h, 1, 4);
	json = render(page_json, &t, &s, &h);
	frag = render(page_fragment, &t, &s, &h);
	assert_non_null(strstr(json, "\"draw\":{\"done\":true"));
	assert_non_null(strstr(json, "{\"agency\":1,\"stored\":3,\"total\":3,"
	    "\"closed\":true,\"winners\":1}"));
	assert_non_null(strstr(frag, "draw done"));
	for (const char *const *d = (const char *const[]){ "30111222",
	    "30999888", "30111223", "Ana", "Maria", NULL }; *d != NULL; d++) {
		assert_null(strstr(json, *d));
		assert_null(strstr(frag, *d));
	}
	free(json);
	free(frag);
	/* A new lottery: a shorter file is counted from its start. */
	put("bets.csv", "2,A,B,1,1990-01-01,3\r\n", "w");
	assert_int_equal(tally_update(&t, err, sizeof(err)), 0);
	assert_int_equal(t.stored, 1);
	assert_int_equal(t.a[1].stored, 0);
	assert_int_equal(t.a[1].winners, 0);
	tally_free(&t);
}

static void
test_scrape_parse(void **state)
{
	struct scrape_replica	r;
	const char		*text =
	    "# HELP lottery_bets_stored_total x\n"
	    "# TYPE lottery_bets_stored_total counter\n"
	    "lottery_bets_stored_total{agency=\"1\"} 10\n"
	    "lottery_bets_stored_total{agency=\"2\"} 5\n"
	    "lottery_bets_stored_totalx 99\n"
	    "lottery_connections{state=\"handshake\"} 1\n"
	    "lottery_connections{state=\"draw_wait\"} 2\n"
	    "lottery_fdatasync_seconds_sum 0.5\n"
	    "lottery_fdatasync_seconds_count 4\n"
	    "lottery_draw_done 1\n";

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(scrape_parse(text, &r), 8);
	assert_true(r.stored == 15);
	assert_true(r.conns == 3);
	assert_true(r.sync_sum == 0.5 && r.sync_count == 4);
	assert_true(r.draw_done == 1);
	assert_int_equal(scrape_parse("# only comments\n", &r), 0);
	assert_true(r.stored == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tally, setup, teardown),
		cmocka_unit_test(test_scrape_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
