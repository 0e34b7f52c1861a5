/*
 * net: the replica's event loop.  One thread runs every socket through
 * one epoll set, used directly: the listener, every connection, the stop
 * pipe (sig_fd), the store thread's completions (an eventfd) and the
 * draw watcher (inotify on agencies_closed.txt).  Sockets are
 * non-blocking; a connection is a struct session, no thread and no
 * stack.  Work that blocks goes to the store thread (worker.c).
 *
 * It also owns admission: which connections the replica keeps when it
 * is full, so that agencies waiting for the draw, or peers without a
 * key, never keep an agency that still has to upload out.  With
 * AGENCY_KEYS a connection is unauthenticated until its proof
 * (bounded in number overall and per address, the oldest evicted, and
 * given SESSION_HANDSHAKE_MS), then it counts for its agency (at most
 * NET_PER_AGENCY, a new one replacing the oldest).  Without keys each
 * address may hold MAX_CONNECTIONS_PER_PEER connections, waiters for the
 * draw aside.  When the replica is full the oldest unauthenticated
 * connection, else the oldest waiter, makes room; only when there is
 * neither is the newcomer turned away.  Whoever is turned away or
 * evicted is first sent BusyResponse:NET_RETRY_MS.
 * The loop also owns the descriptor budget: a spare descriptor kept open
 * so that running out of them sheds connections instead of spinning.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "session.h"
#include "sig.h"
#include "worker.h"

/*
 * Descriptors a replica holds besides its connections: stdio, the
 * listener, bets.csv, agencies_closed.txt, the metadata file, the state
 * directory while opening, the spare, epoll, the eventfd, inotify, the
 * stop pipe, and some slack.
 */
#define NET_FDS_OWN	24
#define NET_PAUSE_MS	100	/* out of fds: no accept for this long */
#define NET_LOG_MS	1000	/* one accept failure line at most per */
#define NET_DRAIN_MS	1000	/* at stop, time for replies to go out */
#define NET_EVENTS	256	/* events taken per epoll_wait */
#define NET_ACCEPTS	64	/* accepts per turn, then serve the rest */
#define NET_SCAN_MS	10	/* deadlines are looked at this often */
#define NET_RETRY_MS	250	/* BusyResponse: try again after */
#define NET_PER_AGENCY	4	/* connections one agency may hold */
#define NET_UNAUTH_ADDR	64	/* unauthenticated from one address */
#define NET_PEER_BUCKETS 4096

/* A connection's admission class. */
enum { NET_CLS_OPEN, NET_CLS_UNAUTH, NET_CLS_AGENCY };
/* The wait list a connection is on. */
enum { NET_WL_NONE, NET_WL_PARKED, NET_WL_WAKE };
/* Which of a session's links a list uses. */
enum { NET_L_ALL, NET_L_CLS, NET_L_WAIT };

struct net_list {
	struct session	*head, *tail;
	int		 n;
};

/* One peer address: its connections, for the per-address bounds. */
struct net_peer {
	struct net_peer	*next;		/* its bucket's */
	char		 host[INET6_ADDRSTRLEN];
	int		 total;		/* connections open */
	int		 parked;	/* of which waiting for the draw */
	int		 unauth;	/* of which not yet authenticated */
};

struct net {
	int			 ep;
	int			 lfd;		/* -1 once stopping */
	int			 spare;		/* /dev/null, freed to shed */
	struct store		*store;
	struct worker		*wk;
	const struct config	*cfg;
	const struct keys	*keys;
	struct net_list		 all;
	struct net_list		 unauth;
	struct net_list		*agency;	/* [agencies + 1] */
	struct net_list		 parked;	/* waiting for the draw */
	struct session		*dead;		/* freed at the end of a turn */
	struct net_list		 wake;		/* to answer, in turn */
	struct net_peer		*peers[NET_PEER_BUCKETS];
	int			 unauth_max;
	struct worker_job	 check;		/* the draw check */
	int			 check_busy;
	long long		 next_check;
	long long		 next_due;	/* earliest deadline known */
	long long		 last_scan;
	int			 stopping;
	long long		 stop_deadline;
	long long		 drawn_at;	/* waiters woken by the draw */
	int			 drawn_woken;	/* how many, 0 once logged */
	long long		 pause_until;	/* no accept before */
	long long		 logged_at;	/* last accept failure line */
	unsigned		 fails;		/* accept failures since then */
	unsigned		 shed;		/* peers closed unserved since */
	int			 last_errno;
};

