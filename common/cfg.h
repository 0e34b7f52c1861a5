/*
 * cfg: configuration from one table.  Each program describes its keys once
 * (name in the file, environment override, type, bounds, default,
 * destination); its file loader (inih for the server, libyaml for the
 * client) only feeds key/value pairs into cfg_set, so validation, env
 * overrides and the "action: config" log line are written once, here.
 */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>

enum cfg_type {
	CFG_INT,	/* int: decimal digits only, min..max, min >= 0 */
	CFG_STR,	/* char[destlen], non-empty */
	CFG_LEVEL,	/* enum log_level by name */
	CFG_DURATION	/* int milliseconds: "250ms", "2s", "1m"; bare = ms */
};

struct cfg_key {
	const char	*name;		/* as written in the file */
	const char	*env;		/* environment override, or NULL */
	enum cfg_type	 type;
	long long	 min, max;	/* CFG_INT, CFG_DURATION */
	const char	*def;		/* default as text; NULL: required;
					   "" (CFG_STR): optional, empty */
	void		*dest;
	size_t		 destlen;	/* CFG_STR */
	int		 set;		/* filled in by cfg_* */
};

/* Apply every default.  Call first. */
void	 cfg_defaults(struct cfg_key *tab);
/*
 * Set key name from text.  Returns 0, or -1 with "name: reason" in err
 * (unknown key, bad value).
 */
int	 cfg_set(struct cfg_key *tab, const char *name, const char *value,
	    char *err, size_t errlen);
/* Apply environment overrides, then check required keys.  0 or -1. */
int	 cfg_env(struct cfg_key *tab, char *err, size_t errlen);
/* One "action: config | result: success | key: value ..." line. */
void	 cfg_log(const struct cfg_key *tab);

#endif
