/*
 * throttle: the failed-handshake budget of each peer address.  A few
 * failures cost nothing; past them an address must wait before its next
 * handshake, twice as long after each further failure, up to a ceiling.
 * The wait only refuses AuthHello, which is cheap, so a peer guessing
 * keys gains nothing by flooding and agencies at other addresses are not
 * slowed.  The table is fixed in size and shared by the session threads.
 */
#ifndef THROTTLE_H
#define THROTTLE_H

#define THROTTLE_FREE		3	/* failures before any wait */
#define THROTTLE_BASE_MS	250	/* the first wait */
#define THROTTLE_MAX_MS		30000	/* the longest wait */
#define THROTTLE_FORGET_MS	600000	/* failures older than this go */
#define THROTTLE_SLOTS		1024	/* addresses remembered */

/*
 * Milliseconds host must still wait before a handshake at time now
 * (io_now_ms()), 0 when it may go ahead.  *first is set to 1 the first
 * time a wait is reported for one failure, so the caller logs it once.
 */
long long throttle_wait(const char *host, long long now, int *first);
/* Count a failed handshake of host at time now. */
void	 throttle_fail(const char *host, long long now);

#endif