/* epoll tags of the descriptors that are not connections. */
static char	net_tag_listen, net_tag_sig, net_tag_worker, net_tag_draw;

int
net_limits(const struct config *cfg, char *err, size_t errlen)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)cfg->max_conns + NET_FDS_OWN;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "getrlimit: %s", strerror(errno));
		return -1;
	}
	/*
	 * The hard limit is what an administrator granted: use all of it
	 * (an unlimited one cannot be the soft limit of NOFILE).
	 */
	if (rl.rlim_cur != rl.rlim_max && rl.rlim_max != RLIM_INFINITY) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			snprintf(err, errlen, "setrlimit RLIMIT_NOFILE %llu: %s",
			    (unsigned long long)rl.rlim_max, strerror(errno));
			return -1;
		}
	}
	if (rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
		/* Only a privileged process may raise the hard limit. */
		struct rlimit	up = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		snprintf(err, errlen, "MAX_CONNECTIONS %d needs %llu open "
		    "files but the hard limit (RLIMIT_NOFILE) is %llu and "
		    "raising it failed (%s): lower MAX_CONNECTIONS or raise "
		    "the limit (ulimit -Hn, docker --ulimit nofile)",
		    cfg->max_conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max, strerror(errno));
		return -1;
	}
	return 0;
}

int
net_listen(const struct config *cfg, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if ((rc = getaddrinfo(cfg->ip, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "SERVER_IP %s: %s", cfg->ip,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, cfg->backlog) == -1)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	snprintf(err, errlen, "%s:%s: %s", cfg->ip, port, strerror(errno));
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}


static struct session_link *
net_link(struct session *s, int which)
{
	if (which == NET_L_ALL)
		return &s->all;
	return which == NET_L_CLS ? &s->clink : &s->wlink;
}

static void
net_list_add(struct net_list *l, struct session *s, int which)
{
	struct session_link	*k = net_link(s, which);

	k->next = NULL;
	k->prev = l->tail;
	if (l->tail != NULL)
		net_link(l->tail, which)->next = s;
	else
		l->head = s;
	l->tail = s;
	l->n++;
}

static void
net_list_del(struct net_list *l, struct session *s, int which)
{
	struct session_link	*k = net_link(s, which);

	if (k->prev != NULL)
		net_link(k->prev, which)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NULL)
		net_link(k->next, which)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NULL;
	l->n--;
}

static unsigned
net_hash(const char *host)
{
	unsigned	h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	return h % NET_PEER_BUCKETS;
}

/* host's entry, made when missing; NULL when out of memory. */
static struct net_peer *
net_peer_get(struct net *n, const char *host)
{
	struct net_peer	**b = &n->peers[net_hash(host)], *p;

	for (p = *b; p != NULL; p = p->next)
		if (strcmp(p->host, host) == 0)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	strlcpy(p->host, host, sizeof(p->host));
	p->next = *b;
	*b = p;
	return p;
}

static void
net_peer_put(struct net *n, struct net_peer *p)
{
	struct net_peer	**b = &n->peers[net_hash(p->host)];

	if (p->total > 0)
		return;
	while (*b != p)
		b = &(*b)->next;
	*b = p->next;
	free(p);
}

/*
 * Move s to the connection gauge its state says (gone: none): waiting
 * for the draw while on a wait list, in the handshake while in the
 * unauthenticated class, else authenticated (a replica without keys
 * serves every connection at once).
 */
