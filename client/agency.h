/*
 * agency: the agency's bet file, read as a stream of valid bets.  Rows that
 * do not make a valid bet are logged once each with their line number and
 * reason, counted, and skipped; memory is the CSV reader's fixed buffer
 * whatever the file size.
 */
#ifndef AGENCY_H
#define AGENCY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"
#include "csv.h"

struct agency_file {
	int		 fd;
	uint32_t	 id;
	char		 path[PATH_MAX];
	uint64_t	 valid;		/* valid rows returned in this pass */
	uint64_t	 rejected;	/* bad rows, each counted once */
	uint64_t	 checked;	/* lines already validated and reported */
	struct csv_reader rd;
};

/* Open <dir>/agency-<id>.csv.  0, or -1 with a reason in err. */
int	 agency_open(struct agency_file *, const char *dir, uint32_t id,
	    char *err, size_t errlen);
/* Start a new pass from the first line.  0, or -1 (errno). */
int	 agency_rewind(struct agency_file *);
/*
 * Count the rows of the file (its lines, the last one with or without a
 * newline) into *n, without validating them: cheap, for a progress line.
 * The reading position is left alone.  0, or -1 (errno).
 */
int	 agency_rows(struct agency_file *, uint64_t *n);
/* Next valid bet: 1, 0 at the end of the file, -1 on a read error. */
int	 agency_next(struct agency_file *, struct bet *);
void	 agency_close(struct agency_file *);

#endif
