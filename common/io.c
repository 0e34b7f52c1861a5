/*
 * io: whole-buffer reads and writes.  read(2) and write(2) may move fewer
 * bytes than asked (sockets, pipes, signals); this file is the one place
 * that loops until the buffer is done and retries EINTR, so callers never
 * deal with partial transfers.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "sig.h"

long long
io_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * How often a wait looks at a stop flag that nothing else announces: a
 * flag other than sig_stop, or sig_stop before sig_install.  sig_stop
 * itself is announced by sig_fd, watched beside fd.
 */
#define IO_SLICE_MS	200

int
io_wait(int fd, long long deadline, volatile sig_atomic_t *stop)
{
	struct pollfd	pfd[2] = { { fd, POLLIN, 0 }, { sig_fd, POLLIN, 0 } };
	int		watch = stop == &sig_stop && sig_fd != -1;
	long long	left;
	int		n;

	for (;;) {
		if (sig_stopped(stop))
			return 0;
		if ((left = deadline - io_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (!watch && left > IO_SLICE_MS)
			left = IO_SLICE_MS;
		if (left > INT_MAX)
			left = INT_MAX;
		n = poll(pfd, watch ? 2 : 1, (int)left);
		if (n > 0 && pfd[0].revents != 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

ssize_t
io_read_full(int fd, void *buf, size_t n)
{
	return io_read_until(fd, buf, n, -1, NULL);
}

/*
 * The one read loop: n bytes from fd, at its offset (off < 0) or at off,
 * each read waited for by deadline (< 0: none) unless *stop is raised.
 */
static ssize_t
io_read_loop(int fd, char *p, size_t n, off_t off, long long deadline,
    volatile sig_atomic_t *stop)
{
	size_t	 got = 0;
	ssize_t	 r;
	int	 w;

	while (got < n) {
		if (deadline >= 0 && (w = io_wait(fd, deadline, stop)) != 1) {
			if (w == 0)
				errno = EINTR;	/* a stop was asked */
			return -1;
		}
		r = off < 0 ? read(fd, p + got, n - got) :
		    pread(fd, p + got, n - got, off + (off_t)got);
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
io_read_until(int fd, void *buf, size_t n, long long deadline,
    volatile sig_atomic_t *stop)
{
	return io_read_loop(fd, buf, n, -1, deadline, stop);
}

ssize_t
io_pread_full(int fd, void *buf, size_t n, off_t off)
{
	return io_read_loop(fd, buf, n, off, -1, NULL);
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

int
io_pwritev_full(int fd, struct iovec *iov, int n, off_t off)
{
	ssize_t	w;

	while (n > 0) {
		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		w = pwritev(fd, iov, n > IOV_MAX ? IOV_MAX : n, off);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += w;
		/* A short write: skip what went out, part of one entry too. */
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}