static void
net_gauge(struct session *s, int gone)
{
	int	st;

	if (gone)
		st = -1;
	else if (s->wlist != NET_WL_NONE)
		st = METRICS_CONN_DRAW_WAIT;
	else if (s->cls == NET_CLS_UNAUTH)
		st = METRICS_CONN_HANDSHAKE;
	else
		st = METRICS_CONN_AUTHENTICATED;
	if (st == s->mstate)
		return;
	if (s->mstate != -1)
		metrics_conn_leave((enum metrics_conn)s->mstate);
	if (st != -1)
		metrics_conn_enter((enum metrics_conn)st);
	s->mstate = st;
}

/* The wait list s is on, changed to wl. */
static void
net_wait_list(struct net *n, struct session *s, int wl)
{
	struct net_peer	*p = s->peer_ent;

	if (s->wlist == wl)
		return;
	if (s->wlist == NET_WL_PARKED)
		net_list_del(&n->parked, s, NET_L_WAIT);
	else if (s->wlist == NET_WL_WAKE)
		net_list_del(&n->wake, s, NET_L_WAIT);
	if (wl == NET_WL_PARKED)
		net_list_add(&n->parked, s, NET_L_WAIT);
	else if (wl == NET_WL_WAKE)
		net_list_add(&n->wake, s, NET_L_WAIT);
	p->parked += (wl != NET_WL_NONE) - (s->wlist != NET_WL_NONE);
	s->wlist = wl;
	net_gauge(s, 0);
}

/* s's admission class, changed to cls. */
static void
net_class(struct net *n, struct session *s, int cls)
{
	struct net_peer	*p = s->peer_ent;

	if (s->cls == NET_CLS_UNAUTH) {
		net_list_del(&n->unauth, s, NET_L_CLS);
		p->unauth--;
	} else if (s->cls == NET_CLS_AGENCY)
		net_list_del(&n->agency[s->agency], s, NET_L_CLS);
	if (cls == NET_CLS_UNAUTH) {
		net_list_add(&n->unauth, s, NET_L_CLS);
		p->unauth++;
	} else if (cls == NET_CLS_AGENCY)
		net_list_add(&n->agency[s->agency], s, NET_L_CLS);
	s->cls = cls;
	net_gauge(s, 0);
}

/* Close s's socket; s lives on without it until its job is back. */
static void
net_drop_fd(struct session *s, int quiet)
{
	if (s->fd == -1)
		return;
	if (close(s->fd) == -1)
		log_warn_errno("close_socket", "fail", "peer: %s", s->peer);
	else if (!quiet)
		log_debug("close_socket", "success", "peer: %s", s->peer);
	s->fd = -1;
	s->events = 0;
}

/* Forget s: off every list, socket closed, freed.  s is not busy. */
static void
net_free(struct net *n, struct session *s)
{
	struct net_peer	*p = s->peer_ent;

	session_release(s);
	net_wait_list(n, s, NET_WL_NONE);
	net_class(n, s, NET_CLS_OPEN);
	net_list_del(&n->all, s, NET_L_ALL);
	net_gauge(s, 1);
	p->total--;
	net_peer_put(n, p);
	net_drop_fd(s, 0);
	/*
	 * Freed after this turn: an event of this epoll_wait may still
	 * name it (a connection evicted to admit another).
	 */
	s->dead = 1;
	s->all.next = n->dead;
	n->dead = s;
}

/* Free the connections that ended this turn. */
static void
net_bury(struct net *n)
{
	struct session	*s;

	while ((s = n->dead) != NULL) {
		n->dead = s->all.next;
		free(s);
	}
}

/*
 * End s: what it queued is still committed; it is freed at once when no
 * job is in flight, else when its job comes back.
 */
static void
net_end(struct net *n, struct session *s)
{
	if (session_finish(s))
		net_free(n, s);
}

/*
 * Evict s to make room: BusyResponse (unless a reply is half written, so
 * the peer never reads a cut frame), then close.
 */
