/*
 * upload: the batch session.  The server counts the bets it holds for the
 * agency and StoreBatchAt carries each batch's position, so resuming is
 * stateless here: after any failure the client reconnects (to the next
 * address of the server's name), asks AgencyStatus, rereads the file from
 * the top and skips the rows already stored.  Re-sent batches are
 * harmless; the server skips what it has.  Every failure that makes no
 * progress is counted, and retry_max of them in a row end the run.  A
 * server shown to have only the base protocol (never one that is merely
 * full, down or refusing: see upload_maybe_base) gets StoreBatch frames,
 * resumed from the bets acknowledged in this run (at-least-once: a batch
 * whose reply was lost goes again), then AgencyClose and WinnersRequest.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conn.h"
#include "io.h"
#include "log.h"
#include "sig.h"
#include "upload.h"

#define RESYNC_MAX	3	/* rejected batches tolerated per session */
#define PROGRESS_MS	3000	/* least time between in_progress lines */
#define ONESHOT_WAIT_MS	200	/* how long a base server's close may trail
				   its first reply */

/* How one step of the session ended. */
enum step {
	STEP_OK,
	STEP_RETRY,		/* failed (u->cause): reconnect and resume */
	STEP_RESYNC,		/* batch rejected: ask status and resume */
	STEP_WAIT,		/* the draw has not happened yet */
	STEP_REFUSED,		/* a winners request refused (StoreResponse:1) */
	STEP_BASE,		/* the server lacks the extensions */
	STEP_STOP,
	STEP_FAIL
};

void
upload_init(struct upload *u, const struct client_conf *conf,
    struct agency_file *file, volatile sig_atomic_t *stop)
{
	/* The buffers stay as they are: zeroing them costs a fault a page. */
	memset(u, 0, offsetof(struct upload, batch));
	u->conf = conf;
	u->file = file;
	u->stop = stop;
	u->fd = -1;
	u->base = conf->protocol == CONFIG_PROTO_BASE;
	u->oneshot = -1;
	backoff_init(&u->bo, conf->retry_ms, conf->retry_max_ms);
}

int
upload_close(struct upload *u)
{
	u->fhead = u->nflight = 0;	/* their replies are lost with it */
	if (u->fd == -1)
		return 0;
	conn_close(u->fd);
	u->fd = -1;
	return 1;
}

/*
 * Log a failure worth another attempt (details from fmt, then "motivo:
 * why"), keep why as the cause to report if the attempts run out, and
 * return STEP_RETRY.
 */
