/*
 * sig: the signal policy both programs share.  SIGTERM and SIGINT only
 * raise sig_stop, which the main loops poll; they are installed without
 * SA_RESTART so a blocking poll or sleep returns early to look at it.
 * SIGPIPE is ignored: a peer that hangs up makes a write fail with EPIPE
 * instead of killing the process.
 */
#ifndef SIG_H
#define SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_stop;

/* 0, or -1 with errno set. */
int	 sig_install(void);

#endif
