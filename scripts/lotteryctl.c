/*
 * lotteryctl: speaks the wire protocol to one replica from the command
 * line, for operators, the tests and the container health check.  It is a
 * thin layer over the project's own modules: conn connects (the same
 * address rotation as the client), proto encodes and reads frames.  Each
 * subcommand opens one connection, does its exchange and exits with one of
 * the CTL_* statuses below, which the usage text lists.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "io.h"
#include "num.h"
#include "proto.h"

enum {
	CTL_OK,			/* done, the reply was the expected one */
	CTL_REFUSED,		/* refused, or an unexpected reply */
	CTL_USAGE,		/* bad command line */
	CTL_CONN,		/* no connection, lost it, or timed out */
	CTL_NOT_READY,		/* winners asked before the draw */
	CTL_BUSY		/* the replica asked for a wait */
};

#define CTL_CLOSED	"<closed>"

static const char	*ctl_address = "127.0.0.1:12345";
static const char	*ctl_source;		/* -b: bind here first */
static int		 ctl_timeout_ms = 5000;	/* -t */
static int		 ctl_wait_ms;		/* -w: pause between payloads */
static int		 ctl_no_reply;		/* -n: raw does not wait */
static uint32_t		 ctl_id;		/* -i: authenticate as */
static int		 ctl_has_key;		/* -k given */
static uint8_t		 ctl_key[AUTH_KEY_LEN];	/* -k: the agency's key */
static char		 ctl_reply[PROTO_PAYLOAD_MAX + 1];

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
	    "usage: lotteryctl [-n] [-a host:port] [-b source] [-t seconds]"
	    " [-w seconds]\n"
	    "                  [-i agency -k keyfile] command\n"
	    "  -i -k: every connection first authenticates as the agency\n"
	    "  echo [TEXT]            Echo; succeeds when it comes back\n"
	    "  status AGENCY          print stored;closed\n"
	    "  close AGENCY           AgencyClose, then print its status\n"
	    "  winners AGENCY         every winner's document, one a line\n"
	    "  send PAYLOAD...        one reply a line, " CTL_CLOSED
	    " when hung up\n"
	    "  pipe N PAYLOAD...      send all, then print N replies\n"
	    "  post PAYLOAD...        send and hang up without reading\n"
	    "  raw BYTES              bytes with \\xHH \\\\ \\n escapes; -n: no"
	    " reply\n"
	    "  hold SECONDS [COUNT]   hold COUNT idle connections\n"
	    "  trickle SECONDS PAYLOAD one byte of the frame every SECONDS\n"
	    "  flood SECONDS PAYLOAD  send the frame without reading, for"
	    " SECONDS\n"
	    "  waiters COUNT AGENCIES SECONDS  COUNT WinnersWait connections"
	    " (agencies\n"
	    "                         1..AGENCIES in turn), each waiting up to"
	    " SECONDS;\n"
	    "                         prints 'sent COUNT', then the answers"
	    " by kind\n"
	    "  auth [COUNT]           COUNT connections with a handshake (-i -k),"
	    " then COUNT\n"
	    "                         with an Echo; the last exchange, time "
	    "each took\n"
	    "exit: 0 ok, 1 refused or unexpected reply, 2 usage, 3 connection"
	    " failed, lost or timed out, 4 winners not drawn yet,\n"
	    "      5 busy (BusyResponse: try again after the time printed)\n");
	exit(CTL_USAGE);
}

/* Seconds ("0.5", "30") as milliseconds, or a usage error. */
static int
ctl_ms(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 86400))
		usage();
	return (int)(v * 1000);
}

/* A count from 0 to max, or a usage error. */
static int
ctl_count(const char *s, int max)
{
	uint64_t	n;

	if (num_parse(s, 0, (uint64_t)max, &n, NULL) == -1)
		usage();
	return (int)n;
}

