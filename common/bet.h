/*
 * bet: one lottery bet and the rules a valid bet obeys.  Field limits come
 * from the wire protocol (docs/protocol.md); validation here is shared by
 * the server (what it accepts), the client (what it sends) and the CSV
 * readers.
 */
#ifndef BET_H
#define BET_H

#include <stddef.h>
#include <stdint.h>

#define BET_NAME_MAX	50	/* bytes, not characters */
#define BET_DOC_MAX	10
#define BET_DATE_LEN	10	/* YYYY-MM-DD */
#define BET_NUMBER_MAX	9999
#define BET_WINNING_NUMBER 7574	/* the draw: a bet on it wins */
#define BET_NFIELDS	5	/* first;last;document;birthdate;number */

struct bet {
	uint32_t	agency;
	uint16_t	number;
	char		first[BET_NAME_MAX + 1];
	char		last[BET_NAME_MAX + 1];
	char		doc[BET_DOC_MAX + 1];
	char		birth[BET_DATE_LEN + 1];
};

/*
 * Fill b from the five field strings (first, last, document, birthdate,
 * number) after validating each.  On failure returns -1 and writes a short
 * reason (e.g. "bad birthdate") into err.
 */
int	 bet_from_fields(struct bet *b, uint32_t agency, char *const f[BET_NFIELDS],
	    char *err, size_t errlen);
/*
 * The same for fields cut from text already checked to be valid UTF-8 as
 * a whole (the protocol decoder checks each payload first): every other
 * rule still applies, the second UTF-8 pass is left out.
 */
int	 bet_from_utf8_fields(struct bet *b, uint32_t agency,
	    char *const f[BET_NFIELDS], char *err, size_t errlen);
/* Agency id: decimal, 1..UINT32_MAX/2, no sign, no spaces. 0 or -1. */
int	 bet_parse_agency(const char *s, uint32_t *out);
/* 1 when s is a real calendar date written YYYY-MM-DD. */
int	 bet_valid_date(const char *s);
/* Days in month m of year y (leap years counted); 0 when m is not 1..12. */
int	 bet_days_in_month(int y, int m);
/* 1 when s[0..len) is well-formed UTF-8 (no overlongs or surrogates). */
int	 bet_valid_utf8(const char *s, size_t len);

#endif
