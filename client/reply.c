/*
 * reply: parses the bodies of the replies the client expects, with one
 * bounded decimal parser for every count, and checks each winner document
 * the way the server checks a bet's document, so nothing the server could
 * not have stored is ever counted.
 */
#include <string.h>

#include "bet.h"
#include "reply.h"

const char *
reply_body(const char *payload, const char *type)
{
	size_t	 n = strlen(type);

	if (strncmp(payload, type, n) != 0 || payload[n] != ':')
		return NULL;
	return payload + n + 1;
}

int
reply_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0, d;
	size_t		 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		/* Checked before the multiply, so it cannot wrap. */
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
reply_store(const char *body, int *ok)
{
	if (strcmp(body, "0") == 0)
		*ok = 1;
	else if (strcmp(body, "1") == 0)
		*ok = 0;
	else
		return -1;
	return 0;
}

int
reply_status(const char *body, uint64_t *stored, int *closed)
{
	const char	*semi;

	if ((semi = strchr(body, ';')) == NULL ||
	    reply_uint(body, (size_t)(semi - body), REPLY_COUNT_MAX,
	    stored) == -1)
		return -1;
	if (strcmp(semi + 1, "0") == 0)
		*closed = 0;
	else if (strcmp(semi + 1, "1") == 0)
		*closed = 1;
	else
		return -1;
	return 0;
}

/* 1 when s[0..len) could be a stored document. */
static int
reply_doc_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > BET_DOC_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':')
			return 0;
	}
	return bet_valid_utf8(s, len);
}

int
reply_docs(const char *s, size_t *count)
{
	const char	*semi;
	size_t		 n = 0, len;

	if (*s == '\0') {
		*count = 0;
		return 0;
	}
	for (;;) {
		semi = strchr(s, ';');
		len = semi != NULL ? (size_t)(semi - s) : strlen(s);
		if (!reply_doc_ok(s, len))
			return -1;
		n++;
		if (semi == NULL)
			break;
		s = semi + 1;
	}
	*count = n;
	return 0;
}

int
reply_page(const char *body, uint64_t *total, size_t *count)
{
	const char	*semi;
	size_t		 len;

	semi = strchr(body, ';');
	len = semi != NULL ? (size_t)(semi - body) : strlen(body);
	if (reply_uint(body, len, REPLY_COUNT_MAX, total) == -1)
		return -1;
	if (semi == NULL) {
		*count = 0;
		return 0;
	}
	/* "total;" with nothing after it is not a page of documents. */
	if (semi[1] == '\0')
		return -1;
	return reply_docs(semi + 1, count);
}
