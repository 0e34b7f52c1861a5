/*
 * session: one client connection, from its first frame to its close.  It
 * reads frames, hands each decoded request to the store and writes the
 * reply, one request at a time and in order.
 */
#ifndef SESSION_H
#define SESSION_H

#include <netinet/in.h>

#include <signal.h>

#include "auth.h"
#include "bet.h"
#include "config.h"
#include "keys.h"
#include "csv.h"
#include "proto.h"
#include "rbuf.h"
#include "store.h"

/*
 * Batches read ahead from one connection and committed as one group:
 * at most SESSION_WINDOW of them, and no more once their rows pass
 * SESSION_ROUND_BYTES, or their share of SESSION_ROWS_BUDGET when many
 * connections upload at once (never less than SESSION_ROUND_MIN: a batch
 * or two).  A connection reads nothing more until its group is synced, so
 * the share bounds what a thousand uploading agencies hold, while a few
 * still send long groups.  Replies still go out in request order.
 */
#define SESSION_WINDOW		64
#define SESSION_ROUND_BYTES	65536
#define SESSION_ROUND_MIN	4096
#define SESSION_ROWS_BUDGET	(2 * 1024 * 1024)
#define SESSION_ROWS_CAP	(SESSION_ROUND_BYTES + \
				    PROTO_BATCH_MAX * CSV_ROW_MAX)
#define SESSION_ENDS_MAX	(SESSION_WINDOW * 128)
/* What the reply and the log line of a queued batch need. */
struct session_pending {
	enum proto_type		 type;
	unsigned		 number;	/* StoreBet's, for its log */
	char			 doc[BET_DOC_MAX + 1];
};

/*
 * A connection's working memory: its read buffer, the batches it has
 * queued with their rows, and room to decode a request and encode a
 * reply.  A connection holds one only while it has bytes or batches in
 * hand; one that waits for its peer or for the draw gives it back to the
 * replica's pool, where the next busy connection takes it.  So the
 * replica's memory follows the connections busy at once, not those open,
 * and no connection maps or unmaps memory as it goes from busy to idle.
 */
struct session_work {
	struct session_work	*next;		/* the pool's free list */
	struct rbuf		 in;		/* bytes read, not yet served */
	size_t			 nreqs;		/* batches queued, unanswered */
	size_t			 rows_used, ends_used;
	struct store_req	 reqs[SESSION_WINDOW];
	struct session_pending	 pend[SESSION_WINDOW];
	char			 acks[SESSION_WINDOW * 24]; /* their replies */
	char			 logs[16384];	/* their log lines */
	char			 payload[PROTO_PAYLOAD_MAX + 1];
	char			 reply[PROTO_FRAME_MAX];
	char			 body[PROTO_PAYLOAD_MAX + 1]; /* reply's */
	struct bet		 bets[PROTO_BATCH_MAX];
	proto_doc		 docs[PROTO_DOCS_MAX];	/* winners to send */
	uint32_t		 ends[SESSION_ENDS_MAX];
	char			 rows[SESSION_ROWS_CAP]; /* their CSV rows */
};

struct session {
	int			 fd;		/* owned by the net slot */
	char			 peer[64];
	char			 host[INET6_ADDRSTRLEN]; /* peer, port aside */
	struct store		*store;
	const struct config	*cfg;
	const struct keys	*keys;		/* NULL: no authentication */
	uint32_t		 agency;	/* authenticated as, or 0 */
	uint32_t		 hello;		/* challenged for, or 0 */
	uint8_t			 nonce[AUTH_NONCE_LEN]; /* while hello */
	volatile sig_atomic_t	*stop;
	long long		 last_work;	/* io_now_ms(): last request
						   that did work, or start */
	struct session_work	*w;		/* from the pool while busy, or
						   NULL */
};

/*
 * Serve s->fd (s zeroed, then fd, peer, host, store, cfg, keys and stop
 * set) until the peer hangs up, a frame is malformed, *s->stop is
 * set between requests, or CONN_TIMEOUT passes since the last request
 * that did work (an Echo or a refused request does not count), or, with
 * PROTOCOL=base, after its first request; then shut
 * it down (the caller closes it, so the descriptor stays valid for
 * net_serve).
 */
void	 session_run(struct session *s);

#endif
