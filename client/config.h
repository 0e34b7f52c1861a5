/*
 * config: the client's settings.  The keys are described once in a
 * common/cfg.h table; this module reads config.yaml with libyaml, flattens
 * nested mappings into dotted names ("server.address") and feeds each
 * scalar to that table, then applies the CLI_* environment overrides.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "auth.h"
#include "log.h"

#define CONFIG_ADDR_MAX	256
#define CONFIG_WINDOW_MAX	256	/* most batches in flight */

/* Which protocol the client speaks (docs/protocol.md). */
enum config_protocol {
	CONFIG_PROTO_AUTO,	/* extended, base if the server lacks it */
	CONFIG_PROTO_BASE,	/* the original exercise's requests only */
	CONFIG_PROTO_EXTENDED	/* extended, never falling back */
};

struct client_conf {
	int		 id;
	char		 address[CONFIG_ADDR_MAX];	/* host:port */
	int		 max_amount;	/* bets per batch */
	int		 window;	/* batches in flight on a connection */
	int		 retry_ms;	/* backoff base */
	int		 retry_max_ms;	/* backoff ceiling */
	int		 retry_max;	/* failures in a row before giving up */
	int		 timeout_ms;	/* socket send/receive timeout */
	enum log_level	 level;
	char		 data_dir[PATH_MAX];
	char		 protocol_name[16];	/* as configured */
	enum config_protocol protocol;
	char		 key_file[PATH_MAX];	/* "": no authentication */
	int		 has_key;
	uint8_t		 key[AUTH_KEY_LEN];	/* read from key_file */
};

/*
 * Fill c from the YAML file at path (defaults first, environment last),
 * then read the agency's key when key_file names one.
 * Returns 0, or -1 with "file:line: key: reason" (or "file: reason") in err.
 */
int	 config_load(struct client_conf *c, const char *path, char *err,
	    size_t errlen);
/* The "action: config" line with every effective value loaded last. */
void	 config_log(void);

#endif
