/*
 * agency: turns the lines of agency-<id>.csv into bets.  The file may be
 * read several times in one run (each reconnect resumes by rewinding), but
 * a bad row is reported and counted only the first time it is seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agency.h"
#include "log.h"

#define UTF8_BOM	"\xef\xbb\xbf"
#define FIELDS_MAX	16	/* enough to count a row's surplus fields */
/*
 * The reader's share of its buffer: a client reads its file once and
 * exits, and every page it touches costs a fault; a few reads more cost
 * less.
 */
#define AGENCY_READ_BUF	16384

static void
agency_reader_init(struct agency_file *a)
{
	csv_reader_init(&a->rd, a->fd, 0);
	csv_reader_cap(&a->rd, AGENCY_READ_BUF);
}

int
agency_open(struct agency_file *a, const char *dir, uint32_t id, char *err,
    size_t errlen)
{
	/* Not a memset: the reader's buffer is written before it is read. */
	a->fd = -1;
	a->id = id;
	a->valid = a->rejected = a->checked = 0;
	if (snprintf(a->path, sizeof(a->path), "%s/agency-%u.csv", dir,
	    (unsigned)id) >= (int)sizeof(a->path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if ((a->fd = open(a->path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		return -1;
	}
	agency_reader_init(a);
	return 0;
}

int
agency_rewind(struct agency_file *a)
{
	if (lseek(a->fd, 0, SEEK_SET) == -1)
		return -1;
	agency_reader_init(a);
	a->valid = 0;
	return 0;
}

int
agency_rows(struct agency_file *a, uint64_t *n)
{
	char	 buf[16384], *p, *end;
	off_t	 off = 0;
	ssize_t	 r;
	uint64_t rows = 0;
	int	 open_line = 0;

	for (;;) {
		if ((r = pread(a->fd, buf, sizeof(buf), off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		off += r;
		end = buf + r;
		for (p = buf; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;
		    p++)
			rows++;
		open_line = buf[r - 1] != '\n';
	}
	*n = rows + (uint64_t)open_line;
	return 0;
}

/* Log a bad row unless an earlier pass already did. */
static void
agency_reject(struct agency_file *a, const char *reason)
{
	char	 clean[LOG_VALUE_MAX];

	if (a->rd.lineno <= a->checked)
		return;
	a->rejected++;
	log_warn("leer_apuesta", "fail", "linea: %llu | motivo: %s",
	    (unsigned long long)a->rd.lineno, log_clean(clean, reason));
}

/*
 * Validate one line into b.  Returns 1 for a bet, 0 for a line that holds
 * none (blank, or bad and already reported).
 */
static int
agency_parse(struct agency_file *a, char *line, size_t len, struct bet *b)
{
	char	*f[FIELDS_MAX], why[128];
	int	 n;

	if (a->rd.toolong) {
		agency_reject(a, "line too long");
		return 0;
	}
	/* A NUL would end the line early and silently drop its tail. */
	if (memchr(line, '\0', len) != NULL) {
		agency_reject(a, "NUL byte in line");
		return 0;
	}
	if (a->rd.lineno == 1 && strncmp(line, UTF8_BOM, 3) == 0)
		line += 3;
	if (line[0] == '\0')
		return 0;
	if ((n = csv_split(line, f, FIELDS_MAX)) == -1) {
		agency_reject(a, "malformed line");
		return 0;
	}
	if (n != BET_NFIELDS) {
		snprintf(why, sizeof(why), "%d fields, want %d", n,
		    BET_NFIELDS);
		agency_reject(a, why);
		return 0;
	}
	if (bet_from_fields(b, a->id, f, why, sizeof(why)) == -1) {
		agency_reject(a, why);
		return 0;
	}
	return 1;
}

int
agency_next(struct agency_file *a, struct bet *b)
{
	char	*line;
	size_t	 len;
	int	 r, ok;

	for (;;) {
		if ((r = csv_reader_next(&a->rd, &line, &len)) != 1)
			return r;
		ok = agency_parse(a, line, len, b);
		if (a->rd.lineno > a->checked)
			a->checked = a->rd.lineno;
		if (ok) {
			a->valid++;
			return 1;
		}
	}
}

void
agency_close(struct agency_file *a)
{
	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
}
