/*
 * config: loads config.yaml into struct client_conf.  The YAML side only
 * walks libyaml's event stream and turns "key: scalar" pairs, nested
 * mappings included, into dotted names ("server.address"); every check on
 * names and values is the shared cfg table's job, so the server and the
 * client validate alike and env overrides follow the same rules.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "cfg.h"
#include "config.h"

#define KEY_MAX		128	/* longest dotted name accepted */
#define DEPTH_MAX	4	/* nesting levels of mappings */

/* Where the event walk stands: the dotted prefix and a pending key. */
struct walk {
	char		 name[KEY_MAX];		/* prefix, then ".key" */
	size_t		 plen[DEPTH_MAX + 1];	/* prefix length per depth */
	int		 depth;			/* open mappings */
	int		 have_key;		/* next node is the key's value */
	size_t		 keyline;		/* 1-based line of that key */
	int		 done;			/* first document finished */
};

/* The key table, filled into cfg_values; config_load copies it out. */
static struct client_conf cfg_values;

static struct cfg_key keys[] = {
	{ "id", "CLI_ID", CFG_INT, 1, 2147483647, NULL,
	    &cfg_values.id, 0, 0 },
	{ "server.address", "CLI_SERVER_ADDRESS", CFG_STR, 0, 0,
	    "server:12345", cfg_values.address, sizeof(cfg_values.address),
	    0 },
	{ "batch.maxAmount", "CLI_BATCH_MAXAMOUNT", CFG_INT, 1, 1000000,
	    "100", &cfg_values.max_amount, 0, 0 },
	{ "batch.window", "CLI_BATCH_WINDOW", CFG_INT, 1, CONFIG_WINDOW_MAX,
	    "32", &cfg_values.window, 0, 0 },
	{ "retry_sleep", "CLI_RETRY_SLEEP", CFG_DURATION, 1, 3600000,
	    "100ms", &cfg_values.retry_ms, 0, 0 },
	{ "retry_sleep_max", "CLI_RETRY_SLEEP_MAX", CFG_DURATION, 1, 3600000,
	    "5s", &cfg_values.retry_max_ms, 0, 0 },
	{ "retry_max", "CLI_RETRY_MAX", CFG_INT, 1, 1000000, "30",
	    &cfg_values.retry_max, 0, 0 },
	{ "timeout", "CLI_TIMEOUT", CFG_DURATION, 1, 3600000, "10s",
	    &cfg_values.timeout_ms, 0, 0 },
	{ "log.level", "CLI_LOG_LEVEL", CFG_LEVEL, 0, 0, "INFO",
	    &cfg_values.level, 0, 0 },
	{ "data.dir", "CLI_DATA_DIR", CFG_STR, 0, 0, "./data",
	    cfg_values.data_dir, sizeof(cfg_values.data_dir), 0 },
	{ "protocol", "CLI_PROTOCOL", CFG_STR, 0, 0, "auto",
	    cfg_values.protocol_name, sizeof(cfg_values.protocol_name), 0 },
	{ "key_file", "CLI_KEY_FILE", CFG_STR, 0, 0, "",
	    cfg_values.key_file, sizeof(cfg_values.key_file), 0 },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0 }
};

/* The dotted name of the pending key, for error messages. */
static const char *
walk_key(const struct walk *w)
{
	return w->name[0] != '\0' ? w->name : "(top level)";
}

/*
 * Feed one event to the walk.  Returns 0, or -1 with "line: key: reason"
 * in err (the caller prefixes the file name).
 */
