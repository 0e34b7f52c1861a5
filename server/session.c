/*
 * session: the request loop of one connection.  Waiting for the next frame
 * is done in short poll slices so a shutdown is noticed between requests; a
 * request in flight is always finished, so a stop never leaves half a batch.
 * A connection lives CONN_TIMEOUT past its last request that did work, so
 * a peer sending only Echo or garbage cannot hold a slot for good.
 * With PROTOCOL=base the connection ends after its first request.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "session.h"

#define SESSION_TICK_MS	200

/*
 * 1 when a frame is waiting, 0 on stop, -1 on idle timeout or error.  The
 * deadline counts from the last request that did work, not the last frame.
 */
static int
session_wait(struct session *s)
{
	struct pollfd	pfd = { s->fd, POLLIN, 0 };
	long long	deadline = s->last_work + s->cfg->conn_timeout_ms;
	long long	left;
	int		n;

	while (!*s->stop) {
		if ((left = deadline - io_now_ms()) <= 0) {
			log_warn("conexion", "fail",
			    "peer: %s | motivo: idle timeout", s->peer);
			return -1;
		}
		n = poll(&pfd, 1, left < SESSION_TICK_MS ? (int)left :
		    SESSION_TICK_MS);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR) {
			log_warn_errno("conexion", "fail", "peer: %s",
			    s->peer);
			return -1;
		}
	}
	return 0;
}

/* Send "Type:body".  0, or -1 when the peer is gone. */
static int
session_reply(struct session *s, enum proto_type type, const char *body,
    size_t len)
{
	size_t	n;

	if ((n = proto_encode(s->reply, type, body, len)) == 0) {
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
	return session_reply(s, PROTO_STORE_RESPONSE, ok ? "0" : "1", 1);
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

static int
handle_winners(struct session *s, const struct proto_msg *m)
{
	/* The response must fit one frame with its "WinnersResponse:". */
	char		docs[PROTO_PAYLOAD_MAX - sizeof("WinnersResponse:") + 2];
	size_t		len, count;
	uint64_t	total;
	int		rc;

	rc = store_winners(s->store, m->agency, 0, docs, sizeof(docs), &len,
	    &count, &total);
	if (rc == -1) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | motivo: "
		    "%s", m->agency, store_fail_reason(s));
		return reply_store(s, 0);
	}
	if (rc == 0) {
		log_debug("consulta_ganadores", "in_progress", "agencia: %u",
		    m->agency);
		return session_reply(s, PROTO_NOT_READY, "", 0);
	}
	if (count < total) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | "
		    "cant_ganadores: %llu | motivo: winners do not fit in one "
		    "frame, use WinnersPage", m->agency,
		    (unsigned long long)total);
		return reply_store(s, 0);
	}
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %zu", m->agency, count);
	return session_reply(s, PROTO_WINNERS_RESPONSE, docs, len);
}

/* Drop the last document of a ';'-joined list of count of them. */
static void
docs_drop_last(char *docs, size_t *len, size_t *count)
{
	char	*semi;

	docs[*len] = '\0';
	if (*count > 1 && (semi = strrchr(docs, ';')) != NULL)
		*len = (size_t)(semi - docs);
	else
		*len = 0;
	(*count)--;
}

/*
 * "WinnersPageResponse:total;doc;doc..." with as many documents from
 * m->pos on as fit whole in the frame.  The documents are fetched with
 * room for the shortest prefix ("0;"); the ones the real prefix pushes out
 * of the frame are dropped again.
 */
static int
handle_page(struct session *s, const struct proto_msg *m)
{
	enum { BODY_MAX = PROTO_PAYLOAD_MAX - sizeof("WinnersPageResponse:") +
	    1 };
	char		docs[BODY_MAX - 2 + 1], body[BODY_MAX + 1];
	size_t		len, count, pre;
	uint64_t	total;
	int		rc, n;

	rc = store_winners(s->store, m->agency, m->pos, docs, sizeof(docs),
	    &len, &count, &total);
	if (rc == -1) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | desde: "
		    "%llu | motivo: %s", m->agency, (unsigned long long)m->pos,
		    store_fail_reason(s));
		return reply_store(s, 0);
	}
	if (rc == 0) {
		log_debug("consulta_ganadores", "in_progress", "agencia: %u",
		    m->agency);
		return session_reply(s, PROTO_NOT_READY, "", 0);
	}
	n = snprintf(body, sizeof(body), "%llu", (unsigned long long)total);
	pre = (size_t)n + 1;
	while (count > 0 && pre + len > BODY_MAX)
		docs_drop_last(docs, &len, &count);
	if (count > 0) {
		body[n] = ';';
		memcpy(body + pre, docs, len);
		n = (int)(pre + len);
	}
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %llu | desde: %llu | enviados: %zu", m->agency,
	    (unsigned long long)total, (unsigned long long)m->pos, count);
	return session_reply(s, PROTO_WINNERS_PAGE_RESPONSE, body, (size_t)n);
}