static void
net_evict(struct net *n, struct session *s, const char *why)
{
	log_warn("conexion", "fail", "peer: %s | motivo: %s | retry_ms: %d",
	    s->peer, why, NET_RETRY_MS);
	if (s->fd != -1 && !session_pending_out(s))
		session_busy_reply(s->fd, NET_RETRY_MS);
	net_drop_fd(s, 0);
	/* It no longer counts, even while its job is still in flight. */
	net_class(n, s, NET_CLS_OPEN);
	net_end(n, s);
}

static void
net_note_due(struct net *n, long long t)
{
	if (t < n->next_due)
		n->next_due = t;
}

/*
 * After any call into s: free it when it is done, follow its changes of
 * class (authenticated) and wait (parked), and set what epoll watches.
 */
static void
net_settle(struct net *n, struct session *s, int rc)
{
	struct epoll_event	ev;
	const char		*why;
	uint32_t		want = 0;

	/* Else it ends once its job is back and its replies are out. */
	if (rc == SESSION_CLOSE && session_finish(s)) {
		net_free(n, s);
		return;
	}
	if (s->ending && !s->busy && !session_pending_out(s)) {
		net_free(n, s);
		return;
	}
	if (s->cls == NET_CLS_UNAUTH && s->agency != 0) {
		net_class(n, s, NET_CLS_AGENCY);
		if (n->agency[s->agency].n > NET_PER_AGENCY)
			net_evict(n, n->agency[s->agency].head, "replaced by "
			    "a newer connection of its agency");
	}
	if (s->parked && s->wlist == NET_WL_NONE) {
		net_wait_list(n, s, NET_WL_PARKED);
		if (!n->check_busy)
			n->next_check = 0;	/* look at the file now */
	}
	if (s->fd == -1)
		return;
	if (s->parked)
		want = s->rdhup ? 0 : EPOLLRDHUP;
	else {
		if (!s->eof && !s->ending && session_can_read(s))
			want |= EPOLLIN;
		if (session_pending_out(s))
			want |= EPOLLOUT;
	}
	if (want != s->events) {
		ev.events = want;
		ev.data.ptr = s;
		if (epoll_ctl(n->ep, EPOLL_CTL_MOD, s->fd, &ev) == -1)
			log_warn_errno("epoll", "fail", "peer: %s", s->peer);
		s->events = want;
	}
	net_note_due(n, session_deadline(s, &why));
}

/* A parked connection's socket: gone, or only half closed. */
static void
net_parked_event(struct net *n, struct session *s, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR)) {
		log_debug("consulta_ganadores", "fail", "peer: %s | motivo: "
		    "peer gone while waiting", s->peer);
		net_end(n, s);
		return;
	}
	/* It may still read the answer: keep waiting, not watching. */
	s->rdhup = 1;
	net_settle(n, s, SESSION_OK);
}

static void
net_session_event(struct net *n, struct session *s, uint32_t events)
{
	int	rc = SESSION_OK;

	if (s->parked) {
		net_parked_event(n, s, events);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !s->eof &&
	    session_can_read(s))
		rc = session_input(s);
	if (rc == SESSION_OK && (events & EPOLLOUT) &&
	    (rc = session_output(s)) == SESSION_OK)
		rc = session_serve(s);
	/*
	 * Hung up both ways, and nothing more to read: no reply can reach
	 * it.  Requests in hand are still served, answers dropped.
	 */
	if (rc == SESSION_OK && (events & (EPOLLHUP | EPOLLERR)) &&
	    (s->eof || !session_can_read(s))) {
		net_drop_fd(s, 0);
		rc = session_serve(s);
	}
	net_settle(n, s, rc);
}

