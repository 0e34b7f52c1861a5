/*
 * keys: what the agency key file's lines mean (keyfile reads them, as
 * it reads the client's key file, so both take the same forms).  Every
 * problem stops the start with the file's name and, for a line, its
 * number: a replica that started with half its agencies' keys would
 * refuse the others for the whole day.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"
#include "keys.h"
#include "num.h"

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

/* Every line of kf into k.  0, or -1 with err. */
static int
keys_read(struct keys *k, struct keyfile *kf, uint8_t *seen, char *err,
    size_t errlen)
{
	char	 why[160];
	int	 r;

	while ((r = keyfile_next(kf, err, errlen)) == 1)
		if (keys_line(k, kf->line, seen, why, sizeof(why)) == -1)
			return keys_bad(err, errlen, kf->path, kf->lineno, why);
	return r;
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

int
keys_load(struct keys *k, const char *path, uint32_t agencies, char *err,
    size_t errlen)
{
	struct keyfile	 kf;
	uint8_t		*seen = NULL;
	int		 rc = -1;

	memset(k, 0, sizeof(*k));
	k->agencies = agencies;
	if (keyfile_open(&kf, path, err, errlen) == -1)
		return -1;
	k->key = calloc((size_t)agencies + 1, sizeof(*k->key));
	k->revoked = calloc((size_t)agencies + 1, 1);
	seen = calloc((size_t)agencies + 1, 1);
	if (k->key == NULL || k->revoked == NULL || seen == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (keys_read(k, &kf, seen, err, errlen) == 0 &&
	    keys_complete(k, seen, path, err, errlen) == 0)
		rc = 0;
done:
	keyfile_close(&kf);
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

int
keys_revoked(const struct keys *k, uint32_t agency)
{
	return k->revoked != NULL && agency != 0 && agency <= k->agencies &&
	    k->revoked[agency];
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
