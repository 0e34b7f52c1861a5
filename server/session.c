/*
 * session: the request loop of one connection.  Waiting for the next frame
 * is done in short poll slices so a shutdown is noticed between requests; a
 * request in flight is always finished, so a stop never leaves half a batch.
 * A connection lives CONN_TIMEOUT past its last request that did work, so
 * a peer sending only Echo or garbage cannot hold a slot for good.
 * With PROTOCOL=base the connection ends after its first request.  With
 * AGENCY_KEYS a connection acts for an agency only after proving, through
 * AuthHello and AuthProof, that it holds that agency's key.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "session.h"
#include "throttle.h"

/*
 * 1 when a frame is waiting, 0 on stop, -1 on idle timeout or error.  The
 * deadline counts from the last request that did work, not the last frame.
 */
static int
session_wait(struct session *s)
{
	int	n;

	n = io_wait(s->fd, s->last_work + s->cfg->conn_timeout_ms, s->stop);
	if (n == -1 && errno == ETIMEDOUT)
		log_warn("conexion", "fail", "peer: %s | motivo: idle timeout",
		    s->peer);
	else if (n == -1)
		log_warn_errno("conexion", "fail", "peer: %s", s->peer);
	return n;
}

/* Send the reply m.  0, or -1 when the peer is gone. */
static int
session_send(struct session *s, const struct proto_msg *m)
{
	size_t	n;

	if ((n = proto_encode_msg(s->reply, m)) == 0) {
		log_error("responder", "fail", "peer: %s | motivo: too long",
		    s->peer);
		return -1;
	}
	if (proto_write_frame(s->fd, s->reply, n) == -1) {
		log_warn_errno("responder", "fail", "peer: %s", s->peer);
		return -1;
	}
	return 0;
}

static int
reply_store(struct session *s, int ok)
{
	struct proto_msg	m = { .type = PROTO_STORE_RESPONSE, .ok = ok };

	return session_send(s, &m);
}

static int
reply_not_ready(struct session *s)
{
	struct proto_msg	m = { .type = PROTO_NOT_READY };

	return session_send(s, &m);
}

static const char *
store_reason(const struct session *s, enum store_result r)
{
	switch (r) {
	case STORE_CLOSED:
		return "agency closed";
	case STORE_GAP:
		return "position past stored bets";
	case STORE_BUSY:
		return *s->stop ? "shutting down" : "lock timeout";
	default:
		return "storage error";
	}
}

/* Why a store call that returns -1 failed (its I/O errors log themselves). */
static const char *
store_fail_reason(const struct session *s)
{
	return *s->stop ? "shutting down" : "lock timeout or storage error";
}

static int
handle_store(struct session *s, const struct proto_msg *m)
{
	enum store_result	 r;
	uint64_t		 pos;
	size_t			 written;
	char			 dni[LOG_VALUE_MAX];

	pos = m->type == PROTO_STORE_BATCH_AT ? m->pos : STORE_NO_POS;
	r = store_append(s->store, m->agency, s->bets, m->nbets, pos, &written);
	if (r != STORE_OK && r != STORE_DUPLICATE) {
		log_warn("apuesta_recibida", "fail", "agencia: %u | cantidad: "
		    "%zu | motivo: %s", m->agency, m->nbets,
		    store_reason(s, r));
		return reply_store(s, 0);
	}
	if (m->type == PROTO_STORE_BET)
		log_info("apuesta_almacenada", "success", "dni: %s | numero: %u",
		    log_clean(dni, s->bets[0].doc), s->bets[0].number);
	else {
		for (size_t i = 0; log_threshold <= LOG_LVL_DEBUG &&
		    i < m->nbets; i++)
			log_debug("apuesta_almacenada", "success",
			    "dni: %s | numero: %u",
			    log_clean(dni, s->bets[i].doc), s->bets[i].number);
		log_info("apuesta_recibida", "success", "agencia: %u | "
		    "cantidad: %zu | almacenadas: %zu", m->agency, m->nbets,
		    written);
	}
	return reply_store(s, 1);
}

