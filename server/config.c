/*
 * config: the server's key table and its INI loader.  inih hands us each
 * name=value of the file; common/cfg.c validates it against the table, so
 * the file and the environment go through the same checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "cfg.h"
#include "config.h"

static struct config cfg_values;

static struct cfg_key keys[] = {
	{ "SERVER_IP", "SERVER_IP", CFG_STR, 0, 0, "0.0.0.0",
	    cfg_values.ip, sizeof(cfg_values.ip), 0 },
	{ "SERVER_PORT", "SERVER_PORT", CFG_INT, 1, 65535, "12345",
	    &cfg_values.port, 0, 0 },
	{ "SERVER_LISTEN_BACKLOG", "SERVER_LISTEN_BACKLOG", CFG_INT, 1, 65535,
	    "4096", &cfg_values.backlog, 0, 0 },
	{ "AGENCIES_AMOUNT", "AGENCIES_AMOUNT", CFG_INT, 1,
	    CONFIG_AGENCIES_MAX, "5", &cfg_values.agencies, 0, 0 },
	{ "LOGGING_LEVEL", "LOGGING_LEVEL", CFG_LEVEL, 0, 0, "INFO",
	    &cfg_values.level, 0, 0 },
	{ "STATE_DIR", "STATE_DIR", CFG_STR, 0, 0, "./shared-volume",
	    cfg_values.state_dir, sizeof(cfg_values.state_dir), 0 },
	{ "MAX_CONNECTIONS", "MAX_CONNECTIONS", CFG_INT, 1, 1048576, "16384",
	    &cfg_values.max_conns, 0, 0 },
	{ "MAX_CONNECTIONS_PER_PEER", "MAX_CONNECTIONS_PER_PEER", CFG_INT, 1,
	    1048576, "1024", &cfg_values.max_conns_per_peer, 0, 0 },
	{ "CONN_TIMEOUT", "CONN_TIMEOUT", CFG_DURATION, 100, 3600000, "30s",
	    &cfg_values.conn_timeout_ms, 0, 0 },
	{ "LOCK_TIMEOUT", "LOCK_TIMEOUT", CFG_DURATION, 10, 600000, "5s",
	    &cfg_values.lock_timeout_ms, 0, 0 },
	{ "PROTOCOL", "PROTOCOL", CFG_STR, 0, 0, "extended",
	    cfg_values.protocol, sizeof(cfg_values.protocol), 0 },
	{ "AGENCY_KEYS", "AGENCY_KEYS", CFG_STR, 0, 0, "",
	    cfg_values.agency_keys, sizeof(cfg_values.agency_keys), 0 },
	{ "METRICS_PORT", "METRICS_PORT", CFG_INT, 0, 65535, "9464",
	    &cfg_values.metrics_port, 0, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0 }
};

struct ini_ctx {
	char	*err;
	size_t	 errlen;
	int	 failed;
};

/* inih callback: 1 keeps parsing, 0 stops with the line number. */
static int
config_ini_pair(void *arg, const char *section, const char *name,
    const char *value)
{
	struct ini_ctx	*ctx = arg;

	/* inih goes on after an error; keep the first reason. */
	if (ctx->failed)
		return 0;
	if (strcasecmp(section, "DEFAULT") != 0) {
		snprintf(ctx->err, ctx->errlen, "%s: unknown section [%s]",
		    name, section);
		ctx->failed = 1;
		return 0;
	}
	if (cfg_set(keys, name, value, ctx->err, ctx->errlen) == -1) {
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

/* Turn the PROTOCOL text into the flag.  0, or -1 for another value. */
static int
config_protocol(struct config *c)
{
	if (strcmp(c->protocol, "extended") == 0)
		c->base = 0;
	else if (strcmp(c->protocol, "base") == 0)
		c->base = 1;
	else
		return -1;
	return 0;
}

int
config_load(struct config *out, const char *path, char *err, size_t errlen)
{
	struct ini_ctx	 ctx = { err, errlen, 0 };
	char		 why[256] = "";
	FILE		*fp;
	int		 line;

	if (path == NULL)
		path = "config.ini";
	cfg_defaults(keys);
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ctx.err = why;
	ctx.errlen = sizeof(why);
	line = ini_parse_file(fp, config_ini_pair, &ctx);
	fclose(fp);
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    ctx.failed ? why : "syntax error");
		return -1;
	}
	if (cfg_env(keys, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (config_protocol(&cfg_values) == -1) {
		snprintf(err, errlen, "PROTOCOL: '%s', want extended or base",
		    cfg_values.protocol);
		return -1;
	}
	/* Base clients cannot authenticate, so they would all be refused. */
	if (cfg_values.base && cfg_values.agency_keys[0] != '\0') {
		snprintf(err, errlen, "AGENCY_KEYS needs PROTOCOL=extended: "
		    "base-protocol clients cannot authenticate");
		return -1;
	}
	*out = cfg_values;
	return 0;
}

void
config_log(void)
{
	cfg_log(keys);
}