/* A socket with ctl_timeout_ms as its send (and connect) timeout. */
static int
ctl_socket(int family)
{
	struct timeval	 tv;
	int		 fd;

	tv.tv_sec = ctl_timeout_ms / 1000;
	tv.tv_usec = (ctl_timeout_ms % 1000) * 1000;
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(CTL_CONN, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		err(CTL_CONN, "setsockopt");
	return fd;
}

/*
 * -b: conn_open cannot choose the source address, so this connects to the
 * first address of host:port from a socket bound to the numeric source.
 */
static int
ctl_connect_from(void)
{
	struct addrinfo	 hints, *dst, *src;
	char		 host[256];
	const char	*port = strrchr(ctl_address, ':'), *h = ctl_address;
	size_t		 n = port == NULL ? 0 : (size_t)(port - ctl_address);
	int		 fd, gai;

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		errx(CTL_USAGE, "%s: want host:port", ctl_address);
	memcpy(host, h, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port + 1, &hints, &dst)) != 0)
		errx(CTL_CONN, "resolve %s: %s", host, gai_strerror(gai));
	hints.ai_family = dst->ai_family;
	hints.ai_flags = AI_NUMERICHOST;
	if ((gai = getaddrinfo(ctl_source, NULL, &hints, &src)) != 0)
		errx(CTL_USAGE, "source %s: %s", ctl_source, gai_strerror(gai));
	fd = ctl_socket(dst->ai_family);
	if (bind(fd, src->ai_addr, src->ai_addrlen) == -1)
		err(CTL_CONN, "bind %s", ctl_source);
	if (connect(fd, dst->ai_addr, dst->ai_addrlen) == -1)
		err(CTL_CONN, "connect %s", ctl_address);
	freeaddrinfo(src);
	freeaddrinfo(dst);
	return fd;
}

/* A connection to ctl_address, or exit CTL_CONN. */
static int
ctl_dial(void)
{
	struct conn_rot	 rot;
	char		 e[256];
	int		 fd;

	if (ctl_source != NULL)
		return ctl_connect_from();
	memset(&rot, 0, sizeof(rot));
	if ((fd = conn_open(&rot, ctl_address, ctl_timeout_ms, e,
	    sizeof(e))) == -1)
		errx(CTL_CONN, "connect %s: %s", ctl_address, e);
	return fd;
}

/*
 * Frame a payload given whole ("Type:body", or anything a test wants the
 * server to see, hence no proto_encode).  The frame length, 0 when empty
 * or too long.
 */
static size_t
ctl_frame(char out[PROTO_FRAME_MAX], const char *payload)
{
	size_t	 len = strlen(payload);

	if (len == 0 || len > PROTO_PAYLOAD_MAX)
		return 0;
	out[0] = (char)(len >> 8);
	out[1] = (char)(len & 0xff);
	memcpy(out + PROTO_HDR_LEN, payload, len);
	return len + PROTO_HDR_LEN;
}

/* The next reply into ctl_reply within the timeout; its length or -1. */
static ssize_t
ctl_read(int fd)
{
	ssize_t	 n;

	n = proto_read_frame_until(fd, ctl_reply, sizeof(ctl_reply),
	    io_now_ms() + ctl_timeout_ms, NULL);
	return n > 0 ? n : -1;
}

/* Print a reply (or CTL_CLOSED for none) on its own line. */
static int
ctl_print(ssize_t n)
{
	if (n < 0) {
		puts(CTL_CLOSED);
		return CTL_CONN;
	}
	fwrite(ctl_reply, 1, (size_t)n, stdout);
	putchar('\n');
	return CTL_OK;
}

/*
 * Send the request m and decode its reply into *r (strings point into a
 * static copy of ctl_reply).  The decoder's result, 0 or -1 with e; exits
 * CTL_CONN when no reply came.
 */
static int
ctl_ask(int fd, const struct proto_msg *m, struct proto_msg *r, char *e,
    size_t elen)
{
	static char	 rbuf[PROTO_PAYLOAD_MAX + 1];
	char		 frame[PROTO_FRAME_MAX];
	size_t		 len;
	ssize_t		 n;

	if ((len = proto_encode_msg(frame, m)) == 0)
		errx(CTL_USAGE, "request too long");
	if ((n = conn_exchange(fd, frame, len, ctl_timeout_ms, NULL, ctl_reply,
	    sizeof(ctl_reply), e, elen)) == -1)
		errx(CTL_CONN, "%s: %s", proto_type_name(m->type), e);
	memcpy(rbuf, ctl_reply, (size_t)n + 1);
	return proto_decode(rbuf, (size_t)n, r, NULL, 0, e, elen);
}