static enum step __attribute__((format(printf, 4, 5)))
upload_retry(struct upload *u, const char *action, const char *why,
    const char *fmt, ...)
{
	char	 detail[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	strlcpy(u->cause, why, sizeof(u->cause));
	log_warn(action, "fail", "%s%smotivo: %s", detail,
	    detail[0] != '\0' ? " | " : "", why);
	return STEP_RETRY;
}

/* A reply that does not parse exactly: why, and the reply itself. */
static enum step
upload_bad_reply(struct upload *u, const char *action, const char *why)
{
	char	 clean[LOG_VALUE_MAX];

	return upload_retry(u, action, why, "reply: %s",
	    log_clean(clean, u->reply));
}

/* Something really moved forward: failures and delays start over. */
static void
upload_progress(struct upload *u)
{
	u->failures = 0;
	backoff_reset(&u->bo);
}

/*
 * Count one failed attempt.  Returns 1, with the cause logged, when
 * retry_max of them came in a row without progress.
 */
static int
upload_give_up(struct upload *u)
{
	if (++u->failures < (unsigned)u->conf->retry_max)
		return 0;
	log_error("reconnect", "fail", "intentos: %u | motivo: %s",
	    u->failures, u->cause);
	return 1;
}

/*
 * Decode the reply u->reply[0..n) into u->rep through the protocol's
 * strict decoders, on a copy so u->reply stays whole for the log.
 */
static void
upload_decode(struct upload *u, size_t n)
{
	char	 why[128];

	memcpy(u->rbuf, u->reply, n);
	u->rep_ok = proto_decode(u->rbuf, n, &u->rep, NULL, 0, why,
	    sizeof(why)) == 0;
}

/* 1 when the last reply was of type t and parsed whole. */
static int
upload_got(const struct upload *u, enum proto_type t)
{
	return u->rep.type == t && u->rep_ok;
}

/* 1 when the last reply was of type t but did not parse. */
static int
upload_malformed(const struct upload *u, enum proto_type t)
{
	return u->rep.type == t && !u->rep_ok;
}

/* Send a request of type with the given body and read its reply. */
static enum step
upload_ask(struct upload *u, const struct proto_msg *m, const char *action)
{
	char	 err[256];
	ssize_t	 n;

	if ((n = conn_request(u->fd, m, u->conf->timeout_ms, u->stop, u->reply,
	    sizeof(u->reply), err, sizeof(err))) == -1)
		return upload_retry(u, action, err, "%s", "");
	upload_decode(u, (size_t)n);
	if (upload_got(u, PROTO_BUSY)) {
		/* Kept non-zero: it also tells a busy replica from others. */
		u->busy_ms = u->rep.wait_ms > 0 ? u->rep.wait_ms : 1;
		return upload_retry(u, action, "replica busy", "retry_in_ms: %u",
		    u->rep.wait_ms);
	}
	return STEP_OK;
}

/*
 * The delay before the next attempt: the backoff's, or longer when the
 * replica asked for it (BusyResponse), which is used once.
 */
static unsigned
upload_delay(struct upload *u)
{
	unsigned	 ms = backoff_next(&u->bo);

	if (u->busy_ms > ms)
		ms = u->busy_ms;
	u->busy_ms = 0;
	return ms;
}

/* 1 when the reply is StoreResponse:1, a request refused for now. */
static int
upload_refused(const struct upload *u)
{
	return upload_got(u, PROTO_STORE_RESPONSE) && !u->rep.ok;
}

/*
 * AuthRefused:reason ends the run: asking again cannot change the
 * answer.  Log what the reason means and return STEP_FAIL.
 */
static enum step
upload_auth_refused(struct upload *u)
{
	char		 reason[40];
	const char	*why;

	snprintf(reason, sizeof(reason), "%.*s", (int)u->rep.textlen,
	    u->rep.text);
	if (strcmp(reason, PROTO_REFUSED_NOT_CONFIGURED) == 0)
		why = "authentication not configured on this server: unset "
		    "key_file, or give the replica AGENCY_KEYS";
	else if (strcmp(reason, PROTO_REFUSED_WRONG_KEY) == 0)
		why = "key refused by server: key_file does not hold this "
		    "agency's key";
	else if (strcmp(reason, PROTO_REFUSED_REVOKED) == 0)
		why = "agency revoked on this server";
	else
		why = "handshake refused by server for a reason not known here";
	log_error("auth", "fail", "agencia: %d | motivo: %s | razon: %s",
	    u->conf->id, why, reason);
	return STEP_FAIL;
}

/*
 * Prove the agency's key on the new connection.  STEP_OK; STEP_RETRY when
 * the connection failed or the replica asked for a wait (BusyResponse:
 * this address failed too often lately for this agency), with the wait
 * kept for the next delay; STEP_FAIL when the handshake was refused for
 * good (AuthRefused), or the proof refused by a replica that does not
 * say why: a wrong key stays wrong.
 */
static enum step
upload_auth(struct upload *u)
{
	struct proto_msg	 hello = { .type = PROTO_AUTH_HELLO,
				    .agency = (uint32_t)u->conf->id };
	struct proto_msg	 proof = { .type = PROTO_AUTH_PROOF };
	enum step		 s;

	if ((s = upload_ask(u, &hello, "auth")) != STEP_OK)
		return s;
	if (upload_got(u, PROTO_AUTH_REFUSED))
		return upload_auth_refused(u);
	if (upload_refused(u))
		return upload_retry(u, "auth", "handshake refused by server",
		    "agencia: %d", u->conf->id);
	if (!upload_got(u, PROTO_AUTH_CHALLENGE))
		return upload_bad_reply(u, "auth", "expected AuthChallenge");
	auth_proof(u->conf->key, (uint32_t)u->conf->id, u->rep.token,
	    proof.token);
	if ((s = upload_ask(u, &proof, "auth")) != STEP_OK)
		return s;
	if (upload_got(u, PROTO_AUTH_REFUSED))
		return upload_auth_refused(u);
	if (upload_refused(u)) {
		log_error("auth", "fail", "agencia: %d | motivo: key refused by "
		    "server: key_file does not hold this agency's key, or the "
		    "agency was revoked", u->conf->id);
		return STEP_FAIL;
	}
	if (!upload_got(u, PROTO_STORE_RESPONSE))
		return upload_bad_reply(u, "auth", "expected StoreResponse");
	log_debug("auth", "success", "agencia: %d", u->conf->id);
	u->decided = 1;		/* it speaks the extensions */
	return STEP_OK;
}

/*
 * Connect (and authenticate, with a key), retrying with backoff until it
 * works, a stop or retry_max.
 */
static enum step
upload_connect(struct upload *u)
{
	char		 err[256], addr[LOG_VALUE_MAX], peer[64];
	unsigned	 ms;
	enum step	 s;

	log_clean(addr, u->conf->address);
	while (!sig_stopped(u->stop)) {
		u->fd = conn_open(&u->rot, u->conf->address,
		    u->conf->timeout_ms, err, sizeof(err));
		if (u->fd != -1) {
			conn_peer(&u->rot, peer, sizeof(peer));
			/* One connection a request would flood the log. */
			if (u->oneshot == 1)
				log_debug("connect", "success", "address: %s | "
				    "peer: %s", addr, peer);
			else
				log_info("connect", "success", "address: %s | "
				    "peer: %s", addr, peer);
			u->legacy = 0;
			u->no_wait = 0;
			u->served = 0;
			if (!u->conf->has_key || (s = upload_auth(u)) == STEP_OK)
				return STEP_OK;
			upload_close(u);
			if (s == STEP_FAIL)
				return STEP_FAIL;
		} else {
			snprintf(u->cause, sizeof(u->cause), "connect: %s",
			    err);
		}
		if (upload_give_up(u))
			return STEP_FAIL;
		ms = upload_delay(u);
		log_warn("connect", "fail", "address: %s | error: %s | "
		    "retry_in_ms: %u", addr, u->cause, ms);
		if (backoff_sleep(ms, u->stop))
			break;
	}
	return STEP_STOP;
}

/*
 * 1 when the peer has closed fd (a read would return 0 or fail), waiting
 * up to wait_ms for it to show; 0 when it is still open.
 */
static int
upload_peer_closed(int fd, int wait_ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 c;
	ssize_t		 n;

	if (fd == -1)
		return 1;
	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR);
}

