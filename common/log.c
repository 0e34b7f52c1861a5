/*
 * log: formats every log line of the project.  A line is built in one
 * stack buffer and handed to a single write(2) on stdout, so lines written
 * by concurrent threads or processes sharing the descriptor never mix.
 * Level filtering happens in the log_* macros, before arguments are
 * formatted; this file only formats and writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "io.h"
#include "log.h"

#define LOG_LINE_MAX	1024

enum log_level log_threshold = LOG_LVL_INFO;

static const char *const log_names[] = {
	"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"
};

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "WARN") == 0) {
		*out = LOG_LVL_WARNING;
		return 0;
	}
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	if ((unsigned)lvl >= sizeof(log_names) / sizeof(log_names[0]))
		return "UNKNOWN";
	return log_names[lvl];
}

void
log_set_level(enum log_level lvl)
{
	log_threshold = lvl;
}

/*
 * Append to buf, whose usable size is cap (one more byte exists past it
 * for the final newline).  Output that does not fit is cut, never
 * overflowing; *len stays <= cap.
 */
static void
log_vappend(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
{
	size_t	avail = cap - *len;
	int	n;

	if (avail == 0)
		return;
	n = vsnprintf(buf + *len, avail + 1, fmt, ap);
	if (n < 0)
		return;
	*len += (size_t)n < avail ? (size_t)n : avail;
}

static void
log_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
log_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vappend(buf, cap, len, fmt, ap);
	va_end(ap);
}

static __thread char	*held;		/* log_hold's buffer, or NULL */
static __thread size_t	 heldcap, heldlen;

void
log_hold(char *buf, size_t cap)
{
	held = buf;
	heldcap = cap;
	heldlen = 0;
}

void
log_release(void)
{
	/* Nowhere left to report a failed write of the log itself. */
	if (held != NULL && heldlen > 0)
		(void)io_write_full(1, held, heldlen);
	held = NULL;
}

/* One whole line out, or into the held buffer. */
static void
log_put(const char *line, size_t len)
{
	if (held == NULL) {
		(void)io_write_full(1, line, len);
		return;
	}
	if (heldlen + len > heldcap) {
		(void)io_write_full(1, held, heldlen);
		heldlen = 0;
	}
	if (len > heldcap) {
		(void)io_write_full(1, line, len);
		return;
	}
	memcpy(held + heldlen, line, len);
	heldlen += len;
}

static void
log_vwrite(enum log_level lvl, const char *action, const char *result,
    const char *errstr, const char *fmt, va_list ap)
{
	/* The time text changes once a second: format it once a second. */
	static __thread time_t	stamped = -1;
	static __thread char	stamp[32];
	static __thread size_t	stamplen;
	char		buf[LOG_LINE_MAX];
	size_t		cap = sizeof(buf) - 1, len, mark;
	struct tm	tm;
	time_t		now;

	now = time(NULL);
	if (now != stamped) {
		if (localtime_r(&now, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		stamplen = strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S",
		    &tm);
		stamped = now;
	}
	memcpy(buf, stamp, stamplen);
	len = stamplen;
	log_append(buf, cap, &len, " %s action: %s | result: %s",
	    log_level_name(lvl), action, result);
	if (fmt != NULL && fmt[0] != '\0') {
		mark = len;
		log_append(buf, cap, &len, " | ");
		log_vappend(buf, cap, &len, fmt, ap);
		/* A format that produced nothing gets no separator either. */
		if (len == mark + 3)
			len = mark;
	}
	if (errstr != NULL)
		log_append(buf, cap, &len, " | error: %s", errstr);
	buf[len++] = '\n';
	log_put(buf, len);
}

void
log_event(enum log_level lvl, const char *action, const char *result,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(lvl, action, result, NULL, fmt, ap);
	va_end(ap);
}

void
log_event_errno(enum log_level lvl, const char *action, const char *result,
    const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(lvl, action, result, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

char *
log_clean(char dst[LOG_VALUE_MAX], const char *src)
{
	size_t		i;
	unsigned char	c;

	if (src == NULL)
		src = "(null)";
	for (i = 0; i < LOG_VALUE_MAX - 1 && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f || c == '|') ? '_' : (char)c;
	}
	/* When cut, do not leave half a UTF-8 sequence at the end. */
	if (src[i] != '\0' && ((unsigned char)src[i] & 0xc0) == 0x80) {
		while (i > 0 && ((unsigned char)dst[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0 && ((unsigned char)dst[i - 1] & 0xc0) == 0xc0)
			i--;
	}
	dst[i] = '\0';
	return dst;
}