static int
walk_event(struct walk *w, struct cfg_key *tab, const yaml_event_t *ev,
    char *err, size_t errlen)
{
	const char	*s;
	size_t		 line = ev->start_mark.line + 1, n;
	char		 why[256];

	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		if (w->done)
			return 0;
		if (w->depth > 0 && !w->have_key) {
			snprintf(err, errlen, "%zu: %s: a mapping cannot be "
			    "a key", line, walk_key(w));
			return -1;
		}
		if (w->depth == DEPTH_MAX) {
			snprintf(err, errlen, "%zu: %s: nested too deep",
			    line, walk_key(w));
			return -1;
		}
		w->depth++;
		w->plen[w->depth] = strlen(w->name);
		w->have_key = 0;
		return 0;
	case YAML_MAPPING_END_EVENT:
		if (w->done)
			return 0;
		w->depth--;
		/* Drop ".key" of the mapping just closed. */
		n = w->depth > 0 ? w->plen[w->depth] : 0;
		w->name[n] = '\0';
		if (w->depth == 0)
			w->done = 1;
		return 0;
	case YAML_SCALAR_EVENT:
		if (w->done)
			return 0;
		s = (const char *)ev->data.scalar.value;
		if (w->depth == 0) {
			snprintf(err, errlen, "%zu: the top level must be a "
			    "mapping", line);
			return -1;
		}
		if (!w->have_key) {
			n = w->plen[w->depth];
			if (s[0] == '\0' || strchr(s, '.') != NULL ||
			    snprintf(w->name + n, sizeof(w->name) - n, "%s%s",
			    n > 0 ? "." : "", s) >= (int)(sizeof(w->name) - n)) {
				w->name[n] = '\0';
				snprintf(err, errlen, "%zu: bad key name", line);
				return -1;
			}
			w->have_key = 1;
			w->keyline = line;
			return 0;
		}
		if (cfg_set(tab, w->name, s, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%zu: %s", w->keyline, why);
			return -1;
		}
		w->name[w->plen[w->depth]] = '\0';
		w->have_key = 0;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_ALIAS_EVENT:
		if (w->done)
			return 0;
		snprintf(err, errlen, "%zu: %s: lists and aliases are not "
		    "supported", line, walk_key(w));
		return -1;
	default:
		return 0;
	}
}

/* The protocol setting from its name.  0, or -1 for an unknown one. */
static int
config_protocol(struct client_conf *c)
{
	if (strcmp(c->protocol_name, "auto") == 0)
		c->protocol = CONFIG_PROTO_AUTO;
	else if (strcmp(c->protocol_name, "base") == 0)
		c->protocol = CONFIG_PROTO_BASE;
	else if (strcmp(c->protocol_name, "extended") == 0)
		c->protocol = CONFIG_PROTO_EXTENDED;
	else
		return -1;
	return 0;
}

/*
 * The agency's key, when key_file names a file.  Base-protocol servers
 * know no handshake, so a key rules the base protocol out.  0 or -1.
 */
static int
config_key(struct client_conf *c, char *err, size_t errlen)
{
	if (c->key_file[0] == '\0')
		return 0;
	if (c->protocol == CONFIG_PROTO_BASE) {
		snprintf(err, errlen, "the base protocol has no "
		    "authentication; use protocol auto or extended");
		return -1;
	}
	if (auth_init() == -1) {
		snprintf(err, errlen, "libsodium: cannot initialise");
		return -1;
	}
	if (auth_key_file(c->key_file, c->key, err, errlen) == -1)
		return -1;
	c->has_key = 1;
	return 0;
}

int
config_load(struct client_conf *c, const char *path, char *err,
    size_t errlen)
{
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	struct walk	 w;
	FILE		*fp;
	char		 why[512];
	int		 end, rc = -1;

	memset(&cfg_values, 0, sizeof(cfg_values));
	memset(&w, 0, sizeof(w));
	cfg_defaults(keys);

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: yaml parser: out of memory", path);
		fclose(fp);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errlen, "%s:%zu: yaml syntax error: %s",
			    path, parser.problem_mark.line + 1,
			    parser.problem != NULL ? parser.problem : "?");
			goto fail;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		if (walk_event(&w, keys, &ev, why, sizeof(why)) == -1) {
			yaml_event_delete(&ev);
			snprintf(err, errlen, "%s:%s", path, why);
			goto fail;
		}
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	if (cfg_env(keys, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	if (config_protocol(&cfg_values) == -1) {
		snprintf(err, errlen, "%s: protocol: '%s', want auto, base or "
		    "extended", path, cfg_values.protocol_name);
		goto fail;
	}
	if (config_key(&cfg_values, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: key_file: %s", path, why);
		goto fail;
	}
	*c = cfg_values;
	rc = 0;
 fail:
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}

void
config_log(void)
{
	cfg_log(keys);
}
