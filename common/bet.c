/*
 * bet: what makes a bet valid.  The server, the client and the CSV code
 * all go through bet_from_fields, so a value the client would send is
 * exactly a value the server would store.  Nothing is repaired: a field
 * that breaks a rule is rejected with a short reason.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bet.h"
#include "num.h"

int
bet_valid_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	uint32_t		 cp, min;

	while (i < len) {
		/* Eight ASCII bytes at a time: almost every byte is one. */
		if (i + 8 <= len) {
			uint64_t	w;

			memcpy(&w, p + i, sizeof(w));
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1; cp = p[i] & 0x1f; min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2; cp = p[i] & 0x0f; min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3; cp = p[i] & 0x07; min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
bet_days_in_month(int y, int m)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/*
 * The n decimal digits at s into *v: 0, or -1 when one is not a digit (a
 * NUL included, so nothing past a short string is read).  Every bet has
 * five such fields, on both sides: the general parser's bounds cost more
 * than these few digits.
 */
static int
bet_digits(const char *s, int n, unsigned *v)
{
	unsigned	x = 0, d;

	for (int i = 0; i < n; i++) {
		if ((d = (unsigned)(unsigned char)s[i] - '0') > 9)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int
bet_valid_date(const char *s)
{
	unsigned	y, m, d;

	if (s == NULL || bet_digits(s, 4, &y) == -1 || s[4] != '-' ||
	    bet_digits(s + 5, 2, &m) == -1 || s[7] != '-' ||
	    bet_digits(s + 8, 2, &d) == -1 || s[BET_DATE_LEN] != '\0')
		return 0;
	return y >= 1 && d >= 1 && d <= (unsigned)bet_days_in_month((int)y,
	    (int)m);
}

int
bet_parse_agency(const char *s, uint32_t *out)
{
	uint64_t	v;

	if (s == NULL || num_parse(s, 1, UINT32_MAX / 2, &v, NULL) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * The bytes a text field must not hold: the protocol's separators and the
 * control bytes.  A table, because this runs on every byte of every bet
 * on both sides.
 */
static const unsigned char bet_bad[256] = {
	[0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
	[0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1,
	[0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
	[0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1,
	[0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1,
	[0x1f] = 1, [0x7f] = 1, [';'] = 1, [':'] = 1
};

/*
 * Check one text field: 1..max bytes, no protocol separator, no control
 * byte, valid UTF-8.  Returns its length, or -1 with "<what> <problem>"
 * in err.  One pass finds the length, the first bad byte and whether any
 * byte is not ASCII; only then is UTF-8 decoded.
 */
static ssize_t
bet_check_text(const char *s, size_t max, const char *what, int utf8_known,
    char *err, size_t errlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len, bad = SIZE_MAX;
	unsigned		 high = 0;

	for (len = 0; p[len] != '\0'; len++) {
		high |= p[len];
		if (bet_bad[p[len]] && bad == SIZE_MAX)
			bad = len;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty %s", what);
		return -1;
	}
	if (len > max) {
		snprintf(err, errlen, "%s too long", what);
		return -1;
	}
	if (bad != SIZE_MAX) {
		snprintf(err, errlen, p[bad] == ';' || p[bad] == ':' ?
		    "separator in %s" : "control byte in %s", what);
		return -1;
	}
	if (!utf8_known && (high & 0x80) && !bet_valid_utf8(s, len)) {
		snprintf(err, errlen, "bad UTF-8 in %s", what);
		return -1;
	}
	return (ssize_t)len;
}

/* bet_from_fields, with the UTF-8 checks left out when utf8_known. */
static int
bet_fill(struct bet *b, uint32_t agency, char *const f[BET_NFIELDS],
    int utf8_known, char *err, size_t errlen)
{
	uint64_t	num;
	ssize_t		first, last, doc;

	if ((first = bet_check_text(f[0], BET_NAME_MAX, "first name",
	    utf8_known, err, errlen)) == -1 ||
	    (last = bet_check_text(f[1], BET_NAME_MAX, "last name", utf8_known,
	    err, errlen)) == -1 ||
	    (doc = bet_check_text(f[2], BET_DOC_MAX, "document", utf8_known,
	    err, errlen)) == -1)
		return -1;
	if (!bet_valid_date(f[3])) {
		snprintf(err, errlen, "bad birthdate");
		return -1;
	}
	/*
	 * The value counts, not how it is written: leading zeros are fine
	 * ("07574" is 7574, stored as 7574), whatever their number.
	 */
	if (num_parse(f[4], 0, BET_NUMBER_MAX, &num, NULL) == -1) {
		snprintf(err, errlen, "bad number");
		return -1;
	}
	memset(b, 0, sizeof(*b));
	b->agency = agency;
	b->number = (uint16_t)num;
	/* Lengths were checked above, so these copies are whole. */
	memcpy(b->first, f[0], (size_t)first + 1);
	memcpy(b->last, f[1], (size_t)last + 1);
	memcpy(b->doc, f[2], (size_t)doc + 1);
	memcpy(b->birth, f[3], BET_DATE_LEN + 1);
	return 0;
}

int
bet_from_fields(struct bet *b, uint32_t agency, char *const f[BET_NFIELDS],
    char *err, size_t errlen)
{
	return bet_fill(b, agency, f, 0, err, errlen);
}

int
bet_from_utf8_fields(struct bet *b, uint32_t agency,
    char *const f[BET_NFIELDS], char *err, size_t errlen)
{
	return bet_fill(b, agency, f, 1, err, errlen);
}
