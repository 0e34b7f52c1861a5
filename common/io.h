/*
 * io: the only place that loops over short reads and writes and retries
 * EINTR, and the one wait for a readable descriptor.  Everything else in the project reads and writes whole buffers
 * through these two calls.
 */
#ifndef IO_H
#define IO_H

#include <sys/types.h>
#include <sys/uio.h>

#include <signal.h>

/*
 * Read exactly n bytes unless EOF comes first.  Returns the number of bytes
 * read (less than n only at EOF) or -1 with errno set (EAGAIN/EWOULDBLOCK
 * when a socket receive timeout expired).
 */
ssize_t	 io_read_full(int fd, void *buf, size_t n);
/*
 * The same, but the whole read must end before deadline (io_now_ms()
 * time; -1 for none): a peer trickling one byte at a time cannot hold it
 * past that.  -1 with errno ETIMEDOUT when it does not, EINTR when *stop
 * is set first (stop may be NULL).
 */
ssize_t	 io_read_until(int fd, void *buf, size_t n, long long deadline,
	    volatile sig_atomic_t *stop);
/*
 * Wait until fd is readable, the deadline (io_now_ms() time) passes or
 * *stop is set (stop may be NULL): sig_stop wakes the wait through
 * sig_fd, any other flag is looked at every few hundred milliseconds.  1 when readable, 0 on stop, -1 with errno ETIMEDOUT at
 * the deadline or poll's errno.
 */
int	 io_wait(int fd, long long deadline, volatile sig_atomic_t *stop);
/*
 * Read n bytes at offset off (the file offset is not moved).  Returns the
 * number read (less than n only at end of file) or -1 with errno set.
 */
ssize_t	 io_pread_full(int fd, void *buf, size_t n, off_t off);
/* Milliseconds on the monotonic clock. */
long long io_now_ms(void);
/*
 * Write all of iov[0..n) at offset off (the file offset is not moved),
 * going on after short writes; iov is consumed.  0, or -1 with errno set.
 */
int	 io_pwritev_full(int fd, struct iovec *iov, int n, off_t off);
/* Write all n bytes.  Returns 0, or -1 with errno set. */
int	 io_write_full(int fd, const void *buf, size_t n);

#endif