/*
 * Base protocol, after a request went through: the first time, see
 * whether the server closes the connection after each request (its close
 * may trail the reply a little); when it does, drop the connection so
 * the next request opens a new one.
 */
static void
upload_base_done(struct upload *u)
{
	u->served++;
	if (u->oneshot == -1)
		u->oneshot = upload_peer_closed(u->fd, ONESHOT_WAIT_MS);
	if (u->oneshot == 1)
		upload_close(u);
}

/*
 * Base protocol, after a request failed: one that came after another on
 * the same connection shows a server that closes after each request.
 */
static void
upload_base_lost(struct upload *u)
{
	if (u->base && u->served > 0)
		u->oneshot = 1;
}

/* Base protocol: open a connection if the last one was dropped. */
static enum step
upload_base_conn(struct upload *u)
{
	return u->fd == -1 ? upload_connect(u) : STEP_OK;
}

/*
 * Ask req on a new connection to the address the last one reached, or on
 * the open one when the server has not closed it.  The reply's length, or
 * -1: no connection, or closed without a reply (*closed set) or another
 * failure (*closed clear).  The reply is decoded into u->rep.
 */
static ssize_t
upload_probe_ask(struct upload *u, const struct proto_msg *req, int *closed)
{
	char	 err[256];
	ssize_t	 n;

	*closed = 0;
	if (upload_peer_closed(u->fd, 0)) {
		upload_close(u);
		if ((u->fd = conn_reopen(&u->rot, u->conf->timeout_ms, err,
		    sizeof(err))) == -1)
			return -1;
	}
	n = conn_request(u->fd, req, u->conf->timeout_ms, u->stop, u->reply,
	    sizeof(u->reply), err, sizeof(err));
	if (n == -1) {
		*closed = upload_peer_closed(u->fd, 0);
		return -1;
	}
	upload_decode(u, (size_t)n);
	return n;
}

/*
 * The first AgencyStatus failed with s: in auto mode, find out whether the
 * server speaks only the base protocol, on its very address.  Only a
 * definite answer makes it base: the AgencyStatus closed without a reply,
 * a WinnersRequest for the agency (a base request that changes nothing)
 * answered as a base server answers it, then an Echo closed without a
 * reply.  A replica that is full, going down or turning connections away
 * answers none of it or answers BusyResponse; one that refuses answers
 * StoreResponse:1 to the Echo; one with the extensions answers the Echo,
 * which settles the run.  Any of those is an ordinary failure, s.  Returns
 * STEP_BASE (connection dropped) or s.
 */
