/*
 * rbuf: frames out of a buffered socket (see rbuf.h).
 */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "rbuf.h"

int
rbuf_take(struct rbuf *r, char *payload, size_t cap, size_t *len)
{
	const unsigned char	*p = (const unsigned char *)r->buf + r->start;
	size_t			 have = r->end - r->start, plen;

	if (have < PROTO_HDR_LEN)
		return 0;
	plen = ((size_t)p[0] << 8) | p[1];
	if (plen == 0 || plen > PROTO_PAYLOAD_MAX || plen + 1 > cap)
		return -2;
	if (have < PROTO_HDR_LEN + plen)
		return 0;
	memcpy(payload, p + PROTO_HDR_LEN, plen);
	payload[plen] = '\0';
	*len = plen;
	r->start += PROTO_HDR_LEN + plen;
	if (r->start == r->end)
		r->start = r->end = 0;
	return 1;
}

ssize_t
rbuf_recv(struct rbuf *r, int fd, int flags)
{
	ssize_t	n;

	/* Keep the unread part at the front: a whole frame always fits. */
	if (r->start > 0 && r->end > RBUF_SIZE - PROTO_FRAME_MAX) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	do
		n = recv(fd, r->buf + r->end, RBUF_SIZE - r->end, flags);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		r->end += (size_t)n;
	return n;
}

int
rbuf_partial(const struct rbuf *r)
{
	return r->end > r->start;
}
