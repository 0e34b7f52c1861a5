/*
 * session: the protocol side of one connection, driven by the event loop
 * (net.c).  Frames are cut out of the working area's read buffer and
 * dispatched through the handler table below, one at a time and in
 * order.  A request that needs the store becomes the connection's one
 * job for the store thread; until it comes back the connection reads on
 * into its bounded buffer but dispatches nothing more, so replies keep
 * request order.  Batches are queued and committed as one job when no
 * whole request is left, the window is full or another request comes.
 * A WinnersWait before the draw parks the connection: it then holds no
 * working memory and no job, only this struct and its descriptor.
 * A connection lives CONN_TIMEOUT past its last request that did work, so
 * a peer sending only Echo or refused requests cannot hold it for good.
 * With PROTOCOL=base it ends after its first request.  With AGENCY_KEYS
 * it acts for an agency only after proving, through AuthHello and
 * AuthProof, that it holds that agency's key.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "sig.h"
#include "throttle.h"

/* A handler's answer besides SESSION_OK and SESSION_CLOSE. */
#define SESSION_AGAIN	1	/* serve this request again after the job */

/*
 * The pool of working memory (see struct session_work).  Each area is
 * mapped once, from fresh pages that cost memory only where touched, and
 * kept for the process's life: giving pages back to the kernel would
 * make it stop every other core to flush their views of the mapping,
 * for each connection that goes idle.  The most recently given back is
 * taken first, its pages still touched, so the pool's memory is about
 * the areas the busiest moment needed.  pool_busy counts the areas out.
 * Only the loop thread takes and gives areas.
 */
static struct session_work	*pool_free;
static int			 pool_busy;

int
session_pool_busy(void)
{
	return pool_busy;
}

/* Take a working area for s.  0, or -1 (logged) when none can be had. */
static int
session_work_take(struct session *s)
{
	struct session_work	*w;
	void			*p;

	if (s->w != NULL)
		return 0;
	if ((w = pool_free) != NULL)
		pool_free = w->next;
	else {
		p = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			log_warn_errno("conexion", "fail", "peer: %s | bytes: "
			    "%zu", s->peer, sizeof(*w));
			return -1;
		}
		w = p;
	}
	pool_busy++;
	s->w = w;
	return 0;
}

/* Give s's area back, emptied; the next taker expects it so. */
static void
session_work_put(struct session *s)
{
	struct session_work	*w = s->w;

	w->in.start = w->in.end = 0;
	w->nreqs = w->rows_used = w->ends_used = 0;
	w->out_start = w->out_end = 0;
	s->w = NULL;
	s->held = 0;
	w->next = pool_free;
	pool_free = w;
	pool_busy--;
}

/*
 * Give the area back when nothing is in it: no job, no batch queued, no
 * request held, no byte read and none to write.
 */
static void
session_work_give(struct session *s)
{
	struct session_work	*w = s->w;

	if (w == NULL || s->busy || s->held || w->nreqs != 0 ||
	    w->in.end != w->in.start || w->out_end != w->out_start)
		return;
	session_work_put(s);
}

void
session_release(struct session *s)
{
	if (s->w != NULL && !s->busy)
		session_work_put(s);
}

int
session_pending_out(const struct session *s)
{
	return s->w != NULL && s->w->out_end != s->w->out_start;
}

int
session_can_read(const struct session *s)
{
	return s->w == NULL || s->w->in.end - s->w->in.start < RBUF_SIZE;
}

/* 1 when one more reply, and the acks of a full window, fit in out. */
static int
session_room(const struct session *s)
{
	return SESSION_OUT_MAX - (s->w->out_end - s->w->out_start) >=
	    SESSION_OUT_ROOM;
}

/* Queue n bytes of replies.  0, or -1 (logged) when they do not fit. */
static int
session_out(struct session *s, const char *buf, size_t n)
{
	struct session_work	*w = s->w;

	if (w->out_start > 0) {
		memmove(w->out, w->out + w->out_start,
		    w->out_end - w->out_start);
		w->out_end -= w->out_start;
		w->out_start = 0;
	}
	if (n > SESSION_OUT_MAX - w->out_end) {
		log_error("responder", "fail", "peer: %s | motivo: replies "
		    "past the connection's bound", s->peer);
		return -1;
	}
	memcpy(w->out + w->out_end, buf, n);
	w->out_end += n;
	if (s->out_since == 0)
		s->out_since = io_now_ms();
	return 0;
}

