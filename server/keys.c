/*
 * keys: parsing and checking the agency key file.  Every problem stops the
 * start with the file's name and, for a line, its number: a replica that
 * started with half its agencies' keys would refuse the others for the
 * whole day.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "num.h"

#define KEYS_LINE_MAX	256

/* Fill err with "path:line: why" and return -1. */
static int
keys_bad(char *err, size_t errlen, const char *path, unsigned line,
    const char *why)
{
	snprintf(err, errlen, "%s:%u: %s", path, line, why);
	return -1;
}

/*
 * One line, without its newline: "agency key" or "agency revoked".
 * 0, or -1 with the reason in why.
 */
static int
keys_line(struct keys *k, char *s, uint8_t *seen, char *why, size_t whylen)
{
	char		*agency, *value, *extra, *save;
	uint64_t	 a;

	agency = strtok_r(s, " \t", &save);
	value = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (value == NULL || extra != NULL) {
		snprintf(why, whylen, "want '<agency> <64 hex digits>' or "
		    "'<agency> revoked'");
		return -1;
	}
	if (num_parse(agency, 1, k->agencies, &a, NULL) == -1) {
		snprintf(why, whylen, "agency '%.16s' is not a number from 1 "
		    "to AGENCIES_AMOUNT (%u)", agency, (unsigned)k->agencies);
		return -1;
	}
	if (seen[a]) {
		snprintf(why, whylen, "agency %u appears twice", (unsigned)a);
		return -1;
	}
	seen[a] = 1;
	if (strcmp(value, "revoked") == 0) {
		k->revoked[a] = 1;
		return 0;
	}
	if (auth_unhex(value, strlen(value), k->key[a], AUTH_KEY_LEN) == -1) {
		snprintf(why, whylen, "agency %u: the key is not %d hex digits",
		    (unsigned)a, AUTH_HEX_LEN);
		return -1;
	}
	return 0;
}

/* Every line of fp into k.  0, or -1 with err. */
static int
keys_read(struct keys *k, FILE *fp, const char *path, uint8_t *seen,
    char *err, size_t errlen)
{
	char		 line[KEYS_LINE_MAX + 2], why[160];
	unsigned	 n = 0;
	size_t		 len;
	int		 rc = 0;

	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		n++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp))
			rc = keys_bad(err, errlen, path, n, "line too long");
		if (rc == 0 && len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (rc == 0 && (len == 0 || line[0] == '#'))
			continue;
		if (rc == 0 && keys_line(k, line, seen, why, sizeof(why)) == -1)
			rc = keys_bad(err, errlen, path, n, why);
	}
	auth_wipe(line, sizeof(line));
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Every agency must have a line.  0, or -1 naming the first missing. */
static int
keys_complete(const struct keys *k, const uint8_t *seen, const char *path,
    char *err, size_t errlen)
{
	for (uint32_t a = 1; a <= k->agencies; a++) {
		if (seen[a])
			continue;
		snprintf(err, errlen, "%s: no line for agency %u (AGENCIES_AMOUNT"
		    " is %u)", path, (unsigned)a, (unsigned)k->agencies);
		return -1;
	}
	return 0;
}

/* Open path for reading; it must be a regular file kept private. */
static FILE *
keys_open(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		 why[128];
	FILE		*fp;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (auth_private_mode(st.st_mode, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return fp;
fail:
	close(fd);
	return NULL;
}

int
keys_load(struct keys *k, const char *path, uint32_t agencies, char *err,
    size_t errlen)
{
	uint8_t	*seen = NULL;
	FILE	*fp;
	int	 rc = -1;

	memset(k, 0, sizeof(*k));
	k->agencies = agencies;
	if ((fp = keys_open(path, err, errlen)) == NULL)
		return -1;
	k->key = calloc((size_t)agencies + 1, sizeof(*k->key));
	k->revoked = calloc((size_t)agencies + 1, 1);
	seen = calloc((size_t)agencies + 1, 1);
	if (k->key == NULL || k->revoked == NULL || seen == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (keys_read(k, fp, path, seen, err, errlen) == 0 &&
	    keys_complete(k, seen, path, err, errlen) == 0)
		rc = 0;
done:
	fclose(fp);
	free(seen);
	if (rc == -1)
		keys_free(k);
	return rc;
}

const uint8_t *
keys_get(const struct keys *k, uint32_t agency)
{
	if (k->key == NULL || agency == 0 || agency > k->agencies ||
	    k->revoked[agency])
		return NULL;
	return k->key[agency];
}

void
keys_free(struct keys *k)
{
	if (k->key != NULL)
		auth_wipe(k->key, ((size_t)k->agencies + 1) * sizeof(*k->key));
	free(k->key);
	free(k->revoked);
	k->key = NULL;
	k->revoked = NULL;
}
