/*
 * conn: the client's TCP connection to the server and one
 * request/response exchange over it.  Helpers only: they return a code and
 * fill an error string, and never log.
 */
#ifndef CONN_H
#define CONN_H

#include <sys/types.h>
#include <sys/socket.h>

#include <signal.h>
#include <stddef.h>

#include "proto.h"

/*
 * Where the rotation over the server's addresses stands.  Zeroed before
 * the first connect; conn_open keeps it.
 */
struct conn_rot {
	struct sockaddr_storage	 last;		/* address last connected to */
	socklen_t		 lastlen;	/* 0: none yet */
	size_t			 next;		/* start here if last is gone */
};

/*
 * Connect to "host:port" ("[v6addr]:port" too).  The name is resolved on
 * every call, and its addresses are tried in turn starting with the one
 * after the address rot last connected to, so a caller that reconnects
 * after a failure moves on to the next replica instead of the same one.
 * The socket is close-on-exec and its send timeout (which also bounds
 * connect) is timeout_ms.  Returns the descriptor, or -1 with a reason in
 * err.
 */
int	 conn_open(struct conn_rot *rot, const char *address, int timeout_ms,
	    char *err, size_t errlen);
/*
 * Connect again to the very address rot last connected to, without
 * resolving or moving the rotation on: for a question that must reach the
 * same server as the last connection.  The descriptor, or -1 with err.
 */
int	 conn_reopen(const struct conn_rot *rot, int timeout_ms, char *err,
	    size_t errlen);
/* The numeric address rot last connected to into buf.  0, or -1 ("?"). */
int	 conn_peer(const struct conn_rot *rot, char *buf, size_t len);
/* Send one request that gets no reply.  0, or -1 with err. */
int	 conn_send(int fd, const struct proto_msg *, char *err, size_t errlen);
/*
 * Send a frame already encoded and read the reply payload into reply
 * (cap >= PROTO_PAYLOAD_MAX + 1, NUL-terminated), which must arrive whole
 * within timeout_ms.  Returns the payload length, or -1 with err (I/O
 * error, timeout, peer closed, bad frame, or *stop set: stop may be NULL).
 */
ssize_t	 conn_exchange(int fd, const char *frame, size_t len, int timeout_ms,
	    volatile sig_atomic_t *stop, char *reply, size_t cap, char *err,
	    size_t errlen);
/* The two halves of conn_exchange, for requests sent ahead of replies. */
int	 conn_send_frame(int fd, const char *frame, size_t len, char *err,
	    size_t errlen);
ssize_t	 conn_reply(int fd, int timeout_ms, volatile sig_atomic_t *stop,
	    char *reply, size_t cap, char *err, size_t errlen);
/* conn_send of a request that does get a reply, then its reply. */
ssize_t	 conn_request(int fd, const struct proto_msg *, int timeout_ms,
	    volatile sig_atomic_t *stop, char *reply, size_t cap, char *err,
	    size_t errlen);
void	 conn_close(int fd);

#endif
