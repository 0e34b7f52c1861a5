/*
 * io: whole-buffer reads and writes.  read(2) and write(2) may move fewer
 * bytes than asked (sockets, pipes, signals); this file is the one place
 * that loops until the buffer is done and retries EINTR, so callers never
 * deal with partial transfers.
 */
#include <errno.h>
#include <unistd.h>

#include "io.h"

ssize_t
io_read_full(int fd, void *buf, size_t n)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
io_write_full(int fd, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}