/*
 * No reply, even to a close that fails: some clients hang up right after
 * sending it, and one sending requests back to back would pair a reply
 * with the wrong request.
 */
static int
handle_close(struct session *s, const struct proto_msg *m)
{
	int	draw;

	if (store_close_agency(s->store, m->agency, &draw) == -1) {
		log_error("agencia_cerrada", "fail", "agencia: %u | motivo: %s",
		    m->agency, store_fail_reason(s));
		return -1;	/* the client reconnects and closes again */
	}
	log_info("agencia_cerrada", "success", "agencia: %u", m->agency);
	if (draw)
		log_info("sorteo", "success", "agencias: %d",
		    s->cfg->agencies);
	return 0;
}

/*
 * The agency's winners from start on, into s->docs as r's documents.
 * Returns 1 when r is ready to send; else the refusal or the
 * NotReadyResponse has been sent and 0 or -1 is the session's result.
 */
static int
session_winners(struct session *s, const struct proto_msg *m, uint64_t start,
    struct proto_msg *r, int *result)
{
	size_t	count;
	int	rc;

	rc = store_winners(s->store, m->agency, start, s->docs, PROTO_DOCS_MAX,
	    &count, &r->total);
	if (rc == -1) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | desde: "
		    "%llu | motivo: %s", m->agency, (unsigned long long)start,
		    store_fail_reason(s));
		*result = reply_store(s, 0);
		return 0;
	}
	if (rc == 0) {
		log_debug("consulta_ganadores", "in_progress", "agencia: %u",
		    m->agency);
		*result = reply_not_ready(s);
		return 0;
	}
	r->docs = s->docs;
	r->ndocs = count;
	r->ndocs = proto_docs_fit(r);
	return 1;
}

/*
 * WinnersResponse: every winner of the agency in one frame, or
 * StoreResponse:1 when they do not all fit (WinnersPage pages them).
 */
static int
handle_winners(struct session *s, const struct proto_msg *m)
{
	struct proto_msg	r = { .type = PROTO_WINNERS_RESPONSE };
	int			result;

	if (!session_winners(s, m, 0, &r, &result))
		return result;
	if (r.ndocs < r.total) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | "
		    "cant_ganadores: %llu | motivo: winners do not fit in one "
		    "frame, use WinnersPage", m->agency,
		    (unsigned long long)r.total);
		return reply_store(s, 0);
	}
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %zu", m->agency, r.ndocs);
	return session_send(s, &r);
}

/*
 * "WinnersPageResponse:total;doc;doc..." with as many documents from
 * m->pos on as fit whole in the frame.
 */
static int
handle_page(struct session *s, const struct proto_msg *m)
{
	struct proto_msg	r = { .type = PROTO_WINNERS_PAGE_RESPONSE };
	int			result;

	if (!session_winners(s, m, m->pos, &r, &result))
		return result;
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %llu | desde: %llu | enviados: %zu", m->agency,
	    (unsigned long long)r.total, (unsigned long long)m->pos, r.ndocs);
	return session_send(s, &r);
}

static int
handle_status(struct session *s, const struct proto_msg *m)
{
	struct proto_msg	r = { .type = PROTO_STATUS_RESPONSE };

	if (store_status(s->store, m->agency, &r.stored, &r.closed) == -1) {
		log_warn("estado_agencia", "fail", "agencia: %u | motivo: %s",
		    m->agency, store_fail_reason(s));
		return reply_store(s, 0);
	}
	log_info("estado_agencia", "success", "agencia: %u | almacenadas: "
	    "%llu | cerrada: %d", m->agency, (unsigned long long)r.stored,
	    r.closed);
	return session_send(s, &r);
}

static int
handle_echo(struct session *s, const struct proto_msg *m)
{
	struct proto_msg	r = { .type = PROTO_ECHO, .text = m->text,
				    .textlen = m->textlen };

	log_debug("echo", "success", "peer: %s", s->peer);
	return session_send(s, &r);
}

/* Refuse a handshake step: log why, answer StoreResponse:1. */
static int
auth_refuse(struct session *s, uint32_t agency, const char *why)
{
	log_warn("auth", "fail", "peer: %s | agencia: %u | motivo: %s",
	    s->peer, agency, why);
	return reply_store(s, 0);
}

