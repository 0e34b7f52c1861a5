/*
 * net: the listening socket and the connection threads.  One thread per
 * connection, up to MAX_CONNECTIONS and MAX_CONNECTIONS_PER_PEER from one
 * address; the excess is accepted, logged and closed at once so a client
 * fails fast instead of waiting in the backlog.
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
 * Accept and serve until *stop is set, then wait for every connection to
 * finish its request in flight (a reply its peer does not read is cut
 * short after a moment) and close.  Closes lfd.  keys: NULL, or the
 * agencies' keys every connection must prove one of before acting.
 */
void	 net_serve(int lfd, struct store *, const struct config *,
	    const struct keys *, volatile sig_atomic_t *stop);

#endif
