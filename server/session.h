/*
 * session: one client connection, from its first frame to its close.  It
 * reads frames, hands each decoded request to the store and writes the
 * reply, one request at a time and in order.
 */
#ifndef SESSION_H
#define SESSION_H

#include <signal.h>

#include "bet.h"
#include "config.h"
#include "proto.h"
#include "store.h"

struct session {
	int			 fd;		/* owned by the net slot */
	char			 peer[64];
	struct store		*store;
	const struct config	*cfg;
	volatile sig_atomic_t	*stop;
	long long		 last_work;	/* io_now_ms(): last request
						   that did work, or start */
	char			 payload[PROTO_PAYLOAD_MAX + 1];
	char			 reply[PROTO_FRAME_MAX];
	struct bet		 bets[PROTO_BATCH_MAX];
	proto_doc		 docs[PROTO_DOCS_MAX];	/* winners to send */
};

/*
 * Serve s->fd until the peer hangs up, a frame is malformed, *s->stop is
 * set between requests, or CONN_TIMEOUT passes since the last request
 * that did work (an Echo or a refused request does not count), or, with
 * PROTOCOL=base, after its first request; then shut
 * it down (the caller closes it, so the descriptor stays valid for
 * net_serve).
 */
void	 session_run(struct session *s);

#endif
