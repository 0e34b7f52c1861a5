/*
 * reply: strict decoding of the server's replies on the client side.  A
 * reply is taken only when it parses exactly: digits where a count is due,
 * within bounds, nothing before or after, so a reply like
 * "AgencyStatusResponse:-5;0" is refused instead of read as a huge count.
 * Helpers only: they return a code and never log.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_COUNT_MAX	(1ULL << 53)	/* largest count a reply may carry */

/* The body of payload when its type is type ("Type:body"), else NULL. */
const char *reply_body(const char *payload, const char *type);
/*
 * Decimal digits only (no sign, space or empty string), value <= max.
 * 0 with *out, or -1.
 */
int	 reply_uint(const char *s, size_t len, uint64_t max, uint64_t *out);
/* StoreResponse body: exactly "0" (*ok = 1) or "1" (*ok = 0).  0 or -1. */
int	 reply_store(const char *body, int *ok);
/* AgencyStatusResponse body "stored;0|1".  0 or -1. */
int	 reply_status(const char *body, uint64_t *stored, int *closed);
/*
 * A list of documents "doc;doc;..." (the empty string is none), each
 * 1..BET_DOC_MAX bytes of UTF-8 with no control byte and no ':' or ';'.
 * 0 with *count, or -1.
 */
int	 reply_docs(const char *s, size_t *count);
/*
 * WinnersPageResponse body "total" or "total;doc;doc;...".  0 with *total
 * and *count (documents in this page), or -1.
 */
int	 reply_page(const char *body, uint64_t *total, size_t *count);

#endif
