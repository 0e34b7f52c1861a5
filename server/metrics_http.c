/*
 * metrics_http: owns the HTTP side of the metrics, a libmicrohttpd daemon
 * with its internal polling thread (MHD_USE_INTERNAL_POLLING_THREAD).  That
 * thread is the only one that runs here: it answers GET /metrics with
 * metrics_write's text and touches no state of the bet path besides
 * loading the atomics metrics.c owns, so a slow or stuck scraper can
 * delay nothing but other scrapes.  It is a thread of its own rather than
 * descriptors in the replica's loop because MHD's external-select mode
 * would put HTTP parsing, timeouts and writes into the loop that serves
 * the agencies; the thread costs one stack and never takes a lock the
 * bet path takes.  One connection at a time is plenty for a scraper.
 */
#include <sys/socket.h>

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "metrics.h"
#include "metrics_http.h"

#define METRICS_HTTP_CONNS	8	/* scrapers at once */
#define METRICS_HTTP_TIMEOUT	10	/* seconds an idle scrape lives */

static struct MHD_Daemon	*daemon_;

static enum MHD_Result
metrics_http_reply(struct MHD_Connection *c, unsigned int status,
    const char *type, char *body, size_t len)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	/* MHD frees body (MHD_RESPMEM_MUST_FREE) once it is sent. */
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
	    MHD_NO) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
metrics_http_plain(struct MHD_Connection *c, unsigned int status,
    const char *text)
{
	char	*body = strdup(text);

	if (body == NULL)
		return MHD_NO;
	return metrics_http_reply(c, status, "text/plain; charset=utf-8", body,
	    strlen(body));
}

/* MHD's request callback: GET (or HEAD) /metrics, nothing else. */
static enum MHD_Result
metrics_http_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	char	*body = NULL;
	size_t	 len = 0;
	FILE	*fp;

	(void)cls;
	(void)version;
	(void)upload;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_http_plain(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET\n");
	if (*upload_len != 0)
		return metrics_http_plain(c, MHD_HTTP_BAD_REQUEST,
		    "no body expected\n");
	if (strcmp(url, "/metrics") != 0)
		return metrics_http_plain(c, MHD_HTTP_NOT_FOUND,
		    "not found: try /metrics\n");
	if ((fp = open_memstream(&body, &len)) == NULL)
		return MHD_NO;
	if (metrics_write(fp) == -1) {
		fclose(fp);
		free(body);
		return MHD_NO;
	}
	if (fclose(fp) != 0) {
		free(body);
		return MHD_NO;
	}
	return metrics_http_reply(c, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", body, len);
}

int
metrics_http_start(const char *ip, int port, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 serv[8];
	sigset_t	 all, old;
	unsigned int	 flags = MHD_USE_INTERNAL_POLLING_THREAD |
			    MHD_USE_EPOLL_LINUX_ONLY;
	int		 rc;

	/* The replica's own address (SERVER_IP), IPv4 or IPv6, by number. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((rc = getaddrinfo(ip, serv, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", ip, gai_strerror(rc));
		return -1;
	}
	if (res->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/*
	 * MHD's thread inherits this mask: with every signal blocked there,
	 * SIGTERM and SIGINT reach the threads that act on them.
	 */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) {
		freeaddrinfo(res);
		snprintf(err, errlen, "pthread_sigmask failed");
		return -1;
	}
	daemon_ = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    metrics_http_request, NULL,
	    MHD_OPTION_SOCK_ADDR, res->ai_addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_HTTP_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_HTTP_TIMEOUT,
	    MHD_OPTION_END);
	freeaddrinfo(res);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0) {
		snprintf(err, errlen, "pthread_sigmask failed");
		metrics_http_stop();
		return -1;
	}
	if (daemon_ == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d (port taken?)",
		    ip, port);
		return -1;
	}
	return 0;
}

void
metrics_http_stop(void)
{
	if (daemon_ == NULL)
		return;
	MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
