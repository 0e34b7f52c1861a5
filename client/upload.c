/*
 * upload: the batch session.  The server counts the bets it holds for the
 * agency and StoreBatchAt carries each batch's position, so resuming is
 * stateless here: after any failure the client reconnects (to the next
 * address of the server's name), asks AgencyStatus, rereads the file from
 * the top and skips the rows already stored.  Re-sent batches are
 * harmless; the server skips what it has.  Every failure that makes no
 * progress is counted, and retry_max of them in a row end the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "reply.h"
#include "upload.h"

#define RESYNC_MAX	3	/* rejected batches tolerated per session */

/* How one step of the session ended. */
enum step {
	STEP_OK,
	STEP_RETRY,		/* failed (u->cause): reconnect and resume */
	STEP_RESYNC,		/* batch rejected: ask status and resume */
	STEP_WAIT,		/* the draw has not happened yet */
	STEP_STOP,
	STEP_FAIL
};

void
upload_init(struct upload *u, const struct client_conf *conf,
    struct agency_file *file, volatile sig_atomic_t *stop)
{
	memset(u, 0, sizeof(*u));
	u->conf = conf;
	u->file = file;
	u->stop = stop;
	u->fd = -1;
	backoff_init(&u->bo, conf->retry_ms, conf->retry_max_ms);
}

