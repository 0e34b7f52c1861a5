/*
 * keyfile: the line reader behind keyfile.h.  Lines are read a byte at a
 * time through stdio, so a NUL byte is seen for what it is instead of
 * cutting the line short.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "keyfile.h"

int
keyfile_private_mode(unsigned mode, char *err, size_t errlen)
{
	if ((mode & 077) == 0)
		return 0;
	snprintf(err, errlen, "mode %04o lets group or others at it, want "
	    "0600 or 0400 (chmod 600)", mode & 07777);
	return -1;
}

int
keyfile_open(struct keyfile *kf, const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		 why[128];
	int		 fd;

	memset(kf, 0, sizeof(*kf));
	kf->path = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (keyfile_private_mode(st.st_mode, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	if ((kf->fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * One line, whatever it says, into kf->line without its LF or CRLF.  1;
 * 0 at the end of the file; -1 with err.
 */
static int
keyfile_line(struct keyfile *kf, char *err, size_t errlen)
{
	size_t	 len = 0;
	int	 c, bad = 0;

	errno = 0;
	while ((c = getc(kf->fp)) != EOF && c != '\n') {
		if (c == '\0' && bad == 0)
			bad = 1;
		else if (len == KEYFILE_LINE_MAX && bad == 0)
			bad = 2;
		if (len < KEYFILE_LINE_MAX)
			kf->line[len++] = (char)c;
	}
	if (c == EOF && ferror(kf->fp)) {
		snprintf(err, errlen, "%s: %s", kf->path, strerror(errno));
		return -1;
	}
	if (c == EOF && len == 0 && bad == 0)
		return 0;
	kf->lineno++;
	if (bad != 0) {
		snprintf(err, errlen, "%s:%u: %s", kf->path, kf->lineno,
		    bad == 1 ? "NUL byte in the line" : "line too long");
		return -1;
	}
	if (len > 0 && kf->line[len - 1] == '\r')
		len--;
	kf->line[len] = '\0';
	return 1;
}

int
keyfile_next(struct keyfile *kf, char *err, size_t errlen)
{
	int	 r;

	while ((r = keyfile_line(kf, err, errlen)) == 1)
		if (kf->line[0] != '\0' && kf->line[0] != '#')
			break;
	return r;
}

void
keyfile_close(struct keyfile *kf)
{
	auth_wipe(kf->line, sizeof(kf->line));
	if (kf->fp != NULL)
		fclose(kf->fp);
	kf->fp = NULL;
}
