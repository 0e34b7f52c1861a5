/*
 * upload: the batch session.  The server counts the bets it holds for the
 * agency and StoreBatchAt carries each batch's position, so resuming is
 * stateless here: after any failure the client reconnects, asks
 * AgencyStatus, rereads the file from the top and skips the rows already
 * stored.  Re-sent batches are harmless; the server skips what it has.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "upload.h"

#define RESYNC_MAX	3	/* rejected batches tolerated per session */

/* How one step of the session ended. */
enum step {
	STEP_OK,
	STEP_RETRY,		/* connection lost: reconnect and resume */
	STEP_RESYNC,		/* batch rejected: ask status and resume */
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

/* The body of a reply of the given type, or NULL for another type. */
static const char *
reply_body(const char *reply, const char *type)
{
	size_t	 n = strlen(type);

	if (strncmp(reply, type, n) != 0 || reply[n] != ':')
		return NULL;
	return reply + n + 1;
}

/* Log a reply nobody expected; always STEP_FAIL. */
static enum step
reply_unexpected(const char *action, const char *reply)
{
	char	 clean[LOG_VALUE_MAX];

	log_error(action, "fail", "motivo: unexpected reply | reply: %s",
	    log_clean(clean, reply));
	return STEP_FAIL;
}

/* Connect, retrying with backoff until it works or a stop is asked. */
static enum step
upload_connect(struct upload *u)
{
	char		 err[256], addr[LOG_VALUE_MAX];
	unsigned	 ms;

	log_clean(addr, u->conf->address);
	while (!*u->stop) {
		u->fd = conn_open(u->conf->address, u->conf->timeout_ms, err,
		    sizeof(err));
		if (u->fd != -1) {
			log_info("connect", "success", "address: %s", addr);
			return STEP_OK;
		}
		ms = backoff_next(&u->bo);
		log_warn("connect", "fail", "address: %s | error: %s | "
		    "retry_in_ms: %u", addr, err, ms);
		if (backoff_sleep(ms, u->stop))
			break;
	}
	return STEP_STOP;
}

/* Send a request of type with body "<agency id>" and read its reply. */
static enum step
upload_ask(struct upload *u, enum proto_type type, const char *action)
{
	char	 body[16], err[256];

	snprintf(body, sizeof(body), "%d", u->conf->id);
	if (conn_request(u->fd, type, body, u->conf->timeout_ms, u->reply,
	    sizeof(u->reply), err, sizeof(err)) == -1) {
		log_warn(action, "fail", "error: %s", err);
		return STEP_RETRY;
	}
	return STEP_OK;
}

/* AgencyStatus: how many bets the server holds and whether we closed. */
static enum step
upload_status(struct upload *u, uint64_t *stored, int *closed)
{
	const char	*body;
	char		*end;
	enum step	 s;

	if ((s = upload_ask(u, PROTO_AGENCY_STATUS, "agency_status")) !=
	    STEP_OK)
		return s;
	if ((body = reply_body(u->reply, "AgencyStatusResponse")) == NULL) {
		if (reply_body(u->reply, "StoreResponse") != NULL) {
			log_error("agency_status", "fail", "agencia: %d | "
			    "motivo: rejected by server", u->conf->id);
			return STEP_FAIL;
		}
		return reply_unexpected("agency_status", u->reply);
	}
	errno = 0;
	*stored = strtoull(body, &end, 10);
	if (errno != 0 || end == body || *end != ';' ||
	    (strcmp(end + 1, "0") != 0 && strcmp(end + 1, "1") != 0))
		return reply_unexpected("agency_status", u->reply);
	*closed = end[1] == '1';
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

	if (n == 0)
		return STEP_OK;
	len = proto_batch_finish(b);
	if (conn_exchange(u->fd, b->frame, len, u->conf->timeout_ms, u->reply,
	    sizeof(u->reply), err, sizeof(err)) == -1) {
		log_warn("lote_enviado", "fail", "cantidad: %zu | posicion: %"
		    PRIu64 " | error: %s", n, pos, err);
		return STEP_RETRY;
	}
	if ((body = reply_body(u->reply, "StoreResponse")) == NULL)
		return reply_unexpected("lote_enviado", u->reply);
	if (strcmp(body, "0") != 0) {
		log_warn("lote_enviado", "fail", "cantidad: %zu | posicion: %"
		    PRIu64 " | motivo: rejected by server", n, pos);
		return STEP_RESYNC;
	}
	log_debug("lote_enviado", "success", "cantidad: %zu | posicion: %"
	    PRIu64, n, pos);
	proto_batch_init(b, u->conf->id, pos + n);
	return STEP_OK;
}

/*
 * One pass over the file: validate every row, skip the first `stored`
 * valid ones, send the rest.  A closed agency sends nothing; if it still
 * lacks rows of this file, that is a failure.
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
	if ((s = upload_flush(u)) != STEP_OK)
		return s;
	if (pending > 0) {
		log_error("carga_finalizada", "fail", "motivo: agency already "
		    "closed | pendientes: %" PRIu64, pending);
		return STEP_FAIL;
	}
	return STEP_OK;
}

/* Number of documents in a WinnersResponse body. */
static unsigned
winners_count(const char *body)
{
	unsigned	 n;

	if (*body == '\0')
		return 0;
	for (n = 1; *body != '\0'; body++)
		if (*body == ';')
			n++;
	return n;
}

/*
 * AgencyClose, then WinnersRequest on the same connection until the draw
 * has happened.  The server answers in order, so the first reply also
 * proves the close went through.
 */
static enum step
upload_finish(struct upload *u)
{
	struct backoff	 poll;
	const char	*body;
	char		 body_id[16], err[256];
	unsigned	 ms;
	enum step	 s;

	snprintf(body_id, sizeof(body_id), "%d", u->conf->id);
	if (conn_send(u->fd, PROTO_AGENCY_CLOSE, body_id, err,
	    sizeof(err)) == -1) {
		log_warn("cerrar_agencia", "fail", "error: %s", err);
		return STEP_RETRY;
	}
	backoff_init(&poll, u->conf->retry_ms, u->conf->retry_max_ms);
	for (;;) {
		if ((s = upload_ask(u, PROTO_WINNERS_REQUEST,
		    "consulta_ganadores")) != STEP_OK)
			return s;
		if ((body = reply_body(u->reply, "WinnersResponse")) != NULL)
			break;
		if (reply_body(u->reply, "NotReadyResponse") == NULL)
			return reply_unexpected("consulta_ganadores", u->reply);
		ms = backoff_next(&poll);
		log_debug("consulta_ganadores", "in_progress",
		    "retry_in_ms: %u", ms);
		if (backoff_sleep(ms, u->stop))
			return STEP_STOP;
	}
	u->winners = winners_count(body);
	log_info("consulta_ganadores", "success", "cant_ganadores: %u",
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
		backoff_reset(&u->bo);
		s = upload_stream(u, stored, closed);
		if (s != STEP_RESYNC)
			break;
		if (resync == RESYNC_MAX) {
			log_error("carga", "fail", "motivo: batches rejected "
			    "%d times", RESYNC_MAX + 1);
			return STEP_FAIL;
		}
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

	for (;;) {
		if (u->fd == -1 && upload_connect(u) != STEP_OK)
			return UPLOAD_STOPPED;
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
		upload_close(u);
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
	int		 n;

	n = snprintf(msg, sizeof(msg), "%d;", u->conf->id);
	if (proto_bet_format(b, msg + n, sizeof(msg) - n) == 0) {
		log_error("apuesta_enviada", "fail", "motivo: bet too long");
		return UPLOAD_FAILED;
	}
	log_clean(doc, b->doc);
	if (upload_connect(u) != STEP_OK)
		return UPLOAD_STOPPED;
	if (conn_request(u->fd, PROTO_STORE_BET, msg, u->conf->timeout_ms,
	    u->reply, sizeof(u->reply), err, sizeof(err)) == -1) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "error: %s", doc, b->number, err);
		return UPLOAD_FAILED;
	}
	body = reply_body(u->reply, "StoreResponse");
	if (body == NULL || strcmp(body, "0") != 0) {
		log_error("apuesta_enviada", "fail", "dni: %s | numero: %u | "
		    "motivo: rejected by server", doc, b->number);
		return UPLOAD_FAILED;
	}
	log_info("apuesta_enviada", "success", "dni: %s | numero: %u", doc,
	    b->number);
	return UPLOAD_DONE;
}
