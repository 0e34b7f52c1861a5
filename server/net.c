/*
 * net: accept loop and connection slots.  The main thread accepts; each
 * connection gets a slot and a thread running session_run.  A thread whose
 * connection ended waits in its slot for the next one instead of exiting:
 * making and ending a thread for each connection (its kernel stack, its
 * stack's pages handed back, every other core told to forget them) cost a
 * replica more than serving a small upload.  Parked threads are ended at
 * shutdown.  Worker threads block SIGTERM and SIGINT so those always wake
 * the accept loop.
 * The loop also owns the descriptor budget: a spare descriptor kept open
 * so that running out of them sheds connections instead of spinning.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "session.h"
#include "sig.h"

/*
 * Descriptors a replica holds besides its connections: stdio, the
 * listener, bets.csv, agencies_closed.txt, the metadata file, the state
 * directory while opening, the spare, and some slack.
 */
#define NET_FDS_OWN	16
#define NET_PAUSE_MS	100	/* out of fds: no accept for this long */
#define NET_LOG_MS	1000	/* one accept failure line at most per */
#define NET_DRAIN_MS	1500	/* at stop, time for replies to go out */
/*
 * A session thread's stack.  Its buffers live in the heap (struct
 * session); the deepest path (a group commit's iovec array, a log line)
 * needs some tens of KiB, so 256 KiB leaves room while a thousand idle
 * connections reserve 256 MiB of address space instead of 8 GiB.
 */
#define NET_STACK	(256 * 1024)

/*
 * FREE: no thread.  BUSY: its thread serves a connection.  DONE: the
 * connection ended, the descriptor is still to be closed.  PARKED: the
 * thread waits on go for the next connection (or quit).
 */
enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DONE, SLOT_PARKED };

struct slot {
	pthread_t	 tid;
	int		 state;		/* enum slot_state, atomic */
	sem_t		 go;		/* posted: a connection, or quit */
	int		 quit;		/* set before go: end the thread */
	struct session	*sess;		/* owned by the slot */
	char		 host[INET6_ADDRSTRLEN]; /* peer, port aside */
};

struct net {
	struct slot	*slots;
	int		 nslots;
	int		 busy;
	int		 spare;		/* /dev/null, freed to shed a peer */
	long long	 pause_until;	/* no accept before (io_now_ms) */
	long long	 logged_at;	/* last accept failure line */
	unsigned	 fails;		/* accept failures since then */
	unsigned	 shed;		/* peers closed unserved since */
	int		 last_errno;
};

/*
 * A slot's state is shared with its thread (which sets SLOT_DONE), so
 * every access goes through these two, never a plain read or write.
 */
static int
slot_state(const struct slot *sl)
{
	return __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
}

