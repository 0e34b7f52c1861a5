/*
 * tally: owns the monitor's reading of the state directory (see tally.h).
 * bets.csv only grows while a lottery runs, so each update reads the rows
 * added since the last one; a row still being written (no line end yet)
 * is left for the next update.  A file replaced (new inode) or shorter
 * than what was read (a new lottery) is counted again from the start.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bet.h"
#include "csv.h"
#include "num.h"
#include "tally.h"

int
tally_init(struct tally *t, const char *state_dir, const char *data_dir,
    uint32_t agencies)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->state_dir, sizeof(t->state_dir), "%s", state_dir);
	snprintf(t->data_dir, sizeof(t->data_dir), "%s", data_dir);
	t->agencies = agencies;
	if ((t->a = calloc((size_t)agencies + 1, sizeof(*t->a))) == NULL ||
	    (t->fsize = calloc((size_t)agencies + 1, sizeof(int64_t))) ==
	    NULL) {
		tally_free(t);
		return -1;
	}
	for (uint32_t i = 0; i <= agencies; i++) {
		t->a[i].total = -1;
		t->fsize[i] = -1;
	}
	return 0;
}

void
tally_free(struct tally *t)
{
	free(t->a);
	free(t->fsize);
	t->a = NULL;
	t->fsize = NULL;
}

static void
tally_forget_bets(struct tally *t)
{
	for (uint32_t i = 0; i <= t->agencies; i++)
		t->a[i].stored = t->a[i].winners = 0;
	t->stored = t->bad_rows = 0;
	t->off = 0;
}

/* One whole row of bets.csv: its agency and whether it won. */
static void
tally_row(struct tally *t, char *line)
{
	char		*f[6];
	uint32_t	 agency;
	uint64_t	 number;

	if (csv_split(line, f, 6) != 6 || bet_parse_agency(f[0], &agency) ==
	    -1 || agency == 0 || agency > t->agencies) {
		t->bad_rows++;
		return;
	}
	t->a[agency].stored++;
	t->stored++;
	if (num_parse(f[5], 0, BET_NUMBER_MAX, &number, NULL) == 0 &&
	    number == BET_WINNING_NUMBER)
		t->a[agency].winners++;
}

/* Read bets.csv on from t->off.  0, or -1 with err. */
static int
tally_bets(struct tally *t, char *err, size_t errlen)
{
	static struct csv_reader r;	/* 64 KB: not on the stack */
	char			 path[4200];
	struct stat		 st;
	char			*line;
	size_t			 len;
	int			 fd, rc;

	snprintf(path, sizeof(path), "%s/bets.csv", t->state_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			goto fail;
		tally_forget_bets(t);
		return 0;
	}
	if (fstat(fd, &st) == -1)
		goto fail_fd;
	if (st.st_dev != t->dev || st.st_ino != t->ino ||
	    (uint64_t)st.st_size < t->off) {
		tally_forget_bets(t);
		t->dev = st.st_dev;
		t->ino = st.st_ino;
	}
	if (lseek(fd, (off_t)t->off, SEEK_SET) == -1)
		goto fail_fd;
	csv_reader_init(&r, fd, t->off);
	while ((rc = csv_reader_next(&r, &line, &len)) == 1) {
		if (r.partial)
			break;		/* still being written */
		if (!r.toolong && len > 0)
			tally_row(t, line);
		t->off = r.offset;
	}
	if (rc == -1)
		goto fail_fd;
	close(fd);
	return 0;
fail_fd:
	close(fd);
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

/* agencies_closed.txt: one agency a line; a second close counts once. */
static int
tally_closed(struct tally *t, char *err, size_t errlen)
{
	static struct csv_reader r;
	char			 path[4200];
	char			*line;
	size_t			 len;
	uint32_t		 a;
	int			 fd, rc;

	for (uint32_t i = 0; i <= t->agencies; i++)
		t->a[i].closed = 0;
	t->nclosed = 0;
	snprintf(path, sizeof(path), "%s/agencies_closed.txt", t->state_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	csv_reader_init(&r, fd, 0);
	csv_reader_cap(&r, CSV_READER_MIN);
	while ((rc = csv_reader_next(&r, &line, &len)) == 1)
		if (!r.partial && bet_parse_agency(line, &a) == 0 && a >= 1 &&
		    a <= t->agencies && !t->a[a].closed) {
			t->a[a].closed = 1;
			t->nclosed++;
		}
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return rc == -1 ? -1 : 0;
}

/* Lines of an agency file: its bets.  -1 when it cannot be read. */
static int64_t
tally_count_lines(const char *path)
{
	static struct csv_reader r;
	char			*line;
	size_t			 len;
	int64_t			 n = 0;
	int			 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	csv_reader_init(&r, fd, 0);
	while ((rc = csv_reader_next(&r, &line, &len)) == 1)
		if (len > 0 || r.toolong)
			n++;
	close(fd);
	return rc == -1 ? -1 : n;
}

/*
 * Each agency file's bets (data_dir/agency-N.csv), counted again only
 * when the file's size changed since.
 */
static void
tally_files(struct tally *t)
{
	char		path[4200];
	struct stat	st;

	if (t->data_dir[0] == '\0')
		return;
	for (uint32_t a = 1; a <= t->agencies; a++) {
		snprintf(path, sizeof(path), "%s/agency-%u.csv", t->data_dir,
		    a);
		if (stat(path, &st) == -1) {
			t->a[a].total = t->fsize[a] = -1;
			continue;
		}
		if (st.st_size == t->fsize[a])
			continue;
		t->a[a].total = tally_count_lines(path);
		t->fsize[a] = t->a[a].total == -1 ? -1 : st.st_size;
	}
}

int
tally_update(struct tally *t, char *err, size_t errlen)
{
	char		path[4200];
	struct stat	st;

	if (tally_bets(t, err, errlen) == -1 ||
	    tally_closed(t, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/draw.logged", t->state_dir);
	/* A marker left by the last lottery means nothing until all close. */
	t->draw_time = 0;
	if (t->nclosed == t->agencies && stat(path, &st) == 0)
		t->draw_time = st.st_mtime;
	tally_files(t);
	return 0;
}
