/*
 * session: the request loop of one connection.  Waiting for the next frame
 * also watches the stop (sig_fd), so a shutdown is noticed between
 * requests; a request in flight is always finished, so a stop never leaves
 * half a batch.  While it waits a connection holds no working memory.
 * A connection lives CONN_TIMEOUT past its last request that did work, so
 * a peer sending only Echo or garbage cannot hold a slot for good.
 * With PROTOCOL=base the connection ends after its first request.  With
 * AGENCY_KEYS a connection acts for an agency only after proving, through
 * AuthHello and AuthProof, that it holds that agency's key.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "session.h"
#include "sig.h"
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

static int	session_flush(struct session *);

/*
 * Send the reply m, after those of the batches queued before it.  0, or
 * -1 when the peer is gone.
 */
static int
session_send(struct session *s, const struct proto_msg *m)
{
	size_t	n;

	if (session_flush(s) == -1)
		return -1;
	if ((n = proto_encode_with(s->w->reply, m, s->w->body)) == 0) {
		log_error("responder", "fail", "peer: %s | motivo: too long",
		    s->peer);
		return -1;
	}
	if (proto_write_frame(s->fd, s->w->reply, n) == -1) {
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
		return sig_stopped(s->stop) ? "shutting down" :
		    "lock timeout";
	default:
		return "storage error";
	}
}

/* Why a store call that returns -1 failed (its I/O errors log themselves). */
static const char *
store_fail_reason(const struct session *s)
{
	return sig_stopped(s->stop) ? "shutting down" :
	    "lock timeout or storage error";
}

/* Log a committed batch the way a lone one always was. */
static void
session_log_store(const struct session *s, const struct store_req *r,
    const struct session_pending *p)
{
	char	 dni[LOG_VALUE_MAX];

	if (r->res != STORE_OK && r->res != STORE_DUPLICATE)
		log_warn("apuesta_recibida", "fail", "agencia: %u | cantidad: "
		    "%zu | motivo: %s", r->agency, r->n, store_reason(s,
		    r->res));
	else if (p->type == PROTO_STORE_BET)
		log_info("apuesta_almacenada", "success", "dni: %s | numero: %u",
		    log_clean(dni, p->doc), p->number);
	else {
		/* Only at DEBUG, where a group is this one batch (bets). */
		for (size_t i = 0; log_threshold <= LOG_LVL_DEBUG && i < r->n;
		    i++)
			log_debug("apuesta_almacenada", "success",
			    "dni: %s | numero: %u",
			    log_clean(dni, s->w->bets[i].doc),
			    s->w->bets[i].number);
		log_info("apuesta_recibida", "success", "agencia: %u | "
		    "cantidad: %zu | almacenadas: %zu", r->agency, r->n,
		    r->written);
	}
}

/*
 * Commit the queued batches as one group (see store_commit), log each,
 * and send their replies in order with one write.  0, or -1 when the
 * peer is gone.
 */
static int
session_flush(struct session *s)
{
	struct proto_msg	 m = { .type = PROTO_STORE_RESPONSE };
	size_t			 len = 0, n;

	if (s->w == NULL || s->w->nreqs == 0)
		return 0;
	store_commit(s->store, s->w->reqs, s->w->nreqs);
	log_hold(s->w->logs, sizeof(s->w->logs));
	for (size_t i = 0; i < s->w->nreqs; i++) {
		session_log_store(s, &s->w->reqs[i], &s->w->pend[i]);
		m.ok = s->w->reqs[i].res == STORE_OK ||
		    s->w->reqs[i].res == STORE_DUPLICATE;
		n = proto_encode_with(s->w->reply, &m, s->w->body);
		memcpy(s->w->acks + len, s->w->reply, n);
		len += n;
	}
	log_release();
	s->w->nreqs = s->w->rows_used = s->w->ends_used = 0;
	if (io_write_full(s->fd, s->w->acks, len) == -1) {
		log_warn_errno("responder", "fail", "peer: %s", s->peer);
		return -1;
	}
	return 0;
}