/* Room for one more connection from p: evict, or 0 to refuse. */
static int
net_admit(struct net *n, struct net_peer *p, const char *peer)
{
	struct session	*v;

	if (n->keys != NULL && p->unauth >= NET_UNAUTH_ADDR) {
		for (v = n->unauth.head; v->peer_ent != p; v = v->clink.next)
			;
		net_evict(n, v, "too many unauthenticated connections from "
		    "this address");
	} else if (n->keys != NULL && n->unauth.n >= n->unauth_max)
		net_evict(n, n->unauth.head, "too many unauthenticated "
		    "connections");
	if (n->keys == NULL && p->total - 1 - p->parked >=
	    n->cfg->max_conns_per_peer) {
		log_warn("conexion", "fail", "peer: %s | motivo: too many "
		    "connections from this address | max: %d | retry_ms: %d",
		    peer, n->cfg->max_conns_per_peer, NET_RETRY_MS);
		return 0;
	}
	if (n->all.n < n->cfg->max_conns)
		return 1;
	if (n->unauth.head != NULL)
		net_evict(n, n->unauth.head, "replica full, oldest "
		    "unauthenticated connection");
	else if (n->parked.head != NULL)
		net_evict(n, n->parked.head, "replica full, oldest waiter "
		    "for the draw");
	else {
		log_warn("conexion", "fail", "peer: %s | motivo: too many "
		    "connections | max: %d | retry_ms: %d", peer,
		    n->cfg->max_conns, NET_RETRY_MS);
		return 0;
	}
	return 1;
}

/* A new connection fd from peer (host): admitted, or turned away. */
static void
net_start(struct net *n, int fd, const char *peer, const char *host)
{
	struct epoll_event	 ev;
	struct net_peer		*p;
	struct session		*s;

	if ((p = net_peer_get(n, host)) == NULL) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		(void)close(fd);
		return;
	}
	p->total++;	/* held while admitting: evictions may not free it */
	if (!net_admit(n, p, peer)) {
		session_busy_reply(fd, NET_RETRY_MS);
		(void)close(fd);
		p->total--;
		net_peer_put(n, p);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		(void)close(fd);
		p->total--;
		net_peer_put(n, p);
		return;
	}
	s->fd = fd;
	strlcpy(s->peer, peer, sizeof(s->peer));
	strlcpy(s->host, host, sizeof(s->host));
	s->store = n->store;
	s->worker = n->wk;
	s->cfg = n->cfg;
	s->keys = n->keys;
	s->stop = &sig_stop;
	s->stopping = &n->stopping;
	s->peer_ent = p;
	s->events = EPOLLIN;
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		(void)close(fd);
		free(s);
		p->total--;
		net_peer_put(n, p);
		return;
	}
	net_list_add(&n->all, s, NET_L_ALL);
	s->mstate = -1;
	if (n->keys != NULL)
		net_class(n, s, NET_CLS_UNAUTH);
	else
		net_gauge(s, 0);
	session_open(s);
	/*
	 * Most clients send at once: their first request is often here
	 * already, and a waiter parks (and stops counting against its
	 * address) before the next accept.
	 */
	net_session_event(n, s, EPOLLIN);
}

/* No accept until pause_until: the listener is taken out of the set. */
static void
net_pause(struct net *n)
{
	struct epoll_event	ev = { 0, { .ptr = &net_tag_listen } };

	n->pause_until = io_now_ms() + NET_PAUSE_MS;
	if (epoll_ctl(n->ep, EPOLL_CTL_MOD, n->lfd, &ev) == -1)
		log_warn_errno("epoll", "fail", "motivo: pause accept");
}

static void
net_resume(struct net *n)
{
	struct epoll_event	ev = { EPOLLIN, { .ptr = &net_tag_listen } };

	n->pause_until = 0;
	if (n->lfd != -1 && epoll_ctl(n->ep, EPOLL_CTL_MOD, n->lfd, &ev) == -1)
		log_warn_errno("epoll", "fail", "motivo: resume accept");
}

/*
 * The failures of accept, counted and logged at most once a NET_LOG_MS:
 * a listener that stays readable while accept keeps failing must not
 * turn into one log line per attempt.
 */