/*
 * AuthHello:agency: a fresh nonce for this connection, unless the peer's
 * address has failed too often lately.  A wait is logged once per
 * failure, so a flood of hellos does not flood the log.
 */
static int
handle_hello(struct session *s, const struct proto_msg *m)
{
	struct proto_msg	 r = { .type = PROTO_AUTH_CHALLENGE };
	long long		 wait;
	int			 first;

	s->hello = 0;
	if (s->keys == NULL)
		return auth_refuse(s, m->agency, "authentication not "
		    "configured on this server");
	if (s->agency != 0)
		return auth_refuse(s, m->agency, "connection already "
		    "authenticated");
	if ((wait = throttle_wait(s->host, io_now_ms(), &first)) > 0) {
		if (first)
			log_warn("auth", "fail", "peer: %s | agencia: %u | "
			    "motivo: too many failed handshakes from this "
			    "address | retry_in_ms: %lld", s->peer, m->agency,
			    wait);
		return reply_store(s, 0);
	}
	auth_nonce(s->nonce);
	s->hello = m->agency;
	memcpy(r.token, s->nonce, sizeof(r.token));
	log_debug("auth", "in_progress", "peer: %s | agencia: %u", s->peer,
	    m->agency);
	return session_send(s, &r);
}

/*
 * AuthProof:mac: the answer to this connection's nonce.  A nonce serves
 * one proof only.  A wrong proof counts against the address and ends the
 * connection, so every guess costs a new connection and a new nonce.
 */
static int
handle_proof(struct session *s, const struct proto_msg *m)
{
	const uint8_t	*key;
	uint32_t	 agency = s->hello;

	s->hello = 0;
	if (agency == 0)
		return auth_refuse(s, 0, "no AuthHello before AuthProof");
	key = keys_get(s->keys, agency);
	if (key == NULL || !auth_verify(key, agency, s->nonce, m->token)) {
		throttle_fail(s->host, io_now_ms());
		auth_refuse(s, agency, key == NULL ? "agency revoked" :
		    "wrong proof");
		return -1;
	}
	s->agency = agency;
	log_info("auth", "success", "peer: %s | agencia: %u", s->peer, agency);
	return reply_store(s, 1);
}

/*
 * The requests served, one row each.  SESSION_WORK: serving it restarts
 * the connection's idle clock.  SESSION_BASE: part of the original
 * exercise, all that PROTOCOL=base serves.  SESSION_NO_REPLY: never
 * answered, not even when refused.  SESSION_AGENCY: acts for the agency
 * it names, so with AGENCY_KEYS only a connection authenticated as that
 * agency may send it.
 */
enum {
	SESSION_WORK = 1,
	SESSION_BASE = 2,
	SESSION_NO_REPLY = 4,
	SESSION_AGENCY = 8
};

static const struct session_handler {
	enum proto_type	 type;
	int		(*fn)(struct session *, const struct proto_msg *);
	unsigned	 flags;
} session_handlers[] = {
	{ PROTO_STORE_BET, handle_store,
	    SESSION_WORK | SESSION_BASE | SESSION_AGENCY },
	{ PROTO_STORE_BATCH, handle_store,
	    SESSION_WORK | SESSION_BASE | SESSION_AGENCY },
	{ PROTO_STORE_BATCH_AT, handle_store, SESSION_WORK | SESSION_AGENCY },
	{ PROTO_AGENCY_CLOSE, handle_close,
	    SESSION_WORK | SESSION_BASE | SESSION_NO_REPLY | SESSION_AGENCY },
	{ PROTO_WINNERS_REQUEST, handle_winners,
	    SESSION_WORK | SESSION_BASE | SESSION_AGENCY },
	{ PROTO_WINNERS_PAGE, handle_page, SESSION_WORK | SESSION_AGENCY },
	{ PROTO_AGENCY_STATUS, handle_status, SESSION_WORK | SESSION_AGENCY },
	{ PROTO_ECHO, handle_echo, 0 },
	{ PROTO_AUTH_HELLO, handle_hello, 0 },
	/* A wrong proof ends the connection, so only a good one counts. */
	{ PROTO_AUTH_PROOF, handle_proof, SESSION_WORK },
};

