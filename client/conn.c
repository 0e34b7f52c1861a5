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

int
conn_open(const char *address, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[256], port[32];
	int		 fd = -1, gai, saved = 0;

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
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = conn_socket(ai, timeout_ms)) == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s", strerror(saved));
	return fd;
}

int
conn_send(int fd, enum proto_type type, const char *body, char *err,
    size_t errlen)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len;

	if ((len = proto_encode(frame, type, body, strlen(body))) == 0) {
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
    char *reply, size_t cap, char *err, size_t errlen)
{
	ssize_t	 n;

	if (proto_write_frame(fd, frame, len) == -1) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
	n = proto_read_frame_until(fd, reply, cap, io_now_ms() + timeout_ms);
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
conn_request(int fd, enum proto_type type, const char *body, int timeout_ms,
    char *reply, size_t cap, char *err, size_t errlen)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len;

	if ((len = proto_encode(frame, type, body, strlen(body))) == 0) {
		snprintf(err, errlen, "message too long");
		return -1;
	}
	return conn_exchange(fd, frame, len, timeout_ms, reply, cap, err,
	    errlen);
}

void
conn_close(int fd)
{
	if (fd != -1)
		close(fd);
}