int
upload_close(struct upload *u)
{
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

/* Connect, retrying with backoff until it works, a stop or retry_max. */
static enum step
upload_connect(struct upload *u)
{
	char		 err[256], addr[LOG_VALUE_MAX], peer[64];
	unsigned	 ms;

	log_clean(addr, u->conf->address);
	while (!*u->stop) {
		u->fd = conn_open(&u->rot, u->conf->address,
		    u->conf->timeout_ms, err, sizeof(err));
		if (u->fd != -1) {
			conn_peer(&u->rot, peer, sizeof(peer));
			log_info("connect", "success", "address: %s | peer: %s",
			    addr, peer);
			u->legacy = 0;
			return STEP_OK;
		}
		snprintf(u->cause, sizeof(u->cause), "connect: %s", err);
		if (upload_give_up(u))
			return STEP_FAIL;
		ms = backoff_next(&u->bo);
		log_warn("connect", "fail", "address: %s | error: %s | "
		    "retry_in_ms: %u", addr, err, ms);
		if (backoff_sleep(ms, u->stop))
			break;
	}
	return STEP_STOP;
}

/* Send a request of type with the given body and read its reply. */
static enum step
upload_ask(struct upload *u, enum proto_type type, const char *body,
    const char *action)
{
	char	 err[256];

	if (conn_request(u->fd, type, body, u->conf->timeout_ms, u->reply,
	    sizeof(u->reply), err, sizeof(err)) == -1)
		return upload_retry(u, action, err, "%s", "");
	return STEP_OK;
}

/* 1 when the reply is StoreResponse:1, a request refused for now. */
static int
upload_refused(const struct upload *u)
{
	const char	*body = reply_body(u->reply, "StoreResponse");

	return body != NULL && strcmp(body, "1") == 0;
}

/* AgencyStatus: how many bets the server holds and whether we closed. */
static enum step
upload_status(struct upload *u, uint64_t *stored, int *closed)
{
	const char	*body;
	char		 id[16];
	enum step	 s;

	snprintf(id, sizeof(id), "%d", u->conf->id);
	if ((s = upload_ask(u, PROTO_AGENCY_STATUS, id, "agency_status")) !=
	    STEP_OK)
		return s;
	if ((body = reply_body(u->reply, "AgencyStatusResponse")) == NULL) {
		/* A replica that cannot answer now; another one may. */
		if (upload_refused(u))
			return upload_retry(u, "agency_status",
			    "refused by server", "agencia: %d", u->conf->id);
		return upload_bad_reply(u, "agency_status", "unexpected reply");
	}
	if (reply_status(body, stored, closed) == -1)
		return upload_bad_reply(u, "agency_status", "malformed reply");
	log_info("agency_status", "success", "almacenadas: %" PRIu64
	    " | cerrada: %d", *stored, *closed);
	return STEP_OK;
}

/* Send the batch under construction, if any, and start the next one. */
static enum step
upload_flush(struct upload *u)
{
	struct proto_batch	*b = &u->batch;
	const char		*body;
	char			 err[256];
	uint64_t		 pos = b->pos;
	size_t			 n = b->count, len;
	int			 ok;

	if (n == 0)
		return STEP_OK;
	len = proto_batch_finish(b);
	if (conn_exchange(u->fd, b->frame, len, u->conf->timeout_ms, u->reply,
	    sizeof(u->reply), err, sizeof(err)) == -1)
		return upload_retry(u, "lote_enviado", err, "cantidad: %zu | "
		    "posicion: %" PRIu64, n, pos);
	if ((body = reply_body(u->reply, "StoreResponse")) == NULL ||
	    reply_store(body, &ok) == -1)
		return upload_bad_reply(u, "lote_enviado", "unexpected reply");
	if (!ok) {
		log_warn("lote_enviado", "fail", "cantidad: %zu | posicion: %"
		    PRIu64 " | motivo: rejected by server", n, pos);
		return STEP_RESYNC;
	}
	log_debug("lote_enviado", "success", "cantidad: %zu | posicion: %"
	    PRIu64, n, pos);
	upload_progress(u);
	proto_batch_init(b, u->conf->id, pos + n);
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
	proto_batch_init(&u->batch, u->conf->id, stored);
	while ((r = agency_next(f, &b)) == 1) {
		if (*u->stop)
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
	if (*u->stop)
		return STEP_STOP;
	if (stored > f->valid) {
		log_error("carga", "fail", "motivo: server holds more bets "
		    "than the file has | almacenadas: %" PRIu64 " | validas: %"
		    PRIu64, stored, f->valid);
		return STEP_FAIL;
	}
	if ((s = upload_flush(u)) != STEP_OK)
		return s;
	if (pending > 0) {
		log_error("carga_finalizada", "fail", "motivo: agency already "
		    "closed | pendientes: %" PRIu64, pending);
		return STEP_FAIL;
	}
	return STEP_OK;
}

/*
 * A replica without WinnersPage refuses it (StoreResponse:1); the same
 * connection then asks the base WinnersRequest, whose one frame holds
 * every winner when they fit.
 */
static enum step
upload_winners_base(struct upload *u, uint64_t *total, size_t *count)
{
	const char	*body;
	char		 id[16];
	enum step	 s;

	snprintf(id, sizeof(id), "%d", u->conf->id);
	if ((s = upload_ask(u, PROTO_WINNERS_REQUEST, id,
	    "consulta_ganadores")) != STEP_OK)
		return s;
	if ((body = reply_body(u->reply, "WinnersResponse")) != NULL) {
		if (reply_docs(body, count) == -1)
			return upload_bad_reply(u, "consulta_ganadores",
			    "malformed reply");
		*total = *count;
		return STEP_OK;
	}
	if ((body = reply_body(u->reply, "NotReadyResponse")) != NULL &&
	    *body == '\0')
		return STEP_WAIT;
	if (upload_refused(u))
		return upload_retry(u, "consulta_ganadores",
		    "refused by server", "%s", "");
	return upload_bad_reply(u, "consulta_ganadores", "unexpected reply");
}

/*
 * One page of winners from index start: STEP_OK with the agency's *total
 * and the *count documents of this page, STEP_WAIT before the draw.
 */
static enum step
upload_winners_page(struct upload *u, uint64_t start, uint64_t *total,
    size_t *count)
{
	const char	*body;
	char		 req[48];
	enum step	 s;

	if (u->legacy)
		return upload_winners_base(u, total, count);
	snprintf(req, sizeof(req), "%d:%" PRIu64, u->conf->id, start);
	if ((s = upload_ask(u, PROTO_WINNERS_PAGE, req,
	    "consulta_ganadores")) != STEP_OK)
		return s;
	if ((body = reply_body(u->reply, "WinnersPageResponse")) != NULL) {
		if (reply_page(body, total, count) == -1)
			return upload_bad_reply(u, "consulta_ganadores",
			    "malformed reply");
		return STEP_OK;
	}
	if ((body = reply_body(u->reply, "NotReadyResponse")) != NULL &&
	    *body == '\0')
		return STEP_WAIT;
	if (upload_refused(u) && start == 0) {
		u->legacy = 1;
		return upload_winners_base(u, total, count);
	}
	if (upload_refused(u))
		return upload_retry(u, "consulta_ganadores",
		    "refused by server", "%s", "");
	return upload_bad_reply(u, "consulta_ganadores", "unexpected reply");
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
	struct backoff	 poll;
	char		 body_id[16], err[256];
	uint64_t	 start = 0, total = 0, first = 0;
	size_t		 n;
	unsigned	 ms;
	enum step	 s;

	snprintf(body_id, sizeof(body_id), "%d", u->conf->id);
	if (conn_send(u->fd, PROTO_AGENCY_CLOSE, body_id, err,
	    sizeof(err)) == -1)
		return upload_retry(u, "cerrar_agencia", err, "%s", "");
	backoff_init(&poll, u->conf->retry_ms, u->conf->retry_max_ms);
	for (;;) {
		s = upload_winners_page(u, start, &total, &n);
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

/* Status, upload, close and winners over one connection. */
static enum step
upload_session(struct upload *u)
{
	uint64_t	 stored;
	enum step	 s;
	int		 closed, resync;

	for (resync = 0;; resync++) {
		if ((s = upload_status(u, &stored, &closed)) != STEP_OK)
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
	if (!u->summarized)
		log_info("carga_finalizada", "success", "enviadas: %" PRIu64
		    " | rechazadas: %" PRIu64, u->file->valid,
		    u->file->rejected);
	u->summarized = 1;
	return upload_finish(u);
}

enum upload_result
upload_run(struct upload *u)
{
	unsigned	 ms;
	enum step	 s;

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
		if (*u->stop)
			return UPLOAD_STOPPED;
		if (upload_give_up(u))
			return UPLOAD_FAILED;
		ms = backoff_next(&u->bo);
		log_warn("reconnect", "in_progress", "retry_in_ms: %u", ms);
		if (backoff_sleep(ms, u->stop))
			return UPLOAD_STOPPED;
	}
}

enum upload_result
upload_single(struct upload *u, const struct bet *b)
{
	const char	*body;
	char		 msg[PROTO_PAYLOAD_MAX], err[256];
	char		 doc[LOG_VALUE_MAX];
	enum step	 s;
	int		 n, ok;

	n = snprintf(msg, sizeof(msg), "%d;", u->conf->id);
	if (proto_bet_format(b, msg + n, sizeof(msg) - n) == 0) {
		log_error("apuesta_enviada", "fail", "motivo: bet too long");
		return UPLOAD_FAILED;
	}
	log_clean(doc, b->doc);
	if ((s = upload_connect(u)) != STEP_OK)
		return s == STEP_STOP ? UPLOAD_STOPPED : UPLOAD_FAILED;
	if (conn_request(u->fd, PROTO_STORE_BET, msg, u->conf->timeout_ms,
	    u->reply, sizeof(u->reply), err, sizeof(err)) == -1) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "error: %s", doc, b->number, err);
		return UPLOAD_FAILED;
	}
	body = reply_body(u->reply, "StoreResponse");
	if (body == NULL || reply_store(body, &ok) == -1 || !ok) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "motivo: rejected by server", doc, b->number);
		return UPLOAD_FAILED;
	}
	log_info("apuesta_enviada", "success", "dni: %s | numero: %u", doc,
	    b->number);
	return UPLOAD_DONE;
}