static enum step
upload_maybe_base(struct upload *u, enum step s)
{
	struct proto_msg	 winners = { .type = PROTO_WINNERS_REQUEST,
				    .agency = (uint32_t)u->conf->id };
	struct proto_msg	 echo = { .type = PROTO_ECHO, .text = "probe",
				    .textlen = 5 };
	int			 closed;

	if (s != STEP_RETRY || u->decided || u->busy_ms > 0 ||
	    u->conf->protocol != CONFIG_PROTO_AUTO || sig_stopped(u->stop))
		return s;
	if (!upload_peer_closed(u->fd, 0))
		return s;	/* timed out: a slow replica, not a base one */
	if (upload_probe_ask(u, &winners, &closed) == -1 ||
	    !(upload_got(u, PROTO_NOT_READY) ||
	    upload_got(u, PROTO_WINNERS_RESPONSE) ||
	    upload_got(u, PROTO_STORE_RESPONSE)))
		return s;
	/* A base server may close after its reply; give it time to. */
	if (upload_peer_closed(u->fd, ONESHOT_WAIT_MS))
		upload_close(u);
	if (upload_probe_ask(u, &echo, &closed) != -1) {
		/* Answered: it has the extensions; refused or busy: unsure. */
		if (upload_got(u, PROTO_ECHO))
			u->decided = 1;
		return s;
	}
	if (!closed)
		return s;
	log_info("protocolo", "success", "modo: base | motivo: AgencyStatus "
	    "and Echo closed without a reply, WinnersRequest answered");
	u->base = 1;
	u->decided = 1;
	upload_close(u);
	return STEP_BASE;
}

/* Start a batch at pos: StoreBatchAt, or StoreBatch in the base protocol. */
static void
upload_batch_init(struct upload *u, uint64_t pos)
{
	if (u->base)
		proto_batch_init_base(&u->batch, u->conf->id, pos);
	else
		proto_batch_init(&u->batch, u->conf->id, pos);
}

/*
 * An in_progress line at most every PROGRESS_MS: done of the file's rows
 * are stored, and the rate of this run's acknowledged bets.  The rows are
 * counted (not validated) when the first line is due, so an upload that
 * ends sooner reads its file once.
 */
static void
upload_report(struct upload *u, uint64_t done)
{
	long long	 now = io_now_ms();

	if (now - u->reported < PROGRESS_MS)
		return;
	u->reported = now;
	if (u->total == 0 && agency_rows(u->file, &u->total) == -1)
		log_warn_errno("leer_archivo", "fail", "archivo: %s",
		    u->file->path);
	log_info("carga", "in_progress", "enviadas: %" PRIu64 " | total: %"
	    PRIu64 " | apuestas_por_segundo: %" PRIu64, done, u->total,
	    u->acked * 1000 / (uint64_t)(now - u->started));
}

/* AgencyStatus: how many bets the server holds and whether we closed. */
static enum step
upload_status(struct upload *u, uint64_t *stored, int *closed)
{
	struct proto_msg	 m = { .type = PROTO_AGENCY_STATUS,
				    .agency = (uint32_t)u->conf->id };
	enum step		 s;

	if ((s = upload_ask(u, &m, "agency_status")) != STEP_OK)
		return upload_maybe_base(u, s);
	if (u->rep.type != PROTO_STATUS_RESPONSE) {
		/* A replica that cannot answer now; another one may. */
		if (upload_refused(u))
			return upload_retry(u, "agency_status",
			    "refused by server", "agencia: %d", u->conf->id);
		return upload_bad_reply(u, "agency_status", "unexpected reply");
	}
	if (!u->rep_ok)
		return upload_bad_reply(u, "agency_status", "malformed reply");
	*stored = u->rep.stored;
	*closed = u->rep.closed;
	u->decided = 1;
	log_info("agency_status", "success", "almacenadas: %" PRIu64
	    " | cerrada: %d", *stored, *closed);
	return STEP_OK;
}

/*
 * Read the reply to the oldest batch in flight.  STEP_RESYNC when it was
 * refused (the caller drains the rest before asking the status).
 */
