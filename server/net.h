/*
 * net: the listening socket and the replica's event loop (epoll): every
 * connection, the stop, the store thread's completions and the draw
 * watcher go through one loop thread.  Admission keeps room for the
 * agencies that still have to upload (see net.c).
 */
#ifndef NET_H
#define NET_H

#include <signal.h>

#include "config.h"
#include "keys.h"
#include "store.h"

/*
 * Raise the soft RLIMIT_NOFILE to the hard one and check that it covers
 * MAX_CONNECTIONS plus the replica's own descriptors.  0, or -1 with a
 * message naming both numbers in err.
 */
int	 net_limits(const struct config *, char *err, size_t errlen);
/* Bound and listening socket, or -1 with the reason in err. */
int	 net_listen(const struct config *, char *err, size_t errlen);
/*
 * Accept and serve until a stop signal (sig_fd), then answer the waiters
 * NotReadyResponse, let the store thread finish what it was given, give
 * replies in flight a bounded time and close everything.  Closes lfd.
 * keys: NULL, or the agencies' keys every connection must prove one of
 * before acting.
 */
void	 net_serve(int lfd, struct store *, const struct config *,
	    const struct keys *);

#endif
