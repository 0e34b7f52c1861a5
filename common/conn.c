/*
 * conn: resolves and connects, then moves whole frames through the common
 * proto frame helpers.  SIGPIPE is ignored by the program (main.c), so a
 * write to a closed peer comes back as EPIPE here instead of killing it.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "io.h"

/* Split "host:port" or "[host]:port" into the two buffers.  0 or -1. */
static int
conn_split(const char *address, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*colon, *h = address;
	size_t		 n;

	if ((colon = strrchr(address, ':')) == NULL || colon[1] == '\0')
		return -1;
	n = colon - address;
	if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	strlcpy(port, colon + 1, portlen);
	return 0;
}

/*
 * A socket for ai with its send timeout set, or -1 (errno).  Replies are
 * waited for with a deadline in conn_exchange, so no receive timeout.
 */
static int
conn_socket(const struct addrinfo *ai, int timeout_ms)
{
	struct timeval	 tv;
	int		 fd, one = 1;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1)
		return -1;
	/* SO_SNDTIMEO also bounds connect(2) on Linux. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The i-th entry of a getaddrinfo list (i below its length). */
static const struct addrinfo *
conn_nth(const struct addrinfo *ai, size_t i)
{
	while (i-- > 0)
		ai = ai->ai_next;
	return ai;
}

/* 1 when ai holds the address rot last connected to. */
static int
conn_is_last(const struct conn_rot *rot, const struct addrinfo *ai)
{
	return rot->lastlen != 0 && ai->ai_addrlen == rot->lastlen &&
	    memcmp(ai->ai_addr, &rot->last, rot->lastlen) == 0;
}

/*
 * Where to start in a fresh list of n addresses: just after the one last
 * connected to, wherever the resolver put it this time; rot->next when it
 * is no longer listed.
 */
static size_t
conn_first(const struct conn_rot *rot, const struct addrinfo *res, size_t n)
{
	const struct addrinfo	*ai;
	size_t			 i;

	for (ai = res, i = 0; ai != NULL; ai = ai->ai_next, i++)
		if (conn_is_last(rot, ai))
			return (i + 1) % n;
	return rot->next % n;
}

/* Connect to ai; the descriptor, or -1 with errno. */
static int
conn_try(const struct addrinfo *ai, int timeout_ms)
{
	int	 fd, saved;

	if ((fd = conn_socket(ai, timeout_ms)) == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
conn_reopen(const struct conn_rot *rot, int timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo	 ai;
	int		 fd;

	if (rot->lastlen == 0) {
		snprintf(err, errlen, "no address connected to yet");
		return -1;
	}
	memset(&ai, 0, sizeof(ai));
	ai.ai_family = rot->last.ss_family;
	ai.ai_socktype = SOCK_STREAM;
	ai.ai_addr = (struct sockaddr *)(uintptr_t)&rot->last;
	ai.ai_addrlen = rot->lastlen;
	if ((fd = conn_try(&ai, timeout_ms)) == -1)
		snprintf(err, errlen, "%s", strerror(errno));
	return fd;
}

int
conn_open(struct conn_rot *rot, const char *address, int timeout_ms,
    char *err, size_t errlen)
{
	struct addrinfo		 hints, *res;
	const struct addrinfo	*ai;
	char			 host[256], port[32];
	size_t			 n, i, first;
	int			 fd = -1, gai, saved = 0;

	if (conn_split(address, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "bad address, want host:port");
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "resolve %s: %s", host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	for (n = 0, ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	first = conn_first(rot, res, n);
	/* Every address once, from first on, wrapping round. */
	for (i = 0; i < n && fd == -1; i++) {
		ai = conn_nth(res, (first + i) % n);
		if ((fd = conn_try(ai, timeout_ms)) == -1) {
			saved = errno;
			continue;
		}
		memcpy(&rot->last, ai->ai_addr, ai->ai_addrlen);
		rot->lastlen = ai->ai_addrlen;
		rot->next = (first + i + 1) % n;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s", strerror(saved));
	return fd;
}

int
conn_peer(const struct conn_rot *rot, char *buf, size_t len)
{
	if (rot->lastlen == 0 || getnameinfo((const struct sockaddr *)
	    &rot->last, rot->lastlen, buf, len, NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(buf, len, "?");
		return -1;
	}
	return 0;
}

int
conn_send(int fd, const struct proto_msg *m, char *err, size_t errlen)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len;

	if ((len = proto_encode_msg(frame, m)) == 0) {
		snprintf(err, errlen, "message too long");
		return -1;
	}
	if (proto_write_frame(fd, frame, len) == -1) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

ssize_t
conn_exchange(int fd, const char *frame, size_t len, int timeout_ms,
    volatile sig_atomic_t *stop, char *reply, size_t cap, char *err,
    size_t errlen)
{
	if (conn_send_frame(fd, frame, len, err, errlen) == -1)
		return -1;
	return conn_reply(fd, timeout_ms, stop, reply, cap, err, errlen);
}

int
conn_send_frame(int fd, const char *frame, size_t len, char *err,
    size_t errlen)
{
	if (proto_write_frame(fd, frame, len) == -1) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

ssize_t
conn_reply(int fd, int timeout_ms, volatile sig_atomic_t *stop, char *reply,
    size_t cap, char *err, size_t errlen)
{
	ssize_t	 n;

	n = proto_read_frame_until(fd, reply, cap, io_now_ms() + timeout_ms,
	    stop);
	if (n == 0)
		snprintf(err, errlen, "server closed the connection");
	else if (n == -1)
		snprintf(err, errlen, "receive: %s", errno == ETIMEDOUT ?
		    "timed out" : errno == EINTR ? "stopped" : strerror(errno));
	else if (n < 0)
		snprintf(err, errlen, "bad frame from server");
	return n > 0 ? n : -1;
}

ssize_t
conn_request(int fd, const struct proto_msg *m, int timeout_ms,
    volatile sig_atomic_t *stop, char *reply, size_t cap, char *err,
    size_t errlen)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len;

	if ((len = proto_encode_msg(frame, m)) == 0) {
		snprintf(err, errlen, "message too long");
		return -1;
	}
	return conn_exchange(fd, frame, len, timeout_ms, stop, reply, cap, err,
	    errlen);
}

void
conn_close(int fd)
{
	if (fd != -1)
		close(fd);
}