static enum step
upload_ack(struct upload *u)
{
	struct upload_flight	 f = u->flight[u->fhead];
	char			 err[256];
	ssize_t			 r;

	if ((r = conn_reply(u->fd, u->conf->timeout_ms, u->stop, u->reply,
	    sizeof(u->reply), err, sizeof(err))) == -1) {
		upload_base_lost(u);
		return upload_retry(u, "lote_enviado", err, "cantidad: %zu | "
		    "posicion: %" PRIu64, f.n, f.pos);
	}
	u->fhead = (u->fhead + 1) % CONFIG_WINDOW_MAX;
	u->nflight--;
	upload_decode(u, (size_t)r);
	/* A base server turning the connection away before the batch. */
	if (upload_got(u, PROTO_BUSY)) {
		u->busy_ms = u->rep.wait_ms > 0 ? u->rep.wait_ms : 1;
		return upload_retry(u, "lote_enviado", "replica busy",
		    "cantidad: %zu | posicion: %" PRIu64 " | retry_in_ms: %u",
		    f.n, f.pos, u->rep.wait_ms);
	}
	if (!upload_got(u, PROTO_STORE_RESPONSE))
		return upload_bad_reply(u, "lote_enviado", "unexpected reply");
	/* Without positions a refused batch can only be sent again. */
	if (!u->rep.ok && u->base)
		return upload_retry(u, "lote_enviado", "rejected by server",
		    "cantidad: %zu | posicion: %" PRIu64, f.n, f.pos);
	if (!u->rep.ok) {
		log_warn("lote_enviado", "fail", "cantidad: %zu | posicion: %"
		    PRIu64 " | motivo: rejected by server", f.n, f.pos);
		return STEP_RESYNC;
	}
	log_debug("lote_enviado", "success", "cantidad: %zu | posicion: %"
	    PRIu64, f.n, f.pos);
	u->acked += f.n;
	upload_progress(u);
	upload_report(u, f.pos + f.n);
	if (u->base)
		upload_base_done(u);
	return STEP_OK;
}

/*
 * Read the replies of the batches in flight until at most keep are left.
 * A refusal is kept and every reply after it still read, so the
 * connection is in step for the AgencyStatus that follows.
 */
static enum step
upload_drain(struct upload *u, size_t keep)
{
	enum step	 s, result = STEP_OK;

	while (u->nflight > keep) {
		if ((s = upload_ack(u)) == STEP_RESYNC) {
			result = STEP_RESYNC;
			keep = 0;
		} else if (s != STEP_OK)
			return s;
	}
	return result;
}

/*
 * Send the batch under construction, if any, and start the next one.  Up
 * to batch.window batches stay in flight; the server answers in order,
 * and StoreBatchAt positions make a resend after a lost connection
 * exact.  The base protocol sends one at a time: its server may close
 * after each request.
 */
static enum step
upload_flush(struct upload *u)
{
	struct proto_batch	*b = &u->batch;
	struct upload_flight	*f;
	char			 err[256];
	size_t			 window = u->base ? 1 : (size_t)u->conf->window;
	enum step		 s;

	if (b->count == 0)
		return STEP_OK;
	if (u->base && (s = upload_base_conn(u)) != STEP_OK)
		return s;
	if ((s = upload_drain(u, window - 1)) != STEP_OK)
		return s;
	if (conn_send_frame(u->fd, b->frame, proto_batch_finish(b), err,
	    sizeof(err)) == -1) {
		upload_base_lost(u);
		return upload_retry(u, "lote_enviado", err, "cantidad: %zu | "
		    "posicion: %" PRIu64, b->count, b->pos);
	}
	f = &u->flight[(u->fhead + u->nflight) % CONFIG_WINDOW_MAX];
	f->pos = b->pos;
	f->n = b->count;
	u->nflight++;
	if (u->base && (s = upload_drain(u, 0)) != STEP_OK)
		return s;
	upload_batch_init(u, f->pos + f->n);
	return STEP_OK;
}

/*
 * One pass over the file: validate every row, skip the first `stored`
 * valid ones, send the rest.  A closed agency sends nothing; if it still
 * lacks rows of this file, that is a failure.  So is a server that holds
 * more bets than the file has rows: nothing here could have sent them.
 */