/*
 * The pool of working memory (see struct session_work).  Each area is
 * mapped once, from fresh pages that cost memory only where touched, and
 * kept for the process's life: giving pages back to the kernel would
 * make it stop every other core to flush their views of the mapping,
 * for each connection that goes idle.  The most recently given back is
 * taken first, its pages still touched, so the pool's memory is about
 * the areas the busiest moment needed.  pool_mu guards the free list;
 * pool_busy, the areas out, is atomic instead, because every batch
 * queued reads it (session_round_bytes) and must not wait for the lock.
 */
static pthread_mutex_t		 pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct session_work	*pool_free;	/* under pool_mu */
static int			 pool_busy;	/* atomic */

/* Take a working area for s.  0, or -1 (logged) when none can be had. */
static int
session_work_take(struct session *s)
{
	struct session_work	*w;
	void			*p;

	if (s->w != NULL)
		return 0;
	pthread_mutex_lock(&pool_mu);
	if ((w = pool_free) != NULL)
		pool_free = w->next;
	pthread_mutex_unlock(&pool_mu);
	if (w == NULL) {
		p = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			log_warn_errno("conexion", "fail", "peer: %s | bytes: "
			    "%zu", s->peer, sizeof(*w));
			return -1;
		}
		w = p;
	}
	__atomic_add_fetch(&pool_busy, 1, __ATOMIC_RELAXED);
	s->w = w;
	return 0;
}

/*
 * Give s's area back to the pool.  Only with nothing in it: no batch
 * queued and no byte buffered, which is how the next taker expects it.
 */
static void
session_work_give(struct session *s)
{
	struct session_work	*w = s->w;

	if (w == NULL || w->nreqs != 0 || w->in.end != w->in.start)
		return;
	w->in.start = w->in.end = 0;
	w->rows_used = w->ends_used = 0;
	s->w = NULL;
	__atomic_sub_fetch(&pool_busy, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&pool_mu);
	w->next = pool_free;
	pool_free = w;
	pthread_mutex_unlock(&pool_mu);
}

/*
 * The rows one connection may queue before it flushes: the whole round
 * for a few busy connections, a share of the budget for many.
 */
static size_t
session_round_bytes(void)
{
	int	n = __atomic_load_n(&pool_busy, __ATOMIC_RELAXED);
	size_t	share = SESSION_ROWS_BUDGET / (size_t)(n > 1 ? n : 1);

	if (share > SESSION_ROUND_BYTES)
		return SESSION_ROUND_BYTES;
	return share < SESSION_ROUND_MIN ? SESSION_ROUND_MIN : share;
}

/* 1 when the batch m must wait for the queued ones to be flushed. */
static int
session_full(const struct session *s, const struct proto_msg *m)
{
	return s->w->nreqs == SESSION_WINDOW ||
	    s->w->rows_used > session_round_bytes() ||
	    s->w->ends_used + m->nbets > SESSION_ENDS_MAX;
}

/*
 * Format m's bets as CSV rows after those queued and queue the batch.
 * 0, or -1 when its rows do not fit (nothing queued).
 */
static int
session_queue(struct session *s, const struct proto_msg *m)
{
	struct store_req	*r = &s->w->reqs[s->w->nreqs];
	struct session_pending	*p = &s->w->pend[s->w->nreqs];
	char			*rows = s->w->rows + s->w->rows_used;
	uint32_t		*ends = s->w->ends + s->w->ends_used;
	size_t			 len = 0, l;
	size_t			 cap = SESSION_ROWS_CAP - s->w->rows_used;

	for (size_t i = 0; i < m->nbets; i++) {
		if ((l = csv_format_bet(&s->w->bets[i], rows + len,
		    cap - len)) == 0)
			return -1;
		len += l;
		ends[i] = (uint32_t)len;
	}
	memset(r, 0, sizeof(*r));
	r->agency = m->agency;
	r->pos = m->type == PROTO_STORE_BATCH_AT ? m->pos : STORE_NO_POS;
	r->n = m->nbets;
	r->rows = rows;
	r->ends = ends;
	p->type = m->type;
	p->number = s->w->bets[0].number;
	memcpy(p->doc, s->w->bets[0].doc, sizeof(p->doc));
	s->w->rows_used += len;
	s->w->ends_used += m->nbets;
	s->w->nreqs++;
	return 0;
}

