/*
 * lockcheck: checks that open-file-description locks work on a file the
 * way the replicas rely on them, for a test to run before it trusts a
 * filesystem (a FUSE mount, a network share).
 *
 *   lockcheck FILE
 *
 * Opens FILE twice (two open file descriptions), write-locks it through
 * the first with F_OFD_SETLK and checks that the second is refused, that
 * F_OFD_GETLK sees the holder, and that after the unlock F_OFD_SETLKW
 * through the second succeeds.  Exit 0 when all hold, 1 otherwise with the
 * step that failed on stderr.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int
lockcheck_set(int fd, int cmd, short type)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, cmd, &fl);
}

int
main(int argc, char *argv[])
{
	struct flock	fl;
	int		a, b;

	if (argc != 2)
		errx(2, "usage: lockcheck FILE");
	if ((a = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 ||
	    (b = open(argv[1], O_RDWR | O_CLOEXEC)) == -1)
		err(1, "open %s", argv[1]);
	if (lockcheck_set(a, F_OFD_SETLKW, F_WRLCK) == -1)
		err(1, "F_OFD_SETLKW write lock");
	if (lockcheck_set(b, F_OFD_SETLK, F_WRLCK) != -1)
		errx(1, "a second open file description took a held lock");
	if (errno != EAGAIN && errno != EACCES)
		err(1, "F_OFD_SETLK on the held lock");
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(b, F_OFD_GETLK, &fl) == -1)
		err(1, "F_OFD_GETLK");
	if (fl.l_type != F_WRLCK)
		errx(1, "F_OFD_GETLK does not see the held write lock");
	/* Closing another descriptor must not drop an OFD lock. */
	if (close(dup(a)) == -1)
		err(1, "close");
	if (lockcheck_set(b, F_OFD_SETLK, F_WRLCK) != -1)
		errx(1, "closing a duplicate descriptor dropped the lock");
	if (lockcheck_set(a, F_OFD_SETLK, F_UNLCK) == -1)
		err(1, "F_OFD_SETLK unlock");
	if (lockcheck_set(b, F_OFD_SETLKW, F_WRLCK) == -1)
		err(1, "F_OFD_SETLKW after the unlock");
	return 0;
}