static void
net_accept_log(struct net *n)
{
	long long	now = io_now_ms();

	if (n->fails == 0 || now - n->logged_at < NET_LOG_MS)
		return;
	log_warn("accept", "fail", "motivo: %s | intentos: %u | "
	    "rechazadas: %u", strerror(n->last_errno), n->fails, n->shed);
	n->logged_at = now;
	n->fails = 0;
	n->shed = 0;
}

/*
 * accept failed.  Out of descriptors (EMFILE, ENFILE), give the spare up
 * for a moment to take the pending connection and close it: its peer
 * learns at once, and the listener is drained instead of staying readable
 * for ever.  When that is not possible, or on any other failure, stop
 * accepting for NET_PAUSE_MS.  Never a busy loop.
 */
static void
net_accept_failed(struct net *n, int lfd, int error)
{
	int	fd = -1;

	n->fails++;
	n->last_errno = error;
	if ((error == EMFILE || error == ENFILE) && n->spare != -1) {
		(void)close(n->spare);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1) {
			(void)close(fd);
			n->shed++;
		}
		n->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd == -1)
		net_pause(n);
	net_accept_log(n);
}

/* "host/port" into dst, the host alone into host[INET6_ADDRSTRLEN]. */
static void
peer_name(const struct sockaddr_storage *ss, char *dst, size_t len,
    char *host)
{
	int	port = 0;

	strlcpy(host, "?", INET6_ADDRSTRLEN);

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, INET6_ADDRSTRLEN);
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, INET6_ADDRSTRLEN);
		port = ntohs(in6->sin6_port);
	}
	snprintf(dst, len, "%s/%d", host, port);
}


/* Take up to NET_ACCEPTS pending connections. */
static void
net_accept(struct net *n)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 peer[64], host[INET6_ADDRSTRLEN];
	int			 fd;

	for (int i = 0; i < NET_ACCEPTS && n->lfd != -1 &&
	    n->pause_until == 0; i++) {
		sslen = sizeof(ss);
		fd = accept4(n->lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				net_accept_failed(n, n->lfd, errno);
			return;
		}
		if (n->spare == -1)	/* descriptors are back: refill */
			n->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		peer_name(&ss, peer, sizeof(peer), host);
		net_start(n, fd, peer, host);
	}
}

/* The store thread's finished jobs, each back to its connection. */
static void
net_completions(struct net *n)
{
	struct worker_job	*j, *next;
	struct session		*s;

	for (j = worker_done(n->wk); j != NULL; j = next) {
		next = j->next;
		if (j == &n->check) {
			n->check_busy = 0;
			continue;
		}
		s = j->owner;
		net_settle(n, s, session_complete(s));
	}
	/* The draw: every waiter is answered, in turn. */
	if (store_drawn(n->store) && n->parked.head != NULL) {
		if (n->drawn_woken == 0)
			n->drawn_at = io_now_ms();
		n->drawn_woken += n->parked.n;
		while (n->parked.head != NULL)
			net_wait_list(n, n->parked.head, NET_WL_WAKE);
	}
}

/*
 * Answer the waiters due (the draw came, their wait ran out, or a stop),
 * as many at once as working areas allow: each takes one only until its
 * page is written.
 */
static void
net_wake(struct net *n)
{
	struct session	*s;
	int		 rc;

	while ((s = n->wake.head) != NULL &&
	    session_pool_busy() < SESSION_WAKE_AREAS) {
		net_wait_list(n, s, NET_WL_NONE);
		rc = n->stopping ? session_unpark(s) : session_wake(s);
		net_settle(n, s, rc);
	}
	if (n->drawn_woken > 0 && n->wake.n == 0) {
		log_info("sorteo_esperas", "success", "esperas: %d | "
		    "despachadas_ms: %lld", n->drawn_woken,
		    io_now_ms() - n->drawn_at);
		n->drawn_woken = 0;
	}
}

