/*
 * backoff: how long to wait before the next reconnect or poll.  Delays
 * double from base up to max and are jittered into [d/2, d] so clients
 * that failed together do not retry together.  Sleeping is sliced so a
 * stop request (SIGTERM) is noticed within 100 ms.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "backoff.h"
#include "sig.h"

#define BACKOFF_SLICE_MS	100
#define BACKOFF_SHIFT_MAX	32	/* base << 32 exceeds any unsigned max */

void
backoff_init(struct backoff *b, unsigned base_ms, unsigned max_ms)
{
	b->base_ms = base_ms;
	b->max_ms = max_ms;
	b->attempt = 0;
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

unsigned
backoff_next(struct backoff *b)
{
	unsigned	shift, lo, d;
	uint64_t	full;

	shift = b->attempt < BACKOFF_SHIFT_MAX ? b->attempt : BACKOFF_SHIFT_MAX;
	full = (uint64_t)b->base_ms << shift;
	d = full > b->max_ms ? b->max_ms : (unsigned)full;
	if (b->attempt < BACKOFF_SHIFT_MAX)
		b->attempt++;
	lo = d / 2;
	return lo + arc4random_uniform(d - lo + 1);
}

int
backoff_sleep(unsigned ms, volatile sig_atomic_t *stop)
{
	struct timespec	ts;
	unsigned	slice;

	while (ms > 0) {
		if (sig_stopped(stop))
			return 1;
		slice = ms < BACKOFF_SLICE_MS ? ms : BACKOFF_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)slice * 1000000L;
		/* EINTR: a signal came; loop round to look at *stop. */
		if (nanosleep(&ts, NULL) == -1 && errno != EINTR)
			return 0;
		ms -= slice;
	}
	return sig_stopped(stop);
}