/*
 * A store request is queued, not served: its reply waits for the group
 * it joins (session_flush), which the session commits when no whole
 * request is left to read, the window is full, or another request comes.
 * At DEBUG each bet is logged once stored, so batches go one by one.
 */
static int
handle_store(struct session *s, const struct proto_msg *m)
{
	if (session_full(s, m) && session_flush(s) == -1)
		return -1;
	if (session_queue(s, m) == -1) {
		if (session_flush(s) == -1)
			return -1;
		if (session_queue(s, m) == -1) {
			log_warn("apuesta_recibida", "fail", "agencia: %u | "
			    "cantidad: %zu | motivo: rows too long", m->agency,
			    m->nbets);
			return reply_store(s, 0);
		}
	}
	/* At DEBUG each bet is logged from the bets: flush while there. */
	if (log_threshold <= LOG_LVL_DEBUG)
		return session_flush(s);
	return 0;
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
	/*
	 * The store logged the draw if this close was the last one; a
	 * repeated close may follow a closer that died before logging it.
	 */
	if (!draw)
		store_draw_check(s->store);
	return 0;
}

/*
 * The agency's winners from start on, into s->w->docs as r's documents.
 * Returns 1 when r is ready to send; else the refusal or the
 * NotReadyResponse has been sent and 0 or -1 is the session's result.
 */
static int
session_winners(struct session *s, const struct proto_msg *m, uint64_t start,
    struct proto_msg *r, int *result)
{
	size_t	count;
	int	rc;