/*
 * Go on when the reply r (decoded with result rc) is of type want, else
 * exit: CTL_NOT_READY for NotReadyResponse, CTL_REFUSED for any other
 * reply or one that does not parse.
 */
static void
ctl_expect(int rc, const struct proto_msg *r, enum proto_type want,
    const char *e)
{
	if (rc == 0 && r->type == want)
		return;
	if (rc == 0 && r->type == PROTO_NOT_READY)
		errx(CTL_NOT_READY, "not ready: the draw has not been held");
	if (rc == 0 && r->type == PROTO_BUSY)
		errx(CTL_BUSY, "busy: the replica asks to retry in %u ms",
		    (unsigned)r->wait_ms);
	if (rc == 0 && r->type == PROTO_AUTH_REFUSED)
		errx(CTL_REFUSED, "handshake refused for good: %.*s",
		    (int)r->textlen, r->text);
	errx(CTL_REFUSED, "reply '%s'%s%s", ctl_reply, rc == -1 ? ": " : "",
	    rc == -1 ? e : "");
}

/* ctl_ask, then ctl_expect. */
static void
ctl_request(int fd, const struct proto_msg *m, enum proto_type want,
    struct proto_msg *r)
{
	char	 e[256];

	ctl_expect(ctl_ask(fd, m, r, e, sizeof(e)), r, want, e);
}

/*
 * The handshake of -i -k on fd: AuthHello, then the proof of the
 * challenge.  The challenge and the proof are left in the arguments for
 * `auth` to print; exits CTL_REFUSED when either step is refused.
 */
static void
ctl_handshake(int fd, uint8_t nonce[AUTH_NONCE_LEN],
    uint8_t mac[AUTH_MAC_LEN])
{
	struct proto_msg	 m = { .type = PROTO_AUTH_HELLO, .agency = ctl_id };
	struct proto_msg	 r;
	char			 e[256];
	int			 rc;

	rc = ctl_ask(fd, &m, &r, e, sizeof(e));
	ctl_expect(rc, &r, PROTO_AUTH_CHALLENGE, e);
	memcpy(nonce, r.token, AUTH_NONCE_LEN);
	m.type = PROTO_AUTH_PROOF;
	auth_proof(ctl_key, ctl_id, nonce, m.token);
	memcpy(mac, m.token, AUTH_MAC_LEN);
	rc = ctl_ask(fd, &m, &r, e, sizeof(e));
	ctl_expect(rc, &r, PROTO_STORE_RESPONSE, e);
	if (!r.ok)
		errx(CTL_REFUSED, "agency %u: key refused", ctl_id);
}

/* ctl_dial, then the handshake when -k was given. */
static int
ctl_connect(void)
{
	uint8_t	 nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
	int	 fd = ctl_dial();

	if (ctl_has_key)
		ctl_handshake(fd, nonce, mac);
	return fd;
}

/* An agency number as typed (at most 32 bits), or a usage error. */
static uint32_t
ctl_agency(const char *s)
{
	uint64_t	v;

	if (s == NULL || num_parse(s, 0, UINT32_MAX, &v, NULL) == -1)
		usage();
	return (uint32_t)v;
}

static int
cmd_echo(int argc, char **argv)
{
	const char		*text = argc > 1 ? argv[1] : "ping";
	struct proto_msg	 m = { .type = PROTO_ECHO, .text = text,
				    .textlen = strlen(text) }, r;
	int			 fd = ctl_connect();

	ctl_request(fd, &m, PROTO_ECHO, &r);
	if (r.textlen != m.textlen || memcmp(r.text, text, r.textlen) != 0)
		errx(CTL_REFUSED, "echo came back as '%s'", ctl_reply);
	puts(text);
	return CTL_OK;
}