static int
handle_status(struct session *s, const struct proto_msg *m)
{
	char		body[48];
	uint64_t	stored;
	int		closed, n;

	if (store_status(s->store, m->agency, &stored, &closed) == -1) {
		log_warn("estado_agencia", "fail", "agencia: %u | motivo: %s",
		    m->agency, store_fail_reason(s));
		return reply_store(s, 0);
	}
	n = snprintf(body, sizeof(body), "%llu;%d",
	    (unsigned long long)stored, closed);
	log_info("estado_agencia", "success", "agencia: %u | almacenadas: "
	    "%llu | cerrada: %d", m->agency, (unsigned long long)stored, closed);
	return session_reply(s, PROTO_STATUS_RESPONSE, body, (size_t)n);
}

/*
 * Serve a request of a known agency.  Every one of these does work, so it
 * restarts the connection's idle clock once served.  -1 drops the
 * connection.
 */
static int
session_work(struct session *s, const struct proto_msg *m)
{
	int	rc;

	switch (m->type) {
	case PROTO_STORE_BET:
	case PROTO_STORE_BATCH:
	case PROTO_STORE_BATCH_AT:
		rc = handle_store(s, m);
		break;
	case PROTO_AGENCY_CLOSE:
		rc = handle_close(s, m);
		break;
	case PROTO_WINNERS_REQUEST:
		rc = handle_winners(s, m);
		break;
	case PROTO_WINNERS_PAGE:
		rc = handle_page(s, m);
		break;
	case PROTO_AGENCY_STATUS:
		rc = handle_status(s, m);
		break;
	default:
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "not a request", s->peer, proto_type_name(m->type));
		return reply_store(s, 0);
	}
	s->last_work = io_now_ms();
	return rc;
}

/* The original exercise's requests: all that PROTOCOL=base serves. */
static int
session_base_type(enum proto_type t)
{
	return t == PROTO_STORE_BET || t == PROTO_STORE_BATCH ||
	    t == PROTO_AGENCY_CLOSE || t == PROTO_WINNERS_REQUEST;
}

/*
 * Serve one frame.  -1 drops the connection, as does any request outside
 * the base protocol when PROTOCOL=base (no reply: such a client speaks
 * another protocol, and a reply could be taken for an answer).  A request
 * refused here is answered StoreResponse:1, except AgencyClose, which
 * never has a reply.
 */
static int
session_handle(struct session *s, size_t len)
{
	struct proto_msg	m;
	char			why[128];
	int			rc;

	rc = proto_decode(s->payload, len, &m, s->bets, PROTO_BATCH_MAX, why,
	    sizeof(why));
	if (s->cfg->base && !session_base_type(m.type)) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: not "
		    "in the base protocol", s->peer, proto_type_name(m.type));
		return -1;
	}
	if (rc == -1) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: %s",
		    s->peer, proto_type_name(m.type), why);
		return m.type == PROTO_AGENCY_CLOSE ? 0 : reply_store(s, 0);
	}
	if (m.type == PROTO_ECHO) {
		log_debug("echo", "success", "peer: %s", s->peer);
		return session_reply(s, PROTO_ECHO, m.text, m.textlen);
	}
	if (m.agency > (uint32_t)s->cfg->agencies) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "unknown agency %u", s->peer, proto_type_name(m.type),
		    m.agency);
		return m.type == PROTO_AGENCY_CLOSE ? 0 : reply_store(s, 0);
	}
	return session_work(s, &m);
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
		    io_now_ms() + s->cfg->conn_timeout_ms);
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
