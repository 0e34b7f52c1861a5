/*
 * csv: writes bets.csv rows the way Python's csv module does by default
 * (QUOTE_MINIMAL, "\r\n") and reads any CSV file line by line through a
 * fixed buffer, so memory stays the same whatever the file size.  The
 * reader tracks line numbers and byte offsets so callers can report bad
 * rows and resume a file where they stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"

/* The bytes that make a field quoted, and the NUL that ends it. */
static const unsigned char csv_special[256] = {
	['\0'] = 1, [','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1
};

/* Append s to dst quoted, its quotes doubled. */
static int
csv_put_quoted(char *dst, size_t cap, size_t *len, const char *s)
{
	if (*len + 1 >= cap)
		return -1;
	dst[(*len)++] = '"';
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '"') {
			if (*len + 1 >= cap)
				return -1;
			dst[(*len)++] = '"';
		}
		if (*len + 1 >= cap)
			return -1;
		dst[(*len)++] = s[i];
	}
	if (*len + 1 >= cap)
		return -1;
	dst[(*len)++] = '"';
	return 0;
}

/*
 * Append s to dst, quoted only when it holds a comma, quote or newline.
 * The usual field needs none: one scan finds its end and whether it does
 * (every replica formats every bet it stores), then one copy.
 */
static int
csv_put_field(char *dst, size_t cap, size_t *len, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0;

	while (!csv_special[p[n]])
		n++;
	if (p[n] != '\0')
		return csv_put_quoted(dst, cap, len, s);
	if (*len + n >= cap)
		return -1;
	memcpy(dst + *len, s, n);
	*len += n;
	return 0;
}

static int
csv_put_sep(char *dst, size_t cap, size_t *len)
{
	if (*len + 1 >= cap)
		return -1;
	dst[(*len)++] = ',';
	return 0;
}

/* Append v in decimal: without printf, which cost more than the row. */
static int
csv_put_uint(char *dst, size_t cap, size_t *len, unsigned v)
{
	char	tmp[16];
	size_t	n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (*len + n >= cap)
		return -1;
	while (n > 0)
		dst[(*len)++] = tmp[--n];
	return 0;
}

size_t
csv_format_bet(const struct bet *b, char *dst, size_t cap)
{
	size_t	len = 0;

	if (csv_put_uint(dst, cap, &len, (unsigned)b->agency) == -1 ||
	    csv_put_sep(dst, cap, &len) == -1 ||
	    csv_put_field(dst, cap, &len, b->first) == -1 ||
	    csv_put_sep(dst, cap, &len) == -1 ||
	    csv_put_field(dst, cap, &len, b->last) == -1 ||
	    csv_put_sep(dst, cap, &len) == -1 ||
	    csv_put_field(dst, cap, &len, b->doc) == -1 ||
	    csv_put_sep(dst, cap, &len) == -1 ||
	    csv_put_field(dst, cap, &len, b->birth) == -1 ||
	    csv_put_sep(dst, cap, &len) == -1 ||
	    csv_put_uint(dst, cap, &len, (unsigned)b->number) == -1)
		return 0;
	if (len + 2 >= cap)
		return 0;
	dst[len++] = '\r';
	dst[len++] = '\n';
	dst[len] = '\0';
	return len;
}

int
csv_split(char *line, char **fields, int max)
{
	char	*r = line, *w, c;
	int	 n = 0;

	for (;;) {
		if (n == max)
			return -1;
		w = r;
		fields[n++] = w;
		if (*r == '"') {
			/* Quoted: copy back over the quotes, undoubling "". */
			r++;
			for (;;) {
				if (*r == '\0')
					return -1;
				if (*r == '"') {
					if (r[1] != '"')
						break;
					r++;
				}
				*w++ = *r++;
			}
			r++;
			if (*r != ',' && *r != '\0')
				return -1;
		} else {
			while (*r != ',' && *r != '\0')
				*w++ = *r++;
		}
		c = *r;
		*w = '\0';
		if (c == '\0')
			return n;
		r++;
	}
}

void
csv_reader_init(struct csv_reader *r, int fd, uint64_t base)
{
	r->fd = fd;
	r->eof = 0;
	r->toolong = 0;
	r->partial = 0;
	r->lineno = 0;
	r->offset = base;
	r->start = r->end = 0;
	r->cap = sizeof(r->buf);
}

void
csv_reader_cap(struct csv_reader *r, size_t cap)
{
	if (cap < CSV_READER_MIN)
		cap = CSV_READER_MIN;
	r->cap = cap < sizeof(r->buf) ? cap : sizeof(r->buf);
}

/* Hand out buf[start..start+n), n bytes of line, consuming used bytes. */
static int
csv_reader_give(struct csv_reader *r, size_t n, size_t used, char **line,
    size_t *len)
{
	char	*p = r->buf + r->start;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > CSV_LINE_MAX) {
		r->toolong = 1;
		n = 0;
	}
	p[n] = '\0';
	*line = p;
	*len = n;
	r->start += used;
	r->offset += used;
	r->lineno++;
	return 1;
}

int
csv_reader_next(struct csv_reader *r, char **line, size_t *len)
{
	char	*nl;
	size_t	 avail;
	ssize_t	 n;
	int	 skipping = 0;

	r->toolong = 0;
	r->partial = 0;
	for (;;) {
		avail = r->end - r->start;
		nl = memchr(r->buf + r->start, '\n', avail);
		if (nl != NULL) {
			avail = (size_t)(nl - (r->buf + r->start));
			if (skipping)
				r->toolong = 1;
			return csv_reader_give(r, skipping ? 0 : avail,
			    avail + 1, line, len);
		}
		/*
		 * Too long even if a "\r\n" came next: drop what we hold and
		 * skip to the end of the line, counting the bytes.
		 */
		if (skipping || avail > CSV_LINE_MAX + 1) {
			skipping = 1;
			r->offset += avail;
			r->start = r->end = 0;
			avail = 0;
		}
		if (r->end == r->cap) {
			memmove(r->buf, r->buf + r->start, avail);
			r->start = 0;
			r->end = avail;
		}
		if (r->eof) {
			if (avail == 0 && !skipping)
				return 0;
			r->partial = 1;
			if (skipping)
				r->toolong = 1;
			/* end < cap here: room for the NUL. */
			return csv_reader_give(r, avail, avail, line, len);
		}
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			r->eof = 1;
		else
			r->end += (size_t)n;
	}
}
