/*
 * scrape: owns the monitor's list of replicas and their last figures (see
 * scrape.h).  Replicas are kept by address: one that stops resolving (a
 * stopped container leaves the alias) or answering stays on the page as
 * not alive, so a dead replica shows rather than vanishes.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "io.h"
#include "scrape.h"

#define SCRAPE_BODY_MAX	(4 << 20)	/* 10,000 agencies fit */

struct body {
	char	*buf;
	size_t	 len;
	int	 toobig;
};

int
scrape_init(struct scrape *s, const char *targets)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->targets, sizeof(s->targets), "%s", targets);
	return curl_global_init(CURL_GLOBAL_NOTHING) == CURLE_OK ? 0 : -1;
}

void
scrape_free(struct scrape *s)
{
	(void)s;
	curl_global_cleanup();
}

/* libcurl's write callback: keep up to SCRAPE_BODY_MAX bytes. */
static size_t
scrape_write(char *p, size_t size, size_t n, void *arg)
{
	struct body	*b = arg;
	size_t		 len = size * n;
	char		*nb;

	if (b->len + len > SCRAPE_BODY_MAX) {
		b->toobig = 1;
		return 0;
	}
	if ((nb = realloc(b->buf, b->len + len + 1)) == NULL)
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

/* Sample value of the line at p ("name{...} value"), or 0 on a bad one. */
static double
scrape_value(const char *p)
{
	const char	*sp = strchr(p, ' ');

	return sp == NULL ? 0 : strtod(sp + 1, NULL);
}

int
scrape_parse(const char *text, struct scrape_replica *r)
{
	static const struct {
		const char	*name;
		size_t		 off;
		int		 sum;
	} pick[] = {
#define P(n, f, s) { n, offsetof(struct scrape_replica, f), s }
		P("lottery_bets_stored_total", stored, 1),
		P("lottery_connections", conns, 1),
		P("lottery_fdatasync_seconds_sum", sync_sum, 0),
		P("lottery_fdatasync_seconds_count", sync_count, 0),
		P("lottery_uptime_seconds", uptime, 0),
		P("lottery_resident_memory_bytes", rss, 0),
		P("lottery_draw_done", draw_done, 0),
		P("lottery_draw_timestamp_seconds", draw_time, 0),
#undef P
	};
	int	samples = 0;

	for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]); i++)
		*(double *)((char *)r + pick[i].off) = 0;
	for (const char *p = text; p != NULL && *p != '\0'; ) {
		const char	*nl = strchr(p, '\n');
		size_t		 n = strcspn(p, "{ \n");

		if (*p != '#' && n > 0) {
			samples++;
			for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]);
			    i++) {
				double	*d = (double *)((char *)r +
				    pick[i].off);

				if (strlen(pick[i].name) != n ||
				    strncmp(p, pick[i].name, n) != 0)
					continue;
				*d = pick[i].sum ? *d + scrape_value(p) :
				    scrape_value(p);
			}
		}
		p = nl == NULL ? NULL : nl + 1;
	}
	return samples;
}

static struct scrape_replica *
scrape_slot(struct scrape *s, const char *addr)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->r[i].addr, addr) == 0)
			return &s->r[i];
	if (s->n == SCRAPE_MAX)
		return NULL;
	memset(&s->r[s->n], 0, sizeof(s->r[s->n]));
	snprintf(s->r[s->n].addr, sizeof(s->r[s->n].addr), "%s", addr);
	return &s->r[s->n++];
}

/* Fetch one replica's page and update its figures. */
static void
scrape_one(struct scrape_replica *r, long timeout_ms)
{
	struct scrape_replica	 now = *r;
	struct body		 b = { NULL, 0, 0 };
	char			 url[128];
	long			 code = 0;
	double			 dt;
	CURL			*c;
	CURLcode		 rc;

	snprintf(url, sizeof(url), "http://%s/metrics", r->addr);
	r->alive = 0;
	if ((c = curl_easy_init()) == NULL)
		return;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, scrape_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || code != 200 || b.buf == NULL ||
	    scrape_parse(b.buf, &now) == 0) {
		free(b.buf);
		return;
	}
	free(b.buf);
	now.at_ms = io_now_ms();
	dt = (double)(now.at_ms - r->at_ms) / 1000;
	/* A restarted replica counts from 0 again: no rate across that. */
	now.rate = r->at_ms == 0 || dt <= 0 || now.stored < r->stored ? 0 :
	    (now.stored - r->stored) / dt;
	if (r->at_ms != 0 && now.sync_count > r->sync_count)
		now.sync_ms = (now.sync_sum - r->sync_sum) /
		    (now.sync_count - r->sync_count) * 1000;
	else
		now.sync_ms = now.sync_count > 0 ?
		    now.sync_sum / now.sync_count * 1000 : 0;
	now.alive = 1;
	*r = now;
}

/* Resolve one "name:port" target; mark and scrape each address. */
static void
scrape_target(struct scrape *s, const char *target, long timeout_ms)
{
	struct addrinfo		 hints, *res, *ai;
	struct scrape_replica	*r;
	char			 host[256], ip[INET6_ADDRSTRLEN], addr[80];
	const char		*colon = strrchr(target, ':');
	int			 rc;

	if (colon == NULL || (size_t)(colon - target) >= sizeof(host)) {
		snprintf(s->err, sizeof(s->err), "%s: want name:port", target);
		return;
	}
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(s->err, sizeof(s->err), "%s: %s", host,
		    gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		const void	*a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (inet_ntop(ai->ai_family, a, ip, sizeof(ip)) == NULL)
			continue;
		snprintf(addr, sizeof(addr), ai->ai_family == AF_INET6 ?
		    "[%s]:%s" : "%s:%s", ip, colon + 1);
		if ((r = scrape_slot(s, addr)) == NULL || r->seen)
			continue;
		r->seen = 1;
		scrape_one(r, timeout_ms);
	}
	freeaddrinfo(res);
}

void
scrape_all(struct scrape *s, long timeout_ms)
{
	char	 list[sizeof(s->targets)], *save = NULL, *t;

	s->err[0] = '\0';
	for (int i = 0; i < s->n; i++)
		s->r[i].seen = 0;
	snprintf(list, sizeof(list), "%s", s->targets);
	for (t = strtok_r(list, ", ", &save); t != NULL;
	    t = strtok_r(NULL, ", ", &save))
		scrape_target(s, t, timeout_ms);
	/* Gone from the name: not alive, and no rate. */
	for (int i = 0; i < s->n; i++)
		if (!s->r[i].seen) {
			s->r[i].alive = 0;
			s->r[i].rate = 0;
		}
}
