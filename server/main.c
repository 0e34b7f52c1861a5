/*
 * server: one lottery replica.  Start-up errors exit through err(3);
 * afterwards every failure is logged and the replica keeps serving.  The
 * signal handlers only raise a flag; net_serve notices it, drains the
 * connections, and main closes the files and exits 0.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "metrics_http.h"
#include "net.h"
#include "proto.h"
#include "sig.h"
#include "store.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: server [-n] [-c config.ini]\n");
	exit(1);
}

/*
 * The agencies' keys when AGENCY_KEYS names a file; without it, a warning
 * that any peer may act for any agency.  0, or -1 with err.
 */
static int
server_keys(const struct config *cfg, struct keys *k, char *err,
    size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (cfg->agency_keys[0] == '\0') {
		log_warn("auth", "success", "modo: off | motivo: AGENCY_KEYS "
		    "not set, agencies are not authenticated: any peer may "
		    "store, close or read for any agency");
		return 0;
	}
	if (keys_load(k, cfg->agency_keys, (uint32_t)cfg->agencies, err,
	    errlen) == -1)
		return -1;
	log_info("auth", "success", "modo: on | archivo: %s | agencias: %d",
	    cfg->agency_keys, cfg->agencies);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct config	 cfg;
	struct store	*store;
	struct store_opts sopts;
	struct keys	 keys;
	const char	*path = NULL;
	char		 why[512];
	int		 ch, check_only = 0, lfd;

	while ((ch = getopt(argc, argv, "c:n")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(&cfg, path, why, sizeof(why)) == -1)
		errx(1, "config: %s", why);
	log_set_level(cfg.level);
	config_log();
	if (net_limits(&cfg, why, sizeof(why)) == -1)
		errx(1, "%s", why);
	if (auth_init() == -1)
		errx(1, "libsodium: cannot initialise");
	if (server_keys(&cfg, &keys, why, sizeof(why)) == -1)
		errx(1, "AGENCY_KEYS: %s", why);
	if (check_only) {
		keys_free(&keys);
		/* The state directory must not belong to another lottery. */
		if (meta_peek(cfg.state_dir, (uint32_t)cfg.agencies, why,
		    sizeof(why)) == -1)
			errx(1, "state dir %s: %s", cfg.state_dir, why);
		return 0;
	}
	if (sig_install() == -1)
		err(1, "sigaction");
	if (metrics_init((uint32_t)cfg.agencies) == -1)
		err(1, "metrics");
	sopts.agencies = (uint32_t)cfg.agencies;
	sopts.lock_timeout_ms = cfg.lock_timeout_ms;
	sopts.batch_max = PROTO_BATCH_MAX;
	sopts.stop = &sig_stop;
	if ((store = store_open(cfg.state_dir, &sopts, why,
	    sizeof(why))) == NULL)
		errx(1, "state dir %s: %s", cfg.state_dir, why);
	if ((lfd = net_listen(&cfg, why, sizeof(why))) == -1)
		errx(1, "listen: %s", why);
	if (cfg.metrics_port != 0) {
		if (metrics_http_start(cfg.ip, cfg.metrics_port, why,
		    sizeof(why)) == -1)
			errx(1, "METRICS_PORT: %s", why);
		log_info("metrics", "success", "ip: %s | port: %d | path: "
		    "/metrics", cfg.ip, cfg.metrics_port);
	}
	log_info("server_start", "success", "ip: %s | port: %d", cfg.ip,
	    cfg.port);
	net_serve(lfd, store, &cfg, cfg.agency_keys[0] != '\0' ? &keys : NULL);
	log_info("shutdown", "in_progress", "");
	metrics_http_stop();
	store_close(store);
	metrics_free();
	keys_free(&keys);
	log_info("shutdown", "success", "");
	log_info("exit", "success", "code: 0");
	return 0;
}
