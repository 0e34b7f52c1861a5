/*
 * keys: the agencies' secret keys, read once at start from the file that
 * AGENCY_KEYS names.  One line per agency, "<agency> <64 hex digits>", or
 * "<agency> revoked" for an agency that may no longer authenticate; blank
 * lines and lines starting with '#' are skipped.  The table is read-only
 * once loaded, so every session thread reads it without a lock.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct keys {
	uint32_t	 agencies;	/* agencies 1..agencies have a line */
	uint8_t		(*key)[AUTH_KEY_LEN]; /* owned; indexed by agency */
	uint8_t		*revoked;	/* owned; 1: the line says revoked */
};

/*
 * Load path for agencies 1..agencies.  The file must be a regular file no
 * group or other can read, and name every agency exactly once.  Returns
 * 0, or -1 with err naming the file and, for a bad line, its number.
 */
int	 keys_load(struct keys *, const char *path, uint32_t agencies,
	    char *err, size_t errlen);
/* The agency's key, or NULL when it is revoked or out of range. */
const uint8_t *keys_get(const struct keys *, uint32_t agency);
/* 1 when the agency's line says revoked, else 0. */
int	 keys_revoked(const struct keys *, uint32_t agency);
/* Wipe and free the table. */
void	 keys_free(struct keys *);

#endif
