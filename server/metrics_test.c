/*
 * metrics_test: the exposition text metrics_write makes, read back by a
 * strict parser of the Prometheus text format (0.0.4) written here: every
 * line must parse, every family must have one HELP and one TYPE before its
 * samples, counters end in _total, histograms have cumulative buckets up
 * to +Inf with _sum and _count.  The parser is itself shown to refuse
 * each kind of mistake it checks for.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

#define FAMILIES_MAX	64
#define SAMPLES_MAX	4096

struct family {
	char	name[128];
	char	type[16];
	int	help, samples;
};

struct sample {
	char	name[128];
	char	labels[256];	/* as written, between the braces */
	char	le[32];		/* the le label's value, or "" */
	double	value;
};

struct expo {
	struct family	fam[FAMILIES_MAX];
	int		nfam;
	struct sample	smp[SAMPLES_MAX];
	int		nsmp;
	int		cur;		/* family of the samples now, or -1 */
	char		why[256];	/* the first error */
};

static int
bad(struct expo *e, int line, const char *why)
{
	snprintf(e->why, sizeof(e->why), "line %d: %s", line, why);
	return -1;
}

/* A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*; returns its length or 0. */
static size_t
name_len(const char *p)
{
	size_t	n = 0;

	if (!isalpha((unsigned char)p[0]) && p[0] != '_' && p[0] != ':')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
		n++;
	return n;
}

