/*
 * conn: the client's TCP connection to the server and one
 * request/response exchange over it.  Helpers only: they return a code and
 * fill an error string, and never log.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

/*
 * Connect to "host:port" ("[v6addr]:port" too), trying every address the
 * name resolves to.  The socket is close-on-exec and its send timeout
 * (which also bounds connect) is timeout_ms.  Returns the descriptor, or -1 with a reason in
 * err.
 */
int	 conn_open(const char *address, int timeout_ms, char *err,
	    size_t errlen);
/* Send one payload "Type:body" that gets no reply.  0, or -1 with err. */
int	 conn_send(int fd, enum proto_type, const char *body, char *err,
	    size_t errlen);
/*
 * Send a frame already encoded and read the reply payload into reply
 * (cap >= PROTO_PAYLOAD_MAX + 1, NUL-terminated), which must arrive whole
 * within timeout_ms.  Returns the payload length, or -1 with err (I/O
 * error, timeout, peer closed, bad frame, or a stop asked through
 * io_set_stop).
 */
ssize_t	 conn_exchange(int fd, const char *frame, size_t len, int timeout_ms,
	    char *reply, size_t cap, char *err, size_t errlen);
/* conn_send of a request that does get a reply, then its reply. */
ssize_t	 conn_request(int fd, enum proto_type, const char *body,
	    int timeout_ms, char *reply, size_t cap, char *err, size_t errlen);
void	 conn_close(int fd);

#endif
