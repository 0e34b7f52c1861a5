/*
 * keyfile: reading a secret key file, for the client's key_file and the
 * replica's AGENCY_KEYS alike, so both accept the same forms.  The file
 * must be a regular file that no group or other can read or write.  Lines
 * end in LF or CRLF (the last one may lack it); blank lines and lines
 * starting with '#' are skipped; a line longer than KEYFILE_LINE_MAX or
 * holding a NUL byte is an error naming its number.  What a line means
 * belongs to the caller.  No logging: errors come back as text.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>
#include <stdio.h>

#define KEYFILE_LINE_MAX	256	/* bytes, without the line end */

struct keyfile {
	FILE		*fp;
	const char	*path;
	unsigned	 lineno;	/* of the line last returned */
	char		 line[KEYFILE_LINE_MAX + 1];
};

/* Open path and check it.  0, or -1 with "path: why" in err. */
int	 keyfile_open(struct keyfile *, const char *path, char *err,
	    size_t errlen);
/*
 * The next line that says something, NUL-terminated without its line end,
 * in kf->line.  1; 0 at the end of the file; -1 with "path:line: why" (or
 * "path: why" for a read error) in err.
 */
int	 keyfile_next(struct keyfile *, char *err, size_t errlen);
/* Wipe the line buffer and close. */
void	 keyfile_close(struct keyfile *);
/*
 * 0 when st_mode leaves group and others no access at all; else -1 with
 * err saying so (the mode in octal).
 */
int	 keyfile_private_mode(unsigned mode, char *err, size_t errlen);

#endif