static enum step
upload_stream(struct upload *u, uint64_t stored, int closed)
{
	struct agency_file	*f = u->file;
	struct bet		 b;
	uint64_t		 pending = 0;
	size_t			 max = u->conf->max_amount;
	enum step		 s;
	int			 r;

	if (agency_rewind(f) == -1) {
		log_error_errno("leer_archivo", "fail", "archivo: %s", f->path);
		return STEP_FAIL;
	}
	upload_batch_init(u, stored);
	while ((r = agency_next(f, &b)) == 1) {
		if (sig_stopped(u->stop))
			return STEP_STOP;
		if (f->valid <= stored)
			continue;
		if (closed) {
			pending++;
			continue;
		}
		if (u->batch.count >= max && (s = upload_flush(u)) != STEP_OK)
			return s;
		if (proto_batch_add(&u->batch, &b) == 0)
			continue;
		if ((s = upload_flush(u)) != STEP_OK)
			return s;
		if (proto_batch_add(&u->batch, &b) == -1) {
			log_error("lote_enviado", "fail", "linea: %" PRIu64
			    " | motivo: bet does not fit a frame",
			    f->rd.lineno);
			return STEP_FAIL;
		}
	}
	if (r == -1) {
		log_error_errno("leer_archivo", "fail", "archivo: %s", f->path);
		return STEP_FAIL;
	}
	if (sig_stopped(u->stop))
		return STEP_STOP;
	if (stored > f->valid) {
		log_error("carga", "fail", "motivo: server holds more bets "
		    "than the file has | almacenadas: %" PRIu64 " | validas: %"
		    PRIu64, stored, f->valid);
		return STEP_FAIL;
	}
	if ((s = upload_flush(u)) != STEP_OK ||
	    (s = upload_drain(u, 0)) != STEP_OK)
		return s;
	if (pending > 0) {
		log_error("carga_finalizada", "fail", "motivo: agency already "
		    "closed | pendientes: %" PRIu64, pending);
		return STEP_FAIL;
	}
	return STEP_OK;
}

/*
 * Send m, a WinnersPage or a WinnersRequest, and read its reply of type
 * want: STEP_OK with the agency's *total and the *count documents it
 * holds, STEP_WAIT before the draw, STEP_REFUSED for StoreResponse:1.
 */
static enum step
upload_winners_ask(struct upload *u, struct proto_msg *m,
    enum proto_type want, uint64_t *total, size_t *count)
{
	enum step	 s;

	if ((s = upload_ask(u, m, "consulta_ganadores")) != STEP_OK)
		return s;
	if (upload_malformed(u, want))
		return upload_bad_reply(u, "consulta_ganadores",
		    "malformed reply");
	if (upload_got(u, want)) {
		*count = u->rep.ndocs;
		*total = want == PROTO_WINNERS_PAGE_RESPONSE ? u->rep.total :
		    *count;
		return STEP_OK;
	}
	if (upload_got(u, PROTO_NOT_READY))
		return STEP_WAIT;
	if (upload_refused(u))
		return STEP_REFUSED;
	return upload_bad_reply(u, "consulta_ganadores", "unexpected reply");
}

/*
 * A replica without WinnersPage refuses it (StoreResponse:1); the same
 * connection then asks the base WinnersRequest, whose one frame holds
 * every winner when they fit.
 */
static enum step
upload_winners_base(struct upload *u, uint64_t *total, size_t *count)
{
	struct proto_msg	 m = { .type = PROTO_WINNERS_REQUEST,
				    .agency = (uint32_t)u->conf->id };
	enum step		 s;

	s = upload_winners_ask(u, &m, PROTO_WINNERS_RESPONSE, total, count);
	if (s != STEP_REFUSED)
		return s;
	return upload_retry(u, "consulta_ganadores", u->base ?
	    "refused by server (a base WinnersRequest is refused when the "
	    "winners do not fit one frame, or the replica is busy)" :
	    "refused by server", "%s", "");
}

/*
 * One page of winners from index start: STEP_OK with the agency's *total
 * and the *count documents of this page, STEP_WAIT before the draw.  The
 * long poll (WinnersWait) first: the replica answers as soon as the draw
 * happens.  A replica without it refuses it, and WinnersPage follows.
 */
static enum step
upload_winners_page(struct upload *u, uint64_t start, uint64_t *total,
    size_t *count)
{
	struct proto_msg	 m = { .type = PROTO_WINNERS_PAGE,
				    .agency = (uint32_t)u->conf->id, .pos = start };
	enum step		 s;

	if (u->legacy)
		return upload_winners_base(u, total, count);
	if (!u->no_wait) {
		m.type = PROTO_WINNERS_WAIT;
		m.wait_ms = (uint32_t)(u->conf->timeout_ms / 2 < PROTO_WAIT_MAX ?
		    u->conf->timeout_ms / 2 : PROTO_WAIT_MAX);
		s = upload_winners_ask(u, &m, PROTO_WINNERS_PAGE_RESPONSE,
		    total, count);
		if (s != STEP_REFUSED || start > 0)
			return s == STEP_REFUSED ? upload_retry(u,
			    "consulta_ganadores", "refused by server", "%s",
			    "") : s;
		u->no_wait = 1;
		m.type = PROTO_WINNERS_PAGE;
	}
	s = upload_winners_ask(u, &m, PROTO_WINNERS_PAGE_RESPONSE, total,
	    count);
	if (s != STEP_REFUSED)
		return s;
	if (start == 0) {
		u->legacy = 1;
		return upload_winners_base(u, total, count);
	}
	return upload_retry(u, "consulta_ganadores", "refused by server", "%s",
	    "");
}

