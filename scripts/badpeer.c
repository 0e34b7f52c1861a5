/*
 * badpeer: a hostile peer for the client's host tests.  It listens on
 * ip:port and, on each connection in turn, answers the i-th frame it
 * reads with the i-th payload given, byte for byte, whatever the request;
 * past the last payload it hangs up (with -r it repeats the last one
 * instead).  An empty payload sends nothing back, as for AgencyClose.
 * With no payload it hangs up on every first frame: a server
 * that always drops the connection.  Frames are read with the project's
 * own frame reader.
 *
 * usage: badpeer [-r] ip port [payload...]
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <err.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: badpeer [-r] ip port [payload...]\n");
	exit(2);
}

/* A listening socket on ip:port, or exit. */
static int
peer_listen(const char *ip, const char *port)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		errx(1, "%s: not an IPv4 address", ip);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		err(1, "setsockopt");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind %s:%s", ip, port);
	if (listen(fd, 16) == -1)
		err(1, "listen");
	return fd;
}

/* Answer the frames of one connection; returns when it is over. */
static void
peer_serve(int fd, char **payloads, int n, int repeat)
{
	static char	 in[PROTO_PAYLOAD_MAX + 1], out[PROTO_FRAME_MAX];
	const char	*p;
	size_t		 len;
	int		 i;

	for (i = 0;; i++) {
		if (proto_read_frame(fd, in, sizeof(in)) <= 0)
			return;
		if (i >= n && (!repeat || n == 0))
			return;
		p = payloads[i < n ? i : n - 1];
		if (*p == '\0')
			continue;	/* an empty payload: no reply */
		if ((len = strlen(p)) > PROTO_PAYLOAD_MAX)
			return;
		out[0] = (char)(len >> 8);
		out[1] = (char)(len & 0xff);
		memcpy(out + PROTO_HDR_LEN, p, len);
		if (proto_write_frame(fd, out, len + PROTO_HDR_LEN) == -1)
			return;
	}
}

int
main(int argc, char *argv[])
{
	int	 ch, lfd, fd, repeat = 0;

	while ((ch = getopt(argc, argv, "r")) != -1) {
		if (ch != 'r')
			usage();
		repeat = 1;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	lfd = peer_listen(argv[0], argv[1]);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		peer_serve(fd, argv + 2, argc - 2, repeat);
		close(fd);
	}
}
