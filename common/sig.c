/*
 * sig: installs the shared signal policy (see sig.h).
 */
#include <signal.h>
#include <string.h>

#include "sig.h"

volatile sig_atomic_t sig_stop;

static void
sig_on_stop(int sig)
{
	(void)sig;
	sig_stop = 1;
}

int
sig_install(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_on_stop;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}