/*
 * AgencyClose, then the winners, page by page, on the same connection;
 * before the draw the same page is asked again after a delay (not a
 * failure: other agencies may still be uploading).  The server answers in
 * order, so the first reply also proves the close went through.  Only the
 * count is kept, so memory does not grow with the winners.
 */
static enum step
upload_finish(struct upload *u)
{
	struct proto_msg	 close = { .type = PROTO_AGENCY_CLOSE,
				    .agency = (uint32_t)u->conf->id };
	struct backoff		 poll;
	char			 err[256];
	uint64_t		 start = 0, total = 0, first = 0;
	long long		 asked;
	size_t			 n;
	unsigned		 ms;
	enum step		 s;

	if (conn_send(u->fd, &close, err, sizeof(err)) == -1)
		return upload_retry(u, "cerrar_agencia", err, "%s", "");
	backoff_init(&poll, u->conf->retry_ms, u->conf->retry_max_ms);
	for (;;) {
		asked = io_now_ms();
		s = upload_winners_page(u, start, &total, &n);
		/* A long poll that waited its time: ask again at once. */
		if (s == STEP_WAIT && !u->no_wait && !u->legacy &&
		    io_now_ms() - asked >= u->conf->timeout_ms / 4)
			continue;
		if (s == STEP_WAIT) {
			ms = backoff_next(&poll);
			log_debug("consulta_ganadores", "in_progress",
			    "retry_in_ms: %u", ms);
			if (backoff_sleep(ms, u->stop))
				return STEP_STOP;
			continue;
		}
		if (s != STEP_OK)
			return s;
		if (start == 0)
			first = total;
		if (total != first)
			return upload_bad_reply(u, "consulta_ganadores",
			    "total changed between pages");
		if (n > total - start)
			return upload_bad_reply(u, "consulta_ganadores",
			    "more winners than the total");
		if (n == 0 && start < total)
			return upload_bad_reply(u, "consulta_ganadores",
			    "empty page before the total");
		if (n > 0)
			upload_progress(u);
		start += n;
		if (start == total)
			break;
	}
	u->winners = total;
	log_info("consulta_ganadores", "success", "cant_ganadores: %" PRIu64,
	    u->winners);
	return STEP_OK;
}

/*
 * The base protocol's AgencyClose and WinnersRequest until the draw.  The
 * close has no reply to prove it arrived, and the request may reach
 * another replica on a new connection, so the close goes before every
 * request (closing again changes nothing).
 */
static enum step
upload_finish_base(struct upload *u)
{
	struct proto_msg	 close = { .type = PROTO_AGENCY_CLOSE,
				    .agency = (uint32_t)u->conf->id };
	struct backoff		 poll;
	char			 err[256];
	uint64_t		 total;
	size_t			 n;
	unsigned		 ms;
	enum step		 s;

	backoff_init(&poll, u->conf->retry_ms, u->conf->retry_max_ms);
	for (;;) {
		if ((s = upload_base_conn(u)) != STEP_OK)
			return s;
		if (conn_send(u->fd, &close, err, sizeof(err)) == -1) {
			upload_base_lost(u);
			return upload_retry(u, "cerrar_agencia", err, "%s", "");
		}
		upload_base_done(u);
		if ((s = upload_base_conn(u)) != STEP_OK)
			return s;
		s = upload_winners_base(u, &total, &n);
		if (s == STEP_RETRY)
			upload_base_lost(u);
		if (s != STEP_OK && s != STEP_WAIT)
			return s;
		upload_base_done(u);
		if (s == STEP_OK)
			break;
		ms = backoff_next(&poll);
		log_debug("consulta_ganadores", "in_progress", "retry_in_ms: %u",
		    ms);
		if (backoff_sleep(ms, u->stop))
			return STEP_STOP;
	}
	upload_progress(u);
	u->winners = n;
	log_info("consulta_ganadores", "success", "cant_ganadores: %" PRIu64,
	    u->winners);
	return STEP_OK;
}

/*
 * The carga_finalizada line, once: every valid row is stored now.  The
 * bets acknowledged in this run were sent once each (a pass resumes past
 * every acknowledged one), so the rest were already stored.
 */