/* Print a status reply as "stored;closed". */
static void
ctl_print_status(const struct proto_msg *r)
{
	printf("%" PRIu64 ";%d\n", r->stored, r->closed);
}

static int
cmd_status(int argc, char **argv)
{
	struct proto_msg	 m = { .type = PROTO_AGENCY_STATUS }, r;
	int			 fd;

	(void)argc;
	m.agency = ctl_agency(argv[1]);
	fd = ctl_connect();
	ctl_request(fd, &m, PROTO_STATUS_RESPONSE, &r);
	ctl_print_status(&r);
	return CTL_OK;
}

/* AgencyClose gets no reply: the status that follows shows it recorded. */
static int
cmd_close(int argc, char **argv)
{
	struct proto_msg	 m = { .type = PROTO_AGENCY_CLOSE }, r;
	char			 e[256];
	int			 fd;

	(void)argc;
	m.agency = ctl_agency(argv[1]);
	fd = ctl_connect();
	if (conn_send(fd, &m, e, sizeof(e)) == -1)
		errx(CTL_CONN, "AgencyClose: %s", e);
	m.type = PROTO_AGENCY_STATUS;
	ctl_request(fd, &m, PROTO_STATUS_RESPONSE, &r);
	ctl_print_status(&r);
	return r.closed ? CTL_OK : CTL_REFUSED;
}

/* Print each document of a decoded reply; how many there were. */
static uint64_t
ctl_docs(const struct proto_msg *r)
{
	const char	*p = r->text, *semi;

	if (r->ndocs == 0)
		return 0;
	for (;;) {
		semi = strchr(p, ';');
		printf("%.*s\n", (int)(semi != NULL ? semi - p :
		    (ptrdiff_t)strlen(p)), p);
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	return r->ndocs;
}

/*
 * Ask WinnersPage from 0 until total documents came, printing each.  A
 * page that adds nothing before total, or a total that changes, is an
 * unexpected reply.  A replica that refuses the first page may speak only
 * the base protocol: the one WinnersRequest is asked instead, as the
 * client does.
 */
static int
cmd_winners(int argc, char **argv)
{
	struct proto_msg	 m = { .type = PROTO_WINNERS_PAGE }, r;
	uint64_t		 total = 0;
	char			 e[256];
	int			 fd, rc;

	(void)argc;
	m.agency = ctl_agency(argv[1]);
	fd = ctl_connect();
	do {
		rc = ctl_ask(fd, &m, &r, e, sizeof(e));
		if (m.pos == 0 && rc == 0 && r.type == PROTO_STORE_RESPONSE &&
		    !r.ok) {
			m.type = PROTO_WINNERS_REQUEST;
			ctl_request(fd, &m, PROTO_WINNERS_RESPONSE, &r);
			ctl_docs(&r);
			return CTL_OK;
		}
		ctl_expect(rc, &r, PROTO_WINNERS_PAGE_RESPONSE, e);
		if (m.pos > 0 && r.total != total)
			errx(CTL_REFUSED, "bad page '%s'", ctl_reply);
		total = r.total;
		if (r.ndocs == 0 && m.pos < total)
			errx(CTL_REFUSED, "empty page at %" PRIu64, m.pos);
		m.pos += ctl_docs(&r);
	} while (m.pos < total);
	return m.pos == total ? CTL_OK : CTL_REFUSED;
}

/* Frame and write one payload; a write error is left to the read. */
static void
ctl_send(int fd, const char *payload)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len;

	if ((len = ctl_frame(frame, payload)) == 0)
		errx(CTL_USAGE, "payload empty or over %d bytes",
		    PROTO_PAYLOAD_MAX);
	(void)proto_write_frame(fd, frame, len);
}

static void
ctl_sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* send: each payload then its reply; stops at the first missing one. */
static int
cmd_send(int argc, char **argv)
{
	int	 fd = ctl_connect(), i, rc = CTL_OK;

	for (i = 1; i < argc && rc == CTL_OK; i++) {
		if (i > 1)
			ctl_sleep_ms(ctl_wait_ms);
		ctl_send(fd, argv[i]);
		rc = ctl_print(ctl_read(fd));
		fflush(stdout);
	}
	return rc;
}

