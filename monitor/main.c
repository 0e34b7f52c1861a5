/*
 * monitor: the cluster's live status page.  Every MONITOR_INTERVAL the
 * main loop reads the state directory (tally.c, read-only), scrapes every
 * replica's /metrics (scrape.c) and renders the page and its JSON
 * (page.c) into buffers; libmicrohttpd's own thread only hands out the
 * last rendering, under one mutex, so a slow browser never delays a look
 * and the HTTP thread never touches the tally.  Settings come from the
 * environment through the cfg table; start-up errors exit through
 * err(3).
 */
#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cfg.h"
#include "io.h"
#include "log.h"
#include "page.h"
#include "scrape.h"
#include "sig.h"
#include "tally.h"

struct settings {
	int		 port;
	char		 targets[1024];
	char		 state_dir[4096];
	char		 data_dir[4096];
	int		 agencies;
	int		 interval_ms;
	enum log_level	 level;
};

static struct settings	set;

static struct cfg_key keys[] = {
	{ "MONITOR_PORT", "MONITOR_PORT", CFG_INT, 1, 65535, "8080",
	    &set.port, 0, 0 },
	{ "MONITOR_TARGETS", "MONITOR_TARGETS", CFG_STR, 0, 0, "server:9464",
	    set.targets, sizeof(set.targets), 0 },
	{ "STATE_DIR", "STATE_DIR", CFG_STR, 0, 0, "/shared-volume",
	    set.state_dir, sizeof(set.state_dir), 0 },
	{ "DATA_DIR", "DATA_DIR", CFG_STR, 0, 0, "", set.data_dir,
	    sizeof(set.data_dir), 0 },
	{ "AGENCIES_AMOUNT", "AGENCIES_AMOUNT", CFG_INT, 1, 10000, "5",
	    &set.agencies, 0, 0 },
	{ "MONITOR_INTERVAL", "MONITOR_INTERVAL", CFG_DURATION, 100, 60000,
	    "1s", &set.interval_ms, 0, 0 },
	{ "LOGGING_LEVEL", "LOGGING_LEVEL", CFG_LEVEL, 0, 0, "INFO",
	    &set.level, 0, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0 }
};

/* The last rendering: written by the main loop, read by MHD's thread. */
static pthread_mutex_t	 view_mu = PTHREAD_MUTEX_INITIALIZER;
static char		*view_fragment, *view_json;

/* Render with fn into a new string; NULL on failure. */
static char *
render(int (*fn)(FILE *, const struct tally *, const struct scrape *,
    const struct page_history *, time_t), const struct tally *t,
    const struct scrape *s, const struct page_history *h)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	if (fn(fp, t, s, h, time(NULL)) == -1) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A copy of the current fragment or JSON (which 0/1), or NULL. */
static char *
view_copy(int which)
{
	char	*c;

	pthread_mutex_lock(&view_mu);
	c = strdup(which ? (view_json ? view_json : "{}\n") :
	    (view_fragment ? view_fragment : "<p>starting</p>"));
	pthread_mutex_unlock(&view_mu);
	return c;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *type,
    char *body)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	if (body == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
	    MHD_NO || MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store") == MHD_NO) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The whole page around the current fragment. */
static char *
whole_page(void)
{
	char	*frag = view_copy(0), *buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if (frag == NULL || (fp = open_memstream(&buf, &len)) == NULL) {
		free(frag);
		return NULL;
	}
	if (page_html(fp, frag, set.interval_ms) == -1) {
		fclose(fp);
		free(frag);
		free(buf);
		return NULL;
	}
	free(frag);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result
request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	(void)cls;
	(void)version;
	(void)upload;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    strdup("only GET\n"));
	if (*upload_len != 0)
		return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain",
		    strdup("no body expected\n"));
	if (strcmp(url, "/") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
		    whole_page());
	if (strcmp(url, "/fragment") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
		    view_copy(0));
	if (strcmp(url, "/api/status") == 0)
		return reply(c, MHD_HTTP_OK, "application/json", view_copy(1));
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
	    strdup("not found\n"));
}

/* One look: tally, scrape, history, render; swap the new rendering in. */
static void
look(struct tally *t, struct scrape *s, struct page_history *h,
    long long start_ms)
{
	char	why[512], *frag, *json;

	if (tally_update(t, why, sizeof(why)) == -1)
		log_warn("tally", "fail", "motivo: %s", why);
	scrape_all(s, set.interval_ms);
	page_history_add(h, (double)(io_now_ms() - start_ms) / 1000,
	    (double)t->stored);
	frag = render(page_fragment, t, s, h);
	json = render(page_json, t, s, h);
	if (frag == NULL || json == NULL) {
		log_warn("render", "fail", "motivo: out of memory");
		free(frag);
		free(json);
		return;
	}
	pthread_mutex_lock(&view_mu);
	free(view_fragment);
	free(view_json);
	view_fragment = frag;
	view_json = json;
	pthread_mutex_unlock(&view_mu);
}

/* Sleep ms unless a stop comes first (the signal ends the sleep). */
static void
nap(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (!sig_stopped(&sig_stop) && nanosleep(&ts, &ts) == -1 &&
	    errno == EINTR)
		;
}

int
main(int argc, char *argv[])
{
	struct tally		 t;
	static struct scrape	 s;
	static struct page_history h;
	struct MHD_Daemon	*d;
	sigset_t		 all, old;
	char			 why[512];
	long long		 start;

	(void)argv;
	if (argc != 1)
		errx(1, "usage: monitor (settings from the environment: "
		    "MONITOR_PORT, MONITOR_TARGETS, STATE_DIR, DATA_DIR, "
		    "AGENCIES_AMOUNT, MONITOR_INTERVAL)");
	cfg_defaults(keys);
	if (cfg_env(keys, why, sizeof(why)) == -1)
		errx(1, "config: %s", why);
	log_set_level(set.level);
	cfg_log(keys);
	if (sig_install() == -1)
		err(1, "sigaction");
	if (tally_init(&t, set.state_dir, set.data_dir,
	    (uint32_t)set.agencies) == -1)
		err(1, "tally");
	if (scrape_init(&s, set.targets) == -1)
		errx(1, "libcurl: cannot initialise");
	start = io_now_ms();
	look(&t, &s, &h, start);
	/* MHD's thread inherits the mask: the signals come to this one. */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		errx(1, "pthread_sigmask");
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL_LINUX_ONLY, (uint16_t)set.port, NULL, NULL,
	    request, NULL, MHD_OPTION_CONNECTION_LIMIT, 64u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
		errx(1, "pthread_sigmask");
	if (d == NULL)
		errx(1, "cannot listen on port %d", set.port);
	log_info("monitor_start", "success", "port: %d | targets: %s | "
	    "state_dir: %s", set.port, set.targets, set.state_dir);
	while (!sig_stopped(&sig_stop)) {
		nap(set.interval_ms);
		if (!sig_stopped(&sig_stop))
			look(&t, &s, &h, start);
	}
	log_info("shutdown", "in_progress", "");
	MHD_stop_daemon(d);
	scrape_free(&s);
	tally_free(&t);
	free(view_fragment);
	free(view_json);
	log_info("exit", "success", "code: 0");
	return 0;
}
