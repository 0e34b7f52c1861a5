/*
 * config: the server's settings, read from config.ini (inih, section
 * [DEFAULT]) and overridden by environment variables of the same names.
 */
#ifndef SERVER_CONFIG_H
#define SERVER_CONFIG_H

#include <limits.h>

#include "log.h"

#define CONFIG_AGENCIES_MAX	10000

struct config {
	char		 ip[64];
	int		 port;
	int		 backlog;
	int		 agencies;
	enum log_level	 level;
	char		 state_dir[PATH_MAX];
	int		 max_conns;
	int		 max_conns_per_peer; /* one address, any port */
	int		 conn_timeout_ms;
	int		 lock_timeout_ms;
	char		 protocol[16];	/* "extended" or "base" */
	int		 base;		/* PROTOCOL=base: the original
					   exercise's protocol only */
	char		 agency_keys[PATH_MAX]; /* "": no authentication */
	int		 metrics_port;	/* /metrics over HTTP; 0: off */
	int		 wait_cap_ms;	/* not a key: 0, or the longest
					   WinnersWait served (the fuzzer
					   sets it) */
};

/*
 * Load path (NULL: "config.ini") then the environment.  Returns 0, or -1
 * with a message naming the file, line and key in err.
 */
int	 config_load(struct config *, const char *path, char *err, size_t errlen);
/* Log every effective value. */
void	 config_log(void);

#endif
