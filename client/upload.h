/*
 * upload: the client's session with the server.  Normal mode streams the
 * agency file in StoreBatchAt batches, resuming from the server's count
 * after any lost connection, then closes the agency and polls for its
 * winners.  Against a server that lacks the extensions it falls back to
 * the base protocol (StoreBatch, AgencyClose, WinnersRequest), one
 * connection per request when the server closes after each.  Single-bet
 * mode sends one StoreBet.
 */
#ifndef UPLOAD_H
#define UPLOAD_H

#include <signal.h>
#include <stdint.h>

#include "agency.h"
#include "backoff.h"
#include "bet.h"
#include "config.h"
#include "conn.h"
#include "proto.h"

enum upload_result {
	UPLOAD_DONE,		/* everything the mode asks for happened */
	UPLOAD_STOPPED,		/* *stop became non-zero */
	UPLOAD_FAILED		/* logged; nothing more can be done, or
				   retry_max failures came in a row */
};

/* A batch sent and not yet answered. */
struct upload_flight {
	uint64_t		 pos;
	size_t			 n;
};

struct upload {
	const struct client_conf *conf;
	struct agency_file	*file;		/* NULL in single-bet mode */
	volatile sig_atomic_t	*stop;
	int			 fd;		/* -1 while disconnected */
	int			 legacy;	/* this replica lacks WinnersPage */
	int			 no_wait;	/* no WinnersWait here */
	int			 base;		/* speaking the base protocol */
	int			 decided;	/* auto: the server answered an
						   extension, so never base */
	int			 oneshot;	/* base: -1 not known yet, 1 the
						   server closes after each
						   request, 0 it does not */
	unsigned		 served;	/* requests through on this
						   connection */
	struct conn_rot		 rot;		/* which address is next */
	struct backoff		 bo;		/* reconnect delays */
	unsigned		 failures;	/* in a row, without progress */
	char			 cause[512];	/* the last failure, for the log */
	unsigned		 busy_ms;	/* a BusyResponse's wait, for the
						   next retry (0: none) */
	uint64_t		 winners;	/* the agency's winner count */
	int			 summarized;	/* carga_finalizada logged */
	uint64_t		 total;		/* rows of the file, counted when the
						   first progress line is due */
	uint64_t		 acked;		/* bets acknowledged in this run */
	long long		 started;	/* io_now_ms() of upload_run */
	long long		 reported;	/* last in_progress line, or start */
	size_t			 fhead, nflight; /* the ring below */
	struct proto_msg	 rep;		/* the last reply, decoded */
	int			 rep_ok;	/* 1: rep parsed whole */
	/* Buffers, from here on: written before read, never zeroed. */
	struct proto_batch	 batch;
	struct upload_flight	 flight[CONFIG_WINDOW_MAX]; /* a ring */
	char			 reply[PROTO_PAYLOAD_MAX + 1];
	char			 rbuf[PROTO_PAYLOAD_MAX + 1];	/* reply
						   decoded in place */
};

void	 upload_init(struct upload *, const struct client_conf *,
	    struct agency_file *, volatile sig_atomic_t *stop);
/* Normal mode: upload the whole file, close, wait for the winners. */
enum upload_result upload_run(struct upload *);
/* Single-bet mode: store one bet. */
enum upload_result upload_single(struct upload *, const struct bet *);
/* Close the connection if one is open; 1 when one was. */
int	 upload_close(struct upload *);

#endif