	rc = store_winners(s->store, m->agency, start, s->w->docs,
	    PROTO_DOCS_MAX, &count, &r->total);
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
	r->docs = s->w->docs;
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

/*
 * WinnersWait:agency:start:wait_ms, the long poll: the page WinnersPage
 * would give once the draw has happened (at once when it has), or
 * NotReadyResponse after wait_ms without it.  The draw is noticed within
 * a few milliseconds on whichever replica the last close lands.
 */
static int
handle_wait(struct session *s, const struct proto_msg *m)
{
	long long	ms = m->wait_ms;

	if (s->cfg->wait_cap_ms > 0 && ms > s->cfg->wait_cap_ms)
		ms = s->cfg->wait_cap_ms;
	/*
	 * A waiting agency holds no working memory (m's numbers, all that
	 * handle_page reads, are not in it); a pipelined request behind
	 * this one keeps it.
	 */
	session_work_give(s);
	(void)store_wait_draw(s->store, io_now_ms() + ms);
	if (session_work_take(s) == -1)
		return -1;
	return handle_page(s, m);
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
 * Refuse a handshake for good: log why, answer AuthRefused:reason, so
 * the client stops instead of asking again for the same answer.
 */
static int
auth_refuse_for_good(struct session *s, uint32_t agency, const char *reason,
    const char *why)
{
	struct proto_msg	 r = { .type = PROTO_AUTH_REFUSED,
				    .text = reason, .textlen = strlen(reason) };

	log_warn("auth", "fail", "peer: %s | agencia: %u | motivo: %s",
	    s->peer, agency, why);
	return session_send(s, &r);
}

/*
 * AuthHello:agency: a fresh nonce for this connection, unless this
 * address has failed too often lately for this agency (or for many):
 * then BusyResponse with the time left.  A wait is logged once per
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
		return auth_refuse_for_good(s, m->agency,
		    PROTO_REFUSED_NOT_CONFIGURED, "authentication not "
		    "configured on this server");
	if (s->agency != 0)
		return auth_refuse(s, m->agency, "connection already "
		    "authenticated");
	if ((wait = throttle_wait(s->host, m->agency, io_now_ms(),
	    &first)) > 0) {
		if (first)
			log_warn("auth", "fail", "peer: %s | agencia: %u | "
			    "motivo: too many failed handshakes from this "
			    "address | retry_in_ms: %lld", s->peer, m->agency,
			    wait);
		r.type = PROTO_BUSY;
		r.wait_ms = (uint32_t)wait;
		return session_send(s, &r);
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
 * one proof only.  A wrong proof counts against the address and the
 * agency claimed, is answered AuthRefused with its reason and ends the
 * connection, so every guess costs a new connection and a new nonce.
 */
static int
handle_proof(struct session *s, const struct proto_msg *m)
{
	const uint8_t	*key;
	uint32_t	 agency = s->hello;
	int		 revoked;

	s->hello = 0;
	if (agency == 0)
		return auth_refuse(s, 0, "no AuthHello before AuthProof");
	key = keys_get(s->keys, agency);
	if (key == NULL || !auth_verify(key, agency, s->nonce, m->token)) {
		throttle_fail(s->host, agency, io_now_ms());
		revoked = keys_revoked(s->keys, agency);
		auth_refuse_for_good(s, agency, revoked ?
		    PROTO_REFUSED_REVOKED : PROTO_REFUSED_WRONG_KEY, revoked ?
		    "agency revoked" : key == NULL ? "no key for this agency" :
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
	{ PROTO_WINNERS_WAIT, handle_wait, SESSION_WORK | SESSION_AGENCY },
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

	rc = proto_decode(s->w->payload, len, &m, s->w->bets, PROTO_BATCH_MAX,
	    why, sizeof(why));
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
	/* Whatever comes after queued batches acts after them. */
	if (h->fn != handle_store && session_flush(s) == -1)
		return -1;
	rc = h->fn(s, &m);
	if (h->flags & SESSION_WORK)
		s->last_work = io_now_ms();
	return rc;
}
/* rbuf_take into the working area's payload. */
static int
session_take(struct session *s, size_t *len)
{
	return rbuf_take(&s->w->in, s->w->payload, sizeof(s->w->payload),
	    len);
}

/*
 * The next whole frame into s->w->payload: 1 with its length in *len, 0
 * when the connection ends quietly (the peer closed between frames, a
 * stop, the idle timeout), -1 when it ends on an error (logged).  Before
 * blocking, the batches queued so far are committed and answered: a
 * client that pipelines sends the next ones while they sync.
 */
static int
session_read(struct session *s, size_t *len)
{
	struct rbuf	*in;
	long long	deadline;
	ssize_t		n;
	int		rc, w;

	if (session_work_take(s) == -1)
		return -1;
	in = &s->w->in;
	if ((rc = session_take(s, len)) == 0 &&
	    rbuf_recv(in, s->fd, MSG_DONTWAIT) > 0)
		rc = session_take(s, len);
	if (rc == 0 && session_flush(s) == -1)
		return -1;
	if (rc == 0 && !rbuf_partial(in)) {
		/* Nothing in hand: wait without working memory. */
		session_work_give(s);
		if ((w = session_wait(s)) != 1)
			return w == 0 ? 0 : -1;
		if (session_work_take(s) == -1)
			return -1;
		in = &s->w->in;
	}
	/* A whole frame is due within the timeout, however it trickles. */
	deadline = io_now_ms() + s->cfg->conn_timeout_ms;
	while (rc == 0) {
		if (io_wait(s->fd, deadline, NULL) != 1 ||
		    (n = rbuf_recv(in, s->fd, 0)) == -1) {
			log_warn_errno("paquete", "fail", "peer: %s", s->peer);
			return -1;
		}
		if (n == 0 && !rbuf_partial(in))
			return 0;
		rc = n == 0 ? -2 : session_take(s, len);
	}
	if (rc == -2) {
		log_warn("paquete", "fail", "peer: %s | motivo: bad frame "
		    "length or frame cut short", s->peer);
		return -1;
	}
	return 1;
}

void
session_run(struct session *s)
{
	size_t	len;

	log_debug("conexion", "success", "peer: %s", s->peer);
	s->last_work = io_now_ms();
	while (session_read(s, &len) == 1) {
		if (session_handle(s, len) == -1)
			break;
		/* The base protocol serves one request per connection. */
		if (s->cfg->base)
			break;
	}
	/* Batches queued before the end are still committed and answered. */
	(void)session_flush(s);
	if (s->w != NULL) {
		/* What a failed peer left unread goes with it. */
		s->w->nreqs = 0;
		s->w->in.start = s->w->in.end = 0;
		session_work_give(s);
	}
	/*
	 * The slot owner closes the descriptor; the peer sees EOF now.  A
	 * peer already gone makes this fail, which changes nothing.
	 */
	(void)shutdown(s->fd, SHUT_RDWR);
}
