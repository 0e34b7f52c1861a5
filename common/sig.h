/*
 * sig: the signal policy both programs share.  SIGTERM and SIGINT only
 * raise sig_stop, which the main loops poll; they are installed without
 * SA_RESTART so a blocking poll or sleep returns early to look at it.
 * SIGPIPE is ignored: a peer that hangs up makes a write fail with EPIPE
 * instead of killing the process.  The handler also makes sig_fd
 * readable, for good: a wait that watches it beside its socket wakes on a
 * stop even when the signal went to another thread or came just before
 * the wait began, so no wait has to wake now and then to look at the flag.
 */
#ifndef SIG_H
#define SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_stop;
extern int sig_fd;		/* readable once stopped; -1 before sig_install */

/* 0, or -1 with errno set. */
int	 sig_install(void);

/*
 * 1 when the flag stop (sig_stop, or a test's own) is raised, 0 when it
 * is not or stop is NULL.  The handler raises sig_stop in whichever
 * thread the signal lands, so every thread reads it through this one
 * atomic load: volatile alone orders nothing between threads.
 */
static inline int
sig_stopped(const volatile sig_atomic_t *stop)
{
	return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED) != 0;
}

#endif
