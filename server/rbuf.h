/*
 * rbuf: a connection's read buffer.  Frames are cut out of it, so one
 * recv brings in as many pipelined requests as the socket holds and a
 * session serves them as one group, instead of two reads per frame.
 */
#ifndef RBUF_H
#define RBUF_H

#include <sys/types.h>

#include <stddef.h>

#include "proto.h"

/* Two whole frames fit, so a frame never waits on the one before it. */
#define RBUF_SIZE	(2 * PROTO_FRAME_MAX)

struct rbuf {
	size_t	 start, end;		/* unread bytes: buf[start..end) */
	char	 buf[RBUF_SIZE];
};

/*
 * The next whole frame's payload into payload (cap >= PROTO_PAYLOAD_MAX +
 * 1, NUL-terminated), its length into *len: 1.  0 when no whole frame is
 * buffered yet; -2 when the length header is bad.
 */
int	 rbuf_take(struct rbuf *, char *payload, size_t cap, size_t *len);
/*
 * One recv (flags: 0, or MSG_DONTWAIT) into the free space.  Bytes read,
 * 0 when the peer closed, -1 with errno (EAGAIN: nothing there yet).
 */
ssize_t	 rbuf_recv(struct rbuf *, int fd, int flags);
/* 1 when part of a frame is buffered. */
int	 rbuf_partial(const struct rbuf *);

#endif