/* The handler row of t, or NULL for a reply or an unknown type. */
static const struct session_handler *
session_handler(enum proto_type t)
{
	size_t	i;

	for (i = 0; i < sizeof(session_handlers) /
	    sizeof(session_handlers[0]); i++)
		if (session_handlers[i].type == t)
			return &session_handlers[i];
	return NULL;
}

/* Log a request refused for want of the agency's authentication. */
static void
session_unauthorized(const struct session *s, const struct proto_msg *m)
{
	char	 who[48];

	if (s->agency == 0)
		snprintf(who, sizeof(who), "not authenticated");
	else
		snprintf(who, sizeof(who), "authenticated as agency %u",
		    s->agency);
	log_warn("auth", "fail", "peer: %s | tipo: %s | agencia: %u | motivo: "
	    "%s", s->peer, proto_type_name(m->type), m->agency, who);
}

/*
 * Serve one frame.  -1 drops the connection, as does any request outside
 * the base protocol when PROTOCOL=base (no reply: such a client speaks
 * another protocol, and a reply could be taken for an answer).  A request
 * refused here is answered StoreResponse:1, except one marked
 * SESSION_NO_REPLY (AgencyClose).  A request of a known agency restarts
 * the idle clock once served when it does work.
 */
static int
session_handle(struct session *s, size_t len)
{
	const struct session_handler	*h;
	struct proto_msg		 m;
	char				 why[128];
	int				 rc;

	rc = proto_decode(s->payload, len, &m, s->bets, PROTO_BATCH_MAX, why,
	    sizeof(why));
	h = session_handler(m.type);
	if (s->cfg->base && (h == NULL || !(h->flags & SESSION_BASE))) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: not "
		    "in the base protocol", s->peer, proto_type_name(m.type));
		return -1;
	}
	if (h == NULL && m.type != PROTO_UNKNOWN) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "not a request", s->peer, proto_type_name(m.type));
		return reply_store(s, 0);
	}
	if (rc == -1) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: %s",
		    s->peer, proto_type_name(m.type), why);
		return h != NULL && (h->flags & SESSION_NO_REPLY) ? 0 :
		    reply_store(s, 0);
	}
	if (m.agency > (uint32_t)s->cfg->agencies) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "unknown agency %u", s->peer, proto_type_name(m.type),
		    m.agency);
		return h->flags & SESSION_NO_REPLY ? 0 : reply_store(s, 0);
	}
	if ((h->flags & SESSION_AGENCY) && s->keys != NULL &&
	    s->agency != m.agency) {
		session_unauthorized(s, &m);
		return h->flags & SESSION_NO_REPLY ? 0 : reply_store(s, 0);
	}
	rc = h->fn(s, &m);
	if (h->flags & SESSION_WORK)
		s->last_work = io_now_ms();
	return rc;
}
void
session_run(struct session *s)
{
	ssize_t	n;

	log_debug("conexion", "success", "peer: %s", s->peer);
	s->last_work = io_now_ms();
	while (session_wait(s) == 1) {
		/* A whole frame is due within the timeout, however it trickles. */
		n = proto_read_frame_until(s->fd, s->payload, sizeof(s->payload),
		    io_now_ms() + s->cfg->conn_timeout_ms, NULL);
		if (n == 0)
			break;
		if (n == -1) {
			log_warn_errno("paquete", "fail", "peer: %s", s->peer);
			break;
		}
		if (n == -2) {
			log_warn("paquete", "fail", "peer: %s | motivo: bad "
			    "frame length or frame cut short", s->peer);
			break;
		}
		if (session_handle(s, (size_t)n) == -1)
			break;
		/* The base protocol serves one request per connection. */
		if (s->cfg->base)
			break;
	}
	/*
	 * The slot owner closes the descriptor; the peer sees EOF now.  A
	 * peer already gone makes this fail, which changes nothing.
	 */
	(void)shutdown(s->fd, SHUT_RDWR);
}