int
session_output(struct session *s)
{
	struct session_work	*w = s->w;
	ssize_t			 n;

	if (w == NULL)
		return SESSION_OK;
	while (w->out_end > w->out_start) {
		if (s->fd == -1) {
			w->out_start = w->out_end = 0;	/* nobody to read */
			break;
		}
		n = send(s->fd, w->out + w->out_start,
		    w->out_end - w->out_start, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return SESSION_OK;
		if (n == -1) {
			log_warn_errno("responder", "fail", "peer: %s",
			    s->peer);
			w->out_start = w->out_end = 0;
			s->out_since = 0;
			return SESSION_CLOSE;
		}
		w->out_start += (size_t)n;
		/* Progress: the send deadline counts from here. */
		s->out_since = io_now_ms();
	}
	w->out_start = w->out_end = 0;
	s->out_since = 0;
	return SESSION_OK;
}

/* Queue the reply m, after every reply queued before it.  0 or -1. */
static int
session_send(struct session *s, const struct proto_msg *m)
{
	size_t	n;

	if ((n = proto_encode_with(s->w->reply, m, s->w->body)) == 0) {
		log_error("responder", "fail", "peer: %s | motivo: too long",
		    s->peer);
		return -1;
	}
	return session_out(s, s->w->reply, n);
}

void
session_busy_reply(int fd, unsigned retry_ms)
{
	struct proto_msg	m = { .type = PROTO_BUSY, .wait_ms = retry_ms };
	char			frame[PROTO_FRAME_MAX];
	size_t			n;

	if ((n = proto_encode_msg(frame, &m)) == 0)
		return;
	/* A peer whose buffer is full does not get it; it is closed anyway. */
	(void)!send(fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL);
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

/* Hand s's job to the store thread; s dispatches nothing until it ends. */
static void
session_submit(struct session *s, enum worker_kind kind, enum proto_type req,
    uint32_t agency, uint64_t start)
{
	memset(&s->job, 0, sizeof(s->job));
	s->job.kind = kind;
	s->job.owner = s;
	s->job.agency = agency;
	s->job.start = start;
	if (kind == WORKER_COMMIT) {
		s->job.reqs = s->w->reqs;
		s->job.nreqs = s->w->nreqs;
	}
	if (kind == WORKER_WINNERS) {
		s->job.docs = s->w->docs;
		s->job.max = PROTO_DOCS_MAX;
	}
	s->job_req = req;
	s->busy = 1;
	worker_submit(s->worker, &s->job);
}

/* The queued batches, as one job, unless a job is in flight already. */
static void
session_commit(struct session *s)
{
	if (s->w != NULL && s->w->nreqs > 0 && !s->busy)
		session_submit(s, WORKER_COMMIT, PROTO_STORE_BATCH, 0, 0);
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
		return sig_stopped(s->stop) ? "shutting down" : "lock timeout";
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
 * The group came back: log each batch and queue their replies in order.
 * 0, or -1 when they do not fit (never with the room rule).
 */
static int
complete_commit(struct session *s)
{
	struct proto_msg	 m = { .type = PROTO_STORE_RESPONSE };
	size_t			 n;
	int			 rc = 0;

	log_hold(s->w->logs, sizeof(s->w->logs));
	for (size_t i = 0; i < s->w->nreqs; i++) {
		session_log_store(s, &s->w->reqs[i], &s->w->pend[i]);
		m.ok = s->w->reqs[i].res == STORE_OK ||
		    s->w->reqs[i].res == STORE_DUPLICATE;
		n = proto_encode_with(s->w->reply, &m, s->w->body);
		if (rc == 0)
			rc = session_out(s, s->w->reply, n);
	}
	log_release();
	s->w->nreqs = s->w->rows_used = s->w->ends_used = 0;
	return rc;
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
 * it joins, which goes to the store thread when no whole request is left
 * to read, the window is full, or another request comes.  At DEBUG each
 * bet is logged once stored, so batches go one by one.
 */
static int
handle_store(struct session *s, const struct proto_msg *m)
{
	if (s->w->nreqs > 0 && session_full(s, m)) {
		session_commit(s);
		return SESSION_AGAIN;
	}
	if (session_queue(s, m) == -1) {
		if (s->w->nreqs > 0) {
			session_commit(s);
			return SESSION_AGAIN;
		}
		log_warn("apuesta_recibida", "fail", "agencia: %u | "
		    "cantidad: %zu | motivo: rows too long", m->agency,
		    m->nbets);
		return reply_store(s, 0);
	}
	if (log_threshold <= LOG_LVL_DEBUG)
		session_commit(s);
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
	session_submit(s, WORKER_CLOSE, m->type, m->agency, 0);
	return 0;
}

static int
complete_close(struct session *s)
{
	if (s->job.rc == -1) {
		log_error("agencia_cerrada", "fail", "agencia: %u | motivo: %s",
		    s->job.agency, store_fail_reason(s));
		return -1;	/* the client reconnects and closes again */
	}
	/* The draw's line, if this close was the last, is the store's. */
	log_info("agencia_cerrada", "success", "agencia: %u", s->job.agency);
	return 0;
}

/*
 * WinnersResponse: every winner of the agency in one frame, or
 * StoreResponse:1 when they do not all fit (WinnersPage pages them).
 */
static int
handle_winners(struct session *s, const struct proto_msg *m)
{
	session_submit(s, WORKER_WINNERS, m->type, m->agency, 0);
	return 0;
}

/*
 * "WinnersPageResponse:total;doc;doc..." with as many documents from
 * m->pos on as fit whole in the frame.
 */
static int
handle_page(struct session *s, const struct proto_msg *m)
{
	session_submit(s, WORKER_WINNERS, m->type, m->agency, m->pos);
	return 0;
}

/*
 * WinnersWait:agency:start:wait_ms, the long poll: the page WinnersPage
 * would give once the draw has happened (at once when it has), or
 * NotReadyResponse after wait_ms without it.  Before the draw the
 * connection is parked: the loop wakes it when the draw is seen (within
 * a few milliseconds on whichever replica the last close lands) or its
 * wait runs out.  A parked connection holds no working memory once its
 * buffers are empty; a pipelined request behind this one keeps it.
 */
static int
handle_wait(struct session *s, const struct proto_msg *m)
{
	long long	ms = m->wait_ms;

	if (s->cfg->wait_cap_ms > 0 && ms > s->cfg->wait_cap_ms)
		ms = s->cfg->wait_cap_ms;
	if (store_drawn(s->store)) {
		session_submit(s, WORKER_WINNERS, m->type, m->agency, m->pos);
		return 0;
	}
	s->parked = 1;
	s->park_until = io_now_ms() + ms;
	s->wait_agency = m->agency;
	s->wait_start = m->pos;
	log_debug("consulta_ganadores", "in_progress", "agencia: %u | "
	    "espera_ms: %lld", m->agency, ms);
	return 0;
}

/* The winners came back: the reply its request asked for. */
static int
complete_winners(struct session *s)
{
	struct proto_msg	 r = { .type = PROTO_WINNERS_PAGE_RESPONSE };
	const struct worker_job	*j = &s->job;

	if (j->rc == -1) {
		log_warn("consulta_ganadores", "fail", "agencia: %u | desde: "
		    "%llu | motivo: %s", j->agency, (unsigned long long)j->start,
		    store_fail_reason(s));
		return reply_store(s, 0);
	}
	if (j->rc == 0) {
		log_debug("consulta_ganadores", "in_progress", "agencia: %u",
		    j->agency);
		return reply_not_ready(s);
	}
	r.docs = s->w->docs;
	r.ndocs = j->count;
	r.total = j->total;
	if (s->job_req == PROTO_WINNERS_REQUEST) {
		r.type = PROTO_WINNERS_RESPONSE;
		r.ndocs = proto_docs_fit(&r);
		if (r.ndocs < r.total) {
			log_warn("consulta_ganadores", "fail", "agencia: %u | "
			    "cant_ganadores: %llu | motivo: winners do not fit "
			    "in one frame, use WinnersPage", j->agency,
			    (unsigned long long)r.total);
			return reply_store(s, 0);
		}
		log_info("consulta_ganadores", "success", "agencia: %u | "
		    "cant_ganadores: %zu", j->agency, r.ndocs);
		return session_send(s, &r);
	}
	r.ndocs = proto_docs_fit(&r);
	log_info("consulta_ganadores", "success", "agencia: %u | "
	    "cant_ganadores: %llu | desde: %llu | enviados: %zu", j->agency,
	    (unsigned long long)r.total, (unsigned long long)j->start, r.ndocs);
	return session_send(s, &r);
}

static int
handle_status(struct session *s, const struct proto_msg *m)
{
	session_submit(s, WORKER_STATUS, m->type, m->agency, 0);
	return 0;
}

static int
complete_status(struct session *s)
{
	struct proto_msg	r = { .type = PROTO_STATUS_RESPONSE };

	if (s->job.rc == -1) {
		log_warn("estado_agencia", "fail", "agencia: %u | motivo: %s",
		    s->job.agency, store_fail_reason(s));
		return reply_store(s, 0);
	}
	r.stored = s->job.stored;
	r.closed = s->job.closed;
	log_info("estado_agencia", "success", "agencia: %u | almacenadas: "
	    "%llu | cerrada: %d", s->job.agency, (unsigned long long)r.stored,
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
	if (s->keys == NULL) {
		metrics_handshake_fail(METRICS_HS_NOT_CONFIGURED);
		return auth_refuse_for_good(s, m->agency,
		    PROTO_REFUSED_NOT_CONFIGURED, "authentication not "
		    "configured on this server");
	}
	if (s->agency != 0) {
		metrics_handshake_fail(METRICS_HS_OUT_OF_ORDER);
		return auth_refuse(s, m->agency, "connection already "
		    "authenticated");
	}
	if ((wait = throttle_wait(s->host, m->agency, io_now_ms(),
	    &first)) > 0) {
		metrics_handshake_fail(METRICS_HS_THROTTLED);
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
	if (agency == 0) {
		metrics_handshake_fail(METRICS_HS_OUT_OF_ORDER);
		return auth_refuse(s, 0, "no AuthHello before AuthProof");
	}
	key = keys_get(s->keys, agency);
	if (key == NULL || !auth_verify(key, agency, s->nonce, m->token)) {
		throttle_fail(s->host, agency, io_now_ms());
		revoked = keys_revoked(s->keys, agency);
		metrics_handshake_fail(revoked ? METRICS_HS_REVOKED :
		    key == NULL ? METRICS_HS_UNKNOWN_AGENCY :
		    METRICS_HS_BAD_PROOF);
		auth_refuse_for_good(s, agency, revoked ?
		    PROTO_REFUSED_REVOKED : PROTO_REFUSED_WRONG_KEY, revoked ?
		    "agency revoked" : key == NULL ? "no key for this agency" :
		    "wrong proof");
		return -1;
	}
	s->agency = agency;
	s->last_work = io_now_ms();
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
	/*
	 * A wrong proof ends the connection and a refused one does no work:
	 * only a good one restarts the idle clock (handle_proof does it).
	 */
	{ PROTO_AUTH_PROOF, handle_proof, 0 },
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
 * Run h on m.  A request that must wait for the job in flight (the
 * batches queued before it) is held, decoded, and run again once the job
 * is back.  A request that does work restarts the idle clock.
 */
static int
session_run_handler(struct session *s, const struct session_handler *h,
    const struct proto_msg *m)
{
	int	rc;

	/* Whatever comes after queued batches acts after them. */
	if (h->fn != handle_store && s->w->nreqs > 0) {
		session_commit(s);
		rc = SESSION_AGAIN;
	} else
		rc = h->fn(s, m);
	if (rc == SESSION_AGAIN) {
		if (m != &s->w->held)
			s->w->held = *m;
		s->w->held_h = h;
		s->held = 1;
		return 0;
	}
	if (h->flags & SESSION_WORK)
		s->last_work = io_now_ms();
	return rc == -1 ? SESSION_CLOSE : SESSION_OK;
}

/*
 * Serve one frame.  -1 drops the connection, as does any request outside
 * the base protocol when PROTOCOL=base (no reply: such a client speaks
 * another protocol, and a reply could be taken for an answer).  A request
 * refused here is answered StoreResponse:1, except one marked
 * SESSION_NO_REPLY (AgencyClose); a refusal never counts as work.
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
		return SESSION_CLOSE;
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
	return session_run_handler(s, h, &m);
}

/* 1 while s may dispatch another request. */
static int
session_may_dispatch(const struct session *s)
{
	return s->w != NULL && !s->busy && !s->parked && !s->ending &&
	    !*s->stopping && session_room(s);
}

/*
 * The next request: the held one, else the next whole frame.  1 when one
 * was served (or held), 0 when none is in hand, SESSION_CLOSE on a bad
 * frame or a handler's.
 */
static int
session_next(struct session *s)
{
	size_t	len;
	int	rc;

	if (s->held) {
		s->held = 0;
		rc = session_run_handler(s, s->w->held_h, &s->w->held);
		return rc == SESSION_CLOSE ? SESSION_CLOSE : 1;
	}
	/* The base protocol serves one request per connection. */
	if (s->cfg->base && s->served) {
		s->ending = 1;
		return 0;
	}
	rc = rbuf_take(&s->w->in, s->w->payload, sizeof(s->w->payload), &len);
	if (rc == -2) {
		log_warn("paquete", "fail", "peer: %s | motivo: bad frame "
		    "length", s->peer);
		return SESSION_CLOSE;
	}
	if (rc == 0) {
		if (s->eof && rbuf_partial(&s->w->in)) {
			log_warn("paquete", "fail", "peer: %s | motivo: frame "
			    "cut short", s->peer);
			return SESSION_CLOSE;
		}
		if (s->eof)
			s->ending = 1;	/* hung up between frames: quietly */
		return 0;
	}
	s->served = 1;
	s->frame_since = rbuf_partial(&s->w->in) ? io_now_ms() : 0;
	rc = session_handle(s, len);
	return rc == SESSION_CLOSE ? SESSION_CLOSE : 1;
}

int
session_serve(struct session *s)
{
	int	rc;

	while (session_may_dispatch(s))
		if ((rc = session_next(s)) != 1) {
			if (rc == SESSION_CLOSE)
				return SESSION_CLOSE;	/* finish writes */
			break;
		}
	/* Nothing more to serve now: what is queued goes to the store. */
	session_commit(s);
	if (session_output(s) == SESSION_CLOSE)
		return SESSION_CLOSE;
	session_work_give(s);
	return SESSION_OK;
}

int
session_input(struct session *s)
{
	ssize_t	n;

	if (session_work_take(s) == -1)
		return SESSION_CLOSE;
	if (!rbuf_partial(&s->w->in))
		s->frame_since = io_now_ms();
	n = rbuf_recv(&s->w->in, s->fd, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		session_work_give(s);
		return SESSION_OK;
	}
	if (n == -1) {
		log_warn_errno("paquete", "fail", "peer: %s", s->peer);
		return SESSION_CLOSE;
	}
	if (n == 0)
		s->eof = 1;
	return session_serve(s);
}

int
session_complete(struct session *s)
{
	int	rc = 0;

	s->busy = 0;
	s->last_work = io_now_ms();
	switch (s->job.kind) {
	case WORKER_COMMIT:
		rc = complete_commit(s);
		break;
	case WORKER_CLOSE:
		rc = complete_close(s);
		break;
	case WORKER_STATUS:
		rc = complete_status(s);
		break;
	case WORKER_WINNERS:
		rc = complete_winners(s);
		break;
	case WORKER_DRAW_CHECK:
		break;	/* never a session's */
	}
	if (rc == -1) {
		(void)session_output(s);
		return SESSION_CLOSE;
	}
	return session_serve(s);
}

int
session_wake(struct session *s)
{
	s->parked = 0;
	if (session_work_take(s) == -1)
		return SESSION_CLOSE;
	session_submit(s, WORKER_WINNERS, PROTO_WINNERS_WAIT, s->wait_agency,
	    s->wait_start);
	return SESSION_OK;
}

int
session_unpark(struct session *s)
{
	s->parked = 0;
	s->ending = 1;
	if (session_work_take(s) == -1)
		return SESSION_CLOSE;
	log_info("consulta_ganadores", "fail", "agencia: %u | motivo: "
	    "shutting down", s->wait_agency);
	if (reply_not_ready(s) == -1)
		return SESSION_CLOSE;
	return session_serve(s);
}

int
session_finish(struct session *s)
{
	s->ending = 1;
	s->eof = 1;
	s->parked = 0;
	/* Batches queued before the end are still committed and answered. */
	session_commit(s);
	if (s->busy)
		return 0;
	/* Replies already queued still go out (a dead socket drops them). */
	if (session_output(s) == SESSION_OK && session_pending_out(s))
		return 0;
	session_release(s);
	return 1;
}

/* Keep the earlier of *d and t, with its reason. */
static void
session_due(long long *d, const char **why, long long t, const char *what)
{
	if (t < *d) {
		*d = t;
		*why = what;
	}
}

long long
session_deadline(const struct session *s, const char **why)
{
	long long	d = LLONG_MAX;
	int		ms = s->cfg->conn_timeout_ms;

	*why = "";
	if (s->busy)
		return d;
	if (s->parked) {
		*why = "wait over";
		return s->park_until;
	}
	if (s->out_since != 0)
		session_due(&d, why, s->out_since + ms, "reply not read");
	if (s->keys != NULL && s->agency == 0)
		session_due(&d, why, s->since + (ms < SESSION_HANDSHAKE_MS ?
		    ms : SESSION_HANDSHAKE_MS), SESSION_WHY_HANDSHAKE);
	/* Part of a frame in hand: its own deadline, not the idle one. */
	if (s->w != NULL && rbuf_partial(&s->w->in) && s->frame_since != 0)
		session_due(&d, why, s->frame_since + ms, "frame not "
		    "completed in time");
	else
		session_due(&d, why, s->last_work + ms, "idle timeout");
	return d;
}

void
session_open(struct session *s)
{
	log_debug("conexion", "success", "peer: %s", s->peer);
	s->since = s->last_work = io_now_ms();
}