static void
slot_set(struct slot *sl, int st)
{
	__atomic_store_n(&sl->state, st, __ATOMIC_RELEASE);
}

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
		snprintf(err, errlen, "MAX_CONNECTIONS %d needs %llu open "
		    "files but the limit (RLIMIT_NOFILE) is %llu: lower "
		    "MAX_CONNECTIONS or raise the limit", cfg->max_conns,
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
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

/* A zeroed session: small, its working memory comes from session.c's pool. */
static struct session *
net_session_new(void)
{
	return calloc(1, sizeof(struct session));
}

static void
net_session_free(struct session *s)
{
	free(s);
}

static void *
net_thread(void *arg)
{
	struct slot	*slot = arg;

	for (;;) {
		session_run(slot->sess);
		slot_set(slot, SLOT_DONE);
		while (sem_wait(&slot->go) == -1)
			;	/* EINTR only */
		if (slot->quit)
			return NULL;
	}
}

/* Every socket is logged on shutdown, quietly otherwise. */
static void
net_close(struct session *sess, int shutting_down)
{
	enum log_level	lvl = shutting_down ? LOG_LVL_INFO : LOG_LVL_DEBUG;

	if (close(sess->fd) == -1)
		log_warn_errno("close_socket", "fail", "peer: %s", sess->peer);
	else
		log_at(lvl, "close_socket", "success", "peer: %s", sess->peer);
}

/*
 * Shut every open connection.  SHUT_RD: a session waiting for a frame
 * sees EOF, one in the middle of a request finishes it and replies.
 * SHUT_RDWR also makes a reply blocked on a peer that stopped reading
 * fail at once.  A connection its peer already closed makes shutdown
 * fail, harmlessly.
 */
static void
net_interrupt(struct net *n, int how)
{
	for (int i = 0; i < n->nslots; i++)
		if (slot_state(&n->slots[i]) == SLOT_BUSY)
			(void)shutdown(n->slots[i].sess->fd, how);
}

/*
 * Close the connections that ended and park their threads; with
 * wait_all (shutdown), first wait for every connection to end, then end
 * every thread.
 */
static void
net_reap(struct net *n, int wait_all)
{
	for (int i = 0; i < n->nslots && n->busy > 0; i++) {
		struct slot	*sl = &n->slots[i];
		int		 st;

		st = slot_state(sl);
		while (wait_all && st == SLOT_BUSY) {
			(void)poll(NULL, 0, 5);
			st = slot_state(sl);
		}
		if (st != SLOT_DONE)
			continue;
		net_close(sl->sess, wait_all);
		slot_set(sl, SLOT_PARKED);
		n->busy--;
	}
	if (!wait_all)
		return;
	for (int i = 0; i < n->nslots; i++) {
		struct slot	*sl = &n->slots[i];

		if (slot_state(sl) != SLOT_PARKED)
			continue;
		sl->quit = 1;
		(void)sem_post(&sl->go);
		(void)pthread_join(sl->tid, NULL); /* fails only on a bad id */
		(void)sem_destroy(&sl->go);
		net_session_free(sl->sess);
		sl->sess = NULL;
		slot_set(sl, SLOT_FREE);
	}
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

/*
 * The send timeout bounds a reply to a peer that stopped reading; reads
 * need none, the session gives every frame a deadline.
 */
static int
net_tune(int fd, int timeout_ms)
{
	struct timeval	tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connections held (slots not yet freed) from host. */
static int
net_count_host(const struct net *n, const char *host)
{
	int	k = 0, st;

	for (int i = 0; i < n->nslots; i++) {
		st = slot_state(&n->slots[i]);
		if ((st == SLOT_BUSY || st == SLOT_DONE) &&
		    strcmp(n->slots[i].host, host) == 0)
			k++;
	}
	return k;
}

/*
 * A thread for the free slot sl, its session set: 0, or -1 with errno
 * (the slot stays free).
 */
static int
net_thread_new(struct slot *sl)
{
	sigset_t	 block, old;
	pthread_attr_t	 attr;
	int		 rc;

	if (sem_init(&sl->go, 0, 0) == -1)
		return -1;
	sl->quit = 0;
	slot_set(sl, SLOT_BUSY);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_attr_init(&attr);
	if (rc == 0 && (rc = pthread_attr_setstacksize(&attr, NET_STACK)) == 0)
		rc = pthread_create(&sl->tid, &attr, net_thread, sl);
	(void)pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		(void)sem_destroy(&sl->go);
		slot_set(sl, SLOT_FREE);
		errno = rc;
		return -1;
	}
	return 0;
}

static void
net_start(struct net *n, int fd, const char *peer, const char *host,
    struct store *store, const struct config *cfg, const struct keys *keys,
    volatile sig_atomic_t *stop)
{
	struct slot	*sl = NULL;

	if (net_count_host(n, host) >= cfg->max_conns_per_peer) {
		log_warn("conexion", "fail", "peer: %s | motivo: too many "
		    "connections from this address | max: %d", peer,
		    cfg->max_conns_per_peer);
		close(fd);
		return;
	}
	/* A parked thread first: no thread to make. */
	for (int i = 0; i < n->nslots && sl == NULL; i++)
		if (slot_state(&n->slots[i]) == SLOT_PARKED)
			sl = &n->slots[i];
	for (int i = 0; i < n->nslots && sl == NULL; i++)
		if (slot_state(&n->slots[i]) == SLOT_FREE)
			sl = &n->slots[i];
	if (sl == NULL) {
		log_warn("conexion", "fail", "peer: %s | motivo: too many "
		    "connections | max: %d", peer, cfg->max_conns);
		close(fd);
		return;
	}
	if (net_tune(fd, cfg->conn_timeout_ms) == -1 ||
	    (sl->sess == NULL && (sl->sess = net_session_new()) == NULL)) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		close(fd);
		return;
	}
	/* Zeroed: a fresh session starts unauthenticated. */
	memset(sl->sess, 0, sizeof(*sl->sess));
	sl->sess->fd = fd;
	strlcpy(sl->sess->peer, peer, sizeof(sl->sess->peer));
	strlcpy(sl->sess->host, host, sizeof(sl->sess->host));
	sl->sess->store = store;
	sl->sess->cfg = cfg;
	sl->sess->keys = keys;
	sl->sess->stop = stop;
	strlcpy(sl->host, host, sizeof(sl->host));
	if (slot_state(sl) == SLOT_PARKED) {
		slot_set(sl, SLOT_BUSY);
		(void)sem_post(&sl->go);
		n->busy++;
		return;
	}
	if (net_thread_new(sl) == -1) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		close(fd);
		net_session_free(sl->sess);
		sl->sess = NULL;
		return;
	}
	n->busy++;
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
		n->pause_until = io_now_ms() + NET_PAUSE_MS;
	net_accept_log(n);
}

