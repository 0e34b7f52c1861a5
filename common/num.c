/*
 * num: the bounded decimal parser behind num.h.  The bound is checked
 * before each multiply, so a value past max is refused without ever
 * computing something that could wrap.
 */
#include <string.h>

#include "num.h"

static int
num_fail(const char **errstr, const char *why)
{
	if (errstr != NULL)
		*errstr = why;
	return -1;
}

int
num_parse_len(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *out, const char **errstr)
{
	uint64_t	v = 0, d, q = max / 10, r = max % 10;
	size_t		i;
	int		big = 0;

	if (len == 0)
		return num_fail(errstr, "empty");
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return num_fail(errstr, "invalid");
		d = (uint64_t)(s[i] - '0');
		/*
		 * v * 10 + d > max, without a division per digit.  Keep
		 * reading once too large: a later non-digit is "invalid".
		 */
		if (big || v > q || (v == q && d > r)) {
			big = 1;
			continue;
		}
		v = v * 10 + d;
	}
	if (big)
		return num_fail(errstr, "too large");
	if (v < min)
		return num_fail(errstr, "too small");
	if (errstr != NULL)
		*errstr = NULL;
	*out = v;
	return 0;
}

int
num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **errstr)
{
	return num_parse_len(s, strlen(s), min, max, out, errstr);
}
