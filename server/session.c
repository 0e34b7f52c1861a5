/*
 * session: the request loop of one connection.  Waiting for the next frame
 * is done in short poll slices so a shutdown is noticed between requests; a
 * request in flight is always finished, so a stop never leaves half a batch.
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

/* 1 when a frame is waiting, 0 on stop, -1 on idle timeout or error. */
static int
session_wait(struct session *s)
{
	struct pollfd	pfd = { s->fd, POLLIN, 0 };
	long long	deadline = io_now_ms() + s->cfg->conn_timeout_ms;
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
store_reason(enum store_result r)
{
	switch (r) {
	case STORE_CLOSED:
		return "agency closed";
	case STORE_GAP:
		return "position past stored bets";
	default:
		return "storage error";
	}
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
		    "%zu | motivo: %s", m->agency, m->nbets, store_reason(r));
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

/* No reply: some clients hang up right after sending it. */
static int
handle_close(struct session *s, const struct proto_msg *m)
{
	int	draw;

	if (store_close_agency(s->store, m->agency, &draw) == -1) {
		log_error("agencia_cerrada", "fail", "agencia: %u", m->agency);
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
	if (rc == -1)
		return -1;
	if (rc == 0) {
		log_debug("consulta_ganadores", "in_progress", "agencia: %u",
		    m->agency);
		return session_reply(s, PROTO_NOT_READY, "", 0);
	}
	if (count < total) {
		log_error("consulta_ganadores", "fail", "agencia: %u | "
		    "cant_ganadores: %llu | motivo: winners do not fit in one "
		    "frame", m->agency, (unsigned long long)total);
		return -1;
	}
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %zu", m->agency, count);
	return session_reply(s, PROTO_WINNERS_RESPONSE, docs, len);
}

static int
handle_status(struct session *s, const struct proto_msg *m)
{
	char		body[48];
	uint64_t	stored;
	int		closed, n;

	if (store_status(s->store, m->agency, &stored, &closed) == -1)
		return -1;
	n = snprintf(body, sizeof(body), "%llu;%d",
	    (unsigned long long)stored, closed);
	log_info("estado_agencia", "success", "agencia: %u | almacenadas: "
	    "%llu | cerrada: %d", m->agency, (unsigned long long)stored, closed);
	return session_reply(s, PROTO_STATUS_RESPONSE, body, (size_t)n);
}

/* Serve one decoded frame.  -1 drops the connection. */
static int
session_handle(struct session *s, size_t len)
{
	struct proto_msg	m;
	char			why[128];

	if (proto_decode(s->payload, len, &m, s->bets, PROTO_BATCH_MAX, why,
	    sizeof(why)) == -1) {
		log_warn("paquete", "fail", "peer: %s | motivo: %s", s->peer,
		    why);
		return reply_store(s, 0);
	}
	if (m.type != PROTO_ECHO && m.agency > (uint32_t)s->cfg->agencies) {
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "unknown agency %u", s->peer, proto_type_name(m.type),
		    m.agency);
		return reply_store(s, 0);
	}
	switch (m.type) {
	case PROTO_STORE_BET:
	case PROTO_STORE_BATCH:
	case PROTO_STORE_BATCH_AT:
		return handle_store(s, &m);
	case PROTO_AGENCY_CLOSE:
		return handle_close(s, &m);
	case PROTO_WINNERS_REQUEST:
		return handle_winners(s, &m);
	case PROTO_AGENCY_STATUS:
		return handle_status(s, &m);
	case PROTO_ECHO:
		log_debug("echo", "success", "peer: %s", s->peer);
		return session_reply(s, PROTO_ECHO, m.text, m.textlen);
	default:
		log_warn("paquete", "fail", "peer: %s | tipo: %s | motivo: "
		    "not a request", s->peer, proto_type_name(m.type));
		return reply_store(s, 0);
	}
}

void
session_run(struct session *s)
{
	ssize_t	n;

	log_debug("conexion", "success", "peer: %s", s->peer);
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
	}
	/*
	 * The slot owner closes the descriptor; the peer sees EOF now.  A
	 * peer already gone makes this fail, which changes nothing.
	 */
	(void)shutdown(s->fd, SHUT_RDWR);
}