static struct family *
family_find(struct expo *e, const char *name)
{
	for (int i = 0; i < e->nfam; i++)
		if (strcmp(e->fam[i].name, name) == 0)
			return &e->fam[i];
	return NULL;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* "# HELP name text" or "# TYPE name type". */
static int
parse_comment(struct expo *e, int ln, const char *p)
{
	struct family	*f;
	char		 name[128];
	int		 help;
	size_t		 n;

	if (strncmp(p, "# HELP ", 7) == 0)
		help = 1;
	else if (strncmp(p, "# TYPE ", 7) == 0)
		help = 0;
	else
		return bad(e, ln, "a comment that is neither HELP nor TYPE");
	p += 7;
	if ((n = name_len(p)) == 0 || n >= sizeof(name) || p[n] != ' ' ||
	    p[n + 1] == '\0')
		return bad(e, ln, "bad name or nothing after it");
	memcpy(name, p, n);
	name[n] = '\0';
	p += n + 1;
	if ((f = family_find(e, name)) == NULL) {
		if (e->nfam == FAMILIES_MAX)
			return bad(e, ln, "too many families");
		f = &e->fam[e->nfam++];
		memset(f, 0, sizeof(*f));
		memcpy(f->name, name, n + 1);
	}
	if (f->samples > 0)
		return bad(e, ln, "HELP or TYPE after the family's samples");
	if (help) {
		if (f->help++)
			return bad(e, ln, "a second HELP");
		for (; *p != '\0'; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return bad(e, ln, "bad escape in HELP");
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->type[0] != '\0')
		return bad(e, ln, "a second TYPE");
	if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 &&
	    strcmp(p, "histogram") != 0)
		return bad(e, ln, "unknown type");
	snprintf(f->type, sizeof(f->type), "%s", p);
	if (strcmp(p, "counter") == 0 && !ends_with(name, "_total"))
		return bad(e, ln, "counter without _total");
	return 0;
}

/* label="value",...: at p just past '{'; *end gets the '}'. */
static int
parse_labels(struct expo *e, int ln, const char *p, const char **end,
    struct sample *s)
{
	size_t	n;

	while (*p != '}') {
		const char	*lname = p;
		char		*o = NULL;

		if ((n = name_len(p)) == 0 || p[n] != '=' || p[n + 1] != '"')
			return bad(e, ln, "bad label name");
		if (n == 2 && strncmp(lname, "le", 2) == 0)
			o = s->le;
		p += n + 2;
		for (size_t k = 0; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return bad(e, ln, "unterminated label value");
			if (*p == '\\' && p[1] != '\\' && p[1] != '"' &&
			    p[1] != 'n')
				return bad(e, ln, "bad escape in label");
			if (o != NULL && k + 1 < sizeof(s->le)) {
				o[k++] = *p;
				o[k] = '\0';
			}
			if (*p == '\\')
				p++;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return bad(e, ln, "no comma between labels");
	}
	*end = p;
	return 0;
}

/* A sample's value: a float, +Inf, -Inf or NaN, the whole rest. */
static int
parse_value(const char *p, double *v)
{
	char	*end;

	if (strcmp(p, "+Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(p, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(p, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	if (*p == '\0' || isspace((unsigned char)*p))
		return -1;
	*v = strtod(p, &end);
	/* strtod takes "inf" and "nan" too: the format spells them as above. */
	if (*end != '\0' || isinf(*v) || isnan(*v))
		return -1;
	return 0;
}

/* The family a sample name belongs to, by its type's suffixes. */
static struct family *
sample_family(struct expo *e, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	struct family		*f;
	char			 base[128];

	if ((f = family_find(e, name)) != NULL &&
	    strcmp(f->type, "histogram") != 0)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t	n = strlen(name), m = strlen(sfx[i]);

		if (!ends_with(name, sfx[i]) || n - m >= sizeof(base))
			continue;
		memcpy(base, name, n - m);
		base[n - m] = '\0';
		if ((f = family_find(e, base)) != NULL &&
		    strcmp(f->type, "histogram") == 0)
			return f;
	}
	return NULL;
}

static int
parse_sample(struct expo *e, int ln, const char *p)
{
	struct sample	*s;
	struct family	*f;
	const char	*q;
	size_t		 n;

	if (e->nsmp == SAMPLES_MAX)
		return bad(e, ln, "too many samples");
	s = &e->smp[e->nsmp];
	memset(s, 0, sizeof(*s));
	if ((n = name_len(p)) == 0 || n >= sizeof(s->name))
		return bad(e, ln, "bad sample name");
	memcpy(s->name, p, n);
	q = p + n;
	if (*q == '{') {
		const char	*lb = q + 1;

		if (parse_labels(e, ln, lb, &q, s) == -1)
			return -1;
		if ((size_t)(q - lb) >= sizeof(s->labels))
			return bad(e, ln, "labels too long");
		memcpy(s->labels, lb, (size_t)(q - lb));
		q++;
	}
	if (*q != ' ' || parse_value(q + 1, &s->value) == -1)
		return bad(e, ln, "bad value (or a timestamp)");
	if ((f = sample_family(e, s->name)) == NULL)
		return bad(e, ln, "sample of no declared family");
	if (!f->help || f->type[0] == '\0')
		return bad(e, ln, "sample before its family's HELP and TYPE");
	if (f->samples > 0 && &e->fam[e->cur] != f)
		return bad(e, ln, "family's samples not together");
	for (int i = 0; i < e->nsmp; i++)
		if (strcmp(e->smp[i].name, s->name) == 0 &&
		    strcmp(e->smp[i].labels, s->labels) == 0)
			return bad(e, ln, "a sample twice");
	e->cur = (int)(f - e->fam);
	f->samples++;
	e->nsmp++;
	return 0;
}

/* A histogram's buckets are cumulative, end at +Inf, and match _count. */
static int
check_histogram(struct expo *e, const struct family *f)
{
	char	bucket[140], count[140], sum[140];
	double	le = -INFINITY, cum = 0, inf = -1;
	int	have_count = 0, have_sum = 0;

	snprintf(bucket, sizeof(bucket), "%s_bucket", f->name);
	snprintf(count, sizeof(count), "%s_count", f->name);
	snprintf(sum, sizeof(sum), "%s_sum", f->name);
	for (int i = 0; i < e->nsmp; i++) {
		const struct sample	*s = &e->smp[i];
		double			 b;

		if (strcmp(s->name, bucket) == 0) {
			if (s->le[0] == '\0' || parse_value(s->le, &b) == -1 ||
			    b <= le || s->value < cum)
				return bad(e, 0, "histogram buckets out of "
				    "order or not cumulative");
			le = b;
			cum = s->value;
			if (isinf(b))
				inf = s->value;
		} else if (strcmp(s->name, count) == 0) {
			have_count = 1;
			if (s->value != inf)
				return bad(e, 0, "_count is not the +Inf "
				    "bucket");
		} else if (strcmp(s->name, sum) == 0)
			have_sum = 1;
	}
	if (inf < 0 || !have_count || !have_sum)
		return bad(e, 0, "histogram without +Inf, _sum or _count");
	return 0;
}

/* Parse text whole.  0, or -1 with e->why. */
static int
expo_parse(struct expo *e, const char *text)
{
	char	line[1024];
	int	ln = 0;

	memset(e, 0, sizeof(*e));
	e->cur = -1;
	while (*text != '\0') {
		const char	*nl = strchr(text, '\n');
		size_t		 n;

		ln++;
		if (nl == NULL)
			return bad(e, ln, "last line without a newline");
		if ((n = (size_t)(nl - text)) >= sizeof(line) || n == 0)
			return bad(e, ln, "empty or too long line");
		memcpy(line, text, n);
		line[n] = '\0';
		text = nl + 1;
		if ((line[0] == '#' ? parse_comment(e, ln, line) :
		    parse_sample(e, ln, line)) == -1)
			return -1;
	}
	for (int i = 0; i < e->nfam; i++) {
		if (!e->fam[i].help || e->fam[i].type[0] == '\0' ||
		    e->fam[i].samples == 0)
			return bad(e, 0, "family without HELP, TYPE or "
			    "samples");
		if (strncmp(e->fam[i].name, "lottery_", 8) != 0)
			return bad(e, 0, "family without the lottery_ prefix");
		if (strcmp(e->fam[i].type, "histogram") == 0 &&
		    check_histogram(e, &e->fam[i]) == -1)
			return -1;
	}
	return 0;
}

/* The value of name{labels} ("" for none), or -1 when absent. */
static double
expo_value(const struct expo *e, const char *name, const char *labels)
{
	for (int i = 0; i < e->nsmp; i++)
		if (strcmp(e->smp[i].name, name) == 0 &&
		    strcmp(e->smp[i].labels, labels) == 0)
			return e->smp[i].value;
	return -1;
}

static char *
render(void)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(metrics_write(fp), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static int
setup(void **state)
{
	(void)state;
	return metrics_init(4);
}

static int
teardown(void **state)
{
	(void)state;
	metrics_free();
	return 0;
}

static struct expo	ex;

/* Fresh: every line parses, every family is there with zeros. */
static void
test_fresh(void **state)
{
	static const char *const want[] = {
		"lottery_bets_stored_total", "lottery_bets_refused_total",
		"lottery_batches_total", "lottery_group_commits_total",
		"lottery_group_commit_batches", "lottery_fdatasync_seconds",
		"lottery_lock_waits_total", "lottery_lock_timeouts_total",
		"lottery_connections", "lottery_handshake_failures_total",
		"lottery_agencies", "lottery_agencies_closed",
		"lottery_draw_done", "lottery_draw_timestamp_seconds",
		"lottery_start_time_seconds", "lottery_uptime_seconds",
		"lottery_resident_memory_bytes", "lottery_open_fds"
	};
	char	*text = render();

	(void)state;
	if (expo_parse(&ex, text) == -1)
		fail_msg("%s", ex.why);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (family_find(&ex, want[i]) == NULL)
			fail_msg("no family %s", want[i]);
	assert_int_equal(ex.nfam, sizeof(want) / sizeof(want[0]));
	assert_true(expo_value(&ex, "lottery_bets_stored_total",
	    "agency=\"4\"") == 0);
	assert_true(expo_value(&ex, "lottery_bets_stored_total",
	    "agency=\"5\"") == -1);
	assert_true(expo_value(&ex, "lottery_agencies", "") == 4);
	assert_true(expo_value(&ex, "lottery_resident_memory_bytes", "") > 0);
	assert_true(expo_value(&ex, "lottery_open_fds", "") >= 3);
	free(text);
}

/* What the helpers count is what the text says. */
static void
test_counts(void **state)
{
	char	*text;

	(void)state;
	metrics_bets_stored(2, 7);
	metrics_bets_stored(2, 3);
	metrics_bets_stored(5, 100);	/* no such agency: not counted */
	metrics_bets_stored(0, 100);
	metrics_bets_refused(4, 9);
	metrics_batch(METRICS_BATCH_OK);
	metrics_batch(METRICS_BATCH_GAP);
	metrics_group(1);
	metrics_group(3);
	metrics_group(1000);
	metrics_sync(50000);		/* on a bound: in that bucket */
	metrics_sync(2000000000);	/* 2 s: only +Inf */
	metrics_lock_wait();
	metrics_lock_timeout();
	metrics_conn_enter(METRICS_CONN_HANDSHAKE);
	metrics_conn_enter(METRICS_CONN_HANDSHAKE);
	metrics_conn_leave(METRICS_CONN_HANDSHAKE);
	metrics_conn_enter(METRICS_CONN_DRAW_WAIT);
	metrics_handshake_fail(METRICS_HS_BAD_PROOF);
	metrics_closed_set(4);
	metrics_drawn_set(1, 1700000000);
	metrics_drawn_set(1, 1800000000);	/* the first time stays */
	text = render();
	if (expo_parse(&ex, text) == -1)
		fail_msg("%s", ex.why);
#define V(n, l)	expo_value(&ex, n, l)
	assert_true(V("lottery_bets_stored_total", "agency=\"2\"") == 10);
	assert_true(V("lottery_bets_stored_total", "agency=\"1\"") == 0);
	assert_true(V("lottery_bets_refused_total", "agency=\"4\"") == 9);
	assert_true(V("lottery_batches_total", "result=\"stored\"") == 1);
	assert_true(V("lottery_batches_total", "result=\"gap\"") == 1);
	assert_true(V("lottery_group_commits_total", "") == 3);
	assert_true(V("lottery_group_commit_batches_bucket", "le=\"1\"") == 1);
	assert_true(V("lottery_group_commit_batches_bucket", "le=\"4\"") == 2);
	assert_true(V("lottery_group_commit_batches_bucket", "le=\"256\"") ==
	    2);
	assert_true(V("lottery_group_commit_batches_bucket", "le=\"+Inf\"") ==
	    3);
	assert_true(V("lottery_group_commit_batches_sum", "") == 1004);
	assert_true(V("lottery_fdatasync_seconds_bucket", "le=\"5e-05\"") ==
	    1);
	assert_true(V("lottery_fdatasync_seconds_bucket", "le=\"1\"") == 1);
	assert_true(V("lottery_fdatasync_seconds_count", "") == 2);
	assert_true(fabs(V("lottery_fdatasync_seconds_sum", "") - 2.00005) <
	    1e-9);
	assert_true(V("lottery_lock_waits_total", "") == 1);
	assert_true(V("lottery_lock_timeouts_total", "") == 1);
	assert_true(V("lottery_connections", "state=\"handshake\"") == 1);
	assert_true(V("lottery_connections", "state=\"draw_wait\"") == 1);
	assert_true(V("lottery_connections", "state=\"authenticated\"") == 0);
	assert_true(V("lottery_handshake_failures_total",
	    "reason=\"bad_proof\"") == 1);
	assert_true(V("lottery_agencies_closed", "") == 4);
	assert_true(V("lottery_draw_done", "") == 1);
	assert_true(V("lottery_draw_timestamp_seconds", "") == 1700000000);
	metrics_drawn_set(0, 0);	/* a new lottery */
	free(text);
	text = render();
	assert_int_equal(expo_parse(&ex, text), 0);
	assert_true(V("lottery_draw_done", "") == 0);
	assert_true(V("lottery_draw_timestamp_seconds", "") == 0);
#undef V
	free(text);
}

/* The parser refuses each mistake it is there to catch. */
static void
test_parser_strict(void **state)
{
	static const char *const bad[] = {
		/* no HELP */
		"# TYPE lottery_x gauge\nlottery_x 1\n",
		/* no TYPE */
		"# HELP lottery_x x\nlottery_x 1\n",
		/* TYPE after a sample */
		"# HELP lottery_x x\nlottery_x 1\n# TYPE lottery_x gauge\n",
		/* counter without _total */
		"# HELP lottery_x x\n# TYPE lottery_x counter\nlottery_x 1\n",
		/* bad value, a timestamp, two spaces, inf spelt wrong */
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x one\n",
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x 1 2\n",
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x  1\n",
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x inf\n",
		/* no newline at the end */
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x 1",
		/* bad labels */
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x{a=1} 1\n",
		"# HELP lottery_x x\n# TYPE lottery_x gauge\n"
		    "lottery_x{a=\"1\" b=\"2\"} 1\n",
		/* one sample twice */
		"# HELP lottery_x x\n# TYPE lottery_x gauge\nlottery_x 1\n"
		    "lottery_x 2\n",
		/* family without samples; without the prefix */
		"# HELP lottery_x x\n# TYPE lottery_x gauge\n",
		"# HELP x x\n# TYPE x gauge\nx 1\n",
		/* histogram: not cumulative, no +Inf, _count wrong */
		"# HELP lottery_h h\n# TYPE lottery_h histogram\n"
		    "lottery_h_bucket{le=\"1\"} 2\nlottery_h_bucket{le=\"+Inf\"} 1\n"
		    "lottery_h_sum 1\nlottery_h_count 1\n",
		"# HELP lottery_h h\n# TYPE lottery_h histogram\n"
		    "lottery_h_bucket{le=\"1\"} 1\nlottery_h_sum 1\n"
		    "lottery_h_count 1\n",
		"# HELP lottery_h h\n# TYPE lottery_h histogram\n"
		    "lottery_h_bucket{le=\"+Inf\"} 1\nlottery_h_sum 1\n"
		    "lottery_h_count 2\n",
		/* a stray comment, an empty line */
		"# hello\n",
		"# HELP lottery_x x\n\n# TYPE lottery_x gauge\nlottery_x 1\n",
	};
	const char	*good = "# HELP lottery_h h \\\\ \\n\n"
	    "# TYPE lottery_h histogram\nlottery_h_bucket{le=\"0.5\"} 1\n"
	    "lottery_h_bucket{le=\"+Inf\"} 2\nlottery_h_sum 1.5e0\n"
	    "lottery_h_count 2\n# HELP lottery_y_total y\n"
	    "# TYPE lottery_y_total counter\nlottery_y_total{a=\"\\\"\"} 3\n";

	(void)state;
	if (expo_parse(&ex, good) == -1)
		fail_msg("good text refused: %s", ex.why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (expo_parse(&ex, bad[i]) != -1)
			fail_msg("bad text %zu accepted", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test(test_parser_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
