/*
 * csv: the two CSV shapes of the project.  bets.csv rows are written as
 * Python's csv module writes them by default (QUOTE_MINIMAL, "\r\n"), and
 * any CSV line (agency files, bets.csv) is read back through one streaming
 * reader whose memory is its fixed buffer, whatever the file size.
 */
#ifndef CSV_H
#define CSV_H

#include <stddef.h>
#include <stdint.h>

#include "bet.h"

#define CSV_LINE_MAX	1024	/* longer lines are reported, not returned */
#define CSV_BUF_SIZE	65536
#define CSV_ROW_MAX	(6 * (2 * BET_NAME_MAX + 3) + 2)	/* worst quoted row */

/*
 * "agency,first,last,document,birthdate,number\r\n" with QUOTE_MINIMAL
 * quoting.  Returns the row length, or 0 when cap is too small.
 */
size_t	 csv_format_bet(const struct bet *, char *dst, size_t cap);

/*
 * Split one line (terminator already removed) in place into at most max
 * fields, undoing quotes.  Returns the number of fields, or -1 when the line
 * has more than max fields or a malformed quote.
 */
int	 csv_split(char *line, char **fields, int max);

struct csv_reader {
	int		 fd;
	int		 eof;
	int		 toolong;	/* last line exceeded CSV_LINE_MAX */
	int		 partial;	/* last line ended at EOF without '\n' */
	uint64_t	 lineno;	/* 1-based number of the last line */
	uint64_t	 offset;	/* file offset just past the last line */
	size_t		 start, end;	/* unread bytes are buf[start..end) */
	size_t		 cap;		/* bytes of buf used, see csv_reader_cap */
	char		 buf[CSV_BUF_SIZE];
};

/* Read from fd's current offset; base is that offset (for r->offset). */
void	 csv_reader_init(struct csv_reader *, int fd, uint64_t base);
/*
 * Use only the first cap bytes of the buffer (at least CSV_READER_MIN,
 * at most CSV_BUF_SIZE), after csv_reader_init: a short-lived reader of a
 * small file then touches a few pages instead of them all.
 */
#define CSV_READER_MIN	(2 * (CSV_LINE_MAX + 2))
void	 csv_reader_cap(struct csv_reader *, size_t cap);
/*
 * Next line, without "\n" or "\r\n", NUL-terminated, into *line (valid until
 * the next call).  Returns 1, 0 at EOF, -1 on a read error.  A line longer
 * than CSV_LINE_MAX comes back empty with r->toolong set.
 */
int	 csv_reader_next(struct csv_reader *, char **line, size_t *len);

#endif
