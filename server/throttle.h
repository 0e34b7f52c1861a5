/*
 * throttle: the failed-handshake budget of each peer address and of each
 * agency claimed from it.  A few failures cost nothing; past them the
 * pair (address, agency) must wait before its next handshake, twice as
 * long after each further failure, up to a ceiling.  Failures for one
 * agency never slow another agency at the same address (agencies share
 * addresses behind a NAT, or on one host), but an address that fails for
 * THROTTLE_SPREAD distinct agencies has every further failure counted
 * against the address as a whole, so guessing across agencies is slowed
 * too.  The wait only refuses AuthHello, which is cheap, so a peer
 * guessing keys gains nothing by flooding.  The table is fixed in size
 * and shared by the session threads.
 */
#ifndef THROTTLE_H
#define THROTTLE_H

#include <stdint.h>

#define THROTTLE_FREE		3	/* failures before any wait */
#define THROTTLE_SPREAD		3	/* distinct agencies failed from one
					   address before the address counts */
#define THROTTLE_BASE_MS	250	/* the first wait */
#define THROTTLE_MAX_MS		30000	/* the longest wait */
#define THROTTLE_FORGET_MS	600000	/* failures older than this go */
#define THROTTLE_SLOTS		1024	/* pairs and addresses remembered */

/*
 * Milliseconds host must still wait before a handshake for agency at time
 * now (io_now_ms()), 0 when it may go ahead: the longer of the pair's wait
 * and the address's.  *first is set to 1 the first time a wait is
 * reported for one failure, so the caller logs it once.
 */
long long throttle_wait(const char *host, uint32_t agency, long long now,
	    int *first);
/* Count a failed handshake of host for agency at time now. */
void	 throttle_fail(const char *host, uint32_t agency, long long now);
/* Forget everything (tests). */
void	 throttle_reset(void);

#endif
