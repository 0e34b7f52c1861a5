/*
 * meta: cluster.meta in the state directory, one line
 * "AGENCIES_AMOUNT=N".  It is created whole or not at all: written to a
 * private temporary name, synced, then hard-linked into place, so two
 * replicas starting together cannot both win, and a crash never leaves a
 * half-written record.  A filesystem without hard links gets an exclusive
 * create instead, which still lets only one replica win.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "meta.h"
#include "num.h"

#define META_KEY	"AGENCIES_AMOUNT="

int
meta_sync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The record written straight into place, if nobody wrote it first. */
static int
meta_create_excl(const char *path, const char *line, size_t len)
{
	int	fd, rc = 0;

	if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		return errno == EEXIST ? 0 : -1;
	if (io_write_full(fd, line, len) == -1 || fsync(fd) == -1)
		rc = -1;
	close(fd);
	return rc;
}

/* Write the record under a temporary name and link it into place. */
static int
meta_create(const char *dir, const char *path, uint32_t agencies, char *err,
    size_t errlen)
{
	char	tmp[PATH_MAX], line[64];
	int	fd, len, rc = -1;

	/* A random name: replicas in containers may all be pid 1. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.%08x", dir, META_FILE, arc4random());
	len = snprintf(line, sizeof(line), META_KEY "%u\n", agencies);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (io_write_full(fd, line, (size_t)len) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* EEXIST: another replica recorded first; the caller compares. */
	if (link(tmp, path) == -1 && errno != EEXIST &&
	    meta_create_excl(path, line, (size_t)len) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	unlink(tmp);
	return rc;
}

/* The recorded count into *out.  0, -1 with err; ENOENT left in errno. */
static int
meta_read(const char *path, uint32_t *out, char *err, size_t errlen)
{
	char		 buf[64];
	const char	*why;
	uint64_t	 v;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = io_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (strncmp(buf, META_KEY, strlen(META_KEY)) != 0) {
		snprintf(err, errlen, "%s: not a cluster record (want "
		    META_KEY "N)", path);
		errno = EINVAL;
		return -1;
	}
	if (num_parse(buf + strlen(META_KEY), 1, CONFIG_AGENCIES_MAX, &v,
	    &why) == -1) {
		snprintf(err, errlen, "%s: AGENCIES_AMOUNT is %s", path, why);
		errno = EINVAL;
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* 0 when the recorded count is agencies, else -1 with both in err. */
static int
meta_agree(const char *path, uint32_t have, uint32_t agencies, char *err,
    size_t errlen)
{
	if (have == agencies)
		return 0;
	snprintf(err, errlen, "%s records AGENCIES_AMOUNT=%u but this "
	    "replica has AGENCIES_AMOUNT=%u; replicas of one state "
	    "directory must agree (remove %s only when starting a new "
	    "lottery)", path, have, agencies, META_FILE);
	return -1;
}

int
meta_check(const char *dir, uint32_t agencies, char *err, size_t errlen)
{
	char		path[PATH_MAX];
	uint32_t	have;

	snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
	if (meta_read(path, &have, err, errlen) == -1) {
		if (errno != ENOENT)
			return -1;
		if (meta_create(dir, path, agencies, err, errlen) == -1 ||
		    meta_read(path, &have, err, errlen) == -1)
			return -1;
	}
	return meta_agree(path, have, agencies, err, errlen);
}

int
meta_peek(const char *dir, uint32_t agencies, char *err, size_t errlen)
{
	char		path[PATH_MAX];
	uint32_t	have;

	snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
	if (meta_read(path, &have, err, errlen) == -1)
		return errno == ENOENT ? 0 : -1;
	return meta_agree(path, have, agencies, err, errlen);
}
