/*
 * backoff: exponential backoff with jitter for reconnects and polling.
 * The n-th delay is drawn uniformly from [d/2, d] where
 * d = min(max, base * 2^n), so retries spread out instead of arriving in
 * lock-step from every agency.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <signal.h>

struct backoff {
	unsigned	 base_ms;
	unsigned	 max_ms;
	unsigned	 attempt;
};

void	 backoff_init(struct backoff *, unsigned base_ms, unsigned max_ms);
void	 backoff_reset(struct backoff *);
/* Next delay in milliseconds; advances the attempt count. */
unsigned backoff_next(struct backoff *);
/* Sleep for ms, returning early (1) when *stop becomes non-zero. */
int	 backoff_sleep(unsigned ms, volatile sig_atomic_t *stop);

#endif
