/*
 * session: one client connection as the event loop sees it: a small
 * struct, no thread.  It parses the frames the loop reads for it,
 * dispatches each through the handler table, hands store work to the
 * store thread (worker.c) and queues the replies, in request order.
 */
#ifndef SESSION_H
#define SESSION_H

#include <netinet/in.h>

#include <limits.h>
#include <signal.h>

#include "auth.h"
#include "bet.h"
#include "config.h"
#include "keys.h"
#include "csv.h"
#include "proto.h"
#include "rbuf.h"
#include "store.h"
#include "worker.h"

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
/*
 * Replies waiting for the socket: a frame is dispatched only while one
 * whole reply and the acknowledgements of a full window still fit, so a
 * peer that does not read stops being served instead of growing this.
 */
#define SESSION_ACK_MAX		24	/* StoreResponse:0|1 framed, rounded */
#define SESSION_OUT_ROOM	(PROTO_FRAME_MAX + SESSION_WINDOW * \
				    SESSION_ACK_MAX)
#define SESSION_OUT_MAX		(2 * SESSION_OUT_ROOM)
/*
 * With AGENCY_KEYS, the time a connection has to prove its agency (or
 * CONN_TIMEOUT when shorter): a peer without a key holds a connection no
 * longer than this, whatever it sends.
 */
#define SESSION_HANDSHAKE_MS	5000
/* session_deadline's reason when that deadline is the handshake's. */
#define SESSION_WHY_HANDSHAKE	"no handshake in time"
/* Working areas out at once past which parked waiters wait to be woken. */
#define SESSION_WAKE_AREAS	256
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
	char			 logs[16384];	/* their log lines */
	struct proto_msg	 held;		/* a request to serve again */
	const void		*held_h;	/* its handler row */
	char			 payload[PROTO_PAYLOAD_MAX + 1];
	char			 reply[PROTO_FRAME_MAX];
	size_t			 out_start, out_end; /* out[start..end) */
	char			 out[SESSION_OUT_MAX]; /* replies to write */
	char			 body[PROTO_PAYLOAD_MAX + 1]; /* reply's */
	struct bet		 bets[PROTO_BATCH_MAX];
	proto_doc		 docs[PROTO_DOCS_MAX];	/* winners to send */
	uint32_t		 ends[SESSION_ENDS_MAX];
	char			 rows[SESSION_ROWS_CAP]; /* their CSV rows */
};

struct session;
struct session_link {
	struct session		*prev, *next;
};

/*
 * A connection.  The loop thread owns every field; while job is in flight
 * (busy) the store thread owns job and what it points into (the area's
 * requests, rows and documents), and the loop reads on into w->in only.
 */
struct session {
	int			 fd;		/* owned by net */
	char			 peer[64];
	char			 host[INET6_ADDRSTRLEN]; /* peer, port aside */
	struct store		*store;
	struct worker		*worker;
	const struct config	*cfg;
	const struct keys	*keys;		/* NULL: no authentication */
	volatile sig_atomic_t	*stop;
	const int		*stopping;	/* net's: serve nothing new */
	uint32_t		 agency;	/* authenticated as, or 0 */
	uint32_t		 hello;		/* challenged for, or 0 */
	uint8_t			 nonce[AUTH_NONCE_LEN]; /* while hello */
	long long		 since;		/* accepted (io_now_ms()) */
	long long		 last_work;	/* last request that did work */
	long long		 frame_since;	/* a partial frame began, or 0 */
	long long		 out_since;	/* replies unwritten since, or 0 */
	long long		 park_until;	/* parked: its wait's end */
	unsigned		 busy:1;	/* job is with the store thread */
	unsigned		 parked:1;	/* WinnersWait before the draw */
	unsigned		 held:1;	/* payload to serve after job */
	unsigned		 eof:1;		/* the peer sent its last byte */
	unsigned		 ending:1;	/* close once replies are out */
	unsigned		 served:1;	/* a request was dispatched */
	size_t			 held_len;
	enum proto_type		 job_req;	/* the request job answers */
	uint32_t		 wait_agency;	/* parked: its request */
	uint64_t		 wait_start;
	struct worker_job	 job;
	struct session_work	*w;		/* from the pool while busy, or
						   NULL */
	/* net's bookkeeping (admission classes, lists). */
	struct session_link	 all;		/* every connection */
	struct session_link	 clink;		/* its class's list */
	struct session_link	 wlink;		/* parked, or to wake */
	void			*peer_ent;	/* its address's entry */
	int			 cls;		/* net's admission class */
	int			 wlist;		/* which wait list, or 0 */
	int			 mstate;	/* the connection gauge it counts
						   in (enum metrics_conn), or -1 */
	int			 rdhup;		/* parked: peer sent its last */
	int			 dead;		/* ended, freed after this turn */
	uint32_t		 events;	/* epoll interest set */
};

/* What a session call asks of the loop. */
enum session_rc {
	SESSION_OK = 0,		/* go on */
	SESSION_CLOSE = -1	/* close it (logged) once not busy */
};

/* Set up s (zeroed, then fd, peer, host and the shared pointers set). */
void	 session_open(struct session *s);
/*
 * The socket is readable: read what fits into the working area (taking
 * one), then serve.  SESSION_CLOSE when the peer is gone or broke the
 * protocol.
 */
int	 session_input(struct session *s);
/* Serve the whole frames in hand, as far as the rules let. */
int	 session_serve(struct session *s);
/* The socket is writable: write queued replies. */
int	 session_output(struct session *s);
/* The store thread gave s's job back: reply, then serve on. */
int	 session_complete(struct session *s);
/* A parked waiter's draw came or its wait ran out: ask for its page. */
int	 session_wake(struct session *s);
/* Stopping: a parked waiter is answered NotReadyResponse. */
int	 session_unpark(struct session *s);
/*
 * The connection is ending: batches queued are committed (busy again)
 * and nothing more is served.  Returns 1 when s may be freed now.
 */
int	 session_finish(struct session *s);
/* Give the working area back (s not busy); drops what it held. */
void	 session_release(struct session *s);
/* 1 when replies wait for the socket. */
int	 session_pending_out(const struct session *s);
/* 1 when the read buffer has room (or s holds no area). */
int	 session_can_read(const struct session *s);
/*
 * The time (io_now_ms()) at which s must be looked at, and why (a short
 * reason for the log), or LLONG_MAX.
 */
long long session_deadline(const struct session *s, const char **why);
/* Working areas out of the pool. */
int	 session_pool_busy(void);
/* Send the one-frame BusyResponse:retry_ms without waiting (best effort). */
void	 session_busy_reply(int fd, unsigned retry_ms);

#endif