/* pipe N: every payload first, then the first N replies. */
static int
cmd_pipe(int argc, char **argv)
{
	int	 fd, i, n, rc = CTL_OK;

	if (argc < 2)
		usage();
	n = ctl_count(argv[1], argc - 2);
	fd = ctl_connect();
	for (i = 2; i < argc; i++)
		ctl_send(fd, argv[i]);
	for (i = 0; i < n && rc == CTL_OK; i++)
		rc = ctl_print(ctl_read(fd));
	return rc;
}

static int
cmd_post(int argc, char **argv)
{
	int	 fd = ctl_connect(), i;

	for (i = 1; i < argc; i++)
		ctl_send(fd, argv[i]);
	return CTL_OK;
}

/* Decode \xHH, \\ and \n in s, in place; the byte count, or usage. */
static size_t
ctl_unescape(char *s)
{
	char	*in = s, *out = s, hex[3] = "";

	while (*in != '\0') {
		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		if (in[1] == '\\' || in[1] == 'n') {
			*out++ = in[1] == 'n' ? '\n' : '\\';
			in += 2;
			continue;
		}
		if (in[1] != 'x' || strspn(in + 2, "0123456789abcdefABCDEF") < 2)
			usage();
		memcpy(hex, in + 2, 2);
		*out++ = (char)strtol(hex, NULL, 16);
		in += 4;
	}
	return (size_t)(out - s);
}

static int
cmd_raw(int argc, char **argv)
{
	size_t	 len;
	int	 fd;

	if (argc != 2)
		usage();
	len = ctl_unescape(argv[1]);
	fd = ctl_connect();
	(void)proto_write_frame(fd, argv[1], len);
	return ctl_no_reply ? CTL_OK : ctl_print(ctl_read(fd));
}

/* hold: COUNT idle connections for SECONDS (0: just check one opens). */
static int
cmd_hold(int argc, char **argv)
{
	int	 ms, i, count = 1;

	if (argc < 2 || argc > 3)
		usage();
	ms = ctl_ms(argv[1]);
	if (argc == 3 && (count = ctl_count(argv[2], 1000)) < 1)
		usage();
	for (i = 0; i < count; i++)
		(void)ctl_connect();
	ctl_sleep_ms(ms);
	return CTL_OK;
}

/* Raise the soft descriptor limit to the hard one, for many sockets. */
static void
ctl_raise_nofile(int want)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(CTL_USAGE, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(CTL_USAGE, "setrlimit");
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want + 16)
		errx(CTL_USAGE, "%d connections need %d open files, the limit "
		    "is %llu", want, want + 16, (unsigned long long)rl.rlim_max);
}

/* The kind of one waiter's answer, counted into k[]. */
enum { CTL_W_PAGE, CTL_W_NOT_READY, CTL_W_BUSY, CTL_W_OTHER, CTL_W_CLOSED };

static int
ctl_waiter_answer(int fd)
{
	struct proto_msg	r;
	char			e[256];
	ssize_t			n;

	if ((n = ctl_read(fd)) < 0)
		return CTL_W_CLOSED;
	if (proto_decode(ctl_reply, (size_t)n, &r, NULL, 0, e, sizeof(e)) == -1)
		return CTL_W_OTHER;
	switch (r.type) {
	case PROTO_WINNERS_PAGE_RESPONSE:
		return CTL_W_PAGE;
	case PROTO_NOT_READY:
		return CTL_W_NOT_READY;
	case PROTO_BUSY:
		return CTL_W_BUSY;
	default:
		return CTL_W_OTHER;
	}
}

/*
 * waiters: COUNT connections, each sending WinnersWait for agency
 * 1..AGENCIES in turn from 0, waiting up to SECONDS.  After all are sent
 * it prints "sent COUNT" (so a test knows), then waits for every answer
 * (epoll: one pass per batch of answers, not per connection) and prints
 * how many came of each kind and the milliseconds between the first
 * answer and the last.  0 when every one got its page.
 */