static void
upload_summary(struct upload *u)
{
	uint64_t	 valid = u->file->valid;

	if (u->summarized)
		return;
	log_info("carga_finalizada", "success", "enviadas: %" PRIu64 " | "
	    "rechazadas: %" PRIu64 " | almacenadas: %" PRIu64 " | "
	    "ya_almacenadas: %" PRIu64, valid, u->file->rejected, u->acked,
	    valid > u->acked ? valid - u->acked : 0);
	u->summarized = 1;
}

/*
 * The base protocol: the file from past the bets acknowledged in this run
 * (a batch whose reply was lost goes again), then close and winners.
 */
static enum step
upload_session_base(struct upload *u)
{
	enum step	 s;

	if (!u->summarized) {
		if ((s = upload_stream(u, u->acked, 0)) != STEP_OK)
			return s;
		upload_summary(u);
	}
	return upload_finish_base(u);
}

/* Status, upload, close and winners over one connection. */
static enum step
upload_session(struct upload *u)
{
	uint64_t	 stored = 0;
	enum step	 s;
	int		 closed = 0, resync;

	if (u->base)
		return upload_session_base(u);
	for (resync = 0;; resync++) {
		s = upload_status(u, &stored, &closed);
		if (s == STEP_BASE)
			return upload_session_base(u);
		if (s != STEP_OK)
			return s;
		s = upload_stream(u, stored, closed);
		if (s != STEP_RESYNC)
			break;
		/* This replica keeps refusing: another one may not. */
		if (resync == RESYNC_MAX)
			return upload_retry(u, "carga", "batches rejected "
			    "again and again", "rechazos: %d", RESYNC_MAX + 1);
	}
	if (s != STEP_OK)
		return s;
	/* Valid rows of the file are all stored now, whoever sent them. */
	upload_summary(u);
	return upload_finish(u);
}

enum upload_result
upload_run(struct upload *u)
{
	unsigned	 ms;
	enum step	 s;

	u->started = u->reported = io_now_ms();
	if (u->base)
		log_info("protocolo", "success", "modo: base | motivo: "
		    "configured");
	for (;;) {
		if (u->fd == -1 && (s = upload_connect(u)) != STEP_OK)
			return s == STEP_STOP ? UPLOAD_STOPPED : UPLOAD_FAILED;
		switch (upload_session(u)) {
		case STEP_OK:
			return UPLOAD_DONE;
		case STEP_STOP:
			return UPLOAD_STOPPED;
		case STEP_RETRY:
			break;
		default:
			return UPLOAD_FAILED;
		}
		/* The next connect starts with the next address. */
		upload_close(u);
		if (sig_stopped(u->stop))
			return UPLOAD_STOPPED;
		if (upload_give_up(u))
			return UPLOAD_FAILED;
		ms = upload_delay(u);
		log_warn("reconnect", "in_progress", "retry_in_ms: %u", ms);
		if (backoff_sleep(ms, u->stop))
			return UPLOAD_STOPPED;
	}
}

enum upload_result
upload_single(struct upload *u, const struct bet *b)
{
	struct proto_msg	 m = { .type = PROTO_STORE_BET,
				    .agency = (uint32_t)u->conf->id, .bets = b,
				    .nbets = 1 };
	char			 frame[PROTO_FRAME_MAX], err[256];
	char			 doc[LOG_VALUE_MAX];
	enum step		 s;
	size_t			 len;
	ssize_t			 n;

	if ((len = proto_encode_msg(frame, &m)) == 0) {
		log_error("apuesta_enviada", "fail", "motivo: bet too long");
		return UPLOAD_FAILED;
	}
	log_clean(doc, b->doc);
	if ((s = upload_connect(u)) != STEP_OK)
		return s == STEP_STOP ? UPLOAD_STOPPED : UPLOAD_FAILED;
	if ((n = conn_exchange(u->fd, frame, len, u->conf->timeout_ms, u->stop,
	    u->reply, sizeof(u->reply), err, sizeof(err))) == -1) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "error: %s", doc, b->number, err);
		return UPLOAD_FAILED;
	}
	upload_decode(u, (size_t)n);
	if (!upload_got(u, PROTO_STORE_RESPONSE) || !u->rep.ok) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "motivo: rejected by server", doc, b->number);
		return UPLOAD_FAILED;
	}
	log_info("apuesta_enviada", "success", "dni: %s | numero: %u", doc,
	    b->number);
	return UPLOAD_DONE;
}
