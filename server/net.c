/*
 * net: accept loop and connection slots.  The main thread accepts; each
 * connection gets a slot and a thread running session_run.  Finished
 * threads are joined by the accept loop, all of them at shutdown.  Worker
 * threads block SIGTERM and SIGINT so those always wake the accept loop.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "session.h"

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

struct slot {
	pthread_t	 tid;
	int		 state;		/* enum slot_state, atomic */
	struct session	*sess;		/* owned by the slot */
};

struct net {
	struct slot	*slots;
	int		 nslots;
	int		 busy;
};

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

static void *
net_thread(void *arg)
{
	struct slot	*slot = arg;

	session_run(slot->sess);
	__atomic_store_n(&slot->state, SLOT_DONE, __ATOMIC_RELEASE);
	return NULL;
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
 * Stop reading on every open connection: a session waiting for a frame
 * sees EOF, one in the middle of a request finishes it and replies.  A
 * connection its peer already closed makes shutdown fail, harmlessly.
 */
static void
net_interrupt(struct net *n)
{
	for (int i = 0; i < n->nslots; i++)
		if (__atomic_load_n(&n->slots[i].state, __ATOMIC_ACQUIRE) ==
		    SLOT_BUSY)
			(void)shutdown(n->slots[i].sess->fd, SHUT_RD);
}

/* Join finished threads; with wait_all, every thread. */
static void
net_reap(struct net *n, int wait_all)
{
	for (int i = 0; i < n->nslots && n->busy > 0; i++) {
		struct slot	*sl = &n->slots[i];
		int		 st;

		st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_FREE || (st == SLOT_BUSY && !wait_all))
			continue;
		(void)pthread_join(sl->tid, NULL);	/* fails only on a bad id */
		net_close(sl->sess, wait_all);
		free(sl->sess);
		sl->sess = NULL;
		sl->state = SLOT_FREE;
		n->busy--;
	}
}

static void
peer_name(const struct sockaddr_storage *ss, char *dst, size_t len)
{
	char	host[INET6_ADDRSTRLEN] = "?";
	int	port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
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

static void
net_start(struct net *n, int fd, const char *peer, struct store *store,
    const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct slot	*sl = NULL;
	sigset_t	 block, old;
	int		 rc;

	for (int i = 0; i < n->nslots && sl == NULL; i++)
		if (n->slots[i].state == SLOT_FREE)
			sl = &n->slots[i];
	if (sl == NULL) {
		log_warn("conexion", "fail", "peer: %s | motivo: too many "
		    "connections | max: %d", peer, cfg->max_conns);
		close(fd);
		return;
	}
	if (net_tune(fd, cfg->conn_timeout_ms) == -1 ||
	    (sl->sess = malloc(sizeof(*sl->sess))) == NULL) {
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		close(fd);
		return;
	}
	sl->sess->fd = fd;
	strlcpy(sl->sess->peer, peer, sizeof(sl->sess->peer));
	sl->sess->store = store;
	sl->sess->cfg = cfg;
	sl->sess->stop = stop;
	sl->state = SLOT_BUSY;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&sl->tid, NULL, net_thread, sl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn_errno("conexion", "fail", "peer: %s", peer);
		close(fd);
		free(sl->sess);
		sl->sess = NULL;
		sl->state = SLOT_FREE;
		return;
	}
	n->busy++;
}

void
net_serve(int lfd, struct store *store, const struct config *cfg,
    volatile sig_atomic_t *stop)
{
	struct net		 n = { NULL, cfg->max_conns, 0 };
	struct pollfd		 pfd = { lfd, POLLIN, 0 };
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 peer[64];
	int			 fd;

	if ((n.slots = calloc((size_t)n.nslots, sizeof(*n.slots))) == NULL) {
		log_error_errno("serve", "fail", "");
		goto out;
	}
	while (!*stop) {
		net_reap(&n, 0);
		if (poll(&pfd, 1, 500) <= 0)
			continue;	/* timeout, or EINTR from a signal */
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				log_warn_errno("accept", "fail", "");
			continue;
		}
		peer_name(&ss, peer, sizeof(peer));
		net_start(&n, fd, peer, store, cfg, stop);
	}
out:
	if (close(lfd) == -1)
		log_warn_errno("close_listener", "fail", "");
	else
		log_info("close_listener", "success", "");
	if (n.slots != NULL) {
		net_interrupt(&n);
		net_reap(&n, 1);
	}
	free(n.slots);
}