static int
cmd_waiters(int argc, char **argv)
{
	struct proto_msg	 m = { .type = PROTO_WINNERS_WAIT };
	struct epoll_event	 ev, evs[256];
	char			 frame[PROTO_FRAME_MAX];
	size_t			 len;
	long long		 deadline, first = 0, last = 0;
	int			 count, agencies, ms, left, i, ep, fd, got;
	int			 k[CTL_W_CLOSED + 1] = { 0 };

	if (argc != 4)
		usage();
	count = ctl_count(argv[1], 100000);
	agencies = ctl_count(argv[2], 1000000);
	ms = ctl_ms(argv[3]);
	if (count < 1 || agencies < 1 || ms > PROTO_WAIT_MAX)
		usage();
	ctl_raise_nofile(count);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(CTL_USAGE, "epoll_create1");
	m.wait_ms = (uint32_t)ms;
	for (i = 0; i < count; i++) {
		m.agency = (uint32_t)(i % agencies) + 1;
		if ((len = proto_encode_msg(frame, &m)) == 0)
			errx(CTL_USAGE, "request too long");
		fd = ctl_connect();
		if (io_write_full(fd, frame, len) == -1)
			err(CTL_CONN, "send");
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			err(CTL_CONN, "epoll_ctl");
	}
	printf("sent %d\n", count);
	fflush(stdout);
	deadline = io_now_ms() + ms + ctl_timeout_ms;
	for (left = count; left > 0 && io_now_ms() < deadline;) {
		if ((got = epoll_wait(ep, evs, 256, 100)) == -1) {
			if (errno == EINTR)
				continue;
			err(CTL_CONN, "epoll_wait");
		}
		for (i = 0; i < got; i++) {
			k[ctl_waiter_answer(evs[i].data.fd)]++;
			(void)close(evs[i].data.fd);
			left--;
		}
		if (got > 0) {
			last = io_now_ms();
			if (first == 0)
				first = last;
		}
	}
	printf("pages: %d | not_ready: %d | busy: %d | other: %d | closed: %d "
	    "| unanswered: %d | spread_ms: %lld\n", k[CTL_W_PAGE],
	    k[CTL_W_NOT_READY], k[CTL_W_BUSY], k[CTL_W_OTHER], k[CTL_W_CLOSED],
	    left, last - first);
	(void)close(ep);
	return k[CTL_W_PAGE] == count ? CTL_OK : CTL_REFUSED;
}

/* trickle: one frame a byte at a time, then its reply. */
static int
cmd_trickle(int argc, char **argv)
{
	char	 frame[PROTO_FRAME_MAX];
	size_t	 len, i;
	int	 fd, ms;

	if (argc != 3)
		usage();
	ms = ctl_ms(argv[1]);
	if ((len = ctl_frame(frame, argv[2])) == 0)
		usage();
	fd = ctl_connect();
	for (i = 0; i < len; i++) {
		if (i > 0)
			ctl_sleep_ms(ms);
		if (proto_write_frame(fd, frame + i, 1) == -1)
			return ctl_print(-1);
	}
	return ctl_print(ctl_read(fd));
}

/*
 * flood: the frame over and over, never reading a reply, until SECONDS
 * are over.  Each write may block until then (a peer that stopped
 * reading), and no frame is resent after a short write: the first failed
 * write ends it.
 */
static int
cmd_flood(int argc, char **argv)
{
	char		 frame[PROTO_FRAME_MAX];
	struct timeval	 tv;
	size_t		 len;
	long long	 end, left;
	int		 fd;

	if (argc != 3)
		usage();
	end = io_now_ms() + ctl_ms(argv[1]);
	if ((len = ctl_frame(frame, argv[2])) == 0)
		usage();
	fd = ctl_connect();
	while ((left = end - io_now_ms()) > 0) {
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == -1)
			err(CTL_CONN, "setsockopt");
		if (proto_write_frame(fd, frame, len) == -1)
			return errno == EAGAIN ? CTL_OK : CTL_CONN;
	}
	return CTL_OK;
}

