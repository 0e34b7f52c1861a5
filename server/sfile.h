/*
 * sfile: one append-only file that replicas share, and how far this
 * replica has indexed it.  It owns the rules that keep that index honest
 * while other processes, operators and the filesystem act on the file:
 * OFD locks with a deadline, noticing that the path names another file
 * (reopen), noticing that the indexed bytes were rewritten (start over),
 * cutting a torn tail only when it really is one, and turning the errors
 * of a broken or remote filesystem into an exit instead of an answer.
 */
#ifndef SFILE_H
#define SFILE_H

#include <sys/types.h>
#include <sys/uio.h>

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "csv.h"

#define SFILE_TAIL	64	/* bytes kept from just before `scanned` */
#define SFILE_IOV_MAX	1024	/* most pieces one sfile_appendv takes */

struct sfile {
	int		 fd;
	const char	*name;		/* file name, for logs */
	char		 path[PATH_MAX];
	dev_t		 dev;		/* what fd is */
	ino_t		 ino;
	uint64_t	 scanned;	/* bytes indexed: always a line boundary */
	uint64_t	 synced;	/* bytes an fdatasync of ours covered */
	char		 tail[SFILE_TAIL]; /* the bytes just before scanned */
	size_t		 taillen;
	struct csv_reader reader;	/* scratch for scans */
	/*
	 * Scratch for sfile_appendv, which the caller serializes: here, not
	 * on the stack, so the threads that lead a group in turn do not
	 * each keep 16 KiB of stack pages.
	 */
	struct iovec	 iov[SFILE_IOV_MAX];
};

/*
 * Called for each whole line of a scan (without its line end, len bytes,
 * NUL-terminated); arg is the caller's.
 */
typedef void	(*sfile_line_fn)(void *arg, char *line, size_t len);

/* Open (creating) dir/name.  0, or -1 with a reason in err. */
int		 sfile_open(struct sfile *, const char *dir, const char *name,
		    char *err, size_t errlen);
void		 sfile_close(struct sfile *);

/*
 * Take the lock (F_RDLCK or F_WRLCK) by deadline (io_now_ms() time)
 * unless *stop is raised first.  Holding it, make sure the path still
 * names the open file (else reopen it and lock that) and that the bytes
 * indexed are still there (else forget the index).  Returns 0, 1 when the
 * caller's index of this file must start over (scanned is 0 again), or -1
 * when the deadline passed or a stop was asked (nothing held).
 */
int		 sfile_lock(struct sfile *, short type, long long deadline,
		    volatile sig_atomic_t *stop);
void		 sfile_unlock(struct sfile *);

/*
 * Index what was appended since the last scan (lock held): fn for each
 * whole new line.
 */
void		 sfile_scan(struct sfile *, sfile_line_fn, void *arg);
/* fn for every whole line from the start (lock held), index untouched. */
void		 sfile_each_line(struct sfile *, sfile_line_fn, void *arg);

/*
 * Append buf as one write at the indexed end and sync it (write lock held,
 * index current).  A torn tail left by a killed writer is cut first.
 * Returns 0, or -1 when the disk is full (the file is cut back: nothing of
 * buf stays) or whole rows lie past the index (nothing written).
 */
int		 sfile_append(struct sfile *, const char *buf, size_t len);
/*
 * Append iov[0..n) (n <= SFILE_IOV_MAX) as one pwritev at the indexed end,
 * without syncing: the caller syncs, after letting the lock go.  Returns
 * as sfile_append.
 */
int		 sfile_appendv(struct sfile *, const struct iovec *iov, int n);
/*
 * fdatasync the file: it covers every row written to it before the call,
 * by this replica or another (it is one file).  Any failure exits: with
 * the lock let go, other rows may follow ours, so nothing can be cut.
 */
void		 sfile_sync(struct sfile *);
/*
 * sfile_sync, unless one of ours already covered every byte indexed (the
 * caller serializes its syncs with its scans): rows before `scanned` are
 * never cut, so a sync that saw them keeps them durable.
 */
void		 sfile_sync_indexed(struct sfile *);

#endif
