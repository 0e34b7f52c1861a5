/*
 * cfg: validation of configuration values from one table of keys.  The
 * file loaders and the environment both come through cfg_set_value, so a
 * value is checked the same way wherever it came from, and the error names
 * where it came from (the key, or the environment variable).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "log.h"
#include "num.h"

/*
 * Duration: digits then "ms", "s", "m" or nothing (milliseconds).
 * Returns 0 with *ms, or -1.
 */
static int
cfg_parse_duration(const char *s, long long *ms)
{
	uint64_t	v;
	long long	mul;
	size_t		n = strspn(s, "0123456789");

	if (num_parse_len(s, n, 0, INT_MAX, &v, NULL) == -1)
		return -1;
	if (s[n] == '\0' || strcmp(s + n, "ms") == 0)
		mul = 1;
	else if (strcmp(s + n, "s") == 0)
		mul = 1000;
	else if (strcmp(s + n, "m") == 0)
		mul = 60000;
	else
		return -1;
	if ((long long)v > INT_MAX / mul)
		return -1;
	*ms = (long long)v * mul;
	return 0;
}

/* Check value and store it into k; errors are prefixed with label. */
static int
cfg_set_value(struct cfg_key *k, const char *label, const char *value,
    char *err, size_t errlen)
{
	uint64_t	 u;
	long long	 v;
	enum log_level	 lvl;

	switch (k->type) {
	case CFG_INT:
		/* Every CFG_INT key is a count, an id or a port: min >= 0. */
		if (num_parse(value, (uint64_t)k->min, (uint64_t)k->max, &u,
		    NULL) == -1) {
			snprintf(err, errlen, "%s: not an integer in %lld..%lld",
			    label, k->min, k->max);
			return -1;
		}
		*(int *)k->dest = (int)u;
		break;
	case CFG_STR:
		if (value[0] == '\0') {
			snprintf(err, errlen, "%s: empty", label);
			return -1;
		}
		if (strlcpy(k->dest, value, k->destlen) >= k->destlen) {
			snprintf(err, errlen, "%s: longer than %zu bytes",
			    label, k->destlen - 1);
			return -1;
		}
		break;
	case CFG_LEVEL:
		if (log_level_parse(value, &lvl) == -1) {
			snprintf(err, errlen, "%s: unknown level '%.32s'",
			    label, value);
			return -1;
		}
		*(enum log_level *)k->dest = lvl;
		break;
	case CFG_DURATION:
		if (cfg_parse_duration(value, &v) == -1 || v < k->min ||
		    v > k->max) {
			snprintf(err, errlen,
			    "%s: not a duration in %lldms..%lldms", label,
			    k->min, k->max);
			return -1;
		}
		*(int *)k->dest = (int)v;
		break;
	}
	k->set = 1;
	return 0;
}

void
cfg_defaults(struct cfg_key *tab)
{
	struct cfg_key	*k;
	char		 err[128];

	for (k = tab; k->name != NULL; k++) {
		k->set = 0;
		/* An optional string: empty until given. */
		if (k->type == CFG_STR && k->def != NULL && k->def[0] == '\0') {
			((char *)k->dest)[0] = '\0';
			k->set = 1;
			continue;
		}
		/* Defaults are written by us; a bad one is a bug, not input. */
		if (k->def != NULL &&
		    cfg_set_value(k, k->name, k->def, err, sizeof(err)) == -1)
			abort();
	}
}

int
cfg_set(struct cfg_key *tab, const char *name, const char *value, char *err,
    size_t errlen)
{
	struct cfg_key	*k;

	for (k = tab; k->name != NULL; k++)
		if (strcasecmp(k->name, name) == 0)
			return cfg_set_value(k, k->name, value, err, errlen);
	snprintf(err, errlen, "unknown key %.64s", name);
	return -1;
}

int
cfg_env(struct cfg_key *tab, char *err, size_t errlen)
{
	struct cfg_key	*k;
	const char	*v;

	for (k = tab; k->name != NULL; k++) {
		if (k->env == NULL || (v = getenv(k->env)) == NULL ||
		    v[0] == '\0')
			continue;
		if (cfg_set_value(k, k->env, v, err, errlen) == -1)
			return -1;
	}
	for (k = tab; k->name != NULL; k++) {
		if (!k->set) {
			snprintf(err, errlen, "%s: missing", k->name);
			return -1;
		}
	}
	return 0;
}

void
cfg_log(const struct cfg_key *tab)
{
	const struct cfg_key	*k;
	char			 buf[1024];
	size_t			 len = 0;
	int			 n = 0;

	buf[0] = '\0';
	for (k = tab; k->name != NULL && len < sizeof(buf); k++) {
		const char *sep = len > 0 ? " | " : "";

		switch (k->type) {
		case CFG_INT:
			n = snprintf(buf + len, sizeof(buf) - len, "%s%s: %d",
			    sep, k->name, *(const int *)k->dest);
			break;
		case CFG_STR:
			n = snprintf(buf + len, sizeof(buf) - len, "%s%s: %s",
			    sep, k->name, (const char *)k->dest);
			break;
		case CFG_LEVEL:
			n = snprintf(buf + len, sizeof(buf) - len, "%s%s: %s",
			    sep, k->name,
			    log_level_name(*(const enum log_level *)k->dest));
			break;
		case CFG_DURATION:
			n = snprintf(buf + len, sizeof(buf) - len, "%s%s: %dms",
			    sep, k->name, *(const int *)k->dest);
			break;
		}
		if (n < 0)
			break;
		len += (size_t)n;
	}
	log_info("config", "success", "%s", buf);
}
