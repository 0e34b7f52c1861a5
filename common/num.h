/*
 * num: the one bounded decimal parser.  Every count, id, position, bet
 * number, date part and config integer is read through it, so "what is a
 * number" is decided in one place: ASCII digits only, no sign, no spaces,
 * not empty, within [min, max], and never wrapping however long the input.
 * Leading zeros are accepted ("0042" is 42): bet numbers and dates have
 * always been read that way, and a length rule, where a field has one,
 * belongs to that field's caller.
 */
#ifndef NUM_H
#define NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse the whole string s.  Returns 0 with the value in *out, or -1 with
 * *out untouched and, when errstr is not NULL, a static reason in *errstr:
 * "empty", "invalid" (a byte that is not a digit), "too small" or "too
 * large".  On success *errstr is set to NULL.
 */
int	 num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    const char **errstr);
/* The same over exactly the len bytes at s, which need not end there. */
int	 num_parse_len(const char *s, size_t len, uint64_t min, uint64_t max,
	    uint64_t *out, const char **errstr);

#endif