/*
 * Wait for a connection: 1 when the listener is readable, 0 otherwise
 * (timeout, a signal, or a pause after running out of descriptors).
 */
static int
net_wait(struct net *n, int lfd)
{
	struct pollfd	pfd = { lfd, POLLIN, 0 };
	long long	left = n->pause_until - io_now_ms();

	if (left > 0) {
		/* EINTR here is a stop signal: the caller sees the flag. */
		(void)poll(NULL, 0, (int)left);
		return 0;
	}
	return poll(&pfd, 1, 500) > 0;
}

/*
 * Let the sessions finish: shut the read side, give replies in flight
 * NET_DRAIN_MS to go out, then shut the rest so no write to a peer that
 * stopped reading holds the stop up, and join every thread.
 */
static void
net_drain(struct net *n)
{
	long long	deadline = io_now_ms() + NET_DRAIN_MS;

	net_interrupt(n, SHUT_RD);
	for (;;) {
		net_reap(n, 0);
		if (n->busy == 0 || io_now_ms() >= deadline)
			break;
		(void)poll(NULL, 0, 20);
	}
	net_interrupt(n, SHUT_RDWR);
	net_reap(n, 1);
}

void
net_serve(int lfd, struct store *store, const struct config *cfg,
    const struct keys *keys, volatile sig_atomic_t *stop)
{
	struct net		 n;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 peer[64], host[INET6_ADDRSTRLEN];
	int			 fd;

	memset(&n, 0, sizeof(n));
	n.nslots = cfg->max_conns;
	if ((n.spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		log_warn_errno("open_spare", "fail", "path: /dev/null");
	if ((n.slots = calloc((size_t)n.nslots, sizeof(*n.slots))) == NULL) {
		log_error_errno("serve", "fail", "");
		goto out;
	}
	while (!sig_stopped(stop)) {
		net_reap(&n, 0);
		net_accept_log(&n);
		if (!net_wait(&n, lfd))
			continue;
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				net_accept_failed(&n, lfd, errno);
			continue;
		}
		if (n.spare == -1)	/* descriptors are back: refill */
			n.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		peer_name(&ss, peer, sizeof(peer), host);
		net_start(&n, fd, peer, host, store, cfg, keys, stop);
	}
out:
	if (close(lfd) == -1)
		log_warn_errno("close_listener", "fail", "");
	else
		log_info("close_listener", "success", "");
	if (n.slots != NULL)
		net_drain(&n);
	if (n.spare != -1)
		(void)close(n.spare);
	free(n.slots);
}
