/*
 * log: the one log line format of the project,
 *   YYYY-MM-DD HH:MM:SS LEVEL action: X | result: R | key: value | ...
 * Each line is formatted into one buffer and written with a single write(2)
 * so lines from concurrent threads never interleave.  The level is checked
 * before any argument is formatted (see the log_* macros).
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
	LOG_LVL_CRITICAL
};

#define LOG_VALUE_MAX 64	/* bytes kept of one untrusted value */

extern enum log_level log_threshold;

int	 log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	 log_set_level(enum log_level);
/*
 * Write one line.  fmt formats the "key: value | key: value" tail and may be
 * "" when there is none.  log_event_errno appends "| error: <strerror>"
 * taken from errno at the moment of the call.
 */
void	 log_event(enum log_level, const char *action, const char *result,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 log_event_errno(enum log_level, const char *action, const char *result,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Copy an untrusted value for logging: '|' and control bytes become '_' and
 * it is cut to LOG_VALUE_MAX-1 bytes, so a value can never fake a field.
 * Returns dst.
 */
char	*log_clean(char dst[LOG_VALUE_MAX], const char *src);
/*
 * Until log_release, this thread's lines collect in buf[0..cap) and go
 * out together in one write (earlier when buf fills): a replica logs a
 * group of batches with one system call instead of one per line.
 */
void	 log_hold(char *buf, size_t cap);
void	 log_release(void);

#define log_at(lvl, ...) do {						\
	if ((lvl) >= log_threshold)					\
		log_event((lvl), __VA_ARGS__);				\
} while (0)
#define log_debug(...)	log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...)	log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn_errno(...) do {					\
	if (LOG_LVL_WARNING >= log_threshold)				\
		log_event_errno(LOG_LVL_WARNING, __VA_ARGS__);		\
} while (0)
#define log_error_errno(...) do {					\
	if (LOG_LVL_ERROR >= log_threshold)				\
		log_event_errno(LOG_LVL_ERROR, __VA_ARGS__);		\
} while (0)

#endif
