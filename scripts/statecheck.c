/*
 * statecheck: reads a state directory the way the replicas read it and
 * reports what it holds, for the power-cut test to check after each cut
 * (scripts/crash_test.sh).  It reads bets.csv through the project's CSV
 * reader and validates every row with the project's bet rules, and
 * agencies_closed.txt line by line.
 *
 *   statecheck DIR AGENCIES
 *
 * Prints "stored A N" for every agency A in 1..AGENCIES, "closed A" for
 * each closed one, "meta yes|no" (cluster.meta there or not), "rows N",
 * and "torn FILE BYTES" when a file ends in an incomplete line (a write
 * the power cut tore, which the next append cuts).  A whole line that is
 * not a valid row is printed as "bad FILE LINE: why" and makes the exit
 * status 1; 2 is a usage or read error.  A missing file counts as empty.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bet.h"
#include "csv.h"
#include "num.h"

#define SC_FIELDS	(BET_NFIELDS + 1)	/* agency first */

static struct csv_reader	rd;

/* Open DIR/name; -1 when it does not exist (reported as empty). */
static int
sc_open(const char *dir, const char *name)
{
	char	path[PATH_MAX];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno != ENOENT)
		err(2, "%s", path);
	return fd;
}

/* One bets.csv row: its agency, or 0 with why set. */
static uint32_t
sc_row(char *line, uint32_t agencies, const char **why)
{
	static char	 reason[64];
	char		*f[SC_FIELDS];
	struct bet	 b;
	uint32_t	 a;

	if (csv_split(line, f, SC_FIELDS) != SC_FIELDS) {
		*why = "not 6 fields";
		return 0;
	}
	if (bet_parse_agency(f[0], &a) == -1 || a == 0 || a > agencies) {
		*why = "no such agency";
		return 0;
	}
	if (bet_from_fields(&b, a, &f[1], reason, sizeof(reason)) == -1) {
		*why = reason;
		return 0;
	}
	return a;
}

/*
 * Read one file line by line; fn returns 0 for a good line, else its
 * reason.  Returns the bad lines seen.
 */
static int
sc_file(const char *dir, const char *name,
    uint32_t (*fn)(char *, uint32_t, const char **), uint32_t agencies,
    uint64_t *count)
{
	const char	*why;
	char		*line;
	size_t		 len;
	int		 fd, rc, bad = 0;
	uint32_t	 a;

	if ((fd = sc_open(dir, name)) == -1)
		return 0;
	csv_reader_init(&rd, fd, 0);
	while ((rc = csv_reader_next(&rd, &line, &len)) == 1) {
		if (rd.partial) {
			printf("torn %s %zu\n", name, len);
			break;
		}
		if (rd.toolong) {
			printf("bad %s %" PRIu64 ": line too long\n", name,
			    rd.lineno);
			bad++;
			continue;
		}
		if ((a = fn(line, agencies, &why)) == 0) {
			printf("bad %s %" PRIu64 ": %s\n", name, rd.lineno,
			    why);
			bad++;
			continue;
		}
		count[a]++;
	}
	if (rc == -1)
		err(2, "%s/%s", dir, name);
	close(fd);
	return bad;
}

/* One agencies_closed.txt line: the agency, or 0 with why set. */
static uint32_t
sc_close(char *line, uint32_t agencies, const char **why)
{
	uint32_t	a;

	if (bet_parse_agency(line, &a) == -1 || a == 0 || a > agencies) {
		*why = "not an agency";
		return 0;
	}
	return a;
}

int
main(int argc, char *argv[])
{
	const char	*why;
	uint64_t	 v, *stored, *closed, rows = 0;
	uint32_t	 n;
	int		 bad, fd;

	if (argc != 3)
		errx(2, "usage: statecheck DIR AGENCIES");
	if (num_parse(argv[2], 1, 1000, &v, &why) == -1)
		errx(2, "AGENCIES is %s", why);
	n = (uint32_t)v;
	if ((stored = calloc(n + 1, sizeof(*stored))) == NULL ||
	    (closed = calloc(n + 1, sizeof(*closed))) == NULL)
		err(2, "calloc");
	bad = sc_file(argv[1], "bets.csv", sc_row, n, stored);
	bad += sc_file(argv[1], "agencies_closed.txt", sc_close, n, closed);
	for (uint32_t a = 1; a <= n; a++) {
		printf("stored %u %" PRIu64 "\n", a, stored[a]);
		rows += stored[a];
		if (closed[a] > 0)
			printf("closed %u\n", a);
	}
	if ((fd = sc_open(argv[1], "cluster.meta")) != -1)
		close(fd);
	printf("meta %s\nrows %" PRIu64 "\n", fd == -1 ? "no" : "yes", rows);
	free(stored);
	free(closed);
	return bad > 0;
}
