/*
 * sig: installs the shared signal policy (see sig.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sig.h"

volatile sig_atomic_t sig_stop;
int sig_fd = -1;
static int sig_wfd = -1;	/* the pipe's other end, for the handler */

static void
sig_on_stop(int sig)
{
	int	saved = errno;

	(void)sig;
	/* Atomic: the replica's store thread reads it while this runs. */
	__atomic_store_n(&sig_stop, 1, __ATOMIC_RELAXED);
	/* Full (a stop already noted) or failed: readable either way. */
	(void)!write(sig_wfd, "", 1);
	errno = saved;
}

int
sig_install(void)
{
	struct sigaction	sa;

	if (sig_fd == -1) {
		int	p[2];

		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
			return -1;
		sig_fd = p[0];
		sig_wfd = p[1];
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_on_stop;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}