/* Microseconds since a. */
static long long
ctl_us_since(const struct timespec *a)
{
	struct timespec	b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000000LL +
	    (b.tv_nsec - a->tv_nsec) / 1000;
}

/*
 * COUNT connections, each with its handshake, one after the other, then
 * COUNT with one Echo each: what the handshake adds to a connection,
 * connect and close included.
 */
static int
cmd_auth(int argc, char **argv)
{
	struct proto_msg m = { .type = PROTO_ECHO, .text = "x", .textlen = 1 };
	struct proto_msg r;
	uint8_t		 nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
	char		 hex[AUTH_HEX_LEN + 1];
	long long	 auth_us, echo_us;
	struct timespec	 t;
	int		 i, fd, count;

	count = argc > 1 ? ctl_count(argv[1], 1000000) : 1;
	if (!ctl_has_key || count < 1)
		usage();
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (i = 0; i < count; i++) {
		fd = ctl_dial();
		ctl_handshake(fd, nonce, mac);
		conn_close(fd);
	}
	auth_us = ctl_us_since(&t);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (i = 0; i < count; i++) {
		fd = ctl_dial();
		ctl_request(fd, &m, PROTO_ECHO, &r);
		conn_close(fd);
	}
	echo_us = ctl_us_since(&t);
	auth_hex(nonce, sizeof(nonce), hex);
	printf("AuthChallenge:%s\n", hex);
	auth_hex(mac, sizeof(mac), hex);
	printf("AuthProof:%s\n", hex);
	printf("connections: %d | us_each_with_handshake: %lld | "
	    "us_each_with_echo: %lld\n", count, auth_us / count,
	    echo_us / count);
	return CTL_OK;
}

static const struct {
	const char	*name;
	int		 min_args;	/* argument count, the command's included */
	int		(*run)(int, char **);
} ctl_cmds[] = {
	{ "echo",	1, cmd_echo },
	{ "status",	2, cmd_status },
	{ "close",	2, cmd_close },
	{ "winners",	2, cmd_winners },
	{ "send",	2, cmd_send },
	{ "pipe",	3, cmd_pipe },
	{ "post",	2, cmd_post },
	{ "raw",	2, cmd_raw },
	{ "hold",	2, cmd_hold },
	{ "trickle",	3, cmd_trickle },
	{ "flood",	3, cmd_flood },
	{ "auth",	1, cmd_auth },
	{ "waiters",	4, cmd_waiters },
};

int
main(int argc, char **argv)
{
	const char	*env, *key = NULL;
	char		 e[512];
	size_t		 i;
	int		 ch;

	if ((env = getenv("LOTTERY_ADDRESS")) != NULL && *env != '\0')
		ctl_address = env;
	while ((ch = getopt(argc, argv, "+a:b:i:k:nt:w:")) != -1) {
		switch (ch) {
		case 'a': ctl_address = optarg; break;
		case 'b': ctl_source = optarg; break;
		case 'i': ctl_id = ctl_agency(optarg); break;
		case 'k': key = optarg; break;
		case 'n': ctl_no_reply = 1; break;
		case 't': ctl_timeout_ms = ctl_ms(optarg); break;
		case 'w': ctl_wait_ms = ctl_ms(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || ctl_timeout_ms <= 0 || (key != NULL) != (ctl_id != 0))
		usage();
	if (key != NULL) {
		if (auth_init() == -1)
			errx(CTL_USAGE, "libsodium: cannot initialise");
		if (auth_key_file(key, ctl_key, e, sizeof(e)) == -1)
			errx(CTL_USAGE, "%s", e);
		ctl_has_key = 1;
	}
	/* A peer that hangs up makes a write fail, not kill the tool. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(CTL_USAGE, "signal");
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(argv[0], ctl_cmds[i].name) != 0)
			continue;
		if (argc < ctl_cmds[i].min_args)
			usage();
		return ctl_cmds[i].run(argc, argv);
	}
	usage();
}
