/*
 * io: whole-buffer reads and writes.  read(2) and write(2) may move fewer
 * bytes than asked (sockets, pipes, signals); this file is the one place
 * that loops until the buffer is done and retries EINTR, so callers never
 * deal with partial transfers.
 */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

long long
io_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define IO_SLICE_MS	200	/* how often a wait looks at the stop flag */

static volatile sig_atomic_t *io_stop;

void
io_set_stop(volatile sig_atomic_t *flag)
{
	io_stop = flag;
}

/*
 * Wait until fd is readable.  -1 with ETIMEDOUT when the deadline passes,
 * with EINTR when the stop flag is raised.
 */
static int
io_wait_readable(int fd, long long deadline)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	long long	left;
	int		n;

	for (;;) {
		if (io_stop != NULL && *io_stop) {
			errno = EINTR;
			return -1;
		}
		if ((left = deadline - io_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, left > IO_SLICE_MS ? IO_SLICE_MS : (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

ssize_t
io_read_full(int fd, void *buf, size_t n)
{
	return io_read_until(fd, buf, n, -1);
}

ssize_t
io_read_until(int fd, void *buf, size_t n, long long deadline)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		if (deadline >= 0 && io_wait_readable(fd, deadline) == -1)
			return -1;
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

ssize_t
io_pread_full(int fd, void *buf, size_t n, off_t off)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		r = pread(fd, p + got, n - got, off + (off_t)got);
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