/* Every deadline due: waits that ran out, connections timed out. */
static void
net_timers(struct net *n, long long now)
{
	struct session	*s, *next;
	const char	*why;
	long long	 d, min = LLONG_MAX;

	if (now < n->next_due || now < n->last_scan + NET_SCAN_MS)
		return;
	n->last_scan = now;
	for (s = n->all.head; s != NULL; s = next) {
		next = s->all.next;
		if (s->wlist == NET_WL_WAKE)
			continue;
		if ((d = session_deadline(s, &why)) > now) {
			if (d < min)
				min = d;
			continue;
		}
		if (s->parked) {
			net_wait_list(n, s, NET_WL_WAKE);
			continue;
		}
		log_warn("conexion", "fail", "peer: %s | motivo: %s", s->peer,
		    why);
		if (strcmp(why, SESSION_WHY_HANDSHAKE) == 0)
			metrics_handshake_fail(METRICS_HS_TIMEOUT);
		net_drop_fd(s, 0);
		net_end(n, s);
	}
	n->next_due = min;
}

/* While agencies wait for the draw, have the store thread look for it. */
static void
net_draw_tick(struct net *n, long long now)
{
	if (n->parked.n == 0 || n->check_busy || now < n->next_check ||
	    store_drawn(n->store))
		return;
	memset(&n->check, 0, sizeof(n->check));
	n->check.kind = WORKER_DRAW_CHECK;
	n->check_busy = 1;
	worker_submit(n->wk, &n->check);
	n->next_check = now + store_draw_tick_ms(n->store);
}

/*
 * The stop: no more accepts, waiters answered NotReadyResponse, idle
 * connections closed, the others end once what they have in hand is
 * answered (NET_DRAIN_MS at most).
 */
static void
net_begin_stop(struct net *n)
{
	struct session	*s, *next;

	log_info("shutdown", "in_progress", "conexiones: %d | esperando: %d",
	    n->all.n, n->parked.n);
	n->stopping = 1;
	n->stop_deadline = io_now_ms() + NET_DRAIN_MS;
	(void)epoll_ctl(n->ep, EPOLL_CTL_DEL, sig_fd, NULL);
	if (close(n->lfd) == -1)
		log_warn_errno("close_listener", "fail", "");
	else
		log_info("close_listener", "success", "");
	n->lfd = -1;
	while (n->parked.head != NULL)
		net_wait_list(n, n->parked.head, NET_WL_WAKE);
	for (s = n->all.head; s != NULL; s = next) {
		next = s->all.next;
		if (s->wlist != NET_WL_NONE || s->busy)
			continue;
		s->ending = 1;
		net_settle(n, s, session_serve(s));
	}
}

/* Milliseconds epoll_wait may sleep. */
static int
net_timeout(const struct net *n, long long now)
{
	long long	t = n->next_due;

	if (t < n->last_scan + NET_SCAN_MS)
		t = n->last_scan + NET_SCAN_MS;
	if (n->parked.n > 0 && !n->check_busy && n->next_check < t)
		t = n->next_check;
	if (n->pause_until != 0 && n->pause_until < t)
		t = n->pause_until;
	if (n->stopping && n->stop_deadline < t)
		t = n->stop_deadline;
	/* Waiters to answer and areas free (else a completion wakes us). */
	if (n->wake.n > 0 && session_pool_busy() < SESSION_WAKE_AREAS)
		t = now;
	if (t <= now)
		return 0;
	return t - now > 60000 ? 60000 : (int)(t - now);
}

static void
net_event(struct net *n, const struct epoll_event *ev)
{
	void	*tag = ev->data.ptr;

	if (tag == &net_tag_listen)
		net_accept(n);
	else if (tag == &net_tag_sig) {
		if (!n->stopping)
			net_begin_stop(n);
	} else if (tag == &net_tag_worker)
		net_completions(n);
	else if (tag == &net_tag_draw) {
		store_draw_events(n->store);
		n->next_check = 0;
	} else if (!((struct session *)tag)->dead)
		net_session_event(n, tag, ev->events);
}

/* Add fd to the set under tag.  0, or -1 (logged). */
static int
net_watch(struct net *n, int fd, void *tag)
{
	struct epoll_event	ev = { EPOLLIN, { .ptr = tag } };

	if (fd == -1)
		return 0;
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_error_errno("epoll", "fail", "fd: %d", fd);
		return -1;
	}
	return 0;
}

static int
net_init(struct net *n, int lfd, struct store *store,
    const struct config *cfg, const struct keys *keys)
{
	char	why[256];
	int	fl;

	memset(n, 0, sizeof(*n));
	n->lfd = lfd;
	n->store = store;
	n->cfg = cfg;
	n->keys = keys;
	n->next_due = LLONG_MAX;
	n->unauth_max = cfg->max_conns / 4 > 0 ? cfg->max_conns / 4 : 1;
	n->wk = NULL;
	if ((n->spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		log_warn_errno("open_spare", "fail", "path: /dev/null");
	n->agency = calloc((size_t)cfg->agencies + 1, sizeof(*n->agency));
	if (n->agency == NULL ||
	    (n->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_error_errno("serve", "fail", "");
		return -1;
	}
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_error_errno("serve", "fail", "motivo: listener");
		return -1;
	}
	if ((n->wk = worker_start(store, why, sizeof(why))) == NULL) {
		log_error("serve", "fail", "motivo: %s", why);
		return -1;
	}
	if (net_watch(n, lfd, &net_tag_listen) == -1 ||
	    net_watch(n, sig_fd, &net_tag_sig) == -1 ||
	    net_watch(n, worker_fd(n->wk), &net_tag_worker) == -1 ||
	    net_watch(n, store_draw_fd(store), &net_tag_draw) == -1)
		return -1;
	return 0;
}

/* After the loop: the store thread ends its jobs, everything is freed. */
static void
net_fini(struct net *n)
{
	struct session	*s, *next;

	for (s = n->all.head; s != NULL; s = next) {
		next = s->all.next;
		if (s->fd != -1)
			log_info("close_socket", "success", "peer: %s | "
			    "motivo: shutting down", s->peer);
		net_drop_fd(s, 1);
	}
	worker_stop(n->wk);	/* finishes what it was given */
	for (s = n->all.head; s != NULL; s = next) {
		next = s->all.next;
		s->busy = 0;
		net_free(n, s);
	}
	net_bury(n);
	if (n->lfd != -1 && close(n->lfd) == -1)
		log_warn_errno("close_listener", "fail", "");
	if (n->ep > 0)
		(void)close(n->ep);
	if (n->spare != -1)
		(void)close(n->spare);
	free(n->agency);
}

void
net_serve(int lfd, struct store *store, const struct config *cfg,
    const struct keys *keys)
{
	struct epoll_event	 evs[NET_EVENTS];
	struct net		 n;
	long long		 now;
	int			 k;

	if (net_init(&n, lfd, store, cfg, keys) == -1) {
		net_fini(&n);
		return;
	}
	for (;;) {
		now = io_now_ms();
		if (n.stopping && (n.all.n == 0 || now >= n.stop_deadline))
			break;
		worker_flush(n.wk);
		k = epoll_wait(n.ep, evs, NET_EVENTS, net_timeout(&n, now));
		if (k == -1 && errno != EINTR) {
			log_error_errno("epoll", "fail", "");
			break;
		}
		for (int i = 0; i < k; i++)
			net_event(&n, &evs[i]);
		now = io_now_ms();
		if (n.pause_until != 0 && now >= n.pause_until)
			net_resume(&n);
		net_timers(&n, now);
		net_draw_tick(&n, now);
		net_wake(&n);
		net_accept_log(&n);
		net_bury(&n);
	}
	if (!n.stopping)
		log_warn("shutdown", "in_progress", "motivo: event loop failed");
	net_fini(&n);
}
